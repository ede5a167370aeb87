import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { credentials, status as GrpcCode } from "@grpc/grpc-js";

import { startService } from "../src/app";
import { loadConfig } from "../src/config";
import {
  IngestServiceClient,
  Outcome,
  Signal,
} from "../src/gen/tvibkr/ingest/v1/ingest";
import type { IdempotencyStore } from "../src/idempotency";
import { createLogger } from "../src/logger";
import {
  callGrpc,
  httpReason,
  LogCapture,
  makeAlert,
  OLD_SECRET,
  postHttp,
  SECRET,
  startTestService,
  TOKEN,
  type TestService,
} from "./helpers/harness";

describe("IngestService over gRPC", () => {
  let svc: TestService;
  before(async () => (svc = await startTestService()));
  after(() => svc.stop());

  it("should accept a signed alert and return the normalized signal", async () => {
    const alert = makeAlert({ action: "SELL", quantity: "1194.6000000000001" });
    const result = await callGrpc(svc.client, JSON.stringify(alert));
    assert.equal(result.ok, true);
    const { response } = result as Extract<typeof result, { ok: true }>;
    assert.equal(response.outcome, Outcome.OUTCOME_ACCEPTED);
    assert.match(response.idempotencyKey, /^[0-9a-f]{64}$/);
    assert.match(response.correlationId, /^[0-9a-f]{32}$/);
    assert.equal(response.signal?.action, "sell");
    assert.equal(response.signal?.quantity, "1194.6000000000001");
    assert.equal(response.signal?.orderType, "market");
    assert.equal(response.signal?.timeInForce, "day");
    assert.equal(response.originalCorrelationId, "");
  });

  it("should answer a resend DUPLICATE with the first call's correlation id", async () => {
    const body = JSON.stringify(makeAlert());
    const first = await callGrpc(svc.client, body);
    const second = await callGrpc(svc.client, body);
    assert.equal(first.ok && second.ok, true);
    const a = (first as Extract<typeof first, { ok: true }>).response;
    const b = (second as Extract<typeof second, { ok: true }>).response;
    assert.equal(b.outcome, Outcome.OUTCOME_DUPLICATE);
    assert.equal(b.idempotencyKey, a.idempotencyKey);
    assert.equal(b.originalCorrelationId, a.correlationId);
    assert.equal(b.originalReceivedAt, a.receivedAt);
    assert.notEqual(b.correlationId, a.correlationId);
  });

  it("should give the same key whatever the whitespace and key order", async () => {
    const alert = makeAlert();
    const reordered = Object.fromEntries(Object.entries(alert).reverse());
    const first = await callGrpc(svc.client, JSON.stringify(alert));
    const second = await callGrpc(
      svc.client,
      `\uFEFF  ${JSON.stringify(reordered, null, 2)}\n`,
    );
    assert.deepEqual(
      second.ok && second.response.outcome,
      Outcome.OUTCOME_DUPLICATE,
    );
    assert.equal(
      first.ok && first.response.idempotencyKey,
      second.ok && second.response.idempotencyKey,
    );
  });

  it("should accept exactly one of many identical concurrent calls", async () => {
    const body = JSON.stringify(makeAlert());
    const results = await Promise.all(
      Array.from({ length: 50 }, () => callGrpc(svc.client, body)),
    );
    const outcomes = results.map((r) => (r.ok ? r.response.outcome : r.code));
    const accepted = outcomes.filter((o) => o === Outcome.OUTCOME_ACCEPTED);
    const duplicates = outcomes.filter((o) => o === Outcome.OUTCOME_DUPLICATE);
    assert.equal(accepted.length, 1);
    assert.equal(duplicates.length, 49);
    const winner = results.find(
      (r) => r.ok && r.response.outcome === Outcome.OUTCOME_ACCEPTED,
    );
    const firstId = winner?.ok ? winner.response.correlationId : "";
    for (const r of results) {
      const original = r.ok ? r.response.originalCorrelationId : "?";
      assert.ok(original === "" || original === firstId);
    }
  });

  it("should accept a signature made with a rotated-out secret still active", async () => {
    const result = await callGrpc(svc.client, JSON.stringify(makeAlert()), {
      secret: OLD_SECRET,
    });
    assert.equal(
      result.ok && result.response.outcome,
      Outcome.OUTCOME_ACCEPTED,
    );
  });

  it("should accept the token from the request's token field", async () => {
    const result = await callGrpc(svc.client, JSON.stringify(makeAlert()), {
      secret: null,
      token: TOKEN,
    });
    assert.equal(
      result.ok && result.response.outcome,
      Outcome.OUTCOME_ACCEPTED,
    );
  });

  it("should accept the token from the body and never echo it", async () => {
    const result = await callGrpc(
      svc.client,
      JSON.stringify(makeAlert({ token: TOKEN })),
      { secret: null, contentType: "text/plain; charset=utf-8" },
    );
    assert.equal(
      result.ok && result.response.outcome,
      Outcome.OUTCOME_ACCEPTED,
    );
    assert.equal(JSON.stringify(result).includes(TOKEN), false);
  });

  const rejections: {
    name: string;
    body: string;
    options?: Parameters<typeof callGrpc>[2];
    code: GrpcCode;
    reason: string;
    fields?: string[];
  }[] = [
    {
      name: "no credentials at all",
      body: JSON.stringify(makeAlert()),
      options: { secret: null },
      code: GrpcCode.UNAUTHENTICATED,
      reason: "CREDENTIALS_MISSING",
    },
    {
      name: "a wrong signature",
      body: JSON.stringify(makeAlert()),
      options: { secret: "another-secret-that-is-long-enough-1234" },
      code: GrpcCode.UNAUTHENTICATED,
      reason: "SIGNATURE_MISMATCH",
    },
    {
      name: "a malformed signature",
      body: JSON.stringify(makeAlert()),
      options: { secret: null, metadata: { "x-signature": "sha1=abc" } },
      code: GrpcCode.UNAUTHENTICATED,
      reason: "SIGNATURE_MALFORMED",
    },
    {
      name: "a wrong path token",
      body: JSON.stringify(makeAlert()),
      options: { secret: null, token: "not-the-token-at-all-xxxxx" },
      code: GrpcCode.UNAUTHENTICATED,
      reason: "TOKEN_MISMATCH",
    },
    {
      name: "a body token relied on in an unparseable body",
      body: `{"ticker": ACME, "token": "${TOKEN}"}`,
      options: { secret: null },
      code: GrpcCode.UNAUTHENTICATED,
      reason: "TOKEN_UNREADABLE",
    },
    {
      name: "a body token that is wrong, before any payload error",
      body: JSON.stringify({ bogus: 1, token: "wrong-token-value-xxxxxxxx" }),
      options: { secret: null },
      code: GrpcCode.UNAUTHENTICATED,
      reason: "TOKEN_MISMATCH",
    },
    {
      name: "an unknown field",
      body: JSON.stringify(makeAlert({ side: "long" })),
      code: GrpcCode.INVALID_ARGUMENT,
      reason: "UNKNOWN_FIELD",
      fields: ["side"],
    },
    {
      name: "an unfilled placeholder",
      body: JSON.stringify(
        makeAlert({ quantity: "{{strategy.order.contracts}}" }),
      ),
      code: GrpcCode.INVALID_ARGUMENT,
      reason: "PLACEHOLDER_UNFILLED",
      fields: ["quantity"],
    },
    {
      name: "several invalid fields",
      body: JSON.stringify(makeAlert({ action: "hold", quantity: 0 })),
      code: GrpcCode.INVALID_ARGUMENT,
      reason: "FIELD_INVALID",
      fields: ["action", "quantity"],
    },
    {
      name: "a stale timestamp",
      body: JSON.stringify(makeAlert({ timestamp: "2026-01-05T14:00:00Z" })),
      code: GrpcCode.FAILED_PRECONDITION,
      reason: "TIMESTAMP_STALE",
    },
  ];

  for (const row of rejections) {
    it(`should refuse ${row.name}`, async () => {
      const result = await callGrpc(svc.client, row.body, row.options);
      assert.equal(result.ok, false);
      const error = result as Extract<typeof result, { ok: false }>;
      assert.deepEqual(
        {
          code: error.code,
          reason: error.reason,
          fields: error.violations.map((v) => v.field),
        },
        { code: row.code, reason: row.reason, fields: row.fields ?? [] },
      );
      assert.match(error.correlationId ?? "", /^[0-9a-f]{32}$/);
    });
  }

  it("should say which field, what was wrong and what is allowed", async () => {
    const result = await callGrpc(
      svc.client,
      JSON.stringify(makeAlert({ action: "hold" })),
    );
    assert.equal(result.ok, false);
    const error = result as Extract<typeof result, { ok: false }>;
    assert.equal(
      error.message,
      'action: "hold" is not allowed; ' +
        "allowed: buy or sell, in any case ({{strategy.order.action}})",
    );
  });

  it("should hint at {{time}} when the timestamp is a bar's open time", async () => {
    const result = await callGrpc(
      svc.client,
      JSON.stringify(makeAlert({ timestamp: "2026-01-05T14:00:00Z" })),
    );
    assert.equal(result.ok, false);
    const error = result as Extract<typeof result, { ok: false }>;
    assert.match(error.message, /\{\{time\}\}.*\{\{timenow\}\}/);
  });
});

describe("HTTP gateway", () => {
  let svc: TestService;
  before(async () => (svc = await startTestService()));
  after(() => svc.stop());

  it("should give the same outcome as gRPC for the same alert", async () => {
    const cases = [
      { alert: makeAlert(), secret: SECRET },
      { alert: makeAlert({ quantity: -1 }), secret: SECRET },
      { alert: makeAlert(), secret: "a-different-secret-that-is-long-9876" },
      { alert: makeAlert({ timestamp: 1000000000000 }), secret: SECRET },
    ];
    for (const { alert, secret } of cases) {
      const body = JSON.stringify(alert);
      const grpc = await callGrpc(svc.client, body, { secret });
      const http = await postHttp(svc.baseUrl, body, { secret });
      const grpcView = grpc.ok
        ? {
            code: 0,
            key: grpc.response.idempotencyKey,
            signal: sameInstant(Signal.toJSON(grpc.response.signal!)),
          }
        : { code: grpc.code, reason: grpc.reason };
      const httpView =
        http.status === 200
          ? {
              code: 0,
              key: http.json.idempotencyKey,
              signal: sameInstant(http.json.signal),
            }
          : { code: http.json.code, reason: httpReason(http.json) };
      assert.deepEqual(httpView, grpcView);
      // Both doors share one store: what gRPC accepted, HTTP sees again.
      assert.equal(
        http.json.outcome ?? "none",
        grpc.ok ? "OUTCOME_DUPLICATE" : "none",
      );
    }
  });

  it("should accept a TradingView-style post with the path token", async () => {
    const res = await postHttp(svc.baseUrl, JSON.stringify(makeAlert()), {
      secret: null,
      path: `/webhook/${TOKEN}`,
    });
    assert.equal(res.status, 200);
    assert.equal(res.json.outcome, "OUTCOME_ACCEPTED");
    assert.equal(JSON.stringify(res.json).includes(TOKEN), false);
  });

  it("should map error codes to HTTP statuses as Envoy does", async () => {
    const unauthenticated = await postHttp(svc.baseUrl, "{}", { secret: null });
    const invalid = await postHttp(svc.baseUrl, "[]");
    const stale = await postHttp(
      svc.baseUrl,
      JSON.stringify(makeAlert({ timestamp: "2025-01-01T00:00:00Z" })),
    );
    assert.deepEqual(
      [unauthenticated.status, invalid.status, stale.status],
      [401, 400, 400],
    );
    assert.deepEqual(invalid.json.details, [
      {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        reason: "BODY_NOT_OBJECT",
        domain: "tv-ibkr-ingest",
        metadata: {
          correlationId: (
            invalid.json.details as { metadata: { correlationId: string } }[]
          )[0].metadata.correlationId,
        },
      },
      {
        "@type": "type.googleapis.com/google.rpc.BadRequest",
        fieldViolations: [
          {
            description:
              "the body must be one JSON object such as " +
              '{"ticker": "AAPL"}, but it starts with \'[\' (an array)',
          },
        ],
      },
    ]);
  });

  it("should answer 404, 405 and 413 for what it does not serve", async () => {
    const notFound = await fetch(`${svc.baseUrl}/nope`, { method: "POST" });
    const wrongMethod = await fetch(`${svc.baseUrl}/webhook`);
    const tooLarge = await postHttp(svc.baseUrl, "x".repeat(16 * 1024 + 1));
    assert.deepEqual(
      [notFound.status, wrongMethod.status, tooLarge.status],
      [404, 405, 413],
    );
    assert.equal(wrongMethod.headers.get("allow"), "POST");
    assert.equal(httpReason(tooLarge.json), "BODY_TOO_LARGE");
    const logged = svc.logs.lines
      .filter((l) => l.event === "gateway.rejected")
      .map((l) => [l.reason, l.httpStatus]);
    assert.deepEqual(logged, [
      ["ROUTE_NOT_FOUND", 404],
      ["METHOD_NOT_ALLOWED", 405],
      ["BODY_TOO_LARGE", 413],
    ]);
  });

  it("should answer /health and /ready from the health service", async () => {
    const health = await fetch(`${svc.baseUrl}/health`);
    const ready = await fetch(`${svc.baseUrl}/ready`);
    assert.deepEqual(
      [health.status, await health.json(), ready.status, await ready.json()],
      [200, { status: "SERVING" }, 200, { status: "SERVING" }],
    );
  });

  it("should pass headers on as metadata and add an x-request-id", async () => {
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const traced = await postHttp(svc.baseUrl, JSON.stringify(makeAlert()), {
      metadata: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
    });
    const plain = await postHttp(svc.baseUrl, JSON.stringify(makeAlert()));
    assert.equal(traced.json.correlationId, traceId);
    const line = svc.logs.forCorrelation(plain.json.correlationId as string)[0];
    assert.match(String(line.requestId), /^[0-9a-f-]{36}$/);
  });
});

/** Timestamps compared as instants: "…:52Z" and "…:52.000Z" are one time. */
function sameInstant(signal: unknown): Record<string, unknown> {
  const value = signal as Record<string, unknown>;
  return { ...value, timestamp: Date.parse(String(value.timestamp)) };
}

describe("IngestService when the store fails", () => {
  it("should answer INTERNAL without the cause and keep serving", async () => {
    const failing: IdempotencyStore = {
      size: 0,
      claim: () => Promise.reject(new Error("store down: secret detail")),
    };
    const logs = new LogCapture();
    const config = loadConfig({
      GRPC_PORT: "0",
      HTTP_ENABLED: "false",
      WEBHOOK_SECRETS: SECRET,
    });
    const service = await startService(config, createLogger("info", logs), {
      store: failing,
      env: {},
    });
    const client = new IngestServiceClient(
      `127.0.0.1:${service.grpcPort}`,
      credentials.createInsecure(),
    );
    const first = await callGrpc(client, JSON.stringify(makeAlert()));
    const second = await callGrpc(client, JSON.stringify(makeAlert()));
    client.close();
    await service.shutdown();
    for (const result of [first, second]) {
      assert.equal(result.ok, false);
      const error = result as Extract<typeof result, { ok: false }>;
      assert.deepEqual(
        [error.code, error.reason],
        [GrpcCode.INTERNAL, "INTERNAL"],
      );
      assert.equal(error.message.includes("secret detail"), false);
    }
    const logged = logs.lines.filter((l) => l.reason === "INTERNAL");
    assert.equal(logged.length, 2);
    assert.equal(logged[0].level, "error");
  });
});
