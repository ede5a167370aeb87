import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { isAbsolute, join, posix } from "node:path";
import { describe, it } from "node:test";

import { parse } from "yaml";

import { DEFAULT_GRPC_PORT } from "../src/config";
import { READINESS_SERVICE } from "../src/health";
import { ROOT } from "./helpers/harness";

// Parsed YAML, walked by key.
type Json = Record<string, any>;

const compose = parse(
  readFileSync(join(ROOT, "docker-compose.yml"), "utf8"),
) as Json;
const dockerfile = readFileSync(join(ROOT, "Dockerfile"), "utf8");
const dockerignore = readFileSync(join(ROOT, ".dockerignore"), "utf8")
  .split("\n")
  .map((l) => l.trim());

/** Compose's ${VAR}, ${VAR:-default} and ${VAR-default}, from `env`. */
function interpolate(text: string, env: Record<string, string>): string {
  return text.replace(
    /\$\{([A-Z0-9_]+)(?::?-([^}]*))?\}/g,
    (_all, name: string, fallback?: string) =>
      env[name] !== undefined && env[name] !== ""
        ? env[name]
        : (fallback ?? ""),
  );
}

interface Mount {
  service: string;
  source: string;
  target: string;
  bind: boolean;
}

/** Every volume of every service, short or long syntax, interpolated. */
function mounts(env: Record<string, string>): Mount[] {
  const all: Mount[] = [];
  for (const [service, spec] of Object.entries(compose.services as Json)) {
    for (const volume of spec.volumes ?? []) {
      let source: string;
      let target: string;
      if (typeof volume === "string") {
        [source, target] = interpolate(volume, env).split(":");
      } else {
        source = interpolate(String(volume.source), env);
        target = String(volume.target);
      }
      const bind = source.startsWith(".") || isAbsolute(source);
      all.push({ service, source, target, bind });
    }
  }
  return all;
}

function envoyConfig(name: string): Json {
  return parse(readFileSync(join(ROOT, "envoy", name), "utf8")) as Json;
}

const ENVIRONMENTS: Record<string, Record<string, string>> = {
  default: {},
  cloudflare: { ENVOY_CONFIG: "envoy-cloudflare.yaml" },
};

describe("docker-compose.yml", () => {
  for (const [name, env] of Object.entries(ENVIRONMENTS)) {
    it(`should mount only files that exist (${name} settings)`, () => {
      const binds = mounts(env).filter((m) => m.bind);
      assert.ok(binds.length >= 4);
      for (const mount of binds) {
        const path = join(ROOT, mount.source);
        assert.ok(existsSync(path), `${mount.service}: ${mount.source}`);
      }
    });
  }

  it("should declare every named volume it mounts", () => {
    const named = mounts({}).filter((m) => !m.bind);
    assert.ok(named.length > 0);
    for (const mount of named) {
      assert.ok(mount.source in (compose.volumes ?? {}), mount.source);
    }
  });

  it("should build from targets the Dockerfile defines", () => {
    for (const [service, spec] of Object.entries(compose.services as Json)) {
      if (!spec.build) continue;
      assert.equal(spec.build.context, ".", service);
      const stage = new RegExp(`^FROM \\S+ AS ${spec.build.target}$`, "m");
      assert.match(dockerfile, stage, `${service}: ${spec.build.target}`);
    }
  });

  it("should pin every image it pulls", () => {
    for (const [service, spec] of Object.entries(compose.services as Json)) {
      if (spec.build) continue;
      assert.match(spec.image, /^[\w./-]+:v?\d+\.\d+\.\d+$/, service);
    }
  });

  it("should run an Envoy of 1.25 or newer, the one the configs name", () => {
    const image = compose.services.envoy.image as string;
    const match = /^envoyproxy\/envoy:v(\d+)\.(\d+)\.(\d+)$/.exec(image);
    assert.ok(match, image);
    assert.ok(Number(match[1]) > 1 || Number(match[2]) >= 25, image);
    for (const file of ["envoy.yaml", "envoy-cloudflare.yaml"]) {
      const text = readFileSync(join(ROOT, "envoy", file), "utf8");
      assert.ok(text.includes(`Written for ${image} `), file);
    }
  });

  for (const [name, env] of Object.entries(ENVIRONMENTS)) {
    it(`should give Envoy every file its config reads (${name})`, () => {
      const envoyMounts = mounts(env).filter((m) => m.service === "envoy");
      const configMount = envoyMounts.find(
        (m) => m.target === "/etc/envoy/envoy.yaml",
      );
      assert.ok(configMount, "no config mounted");
      const command = compose.services.envoy.command as string[];
      assert.equal(command[command.indexOf("-c") + 1], configMount.target);

      const config = envoyConfig(posix.basename(configMount.source));
      const files = filenames(config);
      assert.ok(files.length >= 3);
      for (const file of files) {
        const inside = envoyMounts.some((m) => file.startsWith(`${m.target}/`));
        assert.ok(inside, `${file} is not mounted into Envoy`);
      }
    });
  }

  it("should publish the listeners the Envoy config defines", () => {
    const config = envoyConfig("envoy.yaml");
    const ports = config.static_resources.listeners.map(
      (l: Json) => l.address.socket_address.port_value,
    );
    const published = (compose.services.envoy.ports as string[]).map((p) =>
      Number(interpolate(p, {}).split(":").at(-1)),
    );
    assert.deepEqual([...published].sort(), [...ports].sort());
    const local = (compose.services.envoy.ports as string[]).find((p) =>
      p.endsWith(":8080"),
    );
    assert.ok(local?.startsWith("127.0.0.1:"), "plain listener is public");
  });

  it("should check readiness the way the service reports it", () => {
    const ingest = compose.services.ingest;
    const probe = ingest.healthcheck.test as string[];
    assert.equal(probe[1], "grpc_health_probe");
    assert.ok(probe.includes(`-service=${READINESS_SERVICE}`));
    assert.ok(probe.includes(`-addr=127.0.0.1:${DEFAULT_GRPC_PORT}`));
    assert.equal(Number(ingest.environment.GRPC_PORT), DEFAULT_GRPC_PORT);
    assert.equal(ingest.environment.GRPC_HOST, "0.0.0.0");

    const envoy = compose.services.envoy;
    const script = (envoy.healthcheck.test as string[]).join(" ");
    assert.match(script, /\/dev\/tcp\/127\.0\.0\.1\/8080/);
    assert.match(script, /GET \/ready /);
    assert.equal(envoy.depends_on.ingest.condition, "service_healthy");
  });

  it("should take credentials from the environment, never literally", () => {
    const env = compose.services.ingest.environment as Json;
    for (const name of ["WEBHOOK_SECRETS", "WEBHOOK_TOKENS"]) {
      assert.match(String(env[name]), /^\$\{[A-Z_]+:-\}$/, name);
    }
  });

  it("should have the observability services only in their profile", () => {
    for (const name of ["otel-collector", "jaeger"]) {
      assert.deepEqual(compose.services[name].profiles, ["observability"]);
    }
  });
});

describe("Dockerfile", () => {
  const runtime = stage("runtime");

  it("should run the service as a non-root user", () => {
    assert.match(runtime, /^USER node$/m);
  });

  it("should ship production dependencies only", () => {
    assert.match(stage("deps"), /npm ci --omit=dev/);
    assert.match(runtime, /COPY --from=deps \/app\/node_modules/);
  });

  it("should build the generated code and the descriptor in the image", () => {
    const build = stage("build");
    assert.match(build, /npm run gen/);
    assert.match(build, /npm run proto:descriptor/);
    assert.match(runtime, /build\/envoy\/ingest\.binpb/);
  });

  it("should start from a Node LTS image", () => {
    const match = /^ARG NODE_IMAGE=node:(\d+)-/m.exec(dockerfile);
    assert.ok(match);
    assert.equal(Number(match[1]) % 2, 0, "odd Node majors are not LTS");
  });

  it("should keep credentials and keys out of the build context", () => {
    for (const entry of [".env", ".env.*", "envoy/certs/", "*.key"]) {
      assert.ok(dockerignore.includes(entry), entry);
    }
    assert.doesNotMatch(dockerfile, /COPY[^\n]*\.env/);
  });
});

/** The lines of one Dockerfile stage. */
function stage(name: string): string {
  const start = dockerfile.search(new RegExp(`^FROM \\S+ AS ${name}$`, "m"));
  assert.ok(start >= 0, `no stage ${name}`);
  const rest = dockerfile.slice(start + 1);
  const next = rest.search(/^FROM /m);
  return next < 0 ? rest : rest.slice(0, next);
}

/** Every `filename:` and `proto_descriptor:` path in an Envoy config. */
function filenames(node: unknown): string[] {
  if (Array.isArray(node)) return node.flatMap(filenames);
  if (node === null || typeof node !== "object") return [];
  const found: string[] = [];
  for (const [key, value] of Object.entries(node)) {
    if ((key === "filename" || key === "proto_descriptor") && value) {
      found.push(String(value));
    } else {
      found.push(...filenames(value));
    }
  }
  return found;
}
