import { Metadata, type ServiceError } from "@grpc/grpc-js";

import { parseStatusDetails } from "../../src/errors";
import {
  Outcome,
  type IngestServiceClient,
} from "../../src/gen/tvibkr/ingest/v1/ingest";
import type { Credentials } from "./bad-requests";
import { httpReason } from "./harness";

/** One answer, whichever door gave it; `code` is the gRPC status code. */
export interface Answer {
  code: number;
  reason?: string;
  message: string;
  outcome?: "ACCEPTED" | "DUPLICATE";
  idempotencyKey?: string;
  /** Set by the HTTP door only. */
  httpStatus?: number;
}

/** What to send: exact bytes, their content type and the credentials. */
export interface RawRequest {
  body: Buffer;
  contentType: string;
  credentials: Credentials;
  /** Appended to the HTTP path. */
  pathSuffix?: string;
  deadlineMs?: number;
}

/**
 * Calls Ingest over gRPC with the metadata pairs exactly as given (a key
 * may repeat). Never rejects: transport failures are answers too.
 */
export function sendGrpc(
  client: IngestServiceClient,
  request: RawRequest,
): Promise<Answer> {
  const metadata = new Metadata();
  for (const [key, value] of request.credentials.metadata) {
    metadata.add(key, value);
  }
  const message = {
    body: {
      contentType: request.contentType,
      data: request.body,
      extensions: [],
    },
    token: request.credentials.pathToken,
  };
  const deadline = new Date(Date.now() + (request.deadlineMs ?? 10_000));
  return new Promise((resolve) => {
    client.ingest(message, metadata, { deadline }, (err, response) => {
      if (err) return resolve(describeGrpcError(err));
      resolve({
        code: 0,
        message: "",
        outcome: outcomeName(response.outcome),
        idempotencyKey: response.idempotencyKey,
      });
    });
  });
}

function describeGrpcError(err: ServiceError): Answer {
  const raw = err.metadata?.get("grpc-status-details-bin")[0];
  const details = Buffer.isBuffer(raw) ? parseStatusDetails(raw) : undefined;
  return {
    code: err.code,
    reason: details?.info?.reason,
    message: err.details,
  };
}

function outcomeName(outcome: Outcome): Answer["outcome"] {
  if (outcome === Outcome.OUTCOME_ACCEPTED) return "ACCEPTED";
  if (outcome === Outcome.OUTCOME_DUPLICATE) return "DUPLICATE";
  return undefined;
}

/** Posts to the HTTP gateway; repeated metadata keys become repeated headers. */
export async function sendHttp(
  baseUrl: string,
  request: RawRequest,
): Promise<Answer> {
  const headers = new Headers();
  if (request.contentType !== "") {
    headers.set("content-type", request.contentType);
  }
  for (const [key, value] of request.credentials.metadata) {
    headers.append(key, value);
  }
  const token = request.credentials.pathToken;
  const path =
    (token === "" ? "/webhook" : `/webhook/${encodeURIComponent(token)}`) +
    (request.pathSuffix ?? "");
  const res = await fetch(baseUrl + path, {
    method: "POST",
    headers,
    body: request.body,
  });
  const json = (await res.json()) as Record<string, unknown>;
  return describeHttp(res.status, json);
}

function describeHttp(status: number, json: Record<string, unknown>): Answer {
  if (status === 200) {
    return {
      code: 0,
      message: "",
      outcome: outcomeName(Outcome[json.outcome as keyof typeof Outcome]),
      idempotencyKey: json.idempotencyKey as string,
      httpStatus: status,
    };
  }
  return {
    code: json.code as number,
    reason: httpReason(json),
    message: json.message as string,
    httpStatus: status,
  };
}
