import { invalidPayload, IngestError, Reason } from "../errors";

/** A scalar JSON value as sent; numbers keep their exact source text. */
export type JsonScalar =
  | { kind: "string"; value: string }
  | { kind: "number"; text: string }
  | { kind: "boolean"; value: boolean }
  | { kind: "null" };

/** A flat JSON object in source order; no prototype, no duplicate keys. */
export type FlatObject = ReadonlyMap<string, JsonScalar>;

/** Longest number literal accepted; no real quantity or price needs more. */
export const MAX_NUMBER_CHARS = 32;

/** Keys that would reach Object.prototype if the object were ever merged. */
const FORBIDDEN_KEYS = new Set(["__proto__", "constructor", "prototype"]);
const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const WHITESPACE = /[ \t\n\r]*/y;
/** In /u mode a proper pair is one code point, so only lone halves match. */
const LONE_SURROGATE = /\p{Surrogate}/u;

/**
 * Parses `text` as exactly one JSON object of scalar values.
 *
 * JSON.parse cannot serve: it keeps the last of duplicate keys silently and
 * rounds numbers to doubles, and an alert must fail on the first and keep
 * "1194.6000000000001" as sent. Nested values are refused outright, since no
 * alert field holds one, which also bounds the work on hostile input: the
 * scan is linear and never recurses.
 * @throws IngestError INVALID_ARGUMENT with the reason of the first problem
 */
export function parseFlatObject(text: string): FlatObject {
  const scanner = new Scanner(text);
  scanner.skipWhitespace();
  if (scanner.peek() !== "{") {
    throw invalidPayload(Reason.bodyNotObject, [
      {
        field: "",
        description:
          `the body must be one JSON object such as {"ticker": "AAPL"}, ` +
          `but it starts with ${describeStart(text, scanner.pos)}`,
      },
    ]);
  }
  const result = scanner.readObject();
  scanner.skipWhitespace();
  if (!scanner.atEnd()) {
    throw syntax(
      `unexpected data after the closing brace at offset ${scanner.pos}; ` +
        "send exactly one JSON object",
    );
  }
  return result;
}

class Scanner {
  pos = 0;

  constructor(private readonly text: string) {}

  atEnd(): boolean {
    return this.pos >= this.text.length;
  }

  peek(): string {
    return this.text.charAt(this.pos);
  }

  skipWhitespace(): void {
    WHITESPACE.lastIndex = this.pos;
    WHITESPACE.exec(this.text);
    this.pos = WHITESPACE.lastIndex;
  }

  expect(char: string, what: string): void {
    this.skipWhitespace();
    if (this.peek() !== char) {
      throw syntax(
        `expected ${what} at offset ${this.pos}, found ${this.found()}`,
      );
    }
    this.pos++;
  }

  readObject(): FlatObject {
    const fields = new Map<string, JsonScalar>();
    this.expect("{", "'{'");
    this.skipWhitespace();
    if (this.peek() === "}") {
      this.pos++;
      return fields;
    }
    for (;;) {
      this.readMember(fields);
      this.skipWhitespace();
      const next = this.peek();
      this.pos++;
      if (next === "}") return fields;
      if (next !== ",") {
        this.pos--;
        throw syntax(
          `expected ',' or '}' at offset ${this.pos}, found ${this.found()}`,
        );
      }
    }
  }

  readMember(fields: Map<string, JsonScalar>): void {
    this.skipWhitespace();
    if (this.peek() !== '"') {
      throw syntax(
        `expected a quoted field name at offset ${this.pos}, ` +
          `found ${this.found()}`,
      );
    }
    const key = this.readString();
    checkKey(key, fields);
    this.expect(":", `':' after "${key}"`);
    this.skipWhitespace();
    fields.set(key, this.readScalar(key));
  }

  readScalar(key: string): JsonScalar {
    const char = this.peek();
    if (char === '"') return { kind: "string", value: this.readString() };
    if (char === "{" || char === "[") {
      throw invalidPayload(Reason.fieldInvalid, [
        {
          field: key,
          description:
            "must be a string or a number, not " +
            (char === "{" ? "an object" : "an array"),
        },
      ]);
    }
    if (char === "-" || (char >= "0" && char <= "9")) {
      return this.readNumber(key);
    }
    for (const [word, value] of LITERALS) {
      if (this.text.startsWith(word, this.pos)) {
        this.pos += word.length;
        return value;
      }
    }
    throw syntax(
      `the value of "${key}" at offset ${this.pos} is not valid JSON ` +
        `(found ${this.found()}); text values must be in double quotes`,
    );
  }

  readNumber(key: string): JsonScalar {
    NUMBER.lastIndex = this.pos;
    const match = NUMBER.exec(this.text);
    if (!match) throw syntax(`malformed number for "${key}" at ${this.pos}`);
    const text = match[0];
    this.pos += text.length;
    if (/[eE]/.test(text)) {
      throw invalidPayload(Reason.fieldInvalid, [
        {
          field: key,
          description: `${text} uses an exponent; write it as a plain decimal`,
        },
      ]);
    }
    if (text.length > MAX_NUMBER_CHARS) {
      throw invalidPayload(Reason.fieldInvalid, [
        {
          field: key,
          description:
            `number is ${text.length} characters long; ` +
            `at most ${MAX_NUMBER_CHARS} are allowed`,
        },
      ]);
    }
    return { kind: "number", text };
  }

  /** Reads a JSON string; only one with escapes needs decoding. */
  readString(): string {
    const start = this.pos;
    let i = start + 1;
    let escaped = false;
    for (;;) {
      const code = this.text.charCodeAt(i);
      if (Number.isNaN(code)) {
        throw syntax(`unterminated string starting at offset ${start}`);
      }
      if (code === 0x22) break;
      if (code === 0x5c) {
        escaped = true;
        i++;
      } else if (code < 0x20) {
        throw syntax(`control character in a string at offset ${i}; escape it`);
      }
      i++;
    }
    this.pos = i + 1;
    const value = escaped
      ? decodeEscapes(this.text.slice(start, this.pos), start)
      : this.text.slice(start + 1, i);
    checkWellFormed(value, start);
    return value;
  }

  found(): string {
    if (this.atEnd()) return "the end of the body";
    return JSON.stringify(this.text.slice(this.pos, this.pos + 12));
  }
}

/** Escapes are decoded by V8's own JSON parser; most strings have none. */
function decodeEscapes(quoted: string, start: number): string {
  try {
    return JSON.parse(quoted) as string;
  } catch {
    throw syntax(`invalid escape in the string at offset ${start}`);
  }
}

const LITERALS: ReadonlyArray<readonly [string, JsonScalar]> = [
  ["true", { kind: "boolean", value: true }],
  ["false", { kind: "boolean", value: false }],
  ["null", { kind: "null" }],
];

function checkKey(key: string, fields: Map<string, JsonScalar>): void {
  if (FORBIDDEN_KEYS.has(key)) {
    throw invalidPayload(Reason.forbiddenKey, [
      {
        field: key,
        description: `the key "${key}" is forbidden; remove it`,
      },
    ]);
  }
  if (fields.has(key)) {
    throw invalidPayload(Reason.duplicateKey, [
      {
        field: key,
        description: `appears more than once; send each field once`,
      },
    ]);
  }
}

/**
 * An escaped lone surrogate ("\ud800") is not text: protobuf and UTF-8 turn
 * every one into U+FFFD, so two alerts with different keys here would reach
 * the next service as the same signal.
 */
function checkWellFormed(value: string, offset: number): void {
  if (!LONE_SURROGATE.test(value)) return;
  throw invalidPayload(Reason.bodyEncoding, [
    {
      field: "",
      description:
        `the string at offset ${offset} escapes an unpaired surrogate; ` +
        "text must be valid Unicode",
    },
  ]);
}

function syntax(description: string): IngestError {
  return invalidPayload(Reason.bodySyntax, [
    { field: "", description: `invalid JSON: ${description}` },
  ]);
}

function describeStart(text: string, pos: number): string {
  if (pos >= text.length) return "nothing";
  const head = text.slice(pos, pos + 16);
  if (text[pos] === "[") return "'[' (an array)";
  if (text[pos] === '"') {
    return `a quoted string (${JSON.stringify(head)}); wrap the fields in { }`;
  }
  return JSON.stringify(head);
}
