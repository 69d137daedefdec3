// Presence: remote selections moved by later ops, events ahead of the client waiting for their
// version, own echoes ignored, and the throttled publisher that only sends when synchronized.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { TextOperation, type Selection } from "../../src/operation.js";
import { PresencePublisher, PresenceTracker, type Scheduler } from "../../src/presence.js";
import type { PresenceEvent, PresenceSubmission } from "../../src/protocol.js";

const op = (c: (number | string)[]): TextOperation => TextOperation.fromJSON(c);
const identity = (s: readonly Selection[]): Selection[] => s.slice();
const ev = (session: string, client: string, version: number, selection: Selection[]): PresenceEvent => ({
  type: "presence",
  session,
  client,
  user: "anonymous",
  version,
  selection,
});

describe("PresenceTracker", () => {
  test("an event at the client's version is mapped into the local document", () => {
    const t = new PresenceTracker({ ownClient: "me" });
    // The local document has an unconfirmed insert of 2 chars at 0.
    const toLocal = (s: readonly Selection[]): Selection[] => s.map((r) => ({ anchor: r.anchor + 2, head: r.head + 2 }));
    assert.ok(t.receive(ev("s1", "c1", 3, [{ anchor: 1, head: 4 }]), 3, toLocal));
    assert.deepEqual(t.get("s1")?.selection, [{ anchor: 3, head: 6 }]);
  });

  test("later ops move a cursor: 'push' for its own client's typing, 'stay' for others'", () => {
    const t = new PresenceTracker({ ownClient: "me" });
    t.receive(ev("s1", "c1", 0, [{ anchor: 2, head: 2 }]), 0, identity);
    t.serverOp(1, op([2, "ab", 1]), "c1", op([2, "ab", 1]), identity);
    assert.deepEqual(t.get("s1")?.selection, [{ anchor: 4, head: 4 }], "the typist's own cursor moves with the text");
    t.serverOp(2, op([4, "XY", 1]), "c2", op([4, "XY", 1]), identity);
    assert.deepEqual(t.get("s1")?.selection, [{ anchor: 4, head: 4 }], "someone else typing at the cursor does not push it");
    t.localOp(op([4, "L", 3]));
    assert.deepEqual(t.get("s1")?.selection, [{ anchor: 4, head: 4 }]);
    t.localOp(op(["😀", 7]));
    assert.deepEqual(t.get("s1")?.selection, [{ anchor: 5, head: 5 }]);
  });

  test("an event older than the client's version is moved through the ops since", () => {
    const t = new PresenceTracker({ ownClient: "me" });
    t.serverOp(1, op(["abc"]), "c2", op(["abc"]), identity);
    t.serverOp(2, op(["中", 3]), "c2", op(["中", 3]), identity);
    t.receive(ev("s1", "c1", 1, [{ anchor: 1, head: 3 }]), 2, identity);
    assert.deepEqual(t.get("s1")?.selection, [{ anchor: 2, head: 4 }]);
  });

  test("an event too old for the kept history is dropped", () => {
    const t = new PresenceTracker({ ownClient: "me", historyLimit: 1 });
    t.serverOp(1, op(["a"]), "c2", op(["a"]), identity);
    t.serverOp(2, op(["b", 1]), "c2", op(["b", 1]), identity);
    assert.equal(t.receive(ev("s1", "c1", 0, [{ anchor: 0, head: 0 }]), 2, identity), false);
    assert.equal(t.get("s1"), undefined);
  });

  test("an event ahead of the client waits for its version", () => {
    const t = new PresenceTracker({ ownClient: "me" });
    assert.equal(t.receive(ev("s1", "c1", 1, [{ anchor: 1, head: 1 }]), 0, identity), false);
    assert.equal(t.get("s1"), undefined);
    assert.ok(t.serverOp(1, op(["a"]), "c1", op(["a"]), identity));
    assert.deepEqual(t.get("s1")?.selection, [{ anchor: 1, head: 1 }], "applies to the document at its version as is");
  });

  test("own echoes are ignored; leave removes; clear forgets", () => {
    const t = new PresenceTracker({ ownClient: "me" });
    t.setOwnSession("my-session");
    assert.equal(t.receive(ev("my-session", "x", 0, []), 0, identity), false);
    assert.equal(t.receive(ev("other", "me", 0, []), 0, identity), false);
    t.receive(ev("s1", "c1", 0, []), 0, identity);
    t.receive(ev("s2", "c2", 0, []), 0, identity);
    assert.equal(t.list().length, 2);
    assert.ok(t.receive({ type: "leave", session: "s1" }, 0, identity));
    assert.deepEqual(
      t.list().map((p) => p.session),
      ["s2"],
    );
    assert.ok(t.clear());
    assert.equal(t.list().length, 0);
  });

  test("name and colour are kept", () => {
    const t = new PresenceTracker({ ownClient: "me" });
    t.receive({ ...ev("s1", "c1", 0, []), name: "Ann", color: "#1e88e5" }, 0, identity);
    assert.equal(t.get("s1")?.name, "Ann");
    assert.equal(t.get("s1")?.color, "#1e88e5");
  });
});

describe("PresencePublisher", () => {
  function setup(throttleMs = 100) {
    let now = 0;
    const timers: { at: number; fn: () => void; cancelled: boolean }[] = [];
    const schedule: Scheduler = (fn, ms) => {
      const t = { at: now + ms, fn, cancelled: false };
      timers.push(t);
      return () => {
        t.cancelled = true;
      };
    };
    const sent: PresenceSubmission[] = [];
    let sendable = true;
    const pub = new PresencePublisher({
      throttleMs,
      now: () => now,
      schedule,
      prepare: (selection, info) => (sendable ? { client: "me", version: 7, selection, ...info } : null),
      send: (s) => sent.push(s),
    });
    const advance = (ms: number): void => {
      now += ms;
      for (const t of timers.splice(0)) {
        if (t.cancelled) continue;
        if (t.at <= now) t.fn();
        else timers.push(t);
      }
    };
    return { pub, sent, advance, setSendable: (v: boolean) => (sendable = v) };
  }

  test("sends at once, then at most once per interval with the latest selection", () => {
    const { pub, sent, advance } = setup();
    pub.setSelection([{ anchor: 1, head: 1 }]);
    assert.equal(sent.length, 1);
    pub.setSelection([{ anchor: 2, head: 2 }]);
    pub.setSelection([{ anchor: 3, head: 3 }]);
    assert.equal(sent.length, 1);
    advance(100);
    assert.equal(sent.length, 2);
    assert.deepEqual(sent[1]?.selection, [{ anchor: 3, head: 3 }]);
    advance(1000);
    assert.equal(sent.length, 2, "nothing new, nothing sent");
  });

  test("waits while not sendable (unconfirmed edits), sends when poked", () => {
    const { pub, sent, setSendable } = setup();
    setSendable(false);
    pub.setSelection([{ anchor: 1, head: 2 }]);
    assert.equal(sent.length, 0);
    setSendable(true);
    pub.poke();
    assert.equal(sent.length, 1);
  });

  test("name and colour go with the selection; transform moves the pending selection", () => {
    const { pub, sent, advance } = setup();
    pub.setInfo({ name: "Ann", color: "#1e88e5" });
    assert.equal(sent.length, 0, "no selection yet: nothing to publish");
    pub.setSelection([{ anchor: 0, head: 0 }]);
    assert.deepEqual(sent[0], { client: "me", version: 7, selection: [{ anchor: 0, head: 0 }], name: "Ann", color: "#1e88e5" });
    pub.transform(op(["ab"]), "push");
    pub.markDirty();
    advance(100);
    assert.deepEqual(sent[1]?.selection, [{ anchor: 2, head: 2 }]);
  });
});
