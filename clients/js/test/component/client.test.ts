// OtterdocClient end to end through @stomp/stompjs and `ws`, against the in-process fake server
// (test/support/fake-server.ts): presence (including servers that announce none), event
// delivery to the UI in UTF-16, retries after transient rejections, typed errors.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import type { OtterdocClient, RemoteCursor } from "../../src/client.js";
import type { PresenceSubmission } from "../../src/protocol.js";
import { makeClient, waitFor } from "../support/clients.js";
import { FakeOtterdoc } from "../support/fake-server.js";

describe("OtterdocClient against the fake server", () => {
  let fake: FakeOtterdoc;
  let url: string;
  const open: OtterdocClient[] = [];

  before(async () => {
    fake = new FakeOtterdoc();
    url = await fake.listen();
  });
  after(async () => {
    for (const c of open) await c.close();
    await fake.close();
  });

  function client(doc: string, options: Parameters<typeof makeClient>[2] = {}) {
    const made = makeClient(url, doc, options);
    open.push(made.client);
    return made;
  }

  test("remote changes arrive as UTF-16 changes relative to the previous text", async () => {
    const { client: a } = client("events");
    const { client: b } = client("events");
    await Promise.all([a.whenReady(), b.whenReady()]);
    const seen: { changes: unknown; origin: string; text: string }[] = [];
    b.on("change", (e) => seen.push({ changes: e.changes, origin: e.origin, text: e.text }));
    a.applyChanges({ from: 0, insert: "😀中" });
    await waitFor(() => b.text === "😀中", "b has the text");
    a.applyChanges({ from: 2, to: 3, insert: "文字" });
    await waitFor(() => b.text === "😀文字", "b has the replacement");
    assert.deepEqual(seen, [
      { changes: [{ from: 0, to: 0, insert: "😀中" }], origin: "remote", text: "😀中" },
      { changes: [{ from: 2, to: 3, insert: "文字" }], origin: "remote", text: "😀文字" },
    ]);
  });

  test("connection, sync and ack events", async () => {
    const { client: a } = client("states");
    const states: string[] = [];
    const syncs: string[] = [];
    const acks: number[] = [];
    a.on("connection", (s) => states.push(s));
    a.on("sync", (s) => syncs.push(s));
    a.on("ack", (x) => acks.push(x.version));
    await a.whenReady();
    fake.hold();
    a.applyChanges({ from: 0, insert: "a" });
    a.applyChanges({ from: 1, insert: "b" });
    assert.equal(a.status, "awaiting-with-buffer");
    fake.release();
    await a.whenSynchronized();
    assert.deepEqual(syncs, ["awaiting-confirm", "awaiting-with-buffer", "awaiting-confirm", "synchronized"]);
    assert.deepEqual(acks, [1, 2]);
    await a.goOffline();
    a.applyChanges({ from: 2, insert: "c" });
    assert.equal(a.status, "buffered");
    a.goOnline();
    await a.whenSynchronized();
    assert.equal(fake.doc("states").text, "abc");
    assert.ok(states.includes("connected") && states.includes("offline"), JSON.stringify(states));
  });

  test("a transient rejection (internal) is retried with the same submission and applied once", async () => {
    const { client: a, errors } = client("retry");
    await a.whenReady();
    const before = fake.opSends.length;
    fake.failNext = { code: "internal", count: 2 };
    a.applyChanges({ from: 0, insert: "once" });
    await a.whenSynchronized();
    assert.equal(fake.doc("retry").text, "once");
    const sends = fake.opSends.slice(before);
    assert.equal(sends.length, 3);
    assert.ok(sends.every((s) => JSON.stringify(s) === JSON.stringify(sends[0])), "resent unchanged");
    assert.deepEqual(
      errors.map((e) => [e.code, e.source, e.reset]),
      [
        ["internal", "op", false],
        ["internal", "op", false],
      ],
    );
  });

  test("a permanent rejection is typed, resets to the server's text and editing continues", async () => {
    const { client: a, errors } = client("reject");
    await a.whenReady();
    a.applyChanges({ from: 0, insert: "kept" });
    await a.whenSynchronized();
    const changes: string[] = [];
    a.on("change", (e) => changes.push(`${e.origin}:${e.text}`));
    fake.failNext = { code: "delete-mismatch", count: 1 };
    a.applyChanges({ from: 4, insert: " lost" });
    await waitFor(() => errors.length === 1 && a.text === "kept", "reset");
    assert.equal(errors[0]?.code, "delete-mismatch");
    assert.equal(errors[0]?.reset, true);
    assert.deepEqual(changes, ["reset:kept"]);
    a.applyChanges({ from: 4, insert: "!" });
    await a.whenSynchronized();
    assert.equal(fake.doc("reject").text, "kept!");
  });

  describe("presence", () => {
    const cursorsOf = (c: OtterdocClient): RemoteCursor[] => c.presences;

    test("a selection published in UTF-16 is sent in code points and shown to others in UTF-16", async () => {
      const { client: a } = client("p1", { presence: { name: "Ann", color: "#1e88e5", throttleMs: 10 } });
      const { client: b } = client("p1", { presence: true });
      await Promise.all([a.whenReady(), b.whenReady()]);
      a.applyChanges({ from: 0, insert: "a😀b中" });
      await waitFor(() => b.text === "a😀b中" && a.status === "synchronized", "synced");
      a.setSelection([{ anchor: 1, head: 4 }]); // around 😀b
      await waitFor(() => cursorsOf(b).length === 1, "b sees a's cursor");
      const sent = fake.presenceSends.filter((p) => p.client === a.clientId).at(-1);
      assert.deepEqual(sent?.selection, [{ anchor: 1, head: 3 }], "code points on the wire");
      assert.equal(sent?.version, 1);
      const cursor = cursorsOf(b)[0];
      assert.deepEqual(cursor?.selection, [{ anchor: 1, head: 4 }], "UTF-16 in the UI");
      assert.equal(cursor?.name, "Ann");
      assert.equal(cursor?.color, "#1e88e5");
      assert.equal(cursor?.client, a.clientId);
      assert.equal(cursorsOf(a).length, 0, "own presence is not shown");
    });

    test("remote cursors move with later ops; the owner's typing pushes its own cursor", async () => {
      const { client: a } = client("p2", { presence: { throttleMs: 10 } });
      const { client: b } = client("p2", { presence: { throttleMs: 10 } });
      await Promise.all([a.whenReady(), b.whenReady()]);
      a.applyChanges({ from: 0, insert: "hello" });
      await waitFor(() => b.text === "hello" && a.status === "synchronized", "synced");
      a.setSelection([{ anchor: 5, head: 5 }]);
      await waitFor(() => cursorsOf(b)[0]?.selection[0]?.head === 5, "b sees a at 5");
      // b types before a's cursor: it moves right (in b's view).
      b.applyChanges({ from: 0, insert: "😀" });
      assert.deepEqual(cursorsOf(b)[0]?.selection, [{ anchor: 7, head: 7 }]);
      // a types at its cursor: in b's view a's cursor follows a's text.
      await waitFor(() => a.text === "😀hello", "a has b's edit");
      a.applyChanges({ from: 7, insert: "!" });
      await waitFor(() => b.text === "😀hello!", "b has a's edit");
      assert.deepEqual(cursorsOf(b)[0]?.selection, [{ anchor: 8, head: 8 }]);
    });

    test("presence waits while edits are unconfirmed", async () => {
      const { client: a } = client("p3", { presence: { throttleMs: 0 } });
      await a.whenReady();
      const count = (): number => fake.presenceSends.filter((p) => p.client === a.clientId).length;
      fake.hold();
      a.applyChanges({ from: 0, insert: "abc" }, { selection: [{ anchor: 3, head: 3 }] });
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(count(), 0, "not sent while the op is in flight");
      fake.release();
      await waitFor(() => count() === 1, "sent once synchronized");
      const sent = fake.presenceSends.filter((p) => p.client === a.clientId)[0];
      assert.deepEqual(sent, { client: a.clientId, version: 1, selection: [{ anchor: 3, head: 3 }] });
    });

    test("a late subscriber gets everyone's presence first; leaving removes it", async () => {
      const { client: a } = client("p4", { presence: { name: "A", throttleMs: 10 } });
      await a.whenReady();
      a.applyChanges({ from: 0, insert: "xyz" });
      await a.whenSynchronized();
      a.setSelection([{ anchor: 0, head: 2 }]);
      await waitFor(() => fake.presenceSends.some((p) => p.client === a.clientId), "a published");
      const { client: c } = client("p4", { presence: true });
      const updates: number[] = [];
      c.on("presence", (list) => updates.push(list.length));
      await waitFor(() => cursorsOf(c).length === 1, "c sees a");
      assert.deepEqual(cursorsOf(c)[0]?.selection, [{ anchor: 0, head: 2 }]);
      await a.close();
      await waitFor(() => cursorsOf(c).length === 0, "a left");
      assert.deepEqual(updates.slice(-1), [0]);
    });

    test("presence is republished after a reconnect", async () => {
      const { client: a } = client("p5", { presence: { throttleMs: 10 } });
      const { client: b } = client("p5", { presence: true });
      await Promise.all([a.whenReady(), b.whenReady()]);
      a.setSelection([{ anchor: 0, head: 0 }]);
      await waitFor(() => cursorsOf(b).length === 1, "b sees a");
      fake.dropAll();
      await waitFor(() => a.connectionState === "connected" && b.connectionState === "connected", "both reconnected");
      await waitFor(() => cursorsOf(b).length === 1, "b sees a again");
    });

    test("a server whose CONNECTED announces no presence is not probed; editing goes on", async () => {
      fake.features = "";
      try {
        const before = fake.presenceSubscribes;
        const { client: a, errors } = client("p7", { presence: { throttleMs: 0 } });
        await a.whenReady();
        a.setSelection([{ anchor: 0, head: 0 }]);
        a.applyChanges({ from: 0, insert: "still editing" });
        await a.whenSynchronized();
        assert.equal(a.presenceAvailable, false);
        assert.equal(fake.presenceSubscribes, before, "no presence SUBSCRIBE");
        assert.equal(fake.presenceSends.filter((p) => p.client === a.clientId).length, 0, "no presence SEND");
        assert.deepEqual(
          errors.map((e) => [e.code, e.source]),
          [["protocol-error", "presence"]],
          "reported once",
        );
        assert.equal(fake.doc("p7").text, "still editing");
      } finally {
        fake.features = "presence";
      }
    });

    test("a server from before the features header is probed and its presence used", async () => {
      fake.features = null;
      try {
        const { client: a } = client("p8", { presence: { name: "Old", throttleMs: 10 } });
        const { client: b } = client("p8", { presence: true });
        await Promise.all([a.whenReady(), b.whenReady()]);
        a.setSelection([{ anchor: 0, head: 0 }]);
        await waitFor(() => cursorsOf(b).length === 1, "b sees a");
        assert.equal(cursorsOf(b)[0]?.name, "Old");
        assert.equal(b.presenceAvailable, true);
      } finally {
        fake.features = "presence";
      }
    });

    test("a presence update refused as version-too-old is published again after the next op", async () => {
      const { client: a, errors } = client("p9", { presence: { throttleMs: 0 } });
      const { client: b } = client("p9");
      await Promise.all([a.whenReady(), b.whenReady()]);
      fake.rejectPresence = "version-too-old";
      const sends = (): PresenceSubmission[] => fake.presenceSends.filter((p) => p.client === a.clientId);
      try {
        a.setSelection([{ anchor: 0, head: 0 }]);
        await waitFor(() => errors.length > 0, "the rejection");
        assert.equal(errors[0]?.code, "version-too-old");
        fake.rejectPresence = null;
        await new Promise((r) => setTimeout(r, 50));
        assert.equal(sends().length, 1, "not resent at the version that was refused");
        b.applyChanges({ from: 0, insert: "x" });
        await waitFor(() => sends().length === 2, "published again");
        assert.equal(sends()[1]?.version, 1, "at the newer version");
      } finally {
        fake.rejectPresence = null;
      }
    });

    test("a rejected presence update is reported with source presence", async () => {
      const { client: a, errors } = client("p6", { presence: { throttleMs: 0 } });
      await a.whenReady();
      fake.rejectPresence = "malformed-body";
      try {
        a.setSelection([{ anchor: 0, head: 0 }]);
        await waitFor(() => errors.length > 0, "the error");
        assert.equal(errors[0]?.code, "malformed-body");
        assert.equal(errors[0]?.source, "presence");
      } finally {
        fake.rejectPresence = null;
      }
    });
  });
});
