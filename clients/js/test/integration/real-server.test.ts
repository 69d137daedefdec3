// Integration tests against the real otterdoc server (OTTERDOC_BIN, default
// ../../target/release/otterdoc). Skipped — loudly — only when the binary does not exist.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import type { OtterdocClient } from "../../src/client.js";
import type { OtterdocError } from "../../src/errors.js";
import { makeClient, sleep, waitFor, within } from "../support/clients.js";
import { FlakyProxy } from "../support/proxy.js";
import { randomChanges, Rng, seedFromEnv } from "../support/random.js";
import { getDoc, getOps, integrationSkipReason, startServer, type RunningServer } from "../support/server.js";

const skip = integrationSkipReason();

// Shows up as a skipped test in the summary when the binary is missing.
test("integration tests against the real server", { skip }, () => {});

/** Waits until every client is synchronized and at the server's version, then returns it. */
async function settle(server: RunningServer, doc: string, clients: OtterdocClient[]): Promise<{ version: number; content: string }> {
  await within(Promise.all(clients.map((c) => c.whenSynchronized())), 30000, "all clients synchronized");
  const current = await getDoc(server, doc);
  await waitFor(() => clients.every((c) => c.version === current.version), `every client at version ${current.version}`, 30000);
  return current;
}

/** Insert-only edits of whole tokens at token boundaries: tokens stay contiguous whatever the interleaving. */
function insertToken(client: OtterdocClient, token: string, rng: Rng): void {
  const text = client.text;
  const bounds = [0];
  for (let i = 0; i < text.length; i++) if (text[i] === "]") bounds.push(i + 1);
  client.applyChanges({ from: rng.pick(bounds), insert: token });
}

function count(haystack: string, needle: string): number {
  return haystack.split(needle).length - 1;
}

describe("against the real server", { skip }, () => {
  let server: RunningServer;
  const cleanups: (() => Promise<void>)[] = [];

  before(async () => {
    server = await startServer();
  });
  after(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
    await server?.stop();
  });

  function track(client: OtterdocClient, proxy?: FlakyProxy): void {
    cleanups.push(async () => {
      await client.close();
      await proxy?.close();
    });
  }

  test("UTF-16 edits with emoji, combining marks and CJK land on the server in code points", async () => {
    const doc = "utf16";
    const { client: a, errors } = makeClient(server.wsUrl, doc);
    const { client: b } = makeClient(server.wsUrl, doc);
    track(a);
    track(b);
    await Promise.all([a.whenReady(), b.whenReady()]);
    a.applyChanges({ from: 0, insert: "a😀b e\u0301 中文 👩\u200d💻!" });
    await settle(server, doc, [a, b]);
    // b edits using UTF-16 offsets of its text: after "a😀" (3 units), replace "中" (at units 8..9).
    const t = b.text;
    const i = t.indexOf("中");
    b.applyChanges([
      { from: 3, insert: "🇫🇷" },
      { from: i, to: i + 1, insert: "字" },
    ]);
    b.applyChanges({ from: b.text.indexOf("!"), to: b.text.indexOf("!") + 1 });
    const current = await settle(server, doc, [a, b]);
    assert.equal(current.content, "a😀🇫🇷b e\u0301 字文 👩\u200d💻");
    assert.equal(a.text, current.content);
    assert.equal(b.text, current.content);
    assert.deepEqual(errors, []);
  });

  const seed = seedFromEnv(7);
  test(`K clients with random latency and random disconnects converge and equal GET /docs (seed ${seed})`, async () => {
    const doc = "converge";
    const rng = new Rng(seed);
    const K = 4;
    const peers: { client: OtterdocClient; proxy: FlakyProxy; errors: OtterdocError[] }[] = [];
    for (let k = 0; k < K; k++) {
      const proxy = new FlakyProxy({ targetHost: server.host, targetPort: server.port, rng, maxLatencyMs: 25 });
      const port = await proxy.listen();
      const { client, errors } = makeClient(`ws://127.0.0.1:${port}/ws`, doc, { clientId: `peer-${k}`, heartbeatMs: 2000 });
      track(client, proxy);
      peers.push({ client, proxy, errors });
    }
    await Promise.all(peers.map((p) => p.client.whenReady()));
    const deadline = Date.now() + Number(process.env.CONVERGE_MS ?? 6000);
    let edits = 0;
    while (Date.now() < deadline) {
      const p = rng.pick(peers);
      const r = rng.next();
      if (r < 0.75) {
        if (p.client.ready) {
          p.client.applyChanges(randomChanges(rng, p.client.text));
          edits++;
        }
      } else if (r < 0.83) {
        p.client.undo();
      } else if (r < 0.86) {
        p.client.redo();
      } else if (r < 0.93) {
        p.proxy.dropAll(); // network failure: the client reconnects by itself
      } else if (p.proxy.online) {
        p.proxy.setOnline(false); // a longer outage: connections are refused for a while
      } else {
        p.proxy.setOnline(true);
      }
      await sleep(rng.int(0, 8));
    }
    for (const p of peers) p.proxy.setOnline(true);
    const current = await settle(
      server,
      doc,
      peers.map((p) => p.client),
    );
    for (const p of peers) assert.equal(p.client.text, current.content, `${p.client.clientId} equals GET /docs/${doc}`);
    const drops = peers.reduce((n, p) => n + p.proxy.drops, 0);
    assert.ok(edits > 100, `made ${edits} edits`);
    assert.ok(drops > 5, `dropped ${drops} connections`);
    for (const p of peers) {
      assert.deepEqual(
        p.errors.filter((e) => e.reset),
        [],
        `${p.client.clientId} never had to reset`,
      );
    }
    // Exactly once: no (client, seq) twice in the history, and no seq missing.
    const ops = await getOps(server, doc);
    assert.equal(ops.length, current.version);
    const seen = new Set(ops.map((o) => `${o.client}/${o.seq}`));
    assert.equal(seen.size, ops.length, "no op applied twice");
  });

  test("an offline client's edits arrive exactly once, composed into one op", async () => {
    const doc = "offline";
    const rng = new Rng(seed + 1);
    const { client: a } = makeClient(server.wsUrl, doc, { clientId: "online-a" });
    const { client: b } = makeClient(server.wsUrl, doc, { clientId: "online-b" });
    const { client: c, errors } = makeClient(server.wsUrl, doc, { clientId: "offline-c" });
    for (const x of [a, b, c]) track(x);
    await Promise.all([a.whenReady(), b.whenReady(), c.whenReady()]);
    insertToken(a, "[a0]", rng);
    await settle(server, doc, [a, b, c]);
    await c.goOffline();
    assert.equal(c.connectionState, "offline");
    const tokens: string[] = [];
    for (let i = 1; i <= 8; i++) {
      for (const [x, name] of [
        [a, "a"],
        [b, "b"],
        [c, "c😀"],
      ] as const) {
        const token = `[${name}${i}]`;
        insertToken(x, token, rng);
        tokens.push(token);
      }
      await sleep(5);
    }
    assert.equal(c.status, "buffered");
    await within(Promise.all([a.whenSynchronized(), b.whenSynchronized()]), 10000, "online clients synchronized");
    c.goOnline();
    const current = await settle(server, doc, [a, b, c]);
    for (const token of ["[a0]", ...tokens]) {
      assert.equal(count(current.content, token), 1, `${token} exactly once in ${current.content}`);
    }
    for (const x of [a, b, c]) assert.equal(x.text, current.content);
    const ops = await getOps(server, doc);
    const fromC = ops.filter((o) => o.client === "offline-c");
    assert.equal(fromC.length, 1, "the offline edits were composed into one op");
    assert.deepEqual(errors, []);
  });

  test("an op whose answer is lost is resubmitted and recognised, not applied twice", async () => {
    const doc = "lost-answer";
    const rng = new Rng(seed + 2);
    const proxy = new FlakyProxy({ targetHost: server.host, targetPort: server.port, rng });
    const port = await proxy.listen();
    const { client: a, errors } = makeClient(`ws://127.0.0.1:${port}/ws`, doc, { clientId: "cut" });
    const { client: b } = makeClient(server.wsUrl, doc, { clientId: "watcher" });
    track(a, proxy);
    track(b);
    await Promise.all([a.whenReady(), b.whenReady()]);
    for (let round = 1; round <= 5; round++) {
      // Cut the connection just before the server's RECEIPT (or the op's own event) reaches a.
      proxy.cutWhen = (chunk) => chunk.includes("RECEIPT") || chunk.includes('"client":"cut"');
      a.applyChanges({ from: a.text.length, insert: `<${round}>` });
      await waitFor(() => proxy.cuts === round, `cut ${round}`);
      // The op was applied (the watcher sees it) although a never heard back.
      await waitFor(() => b.text.includes(`<${round}>`), `watcher sees <${round}>`);
      await settle(server, doc, [a, b]);
    }
    const current = await getDoc(server, doc);
    assert.equal(current.content, "<1><2><3><4><5>");
    assert.equal(a.text, current.content);
    const ops = await getOps(server, doc);
    assert.equal(ops.filter((o) => o.client === "cut").length, 5, "each op once");
    assert.deepEqual(errors, []);
  });

  test("a paste larger than one frame is sent as several ops and arrives intact", async () => {
    const doc = "big-paste";
    const { client: a, errors } = makeClient(server.wsUrl, doc);
    const { client: b } = makeClient(server.wsUrl, doc);
    track(a);
    track(b);
    await Promise.all([a.whenReady(), b.whenReady()]);
    const chunk = "lorem ipsum 😀 dolor e\u0301 中文\n";
    const big = chunk.repeat(Math.ceil(200_000 / chunk.length));
    a.applyChanges({ from: 0, insert: big });
    b.applyChanges({ from: 0, insert: "B:" });
    const current = await settle(server, doc, [a, b]);
    assert.ok(current.content.includes(big));
    assert.equal(a.text, current.content);
    assert.equal(b.text, current.content);
    const ops = await getOps(server, doc);
    assert.ok(ops.filter((o) => o.client === a.clientId).length >= 4, "split into several ops");
    assert.deepEqual(errors, []);
  });

  test("presence: the server announces it; cursors are exchanged in UTF-16 with name and colour", async () => {
    const doc = "presence";
    const { client: a, errors: aErrors } = makeClient(server.wsUrl, doc, { presence: { name: "Ann", color: "#1e88e5", throttleMs: 10 } });
    const { client: b, errors: bErrors } = makeClient(server.wsUrl, doc, { presence: true });
    track(a);
    track(b);
    await Promise.all([a.whenReady(), b.whenReady()]);
    a.applyChanges({ from: 0, insert: "a😀b" });
    await settle(server, doc, [a, b]);
    a.setSelection([{ anchor: 1, head: 4 }]); // around "😀b" (UTF-16)
    await waitFor(() => b.presences.length === 1, "b sees a's cursor");
    assert.equal(a.presenceAvailable, true);
    assert.equal(b.presenceAvailable, true);
    const cursor = b.presences[0];
    assert.deepEqual(cursor?.selection, [{ anchor: 1, head: 4 }]);
    assert.equal(cursor?.name, "Ann");
    assert.equal(cursor?.color, "#1e88e5");
    assert.equal(cursor?.client, a.clientId);
    assert.equal(cursor?.user, "anonymous");
    assert.equal(a.presences.length, 0, "a does not see its own cursor");
    assert.deepEqual([...aErrors, ...bErrors], []);
  });

  test("presence: cursors follow later ops, a newcomer sees everyone where they are now, leaving removes them", async () => {
    const doc = "presence-moves";
    const { client: a } = makeClient(server.wsUrl, doc, { presence: { name: "A", throttleMs: 10 } });
    const { client: b, errors } = makeClient(server.wsUrl, doc, { presence: { name: "B", throttleMs: 10 } });
    track(a);
    track(b);
    await Promise.all([a.whenReady(), b.whenReady()]);
    a.applyChanges({ from: 0, insert: "hello world" });
    await settle(server, doc, [a, b]);
    a.setSelection([{ anchor: 6, head: 11 }]); // "world"
    b.setSelection([{ anchor: 0, head: 0 }]);
    await waitFor(() => b.presences.length === 1 && a.presences.length === 1, "both see each other");
    // b types at its own caret, before a's selection: in a's view b's caret is pushed along,
    // and a's selection moves right in b's view.
    b.applyChanges({ from: 0, insert: "😀 " }, { selection: [{ anchor: 3, head: 3 }] });
    await settle(server, doc, [a, b]);
    assert.deepEqual(b.presences[0]?.selection, [{ anchor: 9, head: 14 }]);
    await waitFor(() => a.presences[0]?.selection[0]?.head === 3, "a sees b's caret after its text");
    // A newcomer is told the server's stored positions, already moved by that op.
    const { client: c } = makeClient(server.wsUrl, doc, { presence: true });
    track(c);
    await c.whenReady();
    await waitFor(() => c.presences.length === 2, "c sees a and b");
    const byName = new Map(c.presences.map((p) => [p.name, p.selection]));
    assert.deepEqual(byName.get("A"), [{ anchor: 9, head: 14 }]);
    assert.deepEqual(byName.get("B"), [{ anchor: 3, head: 3 }]);
    await a.close();
    await waitFor(() => c.presences.length === 1 && b.presences.length === 0, "a left");
    assert.equal(c.presences[0]?.name, "B");
    assert.deepEqual(errors, []);
  });

  test("undo reverts only the local user's edit, on every client", async () => {
    const doc = "undo";
    const { client: a } = makeClient(server.wsUrl, doc, { undo: { groupDelayMs: 0 } });
    const { client: b } = makeClient(server.wsUrl, doc);
    track(a);
    track(b);
    await Promise.all([a.whenReady(), b.whenReady()]);
    a.applyChanges({ from: 0, insert: "hello" });
    await settle(server, doc, [a, b]);
    b.applyChanges({ from: 0, insert: "😀 " });
    await settle(server, doc, [a, b]);
    a.applyChanges({ from: a.text.length, insert: " world" });
    await settle(server, doc, [a, b]);
    const changes: string[] = [];
    a.on("change", (e) => changes.push(e.origin));
    assert.ok(a.undo());
    assert.equal(a.text, "😀 hello");
    assert.ok(a.undo());
    assert.equal(a.text, "😀 ");
    assert.ok(a.redo());
    const current = await settle(server, doc, [a, b]);
    assert.equal(current.content, "😀 hello");
    assert.equal(b.text, current.content);
    assert.deepEqual(changes, ["undo", "undo", "redo"]);
  });
});

describe("against the real server: rejections and recovery", { skip }, () => {
  test("a rejected op (document-too-large) is reported with its code and the document reloads", async () => {
    const server = await startServer(["--max-doc-bytes", "64"]);
    const { client: a, errors } = makeClient(server.wsUrl, "small");
    try {
      await a.whenReady();
      a.applyChanges({ from: 0, insert: "fits" });
      await a.whenSynchronized();
      const resets: string[] = [];
      a.on("change", (e) => resets.push(`${e.origin}:${e.text}`));
      a.applyChanges({ from: 4, insert: "x".repeat(100) });
      await waitFor(() => errors.length > 0, "the rejection");
      assert.equal(errors[0]?.code, "document-too-large");
      assert.equal(errors[0]?.reset, true);
      await waitFor(() => a.text === "fits" && a.status === "synchronized", "reloaded");
      assert.deepEqual(resets, ["reset:fits"]);
      // And editing goes on.
      a.applyChanges({ from: 4, insert: "!" });
      await a.whenSynchronized();
      assert.equal((await getDoc(server, "small")).content, "fits!");
    } finally {
      await a.close();
      await server.stop();
    }
  });

  test("a version the server does not have (history lost) reloads from a snapshot", async () => {
    const server = await startServer();
    const { client: a, errors } = makeClient(server.wsUrl, "lost", { initial: { version: 50, text: "stale" } });
    try {
      await waitFor(() => errors.some((e) => e.code === "history-lost"), "history-lost");
      await waitFor(() => a.version === 0 && a.text === "" && a.connectionState === "connected", "snapshot loaded");
      a.applyChanges({ from: 0, insert: "fresh" });
      await a.whenSynchronized();
      assert.equal((await getDoc(server, "lost")).content, "fresh");
    } finally {
      await a.close();
      await server.stop();
    }
  });

  test("the server shutting down and coming back: edits made meanwhile arrive once", async () => {
    const first = await startServer();
    const rng = new Rng(3);
    const proxy = new FlakyProxy({ targetHost: first.host, targetPort: first.port, rng });
    const port = await proxy.listen();
    const { client: a, errors } = makeClient(`ws://127.0.0.1:${port}/ws`, "restart");
    let second: RunningServer | null = null;
    try {
      await a.whenReady();
      a.applyChanges({ from: 0, insert: "before" });
      await a.whenSynchronized();
      await first.stop({ keepData: true }); // ERROR "the server is shutting down", then close
      await waitFor(() => a.connectionState !== "connected", "disconnected");
      a.applyChanges({ from: 6, insert: " during" });
      a.applyChanges({ from: 0, insert: "😀 " });
      assert.equal(a.status, "buffered");
      second = await startServer([], first.data);
      proxy.retarget(second.host, second.port);
      await within(a.whenSynchronized(), 20000, "synchronized after the restart");
      const current = await getDoc(second, "restart");
      assert.equal(current.content, "😀 before during");
      assert.equal(a.text, current.content);
      assert.ok(errors.some((e) => e.code === "protocol-error" && /shutting down/.test(e.message)), "the shutdown was reported");
    } finally {
      await a.close();
      await proxy.close();
      await second?.stop();
    }
  });
});
