// Every case of the Rust crate's shared vectors (ot/testdata/vectors.json) must agree.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";

import { TextOperation, transform, transformIndex, type Bias, type Component, type Side } from "../../src/operation.js";
import { fromPackage } from "../support/paths.js";

interface Case {
  name: string;
  doc: string;
}
interface Vectors {
  version: number;
  apply: (Case & { op: Component[]; result: string })[];
  compose: (Case & { a: Component[]; b: Component[]; result: Component[] })[];
  transform: (Case & {
    a: Component[];
    b: Component[];
    side: Side;
    a_prime: Component[];
    b_prime: Component[];
    result: string;
  })[];
  transform_index: (Case & { op: Component[]; index: number; bias: Bias; result: number })[];
  invert: (Case & { op: Component[]; result: Component[] })[];
}

const vectors = JSON.parse(readFileSync(fromPackage("../../ot/testdata/vectors.json"), "utf8")) as Vectors;
const op = (c: Component[]): TextOperation => TextOperation.fromJSON(c);

test("the vectors file is the version this port understands and is not empty", () => {
  assert.equal(vectors.version, 1);
  for (const section of ["apply", "compose", "transform", "transform_index", "invert"] as const) {
    assert.ok(vectors[section].length > 0, `section ${section} is empty`);
  }
});

describe("apply", () => {
  vectors.apply.forEach((c, i) => {
    test(`#${i} ${c.name}`, () => {
      const o = op(c.op);
      assert.deepEqual(o.toJSON(), c.op, "vector ops are canonical and stay as they are");
      assert.equal(o.apply(c.doc), c.result);
    });
  });
});

describe("compose", () => {
  vectors.compose.forEach((c, i) => {
    test(`#${i} ${c.name}`, () => {
      const a = op(c.a);
      const b = op(c.b);
      const composed = a.compose(b);
      assert.deepEqual(composed.toJSON(), c.result);
      assert.equal(composed.apply(c.doc), b.apply(a.apply(c.doc)));
    });
  });
});

describe("transform", () => {
  vectors.transform.forEach((c, i) => {
    test(`#${i} ${c.name} (a on ${c.side})`, () => {
      const a = op(c.a);
      const b = op(c.b);
      const [aPrime, bPrime] = transform(a, b, c.side);
      assert.deepEqual(aPrime.toJSON(), c.a_prime, "a′");
      assert.deepEqual(bPrime.toJSON(), c.b_prime, "b′");
      assert.equal(bPrime.apply(a.apply(c.doc)), c.result);
      assert.equal(aPrime.apply(b.apply(c.doc)), c.result);
      assert.deepEqual(a.compose(bPrime).toJSON(), b.compose(aPrime).toJSON(), "TP1 on operations");
    });
  });
});

describe("transform_index", () => {
  vectors.transform_index.forEach((c, i) => {
    test(`#${i} ${c.name} (${c.bias})`, () => {
      assert.equal(transformIndex(c.index, op(c.op), c.bias), c.result);
    });
  });
});

describe("invert", () => {
  vectors.invert.forEach((c, i) => {
    test(`#${i} ${c.name}`, () => {
      const o = op(c.op);
      const inverse = o.invert(c.doc);
      assert.deepEqual(inverse.toJSON(), c.result);
      assert.equal(inverse.apply(o.apply(c.doc)), c.doc);
    });
  });
});
