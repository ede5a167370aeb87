import { status as GrpcCode } from "@grpc/grpc-js";

import {
  IngestError,
  invalidPayload,
  Reason,
  type FieldViolation,
} from "../errors";
import type { Signal } from "../gen/tvibkr/ingest/v1/ingest";
import { formatTimestamp } from "../time";
import { parseFlatObject, type FlatObject, type JsonScalar } from "./json";
import { checkAlertSchema, findUnknownFields, ALERT_FIELDS } from "./schema";

/** A validated alert: the normalized signal and its firing time. */
export interface Alert {
  signal: Signal;
  timestampMs: number;
}

const UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const PLACEHOLDER = /\{\{[^{}]*\}\}/;
/** Content types an alert may arrive with (TradingView sends the first two). */
const ACCEPTED_MEDIA_TYPES = new Set(["application/json", "text/plain", ""]);

/**
 * Turns the raw body into text: checks size and content type, decodes strict
 * UTF-8, then drops a byte order mark and outer whitespace. Runs only after
 * the bytes are authenticated, so the signature covers what was sent.
 * @throws IngestError for an oversized, mistyped, empty or non-UTF-8 body
 */
export function decodeBody(
  bytes: Uint8Array,
  contentType: string,
  maxBytes: number,
): string {
  if (bytes.length > maxBytes) {
    throw new IngestError(
      GrpcCode.RESOURCE_EXHAUSTED,
      Reason.bodyTooLarge,
      `body is ${bytes.length} bytes; at most ${maxBytes} are allowed`,
    );
  }
  const mediaType = contentType.split(";")[0].trim().toLowerCase();
  if (!ACCEPTED_MEDIA_TYPES.has(mediaType)) {
    throw invalidPayload(Reason.contentTypeUnsupported, [
      {
        field: "content-type",
        description:
          `"${mediaType}" is not accepted; send application/json ` +
          "or text/plain holding a JSON object",
      },
    ]);
  }
  let text: string;
  try {
    text = UTF8.decode(bytes);
  } catch {
    throw invalidPayload(Reason.bodyEncoding, [
      { field: "", description: "body is not valid UTF-8 text" },
    ]);
  }
  text = text.replace(/^\uFEFF/, "").trim();
  if (text === "") {
    throw invalidPayload(Reason.bodyEmpty, [
      {
        field: "",
        description:
          'body is empty; send a JSON object such as {"ticker": "AAPL", ...}',
      },
    ]);
  }
  return text;
}

/** Parses the text of an alert; see parseFlatObject for what it refuses. */
export function parseAlert(text: string): FlatObject {
  return parseFlatObject(text);
}

/** The body's top-level `token`, when it holds a string. */
export function readBodyToken(fields: FlatObject): string | undefined {
  const token = fields.get("token");
  return token?.kind === "string" ? token.value : undefined;
}

/**
 * Validates parsed fields against the alert schema and normalizes them.
 * Problems are reported by kind, most telling first: unfilled placeholders,
 * then unknown fields, then every invalid field at once.
 * @throws IngestError INVALID_ARGUMENT naming every offending field
 */
export function validateAlert(fields: FlatObject): Alert {
  checkPlaceholders(fields);
  const value = toPlainObject(fields);
  const unknown = findUnknownFields(value);
  if (unknown.length > 0) {
    throw invalidPayload(
      Reason.unknownField,
      unknown.map((field) => ({
        field,
        description:
          "is not a known field; allowed fields: " + ALERT_FIELDS.join(", "),
      })),
    );
  }
  const violations = checkAlertSchema(value);
  const timestampMs = readTimestamp(fields, violations);
  if (violations.length > 0) {
    throw invalidPayload(Reason.fieldInvalid, violations);
  }
  return { signal: normalize(fields, timestampMs), timestampMs };
}

function checkPlaceholders(fields: FlatObject): void {
  const violations: FieldViolation[] = [];
  for (const [field, scalar] of fields) {
    if (scalar.kind !== "string") continue;
    const match = PLACEHOLDER.exec(scalar.value);
    if (!match) continue;
    violations.push({
      field,
      description:
        `still holds the placeholder ${match[0]}, which TradingView did ` +
        "not fill in; check its spelling, and that {{strategy.*}} " +
        "placeholders are used only in strategy alerts",
    });
  }
  if (violations.length > 0) {
    throw invalidPayload(Reason.placeholderUnfilled, violations);
  }
}

function toPlainObject(fields: FlatObject): Record<string, unknown> {
  const value: Record<string, unknown> = Object.create(null);
  for (const [key, scalar] of fields) value[key] = toPlainValue(scalar);
  return value;
}

function toPlainValue(scalar: JsonScalar): unknown {
  switch (scalar.kind) {
    case "string":
    case "boolean":
      return scalar.value;
    case "number":
      return Number(scalar.text);
    case "null":
      return null;
  }
}

/**
 * Reads the timestamp as epoch milliseconds. The schema checked its shape;
 * this checks that the date exists (no 30 February) and explains the common
 * slip of sending seconds.
 */
function readTimestamp(
  fields: FlatObject,
  violations: FieldViolation[],
): number {
  const scalar = fields.get("timestamp");
  if (scalar?.kind === "number") {
    const ms = Number(scalar.text);
    if (/^\d{9,10}$/.test(scalar.text)) {
      replaceViolation(violations, {
        field: "timestamp",
        description:
          `${scalar.text} looks like seconds since the epoch; send ` +
          "milliseconds (13 digits) or ISO 8601 such as {{timenow}}",
      });
    }
    return ms;
  }
  if (scalar?.kind !== "string") return NaN;
  const ms = Date.parse(scalar.value);
  const calendarOk = Number.isFinite(ms) && sameCalendarDay(scalar.value, ms);
  const shapeOk = !violations.some((v) => v.field === "timestamp");
  if (shapeOk && !calendarOk) {
    violations.push({
      field: "timestamp",
      description: `${JSON.stringify(scalar.value)} is not a real date and time`,
    });
  }
  return ms;
}

function replaceViolation(violations: FieldViolation[], v: FieldViolation) {
  const index = violations.findIndex((x) => x.field === v.field);
  if (index >= 0) violations[index] = v;
  else violations.push(v);
}

/** Date.parse rolls 2026-02-30 over to March; compare the written date. */
function sameCalendarDay(text: string, ms: number): boolean {
  const zone = /(Z|[+-]\d{2}:\d{2})$/.exec(text)?.[1] ?? "Z";
  const offsetMs = zone === "Z" ? 0 : parseOffsetMs(zone);
  const local = new Date(ms + offsetMs).toISOString();
  return local.slice(0, 19) === text.slice(0, 19);
}

function parseOffsetMs(zone: string): number {
  const sign = zone.startsWith("-") ? -1 : 1;
  const [hours, minutes] = zone.slice(1).split(":").map(Number);
  return sign * (hours * 60 + minutes) * 60_000;
}

function normalize(fields: FlatObject, timestampMs: number): Signal {
  const text = (name: string) => {
    const scalar = fields.get(name);
    return scalar?.kind === "string" ? scalar.value : "";
  };
  const decimal = (name: string) => {
    const scalar = fields.get(name);
    if (scalar === undefined) return "";
    return canonicalDecimal(
      scalar.kind === "number" ? scalar.text : text(name),
    );
  };
  return {
    ticker: text("ticker"),
    action: text("action").toLowerCase(),
    quantity: decimal("quantity"),
    timestamp: formatTimestamp(timestampMs),
    orderType: text("order_type") || "market",
    limitPrice: decimal("limit_price"),
    stopPrice: decimal("stop_price"),
    timeInForce: text("time_in_force") || "day",
    price: decimal("price"),
    exchange: text("exchange"),
    strategy: text("strategy"),
    orderId: text("order_id"),
    marketPosition: text("market_position"),
    positionSize: decimal("position_size"),
    interval: text("interval"),
    comment: text("comment"),
  };
}

/**
 * The exact decimal with the same value, in one spelling: no trailing
 * fractional zeros, no "-0". Works on the digits, never through a double.
 */
export function canonicalDecimal(text: string): string {
  let result = text;
  if (result.includes(".")) result = result.replace(/\.?0+$/, "");
  return result === "-0" ? "0" : result;
}
