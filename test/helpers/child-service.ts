import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";

import { credentials, loadPackageDefinition, type Client } from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { protoPath as healthProtoPath } from "grpc-health-check";

import { ROOT } from "./harness";

/** The compiled entry point, as `npm start` runs it. */
export const MAIN = join(ROOT, "dist", "src", "main.js");

/** The real service in its own process, with its log lines as they come. */
export interface ChildService {
  child: ChildProcess;
  lines: Record<string, unknown>[];
  /** "127.0.0.1:port" of each door, from the "ready" line. */
  grpcAddress: string;
  httpAddress: string;
  /** Resolves with the exit code once the process is gone. */
  exited: Promise<number | null>;
  /** Resolves once the process has exited and every log line is read. */
  closed: Promise<void>;
}

/**
 * Spawns `node dist/src/main.js` on ports the OS picks, in an empty
 * working directory (so no .env is read or written), and resolves when it
 * logs "ready".
 * @throws Error when the process exits before it is ready
 */
export function startChildService(
  env: Record<string, string>,
): Promise<ChildService> {
  const child = spawn(process.execPath, [MAIN], {
    cwd: mkdtempSync(join(tmpdir(), "ingest-child-")),
    env: { PATH: process.env.PATH, GRPC_PORT: "0", HTTP_PORT: "0", ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const lines: Record<string, unknown>[] = [];
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => resolve(code)),
  );
  const closed = new Promise<void>((resolve) =>
    child.once("close", () => resolve()),
  );
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout! }).on("line", (text) => {
      const line = JSON.parse(text) as Record<string, unknown>;
      lines.push(line);
      if (line.msg !== "ready") return;
      const grpcAddress = String(line.grpc);
      const httpAddress = String(line.http);
      resolve({ child, lines, grpcAddress, httpAddress, exited, closed });
    });
    void exited.then((code) => reject(new Error(`exited with ${code}`)));
  });
}

/** A grpc.health.v1.Health client, loaded from grpc-health-check's proto. */
export interface HealthClient extends Client {
  watch(request: { service: string }): NodeJS.EventEmitter & {
    cancel(): void;
  };
}

/** Creates a Health client for `address`. */
export function createHealthClient(address: string): HealthClient {
  const definition = loadSync(healthProtoPath, {
    keepCase: true,
    enums: String,
    defaults: true,
  });
  const loaded = loadPackageDefinition(definition) as unknown as {
    grpc: { health: { v1: { Health: new (...args: unknown[]) => Client } } };
  };
  const Health = loaded.grpc.health.v1.Health;
  return new Health(address, credentials.createInsecure()) as HealthClient;
}
