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
  /** How many keys were dropped before their TTL since start, if known. */
  readonly evictedBeforeTtl?: number;
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

/** Dropped queue slots tolerated before the queue is compacted. */
const MIN_COMPACT_SLOTS = 1024;

/**
 * A bounded in-memory store. Every key lives the same TTL, so insertion
 * order is expiry order: expired keys are dropped from the oldest end, and
 * when full the oldest live key makes room.
 *
 * The oldest key is read from a queue, never by iterating the Map: deleted
 * Map entries stay as holes that iteration walks over until the next
 * rehash, which made each claim in a full store cost O(maxKeys).
 */
export class MemoryIdempotencyStore implements IdempotencyStore {
  private readonly claims = new Map<string, Claim>();
  /** Keys in insertion order; `head` indexes the oldest held key. */
  private queue: string[] = [];
  private head = 0;
  private evictedTotal = 0;
  private unreportedEvictions = 0;
  private lastReportMs = -Infinity;

  constructor(private readonly options: MemoryStoreOptions) {}

  get size(): number {
    return this.claims.size;
  }

  get evictedBeforeTtl(): number {
    return this.evictedTotal;
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
    this.queue.push(key);
    return { claimed: true };
  }

  private dropExpired(nowMs: number): void {
    const oldestAllowedMs = nowMs - this.options.ttlMs;
    while (this.head < this.queue.length) {
      const oldest = this.claims.get(this.queue[this.head]);
      if (oldest && oldest.receivedAtMs > oldestAllowedMs) return;
      this.dropOldest();
    }
  }

  private evictOldest(nowMs: number): void {
    if (this.head >= this.queue.length) return;
    this.dropOldest();
    this.evictedTotal++;
    this.unreportedEvictions++;
    const intervalMs =
      this.options.reportIntervalMs ?? DEFAULT_REPORT_INTERVAL_MS;
    if (nowMs - this.lastReportMs < intervalMs) return;
    this.options.onEarlyEviction?.(this.unreportedEvictions);
    this.unreportedEvictions = 0;
    this.lastReportMs = nowMs;
  }

  /** Compacting once half the queue is dropped keeps each step O(1). */
  private dropOldest(): void {
    this.claims.delete(this.queue[this.head]);
    this.head++;
    if (this.head < MIN_COMPACT_SLOTS || this.head * 2 < this.queue.length) {
      return;
    }
    this.queue = this.queue.slice(this.head);
    this.head = 0;
  }
}
