import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { credentials, status as GrpcCode } from "@grpc/grpc-js";

import { READINESS_SERVICE } from "../src/health";
import { IngestServiceClient } from "../src/gen/tvibkr/ingest/v1/ingest";
import {
  createHealthClient,
  startChildService,
  type ChildService,
} from "./helpers/child-service";
import {
  callGrpc,
  httpReason,
  makeAlert,
  postHttp,
  SECRET,
  startTestService,
  TOKEN,
} from "./helpers/harness";

const DRAIN_MS = 5_000;
/** SIGTERM is sent once this many calls have completed. */
const CALLS_BEFORE_SIGTERM = 300;
/** The load stops here at the latest, whatever happens. */
const MAX_CALLS = 20_000;
const GRPC_WORKERS = 8;
const HTTP_WORKERS = 4;

type Result = "accepted" | "refused" | "reset";

interface CallRecord {
  door: "grpc" | "http";
  result: Result;
  key?: string;
  endSeq: number;
  detail: string;
}

/** Shared by the workers: an event counter and when to stop. */
class Load {
  seq = 0;
  calls = 0;
  stopped = false;
  readonly records: CallRecord[] = [];
  private onFlowing?: () => void;
  readonly flowing = new Promise<void>((r) => (this.onFlowing = r));

  record(record: Omit<CallRecord, "endSeq">): void {
    this.records.push({ ...record, endSeq: ++this.seq });
    if (this.records.length === CALLS_BEFORE_SIGTERM) this.onFlowing?.();
  }

  get more(): boolean {
    return !this.stopped && this.calls++ < MAX_CALLS;
  }
}

async function grpcWorker(client: IngestServiceClient, load: Load) {
  while (load.more) {
    const r = await callGrpc(client, JSON.stringify(makeAlert()));
    if (r.ok) {
      const { idempotencyKey, outcome } = r.response;
      const result = outcome === 1 ? "accepted" : "reset";
      load.record({ door: "grpc", result, key: idempotencyKey, detail: "" });
    } else {
      const refused = r.code === GrpcCode.UNAVAILABLE;
      const detail = `${GrpcCode[r.code]} ${r.message}`;
      load.record({
        door: "grpc",
        result: refused ? "refused" : "reset",
        detail,
      });
    }
  }
}

async function httpWorker(baseUrl: string, load: Load) {
  while (load.more) {
    try {
      const { status, json } = await postHttp(
        baseUrl,
        JSON.stringify(makeAlert()),
      );
      const key = json.idempotencyKey as string | undefined;
      const refused = status === 503 && httpReason(json) === "SHUTTING_DOWN";
      const result =
        status === 200 ? "accepted" : refused ? "refused" : "reset";
      load.record({ door: "http", result, key, detail: `${status}` });
    } catch (err) {
      const code = (err as { cause?: { code?: string } }).cause?.code;
      const result = code === "ECONNREFUSED" ? "refused" : "reset";
      load.record({ door: "http", result, detail: String(code ?? err) });
    }
  }
}

/** Watches readiness; resolves once it has turned NOT_SERVING. */
function watchReadiness(address: string, load: Load) {
  const health = createHealthClient(address);
  const seen: { status: string; seq: number }[] = [];
  const call = health.watch({ service: READINESS_SERVICE });
  call.on("error", () => undefined);
  let onServing: () => void = () => undefined;
  const serving = new Promise<void>((r) => (onServing = r));
  const notServing = new Promise<number>((resolve) =>
    call.on("data", ({ status }: { status: string }) => {
      seen.push({ status, seq: ++load.seq });
      if (status === "SERVING") onServing();
      if (status !== "NOT_SERVING") return;
      // A balancer drops an instance that is not ready; so does this one.
      call.cancel();
      health.close();
      resolve(load.seq);
    }),
  );
  return { seen, serving, notServing };
}

describe("the service process under load", () => {
  it(
    "should flip readiness, answer every accepted call and exit 0 on SIGTERM",
    { timeout: 60_000 },
    async (t) => {
      const svc = await startChildService({
        WEBHOOK_SECRETS: SECRET,
        WEBHOOK_TOKENS: TOKEN,
        SHUTDOWN_DRAIN_MS: String(DRAIN_MS),
        LOG_LEVEL: "info",
      });
      const load = new Load();
      const readiness = watchReadiness(svc.grpcAddress, load);
      await readiness.serving;
      const client = new IngestServiceClient(
        svc.grpcAddress,
        credentials.createInsecure(),
      );
      const baseUrl = `http://${svc.httpAddress}`;
      const workers = [
        ...Array.from({ length: GRPC_WORKERS }, () => grpcWorker(client, load)),
        ...Array.from({ length: HTTP_WORKERS }, () =>
          httpWorker(baseUrl, load),
        ),
      ];
      await load.flowing;
      const exitMs = await stopWithSigterm(svc, load);
      await Promise.all(workers);
      client.close();
      await svc.closed;

      t.diagnostic(describeRun(exitMs, load.records));
      assert.equal(await svc.exited, 0);
      assert.ok(exitMs < DRAIN_MS, `exited ${exitMs} ms after SIGTERM`);
      assertReadinessFlippedFirst(readiness.seen, load.records);
      assertNoneReset(load.records);
      assertEveryAcceptedAnswered(svc, load.records);
    },
  );
});

describe("the service's health Watch at shutdown", () => {
  it("should send NOT_SERVING, then end the stream instead of holding the drain", async () => {
    const svc = await startTestService();
    const health = createHealthClient(`127.0.0.1:${svc.grpcPort}`);
    const call = health.watch({ service: READINESS_SERVICE });
    const statuses: string[] = [];
    let onFirst: () => void = () => undefined;
    const first = new Promise<void>((r) => (onFirst = r));
    call.on("data", ({ status }: { status: string }) => {
      statuses.push(status);
      onFirst();
    });
    const ended = new Promise<number>((resolve) =>
      call.on("status", ({ code }: { code: number }) => resolve(code)),
    );
    await first;
    await svc.stop();
    assert.equal(await ended, GrpcCode.OK);
    health.close();
    assert.deepEqual(statuses, ["SERVING", "NOT_SERVING"]);
    const cut = svc.logs.lines.filter((l) =>
      /drain deadline/.test(String(l.msg)),
    );
    assert.deepEqual(cut, []);
  });
});

/** Sends SIGTERM mid-load; resolves with the ms until the process exited. */
async function stopWithSigterm(svc: ChildService, load: Load) {
  const sentAt = performance.now();
  const failSafe = setTimeout(() => svc.child.kill("SIGKILL"), 3 * DRAIN_MS);
  svc.child.kill("SIGTERM");
  await svc.exited;
  clearTimeout(failSafe);
  load.stopped = true;
  return performance.now() - sentAt;
}

function assertReadinessFlippedFirst(
  seen: { status: string; seq: number }[],
  records: CallRecord[],
) {
  assert.deepEqual(
    seen.map((s) => s.status),
    ["SERVING", "NOT_SERVING"],
  );
  const firstRefusal = records.find((r) => r.result === "refused");
  const flippedAt = seen[1].seq;
  assert.ok(!firstRefusal || flippedAt < firstRefusal.endSeq);
}

function assertNoneReset(records: CallRecord[]) {
  const resets = records.filter((r) => r.result === "reset");
  assert.deepEqual(resets, []);
  assert.ok(
    records.filter((r) => r.result === "accepted").length >=
      CALLS_BEFORE_SIGTERM,
  );
}

/** The server's accepted log lines and the clients' ACCEPTED replies match. */
function assertEveryAcceptedAnswered(svc: ChildService, records: CallRecord[]) {
  const logged = svc.lines
    .filter((l) => l.event === "ingest.accepted")
    .map((l) => String(l.idempotencyKey));
  const answered = records
    .filter((r) => r.result === "accepted")
    .map((r) => r.key);
  assert.equal(new Set(logged).size, logged.length);
  assert.deepEqual(new Set(answered), new Set(logged));
}

function describeRun(exitMs: number, records: CallRecord[]): string {
  const count = (door: string, result: Result) =>
    records.filter((r) => r.door === door && r.result === result).length;
  const doors = ["grpc", "http"].map(
    (d) =>
      `${d} ${count(d, "accepted")} accepted/${count(d, "refused")} refused`,
  );
  return `exit ${Math.round(exitMs)} ms after SIGTERM; ${doors.join(", ")}`;
}
