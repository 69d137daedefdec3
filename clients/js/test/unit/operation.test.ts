// The operation algebra beyond the shared vectors: canonical form, wire parsing as the server
// does it, and the algebraic laws on random operations over tricky text.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  OperationBuilder,
  OperationError,
  TextOperation,
  transform,
  transformIndex,
  transformThrough,
} from "../../src/operation.js";
import { codePointLength } from "../../src/utf16.js";
import { randomOp, randomText, Rng, seedFromEnv } from "../support/random.js";

describe("builder and canonical form", () => {
  test("merges adjacent components and drops empty ones", () => {
    const op = new OperationBuilder().retain(2).retain(0).retain(3).insert("a").insert("").insert("b").delete(1).delete(2).build();
    assert.deepEqual(op.toJSON(), [5, "ab", -3]);
    assert.equal(op.baseLength, 8);
    assert.equal(op.targetLength, 7);
  });

  test("an insert after a delete goes before it", () => {
    assert.deepEqual(new OperationBuilder().delete(2).insert("x").build().toJSON(), ["x", -2]);
    assert.deepEqual(new OperationBuilder().insert("a").delete(2).insert("b").build().toJSON(), ["ab", -2]);
    assert.deepEqual(TextOperation.fromComponents([5, -1, "X"]).toJSON(), [5, "X", -1]);
  });

  test("lengths count code points", () => {
    const op = new OperationBuilder().retain(1).insert("😀e\u0301中").delete(1).build();
    assert.equal(op.baseLength, 2);
    assert.equal(op.targetLength, 5);
    assert.equal(op.apply("a😀"), "a😀e\u0301中");
  });

  test("operations are immutable", () => {
    const op = TextOperation.fromJSON([1, "x"]);
    assert.throws(() => (op.components as (number | string)[]).push(3));
    const json = op.toJSON();
    json.push(5);
    assert.deepEqual(op.toJSON(), [1, "x"]);
  });

  test("splice", () => {
    assert.equal(TextOperation.splice(5, 1, 1, "X").apply("hello"), "hXllo");
    assert.throws(() => TextOperation.splice(3, 2, 2, ""), OperationError);
  });

  test("negative or fractional lengths are refused", () => {
    assert.throws(() => new OperationBuilder().retain(-1), OperationError);
    assert.throws(() => new OperationBuilder().delete(1.5), OperationError);
  });
});

describe("wire format (as the server parses it)", () => {
  test("checked deletes and a missing trailing retain", () => {
    assert.deepEqual(TextOperation.fromJSON([2, { d: "llo" }, "y"], 5).toJSON(), [2, "y", -3]);
    assert.deepEqual(TextOperation.fromJSON([5, { d: 1 }, "X"], 6).toJSON(), [5, "X", -1]);
    assert.deepEqual(TextOperation.fromJSON(["> "], 3).toJSON(), ["> ", 3]);
    assert.deepEqual(TextOperation.fromJSON([], 0).toJSON(), []);
    assert.deepEqual(TextOperation.fromJSON([{ d: "😀" }]).toJSON(), [-1]);
  });

  test("an op longer than the document does not fit", () => {
    assert.throws(() => TextOperation.fromJSON([9], 5), /spans 9 characters/);
  });

  const invalid: [string, unknown][] = [
    ["zero", [0]],
    ["fraction", [1.5]],
    ["empty insert", [""]],
    ["null", [null]],
    ["boolean", [true]],
    ["nested array", [[1]]],
    ["unknown object", [{ x: 1 }]],
    ["object with extra key", [{ d: 1, x: 2 }]],
    ["d zero", [{ d: 0 }]],
    ["d empty", [{ d: "" }]],
    ["not an array", { d: 1 }],
    ["lone surrogate", ["\ud83d"]],
    ["unsafe integer", [2 ** 60]],
  ];
  for (const [name, value] of invalid) {
    test(`refuses ${name}`, () => assert.throws(() => TextOperation.fromJSON(value), OperationError));
  }
});

describe("laws on random operations", () => {
  const seed = seedFromEnv(0x5eed);
  const rng = new Rng(seed);
  const N = 1500;

  test(`apply/compose/invert/transform laws hold (${N} cases, seed ${seed})`, () => {
    for (let i = 0; i < N; i++) {
      const doc = randomText(rng, 12);
      const len = codePointLength(doc);
      const a = randomOp(rng, len);
      const b = randomOp(rng, len);
      const afterA = a.apply(doc);
      const c = randomOp(rng, a.targetLength);
      // compose
      const ac = a.compose(c);
      assert.equal(ac.apply(doc), c.apply(afterA), `compose ${a} ${c} on ${JSON.stringify(doc)}`);
      assert.deepEqual(TextOperation.fromComponents(ac.components).toJSON(), ac.toJSON(), "compose is canonical");
      // associativity
      const d = randomOp(rng, c.targetLength);
      assert.deepEqual(a.compose(c).compose(d).toJSON(), a.compose(c.compose(d)).toJSON(), "associative");
      // invert
      assert.equal(a.invert(doc).apply(afterA), doc, "invert");
      // transform (TP1), both sides
      for (const side of ["left", "right"] as const) {
        const [a2, b2] = transform(a, b, side);
        assert.equal(b2.apply(afterA), a2.apply(b.apply(doc)), `TP1 ${a} ${b} ${side}`);
        assert.deepEqual(a.compose(b2).toJSON(), b.compose(a2).toJSON(), "TP1 on ops");
        const [b3, a3] = transform(b, a, side === "left" ? "right" : "left");
        assert.deepEqual([a3.toJSON(), b3.toJSON()], [a2.toJSON(), b2.toJSON()], "sides are symmetric");
      }
      // transformIndex stays in range
      const idx = rng.int(0, len + 2);
      const moved = transformIndex(idx, a, rng.bool() ? "stay" : "push");
      assert.ok(moved >= 0 && moved <= a.targetLength);
    }
  });

  test("transformThrough is stepwise transform", () => {
    for (let i = 0; i < 300; i++) {
      const doc = randomText(rng, 8);
      let len = codePointLength(doc);
      const op = randomOp(rng, len);
      const history: TextOperation[] = [];
      for (let k = rng.int(0, 4); k > 0; k--) {
        const h = randomOp(rng, len);
        history.push(h);
        len = h.targetLength;
      }
      let expected = op;
      for (const h of history) expected = transform(expected, h, "right")[0];
      assert.deepEqual(transformThrough(op, history, "right").toJSON(), expected.toJSON());
      const composed = TextOperation.composeAll(history);
      const end = composed ? composed.apply(doc) : doc;
      assert.equal(codePointLength(end), expected.baseLength);
    }
  });
});
