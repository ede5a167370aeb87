import type { AddressInfo } from "node:net";
import type { IncomingMessage, Server, ServerResponse } from "node:http";

import { status as GrpcCode } from "@grpc/grpc-js";

import { IngestError, Reason, toStatusJson } from "./errors";

/** Writes `body` as a JSON reply with its length. */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
  });
  res.end(text);
}

/**
 * Answers an error of an HTTP route itself (no route, wrong method, body
 * too large) in the same JSON shape as the pipeline's statuses.
 */
export function sendHttpError(
  res: ServerResponse,
  httpStatus: number,
  reason: Reason,
  message: string,
): void {
  const code = GRPC_CODE_BY_HTTP_STATUS[httpStatus] ?? GrpcCode.UNKNOWN;
  const error = new IngestError(code, reason, message);
  sendJson(res, httpStatus, toStatusJson(error, ""));
}

const GRPC_CODE_BY_HTTP_STATUS: Record<number, GrpcCode> = {
  400: GrpcCode.INVALID_ARGUMENT,
  404: GrpcCode.NOT_FOUND,
  405: GrpcCode.UNIMPLEMENTED,
  413: GrpcCode.RESOURCE_EXHAUSTED,
  503: GrpcCode.UNAVAILABLE,
};

/**
 * Answers 405 to anything but GET and HEAD, for read-only routes; returns
 * whether it did.
 */
export function refuseUnlessGet(
  req: IncomingMessage,
  res: ServerResponse,
): boolean {
  if (req.method === "GET" || req.method === "HEAD") return false;
  res.setHeader("allow", "GET, HEAD");
  sendHttpError(
    res,
    405,
    Reason.methodNotAllowed,
    `${req.method} is not allowed; use GET`,
  );
  return true;
}

/** Starts `server` listening; resolves with the bound port (for port 0). */
export function listen(
  server: Server,
  host: string,
  port: number,
): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}
