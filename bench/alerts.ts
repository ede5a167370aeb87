import { randomBytes } from "node:crypto";

import { signBody } from "../src/auth";
import { IngestRequest } from "../src/gen/tvibkr/ingest/v1/ingest";

/** Credentials of one bench run, handed to each process through env. */
export interface BenchCredentials {
  secret: string;
  token: string;
}

/** Fresh random credentials, long enough for the service's checks. */
export function createCredentials(): BenchCredentials {
  return {
    secret: randomBytes(32).toString("hex"),
    token: randomBytes(24).toString("base64url"),
  };
}

/**
 * A typical TradingView strategy alert (about 330 bytes), distinct per
 * `n`, firing at `nowMs`.
 */
export function createAlertBody(n: number, nowMs: number): Buffer {
  const alert = {
    ticker: "NASDAQ:AAPL",
    action: "buy",
    quantity: "10",
    timestamp: new Date(nowMs).toISOString(),
    order_type: "limit",
    limit_price: "187.25",
    time_in_force: "day",
    price: "187.31",
    exchange: "NASDAQ",
    strategy: "bench-breakout",
    order_id: `bench-${process.pid}-${n}`,
    market_position: "long",
    position_size: "10",
    interval: "5",
    comment: "opening range breakout, first leg",
  };
  return Buffer.from(JSON.stringify(alert));
}

/** The x-signature value for `body`. */
export function signatureOf(body: Buffer, secret: string): string {
  return signBody(body, secret);
}

/**
 * One gRPC request as h2load sends it: the 5-byte length prefix (not
 * compressed) and the serialized IngestRequest.
 */
export function frameIngestRequest(body: Buffer, contentType: string): Buffer {
  const message = IngestRequest.encode({
    body: { contentType, data: body, extensions: [] },
    token: "",
  }).finish();
  const prefix = Buffer.alloc(5);
  prefix.writeUInt8(0, 0);
  prefix.writeUInt32BE(message.length, 1);
  return Buffer.concat([prefix, message]);
}
