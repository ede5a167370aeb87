/**
 * Formats epoch milliseconds the way protobuf's JSON mapping prints a
 * google.protobuf.Timestamp: UTC, "Z", and a fraction only when it is not
 * zero. Envoy's transcoder prints replies this way, so the built-in gateway
 * must too.
 */
export function formatTimestamp(ms: number): string {
  const iso = new Date(ms).toISOString();
  return iso.endsWith(".000Z") ? iso.slice(0, -5) + "Z" : iso;
}
