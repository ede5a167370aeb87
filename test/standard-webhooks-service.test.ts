import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { status as GrpcCode } from "@grpc/grpc-js";

import { ConfigError, loadConfig } from "../src/config";
import { Outcome } from "../src/gen/tvibkr/ingest/v1/ingest";
import {
  decodeWebhookSecret,
  signStandardWebhook,
} from "../src/standard-webhooks";
import {
  callGrpc,
  makeAlert,
  postHttp,
  startTestService,
  type GrpcOutcome,
  type TestService,
} from "./helpers/harness";

/** The specification's published test secret. */
const VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const TEST_SECRET = `whsec_${Buffer.from("sw-test-key:0123456789abcdefghij").toString("base64")}`;
const MISMATCH =
  "webhook-signature: no v1 entry matches the id, timestamp and body under any active secret";

function keyOf(secret: string): Buffer {
  const decoded = decodeWebhookSecret(secret);
  if (!decoded.ok) throw new Error(`test secret refused: ${decoded.problem}`);
  return decoded.key;
}

describe("STANDARD_WEBHOOK_SECRETS", () => {
  const base = { WEBHOOK_SECRETS: "" };

  it("should decode every whsec_ entry", () => {
    const config = loadConfig({
      ...base,
      STANDARD_WEBHOOK_SECRETS: ` ${VECTOR_SECRET} , ${TEST_SECRET} `,
    });
    assert.deepEqual(config.standardWebhookKeys, [
      Buffer.from("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "base64"),
      Buffer.from("sw-test-key:0123456789abcdefghij"),
    ]);
  });

  const short = Buffer.from("only-sixteen-byt").toString("base64");
  const invalid = [
    {
      value: "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
      message: "STANDARD_WEBHOOK_SECRETS: entry 1 must start with whsec_",
    },
    {
      value: `${VECTOR_SECRET},whsec_MfKQ9r8GKYqr!wjUPD8ILPZIo2LaLaSw`,
      message:
        "STANDARD_WEBHOOK_SECRETS: entry 2 is not valid base64 after whsec_; " +
        "use the standard alphabet with = padding",
    },
    {
      value: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw_-",
      message:
        "STANDARD_WEBHOOK_SECRETS: entry 1 is not valid base64 after whsec_; " +
        "use the standard alphabet with = padding",
    },
    {
      value: "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".slice(0, 30),
      message:
        "STANDARD_WEBHOOK_SECRETS: entry 1 is not valid base64 after whsec_; " +
        "use the standard alphabet with = padding",
    },
    {
      value: `whsec_${short}`,
      message:
        "STANDARD_WEBHOOK_SECRETS: entry 1 decodes to 16 bytes; at least 24 are required",
    },
    {
      value: `whsec_${Buffer.alloc(32, 7).toString("base64")}`,
      message:
        "STANDARD_WEBHOOK_SECRETS: entry 1 repeats too few distinct bytes to be secret",
    },
  ];
  for (const { value, message } of invalid) {
    it(`should refuse ${JSON.stringify(value.slice(0, 24))}... at start`, () => {
      assert.throws(
        () => loadConfig({ ...base, STANDARD_WEBHOOK_SECRETS: value }),
        (err: unknown) => {
          assert.ok(err instanceof ConfigError);
          assert.equal(err.message, message);
          return true;
        },
      );
    });
  }

  it("should count as the only credential needed", () => {
    const config = loadConfig({ STANDARD_WEBHOOK_SECRETS: TEST_SECRET });
    assert.equal(config.standardWebhookKeys.length, 1);
    assert.deepEqual(config.webhookSecrets, []);
    assert.deepEqual(config.webhookTokens, []);
  });
});

/** Headers a Standard Webhooks sender would add for `body` now. */
function signedHeaders(
  body: string,
  options: { id?: string; secret?: string; timestamp?: string } = {},
): Record<string, string> {
  const id = options.id ?? `msg_${Math.random().toString(36).slice(2)}`;
  const timestamp = options.timestamp ?? String(Math.floor(Date.now() / 1000));
  const key = keyOf(options.secret ?? TEST_SECRET);
  return {
    "webhook-id": id,
    "webhook-timestamp": timestamp,
    "webhook-signature": signStandardWebhook(key, id, timestamp, body),
  };
}

function failure(result: GrpcOutcome) {
  assert.equal(result.ok, false);
  const { code, reason, message } = result as Extract<
    GrpcOutcome,
    { ok: false }
  >;
  return { code, reason, message };
}

describe("Standard Webhooks end to end", () => {
  let svc: TestService;
  before(
    async () =>
      (svc = await startTestService({ STANDARD_WEBHOOK_SECRETS: TEST_SECRET })),
  );
  after(() => svc.stop());

  it("should accept a signed alert over gRPC, keyed by its webhook-id", async () => {
    const body = JSON.stringify(makeAlert());
    const metadata = signedHeaders(body, { id: "msg_e2e_first" });
    const result = await callGrpc(svc.client, body, { secret: null, metadata });
    assert.equal(result.ok, true);
    const { response } = result as Extract<GrpcOutcome, { ok: true }>;
    assert.equal(response.outcome, Outcome.OUTCOME_ACCEPTED);
    const line = svc.logs
      .forCorrelation(response.correlationId)
      .find((l) => l.event === "ingest.accepted");
    assert.equal(line?.authMethod, "standard_webhooks");
    assert.equal(line?.webhookId, "msg_e2e_first");
  });

  it("should key the same body under another webhook-id apart", async () => {
    const body = JSON.stringify(makeAlert());
    const keys: string[] = [];
    for (const id of ["msg_e2e_a", "msg_e2e_b"]) {
      const metadata = signedHeaders(body, { id });
      const result = await callGrpc(svc.client, body, {
        secret: null,
        metadata,
      });
      assert.equal(result.ok, true);
      const { response } = result as Extract<GrpcOutcome, { ok: true }>;
      assert.equal(response.outcome, Outcome.OUTCOME_ACCEPTED);
      keys.push(response.idempotencyKey);
    }
    assert.notEqual(keys[0], keys[1]);
  });

  it("should answer a redelivery with the same webhook-id as a duplicate", async () => {
    const body = JSON.stringify(makeAlert());
    const first = signedHeaders(body, { id: "msg_e2e_retry" });
    await callGrpc(svc.client, body, { secret: null, metadata: first });
    const retry = signedHeaders(body, { id: "msg_e2e_retry" });
    const result = await callGrpc(svc.client, body, {
      secret: null,
      metadata: retry,
    });
    assert.equal(result.ok, true);
    const { response } = result as Extract<GrpcOutcome, { ok: true }>;
    assert.equal(response.outcome, Outcome.OUTCOME_DUPLICATE);
  });

  it("should refuse a body changed after signing", async () => {
    const body = JSON.stringify(makeAlert());
    const metadata = signedHeaders(body);
    const tampered = body.replace('"10"', '"1000"');
    assert.notEqual(tampered, body);
    const result = await callGrpc(svc.client, tampered, {
      secret: null,
      metadata,
    });
    assert.deepEqual(failure(result), {
      code: GrpcCode.UNAUTHENTICATED,
      reason: "SIGNATURE_MISMATCH",
      message: MISMATCH,
    });
  });

  it("should refuse a stale webhook-timestamp with FAILED_PRECONDITION", async () => {
    const body = JSON.stringify(makeAlert());
    const timestamp = String(Math.floor(Date.now() / 1000) - 3600);
    const metadata = signedHeaders(body, { timestamp });
    const result = await callGrpc(svc.client, body, { secret: null, metadata });
    const { code, reason, message } = failure(result);
    assert.deepEqual(
      { code, reason },
      { code: GrpcCode.FAILED_PRECONDITION, reason: "TIMESTAMP_STALE" },
    );
    assert.match(
      message,
      new RegExp(`^webhook-timestamp: ${timestamp} is 360\\ds older than`),
    );
  });

  it("should refuse an id containing a dot", async () => {
    const body = JSON.stringify(makeAlert());
    const metadata = signedHeaders(body, { id: "msg.dotted" });
    const result = await callGrpc(svc.client, body, { secret: null, metadata });
    assert.deepEqual(failure(result), {
      code: GrpcCode.UNAUTHENTICATED,
      reason: "SIGNATURE_MALFORMED",
      message: 'webhook-id: "msg.dotted" contains "."; ids must not',
    });
  });

  it("should accept the same headers through the HTTP gateway", async () => {
    const body = JSON.stringify(makeAlert());
    const metadata = signedHeaders(body);
    const result = await postHttp(svc.baseUrl, body, {
      secret: null,
      metadata,
    });
    assert.equal(result.status, 200);
    assert.equal(result.json.outcome, "OUTCOME_ACCEPTED");
  });
});
