import {
  Server,
  ServerCredentials,
  type sendUnaryData,
  type ServerUnaryCall,
  type ServiceDefinition,
} from "@grpc/grpc-js";

/**
 * The baseline: a bare grpc-js unary server on Ingest's method path that
 * returns the request bytes as they came, with no decoding at all.
 */
const identity = (bytes: Buffer) => bytes;
const ECHO: ServiceDefinition = {
  ingest: {
    path: "/tvibkr.ingest.v1.IngestService/Ingest",
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
};

function echo(
  call: ServerUnaryCall<Buffer, Buffer>,
  callback: sendUnaryData<Buffer>,
): void {
  callback(null, call.request);
}

const server = new Server();
server.addService(ECHO, { ingest: echo });
server.bindAsync(
  "127.0.0.1:0",
  ServerCredentials.createInsecure(),
  (err, port) => {
    if (err) throw err;
    process.stdout.write(`${JSON.stringify({ msg: "ready", port })}\n`);
  },
);
process.once("SIGTERM", () => server.tryShutdown(() => process.exit(0)));
