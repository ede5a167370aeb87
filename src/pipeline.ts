import { status as GrpcCode, type Metadata } from "@grpc/grpc-js";
import {
  SpanKind,
  SpanStatusCode,
  trace,
  type Context,
  type Tracer,
} from "@opentelemetry/api";

import type { Authenticator } from "./auth";
import { reportOutcome, reportRejection, type CallFacts } from "./call-report";
import { IngestError, Reason, toIngestError } from "./errors";
import {
  Outcome,
  type IngestRequest,
  type IngestResponse,
} from "./gen/tvibkr/ingest/v1/ingest";
import { checkFreshness } from "./freshness";
import { idempotencyKey, type IdempotencyStore } from "./idempotency";
import { IngestMetrics } from "./ingest-metrics";
import type { Logger } from "./logger";
import {
  decodeBody,
  parseAlert,
  readBodyToken,
  validateAlert,
} from "./payload/alert";
import { readStandardWebhookHeaders } from "./standard-webhooks";
import { formatTimestamp } from "./time";
import { extractTraceContext } from "./tracing";

/** The fully qualified method name, the server span's name. */
export const INGEST_METHOD = "tvibkr.ingest.v1.IngestService/Ingest";

export interface PipelineOptions {
  authenticator: Authenticator;
  store: IdempotencyStore;
  tracer: Tracer;
  logger: Logger;
  maxBodyBytes: number;
  timestampToleranceSeconds: number;
  /** The clock, in epoch milliseconds; tests pass their own. */
  now?: () => number;
  /** Where calls and stages are measured; by default nowhere. */
  metrics?: IngestMetrics;
}

/** One Ingest call as either door (gRPC or the HTTP gateway) received it. */
export interface IngestCall {
  request: IngestRequest;
  metadata: Metadata;
  transport: "grpc" | "http";
  /** Whether the caller has gone away; checked before claiming a key. */
  isCancelled(): boolean;
}

/** What a call came to; `correlationId` is the trace id either way. */
export type IngestResult =
  | { ok: true; response: IngestResponse; correlationId: string }
  | { ok: false; error: IngestError; correlationId: string };

/**
 * The verification pipeline. Each call runs, in order: authenticate the raw
 * bytes, parse and validate, check freshness, claim the idempotency key,
 * acknowledge. Every call is a server span with a child span per stage, and
 * ends in exactly one log line.
 */
export class IngestPipeline {
  private readonly now: () => number;
  private readonly metrics: IngestMetrics;

  constructor(private readonly options: PipelineOptions) {
    this.now = options.now ?? Date.now;
    this.metrics = options.metrics ?? new IngestMetrics();
  }

  /** Runs one call through every stage; never throws. */
  async run(call: IngestCall): Promise<IngestResult> {
    const parent = extractTraceContext(call.metadata);
    const span = this.options.tracer.startSpan(
      INGEST_METHOD,
      { kind: SpanKind.SERVER, attributes: spanAttributes(call) },
      parent,
    );
    const correlationId = span.spanContext().traceId;
    const logger = this.options.logger.child({
      correlationId,
      requestId: firstValue(call.metadata, "x-request-id"),
      transport: call.transport,
    });
    const startedAt = performance.now();
    const facts: CallFacts = {};
    const context = trace.setSpan(parent, span);
    try {
      const response = await this.verify(call, context, correlationId, facts);
      span.setAttribute("ingest.outcome", Outcome[response.outcome]);
      const report = { logger, metrics: this.metrics, facts, call };
      reportOutcome(report, response, performance.now() - startedAt);
      return { ok: true, response, correlationId };
    } catch (err) {
      const error = toIngestError(err);
      span.setAttribute("ingest.reason", error.reason);
      span.setStatus({ code: SpanStatusCode.ERROR, message: error.reason });
      const report = { logger, metrics: this.metrics, facts, call };
      reportRejection(report, error, performance.now() - startedAt);
      return { ok: false, error, correlationId };
    } finally {
      span.end();
    }
  }

  private async verify(
    call: IngestCall,
    context: Context,
    correlationId: string,
    facts: CallFacts,
  ): Promise<IngestResponse> {
    const receivedAtMs = this.now();
    const body = call.request.body?.data ?? Buffer.alloc(0);
    const contentType = call.request.body?.contentType ?? "";

    const decision = this.stage("authenticate", context, () =>
      this.options.authenticator.authenticate(
        body,
        call.metadata,
        call.request.token,
        receivedAtMs,
      ),
    );
    if (decision !== "body_token_pending") facts.authMethod = decision;
    if (decision === "standard_webhooks") {
      facts.webhookId = readStandardWebhookHeaders(call.metadata).id;
    }

    facts.alert = this.stage("parse", context, () => {
      const text = decodeBodyFor(decision, body, contentType, this.options);
      const fields = parseFor(decision, text);
      if (decision === "body_token_pending") {
        facts.authMethod = this.options.authenticator.verifyBodyToken(
          readBodyToken(fields),
        );
      }
      return validateAlert(fields);
    });
    const { signal, timestampMs } = facts.alert;

    this.stage("freshness", context, () =>
      checkFreshness(
        timestampMs,
        receivedAtMs,
        this.options.timestampToleranceSeconds,
      ),
    );

    if (call.isCancelled()) {
      throw new IngestError(
        GrpcCode.CANCELLED,
        Reason.cancelled,
        "the caller cancelled the call before the signal was claimed",
      );
    }
    const key = idempotencyKey(
      signal,
      facts.webhookId === undefined ? {} : { webhookId: facts.webhookId },
    );
    facts.key = key;
    const claim = await this.stageAsync("claim", context, () =>
      this.options.store.claim(
        key,
        { correlationId, receivedAtMs },
        this.now(),
      ),
    );

    return this.stage("acknowledge", context, () => ({
      outcome: claim.claimed
        ? Outcome.OUTCOME_ACCEPTED
        : Outcome.OUTCOME_DUPLICATE,
      idempotencyKey: key,
      correlationId,
      receivedAt: formatTimestamp(receivedAtMs),
      signal,
      originalCorrelationId: claim.claimed ? "" : claim.first.correlationId,
      originalReceivedAt: claim.claimed
        ? undefined
        : formatTimestamp(claim.first.receivedAtMs),
    }));
  }

  private stage<T>(name: string, parent: Context, run: () => T): T {
    const finish = this.startStage(name, parent);
    try {
      const result = run();
      finish();
      return result;
    } catch (err) {
      finish(reasonOf(err));
      throw err;
    }
  }

  private async stageAsync<T>(
    name: string,
    parent: Context,
    run: () => Promise<T>,
  ): Promise<T> {
    const finish = this.startStage(name, parent);
    try {
      const result = await run();
      finish();
      return result;
    } catch (err) {
      finish(reasonOf(err));
      throw err;
    }
  }

  /** Starts a stage's span and timer; the returned function ends both. */
  private startStage(
    name: string,
    parent: Context,
  ): (failure?: Reason) => void {
    const span = this.options.tracer.startSpan(`ingest.${name}`, {}, parent);
    const startedAt = performance.now();
    return (failure) => {
      if (failure) {
        span.setStatus({ code: SpanStatusCode.ERROR, message: failure });
      }
      span.end();
      this.metrics.recordStage(name, performance.now() - startedAt, failure);
    };
  }
}

/**
 * An unauthenticated caller relying on the body's token learns only that no
 * token could be read, never what else is wrong with the body: a broken
 * alert template is the usual cause, so the message points there.
 */
function decodeBodyFor(
  decision: string,
  body: Uint8Array,
  contentType: string,
  options: PipelineOptions,
): string {
  if (decision !== "body_token_pending") {
    return decodeBody(body, contentType, options.maxBodyBytes);
  }
  return hideUntilAuthenticated(() =>
    decodeBody(body, contentType, options.maxBodyBytes),
  );
}

function parseFor(decision: string, text: string) {
  if (decision !== "body_token_pending") return parseAlert(text);
  return hideUntilAuthenticated(() => parseAlert(text));
}

function hideUntilAuthenticated<T>(run: () => T): T {
  try {
    return run();
  } catch (err) {
    throw new IngestError(
      GrpcCode.UNAUTHENTICATED,
      Reason.tokenUnreadable,
      "the body is not a JSON object, so no token could be read from it; " +
        "check the alert message template, or put the token in the URL " +
        "path instead",
      [],
      { cause: err },
    );
  }
}

function reasonOf(err: unknown): Reason {
  return err instanceof IngestError ? err.reason : Reason.internal;
}

function spanAttributes(call: IngestCall) {
  return {
    "rpc.system": "grpc",
    "rpc.service": "tvibkr.ingest.v1.IngestService",
    "rpc.method": "Ingest",
    "ingest.transport": call.transport,
  };
}

function firstValue(metadata: Metadata, key: string): string | undefined {
  const value = metadata.get(key)[0];
  return typeof value === "string" ? value : undefined;
}
