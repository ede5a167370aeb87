import { signBody } from "../auth";
import { ConfigError } from "../config";
import { loadHelperConfig, shellQuote } from "./env";

/**
 * Prints a fresh, valid alert, its x-signature header and ready curl
 * commands for the local HTTP gateway: the quickest way to see the service
 * accept a signal. `npm run alert`.
 */
function main(): void {
  const config = loadHelperConfig();
  const body = createAlert("signed");
  const url = `http://${config.httpHost}:${config.httpPort}/webhook`;
  const lines = [`# alert\n${body}`];
  const [secret] = config.webhookSecrets;
  if (secret) {
    const signature = signBody(body, secret);
    lines.push(`# signature header\nx-signature: ${signature}`);
    lines.push(
      "# signed (send within the freshness window, " +
        `${config.timestampToleranceSeconds}s)\n` +
        `curl -sS -X POST ${url} -H 'content-type: application/json' ` +
        `-H ${shellQuote(`x-signature: ${signature}`)} ` +
        `--data-binary ${shellQuote(body)}`,
    );
  }
  const [token] = config.webhookTokens;
  if (token) {
    lines.push(
      "# another alert, with the path token, as TradingView sends it " +
        "(run a command twice to see OUTCOME_DUPLICATE)\n" +
        `curl -sS -X POST ${url}/${token} ` +
        "-H 'content-type: application/json' " +
        `--data-binary ${shellQuote(createAlert("token"))}`,
    );
  }
  process.stdout.write(lines.join("\n\n") + "\n");
}

/** A fresh alert; `tag` keeps the two printed alerts distinct signals. */
function createAlert(tag: string): string {
  return JSON.stringify({
    ticker: "AAPL",
    action: "buy",
    quantity: "1",
    timestamp: new Date().toISOString().replace(/\.\d{3}Z$/, "Z"),
    order_type: "market",
    order_id: `demo-${tag}-${Date.now()}`,
  });
}

try {
  main();
} catch (err) {
  const message = err instanceof ConfigError ? err.message : String(err);
  process.stderr.write(`alert: ${message}\n`);
  process.exit(1);
}
