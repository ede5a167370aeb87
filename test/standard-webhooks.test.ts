import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { Metadata, status as GrpcCode } from "@grpc/grpc-js";

import { Authenticator } from "../src/auth";
import { IngestError } from "../src/errors";
import {
  decodeWebhookSecret,
  readStandardWebhookHeaders,
  signStandardWebhook,
  StandardWebhookVerifier,
  type StandardWebhookHeaders,
} from "../src/standard-webhooks";

/** The specification's published test vector. */
const VECTOR = {
  secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
  id: "msg_p5jXN8AQM9LWM0D4loKWxJek",
  timestamp: "1614265330",
  body: '{"test": 2432232314}',
  signature: "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
};
const VECTOR_NOW_MS = Number(VECTOR.timestamp) * 1000;
const TOLERANCE_SECONDS = 30;
const OTHER_SECRET = `whsec_${Buffer.from("sw-other-key:9876543210zyxwvuts").toString("base64")}`;

function keyOf(secret: string): Buffer {
  const decoded = decodeWebhookSecret(secret);
  if (!decoded.ok) throw new Error(`test secret refused: ${decoded.problem}`);
  return decoded.key;
}

function vectorHeaders(
  overrides: Partial<StandardWebhookHeaders> = {},
): StandardWebhookHeaders {
  return {
    id: VECTOR.id,
    timestamp: VECTOR.timestamp,
    signature: VECTOR.signature,
    ...overrides,
  };
}

function verifier(secrets: string[] = [VECTOR.secret]) {
  return new StandardWebhookVerifier(secrets.map(keyOf), {
    toleranceSeconds: TOLERANCE_SECONDS,
  });
}

/** Runs `run` and returns what it threw, failing when it did not throw. */
function thrown(run: () => unknown): IngestError {
  try {
    run();
  } catch (err) {
    assert.ok(err instanceof IngestError, `not an IngestError: ${err}`);
    return err;
  }
  assert.fail("expected an IngestError");
}

function assertError(
  err: IngestError,
  code: GrpcCode,
  reason: string,
  message: string,
): void {
  assert.deepEqual(
    { code: err.code, reason: err.reason, message: err.message },
    { code, reason, message },
  );
}

const MISMATCH =
  "webhook-signature: no v1 entry matches the id, timestamp and body under any active secret";

describe("StandardWebhookVerifier", () => {
  const body = Buffer.from(VECTOR.body);

  it("should sign the published vector as the specification does", () => {
    const signature = signStandardWebhook(
      keyOf(VECTOR.secret),
      VECTOR.id,
      VECTOR.timestamp,
      VECTOR.body,
    );
    assert.equal(signature, VECTOR.signature);
  });

  it("should accept the published vector at its own time", () => {
    const id = verifier().verify(body, vectorHeaders(), VECTOR_NOW_MS);
    assert.equal(id, VECTOR.id);
  });

  const flips = [
    { name: "the padding", signature: VECTOR.signature.slice(0, -1) + "A" },
    {
      name: "unused low bits",
      signature: VECTOR.signature.replace("OE=", "OF="),
    },
    {
      name: "a data character",
      signature: VECTOR.signature.replace("v1,g0h", "v1,h0h"),
    },
  ];
  for (const flip of flips) {
    it(`should refuse the vector with ${flip.name} changed`, () => {
      assert.notEqual(flip.signature, VECTOR.signature);
      const err = thrown(() =>
        verifier().verify(
          body,
          vectorHeaders({ signature: flip.signature }),
          VECTOR_NOW_MS,
        ),
      );
      assertError(
        err,
        GrpcCode.UNAUTHENTICATED,
        "SIGNATURE_MISMATCH",
        MISMATCH,
      );
    });
  }

  it("should refuse the vector when the body changes by one space", () => {
    const err = thrown(() =>
      verifier().verify(
        Buffer.from('{"test":2432232314}'),
        vectorHeaders(),
        VECTOR_NOW_MS,
      ),
    );
    assertError(err, GrpcCode.UNAUTHENTICATED, "SIGNATURE_MISMATCH", MISMATCH);
  });

  it("should accept a matching entry among several, in any position", () => {
    const wrong = "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=";
    const lists = [
      `${wrong} ${VECTOR.signature}`,
      `v1a,hnO3f9T8Ytu9Hw== ${VECTOR.signature} ${wrong}`,
      `v1,not-base64 ${VECTOR.signature}`,
    ];
    for (const signature of lists) {
      const headers = vectorHeaders({ signature });
      assert.equal(
        verifier().verify(body, headers, VECTOR_NOW_MS),
        VECTOR.id,
        signature,
      );
    }
  });

  it("should accept a signature under any configured secret (rotation)", () => {
    const headers = vectorHeaders();
    const rotated = verifier([OTHER_SECRET, VECTOR.secret]);
    assert.equal(rotated.verify(body, headers, VECTOR_NOW_MS), VECTOR.id);
  });

  it("should refuse a good signature when its secret is not configured", () => {
    const err = thrown(() =>
      verifier([OTHER_SECRET]).verify(body, vectorHeaders(), VECTOR_NOW_MS),
    );
    assertError(err, GrpcCode.UNAUTHENTICATED, "SIGNATURE_MISMATCH", MISMATCH);
  });

  it("should refuse a header with no v1 entry", () => {
    const err = thrown(() =>
      verifier().verify(
        body,
        vectorHeaders({ signature: "v1a,abc v2,def" }),
        VECTOR_NOW_MS,
      ),
    );
    assertError(
      err,
      GrpcCode.UNAUTHENTICATED,
      "SIGNATURE_MALFORMED",
      "webhook-signature: no entry of the form v1,<base64>; " +
        "only v1 (HMAC-SHA256) signatures are accepted",
    );
  });

  const badIds = [
    {
      id: "msg.p5jXN8AQM9LWM0D4loKWxJek",
      message:
        'webhook-id: "msg.p5jXN8AQM9LWM0D4loKWxJek" contains "."; ids must not',
    },
    { id: "", message: "webhook-id: 0 characters long; allowed 1 to 256" },
    {
      id: "m".repeat(257),
      message: "webhook-id: 257 characters long; allowed 1 to 256",
    },
  ];
  for (const { id, message } of badIds) {
    it(`should refuse the webhook-id ${JSON.stringify(id.slice(0, 12))}`, () => {
      const err = thrown(() =>
        verifier().verify(body, vectorHeaders({ id }), VECTOR_NOW_MS),
      );
      assertError(
        err,
        GrpcCode.UNAUTHENTICATED,
        "SIGNATURE_MALFORMED",
        message,
      );
    });
  }

  const badTimestamps = [
    "+1614265330",
    "1614265330.5",
    "1614265330abc",
    "-1614265330",
    " 1614265330",
    "1.6e9",
    "",
    "1".repeat(21),
  ];
  for (const timestamp of badTimestamps) {
    it(`should refuse the webhook-timestamp ${JSON.stringify(timestamp)}`, () => {
      const key = keyOf(VECTOR.secret);
      const signature = signStandardWebhook(key, VECTOR.id, timestamp, body);
      const err = thrown(() =>
        verifier().verify(
          body,
          vectorHeaders({ timestamp, signature }),
          VECTOR_NOW_MS,
        ),
      );
      assertError(
        err,
        GrpcCode.UNAUTHENTICATED,
        "SIGNATURE_MALFORMED",
        `webhook-timestamp: ${JSON.stringify(timestamp)} is not allowed; ` +
          "use integer Unix seconds, digits only",
      );
    });
  }

  it("should accept the header timestamp exactly at the tolerance", () => {
    const lateMs = VECTOR_NOW_MS + TOLERANCE_SECONDS * 1000;
    assert.equal(verifier().verify(body, vectorHeaders(), lateMs), VECTOR.id);
    const earlyMs = VECTOR_NOW_MS - TOLERANCE_SECONDS * 1000;
    assert.equal(verifier().verify(body, vectorHeaders(), earlyMs), VECTOR.id);
  });

  it("should refuse a stale header timestamp as the body's is refused", () => {
    const nowMs = VECTOR_NOW_MS + (TOLERANCE_SECONDS + 1) * 1000;
    const err = thrown(() => verifier().verify(body, vectorHeaders(), nowMs));
    assertError(
      err,
      GrpcCode.FAILED_PRECONDITION,
      "TIMESTAMP_STALE",
      "webhook-timestamp: 1614265330 is 31s older than the service clock " +
        "(1614265361); at most 30s is allowed",
    );
  });

  it("should refuse a header timestamp from the future", () => {
    const nowMs = VECTOR_NOW_MS - 3600 * 1000;
    const err = thrown(() => verifier().verify(body, vectorHeaders(), nowMs));
    assertError(
      err,
      GrpcCode.FAILED_PRECONDITION,
      "TIMESTAMP_FUTURE",
      "webhook-timestamp: 1614265330 is 3600s ahead of the service clock " +
        "(1614261730); at most 30s is allowed, check the sender's clock",
    );
  });

  it("should point out a timestamp sent in milliseconds", () => {
    const timestamp = "1614265330000";
    const key = keyOf(VECTOR.secret);
    const signature = signStandardWebhook(key, VECTOR.id, timestamp, body);
    const err = thrown(() =>
      verifier().verify(
        body,
        vectorHeaders({ timestamp, signature }),
        VECTOR_NOW_MS,
      ),
    );
    assert.equal(err.reason, "TIMESTAMP_FUTURE");
    assert.match(
      err.message,
      /; it looks like milliseconds, send whole seconds$/,
    );
  });

  it("should judge a forged signature before a stale timestamp", () => {
    const nowMs = VECTOR_NOW_MS + 3600 * 1000;
    const forged = vectorHeaders({ signature: flips[2].signature });
    const err = thrown(() => verifier().verify(body, forged, nowMs));
    assertError(err, GrpcCode.UNAUTHENTICATED, "SIGNATURE_MISMATCH", MISMATCH);
  });
});

describe("readStandardWebhookHeaders", () => {
  it("should read each header once", () => {
    const metadata = new Metadata();
    metadata.set("webhook-id", VECTOR.id);
    metadata.set("webhook-timestamp", VECTOR.timestamp);
    metadata.set("webhook-signature", VECTOR.signature);
    assert.deepEqual(readStandardWebhookHeaders(metadata), vectorHeaders());
  });

  const cases = [
    {
      name: "a missing webhook-id",
      build: (m: Metadata) => m.set("webhook-timestamp", VECTOR.timestamp),
      message:
        "webhook-id: sent 0 times; exactly one is required with webhook-signature",
    },
    {
      name: "a repeated webhook-timestamp",
      build: (m: Metadata) => {
        m.set("webhook-id", VECTOR.id);
        m.add("webhook-timestamp", VECTOR.timestamp);
        m.add("webhook-timestamp", VECTOR.timestamp);
      },
      message:
        "webhook-timestamp: sent 2 times; exactly one is required with webhook-signature",
    },
  ];
  for (const { name, build, message } of cases) {
    it(`should refuse ${name}`, () => {
      const metadata = new Metadata();
      build(metadata);
      metadata.set("webhook-signature", VECTOR.signature);
      const err = thrown(() => readStandardWebhookHeaders(metadata));
      assertError(
        err,
        GrpcCode.UNAUTHENTICATED,
        "SIGNATURE_MALFORMED",
        message,
      );
    });
  }
});

describe("Authenticator with Standard Webhooks", () => {
  function vectorMetadata(): Metadata {
    const metadata = new Metadata();
    metadata.set("webhook-id", VECTOR.id);
    metadata.set("webhook-timestamp", VECTOR.timestamp);
    metadata.set("webhook-signature", VECTOR.signature);
    return metadata;
  }

  it("should decide by webhook-signature alone when it is present", () => {
    const auth = new Authenticator(["unused-secret"], [], verifier());
    const metadata = vectorMetadata();
    metadata.set("x-signature", "sha256=" + "0".repeat(64));
    const body = Buffer.from(VECTOR.body);
    const decision = auth.authenticate(body, metadata, "", VECTOR_NOW_MS);
    assert.equal(decision, "standard_webhooks");
  });

  it("should refuse webhook-signature when no Standard Webhooks secret is set", () => {
    const auth = new Authenticator(["unused-secret"], ["unused-token"]);
    const body = Buffer.from(VECTOR.body);
    const err = thrown(() =>
      auth.authenticate(body, vectorMetadata(), "", VECTOR_NOW_MS),
    );
    assertError(err, GrpcCode.UNAUTHENTICATED, "SIGNATURE_MISMATCH", MISMATCH);
  });
});
