import { createHmac } from "node:crypto";

import { Metadata } from "@grpc/grpc-js";
import pino from "pino";

import { Authenticator } from "../src/auth";
import { MemoryIdempotencyStore, idempotencyKey } from "../src/idempotency";
import { createLogger } from "../src/logger";
import { decodeBody, parseAlert, validateAlert } from "../src/payload/alert";
import { IngestPipeline, type IngestCall } from "../src/pipeline";
import { createTracing } from "../src/tracing";
import { createAlertBody, createCredentials, signatureOf } from "./alerts";
import { percentiles, timeEach } from "./stats";

/**
 * Child process of `npm run bench`: the whole in-process verification of
 * distinct, signed alerts (every one ACCEPTED, with its spans and its log
 * line written to /dev/null) against HMAC-SHA256 alone over the same
 * bodies. Prints one JSON object.
 */
const SAMPLES = 20_000;
const WARMUP = 5_000;
const MAX_BODY_BYTES = 16 * 1024;

const { secret } = createCredentials();
const secretBytes = Buffer.from(secret);
const logger = createLogger(
  "info",
  pino.destination({ dest: "/dev/null", sync: true }),
);
const pipeline = new IngestPipeline({
  authenticator: new Authenticator([secret], []),
  store: new MemoryIdempotencyStore({ ttlMs: 86_400_000, maxKeys: 1_000_000 }),
  tracer: createTracing({ serviceName: "bench", env: {} }).tracer,
  logger,
  maxBodyBytes: MAX_BODY_BYTES,
  timestampToleranceSeconds: 300,
});

function createCalls(from: number, count: number): IngestCall[] {
  const nowMs = Date.now();
  return Array.from({ length: count }, (_, i) => {
    const body = createAlertBody(from + i, nowMs);
    const metadata = new Metadata();
    metadata.set("x-signature", signatureOf(body, secret));
    return {
      request: {
        body: { contentType: "application/json", data: body, extensions: [] },
        token: "",
      },
      metadata,
      transport: "grpc",
      isCancelled: () => false,
    };
  });
}

const bodyOf = (call: IngestCall) => call.request.body?.data ?? Buffer.alloc(0);

async function runPipeline(call: IngestCall): Promise<void> {
  const result = await pipeline.run(call);
  if (!result.ok)
    throw new Error(`bench alert refused: ${result.error.message}`);
}

function hmac(call: IngestCall): Buffer {
  return createHmac("sha256", secretBytes).update(bodyOf(call)).digest();
}

function parseAndValidate(call: IngestCall) {
  const text = decodeBody(bodyOf(call), "application/json", MAX_BODY_BYTES);
  return validateAlert(parseAlert(text));
}

async function main(): Promise<void> {
  const warmup = createCalls(0, WARMUP);
  await timeEach(warmup, runPipeline);
  await timeEach(warmup, hmac);
  const calls = createCalls(WARMUP, SAMPLES);
  const signals = calls.map((c) => parseAndValidate(c).signal);
  const result = {
    samples: SAMPLES,
    bodyBytes: bodyOf(calls[0]).length,
    hmac: percentiles(await timeEach(calls, hmac)),
    pipeline: percentiles(await timeEach(calls, runPipeline)),
    parseValidate: percentiles(await timeEach(calls, parseAndValidate)),
    key: percentiles(await timeEach(signals, (s) => idempotencyKey(s))),
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

void main();
