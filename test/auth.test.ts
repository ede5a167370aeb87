import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { Metadata, status } from "@grpc/grpc-js";

import { Authenticator, signBody } from "../src/auth";
import { rejection } from "./helpers/rejection";

const NEW_SECRET = "new-secret-0123456789-abcdefghijklmnop";
const OLD_SECRET = "old-secret-9876543210-zyxwvutsrqponmlkji";
const RETIRED_SECRET = "retired-secret-5555-qwertyuiopasdfghjk";
const TOKEN_A = "token-A-abcdefghijklmnopqrstu";
const TOKEN_B = "token-B-ZYXWVUTSRQPONMLKJIHGF";

const BODY = new TextEncoder().encode(
  '{"ticker":"AAPL","action":"buy","quantity":1,' +
    '"timestamp":"2026-12-04T15:30:00Z"}',
);

function unauthenticated(reason: string, message: string) {
  return { code: status.UNAUTHENTICATED, reason, message, violations: [] };
}

const MISSING = unauthenticated(
  "CREDENTIALS_MISSING",
  "no credentials; sign the body and send x-signature: sha256=<hex>",
);
const MALFORMED = unauthenticated(
  "SIGNATURE_MALFORMED",
  "x-signature must be one value of the form sha256=<64 hex digits>",
);
const MISMATCH = unauthenticated(
  "SIGNATURE_MISMATCH",
  "the signature does not match the body under any active secret",
);
const WRONG_TOKEN = unauthenticated("TOKEN_MISMATCH", "the token is not valid");

function metadata(...signatures: string[]): Metadata {
  const result = new Metadata();
  for (const signature of signatures) result.add("x-signature", signature);
  return result;
}

const both = () =>
  new Authenticator([NEW_SECRET, OLD_SECRET], [TOKEN_A, TOKEN_B]);

describe("signBody", () => {
  it("should give the RFC 4231 HMAC-SHA256 as sha256=<hex>", () => {
    assert.equal(
      signBody("what do ya want for nothing?", "Jefe"),
      "sha256=" +
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
    );
  });

  it("should sign bytes and their text alike", () => {
    const text = '{"comment":"日本 €"}';
    assert.equal(
      signBody(new TextEncoder().encode(text), NEW_SECRET),
      signBody(text, NEW_SECRET),
    );
  });
});

describe("Authenticator.authenticate", () => {
  const rotation: ReadonlyArray<[string, string]> = [
    ["the new secret", NEW_SECRET],
    ["the old secret", OLD_SECRET],
  ];
  for (const [name, secret] of rotation) {
    it(`should accept a body signed with ${name}`, () => {
      const decision = both().authenticate(
        BODY,
        metadata(signBody(BODY, secret)),
        "",
      );
      assert.equal(decision, "signature");
    });
  }

  it("should accept a signature in upper-case hex", () => {
    const signature = signBody(BODY, NEW_SECRET);
    const upper = `sha256=${signature.slice(7).toUpperCase()}`;
    assert.equal(both().authenticate(BODY, metadata(upper), ""), "signature");
  });

  it("should accept a signature with no tokens configured", () => {
    const auth = new Authenticator([NEW_SECRET], []);
    const signature = signBody(BODY, NEW_SECRET);
    assert.equal(auth.authenticate(BODY, metadata(signature), ""), "signature");
  });

  it("should accept binary bytes that are not text", () => {
    const bytes = Uint8Array.from([0xff, 0x00, 0xfe, 0x7b]);
    const signature = signBody(bytes, OLD_SECRET);
    assert.equal(
      both().authenticate(bytes, metadata(signature), ""),
      "signature",
    );
  });

  const mismatches: ReadonlyArray<[string, Uint8Array, string]> = [
    ["a retired secret", BODY, signBody(BODY, RETIRED_SECRET)],
    ["a token used as the secret", BODY, signBody(BODY, TOKEN_A)],
    [
      "a body with a trailing newline added",
      new TextEncoder().encode(`${new TextDecoder().decode(BODY)}\n`),
      signBody(BODY, NEW_SECRET),
    ],
    [
      "a body with one byte changed",
      new TextEncoder().encode(
        new TextDecoder().decode(BODY).replace('"buy"', '"BUY"'),
      ),
      signBody(BODY, NEW_SECRET),
    ],
    ["an empty body", new Uint8Array(0), signBody(BODY, NEW_SECRET)],
    ["all zeros", BODY, `sha256=${"0".repeat(64)}`],
  ];
  for (const [name, body, signature] of mismatches) {
    it(`should refuse the signature for ${name}`, () => {
      assert.deepEqual(
        rejection(() => both().authenticate(body, metadata(signature), "")),
        MISMATCH,
      );
    });
  }

  it("should refuse every signature when no secret is configured", () => {
    const auth = new Authenticator([], [TOKEN_A]);
    const signature = signBody(BODY, NEW_SECRET);
    assert.deepEqual(
      rejection(() => auth.authenticate(BODY, metadata(signature), "")),
      MISMATCH,
    );
  });

  const hex = signBody(BODY, NEW_SECRET).slice("sha256=".length);
  const malformed: ReadonlyArray<[string, string[]]> = [
    ["no prefix", [hex]],
    ["an upper-case prefix", [`SHA256=${hex}`]],
    ["another algorithm", [`sha1=${hex}`]],
    ["a space after the =", [`sha256= ${hex}`]],
    ["a trailing space", [`sha256=${hex} `]],
    ["quotes around it", [`"sha256=${hex}"`]],
    ["63 hex digits", [`sha256=${hex.slice(1)}`]],
    ["65 hex digits", [`sha256=${hex}0`]],
    ["a non-hex digit", [`sha256=${hex.slice(1)}g`]],
    [
      "base64 instead of hex",
      [`sha256=${Buffer.from(hex, "hex").toString("base64")}`],
    ],
    ["an empty value", [""]],
    ["two values, both right", [`sha256=${hex}`, `sha256=${hex}`]],
    [
      "a wrong value then a right one",
      [`sha256=${"0".repeat(64)}`, `sha256=${hex}`],
    ],
  ];
  for (const [name, values] of malformed) {
    it(`should refuse a signature with ${name} as malformed`, () => {
      assert.deepEqual(
        rejection(() => both().authenticate(BODY, metadata(...values), "")),
        MALFORMED,
      );
    });
  }

  const pathTokens: ReadonlyArray<[string, string]> = [
    ["the first token", TOKEN_A],
    ["the second token", TOKEN_B],
  ];
  for (const [name, token] of pathTokens) {
    it(`should accept ${name} in the path`, () => {
      assert.equal(
        both().authenticate(BODY, new Metadata(), token),
        "path_token",
      );
    });
  }

  const wrongTokens: ReadonlyArray<[string, string]> = [
    ["a one-character token", "x"],
    ["the token minus its last character", TOKEN_A.slice(0, -1)],
    ["the token plus a character", `${TOKEN_A}x`],
    ["the token in another case", TOKEN_A.toUpperCase()],
    ["the token with its last character changed", `${TOKEN_A.slice(0, -1)}v`],
    ["both tokens joined", `${TOKEN_A},${TOKEN_B}`],
    ["a very long token", "t".repeat(100_000)],
    ["a non-ASCII token", "tökén-ÄBCDEFGHIJKLMNOPQRSTU"],
    ["a secret used as the token", NEW_SECRET],
  ];
  for (const [name, token] of wrongTokens) {
    it(`should refuse ${name} in the path`, () => {
      assert.deepEqual(
        rejection(() => both().authenticate(BODY, new Metadata(), token)),
        WRONG_TOKEN,
      );
    });
  }

  it("should refuse a path token when no token is configured", () => {
    const auth = new Authenticator([NEW_SECRET], []);
    assert.deepEqual(
      rejection(() => auth.authenticate(BODY, new Metadata(), TOKEN_A)),
      WRONG_TOKEN,
    );
  });

  it("should let a wrong signature decide over a right path token", () => {
    const signature = signBody(BODY, RETIRED_SECRET);
    assert.deepEqual(
      rejection(() => both().authenticate(BODY, metadata(signature), TOKEN_A)),
      MISMATCH,
    );
  });

  it("should let a malformed signature decide over a right path token", () => {
    assert.deepEqual(
      rejection(() => both().authenticate(BODY, metadata("x"), TOKEN_A)),
      MALFORMED,
    );
  });

  it("should defer to the body's token when tokens are configured", () => {
    assert.equal(
      both().authenticate(BODY, new Metadata(), ""),
      "body_token_pending",
    );
  });

  it("should ask for credentials when none came and no token is set", () => {
    const auth = new Authenticator([NEW_SECRET, OLD_SECRET], []);
    assert.deepEqual(
      rejection(() => auth.authenticate(BODY, new Metadata(), "")),
      MISSING,
    );
  });
});

describe("Authenticator.verifyBodyToken", () => {
  for (const token of [TOKEN_A, TOKEN_B]) {
    it(`should accept the configured token ${token}`, () => {
      assert.equal(both().verifyBodyToken(token), "body_token");
    });
  }

  it("should ask for credentials when the body has no token", () => {
    assert.deepEqual(
      rejection(() => both().verifyBodyToken(undefined)),
      unauthenticated(
        "CREDENTIALS_MISSING",
        "no credentials; put the token in the URL path or in a top-level " +
          '"token" field, or sign the body',
      ),
    );
  });

  const wrong = ["", " ", `${TOKEN_A} `, TOKEN_A.slice(1), "t".repeat(300)];
  for (const token of wrong) {
    const shown = JSON.stringify(token.length > 40 ? "t × 300" : token);
    it(`should refuse the body token ${shown}`, () => {
      assert.deepEqual(
        rejection(() => both().verifyBodyToken(token)),
        WRONG_TOKEN,
      );
    });
  }
});

describe("Authenticator.acceptsTokens", () => {
  it("should say whether any token is configured", () => {
    assert.deepEqual(
      [
        new Authenticator([NEW_SECRET], []).acceptsTokens,
        new Authenticator([], [TOKEN_A]).acceptsTokens,
        both().acceptsTokens,
      ],
      [false, true, true],
    );
  });
});
