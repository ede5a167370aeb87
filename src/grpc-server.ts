import { dirname, join } from "node:path";

import {
  Server,
  ServerCredentials,
  type ServerErrorResponse,
  type ServerUnaryCall,
  type sendUnaryData,
} from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { ReflectionService } from "@grpc/reflection";
import { protoPath as healthProtoPath } from "grpc-health-check";

import { toStatus, toStatusMetadata } from "./errors";
import {
  IngestServiceService,
  type IngestServiceServer,
  type IngestRequest,
  type IngestResponse,
} from "./gen/tvibkr/ingest/v1/ingest";
import type { Health } from "./health";
import type { IngestPipeline } from "./pipeline";

/** Where the .proto sources live, for reflection. */
export const PROTO_ROOT = join(__dirname, "..", "..", "proto");
export const INGEST_PROTO = "tvibkr/ingest/v1/ingest.proto";
const GOOGLE_PROTOS = dirname(
  require.resolve("google-proto-files/package.json"),
);

/**
 * Room for a body at the limit plus metadata-free framing; the pipeline
 * itself answers BODY_TOO_LARGE with details for anything between the body
 * limit and this.
 */
export function maxGrpcMessageBytes(maxBodyBytes: number): number {
  return maxBodyBytes * 2 + 64 * 1024;
}

/**
 * Creates the gRPC server with IngestService, grpc.health.v1 and server
 * reflection (both v1 and v1alpha, which grpcurl still asks for).
 */
export function createGrpcServer(
  pipeline: IngestPipeline,
  health: Health,
  maxBodyBytes: number,
): Server {
  const server = new Server({
    "grpc.max_receive_message_length": maxGrpcMessageBytes(maxBodyBytes),
  });
  const implementation: IngestServiceServer = {
    ingest: (call, callback) => handleIngest(pipeline, call, callback),
  };
  server.addService(IngestServiceService, implementation);
  health.addToServer(server);
  new ReflectionService(loadReflectionPackage()).addToServer(server);
  return server;
}

function handleIngest(
  pipeline: IngestPipeline,
  call: ServerUnaryCall<IngestRequest, IngestResponse>,
  callback: sendUnaryData<IngestResponse>,
): void {
  void pipeline
    .run({
      request: call.request,
      metadata: call.metadata,
      transport: "grpc",
      isCancelled: () => call.cancelled,
    })
    .then((result) => {
      if (result.ok) return callback(null, result.response);
      const status = toStatus(result.error, result.correlationId);
      const error: ServerErrorResponse = {
        name: "IngestError",
        message: status.message,
        code: result.error.code,
        details: status.message,
        metadata: toStatusMetadata(status),
      };
      callback(error);
    });
}

/**
 * proto-loader does the one job ts-proto's output cannot: it yields the
 * file descriptors that the reflection service serves.
 */
function loadReflectionPackage() {
  return loadSync([INGEST_PROTO, healthProtoPath], {
    includeDirs: [PROTO_ROOT, GOOGLE_PROTOS],
  });
}

/** Binds `server` and resolves with the bound port (useful with port 0). */
export function bindGrpcServer(
  server: Server,
  host: string,
  port: number,
): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(
      `${host.includes(":") ? `[${host}]` : host}:${port}`,
      ServerCredentials.createInsecure(),
      (err, boundPort) => (err ? reject(err) : resolve(boundPort)),
    );
  });
}
