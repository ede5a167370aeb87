import { createHash } from "node:crypto";

import type { Signal } from "./gen/tvibkr/ingest/v1/ingest";

/** Who claimed a key first; a duplicate's reply points back to it. */
export interface Claim {
  correlationId: string;
  receivedAtMs: number;
}

export type ClaimResult = { claimed: true } | { claimed: false; first: Claim };

/**
 * Remembers which signals were accepted. `claim` must be atomic: of many
 * concurrent claims of one key exactly one succeeds. A shared store (Redis
 * SET NX PX, say) can replace the in-memory one behind this interface.
 */
export interface IdempotencyStore {
  claim(key: string, claim: Claim, nowMs: number): Promise<ClaimResult>;
  /** How many keys are held now. */
  readonly size: number;
}

/**
 * The idempotency key: hex SHA-256 over a canonical form of the normalized
 * signal. Fields are sorted and empty ones dropped, so whitespace, key order
 * and spelled-out defaults never change it; any other difference does.
 * `context` adds values that identify the delivery (a sender's message id),
 * each under a "context:" name, so that it can never replace a signal field.
 */
export function idempotencyKey(
  signal: Signal,
  context: Readonly<Record<string, string>> = {},
): string {
  const contextEntries = Object.entries(context).map(
    ([name, value]) => [`context:${name}`, value] as const,
  );
  const entries = [...Object.entries(signal), ...contextEntries]
    .filter(([, value]) => value !== "" && value !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const canonical = JSON.stringify(entries);
  return createHash("sha256").update(canonical, "utf8").digest("hex");
}

export interface MemoryStoreOptions {
  ttlMs: number;
  maxKeys: number;
  /**
   * Told how many keys were dropped before their TTL because the store was
   * full: at the first such drop, then at most once per `reportIntervalMs`.
   */
  onEarlyEviction?: (count: number) => void;
  reportIntervalMs?: number;
}

const DEFAULT_REPORT_INTERVAL_MS = 60_000;

/**
 * A bounded in-memory store. Every key lives the same TTL, so insertion
 * order is expiry order: expired keys are dropped from the oldest end, and
 * when full the oldest live key makes room.
 */
export class MemoryIdempotencyStore implements IdempotencyStore {
  private readonly claims = new Map<string, Claim>();
  private unreportedEvictions = 0;
  private lastReportMs = -Infinity;

  constructor(private readonly options: MemoryStoreOptions) {}

  get size(): number {
    return this.claims.size;
  }

  claim(key: string, claim: Claim, nowMs: number): Promise<ClaimResult> {
    return Promise.resolve(this.claimNow(key, claim, nowMs));
  }

  /** The synchronous claim; check and set happen in one turn. */
  claimNow(key: string, claim: Claim, nowMs: number): ClaimResult {
    this.dropExpired(nowMs);
    const first = this.claims.get(key);
    if (first) return { claimed: false, first };
    if (this.claims.size >= this.options.maxKeys) this.evictOldest(nowMs);
    this.claims.set(key, claim);
    return { claimed: true };
  }

  private dropExpired(nowMs: number): void {
    const oldestAllowedMs = nowMs - this.options.ttlMs;
    for (const [key, claim] of this.claims) {
      if (claim.receivedAtMs > oldestAllowedMs) return;
      this.claims.delete(key);
    }
  }

  private evictOldest(nowMs: number): void {
    const oldest = this.claims.keys().next();
    if (oldest.done) return;
    this.claims.delete(oldest.value);
    this.unreportedEvictions++;
    const intervalMs =
      this.options.reportIntervalMs ?? DEFAULT_REPORT_INTERVAL_MS;
    if (nowMs - this.lastReportMs < intervalMs) return;
    this.options.onEarlyEviction?.(this.unreportedEvictions);
    this.unreportedEvictions = 0;
    this.lastReportMs = nowMs;
  }
}
