import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";

import type { FileRegistry } from "@bufbuild/protobuf";

import { ROOT } from "./helpers/harness";

/** The parts of scripts/envoy-schema.js these tests use. */
interface EnvoySchemaTool {
  buildEnvoySchema(out: string): string;
  loadEnvoySchema(file: string): FileRegistry;
  checkEnvoyYaml(text: string, registry: FileRegistry): { problems: string[] };
  checkEnvoyJson(json: unknown, registry: FileRegistry): { problems: string[] };
  parseEnvoyYaml(text: string): Record<string, unknown>;
}

const tool = require(
  join(ROOT, "scripts", "envoy-schema.js"),
) as EnvoySchemaTool;

const FIXTURES = join(ROOT, "test", "fixtures", "envoy");
const CONFIGS = ["envoy.yaml", "envoy-cloudflare.yaml"];

function readText(...parts: string[]): string {
  return readFileSync(join(...parts), "utf8");
}

/** Each broken copy, what its one mistake is, and how to undo it. */
const BROKEN = [
  {
    file: "misspelled-key.yaml",
    wrong: "convert_grpc_stauts: true",
    right: "convert_grpc_status: true",
    expected: /GrpcJsonTranscoder.*key "convert_grpc_stauts" is unknown/,
  },
  {
    file: "wrong-enum.yaml",
    wrong: "codec_type: AUTOMATIC",
    right: "codec_type: AUTO",
    expected: /CodecType from JSON: "AUTOMATIC"/,
  },
  {
    file: "wrong-type.yaml",
    wrong: "timeout: 2500\n",
    right: "timeout: 2.5s\n",
    expected: /google\.protobuf\.Duration from JSON: 2500/,
  },
  {
    file: "unknown-type.yaml",
    wrong: "router.v3.Routr\n",
    right: "router.v3.Router\n",
    expected: /router\.v3\.Routr is not in the type registry/,
  },
  {
    file: "missing-required.yaml",
    wrong: 'stat_prefix: ""',
    right: "stat_prefix: tls",
    expected: /HttpConnectionManager>\.stat_prefix: must have at least 1/,
  },
  {
    file: "deprecated-field.yaml",
    wrong: "- source_ip:",
    right: "- direct_remote_ip:",
    expected: /principals\[0\]\.source_ip: deprecated/,
  },
];

describe("Envoy config against Envoy's API schema", () => {
  let work: string;
  let registry: FileRegistry;

  before(() => {
    work = mkdtempSync(join(tmpdir(), "envoy-schema-test-"));
    const schema = tool.buildEnvoySchema(join(work, "envoy.binpb"));
    registry = tool.loadEnvoySchema(schema);
  });

  after(() => rmSync(work, { recursive: true, force: true }));

  for (const name of CONFIGS) {
    it(`should decode envoy/${name} strictly, typed_configs included`, () => {
      const text = readText(ROOT, "envoy", name);
      assert.deepEqual(tool.checkEnvoyYaml(text, registry).problems, []);
    });
  }

  for (const broken of BROKEN) {
    it(`should reject ${broken.file} and accept it once fixed`, () => {
      const text = readText(FIXTURES, broken.file);
      const found = tool.checkEnvoyYaml(text, registry).problems;
      assert.ok(found.length > 0, `${broken.file} passed`);
      assert.match(found.join("\n"), broken.expected);

      assert.equal(text.split(broken.wrong).length, 2, "one mistake only");
      const fixed = text.replace(broken.wrong, broken.right);
      assert.deepEqual(tool.checkEnvoyYaml(fixed, registry).problems, []);
    });
  }

  it("should reject a duplicate key", () => {
    const text = "admin: {}\nadmin: {}\n";
    const found = tool.checkEnvoyYaml(text, registry).problems;
    assert.match(found.join("\n"), /yaml: .*unique/i);
  });

  it("should reject a YAML merge key, which Envoy does not expand", () => {
    const text = ["node: &n { id: a }", "admin:", "  <<: *n", ""].join("\n");
    const found = tool.checkEnvoyYaml(text, registry).problems;
    assert.match(found.join("\n"), /key "<<" is unknown/);
  });

  it("should reject a oneof left empty when Envoy requires one", () => {
    const json = tool.parseEnvoyYaml(readText(ROOT, "envoy", "envoy.yaml"));
    const manager = connectionManager(json, 0);
    delete manager.route_config;
    const found = tool.checkEnvoyJson(json, registry).problems;
    assert.match(found.join("\n"), /route_specifier: one of its fields/);
  });

  it("should accept the optional TradingView client-certificate check", () => {
    const json = tool.parseEnvoyYaml(readText(ROOT, "envoy", "envoy.yaml"));
    const snippet = tool.parseEnvoyYaml(
      readText(ROOT, "envoy", "optional", "tradingview-client-cert.yaml"),
    );
    const chains = listener(json, 0).filter_chains as Json[];
    (chains[0].transport_socket as Json).typed_config = snippet;
    assert.deepEqual(tool.checkEnvoyJson(json, registry).problems, []);
    assert.equal(snippet.require_client_certificate, true);
  });
});

type Json = Record<string, unknown>;

function listener(json: Json, index: number): Json {
  const resources = json.static_resources as { listeners: Json[] };
  return resources.listeners[index];
}

function connectionManager(json: Json, index: number): Json {
  const chains = listener(json, index).filter_chains as Json[];
  const filters = chains[0].filters as Json[];
  return filters[0].typed_config as Json;
}
