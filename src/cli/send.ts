import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";

import { signBody, SIGNATURE_KEY } from "../auth";
import { createIngestClient, IngestCallError } from "../client";
import { ConfigError, type Config } from "../config";
import { IngestResponse } from "../gen/tvibkr/ingest/v1/ingest";
import { formatTimestamp } from "../time";
import { loadHelperConfig } from "./env";

const USAGE =
  "usage: npm run send -- <alert.json> [--grpc host:port | --http URL] [--now]";

/** Exit codes: the service accepted, the service refused, or no reply. */
const EXIT_OK = 0;
const EXIT_REFUSED = 1;
const EXIT_NO_REPLY = 2;

interface SendArgs {
  file: string;
  grpc?: string;
  http?: string;
  now: boolean;
}

/**
 * Posts an alert file, signed with the first of WEBHOOK_SECRETS (from the
 * environment or `.env`), over gRPC (the default, to GRPC_HOST:GRPC_PORT)
 * or to the HTTP gateway, and prints the reply as JSON on stdout. `--now`
 * sets the alert's `timestamp` to the current time before signing, since
 * a saved alert soon falls outside the freshness tolerance.
 * `npm run send -- alert.json [--grpc host:port | --http URL] [--now]`.
 */
async function main(argv: string[]): Promise<number> {
  const args = parseSendArgs(argv);
  const config = loadHelperConfig();
  const [secret] = config.webhookSecrets;
  if (!secret) {
    throw new UsageError("WEBHOOK_SECRETS is empty; nothing to sign with");
  }
  const body = readAlert(args.file, args.now);
  if (args.http !== undefined)
    return sendHttp(webhookUrl(args.http), body, secret);
  return sendGrpc(args.grpc ?? grpcAddress(config), body, secret);
}

class UsageError extends Error {}

function parseSendArgs(argv: string[]): SendArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        grpc: { type: "string" },
        http: { type: "string" },
        now: { type: "boolean", default: false },
      },
    });
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n${USAGE}`);
  }
  const { positionals, values } = parsed;
  if (positionals.length !== 1) throw new UsageError(USAGE);
  if (values.grpc !== undefined && values.http !== undefined) {
    throw new UsageError(`--grpc and --http exclude each other\n${USAGE}`);
  }
  return { file: positionals[0], ...values, now: values.now === true };
}

/** The file's exact bytes, or with `timestamp` set to now when asked. */
function readAlert(file: string, now: boolean): Buffer {
  const bytes = readFileSync(file);
  if (!now) return bytes;
  let alert: unknown;
  try {
    alert = JSON.parse(bytes.toString("utf8"));
  } catch {
    throw new UsageError(`${file}: --now needs a JSON object; it is not JSON`);
  }
  if (typeof alert !== "object" || alert === null || Array.isArray(alert)) {
    throw new UsageError(`${file}: --now needs a JSON object`);
  }
  const timestamp = formatTimestamp(Math.floor(Date.now() / 1000) * 1000);
  return Buffer.from(JSON.stringify({ ...alert, timestamp }));
}

/** A wildcard listen address is reached on loopback. */
function grpcAddress(config: Config): string {
  const wildcard = ["0.0.0.0", "::", "[::]"].includes(config.grpcHost);
  const host = wildcard ? "127.0.0.1" : config.grpcHost;
  return `${host.includes(":") ? `[${host}]` : host}:${config.grpcPort}`;
}

/** A base URL gets /webhook appended; a URL with a path is used as is. */
function webhookUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`--http: "${raw}" is not a URL\n${USAGE}`);
  }
  if (url.pathname === "/") url.pathname = "/webhook";
  return url;
}

async function sendGrpc(
  address: string,
  body: Buffer,
  secret: string,
): Promise<number> {
  const client = createIngestClient({ address, secret });
  try {
    const response = await client.ingest(body);
    print(IngestResponse.toJSON(response));
    return EXIT_OK;
  } catch (err) {
    if (!(err instanceof IngestCallError)) throw err;
    const { code, reason, message, correlationId, violations } = err;
    print({ code, reason, message, correlationId, violations });
    // Without a reason the service never answered (deadline, connection).
    return reason === "" ? EXIT_NO_REPLY : EXIT_REFUSED;
  } finally {
    client.close();
  }
}

async function sendHttp(
  url: URL,
  body: Buffer,
  secret: string,
): Promise<number> {
  const res = await fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      [SIGNATURE_KEY]: signBody(body, secret),
    },
    body,
  });
  const text = await res.text();
  process.stderr.write(`HTTP ${res.status}\n`);
  try {
    print(JSON.parse(text));
  } catch {
    process.stdout.write(`${text}\n`);
  }
  return res.ok ? EXIT_OK : EXIT_REFUSED;
}

function print(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (err: unknown) => {
    const known = err instanceof UsageError || err instanceof ConfigError;
    const message = known ? (err as Error).message : String(err);
    process.stderr.write(`send: ${message}\n`);
    process.exitCode = EXIT_NO_REPLY;
  },
);
