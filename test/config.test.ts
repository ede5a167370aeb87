import assert from "node:assert/strict";
import {
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";

import {
  ConfigError,
  loadConfig,
  prepareEnv,
  type Config,
} from "../src/config";

const SECRET = "unit-secret-0123456789-abcdefghijklmn";
const SECRET_2 = "unit-secret-2-9876543210-zyxwvutsrqpo";
const TOKEN = "unit-token-ABCDEFGHIJKLMNOP";

/** The message of the ConfigError `run` throws. */
function configError(run: () => unknown): string {
  try {
    run();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `not a ConfigError: ${err}`);
    assert.equal(err.name, "ConfigError");
    return err.message;
  }
  assert.fail("expected a ConfigError, but nothing was thrown");
}

/** The settings this suite checks; other fields may come and go. */
const CORE_KEYS = [
  "nodeEnv",
  "grpcHost",
  "grpcPort",
  "httpEnabled",
  "httpHost",
  "httpPort",
  "webhookSecrets",
  "webhookTokens",
  "timestampToleranceSeconds",
  "idempotencyTtlSeconds",
  "idempotencyMaxKeys",
  "maxBodyBytes",
  "httpRequestTimeoutMs",
  "shutdownDrainMs",
  "logLevel",
  "serviceName",
] as const satisfies readonly (keyof Config)[];

function core(config: Config) {
  return Object.fromEntries(CORE_KEYS.map((key) => [key, config[key]]));
}

const DEFAULTS = {
  nodeEnv: "development",
  grpcHost: "127.0.0.1",
  grpcPort: 50051,
  httpEnabled: true,
  httpHost: "127.0.0.1",
  httpPort: 8000,
  webhookSecrets: [SECRET],
  webhookTokens: [],
  timestampToleranceSeconds: 30,
  idempotencyTtlSeconds: 86_400,
  idempotencyMaxKeys: 100_000,
  maxBodyBytes: 16_384,
  httpRequestTimeoutMs: 2_500,
  shutdownDrainMs: 10_000,
  logLevel: "info",
  serviceName: "tv-ibkr-ingest",
};

describe("loadConfig", () => {
  it("should use the documented defaults", () => {
    assert.deepEqual(core(loadConfig({ WEBHOOK_SECRETS: SECRET })), DEFAULTS);
  });

  it("should read every variable it is given", () => {
    const config = loadConfig({
      NODE_ENV: "production",
      GRPC_HOST: " 0.0.0.0 ",
      GRPC_PORT: "0",
      HTTP_ENABLED: "TRUE",
      HTTP_HOST: "::1",
      HTTP_PORT: " 65535 ",
      WEBHOOK_SECRETS: ` ${SECRET} ,, ${SECRET_2} ,`,
      WEBHOOK_TOKENS: TOKEN,
      WEBHOOK_TIMESTAMP_TOLERANCE_SECONDS: "3600",
      IDEMPOTENCY_TTL_SECONDS: "1",
      IDEMPOTENCY_MAX_KEYS: "50000000",
      MAX_BODY_BYTES: "256",
      HTTP_REQUEST_TIMEOUT_MS: "60000",
      SHUTDOWN_DRAIN_MS: "0",
      LOG_LEVEL: " DEBUG ",
      OTEL_SERVICE_NAME: "ingest-eu",
    });
    assert.deepEqual(core(config), {
      nodeEnv: "production",
      grpcHost: "0.0.0.0",
      grpcPort: 0,
      httpEnabled: true,
      httpHost: "::1",
      httpPort: 65535,
      webhookSecrets: [SECRET, SECRET_2],
      webhookTokens: [TOKEN],
      timestampToleranceSeconds: 3600,
      idempotencyTtlSeconds: 1,
      idempotencyMaxKeys: 50_000_000,
      maxBodyBytes: 256,
      httpRequestTimeoutMs: 60_000,
      shutdownDrainMs: 0,
      logLevel: "debug",
      serviceName: "ingest-eu",
    });
  });

  it("should keep the HTTP gateway off by default in production", () => {
    const config = loadConfig({
      NODE_ENV: "production",
      WEBHOOK_TOKENS: TOKEN,
    });
    assert.equal(config.httpEnabled, false);
  });

  it("should treat empty and blank values as unset", () => {
    const config = loadConfig({
      WEBHOOK_SECRETS: SECRET,
      GRPC_PORT: "",
      HTTP_PORT: "   ",
      HTTP_ENABLED: "",
      LOG_LEVEL: " ",
      GRPC_HOST: "",
      WEBHOOK_TOKENS: " , ",
    });
    assert.deepEqual(core(config), DEFAULTS);
  });

  const booleans: ReadonlyArray<[string, boolean]> = [
    ["true", true],
    ["1", true],
    [" True ", true],
    ["false", false],
    ["0", false],
    ["FALSE", false],
  ];
  for (const [raw, value] of booleans) {
    it(`should read HTTP_ENABLED=${JSON.stringify(raw)} as ${value}`, () => {
      const config = loadConfig({ WEBHOOK_SECRETS: SECRET, HTTP_ENABLED: raw });
      assert.equal(config.httpEnabled, value);
    });
  }

  const errors: ReadonlyArray<[Record<string, string>, string]> = [
    [{ GRPC_PORT: "abc" }, 'GRPC_PORT: "abc" is not a whole number'],
    [{ GRPC_PORT: "-1" }, 'GRPC_PORT: "-1" is not a whole number'],
    [{ GRPC_PORT: "80.5" }, 'GRPC_PORT: "80.5" is not a whole number'],
    [{ GRPC_PORT: "1e3" }, 'GRPC_PORT: "1e3" is not a whole number'],
    [
      { GRPC_PORT: "65536" },
      "GRPC_PORT: 65536 is out of range; allowed 0 to 65535",
    ],
    [
      { HTTP_PORT: "99999999999999999999" },
      "HTTP_PORT: 100000000000000000000 is out of range; allowed 0 to 65535",
    ],
    [
      { HTTP_ENABLED: "yes" },
      'HTTP_ENABLED: "yes" is not allowed; use true or false',
    ],
    [
      { WEBHOOK_TIMESTAMP_TOLERANCE_SECONDS: "0" },
      "WEBHOOK_TIMESTAMP_TOLERANCE_SECONDS: 0 is out of range; " +
        "allowed 1 to 3600",
    ],
    [
      { WEBHOOK_TIMESTAMP_TOLERANCE_SECONDS: "3601" },
      "WEBHOOK_TIMESTAMP_TOLERANCE_SECONDS: 3601 is out of range; " +
        "allowed 1 to 3600",
    ],
    [
      { WEBHOOK_TIMESTAMP_TOLERANCE_SECONDS: "30s" },
      'WEBHOOK_TIMESTAMP_TOLERANCE_SECONDS: "30s" is not a whole number',
    ],
    [
      { IDEMPOTENCY_TTL_SECONDS: "0" },
      "IDEMPOTENCY_TTL_SECONDS: 0 is out of range; allowed 1 to 2592000",
    ],
    [
      { IDEMPOTENCY_TTL_SECONDS: "2592001" },
      "IDEMPOTENCY_TTL_SECONDS: 2592001 is out of range; allowed 1 to 2592000",
    ],
    [
      { IDEMPOTENCY_MAX_KEYS: "0" },
      "IDEMPOTENCY_MAX_KEYS: 0 is out of range; allowed 1 to 50000000",
    ],
    [
      { MAX_BODY_BYTES: "255" },
      "MAX_BODY_BYTES: 255 is out of range; allowed 256 to 1048576",
    ],
    [
      { MAX_BODY_BYTES: "1048577" },
      "MAX_BODY_BYTES: 1048577 is out of range; allowed 256 to 1048576",
    ],
    [
      { HTTP_REQUEST_TIMEOUT_MS: "99" },
      "HTTP_REQUEST_TIMEOUT_MS: 99 is out of range; allowed 100 to 60000",
    ],
    [
      { SHUTDOWN_DRAIN_MS: "120001" },
      "SHUTDOWN_DRAIN_MS: 120001 is out of range; allowed 0 to 120000",
    ],
    [
      { LOG_LEVEL: "verbose" },
      'LOG_LEVEL: "verbose" is not allowed; use one of trace, debug, info, ' +
        "warn, error, fatal",
    ],
    [
      { WEBHOOK_SECRETS: "short-secret" },
      "WEBHOOK_SECRETS: an entry is 12 characters long; at least 32 are " +
        "required",
    ],
    [
      { WEBHOOK_SECRETS: `${SECRET},${"x".repeat(31)}` },
      "WEBHOOK_SECRETS: an entry is 31 characters long; at least 32 are " +
        "required",
    ],
    [
      { WEBHOOK_SECRETS: "ab".repeat(20) },
      "WEBHOOK_SECRETS: an entry repeats too few distinct characters to be " +
        "secret",
    ],
    [
      { WEBHOOK_SECRETS: SECRET, WEBHOOK_TOKENS: "short-token" },
      "WEBHOOK_TOKENS: an entry is 11 characters long; at least 24 are " +
        "required",
    ],
    [
      { WEBHOOK_SECRETS: SECRET, WEBHOOK_TOKENS: "1234567".repeat(4) },
      "WEBHOOK_TOKENS: an entry repeats too few distinct characters to be " +
        "secret",
    ],
    [
      { WEBHOOK_TOKENS: "token/with+url=specials-0123" },
      "WEBHOOK_TOKENS: a token must use only letters, digits, '-' and '_' " +
        "so it survives in a URL path",
    ],
    [
      { NODE_ENV: "prod" },
      'NODE_ENV: "prod" is not allowed; use one of development, test, ' +
        "production",
    ],
    [
      { WEBHOOK_TOKENS_FILE: "/nonexistent/tokens" },
      "WEBHOOK_TOKENS_FILE: cannot read /nonexistent/tokens (ENOENT)",
    ],
    [
      { WEBHOOK_TOKENS: TOKEN, WEBHOOK_TOKENS_FILE: "/run/secrets/tokens" },
      "WEBHOOK_TOKENS: set it or WEBHOOK_TOKENS_FILE, not both",
    ],
    [
      { WEBHOOK_TOKENS: "token with spaces 0123456789" },
      "WEBHOOK_TOKENS: a token must use only letters, digits, '-' and '_' " +
        "so it survives in a URL path",
    ],
  ];
  for (const [env, message] of errors) {
    const [name] = Object.keys(env).slice(-1);
    it(`should refuse ${name}=${JSON.stringify(env[name])}, naming it`, () => {
      const full = { WEBHOOK_SECRETS: SECRET, ...env };
      assert.equal(
        configError(() => loadConfig(full)),
        message,
      );
    });
  }

  it("should read credentials from *_FILE, one or more per line", () => {
    const dir = mkdtempSync(join(tmpdir(), "config-secrets-"));
    const secrets = join(dir, "secrets");
    const tokens = join(dir, "tokens");
    writeFileSync(secrets, `${SECRET}\n${SECRET_2}\n`);
    writeFileSync(tokens, `${TOKEN}\n`);
    const config = loadConfig({
      WEBHOOK_SECRETS_FILE: secrets,
      WEBHOOK_TOKENS_FILE: tokens,
    });
    rmSync(dir, { recursive: true });
    assert.deepEqual(
      [config.webhookSecrets, config.webhookTokens],
      [[SECRET, SECRET_2], [TOKEN]],
    );
  });

  const noCredentials: ReadonlyArray<[string, Record<string, string>]> = [
    ["nothing set", {}],
    ["only separators", { WEBHOOK_SECRETS: " , ,", WEBHOOK_TOKENS: "," }],
    ["blank values", { WEBHOOK_SECRETS: "  ", WEBHOOK_TOKENS: "" }],
  ];
  for (const [name, env] of noCredentials) {
    it(`should refuse to start without credentials (${name})`, () => {
      assert.equal(
        configError(() => loadConfig(env)),
        "WEBHOOK_SECRETS: no credentials configured; set WEBHOOK_SECRETS " +
          "(openssl rand -hex 32), WEBHOOK_TOKENS or STANDARD_WEBHOOK_SECRETS",
      );
    });
  }
});

describe("prepareEnv", () => {
  const dirs: string[] = [];
  const tempDir = () => {
    const dir = mkdtempSync(join(tmpdir(), "tvibkr-config-test-"));
    dirs.push(dir);
    return dir;
  };
  after(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  const CREATED =
    /^# Created on first start; see \.env\.example for every variable\.\n/;

  it("should write a private .env with random credentials once", () => {
    const path = join(tempDir(), ".env");
    const env: NodeJS.ProcessEnv = {};
    const result = prepareEnv(env, path);
    const text = readFileSync(path, "utf8");
    const credentials =
      /\nWEBHOOK_SECRETS=([0-9a-f]{64})\nWEBHOOK_TOKENS=([\w-]{32})\n$/;
    const [, secret, token] = credentials.exec(text) ?? [];
    assert.deepEqual(
      {
        result,
        mode: statSync(path).mode & 0o777,
        header: CREATED.test(text),
        env: { ...env },
      },
      {
        result: "created",
        mode: 0o600,
        header: true,
        env: { WEBHOOK_SECRETS: secret, WEBHOOK_TOKENS: token },
      },
    );
  });

  it("should give credentials the configuration accepts", () => {
    const env: NodeJS.ProcessEnv = {};
    prepareEnv(env, join(tempDir(), ".env"));
    const config = loadConfig(env);
    assert.deepEqual(
      [config.webhookSecrets.length, config.webhookTokens.length],
      [1, 1],
    );
  });

  it("should load, not rewrite, the .env it created", () => {
    const path = join(tempDir(), ".env");
    prepareEnv({}, path);
    const written = readFileSync(path, "utf8");
    const env: NodeJS.ProcessEnv = {};
    const second = prepareEnv(env, path);
    assert.deepEqual(
      {
        second,
        unchanged: readFileSync(path, "utf8") === written,
        mode: statSync(path).mode & 0o777,
        secretLoaded: written.includes(
          `WEBHOOK_SECRETS=${env.WEBHOOK_SECRETS}`,
        ),
      },
      { second: "loaded", unchanged: true, mode: 0o600, secretLoaded: true },
    );
  });

  it("should write different credentials for different checkouts", () => {
    const first: NodeJS.ProcessEnv = {};
    const second: NodeJS.ProcessEnv = {};
    prepareEnv(first, join(tempDir(), ".env"));
    prepareEnv(second, join(tempDir(), ".env"));
    assert.notEqual(first.WEBHOOK_SECRETS, second.WEBHOOK_SECRETS);
    assert.notEqual(first.WEBHOOK_TOKENS, second.WEBHOOK_TOKENS);
  });

  it("should refuse to write credentials in production", () => {
    const path = join(tempDir(), ".env");
    const env: NodeJS.ProcessEnv = { NODE_ENV: "production" };
    assert.deepEqual(
      { result: prepareEnv(env, path), written: existsSync(path), env },
      { result: "none", written: false, env: { NODE_ENV: "production" } },
    );
  });

  const configured: ReadonlyArray<[string, NodeJS.ProcessEnv]> = [
    ["a secret", { WEBHOOK_SECRETS: SECRET }],
    ["a token", { WEBHOOK_TOKENS: TOKEN }],
  ];
  for (const [name, given] of configured) {
    it(`should write nothing when ${name} is already set`, () => {
      const path = join(tempDir(), ".env");
      const env = { ...given };
      assert.deepEqual(
        { result: prepareEnv(env, path), written: existsSync(path), env },
        { result: "none", written: false, env: given },
      );
    });
  }

  it("should load an existing .env into env without overriding it", () => {
    const path = join(tempDir(), ".env");
    writeFileSync(
      path,
      `# comment\nWEBHOOK_SECRETS=${SECRET}\nLOG_LEVEL=debug\n` +
        'OTEL_SERVICE_NAME="quoted name"\n',
    );
    const env: NodeJS.ProcessEnv = {
      NODE_ENV: "production",
      LOG_LEVEL: "warn",
    };
    assert.deepEqual(
      { result: prepareEnv(env, path), env },
      {
        result: "loaded",
        env: {
          NODE_ENV: "production",
          LOG_LEVEL: "warn",
          WEBHOOK_SECRETS: SECRET,
          OTEL_SERVICE_NAME: "quoted name",
        },
      },
    );
  });

  it("should leave the process environment alone", () => {
    const path = join(tempDir(), ".env");
    writeFileSync(path, "TVIBKR_UNIT_PROBE=from-file\n");
    const env: NodeJS.ProcessEnv = {};
    prepareEnv(env, path);
    assert.deepEqual(
      [env.TVIBKR_UNIT_PROBE, process.env.TVIBKR_UNIT_PROBE],
      ["from-file", undefined],
    );
  });
});
