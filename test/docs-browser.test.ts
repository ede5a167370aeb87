import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";

import {
  chromium,
  type BrowserContext,
  type Locator,
  type Page,
} from "playwright-core";

import { OPENAPI_FILE } from "../src/docs";
import {
  ROOT,
  startTestService,
  TOKEN,
  type TestService,
} from "./helpers/harness";

/** Debian's chromium package; .ci/run installs it. */
const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
/** Set to refresh the README's screenshot, docs/api-docs.png. */
const SCREENSHOT_FILE =
  process.env.UPDATE_DOCS_SCREENSHOT === "1"
    ? join(ROOT, "docs", "api-docs.png")
    : undefined;
const WAIT_MS = 20_000;

function listDocumentedOperations(): string[] {
  const document = JSON.parse(readFileSync(OPENAPI_FILE, "utf8"));
  return Object.entries(document.paths as Record<string, object>).flatMap(
    ([path, item]) => Object.keys(item).map((verb) => `${verb} ${path}`),
  );
}

async function listShownOperations(page: Page): Promise<string[]> {
  const blocks = page.locator(".opblock");
  const shown: string[] = [];
  for (const block of await blocks.all()) {
    const method = await block.locator(".opblock-summary-method").innerText();
    const path = await block
      .locator(".opblock-summary-path")
      .getAttribute("data-path");
    shown.push(`${method.toLowerCase()} ${path}`);
  }
  return shown;
}

/** The page from its title down to the end of the reply shown in `live`. */
async function saveScreenshot(page: Page, live: Locator, path: string) {
  // Runs in the page, where the window is the global object.
  const bottom = await live.evaluate((el) => {
    const page = globalThis as unknown as { scrollY: number };
    return el.getBoundingClientRect().bottom + page.scrollY;
  });
  await page.screenshot({
    path,
    fullPage: true,
    clip: { x: 0, y: 0, width: 1280, height: Math.ceil(bottom) + 16 },
  });
}

describe("API docs in headless Chromium", () => {
  let svc: TestService;
  let profileDir: string;
  let context: BrowserContext;
  let page: Page;
  const outsideRequests: string[] = [];
  const pageErrors: string[] = [];

  before(async () => {
    assert.ok(
      existsSync(CHROMIUM),
      `no browser at ${CHROMIUM}; install Debian's chromium ` +
        "(apt-get update && apt-get install -y chromium)",
    );
    svc = await startTestService();
    profileDir = mkdtempSync(join(tmpdir(), "tvibkr-chromium-"));
    context = await chromium.launchPersistentContext(profileDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_FLAGS,
      viewport: { width: 1280, height: 900 },
    });
    // Anything not served by the test service is refused and recorded.
    await context.route("**/*", (route) => {
      const url = new URL(route.request().url());
      if (url.origin === svc.baseUrl) return route.continue();
      outsideRequests.push(url.href);
      return route.abort();
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.on("pageerror", (err) => pageErrors.push(err.message));
    page.on("console", (message) => {
      if (message.type() === "error") pageErrors.push(message.text());
    });
    await page.goto(`${svc.baseUrl}/docs`);
    await page.locator(".opblock").first().waitFor({ timeout: WAIT_MS });
  });

  after(async () => {
    await context?.close();
    await svc?.stop();
    if (profileDir) rmSync(profileDir, { recursive: true, force: true });
  });

  it("should show every endpoint of the document", async () => {
    const shown = await listShownOperations(page);
    assert.deepEqual(shown.sort(), listDocumentedOperations().sort());
  });

  it("should accept the example alert sent with the path token", async () => {
    const operation = page.locator(".opblock", {
      has: page.locator('[data-path="/webhook/{token}"]'),
    });
    await operation.locator(".opblock-summary").click();
    await operation.getByRole("button", { name: "Try it out" }).click();
    await operation.locator('input[placeholder="token"]').fill(TOKEN);
    await operation.getByRole("button", { name: "Execute" }).click();
    const live = operation.locator(".live-responses-table");
    const status = live.locator(".response .response-col_status").first();
    await status.waitFor({ timeout: WAIT_MS });
    const body = await live.locator(".response-col_description pre").first();
    const reply = JSON.parse(await body.innerText());
    assert.equal((await status.innerText()).trim(), "200");
    assert.equal(reply.outcome, "OUTCOME_ACCEPTED");
    assert.equal(reply.signal.ticker, "AAPL");
    const logged = svc.logs.forCorrelation(reply.correlationId);
    assert.equal(logged.at(-1)?.authMethod, "path_token");
    if (SCREENSHOT_FILE) await saveScreenshot(page, live, SCREENSHOT_FILE);
  });

  it("should load everything from the service itself", () => {
    assert.deepEqual(outsideRequests, []);
    assert.deepEqual(pageErrors, []);
  });
});
