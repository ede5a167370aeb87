import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { SpanKind } from "@opentelemetry/api";

import { signBody } from "../src/auth";
import {
  callGrpc,
  makeAlert,
  postHttp,
  SECRET,
  startTestService,
  TOKEN,
  type TestService,
} from "./helpers/harness";

const TRACE_ID = "0af7651916cd43dd8448eb211c80319c";
const PARENT_SPAN_ID = "b7ad6b7169203331";

describe("tracing and logs", () => {
  let svc: TestService;
  before(async () => (svc = await startTestService()));
  after(() => svc.stop());

  it("should make each call a server span with a child span per stage", async () => {
    const result = await callGrpc(svc.client, JSON.stringify(makeAlert()));
    assert.equal(result.ok, true);
    const traceId = result.ok ? result.response.correlationId : "";
    const spans = svc.spans
      .getFinishedSpans()
      .filter((s) => s.spanContext().traceId === traceId);
    const server = spans.find((s) => s.kind === SpanKind.SERVER);
    assert.equal(server?.name, "tvibkr.ingest.v1.IngestService/Ingest");
    const children = spans
      .filter(
        (s) => s.parentSpanContext?.spanId === server?.spanContext().spanId,
      )
      .map((s) => s.name);
    assert.deepEqual(children, [
      "ingest.authenticate",
      "ingest.parse",
      "ingest.freshness",
      "ingest.claim",
      "ingest.acknowledge",
    ]);
  });

  it("should continue an incoming W3C trace and use its id as correlation id", async () => {
    const result = await callGrpc(svc.client, JSON.stringify(makeAlert()), {
      metadata: { traceparent: `00-${TRACE_ID}-${PARENT_SPAN_ID}-01` },
    });
    assert.equal(result.ok && result.response.correlationId, TRACE_ID);
    const server = svc.spans
      .getFinishedSpans()
      .find(
        (s) =>
          s.spanContext().traceId === TRACE_ID && s.kind === SpanKind.SERVER,
      );
    assert.equal(server?.parentSpanContext?.spanId, PARENT_SPAN_ID);
  });

  it("should end a stage span in error with the reason when it refuses", async () => {
    const result = await callGrpc(svc.client, "{}", { secret: null });
    assert.equal(result.ok, false);
    const traceId = result.ok ? "" : result.correlationId;
    const parse = svc.spans
      .getFinishedSpans()
      .find(
        (s) => s.spanContext().traceId === traceId && s.name === "ingest.parse",
      );
    assert.deepEqual(parse?.status, {
      code: 2,
      message: "CREDENTIALS_MISSING",
    });
  });

  it("should write one line per request with the correlation and request ids", async () => {
    const res = await postHttp(svc.baseUrl, JSON.stringify(makeAlert()), {
      metadata: { "x-request-id": "req-123" },
    });
    const lines = svc.logs.forCorrelation(String(res.json.correlationId));
    assert.equal(lines.length, 1);
    const line = lines[0];
    assert.deepEqual(
      {
        requestId: line.requestId,
        outcome: line.outcome,
        grpcCode: line.grpcCode,
        ticker: line.ticker,
        action: line.action,
        authMethod: line.authMethod,
        hasDuration: typeof line.durationMs === "number",
      },
      {
        requestId: "req-123",
        outcome: "accepted",
        grpcCode: 0,
        ticker: "AAPL",
        action: "buy",
        authMethod: "signature",
        hasDuration: true,
      },
    );
  });

  it("should log the reason and code of a rejection", async () => {
    const result = await callGrpc(svc.client, JSON.stringify(makeAlert()), {
      secret: "some-other-secret-of-enough-length-42",
    });
    const correlationId = result.ok ? "" : result.correlationId;
    const [line] = svc.logs.forCorrelation(correlationId ?? "");
    assert.deepEqual(
      [line.outcome, line.reason, line.grpcCode],
      ["rejected", "SIGNATURE_MISMATCH", 16],
    );
  });

  it("should never log a secret, token or signature", async () => {
    const body = JSON.stringify(makeAlert({ token: TOKEN }));
    await postHttp(svc.baseUrl, body, { secret: null });
    await postHttp(svc.baseUrl, JSON.stringify(makeAlert()), {
      secret: null,
      path: `/webhook/${TOKEN}`,
    });
    await postHttp(svc.baseUrl, JSON.stringify(makeAlert()), {
      secret: null,
      path: "/webhook/wrong-token-guess-xxxxxxxxxx",
    });
    const signed = JSON.stringify(makeAlert());
    await postHttp(svc.baseUrl, signed);
    const signature = signBody(signed, SECRET).slice("sha256=".length);
    const everything = svc.logs.raw.join("\n");
    for (const secret of [SECRET, TOKEN, signature, "wrong-token-guess"]) {
      assert.equal(everything.includes(secret), false, `leaked ${secret}`);
    }
  });
});
