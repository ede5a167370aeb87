import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";

import {
  createFileRegistry,
  fromBinary,
  toJson,
  type FileRegistry,
  type JsonValue,
} from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import {
  credentials,
  Metadata,
  status as GrpcCode,
  type ServiceError,
} from "@grpc/grpc-js";

import { DEFAULT_MAX_BODY_BYTES } from "../src/config";
import { httpStatusOf } from "../src/errors";
import {
  IngestResponse,
  IngestServiceClient,
  Outcome,
} from "../src/gen/tvibkr/ingest/v1/ingest";
import { INGEST_METHOD } from "../src/pipeline";
import { formatTimestamp } from "../src/time";
import {
  makeAlert,
  ROOT,
  startTestService,
  TOKEN,
  type TestService,
} from "./helpers/harness";

interface DescriptorTool {
  buildIngestDescriptor(out: string): string;
}
const descriptorTool = require(
  join(ROOT, "scripts", "envoy-descriptor.js"),
) as DescriptorTool;

/** The host TradingView posts to, which Envoy passes on as :authority. */
const PUBLIC_HOST = "hooks.example.com";

/** What one TradingView POST looks like once it reaches Envoy. */
interface TradingViewPost {
  path: "/webhook" | `/webhook/${string}`;
  contentType: "application/json" | "text/plain";
  body: Buffer;
}

/** What Envoy adds or passes on, so a test can find it again. */
interface EnvoyStamp {
  requestId: string;
  traceId: string;
  parentSpanId: string;
}

/**
 * The upstream call Envoy's gRPC-JSON transcoder makes for a TradingView
 * POST (Envoy 1.25+, match_incoming_request_route, HttpBody body field):
 * the body byte for byte in HttpBody.data, the original Content-Type in
 * HttpBody.content_type (the request itself becomes application/grpc), the
 * path's {token} in IngestRequest.token, and every request header as
 * metadata, plus what the connection manager, the OpenTelemetry tracer and
 * the transcoder add: x-request-id, x-forwarded-for/-proto,
 * x-envoy-external-address, traceparent, x-envoy-original-path,
 * x-envoy-decorator-operation. TradingView itself sends no custom headers.
 */
function callLikeEnvoy(
  client: IngestServiceClient,
  post: TradingViewPost,
): Promise<{ stamp: EnvoyStamp } & CallResult> {
  const stamp: EnvoyStamp = {
    requestId: randomUUID(),
    traceId: randomBytes(16).toString("hex"),
    parentSpanId: randomBytes(8).toString("hex"),
  };
  const metadata = new Metadata();
  const headers: Record<string, string> = {
    "accept-encoding": "gzip",
    "x-forwarded-proto": "https",
    "x-forwarded-for": "52.89.214.238",
    "x-envoy-external-address": "52.89.214.238",
    "x-request-id": stamp.requestId,
    traceparent: `00-${stamp.traceId}-${stamp.parentSpanId}-01`,
    "x-envoy-original-path": post.path,
    "x-envoy-decorator-operation": INGEST_METHOD,
  };
  for (const [key, value] of Object.entries(headers)) metadata.set(key, value);
  const token = post.path.startsWith("/webhook/")
    ? decodeURIComponent(post.path.slice("/webhook/".length))
    : "";
  const request = {
    body: { contentType: post.contentType, data: post.body, extensions: [] },
    token,
  };
  // The route timeout Envoy enforces (2.5 s) as the call's deadline.
  const deadline = new Date(Date.now() + 2500);
  return new Promise((resolve) => {
    client.ingest(request, metadata, { deadline }, (err, response) => {
      resolve(err ? { stamp, ok: false, err } : { stamp, ok: true, response });
    });
  });
}

type CallResult =
  { ok: true; response: IngestResponse } | { ok: false; err: ServiceError };

function jsonPost(
  alert: Record<string, unknown>,
  path: TradingViewPost["path"],
) {
  return {
    path,
    contentType: "application/json" as const,
    body: Buffer.from(JSON.stringify(alert)),
  };
}

describe("Ingest called the way Envoy's transcoder calls it", () => {
  let test: TestService;
  let client: IngestServiceClient;
  let work: string;
  let registry: FileRegistry;

  before(async () => {
    test = await startTestService();
    client = new IngestServiceClient(
      `127.0.0.1:${test.grpcPort}`,
      credentials.createInsecure(),
      { "grpc.default_authority": PUBLIC_HOST },
    );
    work = mkdtempSync(join(tmpdir(), "envoy-contract-test-"));
    const file = descriptorTool.buildIngestDescriptor(join(work, "d.binpb"));
    const set = fromBinary(FileDescriptorSetSchema, readFileSync(file));
    registry = createFileRegistry(set);
  });

  after(async () => {
    client.close();
    await test.stop();
    rmSync(work, { recursive: true, force: true });
  });

  /** The JSON Envoy prints for a reply (print_options all default). */
  function envoyJson(response: IngestResponse): JsonValue {
    const schema = registry.getMessage("tvibkr.ingest.v1.IngestResponse");
    assert.ok(schema);
    const bytes = IngestResponse.encode(response).finish();
    return toJson(schema, fromBinary(schema, bytes), { registry });
  }

  /** The JSON Envoy prints for an error (convert_grpc_status). */
  function envoyErrorJson(err: ServiceError): JsonValue {
    const schema = registry.getMessage("google.rpc.Status");
    assert.ok(schema);
    const [raw] = err.metadata.get("grpc-status-details-bin");
    assert.ok(Buffer.isBuffer(raw), "no grpc-status-details-bin");
    return toJson(schema, fromBinary(schema, raw), { registry });
  }

  /** The built-in gateway's answer to the same POST. */
  async function gateway(post: TradingViewPost) {
    const res = await fetch(test.baseUrl + post.path, {
      method: "POST",
      headers: { "content-type": post.contentType },
      body: post.body,
    });
    return { status: res.status, json: (await res.json()) as JsonValue };
  }

  it("should accept a path-token alert and reply as the gateway would", async () => {
    const post = jsonPost(makeAlert(), `/webhook/${TOKEN}`);
    const result = await callLikeEnvoy(client, post);
    assert.ok(result.ok, result.ok ? "" : result.err.message);
    assert.equal(result.response.outcome, Outcome.OUTCOME_ACCEPTED);
    assert.deepEqual(
      canonicalTimestamps(envoyJson(result.response)),
      canonicalTimestamps(IngestResponse.toJSON(result.response) as JsonValue),
    );
  });

  it("should print a duplicate's signal as the gateway printed it", async () => {
    const alert = makeAlert();
    const viaGateway = await gateway(jsonPost(alert, `/webhook/${TOKEN}`));
    const result = await callLikeEnvoy(
      client,
      jsonPost(alert, `/webhook/${TOKEN}`),
    );
    assert.ok(result.ok);
    const printed = envoyJson(result.response) as Record<string, JsonValue>;
    const first = viaGateway.json as Record<string, JsonValue>;
    assert.deepEqual(
      [
        printed.signal,
        printed.originalReceivedAt,
        printed.originalCorrelationId,
      ],
      [first.signal, first.receivedAt, first.correlationId],
    );
  });

  it("should continue Envoy's trace from traceparent", async () => {
    const post = jsonPost(makeAlert(), `/webhook/${TOKEN}`);
    const result = await callLikeEnvoy(client, post);
    assert.ok(result.ok);
    assert.equal(result.response.correlationId, result.stamp.traceId);
    const server = test.spans
      .getFinishedSpans()
      .find(
        (s) =>
          s.name === INGEST_METHOD &&
          s.spanContext().traceId === result.stamp.traceId,
      );
    assert.ok(server, "no server span in Envoy's trace");
    assert.equal(server.parentSpanContext?.spanId, result.stamp.parentSpanId);
  });

  it("should log Envoy's x-request-id and never the path token", async () => {
    const post = jsonPost(makeAlert(), `/webhook/${TOKEN}`);
    const result = await callLikeEnvoy(client, post);
    assert.ok(result.ok);
    const lines = test.logs.forCorrelation(result.response.correlationId);
    assert.ok(lines.length > 0);
    for (const line of lines) {
      assert.equal(line.requestId, result.stamp.requestId);
    }
    assert.ok(!test.logs.raw.some((raw) => raw.includes(TOKEN)));
  });

  it("should accept a body token alert sent to /webhook", async () => {
    const post = jsonPost(makeAlert({ token: TOKEN }), "/webhook");
    const result = await callLikeEnvoy(client, post);
    assert.ok(result.ok, result.ok ? "" : result.err.message);
    assert.equal(result.response.outcome, Outcome.OUTCOME_ACCEPTED);
  });

  it("should accept a body exactly as large as Envoy lets through", async () => {
    const text = JSON.stringify(makeAlert());
    const padded = text + " ".repeat(DEFAULT_MAX_BODY_BYTES - text.length);
    const post: TradingViewPost = {
      path: `/webhook/${TOKEN}`,
      contentType: "application/json",
      body: Buffer.from(padded),
    };
    assert.equal(post.body.length, DEFAULT_MAX_BODY_BYTES);
    const result = await callLikeEnvoy(client, post);
    assert.ok(result.ok, result.ok ? "" : result.err.message);
  });

  const rejections: {
    name: string;
    post: () => TradingViewPost;
    code: GrpcCode;
  }[] = [
    {
      name: "a text/plain body that is not JSON",
      post: () => ({
        path: `/webhook/${TOKEN}`,
        contentType: "text/plain",
        body: Buffer.from("BUY AAPL now"),
      }),
      code: GrpcCode.INVALID_ARGUMENT,
    },
    {
      name: "a wrong path token",
      post: () => jsonPost(makeAlert(), `/webhook/${"x".repeat(8)}Wrong123`),
      code: GrpcCode.UNAUTHENTICATED,
    },
    {
      name: "an alert without the required fields",
      post: () => jsonPost({ ticker: "AAPL" }, `/webhook/${TOKEN}`),
      code: GrpcCode.INVALID_ARGUMENT,
    },
  ];

  for (const rejection of rejections) {
    it(`should reject ${rejection.name} as the gateway does`, async () => {
      const post = rejection.post();
      const result = await callLikeEnvoy(client, post);
      assert.ok(!result.ok, "accepted");
      assert.equal(result.err.code, rejection.code);
      const viaEnvoy = withoutCorrelation(envoyErrorJson(result.err));
      const viaGateway = await gateway(post);
      assert.equal(viaGateway.status, httpStatusOf(result.err.code));
      assert.deepEqual(
        viaEnvoy,
        withoutDefaults(withoutCorrelation(viaGateway.json)),
      );
    });
  }

  it("should leave empty fields out of error JSON as Envoy does", async () => {
    const post = rejections[0].post();
    const result = await callLikeEnvoy(client, post);
    assert.ok(!result.ok);
    const viaGateway = await gateway(post);
    assert.deepEqual(
      withoutCorrelation(envoyErrorJson(result.err)),
      withoutCorrelation(viaGateway.json),
    );
  });
});

/** Drops the per-call correlation id so two calls' errors compare. */
function withoutCorrelation(json: JsonValue): JsonValue {
  return JSON.parse(
    JSON.stringify(json, (key, value: unknown) =>
      key === "correlationId" ? "<correlation id>" : value,
    ),
  ) as JsonValue;
}

/**
 * Proto3 JSON leaves out fields at their default value ("" , 0, false,
 * empty lists and maps); Envoy prints replies that way.
 */
function withoutDefaults(json: JsonValue): JsonValue {
  if (Array.isArray(json)) return json.map(withoutDefaults);
  if (json === null || typeof json !== "object") return json;
  const out: Record<string, JsonValue> = {};
  for (const [key, value] of Object.entries(json)) {
    const kept = withoutDefaults(value);
    const empty =
      kept === "" ||
      kept === 0 ||
      kept === false ||
      (Array.isArray(kept) && kept.length === 0) ||
      (kept !== null &&
        typeof kept === "object" &&
        !Array.isArray(kept) &&
        Object.keys(kept).length === 0);
    if (!empty) out[key] = kept;
  }
  return out;
}

/** Timestamps in the one form protobuf's JSON printer uses. */
function canonicalTimestamps(json: JsonValue): JsonValue {
  return JSON.parse(
    JSON.stringify(json, (_key, value: unknown) =>
      typeof value === "string" && RFC3339.test(value)
        ? formatTimestamp(Date.parse(value))
        : value,
    ),
  ) as JsonValue;
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;
