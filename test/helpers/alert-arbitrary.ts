import fc from "fast-check";

/** An alert as fields in order, each value as its raw JSON text. */
export type AlertFields = [string, string][];

const TICKER = /^[A-Za-z0-9][A-Za-z0-9._!:/&-]{0,31}$/;
const PLACEHOLDER = /\{\{[^{}]*\}\}/;

/** A positive decimal as text, such as "0.5" or "1194.6000000000001". */
export const positiveDecimal: fc.Arbitrary<string> = fc
  .tuple(
    fc.integer({ min: 0, max: 9_999_999 }),
    fc.option(fc.stringMatching(/^[0-9]{1,8}$/), { nil: undefined }),
  )
  .map(([whole, fraction]) =>
    fraction === undefined ? String(whole) : `${whole}.${fraction}`,
  )
  .filter((text) => /[1-9]/.test(text));

/** A decimal sent as a JSON number or a JSON string, as TradingView may. */
function decimalJson(decimal: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc
    .tuple(decimal, fc.boolean())
    .map(([text, quoted]) => (quoted ? JSON.stringify(text) : text));
}

/** Free text of 1 to `max` code points with no {{placeholder}}. */
function freeText(max: number): fc.Arbitrary<string> {
  return fc
    .string({ unit: "binary", minLength: 1, maxLength: max })
    .filter((s) => !PLACEHOLDER.test(s))
    .map((s) => JSON.stringify(s));
}

/**
 * A firing time `ageMs` before `nowMs` (0 to `maxAgeMs`), written as
 * ISO 8601 with or without a fraction, or as epoch milliseconds.
 */
export function timestampJson(
  nowMs: () => number,
  maxAgeMs: number,
): fc.Arbitrary<string> {
  return fc
    .tuple(fc.integer({ min: 0, max: maxAgeMs }), fc.nat(2))
    .map(([ageMs, form]) => {
      const ms = nowMs() - ageMs;
      if (form === 0) return String(ms);
      const iso = new Date(ms).toISOString();
      return JSON.stringify(form === 1 ? iso : iso.replace(/\.\d{3}Z$/, "Z"));
    });
}

const orderFields: fc.Arbitrary<AlertFields> = fc
  .constantFrom("", "market", "limit", "stop", "stop_limit")
  .chain((type) =>
    fc
      .tuple(decimalJson(positiveDecimal), decimalJson(positiveDecimal))
      .map(([limit, stop]): AlertFields => {
        const fields: AlertFields = [];
        if (type !== "") fields.push(["order_type", JSON.stringify(type)]);
        if (type === "limit" || type === "stop_limit") {
          fields.push(["limit_price", limit]);
        }
        if (type === "stop" || type === "stop_limit") {
          fields.push(["stop_price", stop]);
        }
        return fields;
      }),
  );

const positionFields: fc.Arbitrary<AlertFields> = fc.oneof(
  fc.constant<AlertFields>([]),
  positiveDecimal.map((d): AlertFields => [
    ["market_position", '"long"'],
    ["position_size", d],
  ]),
  positiveDecimal.map((d): AlertFields => [
    ["market_position", '"short"'],
    ["position_size", `"-${d}"`],
  ]),
  fc.constantFrom("0", '"0"', '"0.0"').map((zero): AlertFields => [
    ["market_position", '"flat"'],
    ["position_size", zero],
  ]),
);

/** Optional fields that stand alone, each present or not. */
const optionalFields: fc.Arbitrary<AlertFields> = fc
  .record(
    {
      time_in_force: fc
        .constantFrom("day", "gtc", "ioc")
        .map((s) => JSON.stringify(s)),
      price: decimalJson(positiveDecimal),
      exchange: freeText(32),
      strategy: freeText(64),
      order_id: freeText(64),
      interval: freeText(16),
      comment: freeText(64),
    },
    { requiredKeys: [] },
  )
  .map((record) => Object.entries(record) as AlertFields);

/**
 * Any alert the schema accepts, firing within `maxAgeMs` of `nowMs()`.
 * Decimals come as numbers or strings, actions in any case.
 */
export function validAlert(
  nowMs: () => number = Date.now,
  maxAgeMs = 10_000,
): fc.Arbitrary<AlertFields> {
  return fc
    .tuple(
      fc.stringMatching(TICKER),
      fc.constantFrom("buy", "sell").chain((a) => fc.mixedCase(fc.constant(a))),
      decimalJson(positiveDecimal),
      timestampJson(nowMs, maxAgeMs),
      orderFields,
      positionFields,
      optionalFields,
    )
    .map(([ticker, action, quantity, timestamp, ...rest]): AlertFields => [
      ["ticker", JSON.stringify(ticker)],
      ["action", JSON.stringify(action)],
      ["quantity", quantity],
      ["timestamp", timestamp],
      ...rest.flat(),
    ]);
}

/** Renders fields as one JSON object; `gaps` is whitespace, cycled. */
export function renderAlert(fields: AlertFields, gaps: string[] = []): string {
  let i = 0;
  const gap = () => (gaps.length === 0 ? "" : gaps[i++ % gaps.length]);
  const members = fields.map(
    ([key, value]) => `${gap()}${JSON.stringify(key)}${gap()}:${gap()}${value}`,
  );
  return `${gap()}{${members.join(`${gap()},`)}${gap()}}${gap()}`;
}

/** Whitespace JSON allows between tokens: space, tab, line feed, return. */
export const jsonGaps: fc.Arbitrary<string[]> = fc.array(
  fc.stringMatching(/^[ \t\n\r]{0,3}$/),
  { minLength: 1, maxLength: 8 },
);

/** Sets `key` to `value`, replacing it where it stands or appending it. */
export function withField(
  fields: AlertFields,
  key: string,
  value: string,
): AlertFields {
  const index = fields.findIndex(([k]) => k === key);
  if (index < 0) return [...fields, [key, value]];
  return fields.map(([k, v]) => [k, k === key ? value : v]);
}
