import { status as GrpcCode } from "@grpc/grpc-js";

import type { AuthMethod } from "./auth";
import type { IngestError } from "./errors";
import {
  Outcome,
  Signal,
  type IngestResponse,
} from "./gen/tvibkr/ingest/v1/ingest";
import type { IngestMetrics } from "./ingest-metrics";
import type { Logger } from "./logger";
import type { Alert } from "./payload/alert";

/** Facts gathered along the way for the request's one log line. */
export interface CallFacts {
  authMethod?: AuthMethod;
  /** The verified Standard Webhooks id, part of the idempotency key. */
  webhookId?: string;
  alert?: Alert;
  key?: string;
}

/** Where one call's ending is reported, and what is known about it. */
export interface CallReport {
  logger: Logger;
  metrics: IngestMetrics;
  facts: CallFacts;
  call: { transport: "grpc" | "http" };
}

/** Logs an accepted or duplicate signal's one line and counts the call. */
export function reportOutcome(
  report: CallReport,
  response: IngestResponse,
  durationMs: number,
): void {
  const { logger, facts } = report;
  const accepted = response.outcome === Outcome.OUTCOME_ACCEPTED;
  logger.info(
    {
      event: accepted ? "ingest.accepted" : "ingest.duplicate",
      outcome: accepted ? "accepted" : "duplicate",
      grpcCode: GrpcCode.OK,
      durationMs: round(durationMs),
      authMethod: facts.authMethod,
      webhookId: facts.webhookId,
      ticker: response.signal?.ticker,
      action: response.signal?.action,
      idempotencyKey: response.idempotencyKey,
      originalCorrelationId: response.originalCorrelationId || undefined,
      // The hand-off to the next part of the system: the accepted signal.
      signal:
        accepted && response.signal
          ? Signal.toJSON(response.signal)
          : undefined,
    },
    accepted ? "signal accepted" : "duplicate signal",
  );
  report.metrics.recordCall({
    outcome: accepted ? "accepted" : "duplicate",
    grpcCode: GrpcCode.OK,
    authMethod: facts.authMethod,
    transport: report.call.transport,
    durationMs,
  });
}

/** Logs a rejected call's one line and counts it. */
export function reportRejection(
  report: CallReport,
  error: IngestError,
  durationMs: number,
): void {
  const { logger, facts } = report;
  const fields = {
    event: "ingest.rejected",
    outcome: "rejected",
    reason: error.reason,
    grpcCode: error.code,
    durationMs: round(durationMs),
    authMethod: facts.authMethod,
    webhookId: facts.webhookId,
    ticker: facts.alert?.signal.ticker,
    action: facts.alert?.signal.action,
    idempotencyKey: facts.key,
  };
  if (error.code === GrpcCode.INTERNAL) {
    logger.error({ ...fields, err: error.cause }, "signal rejected");
  } else if (error.code === GrpcCode.CANCELLED) {
    logger.debug(fields, "call cancelled");
  } else {
    logger.info({ ...fields, detail: error.message }, "signal rejected");
  }
  report.metrics.recordCall({
    outcome: "rejected",
    grpcCode: error.code,
    reason: error.reason,
    authMethod: facts.authMethod,
    transport: report.call.transport,
    durationMs,
  });
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
