import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { status as GrpcCode } from "@grpc/grpc-js";

import {
  bodyBytes,
  createExpansion,
  credentialsFor,
  expandText,
  loadBadRequests,
  type BadRequest,
  type BadSequence,
  type Expansion,
} from "./helpers/bad-requests";
import { startTestService, type TestService } from "./helpers/harness";
import { sendGrpc, sendHttp, type Answer } from "./helpers/raw-call";

type Door = "grpc" | "http";

const table = loadBadRequests();

describe("bad-requests table", () => {
  let svc: TestService;
  before(async () => (svc = await startTestService(table.env)));
  after(() => svc.stop());

  const send = (door: Door, row: RowRequest): Promise<Answer> =>
    door === "grpc" ? sendGrpc(svc.client, row) : sendHttp(svc.baseUrl, row);

  it("should hold at least 40 requests, each named once", () => {
    const names = table.requests.map((r) => r.name);
    assert.ok(names.length >= 40, `only ${names.length} rows`);
    assert.equal(new Set(names).size, names.length);
  });

  for (const door of ["grpc", "http"] as const) {
    describe(`the Ingest ${door === "grpc" ? "gRPC service" : "HTTP gateway"}`, () => {
      for (const row of table.requests) {
        if (row.doors && !row.doors.includes(door)) continue;
        it(`should answer ${describeExpect(row)} to ${row.name}`, async () => {
          const x = createExpansion();
          const answer = await send(door, buildRequest(row, x));
          assertAnswer(door, row, answer, x);
        });
      }
      for (const sequence of table.sequences) {
        it(`should answer ${sequence.outcomes.join(" then ")} to ${sequence.name}`, async () => {
          const answers = await runSequence(sequence, (r) => send(door, r));
          assertSequence(sequence, answers);
        });
      }
    });
  }
});

interface RowRequest {
  body: Buffer;
  contentType: string;
  credentials: ReturnType<typeof credentialsFor>;
  pathSuffix?: string;
}

function buildRequest(row: BadRequest, x: Expansion): RowRequest {
  const body = bodyBytes(row, x);
  return {
    body,
    contentType: row.contentType,
    credentials: credentialsFor(row.auth, body),
    pathSuffix: row.path === undefined ? undefined : expandText(row.path, x),
  };
}

function describeExpect(row: BadRequest): string {
  const { code, reason, outcome } = row.expect;
  return outcome ?? `${code} ${reason}`;
}

function assertAnswer(
  door: Door,
  row: BadRequest,
  answer: Answer,
  x: Expansion,
): void {
  const want = row.expect;
  const code = GrpcCode[want.code as keyof typeof GrpcCode];
  assert.equal(typeof code, "number", `unknown code ${want.code}`);
  assert.equal(answer.code, code, answer.message);
  assert.equal(answer.reason, want.reason ?? undefined);
  assert.equal(answer.outcome, want.outcome);
  if (door === "http") assert.equal(answer.httpStatus, want.httpStatus);
  assertMessage(door, row, answer.message, x);
}

function assertMessage(
  door: Door,
  row: BadRequest,
  message: string,
  x: Expansion,
): void {
  const { messageMatch, httpMessage } = row.expect;
  if (messageMatch !== undefined) {
    assert.match(message, new RegExp(messageMatch));
    return;
  }
  const expected =
    door === "http" && httpMessage !== undefined
      ? httpMessage
      : (row.expect.message ?? "");
  assert.equal(message, expandText(expected, x));
}

async function runSequence(
  sequence: BadSequence,
  send: (request: RowRequest) => Promise<Answer>,
): Promise<Answer[]> {
  const x = createExpansion();
  const answers: Answer[] = [];
  for (const text of sequence.bodies) {
    const body = Buffer.from(expandText(text, x), "utf8");
    const request = {
      body,
      contentType: sequence.contentType,
      credentials: credentialsFor(sequence.auth, body),
    };
    answers.push(await send(request));
  }
  return answers;
}

function assertSequence(sequence: BadSequence, answers: Answer[]): void {
  assert.deepEqual(
    answers.map((a) => a.outcome ?? `${a.code} ${a.reason}: ${a.message}`),
    sequence.outcomes,
  );
  const keys = new Set(answers.map((a) => a.idempotencyKey));
  assert.equal(keys.size, sequence.sameKey ? 1 : answers.length);
}
