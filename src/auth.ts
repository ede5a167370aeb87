import { createHash, createHmac, timingSafeEqual } from "node:crypto";

import type { Metadata } from "@grpc/grpc-js";

import { DEFAULT_TIMESTAMP_TOLERANCE_SECONDS } from "./config";
import { Reason, unauthenticated } from "./errors";
import {
  readStandardWebhookHeaders,
  StandardWebhookVerifier,
  WEBHOOK_SIGNATURE_KEY,
} from "./standard-webhooks";

/** How a request proved itself, for logs and metrics. */
export type AuthMethod =
  "signature" | "standard_webhooks" | "path_token" | "body_token";

/**
 * What authenticating the raw bytes decided: a method, or that the body's own
 * `token` field must decide once the body is parsed.
 */
export type AuthDecision = AuthMethod | "body_token_pending";

/** The metadata key of the HMAC signature, `sha256=<64 hex digits>`. */
export const SIGNATURE_KEY = "x-signature";
const SIGNATURE_FORMAT = /^sha256=([0-9a-fA-F]{64})$/;

/**
 * Checks credentials in constant time. Every active secret and token is
 * tried on every request, so timing reveals neither which one matched nor
 * how much of a guess was right.
 */
export class Authenticator {
  private readonly secrets: readonly Buffer[];
  private readonly tokenDigests: readonly Buffer[];

  /**
   * `standardWebhooks` checks webhook-signature; by default it holds no key,
   * so such a signature never matches.
   */
  constructor(
    secrets: readonly string[],
    tokens: readonly string[],
    private readonly standardWebhooks = new StandardWebhookVerifier([], {
      toleranceSeconds: DEFAULT_TIMESTAMP_TOLERANCE_SECONDS,
    }),
  ) {
    this.secrets = secrets.map((s) => Buffer.from(s, "utf8"));
    this.tokenDigests = tokens.map(digest);
  }

  /** Whether a token may stand in for a signature. */
  get acceptsTokens(): boolean {
    return this.tokenDigests.length > 0;
  }

  /**
   * Authenticates before any parsing: a Standard Webhooks signature when
   * webhook-signature is present (it alone decides then), else the
   * x-signature metadata over the exact body bytes, else the URL path token,
   * else (when tokens are configured) defers to the body's `token` field.
   * `nowMs` is the clock webhook-timestamp is checked against.
   * @throws IngestError UNAUTHENTICATED with a reason for what was wrong, or
   * FAILED_PRECONDITION when webhook-timestamp is out of tolerance
   */
  authenticate(
    body: Uint8Array,
    metadata: Metadata,
    pathToken: string,
    nowMs: number = Date.now(),
  ): AuthDecision {
    if (metadata.get(WEBHOOK_SIGNATURE_KEY).length > 0) {
      const headers = readStandardWebhookHeaders(metadata);
      this.standardWebhooks.verify(body, headers, nowMs);
      return "standard_webhooks";
    }
    const signatures = metadata.get(SIGNATURE_KEY);
    if (signatures.length > 0) {
      this.verifySignature(body, signatures);
      return "signature";
    }
    if (pathToken !== "") {
      this.verifyToken(pathToken);
      return "path_token";
    }
    if (this.acceptsTokens) return "body_token_pending";
    throw unauthenticated(
      Reason.credentialsMissing,
      `no credentials; sign the body and send ${SIGNATURE_KEY}: sha256=<hex>`,
    );
  }

  /**
   * Settles a pending decision with the body's `token` field.
   * @throws IngestError UNAUTHENTICATED when absent or wrong
   */
  verifyBodyToken(token: string | undefined): AuthMethod {
    if (token === undefined) {
      throw unauthenticated(
        Reason.credentialsMissing,
        "no credentials; put the token in the URL path or in a top-level " +
          '"token" field, or sign the body',
      );
    }
    this.verifyToken(token);
    return "body_token";
  }

  private verifySignature(
    body: Uint8Array,
    values: ReadonlyArray<string | Buffer>,
  ): void {
    const match =
      values.length === 1 && typeof values[0] === "string"
        ? SIGNATURE_FORMAT.exec(values[0])
        : null;
    if (!match) {
      throw unauthenticated(
        Reason.signatureMalformed,
        `${SIGNATURE_KEY} must be one value of the form sha256=<64 hex digits>`,
      );
    }
    const claimed = Buffer.from(match[1], "hex");
    let matched = false;
    for (const secret of this.secrets) {
      const expected = createHmac("sha256", secret).update(body).digest();
      matched = timingSafeEqual(expected, claimed) || matched;
    }
    if (!matched) {
      throw unauthenticated(
        Reason.signatureMismatch,
        "the signature does not match the body under any active secret",
      );
    }
  }

  private verifyToken(token: string): void {
    const claimed = digest(token);
    let matched = false;
    for (const known of this.tokenDigests) {
      matched = timingSafeEqual(known, claimed) || matched;
    }
    if (!matched) {
      throw unauthenticated(Reason.tokenMismatch, "the token is not valid");
    }
  }
}

/** Hashing first gives equal-length buffers whatever the token's length. */
function digest(token: string): Buffer {
  return createHash("sha256").update(token, "utf8").digest();
}

/** Signs `body` with `secret` as the x-signature value. */
export function signBody(body: Uint8Array | string, secret: string): string {
  const hex = createHmac("sha256", secret).update(body).digest("hex");
  return `sha256=${hex}`;
}
