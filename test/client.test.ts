import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";

import { Server, ServerCredentials, status as GrpcCode } from "@grpc/grpc-js";
import { ROOT_CONTEXT, trace, TraceFlags } from "@opentelemetry/api";

import { IngestServiceService } from "../src/gen/tvibkr/ingest/v1/ingest";
import {
  createIngestClient,
  IngestCallError,
  Outcome,
  type IngestClient,
} from "../src/index";
import {
  makeAlert,
  ROOT,
  SECRET,
  startTestService,
  type TestService,
} from "./helpers/harness";

/** Resolves with what `promise` rejected with; fails if it resolved. */
async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => assert.fail("expected the call to fail"),
    (err: unknown) => err,
  );
}

describe("IngestClient", () => {
  let svc: TestService;
  let client: IngestClient;
  before(async () => {
    svc = await startTestService();
    client = createIngestClient({
      address: `127.0.0.1:${svc.grpcPort}`,
      secret: SECRET,
    });
  });
  after(async () => {
    client.close();
    await svc.stop();
  });

  it("should sign an object and return ACCEPTED, then DUPLICATE", async () => {
    const alert = makeAlert();
    const first = await client.ingest(alert);
    const second = await client.ingest(alert);
    assert.equal(first.outcome, Outcome.OUTCOME_ACCEPTED);
    assert.equal(second.outcome, Outcome.OUTCOME_DUPLICATE);
    assert.equal(second.originalCorrelationId, first.correlationId);
  });

  it("should sign the exact bytes it is given", async () => {
    const text = `  ${JSON.stringify(makeAlert(), null, 3)}\n`;
    const reply = await client.ingest(Buffer.from(text));
    assert.equal(reply.outcome, Outcome.OUTCOME_ACCEPTED);
    const line = svc.logs.forCorrelation(reply.correlationId).at(-1);
    assert.equal(line?.authMethod, "signature");
  });

  it("should send the request id and continue the caller's trace", async () => {
    const traceId = "0af7651916cd43dd8448eb211c80319c";
    const traceContext = trace.setSpanContext(ROOT_CONTEXT, {
      traceId,
      spanId: "b7ad6b7169203331",
      traceFlags: TraceFlags.SAMPLED,
    });
    const reply = await client.ingest(makeAlert(), {
      requestId: "req-client-1",
      traceContext,
    });
    assert.equal(reply.correlationId, traceId);
    const line = svc.logs.forCorrelation(traceId).at(-1);
    assert.equal(line?.requestId, "req-client-1");
  });

  it("should throw the reason, correlation id and fields of a refusal", async () => {
    const err = await rejectionOf(
      client.ingest(makeAlert({ action: "hold", quantity: 0 })),
    );
    assert.ok(err instanceof IngestCallError);
    assert.equal(err.code, GrpcCode.INVALID_ARGUMENT);
    assert.equal(err.reason, "FIELD_INVALID");
    assert.match(err.correlationId, /^[0-9a-f]{32}$/);
    assert.deepEqual(
      err.violations.map((v) => v.field),
      ["action", "quantity"],
    );
    assert.equal(svc.logs.forCorrelation(err.correlationId).length, 1);
  });

  it("should throw UNAUTHENTICATED when signed with another secret", async () => {
    const other = createIngestClient({
      address: `127.0.0.1:${svc.grpcPort}`,
      secret: "another-secret-0123456789-abcdefghijk",
    });
    const err = await rejectionOf(other.ingest(makeAlert()));
    other.close();
    assert.ok(err instanceof IngestCallError);
    assert.equal(err.code, GrpcCode.UNAUTHENTICATED);
    assert.equal(err.reason, "SIGNATURE_MISMATCH");
    assert.equal(
      err.message,
      "the signature does not match the body under any active secret",
    );
  });

  const badOptions = [
    {
      options: { address: " ", secret: SECRET },
      message: "address: is empty; pass host:port of the service",
    },
    {
      options: { address: "127.0.0.1:1", secret: "" },
      message: "secret: is empty; pass one of WEBHOOK_SECRETS",
    },
    {
      options: { address: "127.0.0.1:1", secret: SECRET, deadlineMs: 0 },
      message: "deadlineMs: 0 is not allowed; use a whole number above 0",
    },
  ];
  for (const { options, message } of badOptions) {
    it(`should refuse options with ${message.split(":")[0]} wrong`, () => {
      assert.throws(() => createIngestClient(options), {
        name: "RangeError",
        message,
      });
    });
  }
});

describe("IngestClient deadline", () => {
  let server: Server;
  let port: number;
  before(async () => {
    // A server that never answers, so only the deadline can end the call.
    server = new Server();
    server.addService(IngestServiceService, { ingest: () => undefined });
    port = await new Promise((resolve, reject) =>
      server.bindAsync(
        "127.0.0.1:0",
        ServerCredentials.createInsecure(),
        (err, bound) => (err ? reject(err) : resolve(bound)),
      ),
    );
  });
  after(() => server.forceShutdown());

  it("should throw DEADLINE_EXCEEDED with no reason when time runs out", async () => {
    const client = createIngestClient({
      address: `127.0.0.1:${port}`,
      secret: SECRET,
      deadlineMs: 100,
    });
    const err = await rejectionOf(client.ingest(makeAlert()));
    client.close();
    assert.ok(err instanceof IngestCallError);
    assert.equal(err.code, GrpcCode.DEADLINE_EXCEEDED);
    assert.equal(err.reason, "");
    assert.equal(err.correlationId, "");
    assert.deepEqual(err.violations, []);
  });
});

interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `npm run send` as compiled, in `cwd`, with only `env`. */
function runSend(cwd: string, args: string[], env: Record<string, string>) {
  const script = join(ROOT, "dist", "src", "cli", "send.js");
  return new Promise<CliRun>((resolve) => {
    execFile(
      process.execPath,
      [script, ...args],
      { cwd, env: { PATH: process.env.PATH ?? "", ...env } },
      (err, stdout, stderr) =>
        resolve({ code: err ? Number(err.code) : 0, stdout, stderr }),
    );
  });
}

describe("send command", () => {
  let svc: TestService;
  let dir: string;
  let env: Record<string, string>;
  before(async () => {
    svc = await startTestService();
    dir = mkdtempSync(join(tmpdir(), "tvibkr-send-"));
    env = { WEBHOOK_SECRETS: SECRET, GRPC_PORT: String(svc.grpcPort) };
  });
  after(async () => {
    await svc.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("should post a file over gRPC, signed, and print the reply", async () => {
    const file = join(dir, "fresh.json");
    writeFileSync(file, JSON.stringify(makeAlert()));
    const run = await runSend(dir, [file], env);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(JSON.parse(run.stdout).outcome, "OUTCOME_ACCEPTED");
  });

  it("should post over HTTP with --now and print the reply", async () => {
    const file = join(dir, "old.json");
    writeFileSync(file, JSON.stringify(makeAlert({ timestamp: 1e12 })));
    const run = await runSend(dir, [file, "--now", "--http", svc.baseUrl], env);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stderr, "HTTP 200\n");
    assert.equal(JSON.parse(run.stdout).outcome, "OUTCOME_ACCEPTED");
  });

  it("should print a refusal and exit 1", async () => {
    const file = join(dir, "stale.json");
    writeFileSync(file, JSON.stringify(makeAlert({ timestamp: 1e12 })));
    const run = await runSend(dir, [file], env);
    const reply = JSON.parse(run.stdout);
    assert.equal(run.code, 1);
    assert.equal(reply.code, GrpcCode.FAILED_PRECONDITION);
    assert.equal(reply.reason, "TIMESTAMP_STALE");
    assert.match(reply.correlationId, /^[0-9a-f]{32}$/);
    const line = svc.logs.forCorrelation(reply.correlationId).at(-1);
    assert.equal(line?.authMethod, "signature");
  });

  it("should exit 2 when no service answers", async () => {
    const file = join(dir, "unsent.json");
    writeFileSync(file, JSON.stringify(makeAlert()));
    // Nothing listens on port 1 of loopback: the connection is refused.
    const run = await runSend(dir, [file, "--grpc", "127.0.0.1:1"], env);
    const reply = JSON.parse(run.stdout);
    assert.equal(run.code, 2);
    assert.equal(reply.code, GrpcCode.UNAVAILABLE);
    assert.equal(reply.reason, "");
    assert.equal(reply.correlationId, "");
  });

  const usage =
    "usage: npm run send -- <alert.json> [--grpc host:port | --http URL] [--now]\n";
  const misuses: [string, string[], string][] = [
    ["no file", [], `send: ${usage}`],
    ["two files", ["a.json", "b.json"], `send: ${usage}`],
    [
      "both doors",
      ["a.json", "--grpc", "127.0.0.1:1", "--http", "http://127.0.0.1:1"],
      `send: --grpc and --http exclude each other\n${usage}`,
    ],
    [
      "a bad URL",
      ["a.json", "--http", "nope"],
      `send: --http: "nope" is not a URL\n${usage}`,
    ],
  ];
  for (const [name, args, stderr] of misuses) {
    it(`should exit 2 with usage for ${name}`, async () => {
      writeFileSync(join(dir, "a.json"), "{}");
      const run = await runSend(dir, args, env);
      assert.deepEqual(run, { code: 2, stdout: "", stderr });
    });
  }
});
