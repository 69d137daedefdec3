// The pure state machine, scenario by scenario.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { ClientState, splitOperation, StateError, utf8Length } from "../../src/client-state.js";
import { TextOperation } from "../../src/operation.js";
import { ReferenceServer } from "../support/reference-server.js";

const op = (c: (number | string)[]): TextOperation => TextOperation.fromJSON(c);

function online(clientId = "me", version = 0): ClientState {
  const s = new ClientState({ clientId, version });
  assert.equal(s.connected(), null);
  return s;
}

describe("ClientState", () => {
  test("the protocol's example: concurrent inserts at one position give yx on both sides", () => {
    const server = new ReferenceServer();
    const a = online("A");
    const b = online("B");
    const sa = a.applyLocal(op(["x"]));
    const sb = b.applyLocal(op(["y"]));
    assert.ok(sa && sb);
    const ra = server.submit(sa);
    const rb = server.submit(sb);
    assert.ok(ra.ok && rb.ok);
    assert.deepEqual(rb.record.op.toJSON(), ["y", 1]);
    assert.equal(server.text, "yx");
    // B receives A's op while its own is in flight.
    const recv = b.receive(ra.record);
    assert.equal(recv.kind, "remote");
    if (recv.kind === "remote") assert.deepEqual(recv.apply.toJSON(), [1, "x"]);
    assert.equal(op([1, "x"]).apply("y"), "yx");
    assert.deepEqual(b.receive(rb.record), { kind: "ack", seq: 1, send: null });
    assert.equal(b.status, "synchronized");
    assert.equal(b.version, 2);
  });

  test("one op in flight; later edits compose into the buffer, sent on ack with the new base", () => {
    const s = online();
    const first = s.applyLocal(op(["a"]));
    assert.deepEqual(first, { client: "me", seq: 1, base: 0, op: ["a"] });
    assert.equal(s.status, "awaiting-confirm");
    assert.equal(s.applyLocal(op([1, "b"])), null);
    assert.equal(s.applyLocal(op([2, "c"])), null);
    assert.equal(s.status, "awaiting-with-buffer");
    assert.deepEqual(s.buffer?.toJSON(), [1, "bc"]);
    const ack = s.receive({ version: 1, op: op(["a"]), client: "me", seq: 1 });
    assert.deepEqual(ack, { kind: "ack", seq: 1, send: { client: "me", seq: 2, base: 1, op: [1, "bc"] } });
    assert.equal(s.status, "awaiting-confirm");
  });

  test("a remote op is transformed against both the op in flight and the buffer (own ops on the left)", () => {
    const s = online("me", 0);
    s.applyLocal(op(["ab"])); // in flight
    s.applyLocal(op([2, "cd"])); // buffer
    // Someone else inserted "X" at 0 on the empty document, accepted first.
    const r = s.receive({ version: 1, op: op(["X"]), client: "other", seq: 7 });
    assert.equal(r.kind, "remote");
    if (r.kind !== "remote") return;
    // Our inserts at the same position go first: they reach the server after theirs.
    assert.deepEqual(r.apply.toJSON(), [4, "X"]);
    assert.deepEqual(s.inflight?.op.toJSON(), ["ab", 1]);
    assert.deepEqual(s.buffer?.toJSON(), [2, "cd", 1]);
    assert.deepEqual(s.inflight?.submission, { client: "me", seq: 1, base: 0, op: ["ab"] }, "submission kept as sent");
  });

  test("reconnect resends the op in flight unchanged, then the buffer after its ack", () => {
    const s = online();
    const sent = s.applyLocal(op(["a"]));
    s.applyLocal(op([1, "b"]));
    s.disconnected();
    assert.equal(s.applyLocal(op([2, "c"])), null, "offline: nothing is sent");
    s.receive({ version: 1, op: op(["Z"]), client: "other", seq: 1 }); // replayed on resubscribe
    assert.deepEqual(s.connected(), sent, "same client, seq, base and op");
    const ack = s.receive({ version: 2, op: op(["a", 1]), client: "me", seq: 1 });
    assert.equal(ack.kind, "ack");
    if (ack.kind === "ack") assert.deepEqual(ack.send, { client: "me", seq: 2, base: 2, op: [1, "bc", 1] });
  });

  test("offline edits with nothing in flight stay buffered and go out on connect", () => {
    const s = new ClientState({ clientId: "me", version: 3 });
    assert.equal(s.applyLocal(op([2, "x"])), null);
    assert.equal(s.applyLocal(op([3, "y"])), null);
    assert.equal(s.status, "buffered");
    assert.deepEqual(s.connected(), { client: "me", seq: 1, base: 3, op: [2, "xy"] });
  });

  test("duplicates are ignored, gaps are errors", () => {
    const s = online("me", 5);
    assert.deepEqual(s.receive({ version: 5, op: op([1]), client: "o", seq: 1 }), { kind: "duplicate" });
    assert.throws(() => s.receive({ version: 7, op: op([1]), client: "o", seq: 1 }), StateError);
  });

  test("an op that does not fit the local state is an error, and changes nothing", () => {
    const s = online();
    s.applyLocal(op(["ab"]));
    assert.throws(() => s.receive({ version: 1, op: op([3]), client: "o", seq: 1 }), StateError);
    assert.equal(s.version, 0);
    assert.deepEqual(s.inflight?.op.toJSON(), ["ab"]);
  });

  test("an own op the state does not track is applied like a remote one", () => {
    const s = online("me", 0);
    const r = s.receive({ version: 1, op: op(["q"]), client: "me", seq: 99 });
    assert.equal(r.kind, "remote");
  });

  test("retry and reset", () => {
    const s = online();
    const sent = s.applyLocal(op(["a"]));
    assert.deepEqual(s.retry(), sent);
    s.applyLocal(op([1, "b"]));
    s.reset(4);
    assert.equal(s.status, "synchronized");
    assert.equal(s.version, 4);
    assert.equal(s.retry(), null);
    assert.equal(s.nextSeq, 2, "seq numbers are never reused");
  });

  test("a change too large for one submission goes out in consecutive parts", () => {
    const big = "😀".repeat(300) + "x".repeat(500);
    const s = new ClientState({ clientId: "me", version: 0, maxSubmissionBytes: 400 });
    s.connected();
    const server = new ReferenceServer();
    let sub = s.applyLocal(op([big]));
    let parts = 0;
    while (sub) {
      assert.ok(utf8Length(JSON.stringify(sub)) <= 400, `submission of ${utf8Length(JSON.stringify(sub))} bytes`);
      const r = server.submit(sub);
      assert.ok(r.ok);
      const ack = s.receive(r.record);
      assert.equal(ack.kind, "ack");
      sub = ack.kind === "ack" ? ack.send : null;
      parts++;
    }
    assert.ok(parts > 3);
    assert.equal(server.text, big);
    assert.equal(s.status, "synchronized");
  });
});

describe("splitOperation", () => {
  test("head then rest composes to the original", () => {
    const o = op([3, "hello wörld 😀😀", -2, 4, "tail", -1, 2]);
    for (let max = 1; max < 60; max++) {
      const [head, rest] = splitOperation(o, max);
      const whole = rest ? head.compose(rest) : head;
      assert.deepEqual(whole.toJSON(), o.toJSON(), `max ${max}`);
      if (rest) assert.ok(!rest.isNoop());
    }
  });

  test("a concurrent insert at the paste position never lands between the parts of a split paste", () => {
    const paste = "0123456789".repeat(30);
    for (let k = 0; k < 12; k++) {
      // Client A pastes at 1 in "ab", split into parts; B's insert at 1 reaches the server
      // after k of A's parts.
      const server = new ReferenceServer();
      const base = server.submit({ client: "x", seq: 1, base: 0, op: ["ab"] });
      assert.ok(base.ok);
      const a = new ClientState({ clientId: "A", version: 1, maxSubmissionBytes: 100 });
      a.connected();
      let text = "ab";
      const first = a.applyLocal(op([1, paste, 1]));
      text = op([1, paste, 1]).apply(text);
      let sub = first;
      let sent = 0;
      let bSent = false;
      const sendB = (): void => {
        const r = server.submit({ client: "B", seq: 1, base: 1, op: [1, "B", 1] });
        assert.ok(r.ok);
        const got = a.receive(r.record);
        assert.equal(got.kind, "remote");
        if (got.kind === "remote") text = got.apply.apply(text);
        bSent = true;
      };
      while (sub) {
        if (sent === k) sendB();
        const r = server.submit(sub);
        assert.ok(r.ok);
        sent++;
        const ack = a.receive(r.record);
        sub = ack.kind === "ack" ? ack.send : null;
      }
      if (!bSent) sendB();
      assert.ok(server.text.includes(paste), `k=${k}: ${server.text}`);
      assert.equal(text, server.text, "A converges");
      assert.ok(sent > 3);
    }
  });

  test("an op that fits is not split", () => {
    const o = op([1, "a"]);
    assert.deepEqual(splitOperation(o, 1000), [o, null]);
  });
});
