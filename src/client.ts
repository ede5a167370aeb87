import { randomUUID } from "node:crypto";

import {
  credentials as grpcCredentials,
  Metadata,
  status as GrpcCode,
  type ChannelCredentials,
  type ServiceError,
} from "@grpc/grpc-js";
import { context, type Context } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";

import { signBody, SIGNATURE_KEY } from "./auth";
import { parseStatusDetails, type FieldViolation } from "./errors";
import {
  IngestServiceClient,
  type IngestRequest,
  type IngestResponse,
} from "./gen/tvibkr/ingest/v1/ingest";

/** How long a call may take unless the caller says otherwise. */
export const DEFAULT_CLIENT_DEADLINE_MS = 5_000;

/** Where and how to call Ingest; see createIngestClient. */
export interface IngestClientOptions {
  /** The gRPC door as host:port, such as "127.0.0.1:50051". */
  address: string;
  /** One of the service's WEBHOOK_SECRETS; every call is signed with it. */
  secret: string;
  /** Each call's deadline; default DEFAULT_CLIENT_DEADLINE_MS. */
  deadlineMs?: number;
  /** Default: plaintext, for loopback or a mesh that adds TLS. */
  credentials?: ChannelCredentials;
}

/** Per-call settings; unset ones come from the client. */
export interface IngestCallOptions {
  /** Default "application/json". */
  contentType?: string;
  /** Sent as x-request-id and logged with the call; default a new UUID. */
  requestId?: string;
  deadlineMs?: number;
  /**
   * The OpenTelemetry context whose trace the call continues, sent as W3C
   * traceparent; default the active context. The service's correlation id
   * is then this trace's id.
   */
  traceContext?: Context;
}

/** An alert as bytes, as text (sent as UTF-8) or as an object (as JSON). */
export type AlertInput = Uint8Array | string | Record<string, unknown>;

/**
 * A failed Ingest call as the caller sees it: the gRPC code, the service's
 * stable `reason` (branch on this), its message, the `correlationId` to
 * quote when asking about the call, and the offending fields. `reason` and
 * `correlationId` are empty when the service never answered (deadline,
 * connection refused).
 */
export class IngestCallError extends Error {
  override readonly name = "IngestCallError";

  constructor(
    readonly code: GrpcCode,
    readonly reason: string,
    message: string,
    readonly correlationId: string,
    readonly violations: readonly FieldViolation[],
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * A typed client of IngestService for internal callers. It signs the exact
 * bytes it sends with x-signature, sets x-request-id, sends the caller's
 * trace context as traceparent (so the service's correlation id is the
 * caller's trace id), and applies a deadline to every call.
 */
export class IngestClient {
  private readonly client: IngestServiceClient;
  private readonly secret: string;
  private readonly deadlineMs: number;

  /** @throws RangeError for an empty address or secret or a bad deadline */
  constructor(options: IngestClientOptions) {
    checkOptions(options);
    this.secret = options.secret;
    this.deadlineMs = options.deadlineMs ?? DEFAULT_CLIENT_DEADLINE_MS;
    this.client = new IngestServiceClient(
      options.address,
      options.credentials ?? grpcCredentials.createInsecure(),
    );
  }

  /**
   * Sends one alert. Resolves with the reply for ACCEPTED and DUPLICATE
   * alike (check `outcome`).
   * @throws IngestCallError for any failed call, with the decoded details
   */
  ingest(
    alert: AlertInput,
    options: IngestCallOptions = {},
  ): Promise<IngestResponse> {
    const bytes = toBytes(alert);
    const request: IngestRequest = {
      body: {
        contentType: options.contentType ?? "application/json",
        data: bytes,
        extensions: [],
      },
      token: "",
    };
    const metadata = this.createMetadata(bytes, options);
    const deadlineMs = options.deadlineMs ?? this.deadlineMs;
    const deadline = new Date(Date.now() + deadlineMs);
    return new Promise((resolve, reject) => {
      this.client.ingest(request, metadata, { deadline }, (err, response) =>
        err ? reject(toCallError(err)) : resolve(response),
      );
    });
  }

  /** Closes the channel; calls after this fail with UNAVAILABLE. */
  close(): void {
    this.client.close();
  }

  private createMetadata(bytes: Buffer, options: IngestCallOptions) {
    const metadata = new Metadata();
    metadata.set(SIGNATURE_KEY, signBody(bytes, this.secret));
    metadata.set("x-request-id", options.requestId ?? randomUUID());
    propagator.inject(options.traceContext ?? context.active(), metadata, {
      set: (carrier, key, value) => carrier.set(key, value),
    });
    return metadata;
  }
}

/** W3C, the format the service reads, whatever the caller registered. */
const propagator = new W3CTraceContextPropagator();

/**
 * Creates an IngestClient: `createIngestClient({ address, secret })`.
 * @throws RangeError for an empty address or secret or a bad deadline
 */
export function createIngestClient(options: IngestClientOptions): IngestClient {
  return new IngestClient(options);
}

function checkOptions(options: IngestClientOptions): void {
  if (options.address.trim() === "") {
    throw new RangeError("address: is empty; pass host:port of the service");
  }
  if (options.secret === "") {
    throw new RangeError("secret: is empty; pass one of WEBHOOK_SECRETS");
  }
  const deadlineMs = options.deadlineMs ?? DEFAULT_CLIENT_DEADLINE_MS;
  if (!Number.isInteger(deadlineMs) || deadlineMs <= 0) {
    throw new RangeError(
      `deadlineMs: ${deadlineMs} is not allowed; use a whole number above 0`,
    );
  }
}

/** Serializes once, so the signature covers exactly what is sent. */
function toBytes(alert: AlertInput): Buffer {
  if (typeof alert === "string") return Buffer.from(alert, "utf8");
  if (alert instanceof Uint8Array) return Buffer.from(alert);
  return Buffer.from(JSON.stringify(alert), "utf8");
}

function toCallError(err: ServiceError): IngestCallError {
  const raw = err.metadata?.get("grpc-status-details-bin")[0];
  if (!Buffer.isBuffer(raw)) {
    return new IngestCallError(err.code, "", err.details, "", [], {
      cause: err,
    });
  }
  const { status, info, badRequest } = parseStatusDetails(raw);
  const violations = (badRequest?.fieldViolations ?? []).map((v) => ({
    field: v.field,
    description: v.description,
  }));
  return new IngestCallError(
    err.code,
    info?.reason ?? "",
    status.message,
    info?.metadata.correlationId ?? "",
    violations,
    { cause: err },
  );
}
