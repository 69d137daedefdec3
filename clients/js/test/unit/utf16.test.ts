// UTF-16 (editors) vs code points (otterdoc): the conversions at the edge, with emoji,
// combining marks, CJK, flags and ZWJ sequences — the class of bug that hit Rustpad and ShareDB.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  applyChanges,
  changesToOperation,
  diffToChanges,
  InvalidChangeError,
  mapPosition,
  operationToChanges,
  selectionToCodePoints,
  selectionToUtf16,
} from "../../src/changes.js";
import { TextOperation, transformIndex } from "../../src/operation.js";
import {
  codePointLength,
  codePointsToUtf16,
  codePointToUtf16,
  isWellFormed,
  utf16ToCodePoint,
  utf16ToCodePoints,
} from "../../src/utf16.js";
import { randomChanges, randomOp, randomText, Rng, seedFromEnv } from "../support/random.js";

describe("counting and converting positions", () => {
  test("code point lengths", () => {
    assert.equal(codePointLength("😀"), 1);
    assert.equal(codePointLength("e\u0301"), 2); // e + combining acute: two code points
    assert.equal(codePointLength("中文"), 2);
    assert.equal(codePointLength("🇫🇷"), 2); // a flag: two regional indicators
    assert.equal(codePointLength("👩\u200d💻"), 3); // ZWJ sequence
    assert.equal(codePointLength("👍🏽"), 2); // emoji + skin tone modifier
    assert.equal(codePointLength("𝄞"), 1);
    assert.equal(codePointLength("\ud83d"), 1); // a lone surrogate counts as one, like [...s]
  });

  test("UTF-16 offset ↔ code point index", () => {
    const s = "a😀é中👩\u200d💻b";
    // a=0, 😀=1..3, é=3, 中=4, 👩=5..7, ZWJ=7, 💻=8..10, b=10
    const pairs: [number, number][] = [
      [0, 0],
      [1, 1],
      [3, 2],
      [4, 3],
      [5, 4],
      [7, 5],
      [8, 6],
      [10, 7],
      [11, 8],
    ];
    for (const [u, cp] of pairs) {
      assert.equal(utf16ToCodePoint(s, u), cp, `utf16 ${u}`);
      assert.equal(codePointToUtf16(s, cp), u, `code point ${cp}`);
    }
    assert.equal(utf16ToCodePoint(s, 2), 1, "inside 😀 rounds down");
    assert.equal(utf16ToCodePoint(s, 99), 8, "clamped");
    assert.equal(codePointToUtf16(s, 99), s.length, "clamped");
    assert.deepEqual(utf16ToCodePoints(s, [11, 0, 3, 2]), [8, 0, 2, 1]);
    assert.deepEqual(codePointsToUtf16(s, [8, 0, 2, 1]), [11, 0, 3, 1]);
  });

  test("well-formedness", () => {
    assert.ok(isWellFormed("a😀b"));
    assert.ok(!isWellFormed("a\ud83d"));
    assert.ok(!isWellFormed("\ude00a"));
  });
});

describe("changes → operation", () => {
  test("an insert after an emoji", () => {
    const op = changesToOperation("😀b", [{ from: 2, insert: "x" }]);
    assert.deepEqual(op.toJSON(), [1, "x", 1]);
    assert.equal(op.apply("😀b"), "😀xb");
  });

  test("deleting an emoji is one code point", () => {
    assert.deepEqual(changesToOperation("a😀b", [{ from: 1, to: 3 }]).toJSON(), [1, -1, 1]);
  });

  test("deleting only a combining mark", () => {
    const op = changesToOperation("e\u0301x", [{ from: 1, to: 2 }]);
    assert.deepEqual(op.toJSON(), [1, -1, 1]);
    assert.equal(op.apply("e\u0301x"), "ex");
  });

  test("CJK and several changes relative to the start document", () => {
    const text = "中文字";
    const changes = [
      { from: 3, insert: "!" },
      { from: 0, to: 1, insert: "日本" },
    ];
    const op = changesToOperation(text, changes);
    assert.deepEqual(op.toJSON(), ["日本", -1, 2, "!"]);
    assert.equal(op.apply(text), applyChanges(text, changes));
    assert.equal(applyChanges(text, changes), "日本文字!");
  });

  test("inserts at one position keep their order", () => {
    assert.equal(applyChanges("ab", [{ from: 1, insert: "X" }, { from: 1, insert: "Y" }]), "aXYb");
    assert.deepEqual(changesToOperation("ab", [{ from: 1, insert: "X" }, { from: 1, insert: "Y" }]).toJSON(), [1, "XY", 1]);
  });

  test("invalid changes are refused before anything changes", () => {
    const bad: [string, string, { from: number; to?: number; insert?: string }[]][] = [
      ["splits an emoji (from)", "a😀b", [{ from: 2, insert: "x" }]],
      ["splits an emoji (to)", "a😀b", [{ from: 0, to: 2 }]],
      ["past the end", "ab", [{ from: 1, to: 3 }]],
      ["negative", "ab", [{ from: -1 }]],
      ["reversed", "ab", [{ from: 2, to: 1 }]],
      ["overlapping", "abcd", [{ from: 0, to: 2 }, { from: 1, to: 3 }]],
      ["lone surrogate inserted", "ab", [{ from: 1, insert: "\ud83d" }]],
      ["not an integer", "ab", [{ from: 0.5 }]],
    ];
    for (const [name, text, changes] of bad) {
      assert.throws(() => changesToOperation(text, changes), InvalidChangeError, name);
    }
  });
});

describe("operation → changes", () => {
  test("positions come back in UTF-16 of the old text", () => {
    const text = "👩\u200d💻 中e\u0301!";
    const op = TextOperation.fromJSON([3, "🇫🇷", 1, -1, 2, "x", -1]);
    const changes = operationToChanges(text, op);
    assert.deepEqual(changes, [
      { from: 5, to: 5, insert: "🇫🇷" },
      { from: 6, to: 7, insert: "" },
      { from: 9, to: 10, insert: "x" },
    ]);
    assert.equal(applyChanges(text, changes), op.apply(text));
  });

  test("replacement is one change", () => {
    assert.deepEqual(operationToChanges("a😀b", TextOperation.fromJSON([1, "👍", -1, 1])), [{ from: 1, to: 3, insert: "👍" }]);
  });

  const seed = seedFromEnv(0xc0de);
  test(`round trips on random text (seed ${seed})`, () => {
    const rng = new Rng(seed);
    for (let i = 0; i < 1500; i++) {
      const text = randomText(rng, 14);
      const op = randomOp(rng, codePointLength(text));
      const changes = operationToChanges(text, op);
      assert.equal(applyChanges(text, changes), op.apply(text));
      assert.deepEqual(changesToOperation(text, changes).toJSON(), op.toJSON());
      const ch = randomChanges(rng, text);
      assert.equal(changesToOperation(text, ch).apply(text), applyChanges(text, ch));
    }
  });
});

describe("diffToChanges (textarea bindings)", () => {
  test("never splits a surrogate pair shared by both texts", () => {
    // 😀 is D83D DE00, 😃 is D83D DE03: a naive common prefix would end between the halves.
    const changes = diffToChanges("a😀b", "a😃b");
    assert.deepEqual(changes, [{ from: 1, to: 3, insert: "😃" }]);
    assert.deepEqual(changesToOperation("a😀b", changes).toJSON(), [1, "😃", -1, 1]);
    // U+1F600 (D83D DE00) and U+1F200 (D83C DE00) share the low surrogate: a naive common
    // suffix would start between the halves.
    const suffix = diffToChanges("x\u{1F600}", "x\u{1F200}");
    assert.deepEqual(suffix, [{ from: 1, to: 3, insert: "\u{1F200}" }]);
  });

  test("combining marks and CJK", () => {
    assert.deepEqual(diffToChanges("cafe", "cafe\u0301"), [{ from: 4, to: 4, insert: "\u0301" }]);
    assert.deepEqual(diffToChanges("中文", "中日文"), [{ from: 1, to: 1, insert: "日" }]);
    assert.deepEqual(diffToChanges("same", "same"), []);
  });

  test("the caret disambiguates repeated text", () => {
    assert.deepEqual(diffToChanges("aa", "aaa"), [{ from: 2, to: 2, insert: "a" }]);
    assert.deepEqual(diffToChanges("aa", "aaa", 1), [{ from: 0, to: 0, insert: "a" }]);
    assert.deepEqual(diffToChanges("aaa", "aa", 0), [{ from: 0, to: 1, insert: "" }]);
    assert.deepEqual(diffToChanges("😀😀", "😀😀😀", 2), [{ from: 0, to: 0, insert: "😀" }]);
  });

  const seed = seedFromEnv(0xd1ff);
  test(`random diffs apply and never split pairs (seed ${seed})`, () => {
    const rng = new Rng(seed);
    for (let i = 0; i < 2000; i++) {
      const a = randomText(rng, 10);
      const b = rng.bool(0.5) ? randomText(rng, 10) : applyChanges(a, randomChanges(rng, a));
      const caret = rng.bool(0.5) ? rng.int(0, b.length) : undefined;
      const changes = diffToChanges(a, b, caret);
      assert.equal(applyChanges(a, changes), b, `${JSON.stringify(a)} → ${JSON.stringify(b)} caret ${caret}`);
      // Must convert without error (no pair split).
      assert.equal(changesToOperation(a, changes).apply(a), b);
    }
  });
});

describe("selections", () => {
  test("round trip through code points", () => {
    const text = "a😀中👍🏽b";
    const ranges = [
      { anchor: 1, head: 3 },
      { anchor: 8, head: 4 },
    ];
    const cps = selectionToCodePoints(text, ranges);
    assert.deepEqual(cps, [
      { anchor: 1, head: 2 },
      { anchor: 5, head: 3 },
    ]);
    assert.deepEqual(selectionToUtf16(text, cps), ranges);
    assert.deepEqual(selectionToCodePoints(text, [{ anchor: 2, head: 2 }]), [{ anchor: 1, head: 1 }], "inside a pair rounds down");
  });
});

describe("mapPosition (carets through a change event)", () => {
  test("examples", () => {
    const changes = [{ from: 1, to: 3, insert: "X" }, { from: 5, insert: "😀" }];
    assert.equal(mapPosition(0, changes), 0);
    assert.equal(mapPosition(1, changes), 1, "stay at a replaced range's start");
    assert.equal(mapPosition(1, changes, "push"), 2);
    assert.equal(mapPosition(2, changes), 2, "inside the replaced range: after its inserted text");
    assert.equal(mapPosition(4, changes), 3);
    assert.equal(mapPosition(5, changes), 4);
    assert.equal(mapPosition(5, changes, "push"), 6);
    assert.equal(mapPosition(9, changes), 10);
  });

  const seed = seedFromEnv(0xca7);
  test(`agrees with transformIndex at code point boundaries (seed ${seed})`, () => {
    const rng = new Rng(seed);
    for (let i = 0; i < 1500; i++) {
      const text = randomText(rng, 12);
      const op = randomOp(rng, codePointLength(text));
      const changes = operationToChanges(text, op);
      const after = op.apply(text);
      const cp = rng.int(0, codePointLength(text));
      const bias = rng.bool() ? "stay" : "push";
      const expected = codePointToUtf16(after, transformIndex(cp, op, bias));
      assert.equal(mapPosition(codePointToUtf16(text, cp), changes, bias), expected, `${op} on ${JSON.stringify(text)} at ${cp} ${bias}`);
    }
  });
});
