import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";

import {
  createFileRegistry,
  fromBinary,
  getOption,
  hasOption,
  type DescExtension,
  type DescMethod,
  type FileRegistry,
} from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";

import {
  DEFAULT_GRPC_PORT,
  DEFAULT_HTTP_REQUEST_TIMEOUT_MS,
  DEFAULT_MAX_BODY_BYTES,
  MIN_TOKEN_LENGTH,
} from "../src/config";
import { maxGrpcMessageBytes } from "../src/grpc-server";
import { READINESS_SERVICE } from "../src/health";
import { INGEST_METHOD } from "../src/pipeline";
import { ROOT } from "./helpers/harness";

// Parsed YAML, walked by key; the schema test checks the types.
type Json = Record<string, any>;

interface Tools {
  parseEnvoyYaml(text: string): Json;
}
interface DescriptorTool {
  buildIngestDescriptor(out: string): string;
}
const schemaTool = require(join(ROOT, "scripts", "envoy-schema.js")) as Tools;
const descriptorTool = require(
  join(ROOT, "scripts", "envoy-descriptor.js"),
) as DescriptorTool;

/** TradingView's published webhook source addresses. */
const TRADINGVIEW = [
  "52.89.214.238",
  "34.212.75.30",
  "54.218.53.128",
  "52.32.178.7",
];
/** TradingView gives up on a webhook after this long. */
const TRADINGVIEW_GIVE_UP_MS = 3000;

function loadConfig(name: string): Json {
  const text = readFileSync(join(ROOT, "envoy", name), "utf8");
  return schemaTool.parseEnvoyYaml(text);
}

const CONFIGS = {
  direct: loadConfig("envoy.yaml"),
  cloudflare: loadConfig("envoy-cloudflare.yaml"),
};

function listeners(config: Json): Json[] {
  return config.static_resources.listeners;
}

function managers(config: Json): Json[] {
  return listeners(config).map(
    (l) => l.filter_chains[0].filters[0].typed_config,
  );
}

function filter(manager: Json, name: string): Json[] {
  return manager.http_filters
    .filter((f: Json) => f.name === name)
    .map((f: Json) => f.typed_config);
}

function routes(manager: Json): Json[] {
  return manager.route_config.virtual_hosts.flatMap((v: Json) => v.routes);
}

function cluster(config: Json, name: string): Json | undefined {
  return config.static_resources.clusters.find((c: Json) => c.name === name);
}

/** "2.5s" → 2500 */
function durationMs(text: string): number {
  const match = /^(\d+(?:\.\d+)?)s$/.exec(text);
  assert.ok(match, `${text} is not a duration in seconds`);
  return Math.round(Number(match[1]) * 1000);
}

/** A path template of the proto's HTTP rules, as a route regex matches it. */
function sampleFor(template: string): string {
  return template.replace("{token}", "A".repeat(MIN_TOKEN_LENGTH));
}

for (const [deployment, config] of Object.entries(CONFIGS)) {
  describe(`Envoy config (${deployment}) against the service`, () => {
    let work: string;
    let registry: FileRegistry;
    let method: DescMethod;
    let httpRule: DescExtension;

    before(() => {
      work = mkdtempSync(join(tmpdir(), "envoy-config-test-"));
      const file = descriptorTool.buildIngestDescriptor(
        join(work, "ingest.binpb"),
      );
      const set = fromBinary(FileDescriptorSetSchema, readFileSync(file));
      registry = createFileRegistry(set);
      const [serviceName, methodName] = INGEST_METHOD.split("/");
      const service = registry.getService(serviceName);
      assert.ok(service, `${serviceName} is not in the descriptor`);
      const found = service.methods.find((m) => m.name === methodName);
      assert.ok(found, `${INGEST_METHOD} is not in the descriptor`);
      method = found;
      const rule = registry.getExtension("google.api.http");
      assert.ok(rule, "google.api.http is not in the descriptor");
      httpRule = rule;
    });

    after(() => rmSync(work, { recursive: true, force: true }));

    it("should transcode only services the descriptor defines", () => {
      for (const manager of managers(config)) {
        const [transcoder] = filter(
          manager,
          "envoy.filters.http.grpc_json_transcoder",
        );
        for (const name of transcoder.services) {
          assert.ok(registry.getService(name), `${name} is not in it`);
        }
        assert.deepEqual(transcoder.services, [method.parent.typeName]);
      }
    });

    it("should carry google.rpc.Status and its details in the descriptor", () => {
      for (const name of [
        "google.rpc.Status",
        "google.rpc.ErrorInfo",
        "google.rpc.BadRequest",
      ]) {
        assert.ok(registry.getMessage(name), `${name} is missing`);
      }
    });

    it("should route every path template the proto binds, and no other", () => {
      assert.ok(hasOption(method, httpRule), "Ingest has no HTTP rule");
      const rule = getOption(method, httpRule) as unknown as HttpRule;
      const bindings = [rule, ...rule.additionalBindings].map((b) => {
        assert.equal(b.pattern.case, "post");
        assert.equal(b.body, "body");
        return b.pattern.value;
      });
      for (const manager of managers(config)) {
        const templates = routes(manager).map(
          (r) => r.metadata.filter_metadata["tvibkr.access_log"].path,
        );
        assert.deepEqual([...templates].sort(), [...bindings].sort());
        for (const route of routes(manager)) {
          const template =
            route.metadata.filter_metadata["tvibkr.access_log"].path;
          assert.ok(matches(route.match, sampleFor(template)), template);
          assert.equal(route.decorator.operation, INGEST_METHOD);
        }
        const tokenRoute = routes(manager).find((r) => r.match.safe_regex);
        assert.ok(tokenRoute, "no route for /webhook/{token}");
        assert.ok(!matches(tokenRoute.match, "/webhook/a/b"));
        assert.ok(!matches(tokenRoute.match, "/webhook/"));
      }
    });

    it("should check the health service name the server reports", () => {
      const checks = cluster(config, "ingest")?.health_checks as Json[];
      assert.equal(checks.length, 1);
      const [check] = checks;
      assert.equal(check.grpc_health_check.service_name, READINESS_SERVICE);
      assert.ok(durationMs(check.no_traffic_interval) <= 10_000);
    });

    it("should name only clusters that exist", () => {
      const names = config.static_resources.clusters.map((c: Json) => c.name);
      for (const c of config.static_resources.clusters) {
        assert.equal(c.load_assignment.cluster_name, c.name);
      }
      const used = new Set<string>();
      for (const manager of managers(config)) {
        for (const route of routes(manager)) used.add(route.route.cluster);
        const ready = filter(manager, "envoy.filters.http.health_check");
        for (const health of ready) {
          for (const name of Object.keys(
            health.cluster_min_healthy_percentages ?? {},
          )) {
            used.add(name);
          }
        }
        const otel = manager.tracing.provider.typed_config.grpc_service;
        used.add(otel.envoy_grpc.cluster_name);
      }
      for (const name of used) assert.ok(names.includes(name), name);
      assert.deepEqual([...used].sort(), [...names].sort());
    });

    it("should answer /health always and /ready only when ingest is up", () => {
      for (const manager of managers(config)) {
        const [health, ready] = filter(
          manager,
          "envoy.filters.http.health_check",
        );
        assert.equal(health.headers[0].string_match.exact, "/health");
        assert.equal(health.cluster_min_healthy_percentages, undefined);
        assert.equal(ready.headers[0].string_match.exact, "/ready");
        assert.deepEqual(ready.cluster_min_healthy_percentages, {
          ingest: { value: 100 },
        });
        assert.equal(health.pass_through_mode, false);
        assert.equal(ready.pass_through_mode, false);
      }
    });

    it("should agree with the service on body size, port and timeouts", () => {
      const endpoint = cluster(config, "ingest")?.load_assignment.endpoints[0]
        .lb_endpoints[0].endpoint.address.socket_address;
      assert.equal(endpoint.port_value, DEFAULT_GRPC_PORT);
      for (const manager of managers(config)) {
        const [transcoder] = filter(
          manager,
          "envoy.filters.http.grpc_json_transcoder",
        );
        assert.equal(transcoder.max_request_body_size, DEFAULT_MAX_BODY_BYTES);
        assert.ok(
          maxGrpcMessageBytes(DEFAULT_MAX_BODY_BYTES) >
            transcoder.max_request_body_size,
          "the gRPC server must accept the largest body Envoy lets through",
        );
        assert.equal(
          durationMs(manager.request_timeout),
          DEFAULT_HTTP_REQUEST_TIMEOUT_MS,
        );
        for (const route of routes(manager)) {
          const timeout = durationMs(route.route.timeout);
          assert.ok(timeout < TRADINGVIEW_GIVE_UP_MS, `${timeout} ms`);
          assert.ok(timeout <= DEFAULT_HTTP_REQUEST_TIMEOUT_MS);
        }
      }
    });

    it("should render JSON as the built-in gateway does", () => {
      for (const manager of managers(config)) {
        const [transcoder] = filter(
          manager,
          "envoy.filters.http.grpc_json_transcoder",
        );
        assert.equal(transcoder.convert_grpc_status, true);
        assert.equal(transcoder.match_incoming_request_route, true);
        assert.deepEqual(transcoder.request_validation_options, {
          reject_unknown_method: true,
          reject_unknown_query_parameters: true,
        });
        assert.deepEqual(transcoder.print_options, {
          add_whitespace: false,
          always_print_primitive_fields: false,
          always_print_enums_as_ints: false,
          preserve_proto_field_names: false,
        });
      }
    });

    it("should keep tokens out of access logs and spans", () => {
      for (const manager of managers(config)) {
        for (const log of manager.access_log) {
          const format = log.typed_config.log_format.json_format as Json;
          for (const value of Object.values(format)) {
            const text = String(value);
            const found = operators(text);
            const percents = text.split("%").length - 1;
            assert.equal(percents, found.length * 2, `unparsed % in ${text}`);
            for (const operator of found) {
              assert.ok(
                SAFE_LOG_OPERATORS.has(operator),
                `${operator} may carry the path token`,
              );
            }
          }
        }
        const max = manager.tracing.max_path_tag_length;
        assert.ok(max <= "/webhook/".length, "http.url would hold a token");
        for (const route of routes(manager)) {
          const meta = route.metadata.filter_metadata["tvibkr.access_log"];
          assert.doesNotMatch(meta.path, /[A-Za-z0-9_-]{24,}/);
        }
      }
    });

    it("should allow TradingView's four addresses and no other peer", () => {
      const [tls, plain] = managers(config);
      const tlsPolicies = rbacPolicies(tls);
      assert.deepEqual(Object.keys(tlsPolicies), ["tradingview"]);
      const policy = tlsPolicies.tradingview;
      assert.deepEqual(policy.permissions, [{ any: true }]);
      if (deployment === "direct") {
        assert.equal(tls.use_remote_address, true);
        assert.equal(tls.xff_num_trusted_hops, 0);
        assert.equal(tls.original_ip_detection_extensions, undefined);
        assert.deepEqual(
          policy.principals.map(cidr("direct_remote_ip")),
          TRADINGVIEW.map((a) => `${a}/32`),
        );
      } else {
        // The header is read only when the TCP peer is Cloudflare.
        assert.equal(tls.use_remote_address, false);
        const [detector] = tls.original_ip_detection_extensions;
        assert.equal(detector.typed_config.header_name, "cf-connecting-ip");
        assert.equal(policy.principals.length, 1);
        const [peers, senders] = policy.principals[0].and_ids.ids;
        const cloudflare = peers.or_ids.ids.map(cidr("direct_remote_ip"));
        assert.ok(cloudflare.length > 0);
        for (const range of cloudflare) {
          assert.ok(!TRADINGVIEW.some((a) => range.startsWith(`${a}/`)));
        }
        assert.deepEqual(
          senders.or_ids.ids.map(cidr("remote_ip")),
          TRADINGVIEW.map((a) => `${a}/32`),
        );
      }
      const plainPolicies = rbacPolicies(plain);
      assert.deepEqual(plainPolicies.tradingview, policy);
      assert.deepEqual(Object.keys(plainPolicies).sort(), [
        "local",
        "tradingview",
      ]);
    });

    it("should run health, RBAC, rate limit, transcoder, router in order", () => {
      for (const manager of managers(config)) {
        assert.deepEqual(
          manager.http_filters.map((f: Json) => f.name),
          [
            "envoy.filters.http.health_check",
            "envoy.filters.http.health_check",
            "envoy.filters.http.rbac",
            "envoy.filters.http.local_ratelimit",
            "envoy.filters.http.grpc_json_transcoder",
            "envoy.filters.http.router",
          ],
        );
      }
    });

    it("should offer TLS with h2 and http/1.1 on mounted files", () => {
      const tls = listeners(config)[0].filter_chains[0].transport_socket;
      const context = tls.typed_config.common_tls_context;
      assert.deepEqual(context.alpn_protocols, ["h2", "http/1.1"]);
      const [pair] = context.tls_certificates;
      assert.equal(pair.certificate_chain.filename, "/etc/envoy/certs/tls.crt");
      assert.equal(pair.private_key.filename, "/etc/envoy/certs/tls.key");
      assert.equal(
        listeners(config)[1].filter_chains[0].transport_socket,
        undefined,
      );
    });
  });
}

describe("Envoy configs of the two deployments", () => {
  it("should differ only in how the client address is found", () => {
    const strip = (config: Json): Json => {
      const copy = structuredClone(config);
      for (const manager of managers(copy)) {
        delete manager.use_remote_address;
        delete manager.xff_num_trusted_hops;
        delete manager.original_ip_detection_extensions;
        for (const rbac of filter(manager, "envoy.filters.http.rbac")) {
          delete rbac.rules.policies.tradingview.principals;
        }
      }
      return copy;
    };
    assert.deepEqual(strip(CONFIGS.cloudflare), strip(CONFIGS.direct));
  });
});

interface HttpRule {
  pattern: { case: string; value: string };
  body: string;
  additionalBindings: HttpRule[];
}

/** Whether a route match (path or safe_regex) takes `path`. */
function matches(match: Json, path: string): boolean {
  if (match.path !== undefined) return match.path === path;
  if (match.safe_regex) {
    // Envoy's RE2 must match the whole path.
    return new RegExp(`^(?:${match.safe_regex.regex})$`).test(path);
  }
  throw new Error(`unexpected route match ${JSON.stringify(match)}`);
}

function rbacPolicies(manager: Json): Json {
  const [rbac] = filter(manager, "envoy.filters.http.rbac");
  assert.equal(rbac.rules.action, "ALLOW");
  return rbac.rules.policies;
}

function cidr(kind: string) {
  return (principal: Json): string => {
    const range = principal[kind];
    assert.ok(range, `expected ${kind} in ${JSON.stringify(principal)}`);
    return `${range.address_prefix}/${range.prefix_len}`;
  };
}

/** The %OPERATOR(...)% names of an access log format string. */
function operators(format: string): string[] {
  return [...format.matchAll(/%([A-Z_]+)(\([^)]*\))?%/g)].map((m) =>
    m[2] ? `${m[1]}${m[2]}` : m[1],
  );
}

/**
 * What access logs may record. No operator that prints the request path
 * (%REQ(:PATH)%, %REQ(X-ENVOY-ORIGINAL-PATH)%, %REQ_WITHOUT_QUERY(...)%,
 * %PATH%) may be added: /webhook/{token} carries a secret.
 */
const SAFE_LOG_OPERATORS = new Set([
  "START_TIME",
  "DOWNSTREAM_LOCAL_PORT",
  "ROUTE_NAME",
  "METADATA(ROUTE:tvibkr.access_log:path)",
  "REQ(:METHOD)",
  "PROTOCOL",
  "RESPONSE_CODE",
  "GRPC_STATUS",
  "RESPONSE_CODE_DETAILS",
  "RESPONSE_FLAGS",
  "DURATION",
  "RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)",
  "BYTES_RECEIVED",
  "BYTES_SENT",
  "DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT",
  "DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT",
  "DOWNSTREAM_TLS_VERSION",
  "REQ(USER-AGENT)",
  "REQ(X-REQUEST-ID)",
  "TRACE_ID",
  "UPSTREAM_HOST",
]);
