import { createHmac, timingSafeEqual } from "node:crypto";

import { status as GrpcCode, type Metadata } from "@grpc/grpc-js";

import { IngestError, Reason, unauthenticated } from "./errors";

/** The metadata keys of the Standard Webhooks scheme (standardwebhooks.com). */
export const WEBHOOK_ID_KEY = "webhook-id";
export const WEBHOOK_TIMESTAMP_KEY = "webhook-timestamp";
export const WEBHOOK_SIGNATURE_KEY = "webhook-signature";

/** How a configured secret starts; the rest is the key in base64. */
export const WEBHOOK_SECRET_PREFIX = "whsec_";
/** The specification's minimum key length (192 bits). */
export const MIN_WEBHOOK_KEY_BYTES = 24;
/** A webhook-id longer than this is refused; senders use short ids. */
export const MAX_WEBHOOK_ID_LENGTH = 256;

const SIGNATURE_VERSION = "v1";
const HMAC_SHA256_BYTES = 32;
const PADDED_BASE64 =
  /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
/** Digits only: no sign, fraction or trailing text; 20 keeps it finite. */
const UNIX_SECONDS = /^[0-9]{1,20}$/;
const MILLISECOND_DIGITS = 13;

/** The three headers as sent; `readStandardWebhookHeaders` gathers them. */
export interface StandardWebhookHeaders {
  id: string;
  timestamp: string;
  signature: string;
}

/** A secret decoded, or why it cannot be used (without its value). */
export type DecodedWebhookSecret =
  { ok: true; key: Buffer } | { ok: false; problem: string };

/**
 * Decodes a `whsec_<base64>` secret into its HMAC key. The base64 must be
 * the standard, padded alphabet in canonical form, and the key at least
 * MIN_WEBHOOK_KEY_BYTES long with some variety in it.
 */
export function decodeWebhookSecret(text: string): DecodedWebhookSecret {
  if (!text.startsWith(WEBHOOK_SECRET_PREFIX)) {
    return { ok: false, problem: `must start with ${WEBHOOK_SECRET_PREFIX}` };
  }
  const encoded = text.slice(WEBHOOK_SECRET_PREFIX.length);
  const key = Buffer.from(encoded, "base64");
  if (!PADDED_BASE64.test(encoded) || key.toString("base64") !== encoded) {
    return {
      ok: false,
      problem:
        `is not valid base64 after ${WEBHOOK_SECRET_PREFIX}; ` +
        "use the standard alphabet with = padding",
    };
  }
  if (key.length < MIN_WEBHOOK_KEY_BYTES) {
    return {
      ok: false,
      problem: `decodes to ${key.length} bytes; at least ${MIN_WEBHOOK_KEY_BYTES} are required`,
    };
  }
  if (new Set(key).size < 8) {
    return {
      ok: false,
      problem: "repeats too few distinct bytes to be secret",
    };
  }
  return { ok: true, key };
}

/**
 * Signs as a Standard Webhooks sender does: `v1,` and the base64
 * HMAC-SHA256, under `key`, of `id.timestamp.body` over the exact bytes.
 */
export function signStandardWebhook(
  key: Uint8Array,
  id: string,
  timestamp: string,
  body: Uint8Array | string,
): string {
  return `${SIGNATURE_VERSION},${computeSignature(key, id, timestamp, body).toString("base64")}`;
}

function computeSignature(
  key: Uint8Array,
  id: string,
  timestamp: string,
  body: Uint8Array | string,
): Buffer {
  return createHmac("sha256", key)
    .update(`${id}.${timestamp}.`, "utf8")
    .update(body)
    .digest();
}

/**
 * Reads the three headers; each must be there exactly once.
 * @throws IngestError UNAUTHENTICATED, SIGNATURE_MALFORMED naming the header
 */
export function readStandardWebhookHeaders(
  metadata: Metadata,
): StandardWebhookHeaders {
  return {
    id: readOne(metadata, WEBHOOK_ID_KEY),
    timestamp: readOne(metadata, WEBHOOK_TIMESTAMP_KEY),
    signature: readOne(metadata, WEBHOOK_SIGNATURE_KEY),
  };
}

function readOne(metadata: Metadata, key: string): string {
  const values = metadata.get(key);
  if (values.length === 1 && typeof values[0] === "string") return values[0];
  throw unauthenticated(
    Reason.signatureMalformed,
    `${key}: sent ${values.length} times; exactly one is required with ${WEBHOOK_SIGNATURE_KEY}`,
  );
}

export interface VerifierOptions {
  /** How far webhook-timestamp may be from the clock, either way. */
  toleranceSeconds: number;
}

/**
 * Verifies Standard Webhooks signatures (symmetric `v1` only). Every key is
 * tried against every `v1` entry in constant time, so timing reveals neither
 * which key matched nor how close a guess was. `v1a` and other entries are
 * skipped, as the specification allows several schemes side by side.
 */
export class StandardWebhookVerifier {
  constructor(
    private readonly keys: readonly Buffer[],
    private readonly options: VerifierOptions,
  ) {}

  /**
   * Checks the headers' form, then the signature, then the timestamp against
   * `nowMs`: only a holder of a key learns that its delivery was late.
   * Returns the verified webhook-id.
   * @throws IngestError UNAUTHENTICATED (SIGNATURE_MALFORMED or
   * SIGNATURE_MISMATCH), or FAILED_PRECONDITION (TIMESTAMP_STALE or
   * TIMESTAMP_FUTURE) as for the body's own timestamp
   */
  verify(
    body: Uint8Array,
    headers: StandardWebhookHeaders,
    nowMs: number,
  ): string {
    checkId(headers.id);
    checkTimestampForm(headers.timestamp);
    const claimed = parseSignatureEntries(headers.signature);
    if (!this.matchesAny(body, headers, claimed)) {
      throw unauthenticated(
        Reason.signatureMismatch,
        `${WEBHOOK_SIGNATURE_KEY}: no v1 entry matches the id, timestamp ` +
          "and body under any active secret",
      );
    }
    checkTimestampTolerance(
      headers.timestamp,
      nowMs,
      this.options.toleranceSeconds,
    );
    return headers.id;
  }

  private matchesAny(
    body: Uint8Array,
    headers: StandardWebhookHeaders,
    claimed: readonly ClaimedSignature[],
  ): boolean {
    let matched = false;
    for (const key of this.keys) {
      const expected = computeSignature(
        key,
        headers.id,
        headers.timestamp,
        body,
      );
      for (const entry of claimed) {
        matched =
          (timingSafeEqual(expected, entry.bytes) && entry.canonical) ||
          matched;
      }
    }
    return matched;
  }
}

interface ClaimedSignature {
  bytes: Buffer;
  /** False for anything but the one base64 form of a 32-byte MAC. */
  canonical: boolean;
}

/**
 * The `v1` entries of the space-separated list. An entry in a form no
 * signature has is kept as a never-matching placeholder, so the work done
 * does not depend on which entries were well formed.
 */
function parseSignatureEntries(header: string): ClaimedSignature[] {
  const entries = header
    .split(" ")
    .filter((entry) => entry.startsWith(`${SIGNATURE_VERSION},`));
  if (entries.length === 0) {
    throw unauthenticated(
      Reason.signatureMalformed,
      `${WEBHOOK_SIGNATURE_KEY}: no entry of the form ${SIGNATURE_VERSION},<base64>; ` +
        "only v1 (HMAC-SHA256) signatures are accepted",
    );
  }
  return entries.map((entry) => {
    const encoded = entry.slice(SIGNATURE_VERSION.length + 1);
    const bytes = Buffer.from(encoded, "base64");
    const canonical =
      bytes.length === HMAC_SHA256_BYTES &&
      bytes.toString("base64") === encoded;
    return {
      bytes: canonical ? bytes : Buffer.alloc(HMAC_SHA256_BYTES),
      canonical,
    };
  });
}

/** A `.` in the id would let the signed content be split another way. */
function checkId(id: string): void {
  if (id.length === 0 || id.length > MAX_WEBHOOK_ID_LENGTH) {
    throw unauthenticated(
      Reason.signatureMalformed,
      `${WEBHOOK_ID_KEY}: ${id.length} characters long; allowed 1 to ${MAX_WEBHOOK_ID_LENGTH}`,
    );
  }
  if (id.includes(".")) {
    throw unauthenticated(
      Reason.signatureMalformed,
      `${WEBHOOK_ID_KEY}: ${quote(id)} contains "."; ids must not`,
    );
  }
}

function checkTimestampForm(timestamp: string): void {
  if (UNIX_SECONDS.test(timestamp)) return;
  throw unauthenticated(
    Reason.signatureMalformed,
    `${WEBHOOK_TIMESTAMP_KEY}: ${quote(timestamp)} is not allowed; ` +
      "use integer Unix seconds, digits only",
  );
}

function checkTimestampTolerance(
  timestamp: string,
  nowMs: number,
  toleranceSeconds: number,
): void {
  const nowSeconds = Math.floor(nowMs / 1000);
  const ageSeconds = nowSeconds - Number(timestamp);
  if (Math.abs(ageSeconds) <= toleranceSeconds) return;
  if (ageSeconds < 0) {
    throw new IngestError(
      GrpcCode.FAILED_PRECONDITION,
      Reason.timestampFuture,
      `${WEBHOOK_TIMESTAMP_KEY}: ${timestamp} is ${-ageSeconds}s ahead of ` +
        `the service clock (${nowSeconds}); at most ${toleranceSeconds}s is ` +
        "allowed, check the sender's clock" +
        millisecondsHint(timestamp),
    );
  }
  throw new IngestError(
    GrpcCode.FAILED_PRECONDITION,
    Reason.timestampStale,
    `${WEBHOOK_TIMESTAMP_KEY}: ${timestamp} is ${ageSeconds}s older than ` +
      `the service clock (${nowSeconds}); at most ${toleranceSeconds}s is allowed`,
  );
}

function millisecondsHint(timestamp: string): string {
  if (timestamp.length < MILLISECOND_DIGITS) return "";
  return "; it looks like milliseconds, send whole seconds";
}

/** Echoes a caller's value, cut short so a huge header stays out of logs. */
function quote(value: string): string {
  const shown = value.length > 64 ? `${value.slice(0, 64)}...` : value;
  return JSON.stringify(shown);
}
