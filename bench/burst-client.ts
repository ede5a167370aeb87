import { request } from "node:http";

import { createAlertBody } from "./alerts";
import { percentiles } from "./stats";

/**
 * Child process of `npm run bench`: fires BURST_COUNT distinct alerts at
 * the HTTP gateway within BURST_WINDOW_MS, each on its own connection with
 * the token in the path, as TradingView posts at a market open. Prints one
 * JSON object: reply times in ms and how many were ACCEPTED.
 */
const url = new URL(process.env.BURST_URL ?? "");
const count = Number(process.env.BURST_COUNT ?? 1000);
const windowMs = Number(process.env.BURST_WINDOW_MS ?? 1000);

interface Reply {
  ms: number;
  accepted: boolean;
}

function post(body: Buffer): Promise<Reply> {
  const startedAt = performance.now();
  return new Promise((resolve) => {
    const req = request(url, {
      method: "POST",
      agent: false,
      headers: { "content-type": "text/plain; charset=utf-8" },
    });
    req.on("response", (res) => {
      let text = "";
      res.on("data", (chunk: Buffer) => (text += chunk.toString()));
      res.on("end", () =>
        resolve({
          ms: performance.now() - startedAt,
          accepted: text.includes("OUTCOME_ACCEPTED"),
        }),
      );
    });
    req.on("error", () =>
      resolve({ ms: performance.now() - startedAt, accepted: false }),
    );
    req.end(body);
  });
}

async function main(): Promise<void> {
  const nowMs = Date.now();
  const bodies = Array.from({ length: count }, (_, i) =>
    createAlertBody(i, nowMs),
  );
  const startedAt = performance.now();
  const replies = await Promise.all(
    bodies.map(
      (body, i) =>
        new Promise<Reply>((resolve) =>
          setTimeout(() => resolve(post(body)), (i * windowMs) / count),
        ),
    ),
  );
  const times = replies.map((r) => r.ms);
  process.stdout.write(
    `${JSON.stringify({
      count,
      accepted: replies.filter((r) => r.accepted).length,
      firedWithinMs: windowMs,
      totalMs: performance.now() - startedAt,
      slowestMs: Math.max(...times),
      ...percentiles(times),
    })}\n`,
  );
}

void main();
