import { createHash } from "node:crypto";

import { MemoryIdempotencyStore } from "../src/idempotency";

/**
 * Child process of `npm run bench` (run with --expose-gc): resident memory
 * before and after claiming KEYS unique keys shaped like the real ones
 * (64 hex digits, a 32-hex correlation id). Prints one JSON object.
 */
const KEYS = 1_000_000;

function collect(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/** A flat hex string, as the service's keys and trace ids are. */
function hexDigest(algorithm: string, n: number): string {
  return createHash(algorithm).update(String(n)).digest("hex");
}

function main(): void {
  const store = new MemoryIdempotencyStore({
    ttlMs: 24 * 60 * 60 * 1000,
    maxKeys: KEYS,
  });
  collect();
  const rssBefore = process.memoryUsage().rss;
  const nowMs = Date.now();
  for (let i = 0; i < KEYS; i++) {
    store.claimNow(
      hexDigest("sha256", i),
      { correlationId: hexDigest("md5", i), receivedAtMs: nowMs },
      nowMs,
    );
  }
  collect();
  const rssAfter = process.memoryUsage().rss;
  process.stdout.write(
    `${JSON.stringify({
      keys: store.size,
      rssBeforeBytes: rssBefore,
      rssAfterBytes: rssAfter,
      bytesPerKey: (rssAfter - rssBefore) / KEYS,
    })}\n`,
  );
}

main();
