#!/usr/bin/env node
"use strict";
/**
 * Builds the descriptor set Envoy's gRPC-JSON transcoder reads: the
 * IngestService and everything it imports, plus google.rpc.Status and the
 * error details, so that convert_grpc_status can render the details of an
 * error as JSON.
 *
 *   node scripts/envoy-descriptor.js [out]   (default build/envoy/ingest.binpb)
 */
const { execFileSync } = require("node:child_process");
const { mkdirSync } = require("node:fs");
const { dirname, join, resolve } = require("node:path");

const ROOT = join(__dirname, "..");
const DEFAULT_OUT = join(ROOT, "build", "envoy", "ingest.binpb");
const GOOGLE_RPC = "node_modules/google-proto-files/google/rpc";

/** The files given to `buf build --path`; their imports come along. */
const DESCRIPTOR_PATHS = [
  "proto/tvibkr",
  `${GOOGLE_RPC}/status.proto`,
  `${GOOGLE_RPC}/error_details.proto`,
];

/**
 * Writes the descriptor set to `out` and returns its absolute path.
 * @param {string} [out]
 * @returns {string}
 */
function buildIngestDescriptor(out = DEFAULT_OUT) {
  const target = resolve(out);
  mkdirSync(dirname(target), { recursive: true });
  const paths = DESCRIPTOR_PATHS.flatMap((p) => ["--path", p]);
  execFileSync(bufBinary(), ["build", ...paths, "-o", target], {
    cwd: ROOT,
    stdio: ["ignore", "inherit", "inherit"],
  });
  return target;
}

/** The buf binary the project installs, whatever the platform. */
function bufBinary() {
  const name = process.platform === "win32" ? "buf.cmd" : "buf";
  return join(ROOT, "node_modules", ".bin", name);
}

module.exports = { buildIngestDescriptor, bufBinary, DEFAULT_OUT };

if (require.main === module) {
  const written = buildIngestDescriptor(process.argv[2]);
  process.stdout.write(`wrote ${written}\n`);
}
