import { join } from "node:path";

import { credentials, Metadata, type ServiceError } from "@grpc/grpc-js";
import {
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace";

import { startService, type RunningService } from "../../src/app";
import { signBody } from "../../src/auth";
import { loadConfig } from "../../src/config";
import { parseStatusDetails } from "../../src/errors";
import {
  IngestServiceClient,
  type IngestRequest,
  type IngestResponse,
} from "../../src/gen/tvibkr/ingest/v1/ingest";
import { createLogger } from "../../src/logger";

/** The project root, seen from a compiled test in dist/test/. */
export const ROOT = join(__dirname, "..", "..", "..");

/** Credentials of the test service; long and varied enough to be accepted. */
export const SECRET = "test-secret-0123456789-abcdefghijklmnop";
export const OLD_SECRET = "old-secret-9876543210-zyxwvutsrqponmlkji";
export const TOKEN = "test-token-ABCDEFGHIJKLMNOP";

/** Every JSON line the service logged, parsed. */
export class LogCapture {
  readonly lines: Record<string, unknown>[] = [];
  readonly raw: string[] = [];

  write(line: string): void {
    this.raw.push(line);
    this.lines.push(JSON.parse(line) as Record<string, unknown>);
  }

  /** Lines of one request, found by its correlation id. */
  forCorrelation(correlationId: string): Record<string, unknown>[] {
    return this.lines.filter((l) => l.correlationId === correlationId);
  }
}

export interface TestService {
  service: RunningService;
  grpcPort: number;
  httpPort: number;
  logs: LogCapture;
  spans: InMemorySpanExporter;
  client: IngestServiceClient;
  baseUrl: string;
  stop(): Promise<void>;
}

/**
 * Starts the real service on loopback ports chosen by the OS, with captured
 * logs and spans. `env` overrides the test defaults.
 */
export async function startTestService(
  env: Record<string, string> = {},
): Promise<TestService> {
  const config = loadConfig(createTestEnv(env));
  const logs = new LogCapture();
  const spans = new InMemorySpanExporter();
  const service = await startService(
    config,
    createLogger(config.logLevel, logs),
    { spanProcessors: [new SimpleSpanProcessor({ exporter: spans })], env: {} },
  );
  const client = new IngestServiceClient(
    `127.0.0.1:${service.grpcPort}`,
    credentials.createInsecure(),
  );
  return {
    service,
    grpcPort: service.grpcPort,
    httpPort: service.httpPort ?? 0,
    logs,
    spans,
    client,
    baseUrl: `http://127.0.0.1:${service.httpPort}`,
    stop: async () => {
      client.close();
      await service.shutdown();
    },
  };
}

/** The test service's environment: loopback, port 0, test credentials. */
export function createTestEnv(
  env: Record<string, string> = {},
): Record<string, string> {
  return {
    GRPC_PORT: "0",
    HTTP_PORT: "0",
    WEBHOOK_SECRETS: `${SECRET},${OLD_SECRET}`,
    WEBHOOK_TOKENS: TOKEN,
    LOG_LEVEL: "debug",
    SHUTDOWN_DRAIN_MS: "2000",
    ...env,
  };
}

/** A fresh, valid alert; `overrides` replace or add fields. */
export function makeAlert(
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    ticker: "AAPL",
    action: "buy",
    quantity: "10",
    timestamp: new Date().toISOString().replace(/\.\d{3}Z$/, "Z"),
    order_id: `test-${Math.random().toString(36).slice(2)}`,
    ...overrides,
  };
}

/** The outcome of a gRPC call, with the status details decoded. */
export type GrpcOutcome =
  | { ok: true; response: IngestResponse; metadata?: undefined }
  | {
      ok: false;
      code: number;
      message: string;
      reason?: string;
      correlationId?: string;
      violations: { field: string; description: string }[];
    };

export interface CallOptions {
  contentType?: string;
  token?: string;
  metadata?: Record<string, string>;
  /** Sign with this secret (default SECRET); null sends no signature. */
  secret?: string | null;
  deadlineMs?: number;
}

/**
 * The IngestRequest and metadata a caller sends for `bytes`: signed with
 * SECRET unless `options.secret` says otherwise, JSON unless told.
 */
export function createSignedRequest(
  bytes: Buffer,
  options: CallOptions = {},
): { request: IngestRequest; metadata: Metadata } {
  const metadata = new Metadata();
  const secret = options.secret === undefined ? SECRET : options.secret;
  if (secret !== null) metadata.set("x-signature", signBody(bytes, secret));
  for (const [k, v] of Object.entries(options.metadata ?? {})) {
    metadata.set(k, v);
  }
  const request = {
    body: {
      contentType: options.contentType ?? "application/json",
      data: bytes,
      extensions: [],
    },
    token: options.token ?? "",
  };
  return { request, metadata };
}

/** Calls Ingest over gRPC with `body` exactly as given. */
export function callGrpc(
  client: IngestServiceClient,
  body: string | Buffer,
  options: CallOptions = {},
): Promise<GrpcOutcome> {
  const bytes = typeof body === "string" ? Buffer.from(body) : body;
  const { request, metadata } = createSignedRequest(bytes, options);
  const deadline = new Date(Date.now() + (options.deadlineMs ?? 5000));
  return new Promise((resolve) => {
    client.ingest(request, metadata, { deadline }, (err, response) => {
      if (!err) return resolve({ ok: true, response: response });
      resolve(describeGrpcError(err));
    });
  });
}

function describeGrpcError(err: ServiceError): GrpcOutcome {
  const raw = err.metadata?.get("grpc-status-details-bin")[0];
  const details = Buffer.isBuffer(raw) ? parseStatusDetails(raw) : undefined;
  return {
    ok: false,
    code: err.code,
    message: err.details,
    reason: details?.info?.reason,
    correlationId: details?.info?.metadata.correlationId,
    violations: (details?.badRequest?.fieldViolations ?? []).map((v) => ({
      field: v.field,
      description: v.description,
    })),
  };
}

export interface HttpOutcome {
  status: number;
  json: Record<string, unknown>;
}

/** Posts `body` to the HTTP gateway, signed unless `secret` is null. */
export async function postHttp(
  baseUrl: string,
  body: string | Buffer,
  options: CallOptions & { path?: string } = {},
): Promise<HttpOutcome> {
  const bytes = typeof body === "string" ? Buffer.from(body) : body;
  const headers: Record<string, string> = {
    "content-type": options.contentType ?? "application/json",
    ...options.metadata,
  };
  const secret = options.secret === undefined ? SECRET : options.secret;
  if (secret !== null) headers["x-signature"] = signBody(bytes, secret);
  const path = options.path ?? "/webhook";
  const res = await fetch(baseUrl + path, {
    method: "POST",
    headers,
    body: bytes,
  });
  return { status: res.status, json: (await res.json()) as never };
}

/** The reason in an HTTP error body's ErrorInfo. */
export function httpReason(json: Record<string, unknown>): string | undefined {
  const details = json.details as { reason?: string }[] | undefined;
  return details?.find((d) => d.reason)?.reason;
}
