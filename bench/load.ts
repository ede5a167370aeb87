import { spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";

import { percentiles } from "./stats";

/** One h2load run against one server process. */
export interface LoadSpec {
  url: string;
  bodyFile: string;
  headers: string[];
  requests: number;
  connections: number;
  streamsPerConnection: number;
  /** Speak HTTP/1.1 instead of HTTP/2. */
  h1: boolean;
  serverPid: number;
  logFile: string;
}

/** What a run measured; latencies in microseconds. */
export interface LoadResult {
  requests: number;
  succeeded: number;
  requestsPerSecond: number;
  p50Us: number;
  p99Us: number;
  /** Server CPU (user + system) per request, from /proc/<pid>/stat. */
  cpuUsPerRequest: number;
}

/** Whether h2load (Debian's nghttp2-client) is on the PATH. */
export function hasH2load(): boolean {
  return spawnSync("h2load", ["--version"]).status === 0;
}

const CLOCK_TICKS_PER_SECOND = Number(
  spawnSync("getconf", ["CLK_TCK"]).stdout?.toString().trim() || 100,
);

/** User plus system CPU time of `pid` so far, in microseconds. */
export function cpuTimeUs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1_000_000) / CLOCK_TICKS_PER_SECOND;
}

/** Runs h2load to completion (it stops after `requests`) and reads its log. */
export async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const cpuBefore = cpuTimeUs(spec.serverPid);
  const output = await runH2load(spec);
  const cpuUs = cpuTimeUs(spec.serverPid) - cpuBefore;
  const succeeded = Number(/(\d+) succeeded/.exec(output)?.[1] ?? 0);
  const latencies = readLatencies(spec.logFile);
  const { median, p99 } = percentiles(latencies);
  return {
    requests: spec.requests,
    succeeded,
    requestsPerSecond: Number(/([\d.]+) req\/s/.exec(output)?.[1] ?? 0),
    p50Us: median,
    p99Us: p99,
    cpuUsPerRequest: cpuUs / spec.requests,
  };
}

function runH2load(spec: LoadSpec): Promise<string> {
  const args = [
    `--requests=${spec.requests}`,
    `--clients=${spec.connections}`,
    `--max-concurrent-streams=${spec.streamsPerConnection}`,
    "--threads=1",
    `--data=${spec.bodyFile}`,
    `--log-file=${spec.logFile}`,
    ...spec.headers.flatMap((h) => ["-H", h]),
    ...(spec.h1 ? ["--h1"] : []),
    spec.url,
  ];
  return new Promise((resolve, reject) => {
    const child = spawn("h2load", args, { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.once("error", reject);
    child.once("exit", (code) =>
      code === 0 ? resolve(output) : reject(new Error(`h2load: ${output}`)),
    );
  });
}

/** The third column of h2load's log: microseconds until the response ended. */
function readLatencies(logFile: string): number[] {
  return readFileSync(logFile, "utf8")
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => Number(line.split("\t")[2]));
}
