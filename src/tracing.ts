import {
  ROOT_CONTEXT,
  type Context,
  type TextMapGetter,
  type Tracer,
} from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  BatchSpanProcessor,
  TracerProvider,
  type SpanProcessor,
} from "@opentelemetry/sdk-trace";
import { ATTR_SERVICE_NAME } from "@opentelemetry/semantic-conventions";
import type { Metadata } from "@grpc/grpc-js";

/** The tracer of one running service and how to flush it at the end. */
export interface Tracing {
  tracer: Tracer;
  shutdown(): Promise<void>;
}

export interface TracingOptions {
  serviceName: string;
  env: Readonly<Record<string, string | undefined>>;
  /** Extra processors, such as an in-memory exporter in tests. */
  spanProcessors?: SpanProcessor[];
}

/**
 * Creates the tracer provider. Spans always get ids, since the trace id is
 * the correlation id; they leave the process only when the standard
 * OTEL_EXPORTER_OTLP_ENDPOINT (or _TRACES_ENDPOINT) is set, through OTLP over
 * HTTP, which reads the rest of the OTEL_EXPORTER_OTLP_* variables itself.
 * Nothing is registered globally, so several services can share a process.
 */
export function createTracing(options: TracingOptions): Tracing {
  const processors = [...(options.spanProcessors ?? [])];
  const { env } = options;
  if (isOtlpExportEnabled(env, "TRACES")) {
    processors.push(
      new BatchSpanProcessor({ exporter: new OTLPTraceExporter() }),
    );
  }
  const provider = new TracerProvider({
    resource: resourceFromAttributes({
      [ATTR_SERVICE_NAME]: options.serviceName,
    }),
    spanProcessors: processors,
  });
  return {
    tracer: provider.getTracer("tv-ibkr-ingest"),
    shutdown: () => provider.shutdown(),
  };
}

/**
 * Whether OTLP export of `signal` is on under the standard variables: an
 * endpoint (general or the signal's own) is set, and neither
 * OTEL_SDK_DISABLED nor OTEL_<signal>_EXPORTER=none turns it off.
 */
export function isOtlpExportEnabled(
  env: Readonly<Record<string, string | undefined>>,
  signal: "TRACES" | "METRICS",
): boolean {
  return (
    env.OTEL_SDK_DISABLED !== "true" &&
    env[`OTEL_${signal}_EXPORTER`] !== "none" &&
    Boolean(
      env.OTEL_EXPORTER_OTLP_ENDPOINT ||
      env[`OTEL_EXPORTER_OTLP_${signal}_ENDPOINT`],
    )
  );
}

const propagator = new W3CTraceContextPropagator();

const metadataGetter: TextMapGetter<Metadata> = {
  keys: (metadata) => Object.keys(metadata.getMap()),
  get: (metadata, key) => {
    const values = metadata.get(key).filter((v) => typeof v === "string");
    return values.length > 0 ? (values as string[]) : undefined;
  },
};

/** The trace context an incoming W3C traceparent carries, if any. */
export function extractTraceContext(metadata: Metadata): Context {
  return propagator.extract(ROOT_CONTEXT, metadata, metadataGetter);
}
