import { status as GrpcCode } from "@grpc/grpc-js";

import { IngestError, Reason } from "./errors";
import { formatTimestamp } from "./time";

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;

/**
 * Refuses a signal whose firing time is more than `toleranceSeconds` from
 * `nowMs` either way: a stale alert must never become a trade.
 * @throws IngestError FAILED_PRECONDITION, TIMESTAMP_STALE or _FUTURE
 */
export function checkFreshness(
  timestampMs: number,
  nowMs: number,
  toleranceSeconds: number,
): void {
  const ageMs = nowMs - timestampMs;
  const toleranceMs = toleranceSeconds * 1000;
  if (Math.abs(ageMs) <= toleranceMs) return;
  const when = formatTimestamp(timestampMs);
  const now = formatTimestamp(nowMs);
  if (ageMs < 0) {
    throw new IngestError(
      GrpcCode.FAILED_PRECONDITION,
      Reason.timestampFuture,
      `timestamp: ${when} is ${formatSeconds(-ageMs)} ahead of the ` +
        `service clock (${now}); at most ${toleranceSeconds}s is allowed, ` +
        "check the sender's clock",
    );
  }
  throw new IngestError(
    GrpcCode.FAILED_PRECONDITION,
    Reason.timestampStale,
    `timestamp: ${when} is ${formatSeconds(ageMs)} old; at most ` +
      `${toleranceSeconds}s is allowed` +
      barTimeHint(timestampMs, ageMs),
  );
}

/**
 * TradingView's {{time}} is the bar's open time: always on a whole minute
 * and often hours old. {{timenow}} is the firing time the check needs.
 */
function barTimeHint(timestampMs: number, ageMs: number): string {
  const onMinute = timestampMs % MINUTE_MS === 0;
  if (!onMinute && ageMs < HOUR_MS) return "";
  return "; it looks like {{time}} (the bar's open time) was used, use {{timenow}}";
}

/**
 * Whole seconds, rounded up: rounding to nearest printed a timestamp 30.4s
 * old as "30s old; at most 30s is allowed", which contradicts itself.
 */
function formatSeconds(ms: number): string {
  return `${Math.ceil(ms / 1000)}s`;
}
