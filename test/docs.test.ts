import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";

import { ROOT, httpReason, startTestService } from "./helpers/harness";
import type { TestService } from "./helpers/harness";

const VIEWER_DIR = join(ROOT, "node_modules", "swagger-ui-dist");

describe("docs routes of the HTTP gateway", () => {
  let svc: TestService;
  before(async () => (svc = await startTestService()));
  after(() => svc.stop());

  it("should serve a page that loads only assets of this origin", async () => {
    const res = await fetch(`${svc.baseUrl}/docs`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "text/html; charset=utf-8");
    const csp = res.headers.get("content-security-policy") ?? "";
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self';/);
    assert.match(csp, /connect-src 'self';/);
    const html = await res.text();
    const urls = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
    assert.deepEqual(urls, [
      "/docs/swagger-ui.css",
      "/docs/favicon-32x32.png",
      "/docs/swagger-ui-bundle.js",
      "/docs/init.js",
    ]);
  });

  it("should serve each viewer asset from swagger-ui-dist", async () => {
    const assets = [
      ["swagger-ui.css", "text/css"],
      ["swagger-ui-bundle.js", "text/javascript"],
      ["favicon-32x32.png", "image/png"],
      ["favicon-16x16.png", "image/png"],
    ];
    for (const [name, type] of assets) {
      const res = await fetch(`${svc.baseUrl}/docs/${name}`);
      assert.equal(res.status, 200, name);
      assert.equal(res.headers.get("content-type"), type, name);
      const bytes = Buffer.from(await res.arrayBuffer());
      assert.deepEqual(bytes, readFileSync(join(VIEWER_DIR, name)), name);
    }
  });

  it("should point the viewer at this document and no outside validator", async () => {
    const res = await fetch(`${svc.baseUrl}/docs/init.js`);
    assert.equal(res.status, 200);
    const script = await res.text();
    assert.match(script, /url: "\/openapi\.json"/);
    assert.match(script, /validatorUrl: null/);
    assert.match(script, /queryConfigEnabled: false/);
  });

  const noRoute = "no route; POST to /webhook or /webhook/{token}";
  const missing: [path: string, message: string][] = [
    ["/docs/index.html", "no such file /docs/index.html; open /docs"],
    [
      "/docs/swagger-ui-bundle.js.map",
      "no such file /docs/swagger-ui-bundle.js.map; open /docs",
    ],
    [
      "/docs/..%2fpackage.json",
      "no such file /docs/..%2fpackage.json; open /docs",
    ],
    ["/docs/constructor", "no such file /docs/constructor; open /docs"],
    ["/docs/__proto__", "no such file /docs/__proto__; open /docs"],
    ["/docs/swagger-ui.css/", "no such file /docs/swagger-ui.css/; open /docs"],
    // The URL parser resolves %2e%2e as "..", so this never reaches /docs.
    ["/docs/%2e%2e/%2e%2e/package.json", noRoute],
    ["/docsx", noRoute],
  ];
  for (const [path, message] of missing) {
    it(`should answer 404 for ${path}`, async () => {
      const res = await fetch(svc.baseUrl + path);
      const json = (await res.json()) as Record<string, unknown>;
      assert.equal(res.status, 404);
      assert.equal(json.code, 5);
      assert.equal(httpReason(json), "ROUTE_NOT_FOUND");
      assert.equal(json.message, message);
    });
  }

  for (const path of ["/openapi.json", "/docs", "/schema/alert.schema.json"]) {
    it(`should answer 405 to a POST of ${path}`, async () => {
      const res = await fetch(svc.baseUrl + path, { method: "POST" });
      const json = (await res.json()) as Record<string, unknown>;
      assert.equal(res.status, 405);
      assert.equal(res.headers.get("allow"), "GET, HEAD");
      assert.equal(httpReason(json), "METHOD_NOT_ALLOWED");
      assert.equal(json.message, "POST is not allowed; use GET");
    });
  }

  it("should answer HEAD with the headers and no body", async () => {
    const res = await fetch(`${svc.baseUrl}/openapi.json`, { method: "HEAD" });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "application/json");
    assert.ok(Number(res.headers.get("content-length")) > 1000);
    assert.equal((await res.arrayBuffer()).byteLength, 0);
  });
});
