import {
  createServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";

import type { Meter } from "@opentelemetry/api";
import { OTLPMetricExporter } from "@opentelemetry/exporter-metrics-otlp-http";
import { PrometheusExporter } from "@opentelemetry/exporter-prometheus";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  MeterProvider,
  PeriodicExportingMetricReader,
  type IMetricReader,
} from "@opentelemetry/sdk-metrics";
import { ATTR_SERVICE_NAME } from "@opentelemetry/semantic-conventions";

import { listen } from "./http-reply";
import { isOtlpExportEnabled } from "./tracing";

/** The path Prometheus scrapes on the metrics port. */
export const METRICS_PATH = "/metrics";

/** The meter of one running service, its scrape port and how to stop. */
export interface Metrics {
  meter: Meter;
  /** The bound scrape port; undefined when the endpoint is off. */
  port: number | undefined;
  /** Closes the scrape endpoint, then flushes and stops every reader. */
  shutdown(): Promise<void>;
}

export interface MetricsOptions {
  serviceName: string;
  env: Readonly<Record<string, string | undefined>>;
  /** Where the scrape endpoint listens; `port` undefined keeps it off. */
  host: string;
  port: number | undefined;
  /** Extra readers, such as an in-memory one in tests. */
  readers?: IMetricReader[];
}

/**
 * Creates the meter provider. A Prometheus scrape endpoint (GET /metrics)
 * listens on its own port when `port` is set, 0 letting the OS choose.
 * Metrics are pushed over OTLP/HTTP when the standard
 * OTEL_EXPORTER_OTLP_ENDPOINT (or _METRICS_ENDPOINT) is set; the exporter
 * reads the rest of the OTEL_EXPORTER_OTLP_* variables itself. Nothing is
 * registered globally, so several services can share a process.
 * @throws when the scrape port cannot be bound
 */
export async function createMetrics(options: MetricsOptions): Promise<Metrics> {
  const readers = [...(options.readers ?? [])];
  const prometheus =
    options.port === undefined
      ? undefined
      : new PrometheusExporter({ preventServerStart: true });
  if (prometheus) readers.push(prometheus);
  if (isOtlpExportEnabled(options.env, "METRICS")) {
    readers.push(
      new PeriodicExportingMetricReader({ exporter: new OTLPMetricExporter() }),
    );
  }
  const provider = new MeterProvider({
    resource: resourceFromAttributes({
      [ATTR_SERVICE_NAME]: options.serviceName,
    }),
    readers,
  });
  const server = prometheus ? createScrapeServer(prometheus) : undefined;
  const port = server
    ? await listen(server, options.host, options.port ?? 0).catch(
        async (err: unknown) => {
          await provider.shutdown();
          throw err;
        },
      )
    : undefined;
  return {
    meter: provider.getMeter("tv-ibkr-ingest"),
    port,
    shutdown: async () => {
      if (server) await closeServer(server);
      await provider.shutdown();
    },
  };
}

/**
 * The exporter's own server cannot listen on port 0 and report the port,
 * so it only renders; this server owns the socket.
 */
function createScrapeServer(prometheus: PrometheusExporter): Server {
  return createServer((req, res) => answerScrape(prometheus, req, res));
}

function answerScrape(
  prometheus: PrometheusExporter,
  req: IncomingMessage,
  res: ServerResponse,
): void {
  const path = new URL(req.url ?? "/", "http://metrics").pathname;
  if (path !== METRICS_PATH) {
    return sendText(res, 404, `no route; GET ${METRICS_PATH}`);
  }
  if (req.method !== "GET" && req.method !== "HEAD") {
    res.setHeader("allow", "GET, HEAD");
    return sendText(res, 405, `${req.method} is not allowed; use GET`);
  }
  prometheus.getMetricsRequestHandler(req, res);
}

function sendText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { "content-type": "text/plain; charset=utf-8" });
  res.end(`${text}\n`);
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
