import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { status } from "@grpc/grpc-js";

import type { Signal } from "../src/gen/tvibkr/ingest/v1/ingest";
import {
  canonicalDecimal,
  decodeBody,
  parseAlert,
  readBodyToken,
  validateAlert,
} from "../src/payload/alert";
import { rejection } from "./helpers/rejection";

type Violation = { field: string; description: string };

/** INVALID_ARGUMENT with `violations`; the message joins them as documented. */
function invalid(reason: string, violations: Violation[]) {
  return {
    code: status.INVALID_ARGUMENT,
    reason,
    message: violations
      .map((v) => (v.field ? `${v.field}: ${v.description}` : v.description))
      .join("; "),
    violations,
  };
}

/** Fields as JSON source text, so numbers are written exactly as sent. */
type RawFields = Record<string, string | undefined>;

const BASE: RawFields = {
  ticker: '"AAPL"',
  action: '"buy"',
  quantity: "1",
  timestamp: '"2026-12-04T15:30:00Z"',
};
/** 2026-12-04T15:30:00Z in epoch milliseconds. */
const BASE_MS = 1_796_398_200_000;

/** The alert text: BASE with `changes` applied (undefined removes a field). */
function alertText(changes: RawFields = {}): string {
  const members = Object.entries({ ...BASE, ...changes })
    .filter(([, raw]) => raw !== undefined)
    .map(([key, raw]) => `${JSON.stringify(key)}:${raw}`);
  return `{${members.join(",")}}`;
}

function validate(changes: RawFields = {}) {
  return validateAlert(parseAlert(alertText(changes)));
}

/** A signal with every optional field empty and the documented defaults. */
function signal(fields: Partial<Signal> = {}): Signal {
  return {
    ticker: "AAPL",
    action: "buy",
    quantity: "1",
    timestamp: "2026-12-04T15:30:00Z",
    orderType: "market",
    limitPrice: "",
    stopPrice: "",
    timeInForce: "day",
    price: "",
    exchange: "",
    strategy: "",
    orderId: "",
    marketPosition: "",
    positionSize: "",
    interval: "",
    comment: "",
    ...fields,
  };
}

/** What each field allows, as the published schema describes it. */
const ALLOWED = {
  ticker:
    "allowed: 1 to 32 characters of letters, digits and . _ ! : / & -, " +
    "such as AAPL, BRK.B, ES1!, BTCUSDT.P or NASDAQ:AAPL ({{ticker}})",
  action: "allowed: buy or sell, in any case ({{strategy.order.action}})",
  quantity:
    'allowed: a decimal greater than 0, as a number or a string such as "0.5"' +
    " ({{strategy.order.contracts}})",
  timestamp:
    "allowed: the firing time as ISO 8601 with a zone, such as " +
    "2026-12-04T15:30:00Z ({{timenow}}), or integer milliseconds since " +
    "the Unix epoch",
  order_type: "allowed: one of market (the default), limit, stop, stop_limit",
  limit_price:
    "allowed: a decimal greater than 0; required for limit and stop_limit " +
    "orders, refused for others",
  stop_price:
    "allowed: a decimal greater than 0; required for stop and stop_limit " +
    "orders, refused for others",
  time_in_force: "allowed: one of day (the default), gtc, ioc",
  price:
    "allowed: a decimal greater than 0, the price when the alert fired " +
    "({{close}})",
  exchange: "allowed: 1 to 32 characters ({{exchange}})",
  strategy: "allowed: 1 to 64 characters naming the strategy",
  order_id: "allowed: 1 to 64 characters ({{strategy.order.id}})",
  market_position:
    "allowed: one of long, short, flat ({{strategy.market_position}})",
  position_size:
    "allowed: a signed decimal: positive when long, negative when short, " +
    "0 when flat ({{strategy.position_size}})",
  interval: "allowed: 1 to 16 characters, such as 1, 60 or 1D ({{interval}})",
  comment: "allowed: 1 to 256 characters of free text",
  token:
    "allowed: the shared token, for senders that cannot sign; never stored " +
    "or echoed",
} as const;

type Field = keyof typeof ALLOWED;

const ALL_FIELDS =
  "ticker, action, quantity, timestamp, order_type, limit_price, " +
  "stop_price, time_in_force, price, exchange, strategy, order_id, " +
  "market_position, position_size, interval, comment, token";

const q = (text: string) => JSON.stringify(text);

describe("decodeBody", () => {
  const bytes = (text: string) => new TextEncoder().encode(text);

  it("should refuse a body over the limit as RESOURCE_EXHAUSTED", () => {
    assert.deepEqual(
      rejection(() => decodeBody(bytes("x".repeat(257)), "", 256)),
      {
        code: status.RESOURCE_EXHAUSTED,
        reason: "BODY_TOO_LARGE",
        message: "body is 257 bytes; at most 256 are allowed",
        violations: [],
      },
    );
  });

  it("should count bytes, not characters, against the limit", () => {
    assert.deepEqual(
      rejection(() => decodeBody(bytes('{"c":"€€"}'), "", 13)),
      {
        code: status.RESOURCE_EXHAUSTED,
        reason: "BODY_TOO_LARGE",
        message: "body is 14 bytes; at most 13 are allowed",
        violations: [],
      },
    );
  });

  it("should accept a body of exactly the limit", () => {
    assert.equal(decodeBody(bytes('{"a":"xx"}'), "", 10), '{"a":"xx"}');
  });

  const accepted = [
    "application/json",
    "text/plain",
    "",
    "application/json; charset=utf-8",
    "Application/JSON",
    "text/plain;charset=UTF-8",
    "  text/plain ; charset=utf-8",
  ];
  for (const contentType of accepted) {
    it(`should accept the content type ${q(contentType)}`, () => {
      assert.equal(decodeBody(bytes("{}"), contentType, 100), "{}");
    });
  }

  const refused = [
    ["application/xml", "application/xml"],
    ["application/x-www-form-urlencoded", "application/x-www-form-urlencoded"],
    ["multipart/form-data; boundary=x", "multipart/form-data"],
    ["Text/HTML; charset=utf-8", "text/html"],
    ["application/jsonx", "application/jsonx"],
  ];
  for (const [contentType, mediaType] of refused) {
    it(`should refuse the content type ${q(contentType)}`, () => {
      assert.deepEqual(
        rejection(() => decodeBody(bytes("{}"), contentType, 100)),
        invalid("CONTENT_TYPE_UNSUPPORTED", [
          {
            field: "content-type",
            description:
              `"${mediaType}" is not accepted; send application/json ` +
              "or text/plain holding a JSON object",
          },
        ]),
      );
    });
  }

  const notUtf8: ReadonlyArray<[string, number[]]> = [
    ["a stray continuation byte", [0x7b, 0x80, 0x7d]],
    ["a Latin-1 byte", [0x7b, 0x22, 0xe9, 0x22, 0x7d]],
    ["an overlong slash", [0xc0, 0xaf]],
    ["an encoded surrogate", [0xed, 0xa0, 0x80]],
    ["a truncated sequence", [0x7b, 0xe2, 0x82]],
    ["a code point above U+10FFFF", [0xf4, 0x90, 0x80, 0x80]],
    ["a UTF-16 byte order mark", [0xff, 0xfe, 0x7b, 0x00]],
  ];
  for (const [name, body] of notUtf8) {
    it(`should refuse ${name} as not UTF-8`, () => {
      assert.deepEqual(
        rejection(() => decodeBody(Uint8Array.from(body), "", 100)),
        invalid("BODY_ENCODING", [
          { field: "", description: "body is not valid UTF-8 text" },
        ]),
      );
    });
  }

  const stripped: ReadonlyArray<[string, number[] | string, string]> = [
    ["a byte order mark", [0xef, 0xbb, 0xbf, 0x7b, 0x7d], "{}"],
    ["surrounding whitespace", ' \r\n\t{"a":1}\n\n ', '{"a":1}'],
    ["a byte order mark then whitespace", "\uFEFF \n{}\n", "{}"],
    ["inner whitespace kept", '{ "a" : "x  y" }', '{ "a" : "x  y" }'],
    ["multibyte text", '{"c":"日本 €"}', '{"c":"日本 €"}'],
  ];
  for (const [name, body, text] of stripped) {
    it(`should return the text of a body with ${name}`, () => {
      const raw =
        typeof body === "string" ? bytes(body) : Uint8Array.from(body);
      assert.equal(decodeBody(raw, "application/json", 100), text);
    });
  }

  const empty: ReadonlyArray<[string, number[]]> = [
    ["no bytes", []],
    ["only whitespace", [0x20, 0x0a, 0x09, 0x0d]],
    ["only a byte order mark", [0xef, 0xbb, 0xbf]],
    ["a byte order mark and a newline", [0xef, 0xbb, 0xbf, 0x0a]],
  ];
  for (const [name, body] of empty) {
    it(`should refuse a body of ${name} as empty`, () => {
      assert.deepEqual(
        rejection(() => decodeBody(Uint8Array.from(body), "text/plain", 100)),
        invalid("BODY_EMPTY", [
          {
            field: "",
            description:
              "body is empty; send a JSON object such as " +
              '{"ticker": "AAPL", ...}',
          },
        ]),
      );
    });
  }
});

describe("readBodyToken", () => {
  it("should read a string token", () => {
    assert.equal(readBodyToken(parseAlert('{"token":"abc"}')), "abc");
  });

  const absent = ['{"a":1}', '{"token":123}', '{"token":null}', "{}"];
  for (const text of absent) {
    it(`should find no token in ${text}`, () => {
      assert.equal(readBodyToken(parseAlert(text)), undefined);
    });
  }
});

describe("validateAlert", () => {
  it("should accept a minimal alert and spell out the defaults", () => {
    assert.deepEqual(validate(), { signal: signal(), timestampMs: BASE_MS });
  });

  it("should accept an alert with every field", () => {
    const alert = validate({
      ticker: '"NASDAQ:AAPL"',
      action: '"SELL"',
      quantity: '"2.50"',
      order_type: '"stop_limit"',
      limit_price: "189.10",
      stop_price: '"189.5"',
      time_in_force: '"gtc"',
      price: "190.25",
      exchange: '"NASDAQ"',
      strategy: '"Breakout v2"',
      order_id: '"Short entry"',
      market_position: '"short"',
      position_size: '"-2.5"',
      interval: '"15"',
      comment: '"closed below the band"',
      token: '"a-token-that-is-not-in-the-signal"',
    });
    assert.deepEqual(alert, {
      signal: {
        ticker: "NASDAQ:AAPL",
        action: "sell",
        quantity: "2.5",
        timestamp: "2026-12-04T15:30:00Z",
        orderType: "stop_limit",
        limitPrice: "189.1",
        stopPrice: "189.5",
        timeInForce: "gtc",
        price: "190.25",
        exchange: "NASDAQ",
        strategy: "Breakout v2",
        orderId: "Short entry",
        marketPosition: "short",
        positionSize: "-2.5",
        interval: "15",
        comment: "closed below the band",
      },
      timestampMs: BASE_MS,
    });
  });

  const actions = [
    ["buy", "buy"],
    ["BUY", "buy"],
    ["Buy", "buy"],
    ["sell", "sell"],
    ["SeLL", "sell"],
  ];
  for (const [action, normalized] of actions) {
    it(`should accept the action ${q(action)} as ${q(normalized)}`, () => {
      const alert = validate({ action: q(action) });
      assert.equal(alert.signal.action, normalized);
    });
  }

  const tickers = [
    "A",
    "BRK.B",
    "ES1!",
    "BTCUSDT.P",
    "NASDAQ:AAPL",
    "EUR/USD",
    "M&M",
    "BF-B",
    "ES_F",
    "9984",
    "A".repeat(32),
  ];
  for (const ticker of tickers) {
    it(`should accept the ticker ${q(ticker)} as sent`, () => {
      assert.equal(validate({ ticker: q(ticker) }).signal.ticker, ticker);
    });
  }

  const decimals: ReadonlyArray<[string, string]> = [
    ["1194.6000000000001", "1194.6000000000001"],
    ['"1194.6000000000001"', "1194.6000000000001"],
    ["9007199254740993", "9007199254740993"],
    ['"9007199254740993"', "9007199254740993"],
    ["99999999999999999999999999999999", "99999999999999999999999999999999"],
    ['"0.000000000000000000000000000001"', "0.000000000000000000000000000001"],
    ['"1.50"', "1.5"],
    ["1.50", "1.5"],
    ['"10.0"', "10"],
    ["100.000", "100"],
    ['"100"', "100"],
    ["0.1", "0.1"],
    ['"0.10"', "0.1"],
  ];
  for (const [raw, exact] of decimals) {
    it(`should keep the quantity ${raw} exactly as ${q(exact)}`, () => {
      assert.equal(validate({ quantity: raw }).signal.quantity, exact);
    });
    it(`should keep the price ${raw} exactly as ${q(exact)}`, () => {
      assert.equal(validate({ price: raw }).signal.price, exact);
    });
  }

  const positions: ReadonlyArray<[string, string, string]> = [
    ["long", '"2.50"', "2.5"],
    ["long", "0.001", "0.001"],
    ["short", '"-2.50"', "-2.5"],
    ["short", "-1194.6000000000001", "-1194.6000000000001"],
    ["flat", "0", "0"],
    ["flat", "-0", "0"],
    ["flat", '"0.000"', "0"],
    ["flat", '"-0.0"', "0"],
  ];
  for (const [position, raw, exact] of positions) {
    it(`should accept a ${position} position_size ${raw} as ${exact}`, () => {
      const alert = validate({
        market_position: q(position),
        position_size: raw,
      });
      assert.deepEqual(
        [alert.signal.marketPosition, alert.signal.positionSize],
        [position, exact],
      );
    });
  }

  const timestamps: ReadonlyArray<[string, number, string]> = [
    ['"2026-12-04T15:30:00Z"', BASE_MS, "2026-12-04T15:30:00Z"],
    ['"2026-12-04T15:30:00.5Z"', BASE_MS + 500, "2026-12-04T15:30:00.500Z"],
    [
      '"2026-12-04T15:30:00.123456789Z"',
      BASE_MS + 123,
      "2026-12-04T15:30:00.123Z",
    ],
    ['"2026-12-04T15:30:00+00:00"', BASE_MS, "2026-12-04T15:30:00Z"],
    ['"2026-12-04T15:30:00-00:00"', BASE_MS, "2026-12-04T15:30:00Z"],
    ['"2026-12-04T10:30:00-05:00"', BASE_MS, "2026-12-04T15:30:00Z"],
    ['"2026-12-05T00:30:00+09:00"', BASE_MS, "2026-12-04T15:30:00Z"],
    ['"2026-12-04T21:15:00+05:45"', BASE_MS, "2026-12-04T15:30:00Z"],
    ['"2026-12-04T07:30:00-08:00"', BASE_MS, "2026-12-04T15:30:00Z"],
    ['"2024-02-29T12:00:00Z"', 1_709_208_000_000, "2024-02-29T12:00:00Z"],
    ["1796398200000", BASE_MS, "2026-12-04T15:30:00Z"],
    ["1796398200123", BASE_MS + 123, "2026-12-04T15:30:00.123Z"],
  ];
  for (const [raw, ms, normalized] of timestamps) {
    it(`should read the timestamp ${raw} as ${normalized}`, () => {
      const alert = validate({ timestamp: raw });
      assert.deepEqual(
        [alert.timestampMs, alert.signal.timestamp],
        [ms, normalized],
      );
    });
  }

  it("should accept a comment of 256 characters and braces", () => {
    const comment = "{ not a placeholder } {{ either".padEnd(256, ".");
    assert.equal(validate({ comment: q(comment) }).signal.comment, comment);
  });

  it("should name every unknown field, in the order sent", () => {
    assert.deepEqual(
      rejection(() => validate({ qty: "1", Ticker: '"AAPL"', side: "true" })),
      invalid(
        "UNKNOWN_FIELD",
        ["qty", "Ticker", "side"].map((field) => ({
          field,
          description: `is not a known field; allowed fields: ${ALL_FIELDS}`,
        })),
      ),
    );
  });

  const inherited = [
    "toString",
    "valueOf",
    "hasOwnProperty",
    "isPrototypeOf",
    "__defineGetter__",
  ];
  for (const field of inherited) {
    it(`should name ${field} as an unknown field`, () => {
      assert.deepEqual(
        rejection(() => validate({ [field]: '"x"' })),
        invalid("UNKNOWN_FIELD", [
          {
            field,
            description: `is not a known field; allowed fields: ${ALL_FIELDS}`,
          },
        ]),
      );
    });
  }

  it("should report unknown fields before invalid ones", () => {
    assert.deepEqual(
      rejection(() => validate({ ticker: '""', note: '"x"' })),
      invalid("UNKNOWN_FIELD", [
        {
          field: "note",
          description: `is not a known field; allowed fields: ${ALL_FIELDS}`,
        },
      ]),
    );
  });

  const placeholders: ReadonlyArray<[Field, string, string]> = [
    ["ticker", "{{ticker}}", "{{ticker}}"],
    ["action", "{{strategy.order.action}}", "{{strategy.order.action}}"],
    [
      "quantity",
      "{{strategy.order.contracts}}",
      "{{strategy.order.contracts}}",
    ],
    ["timestamp", "{{timenow}}", "{{timenow}}"],
    ["price", "{{close}}", "{{close}}"],
    [
      "comment",
      "filled at {{strategy.order.price}}!",
      "{{strategy.order.price}}",
    ],
    ["order_id", "{{}}", "{{}}"],
  ];
  for (const [field, value, placeholder] of placeholders) {
    it(`should name the placeholder ${placeholder} left in ${field}`, () => {
      assert.deepEqual(
        rejection(() => validate({ [field]: q(value) })),
        invalid("PLACEHOLDER_UNFILLED", [
          {
            field,
            description:
              `still holds the placeholder ${placeholder}, which ` +
              "TradingView did not fill in; check its spelling, and that " +
              "{{strategy.*}} placeholders are used only in strategy alerts",
          },
        ]),
      );
    });
  }

  it("should name each field with a placeholder, before all else", () => {
    const error = rejection(() =>
      validate({
        quantity: '"{{strategy.order.contracts}}"',
        ticker: '""',
        market_position: '"{{strategy.market_position}}"',
        extra: '"{{plot_0}}"',
      }),
    );
    const hint =
      ", which TradingView did not fill in; check its spelling, and that " +
      "{{strategy.*}} placeholders are used only in strategy alerts";
    assert.deepEqual(
      error,
      invalid("PLACEHOLDER_UNFILLED", [
        {
          field: "quantity",
          description:
            "still holds the placeholder {{strategy.order.contracts}}" + hint,
        },
        {
          field: "market_position",
          description:
            "still holds the placeholder {{strategy.market_position}}" + hint,
        },
        {
          field: "extra",
          description: `still holds the placeholder {{plot_0}}${hint}`,
        },
      ]),
    );
  });

  const invalidValues: ReadonlyArray<[Field, string, string]> = [
    ["ticker", '""', "must not be empty"],
    ["ticker", "123", "must be string, not integer"],
    ["ticker", "null", "must be string, not null"],
    ["ticker", q("A".repeat(33)), "is 33 characters long, at most 32"],
    ["ticker", '"AA PL"', '"AA PL" is not allowed'],
    ["ticker", '"-AAPL"', '"-AAPL" is not allowed'],
    ["ticker", '"AAPL;DROP"', '"AAPL;DROP" is not allowed'],
    ["action", '"hold"', '"hold" is not allowed'],
    ["action", '"buy "', '"buy " is not allowed'],
    ["action", '"long"', '"long" is not allowed'],
    ["action", "true", "must be string, not boolean"],
    ["action", '""', "must not be empty"],
    ["quantity", "0", "0 is not allowed"],
    ["quantity", "0.000", "0 is not allowed"],
    ["quantity", "-1", "-1 is not allowed"],
    ["quantity", '"0"', '"0" is not allowed'],
    ["quantity", '"0.000"', '"0.000" is not allowed'],
    ["quantity", '"-1"', '"-1" is not allowed'],
    ["quantity", '"+1"', '"+1" is not allowed'],
    ["quantity", '"1e2"', '"1e2" is not allowed'],
    ["quantity", '"NaN"', '"NaN" is not allowed'],
    ["quantity", '"Infinity"', '"Infinity" is not allowed'],
    ["quantity", '""', "must not be empty"],
    ["quantity", '" 1"', '" 1" is not allowed'],
    ["quantity", '"1,5"', '"1,5" is not allowed'],
    ["quantity", '"01"', '"01" is not allowed'],
    ["quantity", '"1."', '"1." is not allowed'],
    ["quantity", '".5"', '".5" is not allowed'],
    ["quantity", q("1".repeat(33)), "is 33 characters long, at most 32"],
    ["quantity", "true", "must be number or string, not boolean"],
    ["quantity", "null", "must be number or string, not null"],
    [
      "timestamp",
      '"2026-12-04 15:30:00Z"',
      '"2026-12-04 15:30:00Z" is not allowed',
    ],
    [
      "timestamp",
      '"2026-12-04T15:30:00"',
      '"2026-12-04T15:30:00" is not allowed',
    ],
    ["timestamp", '"2026-12-04T15:30Z"', '"2026-12-04T15:30Z" is not allowed'],
    ["timestamp", '"2026-12-04"', '"2026-12-04" is not allowed'],
    [
      "timestamp",
      '"2026-12-04T15:30:00z"',
      '"2026-12-04T15:30:00z" is not allowed',
    ],
    [
      "timestamp",
      '"2026-12-04T15:30:00+0100"',
      '"2026-12-04T15:30:00+0100" is not allowed',
    ],
    [
      "timestamp",
      '"Fri, 04 Dec 2026 15:30:00 GMT"',
      '"Fri, 04 Dec 2026 15:30:00 GMT" is not allowed',
    ],
    ["timestamp", '"1796398200000"', '"1796398200000" is not allowed'],
    ["timestamp", '""', "must not be empty"],
    ["timestamp", "1796398200000.5", "must be string or integer, not number"],
    ["timestamp", "17963982000000", "17963982000000 is not allowed"],
    ["timestamp", "-1796398200000", "-1796398200000 is not allowed"],
    ["timestamp", "17963982000", "17963982000 is not allowed"],
    ["timestamp", "true", "must be string or integer, not boolean"],
    ["timestamp", "null", "must be string or integer, not null"],
    ["order_type", '"LIMIT"', '"LIMIT" is not allowed'],
    ["order_type", '"mkt"', '"mkt" is not allowed'],
    ["order_type", '""', "must not be empty"],
    ["order_type", "1", "must be string, not integer"],
    ["time_in_force", '"GTC"', '"GTC" is not allowed'],
    ["time_in_force", '"fok"', '"fok" is not allowed'],
    ["price", "0", "0 is not allowed"],
    ["price", "-5.5", "-5.5 is not allowed"],
    ["price", '"abc"', '"abc" is not allowed'],
    ["price", '"$5"', '"$5" is not allowed'],
    ["exchange", '""', "must not be empty"],
    ["exchange", q("X".repeat(33)), "is 33 characters long, at most 32"],
    ["strategy", q("s".repeat(65)), "is 65 characters long, at most 64"],
    ["order_id", '""', "must not be empty"],
    ["order_id", "7", "must be string, not integer"],
    ["order_id", q("i".repeat(65)), "is 65 characters long, at most 64"],
    ["market_position", '"LONG"', '"LONG" is not allowed'],
    ["market_position", '"none"', '"none" is not allowed'],
    ["position_size", '"+1"', '"+1" is not allowed'],
    ["position_size", '"1e2"', '"1e2" is not allowed'],
    ["position_size", '"--1"', '"--1" is not allowed'],
    ["position_size", "false", "must be number or string, not boolean"],
    ["interval", '""', "must not be empty"],
    ["interval", q("1".repeat(17)), "is 17 characters long, at most 16"],
    ["interval", "60", "must be string, not integer"],
    ["comment", '""', "must not be empty"],
    ["comment", q("c".repeat(257)), "is 257 characters long, at most 256"],
    ["token", '""', "must not be empty"],
    ["token", "12345", "must be string, not integer"],
    ["token", q("t".repeat(257)), "is 257 characters long, at most 256"],
  ];
  for (const [field, raw, wrong] of invalidValues) {
    const shown = raw.length > 40 ? `${raw.slice(0, 37)}...` : raw;
    it(`should refuse ${field} ${shown} and say what is allowed`, () => {
      assert.deepEqual(
        rejection(() => validate({ [field]: raw })),
        invalid("FIELD_INVALID", [
          { field, description: `${wrong}; ${ALLOWED[field]}` },
        ]),
      );
    });
  }

  it("should name every missing required field", () => {
    assert.deepEqual(
      rejection(() => validateAlert(parseAlert('{"comment":"hi"}'))),
      invalid(
        "FIELD_INVALID",
        (["ticker", "action", "quantity", "timestamp"] as const).map(
          (field) => ({
            field,
            description: `is required; ${ALLOWED[field]}`,
          }),
        ),
      ),
    );
  });

  it("should report each invalid field once, all at once", () => {
    assert.deepEqual(
      rejection(() =>
        validate({
          ticker: '""',
          action: '"hold"',
          quantity: '"-1"',
          price: "true",
        }),
      ),
      invalid("FIELD_INVALID", [
        {
          field: "ticker",
          description: `must not be empty; ${ALLOWED.ticker}`,
        },
        {
          field: "action",
          description: `"hold" is not allowed; ${ALLOWED.action}`,
        },
        {
          field: "quantity",
          description: `"-1" is not allowed; ${ALLOWED.quantity}`,
        },
        {
          field: "price",
          description:
            "must be number or string, not boolean; " + ALLOWED.price,
        },
      ]),
    );
  });

  const seconds = ["1796398200", "179639820"];
  for (const raw of seconds) {
    it(`should explain that ${raw} looks like seconds, not ms`, () => {
      assert.deepEqual(
        rejection(() => validate({ timestamp: raw })),
        invalid("FIELD_INVALID", [
          {
            field: "timestamp",
            description:
              `${raw} looks like seconds since the epoch; send ` +
              "milliseconds (13 digits) or ISO 8601 such as {{timenow}}",
          },
        ]),
      );
    });
  }

  const impossibleDates = [
    "2026-02-30T15:30:00Z",
    "2025-02-29T12:00:00Z",
    "2026-04-31T00:00:00+02:00",
    "2026-13-01T00:00:00Z",
    "2026-12-00T00:00:00Z",
    "2026-12-04T24:00:00Z",
    "2026-12-04T15:60:00Z",
    "2026-12-04T15:30:60Z",
    "2026-12-04T15:30:00+24:00",
    "2026-12-04T15:30:00+01:60",
  ];
  for (const text of impossibleDates) {
    it(`should refuse ${text} as not a real date and time`, () => {
      assert.deepEqual(
        rejection(() => validate({ timestamp: q(text) })),
        invalid("FIELD_INVALID", [
          {
            field: "timestamp",
            description: `"${text}" is not a real date and time`,
          },
        ]),
      );
    });
  }

  const limitRule =
    "is required when order_type is limit or stop_limit, and refused otherwise";
  const stopRule =
    "is required when order_type is stop or stop_limit, and refused otherwise";
  const orderRules: ReadonlyArray<{
    name: string;
    changes: RawFields;
    violations: Violation[];
  }> = [
    {
      name: "a limit order without limit_price",
      changes: { order_type: '"limit"' },
      violations: [{ field: "limit_price", description: limitRule }],
    },
    {
      name: "a market order with limit_price",
      changes: { order_type: '"market"', limit_price: "10" },
      violations: [{ field: "limit_price", description: limitRule }],
    },
    {
      name: "a default (market) order with limit_price",
      changes: { limit_price: "10" },
      violations: [{ field: "limit_price", description: limitRule }],
    },
    {
      name: "a stop order with limit_price",
      changes: { order_type: '"stop"', stop_price: "9", limit_price: "10" },
      violations: [{ field: "limit_price", description: limitRule }],
    },
    {
      name: "a stop order without stop_price",
      changes: { order_type: '"stop"' },
      violations: [{ field: "stop_price", description: stopRule }],
    },
    {
      name: "a default (market) order with stop_price",
      changes: { stop_price: "9" },
      violations: [{ field: "stop_price", description: stopRule }],
    },
    {
      name: "a limit order with stop_price",
      changes: { order_type: '"limit"', limit_price: "10", stop_price: "9" },
      violations: [{ field: "stop_price", description: stopRule }],
    },
    {
      name: "a stop_limit order with neither price",
      changes: { order_type: '"stop_limit"' },
      violations: [
        { field: "limit_price", description: limitRule },
        { field: "stop_price", description: stopRule },
      ],
    },
    {
      name: "a stop_limit order without stop_price",
      changes: { order_type: '"stop_limit"', limit_price: "10" },
      violations: [{ field: "stop_price", description: stopRule }],
    },
  ];
  for (const { name, changes, violations } of orderRules) {
    it(`should refuse ${name}`, () => {
      assert.deepEqual(
        rejection(() => validate(changes)),
        invalid("FIELD_INVALID", violations),
      );
    });
  }

  const orders: ReadonlyArray<[string, RawFields, Partial<Signal>]> = [
    ["a market order", { order_type: '"market"' }, {}],
    [
      "a limit order with limit_price",
      { order_type: '"limit"', limit_price: '"10.50"' },
      { orderType: "limit", limitPrice: "10.5" },
    ],
    [
      "a stop order with stop_price",
      { order_type: '"stop"', stop_price: "9" },
      { orderType: "stop", stopPrice: "9" },
    ],
    [
      "a stop_limit order with both prices",
      { order_type: '"stop_limit"', stop_price: "9", limit_price: "9.1" },
      { orderType: "stop_limit", stopPrice: "9", limitPrice: "9.1" },
    ],
    ["a spelled-out default time_in_force", { time_in_force: '"day"' }, {}],
    [
      "an ioc time_in_force",
      { time_in_force: '"ioc"' },
      { timeInForce: "ioc" },
    ],
  ];
  for (const [name, changes, fields] of orders) {
    it(`should accept ${name}`, () => {
      assert.deepEqual(validate(changes).signal, signal(fields));
    });
  }

  const signRule =
    "must be positive when market_position is long, negative when short " +
    "and 0 when flat";
  const wrongSigns: ReadonlyArray<[string, string]> = [
    ["long", "-1"],
    ["long", "0"],
    ["long", '"0.00"'],
    ["long", '"-2"'],
    ["short", "1"],
    ["short", "0"],
    ["short", '"-0.0"'],
    ["short", '"2.5"'],
    ["flat", "1"],
    ["flat", "-0.5"],
    ["flat", '"0.001"'],
    ["flat", '"-1"'],
  ];
  for (const [position, raw] of wrongSigns) {
    it(`should refuse a ${position} position_size of ${raw}`, () => {
      assert.deepEqual(
        rejection(() =>
          validate({ market_position: q(position), position_size: raw }),
        ),
        invalid("FIELD_INVALID", [
          { field: "position_size", description: signRule },
        ]),
      );
    });
  }

  it("should accept a position_size of any sign alone", () => {
    const sizes = ["-3", '"4.0"', "0"].map(
      (raw) => validate({ position_size: raw }).signal.positionSize,
    );
    assert.deepEqual(sizes, ["-3", "4", "0"]);
  });

  it("should accept market_position without position_size", () => {
    assert.deepEqual(
      validate({ market_position: '"flat"' }).signal,
      signal({ marketPosition: "flat" }),
    );
  });
});

describe("canonicalDecimal", () => {
  const cases: ReadonlyArray<[string, string]> = [
    ["1", "1"],
    ["10", "10"],
    ["100", "100"],
    ["1.50", "1.5"],
    ["1.05", "1.05"],
    ["10.0", "10"],
    ["100.00", "100"],
    ["0.10", "0.1"],
    ["0.0", "0"],
    ["-0", "0"],
    ["-0.000", "0"],
    ["-1.0", "-1"],
    ["-20.500", "-20.5"],
    ["1194.6000000000001", "1194.6000000000001"],
    ["9007199254740993.10", "9007199254740993.1"],
  ];
  for (const [text, canonical] of cases) {
    it(`should write ${text} as ${canonical}`, () => {
      assert.equal(canonicalDecimal(text), canonical);
    });
  }
});
