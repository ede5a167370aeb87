import { join } from "node:path";

import { ConfigError, loadConfig, prepareEnv } from "./config";
import { startService } from "./app";
import { createLogger } from "./logger";

/** Where `.env` is read from: the working directory, as with most tools. */
const ENV_PATH = join(process.cwd(), ".env");

async function main(): Promise<void> {
  const envSource = prepareEnv(process.env, ENV_PATH);
  const config = loadConfig(process.env);
  const logger = createLogger(config.logLevel);
  if (envSource === "created") {
    logger.warn(
      { path: ENV_PATH },
      "no credentials were configured, so a new .env with a random " +
        "WEBHOOK_SECRETS and WEBHOOK_TOKENS was written; read them there",
    );
  }
  const service = await startService(config, logger);
  const onSignal = (signal: NodeJS.Signals) => {
    logger.info({ signal }, "signal received");
    service.shutdown().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.once("SIGTERM", onSignal);
  process.once("SIGINT", onSignal);
  logger.info(
    {
      grpc: `${config.grpcHost}:${service.grpcPort}`,
      http: service.httpPort && `${config.httpHost}:${service.httpPort}`,
      metrics:
        service.metricsPort !== undefined
          ? `${config.metricsHost}:${service.metricsPort}`
          : undefined,
      signatureSecrets: config.webhookSecrets.length,
      standardWebhookSecrets: config.standardWebhookKeys.length,
      tokens: config.webhookTokens.length,
    },
    "ready",
  );
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) {
    process.stderr.write(`configuration error: ${err.message}\n`);
  } else {
    process.stderr.write(`failed to start: ${String(err)}\n`);
  }
  process.exit(1);
});
