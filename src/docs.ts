import { readFile } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { dirname, join } from "node:path";

import { Reason } from "./errors";
import { refuseUnlessGet, sendHttpError } from "./http-reply";
import { ALERT_SCHEMA } from "./payload/schema";
import { formatTimestamp } from "./time";

/** Where the OpenAPI document is served. */
export const OPENAPI_PATH = "/openapi.json";
/** Where the interactive viewer is served. */
export const DOCS_PATH = "/docs";
/**
 * Where the validator's own alert schema is served. The document refers to
 * it as `../schema/alert.schema.json`, which resolves here from
 * /openapi.json and to schema/alert.schema.json from openapi/openapi.json on
 * disk, so there is one source of the schema and no copy.
 */
export const ALERT_SCHEMA_PATH = "/schema/alert.schema.json";

/** The OpenAPI document on disk, seen from dist/src/. */
export const OPENAPI_FILE = join(
  __dirname,
  "..",
  "..",
  "openapi",
  "openapi.json",
);

/**
 * The viewer's files, found without loading the package: its main module
 * would load the whole browser bundle into the server.
 */
const VIEWER_DIR = dirname(require.resolve("swagger-ui-dist/package.json"));

interface Asset {
  file: string;
  contentType: string;
}

/** The only files served from swagger-ui-dist: nothing else is reachable. */
const VIEWER_ASSETS: Record<string, Asset> = {
  "swagger-ui.css": { file: "swagger-ui.css", contentType: "text/css" },
  "swagger-ui-bundle.js": {
    file: "swagger-ui-bundle.js",
    contentType: "text/javascript",
  },
  "favicon-32x32.png": { file: "favicon-32x32.png", contentType: "image/png" },
  "favicon-16x16.png": { file: "favicon-16x16.png", contentType: "image/png" },
};

/**
 * Everything the page loads comes from this origin; the viewer's default
 * call to an outside validator is also turned off in VIEWER_INIT.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

const VIEWER_PAGE = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <title>tv-ibkr-ingest API</title>
    <link rel="stylesheet" href="${DOCS_PATH}/swagger-ui.css" />
    <link rel="icon" type="image/png" href="${DOCS_PATH}/favicon-32x32.png" />
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="${DOCS_PATH}/swagger-ui-bundle.js"></script>
    <script src="${DOCS_PATH}/init.js"></script>
  </body>
</html>
`;

/**
 * validatorUrl null keeps the viewer from calling swagger.io; with
 * queryConfigEnabled off, a crafted ?url= cannot load a foreign document.
 */
const VIEWER_INIT = `window.ui = SwaggerUIBundle({
  url: ${JSON.stringify(OPENAPI_PATH)},
  dom_id: "#swagger-ui",
  deepLinking: true,
  displayRequestDuration: true,
  queryConfigEnabled: false,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
});
`;

/** Whether the docs serve `pathname`; the gateway routes these here. */
export function isDocsPath(pathname: string): boolean {
  return (
    pathname === OPENAPI_PATH ||
    pathname === ALERT_SCHEMA_PATH ||
    pathname === DOCS_PATH ||
    pathname.startsWith(`${DOCS_PATH}/`)
  );
}

/**
 * Serves the OpenAPI document, the alert schema and the viewer with its
 * assets (GET and HEAD only). Answers 404 for an unknown asset and 405 for
 * other methods, in the gateway's JSON error shape.
 */
export async function serveDocs(
  req: IncomingMessage,
  res: ServerResponse,
  pathname: string,
): Promise<void> {
  if (refuseUnlessGet(req, res)) return;
  if (pathname === OPENAPI_PATH) return serveDocument(req, res);
  if (pathname === ALERT_SCHEMA_PATH) {
    return send(
      res,
      req,
      "application/schema+json",
      JSON.stringify(ALERT_SCHEMA),
    );
  }
  return serveViewer(req, res, pathname);
}

/** A build without openapi/ (such as a slim image) answers 404, not a reset. */
async function serveDocument(
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  let document: Record<string, unknown>;
  try {
    document = await loadOpenApiDocument(Date.now());
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    return sendHttpError(
      res,
      404,
      Reason.routeNotFound,
      `${OPENAPI_PATH} is not installed here`,
    );
  }
  send(res, req, "application/json", JSON.stringify(document));
}

async function serveViewer(
  req: IncomingMessage,
  res: ServerResponse,
  pathname: string,
): Promise<void> {
  if (pathname === DOCS_PATH || pathname === `${DOCS_PATH}/`) {
    return send(res, req, "text/html; charset=utf-8", VIEWER_PAGE);
  }
  const name = pathname.slice(DOCS_PATH.length + 1);
  if (name === "init.js") {
    return send(res, req, "text/javascript", VIEWER_INIT);
  }
  const asset = Object.hasOwn(VIEWER_ASSETS, name)
    ? VIEWER_ASSETS[name]
    : undefined;
  if (!asset) {
    return sendHttpError(
      res,
      404,
      Reason.routeNotFound,
      `no such file ${pathname}; open ${DOCS_PATH}`,
    );
  }
  send(res, req, asset.contentType, await readAsset(asset.file));
}

const assetCache = new Map<string, Promise<Buffer>>();

/** Assets are read once: they change only with the installed package. */
function readAsset(file: string): Promise<Buffer> {
  let bytes = assetCache.get(file);
  if (!bytes) {
    bytes = readFile(join(VIEWER_DIR, file));
    bytes.catch(() => assetCache.delete(file));
    assetCache.set(file, bytes);
  }
  return bytes;
}

/**
 * Reads the OpenAPI document with `nowMs` stamped into its request examples
 * (see stampRequestExamples).
 * @throws when openapi/openapi.json is missing or not JSON
 */
export async function loadOpenApiDocument(
  nowMs: number,
): Promise<Record<string, unknown>> {
  const document = JSON.parse(await readFile(OPENAPI_FILE, "utf8"));
  return stampRequestExamples(document, nowMs);
}

/**
 * Sets each request example's `timestamp` to `nowMs` (whole seconds), in
 * place, so an example sent from the viewer is fresh; the file holds the
 * time its examples were captured. Returns `document`.
 */
export function stampRequestExamples<T extends object>(
  document: T,
  nowMs: number,
): T {
  const stamp = formatTimestamp(Math.floor(nowMs / 1000) * 1000);
  for (const media of Object.values(alertRequestContent(document))) {
    for (const example of Object.values(media.examples ?? {})) {
      example.value = stampTimestamp(example.value, stamp);
    }
  }
  return document;
}

interface MediaType {
  examples?: Record<string, { value: unknown }>;
}

interface DocumentShape {
  components?: { requestBodies?: Record<string, { content?: object }> };
}

function alertRequestContent(document: object): Record<string, MediaType> {
  const { components } = document as DocumentShape;
  const content = components?.requestBodies?.Alert?.content;
  return (content ?? {}) as Record<string, MediaType>;
}

/** Replaces `timestamp` in an example object or in JSON text. */
function stampTimestamp(value: unknown, stamp: string): unknown {
  if (typeof value === "string") {
    return JSON.stringify({ ...JSON.parse(value), timestamp: stamp });
  }
  if (typeof value === "object" && value !== null) {
    return { ...value, timestamp: stamp };
  }
  return value;
}

function send(
  res: ServerResponse,
  req: IncomingMessage,
  contentType: string,
  body: string | Buffer,
): void {
  res.writeHead(200, {
    "content-type": contentType,
    "content-length": Buffer.byteLength(body),
    "cache-control": "no-cache",
    "x-content-type-options": "nosniff",
    "content-security-policy": CONTENT_SECURITY_POLICY,
  });
  res.end(req.method === "HEAD" ? undefined : body);
}
