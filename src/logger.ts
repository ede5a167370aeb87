import pino, { type DestinationStream, type Logger } from "pino";

export type { Logger } from "pino";

/**
 * Top-level keys scrubbed from every line as a second line of defence: the
 * code never logs a secret, token or signature, and these catch a future
 * slip at the top level. Wildcard paths would also reach nested objects, but
 * cost about 15 µs on every line (docs/benchmarks.md), more than the rest of
 * the logging; test/observability.test.ts proves nothing leaks instead.
 */
const REDACTED_PATHS = ["token", "secret", "signature", "authorization"];

/**
 * Creates the JSON-lines logger: named levels, ISO times, one `component`
 * per child. `destination` defaults to stdout, written synchronously so an
 * accepted signal's hand-off line is out before its reply is sent.
 */
export function createLogger(
  level: string,
  destination?: DestinationStream,
): Logger {
  return pino(
    {
      level,
      base: { service: "tv-ibkr-ingest" },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACTED_PATHS, censor: "[redacted]" },
    },
    destination ?? pino.destination({ dest: 1, sync: true }),
  );
}
