// The CodeMirror binding's state-level parts, in Node (no DOM): remote cursor decorations and
// their mapping through later changes, colour and name rules, and how a transaction's changes
// are handed to the client. The view itself is driven in a real browser by clients/demo's tests.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { ChangeSet, EditorState } from "@codemirror/state";
import { EditorView, type DecorationSet } from "@codemirror/view";

import type { OtterdocClient, RemoteCursor } from "../../src/client.js";
import { changesOf, cursorColor, cursorName, otterdoc, remoteCursorDecorations, remoteCursors, setRemoteCursors } from "../../src/codemirror.js";

function cursor(session: string, selection: { anchor: number; head: number }[], extra: Partial<RemoteCursor> = {}): RemoteCursor {
  return { session, client: `c-${session}`, user: "anonymous", selection, ...extra };
}

/** (from, to, kind) of every decoration, sorted. */
function spans(set: DecorationSet): [number, number, string][] {
  const out: [number, number, string][] = [];
  set.between(0, 1e9, (from, to, deco) => {
    out.push([from, to, deco.spec.widget ? "caret" : "mark"]);
  });
  return out.sort((a, b) => a[0] - b[0] || a[1] - b[1] || a[2].localeCompare(b[2]));
}

describe("CodeMirror binding", () => {
  test("a cursor is a caret at its head; a selection is also a mark; positions are clamped", () => {
    const set = remoteCursorDecorations([cursor("a", [{ anchor: 6, head: 2 }]), cursor("b", [{ anchor: 4, head: 4 }, { anchor: 0, head: 99 }])], 10);
    assert.deepEqual(spans(set), [
      [0, 10, "mark"],
      [2, 2, "caret"],
      [2, 6, "mark"],
      [4, 4, "caret"],
      [10, 10, "caret"],
    ]);
  });

  test("only #rgb / #rrggbb colours are used; others get a stable palette colour", () => {
    assert.equal(cursorColor({ session: "s", color: "#1E88E5" }), "#1e88e5");
    assert.equal(cursorColor({ session: "s", color: "#abc" }), "#aabbcc");
    const fallback = cursorColor({ session: "s1", color: "red; background: url(x)" });
    assert.match(fallback, /^#[0-9a-f]{6}$/);
    assert.equal(cursorColor({ session: "s1" }), fallback, "by session, whatever was sent");
    assert.equal(cursorName({ name: "Ann", user: "alice" }), "Ann");
    assert.equal(cursorName({ user: "alice" }), "alice");
    assert.equal(cursorName({ user: "" }), "anonymous");
  });

  test("remote cursors follow changes made after they were set", () => {
    const client = {} as OtterdocClient; // not touched without a view
    let state = EditorState.create({ doc: "hello world", extensions: [otterdoc(client)] });
    state = state.update({ effects: setRemoteCursors.of([cursor("a", [{ anchor: 6, head: 11 }])]) }).state;
    assert.equal(remoteCursors(state).length, 1);
    state = state.update({ changes: { from: 0, insert: "😀 " } }).state;
    const decorations = state.facet(EditorView.decorations).filter((d): d is DecorationSet => typeof d !== "function");
    const all = decorations.flatMap(spans);
    assert.deepEqual(all, [
      [9, 14, "mark"],
      [14, 14, "caret"],
    ]);
    assert.equal(state.readOnly, true, "read-only until the client has loaded the document");
  });

  test("a transaction's changes reach the client as UTF-16 changes relative to the old text", () => {
    const changes = ChangeSet.of(
      [
        { from: 0, insert: "😀" },
        { from: 3, to: 5, insert: "X" },
        { from: 8, to: 9 },
      ],
      10,
    );
    assert.deepEqual(changesOf(changes), [
      { from: 0, to: 0, insert: "😀" },
      { from: 3, to: 5, insert: "X" },
      { from: 8, to: 9, insert: "" },
    ]);
  });
});
