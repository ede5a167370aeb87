import { existsSync } from "node:fs";
import { join } from "node:path";

import { loadConfig, type Config } from "../config";

/**
 * The service's configuration as the helpers see it: the environment plus
 * `.env` in the working directory, validated the same way as at start.
 */
export function loadHelperConfig(): Config {
  const envPath = join(process.cwd(), ".env");
  if (existsSync(envPath)) process.loadEnvFile(envPath);
  return loadConfig(process.env);
}

/** Quotes `value` for a POSIX shell. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}
