import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { ConfigError, loadConfig } from "../src/config";
import { signStandardWebhook } from "../src/standard-webhooks";
import {
  callGrpc,
  makeAlert,
  postHttp,
  startTestService,
  TOKEN,
  type TestService,
} from "./helpers/harness";

const SW_KEY = Buffer.from("metrics-test-key:0123456789abcdef");
const SW_SECRET = `whsec_${SW_KEY.toString("base64")}`;

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses Prometheus text exposition into samples, comments skipped. */
function parseSamples(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? "").matchAll(
      /(\w+)="((?:[^"\\]|\\.)*)"/g,
    )) {
      labels[pair[1]] = pair[2];
    }
    delete labels.otel_scope_name;
    samples.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return samples;
}

/** The one sample whose label set is exactly `labels`; 0 when absent. */
function valueOf(
  samples: Sample[],
  name: string,
  labels: Record<string, string>,
): number {
  const found = samples.filter(
    (s) =>
      s.name === name &&
      JSON.stringify(Object.entries(s.labels).sort()) ===
        JSON.stringify(Object.entries(labels).sort()),
  );
  assert.ok(found.length <= 1, `${name} ${JSON.stringify(labels)} repeated`);
  return found[0]?.value ?? 0;
}

async function scrape(port: number | undefined): Promise<Sample[]> {
  assert.equal(typeof port, "number");
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  assert.equal(res.status, 200);
  return parseSamples(await res.text());
}

function standardWebhookHeaders(body: string): Record<string, string> {
  const id = `msg_${Math.random().toString(36).slice(2)}`;
  const timestamp = String(Math.floor(Date.now() / 1000));
  return {
    "webhook-id": id,
    "webhook-timestamp": timestamp,
    "webhook-signature": signStandardWebhook(SW_KEY, id, timestamp, body),
  };
}

const REQUESTS = "ingest_requests_total";

/**
 * Eight calls: a signed alert three times (accepted, then two duplicates),
 * one Standard Webhooks alert, one wrong signature, a stale alert twice,
 * and one path-token alert over HTTP.
 */
async function sendMix(svc: TestService): Promise<void> {
  const signed = JSON.stringify(makeAlert());
  await callGrpc(svc.client, signed);
  await callGrpc(svc.client, signed);
  await callGrpc(svc.client, signed);
  const sw = JSON.stringify(makeAlert());
  await callGrpc(svc.client, sw, {
    secret: null,
    metadata: standardWebhookHeaders(sw),
  });
  await callGrpc(svc.client, JSON.stringify(makeAlert()), {
    secret: "wrong-secret-0123456789-abcdefghijklmnop",
  });
  const stale = makeAlert({ timestamp: "2020-01-01T00:00:00Z" });
  await callGrpc(svc.client, JSON.stringify(stale));
  await callGrpc(svc.client, JSON.stringify(stale));
  await postHttp(svc.baseUrl, JSON.stringify(makeAlert()), {
    secret: null,
    path: `/webhook/${TOKEN}`,
  });
}

describe("service metrics", () => {
  let svc: TestService;
  before(async () => {
    svc = await startTestService({
      METRICS_PORT: "0",
      STANDARD_WEBHOOK_SECRETS: SW_SECRET,
    });
    await sendMix(svc);
  });
  after(() => svc.stop());

  it("should count a mix of requests by outcome, reason and auth method", async () => {
    const samples = await scrape(svc.service.metricsPort);
    const grpc = { ingest_transport: "grpc" };
    assert.deepEqual(
      {
        signedAccepted: valueOf(samples, REQUESTS, {
          ...grpc,
          ingest_outcome: "accepted",
          ingest_auth_method: "signature",
        }),
        signedDuplicate: valueOf(samples, REQUESTS, {
          ...grpc,
          ingest_outcome: "duplicate",
          ingest_auth_method: "signature",
        }),
        standardWebhooksAccepted: valueOf(samples, REQUESTS, {
          ...grpc,
          ingest_outcome: "accepted",
          ingest_auth_method: "standard_webhooks",
        }),
        mismatch: valueOf(samples, REQUESTS, {
          ...grpc,
          ingest_outcome: "rejected",
          ingest_reason: "SIGNATURE_MISMATCH",
          ingest_auth_method: "none",
        }),
        stale: valueOf(samples, REQUESTS, {
          ...grpc,
          ingest_outcome: "rejected",
          ingest_reason: "TIMESTAMP_STALE",
          ingest_auth_method: "signature",
        }),
        pathToken: valueOf(samples, REQUESTS, {
          ingest_transport: "http",
          ingest_outcome: "accepted",
          ingest_auth_method: "path_token",
        }),
      },
      {
        signedAccepted: 1,
        signedDuplicate: 2,
        standardWebhooksAccepted: 1,
        mismatch: 1,
        stale: 2,
        pathToken: 1,
      },
    );
    const total = samples
      .filter((s) => s.name === REQUESTS)
      .reduce((sum, s) => sum + s.value, 0);
    assert.equal(total, 8);
  });

  it("should record call and stage durations for every call", async () => {
    const samples = await scrape(svc.service.metricsPort);
    const calls = samples
      .filter((s) => s.name === "rpc_server_call_duration_count")
      .reduce((sum, s) => sum + s.value, 0);
    assert.equal(calls, 8);
    const rpc = {
      ingest_transport: "grpc",
      rpc_system_name: "grpc",
      rpc_method: "tvibkr.ingest.v1.IngestService/Ingest",
    };
    assert.equal(
      valueOf(samples, "rpc_server_call_duration_count", {
        ...rpc,
        rpc_status_code: "FAILED_PRECONDITION",
        error_type: "TIMESTAMP_STALE",
      }),
      2,
    );
    const stage = "ingest_stage_duration_count";
    assert.deepEqual(
      {
        authenticate: valueOf(samples, stage, { ingest_stage: "authenticate" }),
        authenticateFailed: valueOf(samples, stage, {
          ingest_stage: "authenticate",
          error_type: "SIGNATURE_MISMATCH",
        }),
        freshnessFailed: valueOf(samples, stage, {
          ingest_stage: "freshness",
          error_type: "TIMESTAMP_STALE",
        }),
        claim: valueOf(samples, stage, { ingest_stage: "claim" }),
        acknowledge: valueOf(samples, stage, { ingest_stage: "acknowledge" }),
      },
      {
        authenticate: 7,
        authenticateFailed: 1,
        freshnessFailed: 2,
        claim: 5,
        acknowledge: 5,
      },
    );
  });

  it("should report the idempotency store's size and no evictions", async () => {
    const samples = await scrape(svc.service.metricsPort);
    assert.equal(valueOf(samples, "ingest_idempotency_keys", {}), 3);
    assert.equal(
      samples.some((s) => s.name === "ingest_idempotency_evictions_total"),
      true,
    );
    assert.equal(valueOf(samples, "ingest_idempotency_evictions_total", {}), 0);
  });

  it("should answer only GET /metrics on the metrics port", async () => {
    const base = `http://127.0.0.1:${svc.service.metricsPort}`;
    const other = await fetch(`${base}/webhook`);
    assert.equal(other.status, 404);
    assert.equal(await other.text(), "no route; GET /metrics\n");
    const post = await fetch(`${base}/metrics`, { method: "POST" });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get("allow"), "GET, HEAD");
  });
});

describe("service metrics of a full idempotency store", () => {
  let svc: TestService;
  before(
    async () =>
      (svc = await startTestService({
        METRICS_PORT: "0",
        IDEMPOTENCY_MAX_KEYS: "1",
      })),
  );
  after(() => svc.stop());

  it("should count keys dropped before their TTL", async () => {
    await callGrpc(svc.client, JSON.stringify(makeAlert()));
    await callGrpc(svc.client, JSON.stringify(makeAlert()));
    const samples = await scrape(svc.service.metricsPort);
    assert.equal(valueOf(samples, "ingest_idempotency_keys", {}), 1);
    assert.equal(valueOf(samples, "ingest_idempotency_evictions_total", {}), 1);
  });
});

describe("metrics configuration", () => {
  it("should keep the scrape endpoint off unless METRICS_PORT is set", async () => {
    const svc = await startTestService();
    try {
      assert.equal(svc.service.metricsPort, undefined);
    } finally {
      await svc.stop();
    }
  });

  it("should default METRICS_HOST to loopback", () => {
    const config = loadConfig({ WEBHOOK_TOKENS: TOKEN, METRICS_PORT: "9464" });
    assert.deepEqual(
      { host: config.metricsHost, port: config.metricsPort },
      { host: "127.0.0.1", port: 9464 },
    );
  });

  const invalid = [
    { value: "abc", message: 'METRICS_PORT: "abc" is not a whole number' },
    {
      value: "70000",
      message: "METRICS_PORT: 70000 is out of range; allowed 0 to 65535",
    },
  ];
  for (const { value, message } of invalid) {
    it(`should refuse METRICS_PORT=${value}`, () => {
      assert.throws(
        () => loadConfig({ WEBHOOK_TOKENS: TOKEN, METRICS_PORT: value }),
        (err: unknown) => {
          assert.ok(err instanceof ConfigError);
          assert.equal(err.message, message);
          return true;
        },
      );
    });
  }
});
