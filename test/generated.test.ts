import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { describe, it } from "node:test";

import { ROOT } from "./helpers/harness";

const GENERATED = join(ROOT, "src", "gen");

function listFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)))
    .sort();
}

describe("generated code", () => {
  it("should match what buf generate makes from proto/ now", () => {
    const out = mkdtempSync(join(tmpdir(), "ingest-gen-"));
    execFileSync("npm", ["run", "-s", "gen", "--", "--output", out], {
      cwd: ROOT,
      stdio: "pipe",
    });
    const fresh = join(out, "src", "gen");
    assert.deepEqual(listFiles(fresh), listFiles(GENERATED));
    for (const file of listFiles(GENERATED)) {
      const committed = readFileSync(join(GENERATED, file), "utf8");
      const regenerated = readFileSync(join(fresh, file), "utf8");
      assert.ok(
        committed === regenerated,
        `src/gen/${file} is stale; run npm run gen`,
      );
    }
  });
});
