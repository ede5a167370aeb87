import assert from "node:assert/strict";

import { IngestError } from "../../src/errors";

/**
 * What the IngestError `run` throws carries, for one exact comparison;
 * fails the test when `run` throws anything else or nothing.
 */
export function rejection(run: () => unknown) {
  try {
    run();
  } catch (err) {
    assert.ok(err instanceof IngestError, `not an IngestError: ${err}`);
    const { code, reason, message, violations } = err;
    return { code, reason, message, violations };
  }
  assert.fail("expected an IngestError, but nothing was thrown");
}
