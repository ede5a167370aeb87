import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";

import type { Signal } from "../src/gen/tvibkr/ingest/v1/ingest";
import {
  idempotencyKey,
  MemoryIdempotencyStore,
  type Claim,
} from "../src/idempotency";
import { decodeBody, parseAlert, validateAlert } from "../src/payload/alert";

/** The normalized signal of an alert body, as the pipeline gets it. */
function signalOf(body: string): Signal {
  const text = decodeBody(new TextEncoder().encode(body), "", 16_384);
  return validateAlert(parseAlert(text)).signal;
}

const keyOf = (body: string) => idempotencyKey(signalOf(body));

const BASE =
  '{"ticker":"AAPL","action":"buy","quantity":1.5,' +
  '"timestamp":"2026-12-04T15:30:00Z","price":100}';

/** BASE with `extra` members appended (JSON source). */
const withFields = (extra: string) => `${BASE.slice(0, -1)},${extra}}`;

describe("idempotencyKey", () => {
  it("should be the SHA-256 of the sorted, non-empty signal fields", () => {
    const canonical =
      '[["action","buy"],["orderType","market"],["price","100"],' +
      '["quantity","1.5"],["ticker","AAPL"],["timeInForce","day"],' +
      '["timestamp","2026-12-04T15:30:00Z"]]';
    const expected = createHash("sha256").update(canonical).digest("hex");
    assert.equal(keyOf(BASE), expected);
  });

  const sameSignal: ReadonlyArray<[string, string]> = [
    [
      "pretty-printed",
      '\uFEFF\n{\n  "ticker": "AAPL",\n  "action": "buy",\n' +
        '  "quantity": 1.5,\n  "timestamp": "2026-12-04T15:30:00Z",\n' +
        '  "price": 100\n}\n',
    ],
    [
      "with its keys in another order",
      '{"price":100,"timestamp":"2026-12-04T15:30:00Z","quantity":1.5,' +
        '"action":"buy","ticker":"AAPL"}',
    ],
    [
      "with the defaults spelled out",
      withFields('"order_type":"market","time_in_force":"day"'),
    ],
    ["with the action in capitals", BASE.replace('"buy"', '"BUY"')],
    ["with the quantity as a string", BASE.replace("1.5,", '"1.5",')],
    ["with a trailing zero in the quantity", BASE.replace("1.5,", "1.50,")],
    ["with the price as 100.000", BASE.replace(":100}", ':"100.000"}')],
    [
      "with the time in another zone",
      BASE.replace("2026-12-04T15:30:00Z", "2026-12-04T10:30:00-05:00"),
    ],
    [
      "with the time in milliseconds",
      BASE.replace('"2026-12-04T15:30:00Z"', "1796398200000"),
    ],
    [
      "with a zero fraction of a second",
      BASE.replace("15:30:00Z", "15:30:00.000Z"),
    ],
    [
      "with a body token, which is no part of the signal",
      withFields('"token":"t"'),
    ],
  ];
  for (const [name, body] of sameSignal) {
    it(`should give the same key for the alert ${name}`, () => {
      assert.equal(keyOf(body), keyOf(BASE));
    });
  }

  const otherSignal: ReadonlyArray<[string, string]> = [
    ["ticker", BASE.replace('"AAPL"', '"MSFT"')],
    ["ticker case", BASE.replace('"AAPL"', '"aapl"')],
    ["action", BASE.replace('"buy"', '"sell"')],
    ["quantity", BASE.replace("1.5,", "1.51,")],
    [
      "quantity, past double precision",
      BASE.replace("1.5,", "1.5000000000000001,"),
    ],
    ["timestamp by a millisecond", BASE.replace("00Z", "00.001Z")],
    ["timestamp by a second", BASE.replace("00Z", "01Z")],
    ["order_type", withFields('"order_type":"limit","limit_price":100')],
    ["limit_price", withFields('"order_type":"limit","limit_price":101')],
    ["stop_price", withFields('"order_type":"stop","stop_price":99')],
    ["time_in_force", withFields('"time_in_force":"gtc"')],
    ["price", BASE.replace(":100}", ":100.01}")],
    ["price left out", BASE.replace(',"price":100', "")],
    ["exchange", withFields('"exchange":"NASDAQ"')],
    ["strategy", withFields('"strategy":"breakout"')],
    ["order_id", withFields('"order_id":"Long #2"')],
    ["market_position", withFields('"market_position":"long"')],
    ["position_size", withFields('"position_size":"3"')],
    [
      "market_position and position_size",
      withFields('"market_position":"long","position_size":"3"'),
    ],
    ["interval", withFields('"interval":"15"')],
    ["comment", withFields('"comment":"a b"')],
    ["comment's inner spaces", withFields('"comment":"a  b"')],
  ];

  it("should give a different key for each changed field", () => {
    const keys = [BASE, ...otherSignal.map(([, body]) => body)].map(keyOf);
    assert.equal(new Set(keys).size, otherSignal.length + 1);
  });

  for (const [field, body] of otherSignal) {
    it(`should change the key when the ${field} changes`, () => {
      assert.notEqual(keyOf(body), keyOf(BASE));
    });
  }

  it("should be 64 lower-case hex digits", () => {
    assert.match(keyOf(BASE), /^[0-9a-f]{64}$/);
  });

  it("should add the delivery context to the key", () => {
    const signal = signalOf(BASE);
    const keys = [
      idempotencyKey(signal),
      idempotencyKey(signal, { webhookId: "msg_1" }),
      idempotencyKey(signal, { webhookId: "msg_2" }),
    ];
    assert.equal(new Set(keys).size, 3);
  });

  it("should give the same key for the same context", () => {
    const signal = signalOf(BASE);
    assert.equal(
      idempotencyKey(signal, { webhookId: "msg_1" }),
      idempotencyKey(signalOf(BASE), { webhookId: "msg_1" }),
    );
  });

  it("should ignore an empty context value", () => {
    const signal = signalOf(BASE);
    assert.equal(idempotencyKey(signal, { webhookId: "" }), keyOf(BASE));
  });

  it("should never let the context replace a signal field", () => {
    const aapl = signalOf(BASE);
    const msft = signalOf(BASE.replace('"AAPL"', '"MSFT"'));
    const keys = [
      idempotencyKey(aapl),
      idempotencyKey(msft),
      idempotencyKey(aapl, { ticker: "MSFT" }),
      idempotencyKey(msft, { ticker: "MSFT" }),
    ];
    assert.equal(new Set(keys).size, 4);
  });
});

describe("MemoryIdempotencyStore", () => {
  const claim = (correlationId: string, receivedAtMs: number): Claim => ({
    correlationId,
    receivedAtMs,
  });
  const T0 = 1_796_398_200_000;

  it("should let the first claim of a key through and point back to it", () => {
    const store = new MemoryIdempotencyStore({ ttlMs: 60_000, maxKeys: 10 });
    assert.deepEqual(
      [
        store.claimNow("k", claim("first", T0), T0),
        store.claimNow("k", claim("second", T0 + 5), T0 + 5),
        store.claimNow("other", claim("third", T0 + 6), T0 + 6),
        store.size,
      ],
      [
        { claimed: true },
        { claimed: false, first: claim("first", T0) },
        { claimed: true },
        2,
      ],
    );
  });

  it("should answer claim() asynchronously with the same result", async () => {
    const store = new MemoryIdempotencyStore({ ttlMs: 60_000, maxKeys: 10 });
    const first = store.claim("k", claim("a", T0), T0);
    const second = store.claim("k", claim("b", T0), T0);
    assert.deepEqual(await Promise.all([first, second]), [
      { claimed: true },
      { claimed: false, first: claim("a", T0) },
    ]);
  });

  it("should let one of many concurrent claims of a key win", async () => {
    const store = new MemoryIdempotencyStore({ ttlMs: 60_000, maxKeys: 10 });
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        store.claim("k", claim(`c${i}`, T0), T0),
      ),
    );
    assert.equal(results.filter((r) => r.claimed).length, 1);
  });

  const ttl: ReadonlyArray<[string, number, boolean]> = [
    ["a millisecond after the claim", 1, false],
    ["a millisecond before the TTL ends", 59_999, false],
    ["when the TTL ends", 60_000, true],
    ["long after the TTL", 3_600_000, true],
  ];
  for (const [when, afterMs, claimable] of ttl) {
    const outcome = claimable ? "claimable again" : "a duplicate";
    it(`should hold a key as ${outcome} ${when}`, () => {
      const store = new MemoryIdempotencyStore({ ttlMs: 60_000, maxKeys: 10 });
      store.claimNow("k", claim("first", T0), T0);
      const now = T0 + afterMs;
      const result = store.claimNow("k", claim("again", now), now);
      assert.equal(result.claimed, claimable);
    });
  }

  it("should drop expired keys, and only those", () => {
    const store = new MemoryIdempotencyStore({ ttlMs: 1_000, maxKeys: 10 });
    store.claimNow("a", claim("a", T0), T0);
    store.claimNow("b", claim("b", T0 + 400), T0 + 400);
    store.claimNow("c", claim("c", T0 + 900), T0 + 900);
    store.claimNow("d", claim("d", T0 + 1_400), T0 + 1_400);
    assert.equal(store.size, 2);
  });

  it("should hold at most maxKeys, making room from the oldest", () => {
    const store = new MemoryIdempotencyStore({ ttlMs: 60_000, maxKeys: 3 });
    for (const [i, key] of ["a", "b", "c", "d"].entries()) {
      store.claimNow(key, claim(key, T0 + i), T0 + i);
    }
    assert.deepEqual(
      [
        store.size,
        store.claimNow("d", claim("d2", T0 + 10), T0 + 10).claimed,
        store.claimNow("a", claim("a2", T0 + 11), T0 + 11).claimed,
        store.size,
      ],
      [3, false, true, 3],
    );
  });

  it("should report early evictions with a count, once a period", () => {
    const reports: number[] = [];
    const store = new MemoryIdempotencyStore({
      ttlMs: 600_000,
      maxKeys: 2,
      reportIntervalMs: 10_000,
      onEarlyEviction: (count) => reports.push(count),
    });
    const at = (key: string, offsetMs: number) =>
      store.claimNow(key, claim(key, T0 + offsetMs), T0 + offsetMs);
    at("a", 0);
    at("b", 0);
    at("c", 0);
    const afterFirst = [...reports];
    at("d", 1_000);
    at("e", 2_000);
    at("f", 9_999);
    const withinPeriod = [...reports];
    at("g", 10_000);
    const afterPeriod = [...reports];
    assert.deepEqual(
      { afterFirst, withinPeriod, afterPeriod },
      { afterFirst: [1], withinPeriod: [1], afterPeriod: [1, 4] },
    );
  });

  it("should report once a minute by default", () => {
    const reports: number[] = [];
    const store = new MemoryIdempotencyStore({
      ttlMs: 3_600_000,
      maxKeys: 1,
      onEarlyEviction: (count) => reports.push(count),
    });
    const offsets = [0, 1, 59_999, 60_000, 60_001, 120_001];
    for (const [i, offsetMs] of offsets.entries()) {
      store.claimNow(`k${i}`, claim(`k${i}`, T0 + offsetMs), T0 + offsetMs);
    }
    assert.deepEqual(reports, [1, 3, 1]);
  });

  it("should hold the newest maxKeys through many evictions", () => {
    const store = new MemoryIdempotencyStore({
      ttlMs: 3_600_000,
      maxKeys: 1000,
    });
    for (let i = 0; i < 5000; i++) {
      store.claimNow(`k${i}`, claim(`k${i}`, T0 + i), T0 + i);
    }
    assert.equal(store.evictedBeforeTtl, 4000);
    const now = T0 + 5000;
    const again = (i: number) =>
      store.claimNow(`k${i}`, claim("again", now), now).claimed;
    const newest = Array.from({ length: 1000 }, (_, n) => again(4000 + n));
    assert.deepEqual(
      { newestHeld: newest.every((claimed) => !claimed), k3999: again(3999) },
      { newestHeld: true, k3999: true },
    );
  });

  it("should expire keys in order through many claims", () => {
    const store = new MemoryIdempotencyStore({ ttlMs: 1_000, maxKeys: 10_000 });
    for (let i = 0; i < 5000; i++) {
      store.claimNow(`k${i}`, claim(`k${i}`, T0 + i), T0 + i);
    }
    const now = T0 + 4999;
    const sizeAfterClaims = store.size;
    const again = (i: number) =>
      store.claimNow(`k${i}`, claim("again", now), now).claimed;
    assert.deepEqual(
      { sizeAfterClaims, k4000: again(4000), k3999: again(3999) },
      { sizeAfterClaims: 1000, k4000: false, k3999: true },
    );
  });

  it("should not report keys that expired on time", () => {
    const reports: number[] = [];
    const store = new MemoryIdempotencyStore({
      ttlMs: 1_000,
      maxKeys: 2,
      onEarlyEviction: (count) => reports.push(count),
    });
    store.claimNow("a", claim("a", T0), T0);
    store.claimNow("b", claim("b", T0), T0);
    store.claimNow("c", claim("c", T0 + 1_000), T0 + 1_000);
    store.claimNow("d", claim("d", T0 + 1_000), T0 + 1_000);
    assert.deepEqual({ reports, size: store.size }, { reports: [], size: 2 });
  });
});
