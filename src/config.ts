import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { parseEnv } from "node:util";

import { decodeWebhookSecret } from "./standard-webhooks";

/** Every setting of the service, validated; see the README's table. */
export interface Config {
  nodeEnv: string;
  grpcHost: string;
  grpcPort: number;
  httpEnabled: boolean;
  httpHost: string;
  httpPort: number;
  /** HMAC-SHA256 secrets; any one of them may sign (rotation). */
  webhookSecrets: readonly string[];
  /** Shared tokens for callers that cannot sign (TradingView). */
  webhookTokens: readonly string[];
  /** Decoded Standard Webhooks keys (STANDARD_WEBHOOK_SECRETS, whsec_). */
  standardWebhookKeys: readonly Buffer[];
  timestampToleranceSeconds: number;
  idempotencyTtlSeconds: number;
  idempotencyMaxKeys: number;
  maxBodyBytes: number;
  /** How long the HTTP gateway waits for a whole request. */
  httpRequestTimeoutMs: number;
  /** How long shutdown waits for in-flight calls before cutting them off. */
  shutdownDrainMs: number;
  logLevel: string;
  serviceName: string;
  metricsHost: string;
  /** The Prometheus scrape port; undefined keeps the endpoint off. */
  metricsPort: number | undefined;
}

export const DEFAULT_GRPC_PORT = 50051;
export const DEFAULT_HTTP_PORT = 8000;
export const DEFAULT_TIMESTAMP_TOLERANCE_SECONDS = 30;
export const DEFAULT_IDEMPOTENCY_TTL_SECONDS = 24 * 60 * 60;
export const DEFAULT_IDEMPOTENCY_MAX_KEYS = 100_000;
/** TradingView alert messages are a few hundred bytes; 16 KiB is ample. */
export const DEFAULT_MAX_BODY_BYTES = 16 * 1024;
/** Below TradingView's 3 s give-up time, so a stalled client is cut first. */
export const DEFAULT_HTTP_REQUEST_TIMEOUT_MS = 2_500;
export const DEFAULT_SHUTDOWN_DRAIN_MS = 10_000;
/** A secret or token shorter than this is guessable and refused at start. */
export const MIN_SECRET_LENGTH = 32;
export const MIN_TOKEN_LENGTH = 24;

const NODE_ENVS = ["development", "test", "production"];
const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal"];

/** Thrown when a variable is wrong; the message names the variable. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Reads and validates the configuration from `env`.
 * @throws ConfigError naming the first wrong variable
 */
export function loadConfig(env: Env): Config {
  const nodeEnv = readNodeEnv(env);
  const local = nodeEnv !== "production";
  const config: Config = {
    nodeEnv,
    grpcHost: readString(env, "GRPC_HOST", "127.0.0.1"),
    grpcPort: readInt(env, "GRPC_PORT", DEFAULT_GRPC_PORT, 0, 65535),
    httpEnabled: readBool(env, "HTTP_ENABLED", local),
    httpHost: readString(env, "HTTP_HOST", "127.0.0.1"),
    httpPort: readInt(env, "HTTP_PORT", DEFAULT_HTTP_PORT, 0, 65535),
    webhookSecrets: readList(env, "WEBHOOK_SECRETS"),
    webhookTokens: readList(env, "WEBHOOK_TOKENS"),
    standardWebhookKeys: readWebhookKeys(env, "STANDARD_WEBHOOK_SECRETS"),
    timestampToleranceSeconds: readInt(
      env,
      "WEBHOOK_TIMESTAMP_TOLERANCE_SECONDS",
      DEFAULT_TIMESTAMP_TOLERANCE_SECONDS,
      1,
      3600,
    ),
    idempotencyTtlSeconds: readInt(
      env,
      "IDEMPOTENCY_TTL_SECONDS",
      DEFAULT_IDEMPOTENCY_TTL_SECONDS,
      1,
      30 * 24 * 60 * 60,
    ),
    idempotencyMaxKeys: readInt(
      env,
      "IDEMPOTENCY_MAX_KEYS",
      DEFAULT_IDEMPOTENCY_MAX_KEYS,
      1,
      50_000_000,
    ),
    maxBodyBytes: readInt(
      env,
      "MAX_BODY_BYTES",
      DEFAULT_MAX_BODY_BYTES,
      256,
      1024 * 1024,
    ),
    httpRequestTimeoutMs: readInt(
      env,
      "HTTP_REQUEST_TIMEOUT_MS",
      DEFAULT_HTTP_REQUEST_TIMEOUT_MS,
      100,
      60_000,
    ),
    shutdownDrainMs: readInt(
      env,
      "SHUTDOWN_DRAIN_MS",
      DEFAULT_SHUTDOWN_DRAIN_MS,
      0,
      120_000,
    ),
    logLevel: readLogLevel(env),
    serviceName: readString(env, "OTEL_SERVICE_NAME", "tv-ibkr-ingest"),
    metricsHost: readString(env, "METRICS_HOST", "127.0.0.1"),
    metricsPort: readOptionalInt(env, "METRICS_PORT", 0, 65535),
  };
  checkCredentials(config);
  return config;
}

function checkCredentials(config: Config): void {
  const credentials =
    config.webhookSecrets.length +
    config.webhookTokens.length +
    config.standardWebhookKeys.length;
  if (credentials === 0) {
    throw new ConfigError(
      "WEBHOOK_SECRETS: no credentials configured; set WEBHOOK_SECRETS " +
        "(openssl rand -hex 32), WEBHOOK_TOKENS or STANDARD_WEBHOOK_SECRETS",
    );
  }
  for (const secret of config.webhookSecrets) {
    checkStrength("WEBHOOK_SECRETS", secret, MIN_SECRET_LENGTH);
  }
  for (const token of config.webhookTokens) {
    checkStrength("WEBHOOK_TOKENS", token, MIN_TOKEN_LENGTH);
    if (!/^[A-Za-z0-9_-]+$/.test(token)) {
      throw new ConfigError(
        "WEBHOOK_TOKENS: a token must use only letters, digits, '-' and '_' " +
          "so it survives in a URL path",
      );
    }
  }
}

function checkStrength(name: string, value: string, minLength: number): void {
  if (value.length < minLength) {
    throw new ConfigError(
      `${name}: an entry is ${value.length} characters long; ` +
        `at least ${minLength} are required`,
    );
  }
  if (new Set(value).size < 8) {
    throw new ConfigError(
      `${name}: an entry repeats too few distinct characters to be secret`,
    );
  }
}

/** A typo such as "prod" must not quietly give a development setup. */
function readNodeEnv(env: Env): string {
  const value = env.NODE_ENV?.trim() || "development";
  if (!NODE_ENVS.includes(value)) {
    throw new ConfigError(
      `NODE_ENV: "${value}" is not allowed; use one of ${NODE_ENVS.join(", ")}`,
    );
  }
  return value;
}

function readString(env: Env, name: string, fallback: string): string {
  const raw = env[name]?.trim();
  return raw ? raw : fallback;
}

/**
 * A comma-separated list from `name`, or from the file `${name}_FILE` names
 * (commas or newlines between entries), which is how compose and Kubernetes
 * secrets arrive. Setting both is refused.
 */
function readList(env: Env, name: string): string[] {
  const path = env[`${name}_FILE`]?.trim();
  if (path && env[name]?.trim()) {
    throw new ConfigError(`${name}: set it or ${name}_FILE, not both`);
  }
  const raw = path ? readSecretFile(`${name}_FILE`, path) : (env[name] ?? "");
  return raw
    .split(/[,\n]/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

function readSecretFile(name: string, path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? "unreadable";
    throw new ConfigError(`${name}: cannot read ${path} (${code})`);
  }
}

/** Each entry a `whsec_<base64>` secret; the message never shows one. */
function readWebhookKeys(env: Env, name: string): Buffer[] {
  return readList(env, name).map((entry, index) => {
    const decoded = decodeWebhookSecret(entry);
    if (decoded.ok) return decoded.key;
    throw new ConfigError(`${name}: entry ${index + 1} ${decoded.problem}`);
  });
}

function readOptionalInt(
  env: Env,
  name: string,
  min: number,
  max: number,
): number | undefined {
  if (!env[name]?.trim()) return undefined;
  return readInt(env, name, min, min, max);
}

function readInt(
  env: Env,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  if (!/^\d+$/.test(raw)) {
    throw new ConfigError(`${name}: "${raw}" is not a whole number`);
  }
  const value = Number(raw);
  if (value < min || value > max) {
    throw new ConfigError(
      `${name}: ${value} is out of range; allowed ${min} to ${max}`,
    );
  }
  return value;
}

function readBool(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name]?.trim().toLowerCase();
  if (!raw) return fallback;
  if (raw === "true" || raw === "1") return true;
  if (raw === "false" || raw === "0") return false;
  throw new ConfigError(`${name}: "${raw}" is not allowed; use true or false`);
}

function readLogLevel(env: Env): string {
  const level = (env.LOG_LEVEL?.trim() || "info").toLowerCase();
  if (!LOG_LEVELS.includes(level)) {
    throw new ConfigError(
      `LOG_LEVEL: "${env.LOG_LEVEL}" is not allowed; use one of ` +
        LOG_LEVELS.join(", "),
    );
  }
  return level;
}

/**
 * Loads `.env` into `env` when present. Outside production, a checkout with
 * no credentials at all gets a new `.env` holding a random secret and token,
 * so a fresh clone starts without hand-editing and never with a guessable
 * secret. Returns what it did, for the start-up log.
 */
export function prepareEnv(
  env: NodeJS.ProcessEnv,
  envPath: string,
): "loaded" | "created" | "none" {
  if (existsSync(envPath)) {
    loadEnvInto(env, envPath);
    return "loaded";
  }
  const hasCredentials =
    env.WEBHOOK_SECRETS || env.WEBHOOK_TOKENS || env.STANDARD_WEBHOOK_SECRETS;
  if (hasCredentials || env.NODE_ENV === "production") return "none";
  const secret = randomBytes(32).toString("hex");
  const token = randomBytes(24).toString("base64url");
  writeFileSync(
    envPath,
    "# Created on first start; see .env.example for every variable.\n" +
      `WEBHOOK_SECRETS=${secret}\nWEBHOOK_TOKENS=${token}\n`,
    { mode: 0o600, flag: "wx" },
  );
  loadEnvInto(env, envPath);
  return "created";
}

/**
 * Adds the file's variables to `env`, keeping any already set, as
 * process.loadEnvFile does; that one always writes process.env, whatever
 * `env` the caller passed.
 */
function loadEnvInto(env: NodeJS.ProcessEnv, envPath: string): void {
  const parsed = parseEnv(readFileSync(envPath, "utf8"));
  for (const [name, value] of Object.entries(parsed)) {
    if (env[name] === undefined) env[name] = value;
  }
}
