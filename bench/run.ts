import { writeFileSync, mkdtempSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";

import {
  createAlertBody,
  createCredentials,
  frameIngestRequest,
  signatureOf,
} from "./alerts";
import { hasH2load, runLoad, type LoadResult, type LoadSpec } from "./load";
import { runChild, startServer, type BenchServer } from "./servers";
import type { Percentiles } from "./stats";

/**
 * `npm run bench`: every figure of docs/benchmarks.md in one run, printed
 * as one Markdown table. Each server and each load generator runs in its
 * own process; every load is a fixed number of requests, so the run stops
 * by itself (about two minutes on 2 cores).
 */
const WARMUP_REQUESTS = 3_000;
const LOAD_REQUESTS = 30_000;
const GRPC_SHAPE = { connections: 8, streamsPerConnection: 8, h1: false };
const HTTP_SHAPE = { connections: 64, streamsPerConnection: 1, h1: true };
const INGEST_PATH = "/tvibkr.ingest.v1.IngestService/Ingest";
const GRPC_HEADERS = ["content-type: application/grpc", "te: trailers"];

interface PipelineCost {
  samples: number;
  bodyBytes: number;
  hmac: Percentiles;
  pipeline: Percentiles;
  parseValidate: Percentiles;
  key: Percentiles;
}

interface Burst {
  count: number;
  accepted: number;
  slowestMs: number;
  median: number;
  p99: number;
}

interface Memory {
  keys: number;
  rssBeforeBytes: number;
  rssAfterBytes: number;
  bytesPerKey: number;
}

const workDir = mkdtempSync(join(tmpdir(), "ingest-bench-"));
const credentials = createCredentials();

/** Writes a fresh, signed alert (and its gRPC framing) for one load run. */
function prepareBody(n: number) {
  const body = createAlertBody(n, Date.now());
  const jsonFile = join(workDir, `body-${n}.json`);
  const grpcFile = join(workDir, `body-${n}.grpc`);
  writeFileSync(jsonFile, body);
  writeFileSync(grpcFile, frameIngestRequest(body, "application/json"));
  const signature = `x-signature: ${signatureOf(body, credentials.secret)}`;
  return { jsonFile, grpcFile, signature };
}

/** Warms the server up, then measures; both runs send the same bytes. */
async function measure(
  server: BenchServer,
  spec: Omit<LoadSpec, "requests" | "serverPid" | "logFile">,
): Promise<LoadResult> {
  const base = { ...spec, serverPid: server.pid };
  const warmLog = join(workDir, "warmup.log");
  await runLoad({ ...base, requests: WARMUP_REQUESTS, logFile: warmLog });
  const logFile = join(workDir, `load-${Date.now()}.log`);
  return runLoad({ ...base, requests: LOAD_REQUESTS, logFile });
}

/**
 * Every request of a load run sends the same signed alert: the first one
 * (in the warm-up) is ACCEPTED and every measured one must be DUPLICATE.
 * @throws Error when any measured request got another answer
 */
async function measureIngest(
  ingest: BenchServer,
  spec: Omit<LoadSpec, "requests" | "serverPid" | "logFile">,
): Promise<LoadResult> {
  const before = ingest.events.get("ingest.duplicate") ?? 0;
  const result = await measure(ingest, spec);
  const duplicates = (ingest.events.get("ingest.duplicate") ?? 0) - before;
  const expected = WARMUP_REQUESTS - 1 + LOAD_REQUESTS;
  if (duplicates !== expected || ingest.events.has("ingest.rejected")) {
    throw new Error(
      `expected ${expected} DUPLICATE answers, got ${duplicates} ` +
        `and ${ingest.events.get("ingest.rejected") ?? 0} rejections`,
    );
  }
  return result;
}

async function main(): Promise<void> {
  if (!hasH2load()) {
    process.stderr.write(
      "h2load not found; install it with: sudo apt-get install nghttp2-client\n",
    );
    process.exit(1);
  }
  const cost = await runChild<PipelineCost>("bench/pipeline-cost.js");
  const memory = await runChild<Memory>("bench/memory.js", {}, ["--expose-gc"]);

  const echo = await startServer("bench/echo-server.js", {});
  const ingest = await startServer("src/main.js", {
    GRPC_PORT: "0",
    HTTP_PORT: "0",
    HTTP_ENABLED: "true",
    WEBHOOK_SECRETS: credentials.secret,
    WEBHOOK_TOKENS: credentials.token,
    WEBHOOK_TIMESTAMP_TOLERANCE_SECONDS: "300",
    LOG_LEVEL: "info",
  });
  try {
    const echoBody = prepareBody(1);
    const echoResult = await measure(echo, {
      ...GRPC_SHAPE,
      url: `http://127.0.0.1:${String(echo.ready.port)}${INGEST_PATH}`,
      bodyFile: echoBody.grpcFile,
      headers: [...GRPC_HEADERS, echoBody.signature],
    });
    const grpcBody = prepareBody(2);
    const grpcResult = await measureIngest(ingest, {
      ...GRPC_SHAPE,
      url: `http://${String(ingest.ready.grpc)}${INGEST_PATH}`,
      bodyFile: grpcBody.grpcFile,
      headers: [...GRPC_HEADERS, grpcBody.signature],
    });
    const httpBody = prepareBody(3);
    const httpResult = await measureIngest(ingest, {
      ...HTTP_SHAPE,
      url: `http://${String(ingest.ready.http)}/webhook`,
      bodyFile: httpBody.jsonFile,
      headers: ["content-type: application/json", httpBody.signature],
    });
    const burst = await runChild<Burst>("bench/burst-client.js", {
      BURST_URL: `http://${String(ingest.ready.http)}/webhook/${credentials.token}`,
    });
    printTable({ cost, echoResult, grpcResult, httpResult, burst, memory });
  } finally {
    await Promise.all([echo.stop(), ingest.stop()]);
  }
}

interface Results {
  cost: PipelineCost;
  echoResult: LoadResult;
  grpcResult: LoadResult;
  httpResult: LoadResult;
  burst: Burst;
  memory: Memory;
}

const fixed = (n: number, digits = 1) => n.toFixed(digits);
const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`;
const ms = (us: number) => fixed(us / 1000, 2);
const mib = (bytes: number) => fixed(bytes / 1024 / 1024, 0);

function loadRows(name: string, a: LoadResult, base: string, b: LoadResult) {
  return [
    [
      `${name}: server CPU per call (µs)`,
      fixed(a.cpuUsPerRequest),
      `${base} ${fixed(b.cpuUsPerRequest)}`,
      ratio(a.cpuUsPerRequest, b.cpuUsPerRequest),
    ],
    [
      `${name}: requests per second`,
      fixed(a.requestsPerSecond, 0),
      `${base} ${fixed(b.requestsPerSecond, 0)}`,
      ratio(a.requestsPerSecond, b.requestsPerSecond),
    ],
    [
      `${name}: latency p50 / p99 (ms)`,
      `${ms(a.p50Us)} / ${ms(a.p99Us)}`,
      `${base} ${ms(b.p50Us)} / ${ms(b.p99Us)}`,
      ratio(a.p99Us, b.p99Us),
    ],
  ];
}

function printTable(r: Results): void {
  const { cost, burst, memory } = r;
  const rows: string[][] = [
    [
      "Pipeline cost, median (µs)",
      fixed(cost.pipeline.median),
      `HMAC-SHA256 alone ${fixed(cost.hmac.median)}`,
      ratio(cost.pipeline.median, cost.hmac.median),
      "≤ 3×",
    ],
    [
      "Pipeline cost, p99 (µs)",
      fixed(cost.pipeline.p99),
      `HMAC-SHA256 alone ${fixed(cost.hmac.p99)}`,
      ratio(cost.pipeline.p99, cost.hmac.p99),
      "",
    ],
    [
      "…of which parse and validate, median (µs)",
      fixed(cost.parseValidate.median),
      `HMAC-SHA256 alone ${fixed(cost.hmac.median)}`,
      ratio(cost.parseValidate.median, cost.hmac.median),
      "",
    ],
    [
      "…of which the idempotency key, median (µs)",
      fixed(cost.key.median),
      `HMAC-SHA256 alone ${fixed(cost.hmac.median)}`,
      ratio(cost.key.median, cost.hmac.median),
      "",
    ],
    ...loadRows(
      "Ingest gRPC vs bare echo",
      r.grpcResult,
      "echo",
      r.echoResult,
    ).map((row, i) => [...row, i === 0 ? "≤ 1.15×" : ""]),
    ...loadRows(
      "HTTP gateway vs direct gRPC",
      r.httpResult,
      "gRPC",
      r.grpcResult,
    ).map((row) => [...row, ""]),
    [
      `Burst: ${burst.count} distinct alerts in 1 s, slowest reply (ms)`,
      `${fixed(burst.slowestMs, 0)} (p50 ${fixed(burst.median, 0)}, p99 ${fixed(burst.p99, 0)}; ${burst.accepted} ACCEPTED)`,
      "TradingView gives up at 3000",
      `${fixed((burst.slowestMs / 3000) * 100)} % of it`,
      "< 3000",
    ],
    [
      `Memory: RSS after ${memory.keys.toLocaleString("en")} keys (MiB)`,
      mib(memory.rssAfterBytes),
      `empty store ${mib(memory.rssBeforeBytes)}`,
      `${fixed(memory.bytesPerKey, 0)} B/key`,
      "",
    ],
  ];
  const lines = [
    `tv-ibkr-ingest bench, ${new Date().toISOString()}: ${cpus().length} × ${cpus()[0]?.model ?? "?"}, node ${process.version}`,
    `loads: ${LOAD_REQUESTS} requests after ${WARMUP_REQUESTS} warm-up; gRPC ${GRPC_SHAPE.connections} connections × ${GRPC_SHAPE.streamsPerConnection} streams, HTTP/1.1 ${HTTP_SHAPE.connections} connections; body ${cost.bodyBytes} bytes`,
    "",
    "| What | Result | Baseline | Ratio | Target |",
    "| --- | --- | --- | --- | --- |",
    ...rows.map((row) => `| ${row.join(" | ")} |`),
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
}

void main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${String(err)}\n`);
  process.exit(1);
});
