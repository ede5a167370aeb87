import { createHmac, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";

import { ROOT, SECRET, TOKEN } from "./harness";

/** What a row expects; `code` is a grpc-js status name such as "OK". */
export interface Expectation {
  code: string;
  reason: string | null;
  httpStatus: number;
  outcome?: "ACCEPTED" | "DUPLICATE";
  message?: string;
  /** When the gateway itself answers with its own words. */
  httpMessage?: string;
  /** For messages that carry the clock: an anchored pattern. */
  messageMatch?: string;
}

/** One row of test/fixtures/bad-requests.json. */
export interface BadRequest {
  name: string;
  note: string;
  body?: string;
  bodyBase64?: string;
  contentType: string;
  auth: string;
  /** Appended to the HTTP path, such as a query string. */
  path?: string;
  /** Which doors the row runs through; both when absent. */
  doors?: ("grpc" | "http")[];
  expect: Expectation;
}

/** Requests sent in order, each expecting an outcome. */
export interface BadSequence {
  name: string;
  note: string;
  contentType: string;
  auth: string;
  bodies: string[];
  outcomes: ("ACCEPTED" | "DUPLICATE")[];
  /** Whether every reply must carry the same idempotency key. */
  sameKey: boolean;
}

export interface BadRequestTable {
  env: Record<string, string>;
  requests: BadRequest[];
  sequences: BadSequence[];
}

/** Reads the table from test/fixtures/bad-requests.json. */
export function loadBadRequests(): BadRequestTable {
  const path = join(ROOT, "test", "fixtures", "bad-requests.json");
  return JSON.parse(readFileSync(path, "utf8")) as BadRequestTable;
}

/** The values templates expand to; one per request, or per sequence. */
export interface Expansion {
  nowMs: number;
  id: string;
}

/** A fresh expansion: the clock now and a 16-character unique id. */
export function createExpansion(): Expansion {
  return { nowMs: Date.now(), id: `adv-${randomBytes(6).toString("hex")}` };
}

const REPEAT = /\$REPEAT\((\d+),([^)]*)\)/g;
const PAD = /\$PAD\((\d+)\)/;
const MINUTE_MS = 60_000;

/**
 * Expands the templates the table's description lists. Longer names go
 * first so that $NOW_MS_PLUS_5M is not read as $NOW_MS.
 */
export function expandText(text: string, x: Expansion): string {
  const values: [string, string][] = [
    ["$NOW_MS_PLUS_5M", String(x.nowMs + 5 * MINUTE_MS)],
    ["$BAR_ISO_1H_AGO", isoSeconds(floorMinute(x.nowMs - 60 * MINUTE_MS))],
    ["$NOW_ISO", isoSeconds(x.nowMs)],
    ["$NOW_MS", String(x.nowMs)],
    ["$NOW_S", String(Math.floor(x.nowMs / 1000))],
    ["$ID", x.id],
    ["$TOKEN", TOKEN],
  ];
  let out = text.replace(REPEAT, (_, n: string, unit: string) =>
    unit.repeat(Number(n)),
  );
  for (const [name, value] of values) out = out.split(name).join(value);
  return padTo(out);
}

function padTo(text: string): string {
  const match = PAD.exec(text);
  if (!match) return text;
  const without = text.replace(PAD, "");
  const missing = Number(match[1]) - Buffer.byteLength(without);
  return without + " ".repeat(Math.max(0, missing));
}

function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

function floorMinute(ms: number): number {
  return ms - (ms % MINUTE_MS);
}

/** The exact bytes a row sends. */
export function bodyBytes(row: BadRequest, x: Expansion): Buffer {
  if (row.bodyBase64 !== undefined) {
    return Buffer.from(row.bodyBase64, "base64");
  }
  return Buffer.from(expandText(row.body ?? "", x), "utf8");
}

/** Credentials as a door sends them: metadata pairs and a path token. */
export interface Credentials {
  metadata: [string, string][];
  pathToken: string;
}

/** A secret the service does not hold. */
const UNKNOWN_SECRET = "unknown-secret-0123456789-qrstuvwxyzab";
const WRONG_TOKEN = "wrong-token-0123456789abcdef";

/**
 * The credentials of an auth mode (see the table's authModes).
 * @throws Error for a mode the table does not define
 */
export function credentialsFor(auth: string, body: Buffer): Credentials {
  const hex = hmacHex(body, SECRET);
  const signed = (value: string): Credentials => ({
    metadata: [["x-signature", value]],
    pathToken: "",
  });
  const modes: Record<string, () => Credentials> = {
    signature: () => signed(`sha256=${hex}`),
    "signature-upper-hex": () => signed(`sha256=${hex.toUpperCase()}`),
    "signature-short": () => signed(`sha256=${hex.slice(0, -1)}`),
    "signature-long": () => signed(`sha256=${hex}0`),
    "signature-unknown-secret": () =>
      signed(`sha256=${hmacHex(body, UNKNOWN_SECRET)}`),
    "signature-of-trimmed-body": () =>
      signed(`sha256=${hmacHex(body.toString("utf8").trim(), SECRET)}`),
    "signature-upper-prefix": () => signed(`SHA256=${hex}`),
    "signature-no-prefix": () => signed(hex),
    "signature-not-hex": () => signed(`sha256=${"g".repeat(64)}`),
    "signature-twice": () => ({
      metadata: [
        ["x-signature", `sha256=${hex}`],
        ["x-signature", `sha256=${hex}`],
      ],
      pathToken: "",
    }),
    "signature-unknown-secret-and-path-token": () => ({
      ...signed(`sha256=${hmacHex(body, UNKNOWN_SECRET)}`),
      pathToken: TOKEN,
    }),
    "path-token": () => ({ metadata: [], pathToken: TOKEN }),
    "path-token-wrong": () => ({ metadata: [], pathToken: WRONG_TOKEN }),
    none: () => ({ metadata: [], pathToken: "" }),
  };
  const make = modes[auth];
  if (!make) throw new Error(`unknown auth mode ${auth}`);
  return make();
}

function hmacHex(body: Buffer | string, secret: string): string {
  return createHmac("sha256", secret).update(body).digest("hex");
}
