import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";

import Ajv2020 from "ajv/dist/2020";

import { IngestError } from "../src/errors";
import { parseAlert, validateAlert } from "../src/payload/alert";
import {
  ALERT_FIELDS,
  ALERT_SCHEMA,
  checkAlertSchema,
  findUnknownFields,
} from "../src/payload/schema";

/** The project root, seen from a compiled test in dist/test/. */
const ROOT = join(__dirname, "..", "..");
const SCHEMA_PATH = join(ROOT, "schema", "alert.schema.json");

/** The published file, compiled the way a user checking a template would. */
function compilePublishedSchema() {
  const schema = JSON.parse(readFileSync(SCHEMA_PATH, "utf8")) as object;
  return new Ajv2020().compile(schema);
}

/** "accepted", or the reason the service's validator refused the text. */
function validatorOutcome(text: string): string {
  try {
    validateAlert(parseAlert(text));
    return "accepted";
  } catch (err) {
    assert.ok(err instanceof IngestError, `not an IngestError: ${err}`);
    return err.reason;
  }
}

/** A valid alert's fields as JSON source, with `extra` members appended. */
function alert(extra = ""): string {
  const base =
    '"ticker":"AAPL","action":"buy","quantity":1,' +
    '"timestamp":"2026-12-04T15:30:00Z"';
  return `{${base}${extra ? `,${extra}` : ""}}`;
}

const valid: ReadonlyArray<string> = [
  alert(),
  alert('"order_type":"market","time_in_force":"day"'),
  alert('"order_type":"limit","limit_price":"10.50"'),
  alert('"order_type":"stop","stop_price":9'),
  alert('"order_type":"stop_limit","stop_price":9,"limit_price":9.5'),
  alert('"market_position":"long","position_size":"3"'),
  alert('"market_position":"short","position_size":-3.5'),
  alert('"market_position":"flat","position_size":0'),
  alert('"market_position":"flat","position_size":"-0.00"'),
  alert('"position_size":-4'),
  alert('"price":1194.6000000000001,"exchange":"NASDAQ"'),
  alert('"strategy":"s","order_id":"Long","interval":"1D","comment":"ok"'),
  alert('"token":"abc"'),
  '{"ticker":"ES1!","action":"SELL","quantity":"0.5",' +
    '"timestamp":1796398200000}',
  '{"ticker":"BTCUSDT.P","action":"Buy","quantity":0.001,' +
    '"timestamp":"2026-12-04T10:30:00.25-05:00"}',
];

const invalid: ReadonlyArray<string> = [
  "{}",
  '{"ticker":"AAPL","action":"buy","quantity":1}',
  alert('"qty":1'),
  alert('"toString":"x"'),
  alert('"hasOwnProperty":"x"'),
  alert('"valueOf":1'),
  alert('"__proto__":"x"'),
  alert('"constructor":"x"'),
  alert('"Ticker":"AAPL"'),
  alert('"ticker2":"AAPL"'),
  '{"ticker":"","action":"buy","quantity":1,"timestamp":1796398200000}',
  '{"ticker":"AA PL","action":"buy","quantity":1,"timestamp":1796398200000}',
  '{"ticker":"AAPL","action":"hold","quantity":1,"timestamp":1796398200000}',
  '{"ticker":"AAPL","action":"buy","quantity":0,"timestamp":1796398200000}',
  '{"ticker":"AAPL","action":"buy","quantity":"0","timestamp":1796398200000}',
  '{"ticker":"AAPL","action":"buy","quantity":-1,"timestamp":1796398200000}',
  '{"ticker":"AAPL","action":"buy","quantity":"1e2","timestamp":1796398200000}',
  '{"ticker":"AAPL","action":"buy","quantity":"","timestamp":1796398200000}',
  '{"ticker":"AAPL","action":"buy","quantity":null,"timestamp":1796398200000}',
  '{"ticker":"AAPL","action":"buy","quantity":1,"timestamp":1796398200}',
  '{"ticker":"AAPL","action":"buy","quantity":1,"timestamp":"1796398200000"}',
  '{"ticker":"AAPL","action":"buy","quantity":1,' +
    '"timestamp":"2026-12-04T15:30:00"}',
  '{"ticker":"AAPL","action":"buy","quantity":1,' +
    '"timestamp":1796398200000.5}',
  alert('"order_type":"limit"'),
  alert('"limit_price":10'),
  alert('"order_type":"market","stop_price":10'),
  alert('"order_type":"stop_limit","stop_price":9'),
  alert('"order_type":"LIMIT","limit_price":10'),
  alert('"time_in_force":"fok"'),
  alert('"price":0'),
  alert('"market_position":"long","position_size":-1'),
  alert('"market_position":"short","position_size":"2"'),
  alert('"market_position":"flat","position_size":"0.5"'),
  alert('"market_position":"long","position_size":"-0"'),
  alert('"position_size":"+1"'),
  alert(`"comment":"${"c".repeat(257)}"`),
  alert('"comment":""'),
  alert('"interval":60'),
  alert('"token":""'),
  alert('"exchange":true'),
];

/**
 * What the published schema cannot say, and the service refuses anyway:
 * JSON.parse hides duplicate keys and reads exponents and long literals as
 * doubles, a pattern cannot know the calendar, and any string may hold a
 * placeholder.
 */
const stricterThanSchema: ReadonlyArray<[string, string, string]> = [
  ["an exponent", alert('"price":1e2'), "FIELD_INVALID"],
  ["a duplicate key", alert('"ticker":"MSFT"'), "DUPLICATE_KEY"],
  [
    "30 February",
    '{"ticker":"AAPL","action":"buy","quantity":1,' +
      '"timestamp":"2026-02-30T15:30:00Z"}',
    "FIELD_INVALID",
  ],
  [
    "a placeholder in free text",
    alert('"comment":"filled at {{close}}"'),
    "PLACEHOLDER_UNFILLED",
  ],
  ["an unpaired surrogate", alert('"comment":"\\ud800"'), "BODY_ENCODING"],
  [
    "a 33-character number",
    alert(`"price":1.${"0".repeat(30)}1`),
    "FIELD_INVALID",
  ],
];

describe("the published alert schema", () => {
  const validateWithSchema = compilePublishedSchema();

  it("should be what the validator uses", () => {
    const published = JSON.parse(readFileSync(SCHEMA_PATH, "utf8"));
    assert.deepEqual(ALERT_SCHEMA, published);
  });

  it("should declare JSON Schema draft 2020-12", () => {
    assert.equal(
      ALERT_SCHEMA.$schema,
      "https://json-schema.org/draft/2020-12/schema",
    );
  });

  it("should list every field the validator knows, in order", () => {
    assert.deepEqual(ALERT_FIELDS, [
      "ticker",
      "action",
      "quantity",
      "timestamp",
      "order_type",
      "limit_price",
      "stop_price",
      "time_in_force",
      "price",
      "exchange",
      "strategy",
      "order_id",
      "market_position",
      "position_size",
      "interval",
      "comment",
      "token",
    ]);
  });

  for (const text of valid) {
    it(`should accept, with the validator, ${text}`, () => {
      assert.deepEqual(
        {
          schema: validateWithSchema(JSON.parse(text)),
          validator: validatorOutcome(text),
        },
        { schema: true, validator: "accepted" },
      );
    });
  }

  for (const text of invalid) {
    const shown = text.length > 100 ? `${text.slice(0, 97)}...` : text;
    it(`should refuse, with the validator, ${shown}`, () => {
      const outcome = validatorOutcome(text);
      assert.deepEqual(
        {
          schema: validateWithSchema(JSON.parse(text)),
          validatorAccepted: outcome === "accepted",
        },
        { schema: false, validatorAccepted: false },
      );
    });
  }

  for (const [name, text, reason] of stricterThanSchema) {
    it(`should pass ${name}, which the validator refuses`, () => {
      assert.deepEqual(
        {
          schema: validateWithSchema(JSON.parse(text)),
          validator: validatorOutcome(text),
        },
        { schema: true, validator: reason },
      );
    });
  }
});

describe("findUnknownFields", () => {
  it("should name fields the schema does not define, in order", () => {
    const value = Object.assign(Object.create(null), {
      ticker: "AAPL",
      qty: 1,
      toString: "x",
      __defineGetter__: "x",
      isPrototypeOf: "x",
      token: "t",
    });
    assert.deepEqual(findUnknownFields(value), [
      "qty",
      "toString",
      "__defineGetter__",
      "isPrototypeOf",
    ]);
  });
});

describe("checkAlertSchema", () => {
  it("should return no violations for a valid alert", () => {
    assert.deepEqual(
      checkAlertSchema({
        ticker: "AAPL",
        action: "buy",
        quantity: 1,
        timestamp: "2026-12-04T15:30:00Z",
      }),
      [],
    );
  });

  it("should refuse a field it cannot name rather than pass it", () => {
    const value = Object.assign(Object.create(null), {
      ticker: "AAPL",
      action: "buy",
      quantity: 1,
      timestamp: "2026-12-04T15:30:00Z",
      valueOf: 1,
    });
    assert.deepEqual(checkAlertSchema(value), [
      { field: "", description: "does not match the alert schema" },
    ]);
  });
});
