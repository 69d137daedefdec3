// Undo/redo of the local user's own edits only, with both stacks transformed against remote ops.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { TextOperation, transform } from "../../src/operation.js";
import { UndoManager } from "../../src/undo.js";
import { codePointLength } from "../../src/utf16.js";
import { randomSplice, Rng, seedFromEnv } from "../support/random.js";

/** A local document with an undo manager, as the client drives it. */
class Doc {
  text: string;
  readonly undo: UndoManager;
  now = 0;
  constructor(text: string, groupDelayMs = 0) {
    this.text = text;
    this.undo = new UndoManager({ groupDelayMs, now: () => this.now });
  }
  /** A local edit: splice at code point `pos`. */
  edit(pos: number, del: number, ins: string): void {
    const op = TextOperation.splice(codePointLength(this.text), pos, del, ins);
    this.undo.record(op.invert(this.text));
    this.text = op.apply(this.text);
  }
  remote(op: TextOperation): void {
    this.text = op.apply(this.text);
    this.undo.transform(op);
  }
  doUndo(): boolean {
    const op = this.undo.undo(this.text);
    if (op) this.text = op.apply(this.text);
    return op !== null;
  }
  doRedo(): boolean {
    const op = this.undo.redo(this.text);
    if (op) this.text = op.apply(this.text);
    return op !== null;
  }
}

describe("UndoManager", () => {
  test("undoes only the local user's edit, keeping a remote edit made after it", () => {
    const d = new Doc("hello");
    d.edit(5, 0, " world"); // local
    d.remote(TextOperation.fromJSON(["😀 ", 11])); // remote, at the start
    assert.equal(d.text, "😀 hello world");
    assert.ok(d.doUndo());
    assert.equal(d.text, "😀 hello");
    assert.ok(d.doRedo());
    assert.equal(d.text, "😀 hello world");
  });

  test("undo after the remote user deleted the text it would restore around", () => {
    const d = new Doc("abc");
    d.edit(1, 1, ""); // delete b: "ac"
    d.remote(TextOperation.fromJSON([-2])); // someone deletes everything
    assert.equal(d.text, "");
    assert.ok(d.doUndo());
    assert.equal(d.text, "b", "the user's own delete is undone, not the remote one");
  });

  test("an undo step made a no-op by remote edits is skipped", () => {
    const d = new Doc("");
    d.edit(0, 0, "x"); // step 1: insert x
    d.now = 10_000;
    d.edit(1, 0, "y"); // step 2: insert y
    d.remote(TextOperation.fromJSON([1, -1])); // remote deletes y
    assert.equal(d.text, "x");
    assert.ok(d.doUndo(), "skips the no-op step and undoes x");
    assert.equal(d.text, "");
    assert.equal(d.doUndo(), false);
  });

  test("edits within the group delay are one step; breakGroup splits", () => {
    const d = new Doc("", 500);
    d.edit(0, 0, "a");
    d.now = 100;
    d.edit(1, 0, "b");
    d.now = 200;
    d.undo.breakGroup();
    d.edit(2, 0, "c");
    d.now = 5000;
    d.edit(3, 0, "d");
    assert.equal(d.undo.undoDepth, 3);
    d.doUndo();
    assert.equal(d.text, "abc");
    d.doUndo();
    assert.equal(d.text, "ab");
    d.doUndo();
    assert.equal(d.text, "");
  });

  test("a new edit clears the redo stack", () => {
    const d = new Doc("");
    d.edit(0, 0, "a");
    d.doUndo();
    assert.ok(d.undo.canRedo);
    d.edit(0, 0, "b");
    assert.ok(!d.undo.canRedo);
  });

  test("maxDepth bounds the stack", () => {
    const u = new UndoManager({ maxDepth: 3, groupDelayMs: 0 });
    for (let i = 0; i < 10; i++) u.record(TextOperation.fromJSON([i + 1, -1]));
    assert.equal(u.undoDepth, 3);
  });

  const seed = seedFromEnv(0x0dd0);
  test(`random interleavings: undoing everything removes exactly the local user's edits (seed ${seed})`, () => {
    const rng = new Rng(seed);
    for (let run = 0; run < 300; run++) {
      // Two sites: the local user and a remote one whose ops are transformed in as a server would.
      // Remote edits insert only marker characters that the local user never types, so after
      // undoing all local edits, what is left is a sequence of remote markers.
      const d = new Doc("");
      let mine = 0;
      for (let i = 0; i < 40; i++) {
        const len = codePointLength(d.text);
        if (rng.bool(0.5)) {
          const op = randomSplice(rng, len);
          if (op.isNoop()) continue;
          d.undo.record(op.invert(d.text));
          d.text = op.apply(d.text);
          mine++;
        } else {
          const pos = rng.int(0, len);
          d.remote(TextOperation.splice(len, pos, 0, "R"));
        }
        if (rng.bool(0.1)) d.doUndo();
      }
      while (d.doUndo());
      assert.match(d.text, /^R*$/, `after undoing all ${mine} local edits: ${JSON.stringify(d.text)}`);
    }
  });

  test("transformed stacks stay applicable against random remote ops", () => {
    const rng = new Rng(seed + 1);
    for (let run = 0; run < 300; run++) {
      const d = new Doc("seed 😀 text");
      for (let i = 0; i < 30; i++) {
        const len = codePointLength(d.text);
        const op = randomSplice(rng, len);
        if (rng.bool(0.5)) {
          d.undo.record(op.invert(d.text));
          d.text = op.apply(d.text);
        } else {
          // A concurrent remote op, transformed as the client would.
          d.remote(transform(op, TextOperation.identity(len), "left")[0]);
        }
        if (rng.bool(0.2)) d.doUndo();
        if (rng.bool(0.1)) d.doRedo();
      }
      while (d.doUndo());
      while (d.doRedo());
    }
  });
});
