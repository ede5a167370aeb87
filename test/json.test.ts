import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { status } from "@grpc/grpc-js";

import {
  MAX_NUMBER_CHARS,
  parseFlatObject,
  type JsonScalar,
} from "../src/payload/json";
import { rejection } from "./helpers/rejection";

/** The INVALID_ARGUMENT error with one violation, message as documented. */
function invalid(reason: string, field: string, description: string) {
  return {
    code: status.INVALID_ARGUMENT,
    reason,
    message: field ? `${field}: ${description}` : description,
    violations: [{ field, description }],
  };
}

function syntax(description: string) {
  return invalid("BODY_SYNTAX", "", `invalid JSON: ${description}`);
}

function notObject(start: string) {
  return invalid(
    "BODY_NOT_OBJECT",
    "",
    'the body must be one JSON object such as {"ticker": "AAPL"}, ' +
      `but it starts with ${start}`,
  );
}

function entries(text: string): [string, JsonScalar][] {
  return [...parseFlatObject(text)];
}

const num = (text: string): JsonScalar => ({ kind: "number", text });
const str = (value: string): JsonScalar => ({ kind: "string", value });

describe("parseFlatObject", () => {
  const rejections: ReadonlyArray<{
    name: string;
    text: string;
    expected: ReturnType<typeof invalid>;
  }> = [
    { name: "nothing at all", text: "", expected: notObject("nothing") },
    { name: "only whitespace", text: " \n", expected: notObject("nothing") },
    {
      name: "an array",
      text: '[{"a":1}]',
      expected: notObject("'[' (an array)"),
    },
    {
      name: "a quoted string",
      text: '"ticker=AAPL"',
      expected: notObject(
        'a quoted string ("\\"ticker=AAPL\\""); wrap the fields in { }',
      ),
    },
    { name: "a number", text: "42", expected: notObject('"42"') },
    { name: "null", text: "null", expected: notObject('"null"') },
    {
      name: "a form body",
      text: "ticker=AAPL&action=buy",
      expected: notObject('"ticker=AAPL&acti"'),
    },
    {
      name: "a lone opening brace",
      text: "{",
      expected: syntax(
        "expected a quoted field name at offset 1, found the end of the body",
      ),
    },
    {
      name: "a key without a colon",
      text: '{"a"',
      expected: syntax(
        `expected ':' after "a" at offset 4, found the end of the body`,
      ),
    },
    {
      name: "a key without a value",
      text: '{"a":}',
      expected: syntax(
        'the value of "a" at offset 5 is not valid JSON (found "}"); ' +
          "text values must be in double quotes",
      ),
    },
    {
      name: "a missing closing brace",
      text: '{"a":1',
      expected: syntax(
        "expected ',' or '}' at offset 6, found the end of the body",
      ),
    },
    {
      name: "a trailing comma",
      text: '{"a":1,}',
      expected: syntax('expected a quoted field name at offset 7, found "}"'),
    },
    {
      name: "a missing comma",
      text: '{"a":1 "b":2}',
      expected: syntax(`expected ',' or '}' at offset 7, found "\\"b\\":2}"`),
    },
    {
      name: "an unquoted key",
      text: "{a:1}",
      expected: syntax(
        'expected a quoted field name at offset 1, found "a:1}"',
      ),
    },
    {
      name: "a single-quoted key",
      text: "{'a':1}",
      expected: syntax(
        `expected a quoted field name at offset 1, found "'a':1}"`,
      ),
    },
    {
      name: "a single-quoted value",
      text: "{\"a\":'x'}",
      expected: syntax(
        `the value of "a" at offset 5 is not valid JSON (found "'x'}"); ` +
          "text values must be in double quotes",
      ),
    },
    {
      name: "an unquoted word",
      text: '{"ticker":AAPL}',
      expected: syntax(
        'the value of "ticker" at offset 10 is not valid JSON ' +
          '(found "AAPL}"); text values must be in double quotes',
      ),
    },
    {
      name: "trailing data",
      text: '{"a":1}x',
      expected: syntax(
        "unexpected data after the closing brace at offset 7; " +
          "send exactly one JSON object",
      ),
    },
    {
      name: "a second object",
      text: '{"a":1} {"b":2}',
      expected: syntax(
        "unexpected data after the closing brace at offset 8; " +
          "send exactly one JSON object",
      ),
    },
    {
      name: "a nested object",
      text: '{"ticker":"AAPL","order":{"qty":1}}',
      expected: invalid(
        "FIELD_INVALID",
        "order",
        "must be a string or a number, not an object",
      ),
    },
    {
      name: "an array value",
      text: '{"quantity":[1,2]}',
      expected: invalid(
        "FIELD_INVALID",
        "quantity",
        "must be a string or a number, not an array",
      ),
    },
    {
      name: "a duplicate key",
      text: '{"action":"buy","quantity":1,"action":"sell"}',
      expected: invalid(
        "DUPLICATE_KEY",
        "action",
        "appears more than once; send each field once",
      ),
    },
    {
      name: "a duplicate key spelled with an escape",
      text: '{"action":"buy","\\u0061ction":"sell"}',
      expected: invalid(
        "DUPLICATE_KEY",
        "action",
        "appears more than once; send each field once",
      ),
    },
    ...["__proto__", "constructor", "prototype"].map((key) => ({
      name: `the key ${key}`,
      text: `{"ticker":"AAPL","${key}":{"isAdmin":true}}`,
      expected: invalid(
        "FORBIDDEN_KEY",
        key,
        `the key "${key}" is forbidden; remove it`,
      ),
    })),
    {
      name: "__proto__ spelled with an escape",
      text: '{"__proto\\u005f_":1}',
      expected: invalid(
        "FORBIDDEN_KEY",
        "__proto__",
        'the key "__proto__" is forbidden; remove it',
      ),
    },
    {
      name: "an exponent",
      text: '{"quantity":1e2}',
      expected: invalid(
        "FIELD_INVALID",
        "quantity",
        "1e2 uses an exponent; write it as a plain decimal",
      ),
    },
    {
      name: "a negative capital exponent",
      text: '{"price":1.5E-3}',
      expected: invalid(
        "FIELD_INVALID",
        "price",
        "1.5E-3 uses an exponent; write it as a plain decimal",
      ),
    },
    {
      name: "NaN",
      text: '{"quantity":NaN}',
      expected: syntax(
        'the value of "quantity" at offset 12 is not valid JSON ' +
          '(found "NaN}"); text values must be in double quotes',
      ),
    },
    {
      name: "Infinity",
      text: '{"quantity":Infinity}',
      expected: syntax(
        'the value of "quantity" at offset 12 is not valid JSON ' +
          '(found "Infinity}"); text values must be in double quotes',
      ),
    },
    {
      name: "a lone minus sign",
      text: '{"quantity":-}',
      expected: syntax('malformed number for "quantity" at 12'),
    },
    {
      name: "a plus sign",
      text: '{"quantity":+1}',
      expected: syntax(
        'the value of "quantity" at offset 12 is not valid JSON ' +
          '(found "+1}"); text values must be in double quotes',
      ),
    },
    {
      name: "a leading zero",
      text: '{"quantity":01}',
      expected: syntax(`expected ',' or '}' at offset 13, found "1}"`),
    },
    {
      name: "a trailing decimal point",
      text: '{"quantity":1.}',
      expected: syntax(`expected ',' or '}' at offset 13, found ".}"`),
    },
    {
      name: "a leading decimal point",
      text: '{"quantity":.5}',
      expected: syntax(
        'the value of "quantity" at offset 12 is not valid JSON ' +
          '(found ".5}"); text values must be in double quotes',
      ),
    },
    {
      name: "a number longer than the limit",
      text: `{"quantity":1.${"0".repeat(MAX_NUMBER_CHARS - 1)}}`,
      expected: invalid(
        "FIELD_INVALID",
        "quantity",
        "number is 33 characters long; at most 32 are allowed",
      ),
    },
    {
      name: "a capitalised literal",
      text: '{"a":True}',
      expected: syntax(
        'the value of "a" at offset 5 is not valid JSON (found "True}"); ' +
          "text values must be in double quotes",
      ),
    },
    {
      name: "a literal with extra letters",
      text: '{"a":nullx}',
      expected: syntax(`expected ',' or '}' at offset 9, found "x}"`),
    },
    {
      name: "an invalid escape",
      text: '{"a":"\\x41"}',
      expected: syntax("invalid escape in the string at offset 5"),
    },
    {
      name: "a short unicode escape",
      text: '{"a":"\\u41"}',
      expected: syntax("invalid escape in the string at offset 5"),
    },
    {
      name: "a raw newline in a string",
      text: '{"comment":"line 1\nline 2"}',
      expected: syntax("control character in a string at offset 18; escape it"),
    },
    {
      name: "a raw tab in a key",
      text: '{"a\tb":1}',
      expected: syntax("control character in a string at offset 3; escape it"),
    },
    {
      name: "an unterminated string",
      text: '{"ticker":"AAPL',
      expected: syntax("unterminated string starting at offset 10"),
    },
    {
      name: "a string ending in an escaped quote",
      text: '{"ticker":"AAPL\\"}',
      expected: syntax("unterminated string starting at offset 10"),
    },
    ...(
      [
        ["a lone high surrogate", '{"order_id":"\\ud800"}', 12],
        ["a lone low surrogate", '{"order_id":"a\\uDC00b"}', 12],
        ["a reversed pair", '{"order_id":"\\ude00\\ud83d"}', 12],
        ["a lone surrogate in a key", '{"\\ud800":1}', 1],
      ] as const
    ).map(([name, text, offset]) => ({
      name: `${name} as not text`,
      text,
      expected: invalid(
        "BODY_ENCODING",
        "",
        `the string at offset ${offset} escapes an unpaired surrogate; ` +
          "text must be valid Unicode",
      ),
    })),
  ];

  for (const { name, text, expected } of rejections) {
    it(`should reject ${name}`, () => {
      assert.deepEqual(
        rejection(() => parseFlatObject(text)),
        expected,
      );
    });
  }

  it("should keep fields in source order with their kinds", () => {
    assert.deepEqual(
      entries('{"z":"last?","a":1,"m":true,"b":false,"c":null}'),
      [
        ["z", str("last?")],
        ["a", num("1")],
        ["m", { kind: "boolean", value: true }],
        ["b", { kind: "boolean", value: false }],
        ["c", { kind: "null" }],
      ],
    );
  });

  it("should keep the exact source text of numbers", () => {
    assert.deepEqual(
      entries(
        '{"a":1194.6000000000001,"b":-0,"c":1.50,"d":0.1,' +
          '"e":-12.000,"f":99999999999999999999999999999999}',
      ),
      [
        ["a", num("1194.6000000000001")],
        ["b", num("-0")],
        ["c", num("1.50")],
        ["d", num("0.1")],
        ["e", num("-12.000")],
        ["f", num("99999999999999999999999999999999")],
      ],
    );
  });

  it("should accept a number of exactly the maximum length", () => {
    const text = `1.${"0".repeat(MAX_NUMBER_CHARS - 3)}1`;
    assert.equal(text.length, 32);
    assert.deepEqual(entries(`{"q":${text}}`), [["q", num(text)]]);
  });

  it("should decode every JSON escape", () => {
    assert.deepEqual(
      entries(String.raw`{"s":"\"\\\/\b\f\n\r\t\u00e9\uD83D\uDE00"}`),
      [["s", str('"\\/\b\f\n\r\t\u00e9\u{1F600}')]],
    );
  });

  it("should keep raw unicode text as sent", () => {
    assert.deepEqual(entries('{"comment":"日本株 ✓ €5 😀"}'), [
      ["comment", str("日本株 ✓ €5 😀")],
    ]);
  });

  it("should decode escapes in keys", () => {
    assert.deepEqual(entries('{"tick\\u0065r":"AAPL"}'), [
      ["ticker", str("AAPL")],
    ]);
  });

  it("should allow JSON whitespace around every token", () => {
    assert.deepEqual(entries(' \t\r\n{ \n"a" \t: \r"x" ,\n "b":\t2\n}\r\n '), [
      ["a", str("x")],
      ["b", num("2")],
    ]);
  });

  it("should parse an empty object", () => {
    assert.deepEqual(entries("{ }"), []);
  });

  it("should keep braces and commas inside strings as text", () => {
    assert.deepEqual(entries('{"comment":"{\\"a\\": [1, 2]}, }"}'), [
      ["comment", str('{"a": [1, 2]}, }')],
    ]);
  });

  it("should keep a key that only looks like __proto__ as a plain key", () => {
    const fields = parseFlatObject('{"__proto":1,"proto__":2}');
    assert.deepEqual([...fields.keys()], ["__proto", "proto__"]);
  });
});
