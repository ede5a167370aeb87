import { connect, type Socket } from "node:net";

import {
  MemoryIdempotencyStore,
  type Claim,
  type ClaimResult,
  type IdempotencyStore,
} from "../../src/idempotency";
import { LogCapture } from "./harness";

/**
 * An in-memory store whose claims can be held at a gate, so a test can act
 * (cancel, let a deadline pass, disconnect) while a claim is in progress.
 */
export class GatedStore implements IdempotencyStore {
  private readonly inner = new MemoryIdempotencyStore({
    ttlMs: 24 * 60 * 60 * 1000,
    maxKeys: 100_000,
  });
  private gate: Promise<void> | undefined;
  private openGate: (() => void) | undefined;
  private arrivals: ((key: string) => void)[] = [];

  get size(): number {
    return this.inner.size;
  }

  /** Makes claims from now on wait until `release`. */
  hold(): void {
    this.gate = new Promise((resolve) => (this.openGate = resolve));
  }

  /** Lets every waiting claim, and later ones, through. */
  release(): void {
    this.openGate?.();
    this.gate = undefined;
  }

  /** Resolves with the key of the next claim that reaches the store. */
  nextArrival(): Promise<string> {
    return new Promise((resolve) => this.arrivals.push(resolve));
  }

  async claim(key: string, claim: Claim, nowMs: number): Promise<ClaimResult> {
    const waiting = this.arrivals;
    this.arrivals = [];
    for (const notify of waiting) notify(key);
    if (this.gate) await this.gate;
    return this.inner.claimNow(key, claim, nowMs);
  }
}

type LogLine = Record<string, unknown>;

/** A LogCapture that can be waited on for a line to appear. */
export class WatchedLogs extends LogCapture {
  private waiters: { match: (l: LogLine) => boolean; done: () => void }[] = [];

  override write(line: string): void {
    super.write(line);
    const last = this.lines[this.lines.length - 1];
    this.waiters = this.waiters.filter((w) => {
      if (!w.match(last)) return true;
      w.done();
      return false;
    });
  }

  /** Resolves with the first line, already logged or to come, that matches. */
  async waitFor(match: (l: LogLine) => boolean): Promise<LogLine> {
    const found = this.lines.find(match);
    if (found) return found;
    await new Promise<void>((done) => this.waiters.push({ match, done }));
    return this.lines.filter(match)[0];
  }
}

/** A raw HTTP/1.1 connection: what was received, and when it closed. */
export interface RawConnection {
  socket: Socket;
  received(): string;
  /** Resolves with the milliseconds from connect to close. */
  closed: Promise<number>;
}

/** Opens a TCP connection to 127.0.0.1:`port` and records what comes back. */
export function openRaw(port: number): Promise<RawConnection> {
  return new Promise((resolve, reject) => {
    const startedAt = performance.now();
    const socket = connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("error", () => undefined);
    const closed = new Promise<number>((done) =>
      socket.once("close", () => done(performance.now() - startedAt)),
    );
    socket.once("connect", () =>
      resolve({
        socket,
        received: () => Buffer.concat(chunks).toString("latin1"),
        closed,
      }),
    );
    socket.once("error", reject);
  });
}

/** The head of a POST /webhook request for `body`, with its headers. */
export function requestHead(
  body: Buffer,
  headers: Record<string, string>,
): string {
  const lines = [
    "POST /webhook HTTP/1.1",
    "Host: 127.0.0.1",
    `Content-Length: ${body.length}`,
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ];
  return lines.join("\r\n") + "\r\n\r\n";
}

/**
 * Writes `bytes` one at a time, one every `intervalMs`, until all are sent
 * or the peer closes; resolves with how many were written.
 */
export function dribble(
  connection: RawConnection,
  bytes: Buffer,
  intervalMs: number,
): Promise<number> {
  return new Promise((resolve) => {
    let sent = 0;
    const timer = setInterval(() => {
      if (sent >= bytes.length || connection.socket.destroyed) {
        clearInterval(timer);
        resolve(sent);
        return;
      }
      connection.socket.write(bytes.subarray(sent, sent + 1));
      sent++;
    }, intervalMs);
    void connection.closed.then(() => {
      clearInterval(timer);
      resolve(sent);
    });
  });
}
