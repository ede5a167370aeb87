import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { status as GrpcCode } from "@grpc/grpc-js";
import fc from "fast-check";

import { signBody } from "../src/auth";
import { idempotencyKey } from "../src/idempotency";
import { decodeBody, parseAlert, validateAlert } from "../src/payload/alert";
import type { Signal } from "../src/gen/tvibkr/ingest/v1/ingest";
import {
  jsonGaps,
  positiveDecimal,
  renderAlert,
  timestampJson,
  validAlert,
  withField,
  type AlertFields,
} from "./helpers/alert-arbitrary";
import type { Credentials } from "./helpers/bad-requests";
import {
  makeAlert,
  SECRET,
  startTestService,
  TOKEN,
  type TestService,
} from "./helpers/harness";
import {
  sendGrpc,
  sendHttp,
  type Answer,
  type RawRequest,
} from "./helpers/raw-call";

const CONTENT_TYPES = ["application/json", "text/plain", "", "image/png"];
/** Codes a signed but arbitrary body may get; never OK, never INTERNAL. */
const REFUSALS = new Set([
  GrpcCode.INVALID_ARGUMENT,
  GrpcCode.FAILED_PRECONDITION,
  GrpcCode.RESOURCE_EXHAUSTED,
]);

/** Credentials that are never valid: absent, or a wrong signature or token. */
const badCredentials: fc.Arbitrary<Credentials> = fc.oneof(
  fc.constant<Credentials>({ metadata: [], pathToken: "" }),
  fc.stringMatching(/^[0-9a-f]{64}$/).map((hex): Credentials => ({
    metadata: [["x-signature", `sha256=${hex}`]],
    pathToken: "",
  })),
  fc
    .stringMatching(/^[A-Za-z0-9_-]{1,40}$/)
    .filter((t) => t !== TOKEN)
    .map((token): Credentials => ({ metadata: [], pathToken: token })),
);

const wrongBodyToken = fc
  .string({ minLength: 1, maxLength: 40 })
  .filter((t) => t !== TOKEN)
  .map((t) => JSON.stringify(t));

/** Anything at all as a body: random bytes, random JSON, near-alerts. */
const anyBody: fc.Arbitrary<Buffer> = fc.oneof(
  fc.uint8Array({ maxLength: 2048 }).map((b) => Buffer.from(b)),
  fc.json().map((j) => Buffer.from(j)),
  fc
    .tuple(validAlert(), wrongBodyToken)
    .map(([fields, token]) =>
      Buffer.from(renderAlert(withField(fields, "token", token))),
    ),
);

function isAccepted(answer: Answer): boolean {
  return answer.code === GrpcCode.OK;
}

/** The idempotency key the pipeline gives `text`, computed in-process. */
function keyOf(text: string): { key: string; signal: Signal } {
  const bytes = Buffer.from(text);
  const fields = parseAlert(decodeBody(bytes, "application/json", 65_536));
  const { signal } = validateAlert(fields);
  return { key: idempotencyKey(signal), signal };
}

describe("Ingest under random input", () => {
  let svc: TestService;
  before(async () => (svc = await startTestService()));
  after(() => svc.stop());

  const doors = {
    grpc: (r: RawRequest) => sendGrpc(svc.client, r),
    http: (r: RawRequest) => sendHttp(svc.baseUrl, r),
  };

  for (const [door, send] of Object.entries(doors)) {
    it(`should never accept anything without a valid credential (${door})`, async () => {
      await fc.assert(
        fc.asyncProperty(
          anyBody,
          fc.constantFrom(...CONTENT_TYPES),
          badCredentials,
          async (body, contentType, credentials) => {
            const answer = await send({ body, contentType, credentials });
            assert.equal(isAccepted(answer), false);
            assert.equal(answer.code, GrpcCode.UNAUTHENTICATED);
          },
        ),
        { numRuns: door === "grpc" ? 150 : 100 },
      );
    });

    it(`should refuse signed random bytes with a reason, never crash (${door})`, async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            fc.uint8Array({ maxLength: 4096 }).map((b) => Buffer.from(b)),
            fc.json().map((j) => Buffer.from(j)),
          ),
          fc.constantFrom(...CONTENT_TYPES),
          async (body, contentType) => {
            const answer = await send(signed(body, contentType));
            assert.ok(REFUSALS.has(answer.code), answer.message);
            assert.match(answer.reason ?? "", /^[A-Z_]+$/);
          },
        ),
        { numRuns: 100 },
      );
    });

    it(`should accept any valid signal once and then answer DUPLICATE (${door})`, async () => {
      let n = 0;
      await fc.assert(
        fc.asyncProperty(validAlert(), async (generated) => {
          const unique = JSON.stringify(`prop-${door}-${process.pid}-${n++}`);
          const body = Buffer.from(
            renderAlert(withField(generated, "order_id", unique)),
          );
          const first = await send(signed(body, "application/json"));
          const second = await send(signed(body, "text/plain"));
          assert.equal(first.outcome, "ACCEPTED", first.message);
          assert.equal(second.outcome, "DUPLICATE", second.message);
          assert.equal(second.idempotencyKey, first.idempotencyKey);
        }),
        { numRuns: door === "grpc" ? 60 : 40 },
      );
    });
  }

  it("should still accept a valid alert and have logged no internal error", async () => {
    const body = Buffer.from(JSON.stringify(makeAlert()));
    const answer = await sendGrpc(svc.client, signed(body, "application/json"));
    assert.equal(answer.outcome, "ACCEPTED");
    const internal = svc.logs.lines.filter((l) => l.level === "error");
    assert.deepEqual(internal, []);
  });
});

function signed(body: Buffer, contentType: string): RawRequest {
  return {
    body,
    contentType,
    credentials: {
      metadata: [["x-signature", signBody(body, SECRET)]],
      pathToken: "",
    },
  };
}

describe("idempotencyKey over valid alerts", () => {
  it("should not change when keys are reordered or whitespace changes", () => {
    fc.assert(
      fc.property(
        validAlert().chain((fields) =>
          fc.tuple(
            fc.constant(fields),
            fc.shuffledSubarray(fields, {
              minLength: fields.length,
              maxLength: fields.length,
            }),
          ),
        ),
        jsonGaps,
        ([fields, shuffled], gaps) => {
          const a = keyOf(renderAlert(fields));
          const b = keyOf(renderAlert(shuffled, gaps));
          assert.equal(b.key, a.key);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("should change whenever a field's value changes", () => {
    fc.assert(
      fc.property(validAlert(), fieldChange, (fields, change) => {
        const changed = change(fields);
        const a = keyOf(renderAlert(fields));
        const b = keyOf(renderAlert(changed));
        fc.pre(!sameSignal(a.signal, b.signal));
        assert.notEqual(b.key, a.key);
      }),
      { numRuns: 500 },
    );
  });
});

/** A new value for one field the others do not constrain. */
const fieldChange: fc.Arbitrary<(fields: AlertFields) => AlertFields> =
  fc.oneof(
    ...Object.entries(independentFieldValues()).map(([key, values]) =>
      values.map(
        (value) => (fields: AlertFields) => withField(fields, key, value),
      ),
    ),
    fc.boolean().map(() => flipAction),
    positiveDecimal.map((d) => (fields: AlertFields) => {
      const priced = fields.find(([k]) => k.endsWith("_price"));
      return priced ? withField(fields, priced[0], d) : fields;
    }),
  );

function independentFieldValues(): Record<string, fc.Arbitrary<string>> {
  const text = (max: number) =>
    fc
      .string({ unit: "binary", minLength: 1, maxLength: max })
      .filter((s) => !s.includes("{{"))
      .map((s) => JSON.stringify(s));
  return {
    ticker: fc
      .stringMatching(/^[A-Za-z0-9][A-Za-z0-9._!:/&-]{0,31}$/)
      .map((s) => JSON.stringify(s)),
    quantity: positiveDecimal,
    timestamp: timestampJson(Date.now, 10_000_000),
    time_in_force: fc
      .constantFrom("day", "gtc", "ioc")
      .map((s) => JSON.stringify(s)),
    price: positiveDecimal,
    exchange: text(32),
    strategy: text(64),
    order_id: text(64),
    interval: text(16),
    comment: text(64),
  };
}

function flipAction(fields: AlertFields): AlertFields {
  const action = fields.find(([k]) => k === "action")?.[1] ?? "";
  const flipped = /buy/i.test(action) ? '"sell"' : '"buy"';
  return withField(fields, "action", flipped);
}

function sameSignal(a: Signal, b: Signal): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
