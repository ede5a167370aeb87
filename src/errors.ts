import { status as GrpcCode, Metadata } from "@grpc/grpc-js";

import { Any } from "./gen/google/protobuf/any";
import { BadRequest, ErrorInfo } from "./gen/google/rpc/error_details";
import { Status } from "./gen/google/rpc/status";

/** The ErrorInfo domain of every error this service sends. */
export const ERROR_DOMAIN = "tv-ibkr-ingest";

/**
 * Stable reasons, sent as google.rpc.ErrorInfo.reason. Clients branch on these,
 * never on messages, so a reason is renamed only with a new API version.
 */
export const Reason = {
  credentialsMissing: "CREDENTIALS_MISSING",
  signatureMalformed: "SIGNATURE_MALFORMED",
  signatureMismatch: "SIGNATURE_MISMATCH",
  tokenMismatch: "TOKEN_MISMATCH",
  tokenUnreadable: "TOKEN_UNREADABLE",
  bodyTooLarge: "BODY_TOO_LARGE",
  contentTypeUnsupported: "CONTENT_TYPE_UNSUPPORTED",
  bodyEmpty: "BODY_EMPTY",
  bodyEncoding: "BODY_ENCODING",
  bodySyntax: "BODY_SYNTAX",
  bodyNotObject: "BODY_NOT_OBJECT",
  duplicateKey: "DUPLICATE_KEY",
  forbiddenKey: "FORBIDDEN_KEY",
  unknownField: "UNKNOWN_FIELD",
  placeholderUnfilled: "PLACEHOLDER_UNFILLED",
  fieldInvalid: "FIELD_INVALID",
  timestampStale: "TIMESTAMP_STALE",
  timestampFuture: "TIMESTAMP_FUTURE",
  shuttingDown: "SHUTTING_DOWN",
  routeNotFound: "ROUTE_NOT_FOUND",
  methodNotAllowed: "METHOD_NOT_ALLOWED",
  queryNotAllowed: "QUERY_NOT_ALLOWED",
  pathTokenInvalid: "PATH_TOKEN_INVALID",
  requestTimeout: "REQUEST_TIMEOUT",
  requestMalformed: "REQUEST_MALFORMED",
  cancelled: "CANCELLED",
  internal: "INTERNAL",
} as const;

export type Reason = (typeof Reason)[keyof typeof Reason];

/** One offending field, sent as a google.rpc.BadRequest field violation. */
export interface FieldViolation {
  field: string;
  description: string;
}

/**
 * The one error type of the service: a gRPC code, a stable reason and a
 * message that names the field, what was wrong and what is allowed. Messages
 * follow one form: lowercase, no final period.
 */
export class IngestError extends Error {
  override readonly name = "IngestError";

  constructor(
    readonly code: GrpcCode,
    readonly reason: Reason,
    message: string,
    readonly violations: readonly FieldViolation[] = [],
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Creates the INVALID_ARGUMENT error for payload problems. */
export function invalidPayload(
  reason: Reason,
  violations: readonly FieldViolation[],
): IngestError {
  const message = violations
    .map((v) => (v.field ? `${v.field}: ${v.description}` : v.description))
    .join("; ");
  return new IngestError(
    GrpcCode.INVALID_ARGUMENT,
    reason,
    message,
    violations,
  );
}

/** Creates the UNAUTHENTICATED error; its message reveals nothing secret. */
export function unauthenticated(reason: Reason, message: string): IngestError {
  return new IngestError(GrpcCode.UNAUTHENTICATED, reason, message);
}

/**
 * Turns anything thrown into an IngestError. An unexpected error becomes
 * INTERNAL with a fixed message: its cause is logged, never sent back.
 */
export function toIngestError(err: unknown): IngestError {
  if (err instanceof IngestError) return err;
  return new IngestError(
    GrpcCode.INTERNAL,
    Reason.internal,
    "internal error; the signal was not accepted, retry is safe",
    [],
    { cause: err },
  );
}

/** Builds the google.rpc.Status that describes `err`. */
export function toStatus(err: IngestError, correlationId: string): Status {
  const info = ErrorInfo.encode({
    reason: err.reason,
    domain: ERROR_DOMAIN,
    metadata: { correlationId },
  }).finish();
  const details: Any[] = [
    { typeUrl: typeUrl("google.rpc.ErrorInfo"), value: Buffer.from(info) },
  ];
  if (err.violations.length > 0) {
    const bad = BadRequest.encode({
      fieldViolations: err.violations.map((v) => ({
        field: v.field,
        description: v.description,
        reason: "",
        localizedMessage: undefined,
      })),
    }).finish();
    details.push({
      typeUrl: typeUrl("google.rpc.BadRequest"),
      value: Buffer.from(bad),
    });
  }
  return { code: err.code, message: err.message, details };
}

/** Metadata carrying the status as grpc-status-details-bin. */
export function toStatusMetadata(status: Status): Metadata {
  const metadata = new Metadata();
  const bytes = Status.encode(status).finish();
  metadata.set("grpc-status-details-bin", Buffer.from(bytes));
  return metadata;
}

/**
 * The JSON Envoy's transcoder renders for a status with convert_grpc_status:
 * the proto3 JSON form of google.rpc.Status, details as typed Any objects,
 * fields at their default ("" and empty maps) left out as protobuf does.
 */
export function toStatusJson(err: IngestError, correlationId: string) {
  const details: Record<string, unknown>[] = [
    {
      "@type": typeUrl("google.rpc.ErrorInfo"),
      reason: err.reason,
      domain: ERROR_DOMAIN,
      ...(correlationId ? { metadata: { correlationId } } : {}),
    },
  ];
  if (err.violations.length > 0) {
    details.push({
      "@type": typeUrl("google.rpc.BadRequest"),
      fieldViolations: err.violations.map(({ field, description }) =>
        field ? { field, description } : { description },
      ),
    });
  }
  return { code: err.code, message: err.message, details };
}

/** Decodes grpc-status-details-bin back into reason and violations. */
export function parseStatusDetails(bytes: Buffer): {
  status: Status;
  info?: ErrorInfo;
  badRequest?: BadRequest;
} {
  const status = Status.decode(bytes);
  let info: ErrorInfo | undefined;
  let badRequest: BadRequest | undefined;
  for (const any of status.details) {
    if (any.typeUrl === typeUrl("google.rpc.ErrorInfo")) {
      info = ErrorInfo.decode(any.value);
    } else if (any.typeUrl === typeUrl("google.rpc.BadRequest")) {
      badRequest = BadRequest.decode(any.value);
    }
  }
  return { status, info, badRequest };
}

function typeUrl(name: string): string {
  return `type.googleapis.com/${name}`;
}

/**
 * Envoy's mapping from gRPC code to HTTP status (Grpc::Utility::
 * grpcToHttpStatus), so both doors answer alike.
 */
export function httpStatusOf(code: GrpcCode): number {
  return HTTP_STATUS_BY_CODE[code] ?? 500;
}

const HTTP_STATUS_BY_CODE: Partial<Record<GrpcCode, number>> = {
  [GrpcCode.OK]: 200,
  [GrpcCode.CANCELLED]: 499,
  [GrpcCode.UNKNOWN]: 500,
  [GrpcCode.INVALID_ARGUMENT]: 400,
  [GrpcCode.DEADLINE_EXCEEDED]: 504,
  [GrpcCode.NOT_FOUND]: 404,
  [GrpcCode.ALREADY_EXISTS]: 409,
  [GrpcCode.PERMISSION_DENIED]: 403,
  [GrpcCode.RESOURCE_EXHAUSTED]: 429,
  [GrpcCode.FAILED_PRECONDITION]: 400,
  [GrpcCode.ABORTED]: 409,
  [GrpcCode.OUT_OF_RANGE]: 400,
  [GrpcCode.UNIMPLEMENTED]: 501,
  [GrpcCode.INTERNAL]: 500,
  [GrpcCode.UNAVAILABLE]: 503,
  [GrpcCode.DATA_LOSS]: 500,
  [GrpcCode.UNAUTHENTICATED]: 401,
};
