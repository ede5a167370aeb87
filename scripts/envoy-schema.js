#!/usr/bin/env node
"use strict";
/**
 * Checks Envoy YAML against Envoy's own API schema without an Envoy binary.
 *
 * The .proto files of Envoy's API come with the @grpc/grpc-js-xds package.
 * buildEnvoySchema() compiles the ones this project's config uses (and their
 * imports) with buf into a FileDescriptorSet; checkEnvoyYaml() decodes the
 * YAML as an envoy.config.bootstrap.v3.Bootstrap with a strict proto3 JSON
 * parser: an unknown key, an undefined enum name or a value of the wrong type
 * fails, inside every typed_config (google.protobuf.Any) too, since each @type
 * is resolved against the same descriptor set. On top of that it applies the
 * common protoc-gen-validate rules Envoy enforces at load time (required
 * fields and oneofs, string lengths, number and duration bounds, list sizes,
 * defined enums) and refuses deprecated fields, which a newer Envoy may drop.
 *
 *   node scripts/envoy-schema.js envoy/envoy.yaml [more.yaml ...]
 */
const { execFileSync } = require("node:child_process");
const {
  cpSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} = require("node:fs");
const { tmpdir } = require("node:os");
const { dirname, join } = require("node:path");

const {
  createFileRegistry,
  fromBinary,
  fromJson,
  getOption,
  hasOption,
} = require("@bufbuild/protobuf");
const { reflect } = require("@bufbuild/protobuf/reflect");
const {
  anyUnpack,
  FileDescriptorSetSchema,
} = require("@bufbuild/protobuf/wkt");
const YAML = require("yaml");

const { bufBinary } = require("./envoy-descriptor");

const XDS_DEPS = join(
  dirname(require.resolve("@grpc/grpc-js-xds/package.json")),
  "deps",
);

/** Where each proto root of the xds package is copied in the build folder. */
const PROTO_ROOTS = [
  ["envoy-api/envoy", "envoy"],
  ["xds/udpa", "udpa"],
  ["xds/xds", "xds"],
  ["googleapis/google", "google"],
  ["protoc-gen-validate/validate", "validate"],
];

/**
 * The files compiled: the bootstrap and every extension a typed_config of
 * ours names. Add the file here when the config gains a new @type.
 */
const ENVOY_PROTOS = [
  "envoy/config/bootstrap/v3/bootstrap.proto",
  "envoy/config/trace/v3/opentelemetry.proto",
  "envoy/extensions/access_loggers/stream/v3/stream.proto",
  "envoy/extensions/filters/http/grpc_json_transcoder/v3/transcoder.proto",
  "envoy/extensions/filters/http/health_check/v3/health_check.proto",
  "envoy/extensions/filters/http/local_ratelimit/v3/local_rate_limit.proto",
  "envoy/extensions/filters/http/rbac/v3/rbac.proto",
  "envoy/extensions/filters/http/router/v3/router.proto",
  "envoy/extensions/filters/network/http_connection_manager/v3/" +
    "http_connection_manager.proto",
  "envoy/extensions/http/original_ip_detection/custom_header/v3/" +
    "custom_header.proto",
  "envoy/extensions/http/original_ip_detection/xff/v3/xff.proto",
  "envoy/extensions/transport_sockets/tls/v3/tls.proto",
  "envoy/extensions/upstreams/http/v3/http_protocol_options.proto",
];

const BOOTSTRAP = "envoy.config.bootstrap.v3.Bootstrap";

/**
 * The xds package ships an older validate.proto than its Envoy files use:
 * StringRules lacks `ignore_empty` (field 26 in protoc-gen-validate), which
 * 17 Envoy fields set. The copy gets that one field added; nothing else.
 */
function patchValidateProto(file) {
  const text = readFileSync(file, "utf8");
  const anchor = "optional bool strict = 25 [default = true];";
  if (text.includes("ignore_empty = 26")) return;
  if (!text.includes(anchor)) {
    throw new Error(`${file}: cannot find StringRules.strict to patch`);
  }
  const patched = text.replace(
    anchor,
    `${anchor}\n    optional bool ignore_empty = 26;`,
  );
  writeFileSync(file, patched);
}

/**
 * Compiles Envoy's API into a FileDescriptorSet at `out`.
 * @param {string} out
 * @returns {string} out
 */
function buildEnvoySchema(out) {
  const work = mkdtempSync(join(tmpdir(), "envoy-protos-"));
  try {
    for (const [from, to] of PROTO_ROOTS) {
      cpSync(join(XDS_DEPS, from), join(work, to), { recursive: true });
    }
    patchValidateProto(join(work, "validate", "validate.proto"));
    const paths = ENVOY_PROTOS.flatMap((p) => ["--path", join(work, p)]);
    execFileSync(bufBinary(), ["build", work, ...paths, "-o", out], {
      stdio: ["ignore", "inherit", "inherit"],
    });
    return out;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * Loads a FileDescriptorSet written by buildEnvoySchema().
 * @param {string} file
 */
function loadEnvoySchema(file) {
  const set = fromBinary(FileDescriptorSetSchema, readFileSync(file));
  return createFileRegistry(set);
}

/**
 * Parses Envoy YAML the strict way: duplicate keys fail, aliases resolve,
 * `<<` merge keys stay plain keys (and so fail as unknown fields).
 * @param {string} text
 */
function parseEnvoyYaml(text) {
  return YAML.parse(text, {
    version: "1.2",
    merge: false,
    uniqueKeys: true,
    strict: true,
    prettyErrors: true,
  });
}

/**
 * Decodes `text` as a Bootstrap against `registry`.
 * @returns {{ problems: string[], bootstrap: unknown, json: unknown }}
 */
function checkEnvoyYaml(text, registry) {
  let json;
  try {
    json = parseEnvoyYaml(text);
  } catch (err) {
    return { problems: [`yaml: ${err.message}`], bootstrap: undefined, json };
  }
  return checkEnvoyJson(json, registry);
}

/**
 * Decodes an already-parsed config as a Bootstrap against `registry`.
 * @returns {{ problems: string[], bootstrap: unknown, json: unknown }}
 */
function checkEnvoyJson(json, registry) {
  const schema = registry.getMessage(BOOTSTRAP);
  if (!schema) throw new Error(`${BOOTSTRAP} is not in the schema`);
  let bootstrap;
  try {
    bootstrap = fromJson(schema, json, {
      ignoreUnknownFields: false,
      registry,
    });
  } catch (err) {
    return { problems: [err.message], bootstrap: undefined, json };
  }
  const problems = [];
  walk(reflect(schema, bootstrap), "", registry, problems);
  return { problems, bootstrap, json };
}

/** Visits every set field, unpacking Any, and collects rule violations. */
function walk(message, path, registry, problems) {
  const { desc } = message;
  if (desc.typeName === "google.protobuf.Any") {
    const inner = anyUnpack(message.message, registry);
    if (inner) {
      const innerDesc = registry.getMessage(inner.$typeName);
      walk(
        reflect(innerDesc, inner),
        `${path}<${inner.$typeName}>`,
        registry,
        problems,
      );
    }
    return;
  }
  const rules = validateExtensions(registry);
  for (const oneof of desc.oneofs) {
    const required = rules.oneofRequired;
    if (required && hasOption(oneof, required) && getOption(oneof, required)) {
      if (!message.oneofCase(oneof)) {
        problems.push(`${at(path, oneof.name)}: one of its fields is required`);
      }
    }
  }
  for (const field of desc.fields) {
    const where = at(path, field.name);
    const set = message.isSet(field);
    if (set && field.deprecated) {
      problems.push(`${where}: deprecated; a newer Envoy may refuse it`);
    }
    // A member of a oneof obeys its rules only when it is the one chosen.
    const chosen = !field.oneof || message.oneofCase(field.oneof) === field;
    if (chosen && rules.field && hasOption(field, rules.field)) {
      const raw = getOption(field, rules.field);
      checkRules(field, message, raw, where, problems, registry);
    }
    if (!set) continue;
    visitValue(field, message.get(field), where, registry, problems);
  }
}

function visitValue(field, value, where, registry, problems) {
  if (field.fieldKind === "message") {
    walk(value, where, registry, problems);
  } else if (field.fieldKind === "enum") {
    checkDeprecatedEnum(field.enum, value, where, problems);
  } else if (field.fieldKind === "list") {
    let i = 0;
    for (const item of value) {
      const itemWhere = `${where}[${i++}]`;
      if (field.listKind === "message") {
        walk(item, itemWhere, registry, problems);
      } else if (field.listKind === "enum") {
        checkDeprecatedEnum(field.enum, item, itemWhere, problems);
      }
    }
  } else if (field.fieldKind === "map" && field.mapKind === "message") {
    for (const [key, item] of value) {
      walk(item, `${where}[${JSON.stringify(key)}]`, registry, problems);
    }
  }
}

function checkDeprecatedEnum(enumDesc, number, where, problems) {
  const value = enumDesc.values.find((v) => v.number === number);
  if (value && value.deprecated) {
    problems.push(`${where}: ${value.name} is deprecated`);
  }
}

const extensionCache = new WeakMap();

function validateExtensions(registry) {
  let found = extensionCache.get(registry);
  if (!found) {
    found = {
      field: registry.getExtension("validate.rules"),
      oneofRequired: registry.getExtension("validate.required"),
    };
    extensionCache.set(registry, found);
  }
  return found;
}

/**
 * The rule fields that are set, by proto name, so that proto2 defaults (a
 * `gt` of 0 that nobody wrote) do not count as rules.
 */
function setRules(rules) {
  const out = {};
  for (const field of rules.fields) {
    if (!rules.isSet(field)) continue;
    const value = rules.get(field);
    if (field.fieldKind === "message") {
      out[field.name] = setRules(value);
    } else if (field.fieldKind === "list") {
      out[field.name] = [...value].map((item) =>
        field.listKind === "message" ? setRules(item) : item,
      );
    } else {
      out[field.name] = value;
    }
  }
  return out;
}

/** Applies the protoc-gen-validate rules of one field. */
function checkRules(field, message, rawRules, where, problems, registry) {
  const rulesDesc = registry.getMessage(rawRules.$typeName);
  const rules = setRules(reflect(rulesDesc, rawRules));
  const set = message.isSet(field);
  if (rules.message && rules.message.required && !set) {
    problems.push(`${where}: required`);
  }
  const kinds = Object.keys(rules).filter((k) => k !== "message");
  for (const kind of kinds) {
    const r = rules[kind];
    if (field.fieldKind === "list" || field.fieldKind === "map") {
      checkCollection(
        kind,
        r,
        set ? message.get(field) : undefined,
        where,
        problems,
      );
      continue;
    }
    if (field.fieldKind === "message") {
      if (!set) {
        if (r.required) problems.push(`${where}: required`);
        continue;
      }
      const value = message.get(field);
      if (kind === "duration") {
        checkDuration(r, value.message, where, problems);
      } else if (kind === "any") {
        const url = value.message.typeUrl;
        if (r.in && r.in.length > 0 && !r.in.includes(url)) {
          problems.push(`${where}: @type ${url} is not allowed here`);
        }
      } else if (value.desc.typeName.startsWith("google.protobuf.")) {
        const inner = value.desc.fields.find((f) => f.name === "value");
        if (inner) {
          checkScalar(kind, r, value.get(inner), where, field, problems);
        }
      }
      continue;
    }
    checkScalar(kind, r, message.get(field), where, field, problems);
  }
}

function checkCollection(kind, r, value, where, problems) {
  const size = value ? value.size : 0;
  if (kind === "repeated") {
    if (r.min_items !== undefined && size < Number(r.min_items)) {
      problems.push(`${where}: needs at least ${r.min_items} item(s)`);
    }
    if (r.max_items !== undefined && size > Number(r.max_items)) {
      problems.push(`${where}: allows at most ${r.max_items} item(s)`);
    }
  } else if (kind === "map") {
    if (r.min_pairs !== undefined && size < Number(r.min_pairs)) {
      problems.push(`${where}: needs at least ${r.min_pairs} entr(ies)`);
    }
  }
}

function checkScalar(kind, r, value, where, field, problems) {
  if (kind === "string") {
    const text = String(value);
    if (r.ignore_empty && text === "") return;
    const length = [...text].length;
    if (r.min_len !== undefined && length < Number(r.min_len)) {
      problems.push(`${where}: must have at least ${r.min_len} character(s)`);
    }
    if (r.max_len !== undefined && length > Number(r.max_len)) {
      problems.push(`${where}: must have at most ${r.max_len} character(s)`);
    }
    if (
      r.min_bytes !== undefined &&
      Buffer.byteLength(text) < Number(r.min_bytes)
    ) {
      problems.push(`${where}: must have at least ${r.min_bytes} byte(s)`);
    }
    if (r.in && r.in.length > 0 && !r.in.includes(text)) {
      problems.push(`${where}: "${text}" is not one of ${r.in.join(", ")}`);
    }
    return;
  }
  if (kind === "enum") {
    if (r.defined_only && !field.enum.values.some((v) => v.number === value)) {
      problems.push(`${where}: ${value} is not a defined value`);
    }
    return;
  }
  if (typeof value !== "number" && typeof value !== "bigint") return;
  const n = Number(value);
  if (r.ignore_empty && n === 0) return;
  const bound = (name, ok, text) => {
    if (r[name] !== undefined && !ok(Number(r[name]))) {
      problems.push(`${where}: ${n} must be ${text} ${r[name]}`);
    }
  };
  bound("gt", (b) => n > b, ">");
  bound("gte", (b) => n >= b, ">=");
  bound("lt", (b) => n < b, "<");
  bound("lte", (b) => n <= b, "<=");
  if (r.const !== undefined && n !== Number(r.const)) {
    problems.push(`${where}: must be ${r.const}`);
  }
}

function checkDuration(r, duration, where, problems) {
  const ns = (d) =>
    BigInt(d.seconds ?? 0) * 1_000_000_000n + BigInt(d.nanos ?? 0);
  const value = ns(duration);
  const check = (name, ok, text) => {
    if (r[name] && !ok(ns(r[name]))) {
      problems.push(`${where}: must be ${text} ${ns(r[name])}ns`);
    }
  };
  check("gt", (b) => value > b, ">");
  check("gte", (b) => value >= b, ">=");
  check("lt", (b) => value < b, "<");
  check("lte", (b) => value <= b, "<=");
}

function at(path, name) {
  return path ? `${path}.${name}` : name;
}

/**
 * Builds the schema in a temporary folder and checks each file.
 * @param {string[]} files
 * @returns {Map<string, string[]>} problems per file
 */
function checkFiles(files) {
  const work = mkdtempSync(join(tmpdir(), "envoy-schema-"));
  try {
    const registry = loadEnvoySchema(
      buildEnvoySchema(join(work, "envoy.binpb")),
    );
    const result = new Map();
    for (const file of files) {
      result.set(
        file,
        checkEnvoyYaml(readFileSync(file, "utf8"), registry).problems,
      );
    }
    return result;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

module.exports = {
  BOOTSTRAP,
  ENVOY_PROTOS,
  buildEnvoySchema,
  checkEnvoyJson,
  checkEnvoyYaml,
  loadEnvoySchema,
  parseEnvoyYaml,
};

if (require.main === module) {
  const files = process.argv.slice(2);
  if (files.length === 0) {
    process.stderr.write("usage: envoy-schema.js <envoy.yaml> [...]\n");
    process.exit(2);
  }
  let failed = false;
  for (const [file, problems] of checkFiles(files)) {
    if (problems.length === 0) {
      process.stdout.write(`${file}: valid against Envoy's API\n`);
      continue;
    }
    failed = true;
    for (const p of problems) process.stderr.write(`${file}: ${p}\n`);
  }
  process.exit(failed ? 1 : 0);
}
