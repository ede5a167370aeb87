import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { describe, it } from "node:test";

import { makeAlert, postHttp, ROOT, TOKEN } from "./helpers/harness";

const MAIN = join(ROOT, "dist", "src", "main.js");

interface Started {
  child: ChildProcess;
  lines: Record<string, unknown>[];
  ready: Record<string, unknown>;
}

/** Spawns the real entry point and waits for its "ready" line. */
function startProcess(env: Record<string, string>, cwd: string) {
  const child = spawn(process.execPath, [MAIN], {
    cwd,
    env: { PATH: process.env.PATH, GRPC_PORT: "0", HTTP_PORT: "0", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: Record<string, unknown>[] = [];
  return new Promise<Started>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on("line", (text) => {
      const line = JSON.parse(text) as Record<string, unknown>;
      lines.push(line);
      if (line.msg === "ready") resolve({ child, lines, ready: line });
    });
    child.once("exit", (code) => reject(new Error(`exited with ${code}`)));
  });
}

function exitOf(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => child.once("exit", (code) => resolve(code)));
}

/** Runs the entry point to its end and returns its exit code and stderr. */
function runToExit(env: Record<string, string>, cwd: string) {
  const child = spawn(process.execPath, [MAIN], {
    cwd,
    env: { PATH: process.env.PATH, GRPC_PORT: "0", HTTP_PORT: "0", ...env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  return exitOf(child).then((code) => ({ code, stderr }));
}

describe("the service process", () => {
  it("should create a .env with random credentials on a fresh local start", async () => {
    const cwd = mkdtempSync(join(tmpdir(), "ingest-fresh-"));
    const started = await startProcess({}, cwd);
    const exited = exitOf(started.child);
    started.child.kill("SIGTERM");
    assert.equal(await exited, 0);
    const env = readFileSync(join(cwd, ".env"), "utf8");
    assert.match(env, /^WEBHOOK_SECRETS=[0-9a-f]{64}$/m);
    assert.match(env, /^WEBHOOK_TOKENS=[A-Za-z0-9_-]{32}$/m);
    assert.equal(statSync(join(cwd, ".env")).mode & 0o777, 0o600);
    const secret = /^WEBHOOK_SECRETS=(.*)$/m.exec(env)![1];
    assert.equal(JSON.stringify(started.lines).includes(secret), false);
  });

  it("should serve, then drain and exit 0 on SIGTERM", async () => {
    const cwd = mkdtempSync(join(tmpdir(), "ingest-run-"));
    const started = await startProcess({ WEBHOOK_TOKENS: TOKEN }, cwd);
    const baseUrl = `http://${started.ready.http as string}`;
    const res = await postHttp(baseUrl, JSON.stringify(makeAlert()), {
      secret: null,
      path: `/webhook/${TOKEN}`,
    });
    assert.equal(res.json.outcome, "OUTCOME_ACCEPTED");
    const exited = exitOf(started.child);
    started.child.kill("SIGTERM");
    assert.equal(await exited, 0);
    const messages = started.lines.map((l) => l.msg);
    assert.deepEqual(messages.slice(-3), [
      "signal received",
      "shutting down",
      "stopped",
    ]);
  });

  const refusals: {
    name: string;
    env: Record<string, string>;
    message: string;
  }[] = [
    {
      name: "a wrong port",
      env: { GRPC_PORT: "http", WEBHOOK_TOKENS: TOKEN },
      message: 'configuration error: GRPC_PORT: "http" is not a whole number',
    },
    {
      name: "a short secret",
      env: { WEBHOOK_SECRETS: "changeme" },
      message:
        "configuration error: WEBHOOK_SECRETS: an entry is 8 characters " +
        "long; at least 32 are required",
    },
    {
      name: "no credentials in production",
      env: { NODE_ENV: "production" },
      message:
        "configuration error: WEBHOOK_SECRETS: no credentials configured; " +
        "set WEBHOOK_SECRETS (openssl rand -hex 32), WEBHOOK_TOKENS or " +
        "STANDARD_WEBHOOK_SECRETS",
    },
    {
      name: "an unknown log level",
      env: { LOG_LEVEL: "loud", WEBHOOK_TOKENS: TOKEN },
      message:
        'configuration error: LOG_LEVEL: "loud" is not allowed; use one of ' +
        "trace, debug, info, warn, error, fatal",
    },
  ];

  for (const row of refusals) {
    it(`should refuse to start with ${row.name}, naming the variable`, async () => {
      const cwd = mkdtempSync(join(tmpdir(), "ingest-bad-"));
      const { code, stderr } = await runToExit(row.env, cwd);
      assert.deepEqual(
        { code, stderr: stderr.trim() },
        {
          code: 1,
          stderr: row.message,
        },
      );
    });
  }
});
