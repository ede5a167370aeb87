import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { status } from "@grpc/grpc-js";

import { checkFreshness } from "../src/freshness";
import { formatTimestamp } from "../src/time";
import { rejection } from "./helpers/rejection";

/** The service clock: 2026-12-04T15:30:07Z, seven seconds past a minute. */
const NOW = Date.parse("2026-12-04T15:30:07Z");
const TOLERANCE = 30;
const at = (iso: string) => Date.parse(iso);
const HINT =
  "; it looks like {{time}} (the bar's open time) was used, use {{timenow}}";

function stale(message: string) {
  return {
    code: status.FAILED_PRECONDITION,
    reason: "TIMESTAMP_STALE",
    message: `timestamp: ${message}`,
    violations: [],
  };
}

function future(when: string, seconds: number) {
  return {
    code: status.FAILED_PRECONDITION,
    reason: "TIMESTAMP_FUTURE",
    message:
      `timestamp: ${when} is ${seconds}s ahead of the service clock ` +
      "(2026-12-04T15:30:07Z); at most 30s is allowed, check the sender's " +
      "clock",
    violations: [],
  };
}

describe("checkFreshness", () => {
  const fresh: ReadonlyArray<[string, number]> = [
    ["the same instant", NOW],
    ["exactly the tolerance old", NOW - 30_000],
    ["exactly the tolerance ahead", NOW + 30_000],
    ["a millisecond inside the tolerance, old", NOW - 29_999],
    ["a millisecond inside the tolerance, ahead", NOW + 29_999],
    ["on a whole minute and 7s old", at("2026-12-04T15:30:00Z")],
  ];
  for (const [name, timestampMs] of fresh) {
    it(`should accept a timestamp ${name}`, () => {
      assert.equal(checkFreshness(timestampMs, NOW, TOLERANCE), undefined);
    });
  }

  const refused: ReadonlyArray<{
    name: string;
    timestampMs: number;
    expected: ReturnType<typeof stale>;
  }> = [
    {
      name: "31s old",
      timestampMs: at("2026-12-04T15:29:36Z"),
      expected: stale(
        "2026-12-04T15:29:36Z is 31s old; at most 30s is allowed",
      ),
    },
    {
      name: "a millisecond too old",
      timestampMs: NOW - 30_001,
      expected: stale(
        "2026-12-04T15:29:36.999Z is 31s old; at most 30s is allowed",
      ),
    },
    {
      name: "30.4s old",
      timestampMs: NOW - 30_400,
      expected: stale(
        "2026-12-04T15:29:36.600Z is 31s old; at most 30s is allowed",
      ),
    },
    {
      name: "on a whole minute",
      timestampMs: at("2026-12-04T15:29:00Z"),
      expected: stale(
        `2026-12-04T15:29:00Z is 67s old; at most 30s is allowed${HINT}`,
      ),
    },
    {
      name: "just under an hour old, off the minute",
      timestampMs: at("2026-12-04T14:30:08Z"),
      expected: stale(
        "2026-12-04T14:30:08Z is 3599s old; at most 30s is allowed",
      ),
    },
    {
      name: "exactly an hour old",
      timestampMs: at("2026-12-04T14:30:07Z"),
      expected: stale(
        `2026-12-04T14:30:07Z is 3600s old; at most 30s is allowed${HINT}`,
      ),
    },
    {
      name: "a day old, off the minute",
      timestampMs: at("2026-12-03T15:30:07.5Z"),
      expected: stale(
        "2026-12-03T15:30:07.500Z is 86400s old; at most 30s is allowed" + HINT,
      ),
    },
    {
      name: "the bar's open time of a daily bar",
      timestampMs: at("2026-12-04T00:00:00Z"),
      expected: stale(
        `2026-12-04T00:00:00Z is 55807s old; at most 30s is allowed${HINT}`,
      ),
    },
    {
      name: "31s ahead",
      timestampMs: at("2026-12-04T15:30:38Z"),
      expected: future("2026-12-04T15:30:38Z", 31),
    },
    {
      name: "a millisecond too far ahead",
      timestampMs: NOW + 30_001,
      expected: future("2026-12-04T15:30:37.001Z", 31),
    },
    {
      name: "ahead on a whole minute, without the bar-time hint",
      timestampMs: at("2026-12-04T15:31:00Z"),
      expected: future("2026-12-04T15:31:00Z", 53),
    },
    {
      name: "a day ahead, without the bar-time hint",
      timestampMs: at("2026-12-05T15:30:07Z"),
      expected: future("2026-12-05T15:30:07Z", 86400),
    },
  ];
  for (const { name, timestampMs, expected } of refused) {
    it(`should refuse a timestamp ${name}`, () => {
      assert.deepEqual(
        rejection(() => checkFreshness(timestampMs, NOW, TOLERANCE)),
        expected,
      );
    });
  }

  it("should use the tolerance it is given", () => {
    assert.deepEqual(
      rejection(() => checkFreshness(NOW - 1_001, NOW, 1)),
      stale("2026-12-04T15:30:05.999Z is 2s old; at most 1s is allowed"),
    );
  });

  it("should accept an hour's drift with the widest tolerance", () => {
    assert.deepEqual(
      [
        checkFreshness(NOW - 3_600_000, NOW, 3600),
        checkFreshness(NOW + 3_600_000, NOW, 3600),
      ],
      [undefined, undefined],
    );
  });
});

describe("formatTimestamp", () => {
  const cases: ReadonlyArray<[number, string]> = [
    [0, "1970-01-01T00:00:00Z"],
    [NOW, "2026-12-04T15:30:07Z"],
    [NOW + 1, "2026-12-04T15:30:07.001Z"],
    [NOW + 500, "2026-12-04T15:30:07.500Z"],
    [NOW + 999, "2026-12-04T15:30:07.999Z"],
  ];
  for (const [ms, text] of cases) {
    it(`should print ${ms} as ${text}`, () => {
      assert.equal(formatTimestamp(ms), text);
    });
  }
});
