import { Server as NetServer } from "node:net";

import type { Server as GrpcServer } from "@grpc/grpc-js";
import type { IMetricReader } from "@opentelemetry/sdk-metrics";
import type { SpanProcessor } from "@opentelemetry/sdk-trace";

import { Authenticator } from "./auth";
import type { Config } from "./config";
import { bindGrpcServer, createGrpcServer } from "./grpc-server";
import { Health, READINESS_SERVICE } from "./health";
import { createHttpGateway, type HttpGateway } from "./http-gateway";
import { listen } from "./http-reply";
import { MemoryIdempotencyStore, type IdempotencyStore } from "./idempotency";
import { IngestMetrics } from "./ingest-metrics";
import type { Logger } from "./logger";
import { createMetrics } from "./metrics";
import { IngestPipeline } from "./pipeline";
import { StandardWebhookVerifier } from "./standard-webhooks";
import { createTracing } from "./tracing";

/** What tests and embedders may replace; everything else comes from Config. */
export interface ServiceOverrides {
  store?: IdempotencyStore;
  spanProcessors?: SpanProcessor[];
  metricReaders?: IMetricReader[];
  now?: () => number;
  env?: Readonly<Record<string, string | undefined>>;
}

/** A running service. */
export interface RunningService {
  grpcPort: number;
  /** Undefined when the HTTP gateway is off. */
  httpPort: number | undefined;
  /** The Prometheus scrape port; undefined when METRICS_PORT is unset. */
  metricsPort: number | undefined;
  health: Health;
  /**
   * Turns readiness off, stops taking new calls, lets in-flight calls finish
   * within the drain deadline, then closes everything. Safe to call twice.
   */
  shutdown(): Promise<void>;
}

/**
 * Starts gRPC (and the HTTP gateway and the metrics endpoint when enabled).
 * Readiness turns SERVING only once every listener is bound.
 */
export async function startService(
  config: Config,
  logger: Logger,
  overrides: ServiceOverrides = {},
): Promise<RunningService> {
  const tracing = createTracing({
    serviceName: config.serviceName,
    env: overrides.env ?? process.env,
    spanProcessors: overrides.spanProcessors,
  });
  const metrics = await createMetrics({
    serviceName: config.serviceName,
    env: overrides.env ?? process.env,
    host: config.metricsHost,
    port: config.metricsPort,
    readers: overrides.metricReaders,
  });
  const instruments = new IngestMetrics(metrics.meter);
  const store = overrides.store ?? createStore(config, logger);
  instruments.observeStore(store);
  const pipeline = new IngestPipeline({
    authenticator: new Authenticator(
      config.webhookSecrets,
      config.webhookTokens,
      new StandardWebhookVerifier(config.standardWebhookKeys, {
        toleranceSeconds: config.timestampToleranceSeconds,
      }),
    ),
    store,
    tracer: tracing.tracer,
    logger: logger.child({ component: "pipeline" }),
    maxBodyBytes: config.maxBodyBytes,
    timestampToleranceSeconds: config.timestampToleranceSeconds,
    now: overrides.now,
    metrics: instruments,
  });
  const health = new Health();
  const grpcServer = createGrpcServer(pipeline, health, config.maxBodyBytes);
  const grpcPort = await bindGrpcServer(
    grpcServer,
    config.grpcHost,
    config.grpcPort,
  );
  const gateway = config.httpEnabled
    ? createHttpGateway({
        pipeline,
        health,
        maxBodyBytes: config.maxBodyBytes,
        requestTimeoutMs: config.httpRequestTimeoutMs,
        logger: logger.child({ component: "gateway" }),
      })
    : undefined;
  const httpPort = gateway
    ? await listen(gateway.server, config.httpHost, config.httpPort)
    : undefined;
  health.set(READINESS_SERVICE, "SERVING");

  let stopping: Promise<void> | undefined;
  const shutdown = () => {
    stopping ??= stop({ health, grpcServer, gateway, config, logger })
      .then(() => Promise.all([tracing.shutdown(), metrics.shutdown()]))
      .then(() => undefined);
    return stopping;
  };
  return { grpcPort, httpPort, metricsPort: metrics.port, health, shutdown };
}

function createStore(config: Config, logger: Logger): MemoryIdempotencyStore {
  const storeLogger = logger.child({ component: "idempotency" });
  return new MemoryIdempotencyStore({
    ttlMs: config.idempotencyTtlSeconds * 1000,
    maxKeys: config.idempotencyMaxKeys,
    onEarlyEviction: (count) => {
      storeLogger.warn(
        { evictedBeforeTtl: count, maxKeys: config.idempotencyMaxKeys },
        "idempotency store is full; keys were dropped before their TTL, " +
          "so a late resend of those signals would be accepted again",
      );
    },
  });
}

interface StopParts {
  health: Health;
  grpcServer: GrpcServer;
  gateway: HttpGateway | undefined;
  config: Config;
  logger: Logger;
}

async function stop(parts: StopParts): Promise<void> {
  const { health, grpcServer, gateway, config, logger } = parts;
  health.set(READINESS_SERVICE, "NOT_SERVING");
  health.endWatches();
  logger.info({ drainMs: config.shutdownDrainMs }, "shutting down");
  gateway?.startDraining();
  const deadline = setTimeout(() => {
    logger.warn("drain deadline passed; cutting remaining calls off");
    grpcServer.forceShutdown();
    gateway?.server.closeAllConnections();
  }, config.shutdownDrainMs);
  await Promise.all([
    new Promise<void>((resolve) => grpcServer.tryShutdown(() => resolve())),
    gateway ? closeHttp(gateway) : Promise.resolve(),
  ]);
  clearTimeout(deadline);
  health.set("", "NOT_SERVING");
  logger.info("stopped");
}

/**
 * How long idle keep-alive connections stay open once draining starts. A
 * busy client sends its next request within it and gets a clean 503 with
 * `connection: close`; only connections idle all that time are closed.
 */
const IDLE_CLOSE_GRACE_MS = 500;

/**
 * Stops listening and resolves once every connection has closed. Node's
 * http Server.close would also destroy idle keep-alive connections at once,
 * resetting a client whose next request is already on the wire; they are
 * closed only after IDLE_CLOSE_GRACE_MS, and the drain deadline still
 * closes whatever is left.
 */
function closeHttp(gateway: HttpGateway): Promise<void> {
  const closeIdle = () => gateway.server.closeIdleConnections();
  const grace = setTimeout(closeIdle, IDLE_CLOSE_GRACE_MS);
  return new Promise((resolve) => {
    NetServer.prototype.close.call(gateway.server, () => {
      clearTimeout(grace);
      resolve();
    });
  });
}
