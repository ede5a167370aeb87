import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";

import { loadSync } from "@grpc/proto-loader";
import Ajv2020 from "ajv/dist/2020";

import { SIGNATURE_KEY } from "../src/auth";
import { OPENAPI_FILE, stampRequestExamples } from "../src/docs";
import { Reason } from "../src/errors";
import { INGEST_PROTO, PROTO_ROOT } from "../src/grpc-server";
import { checkAlertSchema, ALERT_SCHEMA } from "../src/payload/schema";
import {
  WEBHOOK_ID_KEY,
  WEBHOOK_SIGNATURE_KEY,
  WEBHOOK_TIMESTAMP_KEY,
} from "../src/standard-webhooks";
import { ROOT, startTestService, type TestService } from "./helpers/harness";
import { captureReplies, type Reply } from "./helpers/replies";

/** Set to rewrite the document's examples from fresh captures. */
const UPDATE = process.env.UPDATE_OPENAPI_EXAMPLES === "1";

/** Documents are read as loosely typed JSON; the assertions check shapes. */
type Json = Record<string, any>;

const readDocument = (): Json => JSON.parse(readFileSync(OPENAPI_FILE, "utf8"));

/** "POST /webhook" for every HTTP rule of every method in the proto. */
function readProtoHttpRules(): string[] {
  const googleProtos = join(ROOT, "node_modules", "google-proto-files");
  const definition = loadSync(INGEST_PROTO, {
    includeDirs: [PROTO_ROOT, googleProtos],
  });
  const service = definition["tvibkr.ingest.v1.IngestService"] as Json;
  const rules: string[] = [];
  const addRule = (rule: Json) => {
    for (const verb of ["get", "put", "post", "delete", "patch"]) {
      if (rule[verb]) rules.push(`${verb.toUpperCase()} ${rule[verb]}`);
    }
    const more = rule.additional_bindings ?? [];
    for (const binding of Array.isArray(more) ? more : [more]) addRule(binding);
  };
  for (const method of Object.values(service)) {
    addRule((method as Json).options["(google.api.http)"]);
  }
  return rules;
}

function listOperations(document: Json): string[] {
  return Object.entries(document.paths as Json).flatMap(([path, item]) =>
    Object.keys(item).map((verb) => `${verb.toUpperCase()} ${path}`),
  );
}

/** The request examples, by media type and name. */
function requestExamples(document: Json): [string, unknown][] {
  const content = document.components.requestBodies.Alert.content as Json;
  return Object.entries(content).flatMap(([type, media]) =>
    Object.entries(media.examples as Json).map(
      ([name, ex]) => [`${type} ${name}`, ex.value] as [string, unknown],
    ),
  );
}

/** Values that differ on every call: ids, keys and times. */
const VOLATILE_KEYS = new Set([
  "correlationId",
  "originalCorrelationId",
  "idempotencyKey",
  "receivedAt",
  "originalReceivedAt",
  "timestamp",
]);

function normalize(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(normalize);
  if (typeof value !== "object" || value === null) return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [
      k,
      VOLATILE_KEYS.has(k) ? `<${typeof v}>` : normalize(v),
    ]),
  );
}

/** HTTP statuses under which each components response is used. */
function statusesOf(document: Json): Map<string, Set<number>> {
  const statuses = new Map<string, Set<number>>();
  for (const item of Object.values(document.paths as Json)) {
    for (const operation of Object.values(item as Json)) {
      for (const [code, ref] of Object.entries(operation.responses as Json)) {
        const name = String(ref.$ref).split("/").at(-1)!;
        if (!statuses.has(name)) statuses.set(name, new Set());
        statuses.get(name)!.add(Number(code));
      }
    }
  }
  return statuses;
}

function exampleOf(document: Json, key: string): Json {
  const [response, name] = key.split(".");
  const media = document.components.responses[response].content;
  return media["application/json"].examples[name];
}

describe("OpenAPI document", () => {
  let svc: TestService;
  let served: Json;
  let replies: Record<string, Reply>;
  before(async () => {
    svc = await startTestService();
    served = (await (
      await fetch(`${svc.baseUrl}/openapi.json`)
    ).json()) as Json;
    const [, alert] = requestExamples(served)[0];
    replies = await captureReplies(svc, alert as Json);
    if (!UPDATE) return;
    writeExamples(replies, alert as Json);
    served = (await (
      await fetch(`${svc.baseUrl}/openapi.json`)
    ).json()) as Json;
  });
  after(() => svc.stop());

  it("should have exactly the proto's HTTP rules and the health paths", () => {
    const expected = [...readProtoHttpRules(), "GET /health", "GET /ready"];
    assert.deepEqual(listOperations(readDocument()).sort(), expected.sort());
  });

  it("should take the alert body from the validator's schema file", () => {
    const document = readDocument();
    const alert = document.components.schemas.Alert;
    assert.deepEqual(Object.keys(alert).sort(), ["$ref", "description"]);
    const file = fileURLToPath(
      new URL(alert.$ref, pathToFileURL(OPENAPI_FILE)),
    );
    assert.equal(file, join(ROOT, "schema", "alert.schema.json"));
    assert.deepEqual(JSON.parse(readFileSync(file, "utf8")), ALERT_SCHEMA);
    const body = document.components.requestBodies.Alert.content;
    assert.deepEqual(body["application/json"].schema, {
      $ref: "#/components/schemas/Alert",
    });
    assert.deepEqual(body["text/plain"].schema.contentSchema, {
      $ref: "#/components/schemas/Alert",
    });
  });

  it("should serve the validator's own schema where the document points", async () => {
    const base = `${svc.baseUrl}/openapi.json`;
    const url = new URL(served.components.schemas.Alert.$ref, base);
    const res = await fetch(url);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "application/schema+json");
    assert.deepEqual(await res.json(), ALERT_SCHEMA);
  });

  it("should hold as examples the replies of a running server", () => {
    const document = readDocument();
    const statuses = statusesOf(document);
    const documented = Object.entries(document.components.responses as Json)
      .flatMap(([name, r]) =>
        Object.keys(r.content["application/json"].examples ?? {}).map(
          (example) => `${name}.${example}`,
        ),
      )
      .sort();
    assert.deepEqual(documented, Object.keys(replies).sort());
    for (const [key, reply] of Object.entries(replies)) {
      const response = key.split(".")[0];
      assert.ok(statuses.get(response)?.has(reply.status), `${key} status`);
      const example = exampleOf(document, key).value;
      assert.deepEqual(
        normalize(example),
        normalize(reply.json),
        `${key} is not what the service answers; if the change is meant, ` +
          "run npm run openapi:examples and review the diff",
      );
    }
  });

  it("should show a duplicate that points at the accepted call", () => {
    const document = readDocument();
    const accepted = exampleOf(document, "Ingested.accepted").value;
    const duplicate = exampleOf(document, "Ingested.duplicate").value;
    assert.equal(duplicate.originalCorrelationId, accepted.correlationId);
    assert.equal(duplicate.originalReceivedAt, accepted.receivedAt);
    assert.equal(duplicate.idempotencyKey, accepted.idempotencyKey);
  });

  it("should describe every reply with its response schema", () => {
    const ajv = new Ajv2020({ strict: false, validateFormats: false });
    const base = "https://openapi.invalid/openapi.json";
    ajv.addSchema({ $id: base, components: readDocument().components });
    for (const [key, reply] of Object.entries(replies)) {
      const [response] = key.split(".");
      const ref = readDocument().components.responses[response].content[
        "application/json"
      ].schema.$ref as string;
      const validate = ajv.getSchema(`${base}${ref}`)!;
      const valid = validate(reply.json);
      assert.equal(valid, true, `${key}: ${ajv.errorsText(validate.errors)}`);
    }
  });

  it("should give request examples that the validator accepts", () => {
    const examples = requestExamples(readDocument());
    assert.equal(examples.length, 2);
    for (const [name, value] of examples) {
      const alert = typeof value === "string" ? JSON.parse(value) : value;
      assert.deepEqual(checkAlertSchema(alert), [], name);
    }
  });

  it("should stamp the current time into request examples when served", () => {
    const nowMs = Date.now();
    for (const [name, value] of requestExamples(served)) {
      const alert = typeof value === "string" ? JSON.parse(value) : value;
      const ageMs = nowMs - Date.parse(alert.timestamp);
      assert.ok(ageMs >= 0 && ageMs < 10_000, `${name} is ${ageMs} ms old`);
    }
    const [, example] = requestExamples(served)[0];
    const servedAtMs = Date.parse((example as Json).timestamp);
    assert.deepEqual(served, stampRequestExamples(readDocument(), servedAtMs));
  });

  it("should name every credential the service accepts", () => {
    const document = readDocument();
    const headers = Object.values(document.components.securitySchemes).map(
      (scheme) => `${(scheme as Json).in} ${(scheme as Json).name}`,
    );
    const expected = [
      `header ${SIGNATURE_KEY}`,
      `header ${WEBHOOK_ID_KEY}`,
      `header ${WEBHOOK_SIGNATURE_KEY}`,
      `header ${WEBHOOK_TIMESTAMP_KEY}`,
    ];
    assert.deepEqual(headers.sort(), expected.sort());
    assert.deepEqual(document.components.parameters.Token.in, "path");
    assert.ok("token" in (ALERT_SCHEMA.properties as Json));
  });

  it("should list every reason the service sends", () => {
    const info = readDocument().components.schemas.ErrorInfo;
    assert.deepEqual(
      [...info.properties.reason.enum].sort(),
      Object.values(Reason).sort(),
      "a reason was added or renamed: update ErrorInfo in openapi/openapi.json",
    );
  });

  it("should give responses the fields of the proto messages", () => {
    const definition = loadSync(INGEST_PROTO, {
      includeDirs: [
        PROTO_ROOT,
        join(ROOT, "node_modules", "google-proto-files"),
      ],
    });
    const schemas = readDocument().components.schemas;
    for (const message of ["IngestResponse", "Signal"]) {
      const type = (definition[`tvibkr.ingest.v1.${message}`] as Json).type;
      const fields = (type.field as Json[]).map((f) => f.name).sort();
      assert.deepEqual(Object.keys(schemas[message].properties).sort(), fields);
    }
  });

  it("should carry the package's version", () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
    assert.equal(readDocument().info.version, pkg.version);
  });
});

/** Writes captured replies into openapi/openapi.json (update mode). */
function writeExamples(replies: Record<string, Reply>, alert: Json): void {
  const document = readDocument();
  for (const [key, reply] of Object.entries(replies)) {
    exampleOf(document, key).value = reply.json;
  }
  const content = document.components.requestBodies.Alert.content;
  content["application/json"].examples.market.value = alert;
  content["text/plain"].examples.market.value = JSON.stringify(alert);
  writeFileSync(OPENAPI_FILE, JSON.stringify(document, null, 2) + "\n");
}
