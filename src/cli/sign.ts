import { readFileSync } from "node:fs";

import { signBody } from "../auth";
import { ConfigError } from "../config";
import { loadHelperConfig } from "./env";

/**
 * Prints the x-signature header for the exact bytes of a file, signed with
 * the first of WEBHOOK_SECRETS. `npm run sign -- alert.json`.
 */
function main(argv: string[]): void {
  const [path] = argv;
  if (!path || argv.length > 1) {
    throw new Error("usage: npm run sign -- <file>");
  }
  const [secret] = loadHelperConfig().webhookSecrets;
  if (!secret)
    throw new Error("WEBHOOK_SECRETS is empty; nothing to sign with");
  process.stdout.write(
    `x-signature: ${signBody(readFileSync(path), secret)}\n`,
  );
}

try {
  main(process.argv.slice(2));
} catch (err) {
  const message = err instanceof ConfigError ? err.message : String(err);
  process.stderr.write(`sign: ${message.replace(/^Error: /, "")}\n`);
  process.exit(1);
}
