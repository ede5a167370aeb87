import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { credentials, status as GrpcCode } from "@grpc/grpc-js";

import { startService, type RunningService } from "../src/app";
import { signBody } from "../src/auth";
import { loadConfig } from "../src/config";
import { IngestServiceClient } from "../src/gen/tvibkr/ingest/v1/ingest";
import { MemoryIdempotencyStore } from "../src/idempotency";
import { createLogger } from "../src/logger";
import {
  dribble,
  GatedStore,
  openRaw,
  requestHead,
  WatchedLogs,
} from "./helpers/fault-tools";
import {
  callGrpc,
  createSignedRequest,
  createTestEnv,
  httpReason,
  makeAlert,
  postHttp,
  SECRET,
  startTestService,
  type TestService,
} from "./helpers/harness";

const REQUEST_TIMEOUT_MS = 1000;
/**
 * Node checks request timeouts every 250 ms; the slack absorbs a loaded
 * machine, and is still far below the DRIBBLE_MS a held client would take.
 */
const CUT_OFF_WITHIN_MS = REQUEST_TIMEOUT_MS + 2 * 250 + 1500;
/** One byte every this often: a 150-byte request would take 7.5 s. */
const DRIBBLE_INTERVAL_MS = 50;

describe("Ingest under faults", () => {
  const store = new GatedStore();
  const logs = new WatchedLogs();
  let service: RunningService;
  let client: IngestServiceClient;
  let baseUrl: string;

  before(async () => {
    const config = loadConfig(
      createTestEnv({ HTTP_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS) }),
    );
    const logger = createLogger(config.logLevel, logs);
    service = await startService(config, logger, { store, env: {} });
    client = new IngestServiceClient(
      `127.0.0.1:${service.grpcPort}`,
      credentials.createInsecure(),
    );
    baseUrl = `http://127.0.0.1:${service.httpPort}`;
  });
  after(() => {
    client.close();
    return service.shutdown();
  });

  /** The log line of the call that accepted `key`. */
  const acceptedLine = (key: string) =>
    logs.waitFor(
      (l) => l.event === "ingest.accepted" && l.idempotencyKey === key,
    );

  it("should cut off a client that sends the body one byte at a time", async () => {
    const body = Buffer.from(JSON.stringify(makeAlert()));
    const slow = await openRaw(service.httpPort ?? 0);
    const head = requestHead(body, { "x-signature": signBody(body, SECRET) });
    slow.socket.write(head);
    const sending = dribble(slow, body, DRIBBLE_INTERVAL_MS);
    const other = await postHttp(baseUrl, JSON.stringify(makeAlert()));
    assert.equal(other.json.outcome, "OUTCOME_ACCEPTED");
    assert.equal(slow.socket.destroyed, false, "cut off before others ran");
    const elapsedMs = await slow.closed;
    const sent = await sending;
    assert.ok(elapsedMs < CUT_OFF_WITHIN_MS, `closed after ${elapsedMs} ms`);
    assert.ok(sent < body.length, `all ${sent} bytes were read`);
    assert.match(slow.received(), /^HTTP\/1\.1 408 /);
    const json = JSON.parse(slow.received().split("\r\n\r\n")[1]);
    assert.deepEqual([json.code, httpReason(json)], [4, "REQUEST_TIMEOUT"]);
  });

  it("should cut off a client that sends its headers one byte at a time", async () => {
    const body = Buffer.from(JSON.stringify(makeAlert()));
    const slow = await openRaw(service.httpPort ?? 0);
    const head = requestHead(body, { "x-signature": signBody(body, SECRET) });
    const sending = dribble(slow, Buffer.from(head), DRIBBLE_INTERVAL_MS);
    const elapsedMs = await slow.closed;
    assert.ok(elapsedMs < CUT_OFF_WITHIN_MS, `closed after ${elapsedMs} ms`);
    assert.ok((await sending) < head.length);
    assert.match(slow.received(), /^HTTP\/1\.1 408 /);
  });

  it("should leave the signal unclaimed when the client disconnects mid-body", async () => {
    const text = JSON.stringify(makeAlert());
    const body = Buffer.from(text);
    const raw = await openRaw(service.httpPort ?? 0);
    raw.socket.write(
      requestHead(body, { "x-signature": signBody(body, SECRET) }),
    );
    raw.socket.write(body.subarray(0, body.length >> 1));
    raw.socket.destroy();
    await raw.closed;
    const retry = await postHttp(baseUrl, text);
    assert.equal(retry.json.outcome, "OUTCOME_ACCEPTED");
    const key = retry.json.idempotencyKey as string;
    const lines = logs.lines.filter((l) => l.idempotencyKey === key);
    assert.equal(lines.length, 1);
  });

  it("should claim once when a gRPC client cancels during the claim", async () => {
    const body = JSON.stringify(makeAlert());
    store.hold();
    const arrived = store.nextArrival();
    const { request, metadata } = createSignedRequest(Buffer.from(body));
    const ended = new Promise<number>((resolve) => {
      const call = client.ingest(request, metadata, (err) =>
        resolve(err?.code ?? GrpcCode.OK),
      );
      void arrived.then(() => call.cancel());
    });
    const key = await arrived;
    assert.equal(await ended, GrpcCode.CANCELLED);
    store.release();
    await assertClaimedOnce(key, body);
  });

  it("should claim once when the deadline expires during the claim", async () => {
    const body = JSON.stringify(makeAlert());
    store.hold();
    const arrived = store.nextArrival();
    const call = callGrpc(client, body, { deadlineMs: 300 });
    const key = await arrived;
    const result = await call;
    assert.equal(result.ok ? "OK" : result.code, GrpcCode.DEADLINE_EXCEEDED);
    store.release();
    await assertClaimedOnce(key, body);
  });

  it("should claim once when an HTTP client disconnects during the claim", async () => {
    const text = JSON.stringify(makeAlert());
    const body = Buffer.from(text);
    store.hold();
    const arrived = store.nextArrival();
    const raw = await openRaw(service.httpPort ?? 0);
    raw.socket.write(
      requestHead(body, { "x-signature": signBody(body, SECRET) }),
    );
    raw.socket.write(body);
    const key = await arrived;
    raw.socket.destroy();
    await raw.closed;
    store.release();
    await assertClaimedOnce(key, text);
  });

  /**
   * The call that was cut off claimed the signal and logged it as accepted
   * exactly once; a resend is answered DUPLICATE pointing back to it.
   */
  async function assertClaimedOnce(key: string, body: string) {
    const first = await acceptedLine(key);
    const retry = await callGrpc(client, body);
    assert.equal(retry.ok && retry.response.outcome, 2);
    assert.equal(
      retry.ok && retry.response.originalCorrelationId,
      first.correlationId,
    );
    const accepted = logs.lines.filter(
      (l) => l.event === "ingest.accepted" && l.idempotencyKey === key,
    );
    assert.equal(accepted.length, 1);
  }

  it("should stay ready and shut down without cutting any call off", async () => {
    const ready = await fetch(`${baseUrl}/ready`);
    assert.equal(ready.status, 200);
    await service.shutdown();
    const cut = logs.lines.filter((l) => /drain deadline/.test(String(l.msg)));
    assert.deepEqual(cut, []);
  });
});

describe("Ingest under a burst of identical requests", () => {
  let svc: TestService;
  before(async () => (svc = await startTestService()));
  after(() => svc.stop());

  it("should accept exactly one of 200 concurrent identical requests", async () => {
    const body = JSON.stringify(makeAlert());
    const calls = Array.from({ length: 200 }, (_, i) =>
      i % 2 === 0
        ? callGrpc(svc.client, body).then((r) =>
            r.ok ? r.response : undefined,
          )
        : postHttp(svc.baseUrl, body).then((r) => r.json),
    );
    const replies = await Promise.all(calls);
    const outcomes = replies.map((r) => String(r?.outcome));
    const accepted = outcomes.filter((o) => /ACCEPTED|^1$/.test(o));
    assert.equal(accepted.length, 1);
    const winner = replies.find((r) => /ACCEPTED|^1$/.test(String(r?.outcome)));
    const originals = new Set(
      replies.filter((r) => r !== winner).map((r) => r?.originalCorrelationId),
    );
    assert.deepEqual([...originals], [winner?.correlationId]);
  });
});

describe("MemoryIdempotencyStore under millions of keys", () => {
  it("should never hold more than maxKeys and report early evictions by count", () => {
    const maxKeys = 100_000;
    const total = 2_000_000;
    const reports: number[] = [];
    const store = new MemoryIdempotencyStore({
      ttlMs: 24 * 60 * 60 * 1000,
      maxKeys,
      onEarlyEviction: (count) => reports.push(count),
    });
    const claim = { correlationId: "c", receivedAtMs: 0 };
    let largest = 0;
    for (let i = 0; i < total; i++) {
      store.claimNow(`key-${i}`, claim, 0);
      if (store.size > largest) largest = store.size;
    }
    assert.equal(largest, maxKeys);
    assert.deepEqual(reports, [1]);
    store.claimNow("one-more", claim, 60_000);
    assert.deepEqual(reports, [1, total - maxKeys]);
  });
});

describe("the service when its idempotency store is full", () => {
  it("should warn once with a count when keys are dropped before their TTL", async () => {
    const svc = await startTestService({ IDEMPOTENCY_MAX_KEYS: "50" });
    try {
      for (let i = 0; i < 60; i++) {
        const result = await callGrpc(svc.client, JSON.stringify(makeAlert()));
        assert.equal(result.ok && result.response.outcome, 1);
      }
    } finally {
      await svc.stop();
    }
    const warnings = svc.logs.lines.filter((l) => "evictedBeforeTtl" in l);
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0].level, "warn");
    assert.equal(warnings[0].evictedBeforeTtl, 1);
    assert.equal(warnings[0].maxKeys, 50);
  });
});
