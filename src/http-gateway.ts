import { randomUUID } from "node:crypto";
import {
  STATUS_CODES,
  createServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";

import type { Duplex } from "node:stream";

import { status as GrpcCode, Metadata } from "@grpc/grpc-js";

import { isDocsPath, serveDocs } from "./docs";
import { httpStatusOf, IngestError, Reason, toStatusJson } from "./errors";
import { IngestResponse } from "./gen/tvibkr/ingest/v1/ingest";
import { LIVENESS_SERVICE, READINESS_SERVICE, type Health } from "./health";
import { refuseUnlessGet, sendHttpError, sendJson } from "./http-reply";
import type { Logger } from "./logger";
import type { IngestPipeline } from "./pipeline";

export interface GatewayOptions {
  pipeline: IngestPipeline;
  health: Health;
  maxBodyBytes: number;
  /** The whole request, headers and body, must arrive within this. */
  requestTimeoutMs: number;
  /** Where refusals of the gateway itself are logged, one line each. */
  logger: Logger;
}

/**
 * Headers that describe one HTTP hop, not the request; Envoy does not pass
 * them upstream as metadata either.
 */
const HOP_HEADERS = new Set([
  "connection",
  "keep-alive",
  "transfer-encoding",
  "upgrade",
  "te",
  "proxy-connection",
  "content-length",
  "content-type",
  "host",
]);
const WEBHOOK_PATH = /^\/webhook(?:\/([^/]+))?$/;
/** How often node checks connections against the request timeout. */
const TIMEOUT_CHECK_INTERVAL_MS = 250;

/** The built-in HTTP gateway; see createHttpGateway. */
export interface HttpGateway {
  server: Server;
  /** Makes keep-alive requests answer 503 and close while shutting down. */
  startDraining(): void;
}

/**
 * Creates the HTTP gateway for running without Envoy. `POST /webhook` and
 * `POST /webhook/{token}` become an IngestRequest built as Envoy's gRPC-JSON
 * transcoder builds it (the body and its Content-Type in an HttpBody, every
 * header as metadata, an x-request-id added) and run through the same
 * pipeline in-process. Replies use Envoy's status mapping and JSON.
 */
export function createHttpGateway(options: GatewayOptions): HttpGateway {
  let draining = false;
  const server = createServer(
    {
      requestTimeout: options.requestTimeoutMs,
      headersTimeout: options.requestTimeoutMs,
      connectionsCheckingInterval: TIMEOUT_CHECK_INTERVAL_MS,
    },
    (req, res) => {
      if (draining) res.setHeader("connection", "close");
      route(options, req, res, draining).catch((err: unknown) => {
        res.destroy(err instanceof Error ? err : undefined);
      });
    },
  );
  server.on("clientError", (err: NodeJS.ErrnoException, socket: Duplex) =>
    answerClientError(err, socket, options.requestTimeoutMs),
  );
  return { server, startDraining: () => void (draining = true) };
}

/**
 * Answers what node's HTTP parser refuses before any handler runs (a
 * request too slow to arrive, malformed HTTP) in the same JSON shape as
 * every other error, instead of node's bare status line, then closes.
 */
function answerClientError(
  err: NodeJS.ErrnoException,
  socket: Duplex,
  requestTimeoutMs: number,
): void {
  if (!socket.writable || err.code === "ECONNRESET") {
    socket.destroy();
    return;
  }
  const timedOut = err.code === "ERR_HTTP_REQUEST_TIMEOUT";
  const status = timedOut ? 408 : 400;
  const error = timedOut
    ? new IngestError(
        GrpcCode.DEADLINE_EXCEEDED,
        Reason.requestTimeout,
        `the request did not arrive within ${requestTimeoutMs} ms`,
      )
    : new IngestError(
        GrpcCode.INVALID_ARGUMENT,
        Reason.requestMalformed,
        "the request is not valid HTTP/1.1",
      );
  const body = JSON.stringify(toStatusJson(error, ""));
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n` +
      "content-type: application/json\r\n" +
      `content-length: ${Buffer.byteLength(body)}\r\n` +
      `connection: close\r\n\r\n${body}`,
  );
}

async function route(
  options: GatewayOptions,
  req: IncomingMessage,
  res: ServerResponse,
  draining: boolean,
): Promise<void> {
  const url = new URL(req.url ?? "/", "http://gateway");
  if (url.pathname === "/health" || url.pathname === "/ready") {
    return answerHealth(options.health, url.pathname, req, res);
  }
  if (isDocsPath(url.pathname)) return serveDocs(req, res, url.pathname);
  const match = WEBHOOK_PATH.exec(url.pathname);
  if (!match) {
    return rejectRequest(
      options,
      req,
      res,
      404,
      Reason.routeNotFound,
      "no route; POST to /webhook or /webhook/{token}",
    );
  }
  if (req.method !== "POST") {
    res.setHeader("allow", "POST");
    return rejectRequest(
      options,
      req,
      res,
      405,
      Reason.methodNotAllowed,
      `${req.method} is not allowed; use POST`,
    );
  }
  if (url.search !== "") {
    return rejectRequest(
      options,
      req,
      res,
      400,
      Reason.queryNotAllowed,
      "query parameters are not accepted; put the token in the path",
    );
  }
  if (draining) {
    return rejectRequest(
      options,
      req,
      res,
      503,
      Reason.shuttingDown,
      "the service is shutting down; retry shortly",
    );
  }
  const body = await readBody(req, options.maxBodyBytes);
  if (body === undefined) {
    res.setHeader("connection", "close");
    return rejectRequest(
      options,
      req,
      res,
      413,
      Reason.bodyTooLarge,
      `body exceeds ${options.maxBodyBytes} bytes`,
    );
  }
  await answerIngest(options, req, res, body, decodeToken(match[1]));
}

async function answerIngest(
  options: GatewayOptions,
  req: IncomingMessage,
  res: ServerResponse,
  body: Buffer,
  token: string | undefined,
): Promise<void> {
  if (token === undefined) {
    return rejectRequest(
      options,
      req,
      res,
      400,
      Reason.pathTokenInvalid,
      "the path token is not valid percent-encoding",
    );
  }
  const result = await options.pipeline.run({
    request: {
      body: {
        contentType: req.headers["content-type"] ?? "",
        data: body,
        extensions: [],
      },
      token,
    },
    metadata: toMetadata(req),
    transport: "http",
    isCancelled: () => req.destroyed && !req.complete,
  });
  if (result.ok) {
    return sendJson(res, 200, IngestResponse.toJSON(result.response));
  }
  const status = httpStatusOf(result.error.code);
  sendJson(res, status, toStatusJson(result.error, result.correlationId));
}

/**
 * Every header becomes metadata, as Envoy's transcoder forwards them, and
 * an x-request-id is added when the client sent none. Headers gRPC cannot
 * carry (binary -bin keys, reserved grpc- keys, non-ASCII values) are left
 * out rather than failing the request.
 */
export function toMetadata(req: IncomingMessage): Metadata {
  const metadata = new Metadata();
  for (const [key, value] of Object.entries(req.headers)) {
    if (HOP_HEADERS.has(key) || key.startsWith("grpc-")) continue;
    if (key.endsWith("-bin") || value === undefined) continue;
    for (const item of Array.isArray(value) ? value : [value]) {
      try {
        metadata.add(key, item);
      } catch {
        // grpc-js refuses keys and values gRPC cannot carry; so would Envoy.
      }
    }
  }
  if (metadata.get("x-request-id").length === 0) {
    metadata.set("x-request-id", randomUUID());
  }
  return metadata;
}

function decodeToken(raw: string | undefined): string | undefined {
  if (raw === undefined) return "";
  try {
    return decodeURIComponent(raw);
  } catch {
    return undefined;
  }
}

/** Reads the body, or resolves undefined once it passes `maxBytes`. */
function readBody(
  req: IncomingMessage,
  maxBytes: number,
): Promise<Buffer | undefined> {
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > maxBytes) {
    req.resume();
    return Promise.resolve(undefined);
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        req.removeAllListeners("data");
        req.resume();
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

function answerHealth(
  health: Health,
  path: string,
  req: IncomingMessage,
  res: ServerResponse,
): void {
  if (refuseUnlessGet(req, res)) return;
  const service = path === "/health" ? LIVENESS_SERVICE : READINESS_SERVICE;
  const status = health.get(service);
  sendJson(res, status === "SERVING" ? 200 : 503, { status });
}

/**
 * Refuses a request before it reaches the pipeline, with one log line like
 * the pipeline's. The path is never logged: it may hold a token.
 */
function rejectRequest(
  options: GatewayOptions,
  req: IncomingMessage,
  res: ServerResponse,
  httpStatus: number,
  reason: Reason,
  message: string,
): void {
  const requestId = req.headers["x-request-id"];
  options.logger.info(
    {
      event: "gateway.rejected",
      outcome: "rejected",
      reason,
      httpStatus,
      method: req.method,
      requestId: typeof requestId === "string" ? requestId : undefined,
      transport: "http",
    },
    "request rejected by the gateway",
  );
  sendHttpError(res, httpStatus, reason, message);
}
