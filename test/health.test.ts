import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";

import {
  credentials,
  loadPackageDefinition,
  type Client,
  type ClientReadableStream,
  type GrpcObject,
  type ServiceClientConstructor,
} from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { protoPath as healthProtoPath } from "grpc-health-check";

import { READINESS_SERVICE } from "../src/health";
import { startTestService, type TestService } from "./helpers/harness";

type Status = "SERVING" | "NOT_SERVING" | "UNKNOWN" | "SERVICE_UNKNOWN";
interface HealthClient extends Client {
  check(
    req: { service: string },
    cb: (err: Error | null, res?: { status: Status }) => void,
  ): void;
  watch(req: { service: string }): ClientReadableStream<{ status: Status }>;
}

function loadClient(
  path: string,
  includeDirs: string[],
  name: string[],
): ServiceClientConstructor {
  const pkg = loadPackageDefinition(
    loadSync(path, { includeDirs, enums: String }),
  );
  let node: GrpcObject | ServiceClientConstructor = pkg;
  for (const part of name) node = (node as GrpcObject)[part] as GrpcObject;
  return node as unknown as ServiceClientConstructor;
}

const HealthClientCtor = loadClient(
  healthProtoPath,
  [],
  ["grpc", "health", "v1", "Health"],
);
const reflectionRoot = join(
  dirname(require.resolve("@grpc/reflection/package.json")),
  "build",
  "proto",
);
const ReflectionClientCtor = loadClient(
  "grpc/reflection/v1/reflection.proto",
  [reflectionRoot],
  ["grpc", "reflection", "v1", "ServerReflection"],
);

function check(client: HealthClient, service: string): Promise<Status> {
  return new Promise((resolve, reject) =>
    client.check({ service }, (err, res) =>
      err ? reject(err) : resolve(res!.status),
    ),
  );
}

describe("grpc.health.v1 and reflection", () => {
  let svc: TestService;
  let health: HealthClient;
  before(async () => {
    svc = await startTestService();
    health = new HealthClientCtor(
      `127.0.0.1:${svc.grpcPort}`,
      credentials.createInsecure(),
    ) as unknown as HealthClient;
  });
  after(() => {
    health.close();
    return svc.stop();
  });

  it("should report liveness and readiness as SERVING once listening", async () => {
    assert.deepEqual(
      [await check(health, ""), await check(health, READINESS_SERVICE)],
      ["SERVING", "SERVING"],
    );
  });

  it("should list IngestService and Health through reflection", async () => {
    const client = new ReflectionClientCtor(
      `127.0.0.1:${svc.grpcPort}`,
      credentials.createInsecure(),
    );
    const call = (
      client as unknown as {
        serverReflectionInfo(): NodeJS.ReadWriteStream & {
          write(m: unknown): void;
        };
      }
    ).serverReflectionInfo();
    const reply = new Promise<string[]>((resolve, reject) => {
      call.on(
        "data",
        (message: {
          listServicesResponse?: { service: { name: string }[] };
        }) => {
          resolve(message.listServicesResponse!.service.map((s) => s.name));
          call.end();
        },
      );
      call.on("error", reject);
    });
    call.write({ listServices: "*" });
    const names = await reply;
    client.close();
    assert.ok(names.includes("tvibkr.ingest.v1.IngestService"));
    assert.ok(names.includes("grpc.health.v1.Health"));
  });

  it("should turn readiness off at the first moment of shutdown", async () => {
    const own = await startTestService();
    const client = new HealthClientCtor(
      `127.0.0.1:${own.grpcPort}`,
      credentials.createInsecure(),
    ) as unknown as HealthClient;
    const watch = client.watch({ service: READINESS_SERVICE });
    const seen: Status[] = [];
    const notServing = new Promise<void>((resolve) => {
      watch.on("data", (m: { status: Status }) => {
        seen.push(m.status);
        if (seen.length === 1) void own.stop();
        if (m.status === "NOT_SERVING") resolve();
      });
      watch.on("error", () => resolve());
    });
    await notServing;
    watch.cancel();
    client.close();
    assert.deepEqual(seen, ["SERVING", "NOT_SERVING"]);
    assert.equal(own.service.health.get(READINESS_SERVICE), "NOT_SERVING");
  });
});
