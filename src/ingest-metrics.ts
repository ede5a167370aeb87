import { status as GrpcCode } from "@grpc/grpc-js";
import {
  createNoopMeter,
  type Attributes,
  type Counter,
  type Histogram,
  type Meter,
} from "@opentelemetry/api";
import {
  ATTR_ERROR_TYPE,
  ATTR_RPC_METHOD,
  ATTR_RPC_STATUS_CODE,
  ATTR_RPC_SYSTEM_NAME,
  METRIC_RPC_SERVER_CALL_DURATION,
  RPC_SYSTEM_NAME_VALUE_GRPC,
} from "@opentelemetry/semantic-conventions";

import type { AuthMethod } from "./auth";
import type { IdempotencyStore } from "./idempotency";

/** Metric names; the README's Metrics section explains each. */
export const METRIC = {
  callDuration: METRIC_RPC_SERVER_CALL_DURATION,
  requests: "ingest.requests",
  stageDuration: "ingest.stage.duration",
  storeKeys: "ingest.idempotency.keys",
  storeEvictions: "ingest.idempotency.evictions",
} as const;

/** The full method name, as rpc.method wants it. */
const RPC_METHOD = "tvibkr.ingest.v1.IngestService/Ingest";

/**
 * The pipeline mostly answers in well under a millisecond, so the buckets
 * start finer than the semantic conventions' default (5 ms).
 */
const DURATION_BUCKETS_SECONDS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
  0.5, 1, 2.5,
];

export type CallOutcome = "accepted" | "duplicate" | "rejected";

/** What one Ingest call came to, for the call metrics. */
export interface CallRecord {
  outcome: CallOutcome;
  grpcCode: GrpcCode;
  /** The stable reason of a rejection. */
  reason?: string;
  /** How the caller proved itself; undefined when it did not. */
  authMethod?: AuthMethod;
  transport: "grpc" | "http";
  durationMs: number;
}

/**
 * The service's instruments. Attribute values all come from closed sets
 * (outcomes, reasons, methods, stages), so cardinality stays bounded.
 */
export class IngestMetrics {
  private readonly requests: Counter;
  private readonly callDuration: Histogram;
  private readonly stageDuration: Histogram;

  /** Without a meter every recording is a no-op. */
  constructor(private readonly meter: Meter = createNoopMeter()) {
    this.requests = meter.createCounter(METRIC.requests, {
      description: "Ingest calls by outcome, reason, auth method, transport",
      unit: "{request}",
    });
    this.callDuration = meter.createHistogram(METRIC.callDuration, {
      description: "Duration of Ingest calls, from receipt to answer",
      unit: "s",
      advice: { explicitBucketBoundaries: DURATION_BUCKETS_SECONDS },
    });
    this.stageDuration = meter.createHistogram(METRIC.stageDuration, {
      description: "Duration of each pipeline stage",
      unit: "s",
      advice: { explicitBucketBoundaries: DURATION_BUCKETS_SECONDS },
    });
  }

  /** Counts one call and records its duration. */
  recordCall(record: CallRecord): void {
    const transport = { "ingest.transport": record.transport };
    const failure = record.reason ? { "ingest.reason": record.reason } : {};
    this.requests.add(1, {
      ...transport,
      ...failure,
      "ingest.outcome": record.outcome,
      "ingest.auth_method": record.authMethod ?? "none",
    });
    const errorType = record.reason ? { [ATTR_ERROR_TYPE]: record.reason } : {};
    this.callDuration.record(record.durationMs / 1000, {
      ...transport,
      ...errorType,
      [ATTR_RPC_SYSTEM_NAME]: RPC_SYSTEM_NAME_VALUE_GRPC,
      [ATTR_RPC_METHOD]: RPC_METHOD,
      [ATTR_RPC_STATUS_CODE]: GrpcCode[record.grpcCode],
    });
  }

  /** Records one stage's duration; `reason` when it failed. */
  recordStage(stage: string, durationMs: number, reason?: string): void {
    const attributes: Attributes = { "ingest.stage": stage };
    if (reason) attributes[ATTR_ERROR_TYPE] = reason;
    this.stageDuration.record(durationMs / 1000, attributes);
  }

  /**
   * Reports the store's size and its running total of keys dropped before
   * their TTL whenever metrics are collected; the total reads 0 from the
   * start, so rate() and absence alerts work.
   */
  observeStore(store: IdempotencyStore): void {
    const gauge = this.meter.createObservableGauge(METRIC.storeKeys, {
      description: "Idempotency keys held now",
      unit: "{key}",
    });
    gauge.addCallback((result) => result.observe(store.size));
    const evictions = this.meter.createObservableCounter(
      METRIC.storeEvictions,
      {
        description: "Idempotency keys dropped before their TTL (store full)",
        unit: "{key}",
      },
    );
    evictions.addCallback((result) =>
      result.observe(store.evictedBeforeTtl ?? 0),
    );
  }
}
