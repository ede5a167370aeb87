import { connect } from "node:net";

import type { ServiceError } from "@grpc/grpc-js";

import { DEFAULT_MAX_BODY_BYTES } from "../../src/config";
import { parseStatusDetails } from "../../src/errors";
import { BadRequest, ErrorInfo } from "../../src/gen/google/rpc/error_details";
import {
  createSignedRequest,
  postHttp,
  startTestService,
  TOKEN,
  type TestService,
} from "./harness";

/** One reply as a client saw it: HTTP status and JSON body. */
export interface Reply {
  status: number;
  json: Record<string, unknown>;
}

/**
 * Every reply the OpenAPI document shows, keyed by response and example
 * name (`Ingested.accepted`), captured from running services. `alert` is
 * the request example to send; it must be fresh.
 */
export async function captureReplies(
  svc: TestService,
  alert: Record<string, unknown>,
): Promise<Record<string, Reply>> {
  const body = JSON.stringify(alert);
  const tooLarge = "x".repeat(DEFAULT_MAX_BODY_BYTES + 1);
  const viaToken = { secret: null, path: `/webhook/${TOKEN}` } as const;
  const replies: Record<string, Reply> = {
    "Ingested.accepted": await postHttp(svc.baseUrl, body, viaToken),
    "Ingested.duplicate": await postHttp(svc.baseUrl, body, viaToken),
    "InvalidArgument.fieldInvalid": await postHttp(
      svc.baseUrl,
      JSON.stringify({ ...alert, action: "hold" }),
    ),
    "Unauthenticated.signatureMismatch": await postHttp(svc.baseUrl, body, {
      secret: "not-the-secret-0123456789-abcdefghijkl",
    }),
    "PayloadTooLarge.bodyTooLarge": await postHttp(svc.baseUrl, tooLarge),
    "ResourceExhausted.bodyTooLarge": await callGrpcAsEnvoy(svc, tooLarge),
    "Serving.serving": await getJson(`${svc.baseUrl}/health`),
  };
  return { ...replies, ...(await captureDuringShutdown()) };
}

/**
 * Calls Ingest over gRPC and renders the status as Envoy's transcoder does
 * (convert_grpc_status): the HTTP status Envoy maps the code to, and the
 * proto3 JSON form of the google.rpc.Status from grpc-status-details-bin.
 * Rendered here from the wire bytes, not by the gateway's own code.
 */
async function callGrpcAsEnvoy(svc: TestService, body: string): Promise<Reply> {
  const { request, metadata } = createSignedRequest(Buffer.from(body));
  const err = await new Promise<ServiceError | null>((resolve) => {
    const deadline = Date.now() + 5000;
    svc.client.ingest(request, metadata, { deadline }, (e) => resolve(e));
  });
  if (!err) throw new Error("expected the gRPC call to fail");
  const raw = err.metadata.get("grpc-status-details-bin")[0] as Buffer;
  const { status } = parseStatusDetails(raw);
  const details = status.details.map((any) => ({
    "@type": any.typeUrl,
    ...(any.typeUrl.endsWith(".ErrorInfo")
      ? (ErrorInfo.toJSON(ErrorInfo.decode(any.value)) as object)
      : (BadRequest.toJSON(BadRequest.decode(any.value)) as object)),
  }));
  return {
    status: ENVOY_HTTP_STATUS[status.code] ?? 500,
    json: { code: status.code, message: status.message, details },
  };
}

/** Envoy's gRPC-to-HTTP mapping for the codes captured here. */
const ENVOY_HTTP_STATUS: Record<number, number> = { 8: 429 };

async function getJson(url: string): Promise<Reply> {
  const res = await fetch(url);
  return { status: res.status, json: (await res.json()) as never };
}

/**
 * Replies of a service that is shutting down: `POST /webhook` and
 * `GET /ready` sent once draining has begun, on connections opened before.
 */
async function captureDuringShutdown(): Promise<Record<string, Reply>> {
  const svc = await startTestService();
  const webhook = await openHeldRequest(svc.httpPort, "POST /webhook");
  const ready = await openHeldRequest(svc.httpPort, "GET /ready");
  const stopped = svc.stop();
  const replies = {
    "Unavailable.shuttingDown": await webhook.finish(
      "content-type: application/json\r\ncontent-length: 2\r\n\r\n{}",
    ),
    "NotServing.notServing": await ready.finish("\r\n"),
  };
  await stopped;
  return replies;
}

interface HeldRequest {
  /** Sends the rest of the request and resolves with the last reply. */
  finish(rest: string): Promise<Reply>;
}

/**
 * Opens a keep-alive connection and starts a request without finishing its
 * headers. A GET /health goes first in the same write: once its reply is
 * back, the server has read the held request's first bytes too, so the
 * connection counts as busy and survives the shutdown's closing of idle
 * ones, and the held request is routed only when `finish` completes it.
 */
function openHeldRequest(port: number, requestLine: string) {
  const socket = connect(port, "127.0.0.1");
  let received = Buffer.alloc(0);
  socket.on("data", (chunk: Buffer) => {
    received = Buffer.concat([received, chunk]);
  });
  const ended = new Promise<void>((resolve, reject) => {
    socket.on("end", resolve);
    socket.on("error", reject);
  });
  const host = `host: 127.0.0.1:${port}\r\n`;
  socket.write(
    `GET /health HTTP/1.1\r\n${host}\r\n${requestLine} HTTP/1.1\r\n${host}`,
  );
  return new Promise<HeldRequest>((resolve, reject) => {
    const onData = () => {
      if (parseReplies(received).length === 0) return;
      socket.off("data", onData);
      resolve({
        finish: async (rest) => {
          socket.write(rest);
          await ended;
          return parseReplies(received).at(-1)!;
        },
      });
    };
    socket.on("data", onData);
    socket.on("error", reject);
  });
}

/** Splits HTTP/1.1 replies that each carry a content-length. */
function parseReplies(bytes: Buffer): Reply[] {
  const replies: Reply[] = [];
  let rest = bytes;
  for (;;) {
    const headEnd = rest.indexOf("\r\n\r\n");
    if (headEnd < 0) return replies;
    const head = rest.subarray(0, headEnd).toString("latin1");
    const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
    const bodyEnd = headEnd + 4 + length;
    if (rest.length < bodyEnd) return replies;
    replies.push({
      status: Number(head.split(" ")[1]),
      json: JSON.parse(rest.subarray(headEnd + 4, bodyEnd).toString("utf8")),
    });
    rest = rest.subarray(bodyEnd);
  }
}
