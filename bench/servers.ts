import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";

const DIST = join(__dirname, "..");

/** A server process of the bench and its "ready" line. */
export interface BenchServer {
  child: ChildProcess;
  pid: number;
  ready: Record<string, unknown>;
  /** Log lines seen so far with `"event":"<name>"`, by name. */
  events: Map<string, number>;
  stop(): Promise<void>;
}

/**
 * Spawns `node <script>` from dist/ in an empty working directory and
 * resolves at its "ready" line. Log lines are only counted by event name,
 * without parsing, so reading them costs the machine little.
 * @throws Error when the process exits first
 */
export function startServer(
  script: string,
  env: Record<string, string>,
): Promise<BenchServer> {
  const child = spawn(process.execPath, [join(DIST, script)], {
    cwd: mkdtempSync(join(tmpdir(), "ingest-bench-")),
    env: { PATH: process.env.PATH, ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const events = new Map<string, number>();
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const stop = () => {
    child.kill("SIGTERM");
    return exited;
  };
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout! }).on("line", (line) => {
      const event = /"event":"([a-z.]+)"/.exec(line)?.[1];
      if (event) events.set(event, (events.get(event) ?? 0) + 1);
      if (!line.includes('"msg":"ready"')) return;
      const ready = JSON.parse(line) as Record<string, unknown>;
      resolve({ child, pid: child.pid ?? 0, ready, events, stop });
    });
    void exited.then(() => reject(new Error(`${script} exited early`)));
  });
}

/** Runs `node <script>` from dist/ to its end and parses its JSON output. */
export function runChild<T>(
  script: string,
  env: Record<string, string> = {},
  nodeFlags: string[] = [],
): Promise<T> {
  const child = spawn(process.execPath, [...nodeFlags, join(DIST, script)], {
    env: { PATH: process.env.PATH, ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.once("exit", (code) => {
      if (code !== 0) return reject(new Error(`${script} exited ${code}`));
      resolve(JSON.parse(output) as T);
    });
  });
}
