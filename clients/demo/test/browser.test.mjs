// The demo editor in a real browser: Debian's Chromium, headless, driven by playwright-core,
// against the real server binary (OTTERDOC_BIN, default ../../target/debug/otterdoc) serving
// its embedded bundle (some pages connect through SockJS, with sockjs-client's browser bundle). Real keystrokes go into CodeMirror; what the pages show is compared
// with each other and with GET /docs/<id>. Screenshots of each final state are saved under
// test-artifacts/browser/ (git-ignored) for a person to look at.
//
// CHROMIUM (default /usr/bin/chromium) names the browser; nothing is downloaded.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer, connect } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";

import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, "../../..");
const bin = process.env.OTTERDOC_BIN ?? join(repo, "target/debug/otterdoc");
const executablePath = process.env.CHROMIUM ?? "/usr/bin/chromium";
const artifacts = join(repo, "test-artifacts/browser");
const WAIT = 30_000;

/** sockjs-client's browser bundle (a devDependency, locked). */
const SOCKJS_BUNDLE = createRequire(import.meta.url).resolve("sockjs-client/dist/sockjs.min.js");

/**
 * What makes a page of the demo editor connect through SockJS instead of `/ws`, as a Spring
 * STOMP frontend does: sockjs-client's bundle (its WebSocket transport keeps the browser's
 * own WebSocket), then `WebSocket` replaced by a SockJS socket on the server's `/sockjs`
 * with only `transport` allowed, the token query kept. `window.sockjsSocket` is the last one.
 */
function overSockJs(transport) {
  const shim = `(() => {
    window.WebSocket = function (url) {
      const target = new URL(url);
      const socket = new SockJS(location.protocol + "//" + target.host + "/sockjs" + target.search, null, { transports: [${JSON.stringify(transport)}] });
      window.sockjsSocket = socket;
      return socket;
    };
    Object.assign(window.WebSocket, { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 });
  })();`;
  return `${readFileSync(SOCKJS_BUNDLE, "utf8")}\n${shim}`;
}

const ANN = { name: "Ann", color: "#1e88e5" };
const BOB = { name: "Bob", color: "#e53935" };

function rgb(hex) {
  const n = Number.parseInt(hex.slice(1), 16);
  return `rgb(${n >> 16}, ${(n >> 8) & 255}, ${n & 255})`;
}

/** Starts the server on a free port with a fresh data directory. */
async function startServer() {
  assert.ok(existsSync(bin), `no server binary at ${bin} (cargo build, or set OTTERDOC_BIN)`);
  const data = mkdtempSync(join(tmpdir(), "otterdoc-browser-"));
  const child = spawn(bin, ["serve", "--listen", "127.0.0.1:0", "--data", data], {
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? "warn" },
  });
  const addr = await new Promise((resolveAddr, reject) => {
    const timer = setTimeout(() => reject(new Error("the server did not start in 30 s")), WAIT);
    createInterface({ input: child.stdout }).on("line", (line) => {
      const m = /otterdoc listening on (\S+)/.exec(line);
      if (m) {
        clearTimeout(timer);
        resolveAddr(m[1]);
      }
    });
    child.once("exit", (code) => reject(new Error(`the server exited with ${code}`)));
  });
  const port = Number(addr.slice(addr.lastIndexOf(":") + 1));
  return {
    port,
    url: `http://${addr}`,
    async stop() {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
      rmSync(data, { recursive: true, force: true });
    },
  };
}

/**
 * A TCP proxy in front of the server: a page loaded through it loses its network (every
 * connection cut, new ones refused) when it goes offline, as on a dropped Wi-Fi.
 */
async function startProxy(target) {
  const sockets = new Set();
  let online = true;
  const server = createServer((socket) => {
    if (!online) {
      socket.destroy();
      return;
    }
    const upstream = connect(target, "127.0.0.1");
    for (const s of [socket, upstream]) {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
      s.on("error", () => {});
    }
    socket.pipe(upstream).pipe(socket);
    socket.on("close", () => upstream.destroy());
    upstream.on("close", () => socket.destroy());
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    setOnline(value) {
      online = value;
      if (!value) for (const s of sockets) s.destroy();
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

async function getDoc(server, doc, version) {
  const res = await fetch(`${server.url}/docs/${doc}${version === undefined ? "" : `?version=${version}`}`);
  if (res.status === 404) return { version: 0, content: "" };
  assert.equal(res.status, 200);
  return res.json();
}

const text = (page) => page.evaluate(() => window.otterdoc.view.state.doc.toString());

/** Waits until the page's client has nothing unconfirmed and is at the server's version. */
async function settled(page, server, doc) {
  await page.waitForFunction(() => window.otterdoc.client.status === "synchronized" && window.otterdoc.client.connectionState === "connected", null, { timeout: WAIT });
  const current = await getDoc(server, doc);
  await page.waitForFunction((v) => window.otterdoc.client.version === v, current.version, { timeout: WAIT });
  return current;
}

/** Waits until every page shows the server's text; returns it. */
async function converged(server, doc, pages) {
  for (const page of pages) await settled(page, server, doc);
  const current = await getDoc(server, doc);
  for (const page of pages) assert.equal(await text(page), current.content);
  return current.content;
}

function count(haystack, needle) {
  return haystack.split(needle).length - 1;
}

describe("the demo editor in Chromium", () => {
  let server;
  let browser;
  const contexts = [];

  before(async () => {
    mkdirSync(artifacts, { recursive: true });
    server = await startServer();
    browser = await chromium.launch({
      executablePath,
      // playwright-core adds a fresh --user-data-dir; these keep a headless Chromium from
      // reaching for the network on its own.
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
  });

  after(async () => {
    for (const c of contexts) await c.close().catch(() => {});
    await browser?.close();
    await server?.stop();
  });

  /**
   * A page (in its own browser context, like another person's browser) on `path`; over
   * SockJS with only `sockjs` allowed, if given.
   */
  async function open(base, path, who, sockjs) {
    const context = await browser.newContext({ viewport: { width: 1000, height: 640 } });
    contexts.push(context);
    if (sockjs) await context.addInitScript({ content: overSockJs(sockjs) });
    const page = await context.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(e.message));
    page.errors = errors;
    const query = who ? `?name=${encodeURIComponent(who.name)}&color=${encodeURIComponent(who.color)}` : "";
    await page.goto(`${base}${path}${query}`);
    return page;
  }

  async function editorOn(base, doc, who, sockjs) {
    const page = await open(base, `/d/${doc}`, who, sockjs);
    await page.waitForSelector("#connection[data-state=connected]", { timeout: WAIT });
    await page.waitForFunction(() => window.otterdoc.client.ready, null, { timeout: WAIT });
    await page.click(".cm-content");
    return page;
  }

  /** Saves a screenshot once the history pane shows the version its slider is at. */
  async function shot(page, name) {
    if (await page.$("#history")) {
      await page.waitForFunction(() => document.querySelector("#history-text").dataset.version === document.querySelector("#history").value, null, { timeout: WAIT });
    }
    await page.screenshot({ path: join(artifacts, `${name}.png`) });
  }

  test("the start page creates a document and opens the editor on it", async () => {
    const page = await open(server.url, "/", null);
    await shot(page, "home");
    await page.click("#new-doc");
    await page.waitForURL(/\/d\/doc-[a-z0-9]+$/, { timeout: WAIT });
    await page.waitForSelector("#connection[data-state=connected]", { timeout: WAIT });
    assert.match(await page.textContent("#doc-name"), /^doc-[a-z0-9]+$/);
    assert.deepEqual(page.errors, []);
  });

  test("two pages type into one document at once, converge, and see each other's cursor", async () => {
    const doc = "together";
    const a = await editorOn(server.url, doc, ANN);
    const b = await editorOn(server.url, doc, BOB);
    await a.keyboard.type("Ann writes here. ");
    await converged(server, doc, [a, b]);
    await b.keyboard.press("Control+End");
    // Both type at the same time, with real key events.
    await Promise.all([a.keyboard.type("[ann types fast]", { delay: 15 }), b.keyboard.type("[bob types too]", { delay: 15 })]);
    await a.keyboard.press("Enter");
    await a.keyboard.type("a new line by Ann");
    const content = await converged(server, doc, [a, b]);
    assert.equal(count(content, "[ann types fast]"), 1, content);
    assert.equal(count(content, "[bob types too]"), 1, content);
    assert.ok(content.includes("\na new line by Ann"), content);
    // Each page draws the other's caret, labelled with their name, in their colour; both
    // are listed as here.
    for (const [page, other] of [
      [a, BOB],
      [b, ANN],
    ]) {
      await page.waitForFunction((name) => [...document.querySelectorAll(".cm-otterdoc-label")].some((l) => l.textContent === name), other.name, { timeout: WAIT });
      const label = page.locator(".cm-otterdoc-label", { hasText: other.name });
      assert.equal(await label.evaluate((l) => getComputedStyle(l).backgroundColor), rgb(other.color));
      assert.equal(await label.evaluate((l) => getComputedStyle(l.parentElement).borderLeftColor), rgb(other.color));
      const chip = page.locator(`#peers li[data-name="${other.name}"]`);
      assert.equal(await chip.getAttribute("data-color"), other.color);
    }
    await shot(a, "together-ann");
    await shot(b, "together-bob");
    assert.deepEqual([...a.errors, ...b.errors], []);
  });

  for (const transport of ["xhr-streaming", "xhr-polling"]) {
    test(`a page over SockJS (${transport}) and a page over /ws edit together`, async () => {
      const doc = `sockjs-${transport}`;
      const a = await editorOn(server.url, doc, ANN, transport);
      const b = await editorOn(server.url, doc, BOB);
      assert.equal(await a.evaluate(() => window.sockjsSocket?.transport), transport, "Ann's page is on SockJS");
      assert.equal(await b.evaluate(() => window.sockjsSocket), undefined, "Bob's page is on /ws");
      await a.keyboard.type("Ann over SockJS. ");
      await converged(server, doc, [a, b]);
      // Both type at once, at either end (at one place, concurrent keystrokes may interleave).
      await b.keyboard.press("Control+Home");
      await Promise.all([a.keyboard.type("[ann]", { delay: 15 }), b.keyboard.type("[bob over ws]", { delay: 15 })]);
      const content = await converged(server, doc, [a, b]);
      assert.equal(content, "[bob over ws]Ann over SockJS. [ann]");
      // Presence travels over SockJS too: each page draws the other's caret.
      for (const [page, other] of [
        [a, BOB],
        [b, ANN],
      ]) {
        await page.waitForFunction((name) => [...document.querySelectorAll(".cm-otterdoc-label")].some((l) => l.textContent === name), other.name, { timeout: WAIT });
      }
      await shot(a, `sockjs-${transport}-ann`);
      assert.deepEqual([...a.errors, ...b.errors], []);
    });
  }

  test("a page that goes offline while typing comes back: both converge, nothing twice", async () => {
    const doc = "offline";
    const proxy = await startProxy(server.port);
    try {
      const a = await editorOn(proxy.url, doc, ANN);
      const b = await editorOn(server.url, doc, BOB);
      await a.keyboard.type("start ");
      await converged(server, doc, [a, b]);
      proxy.setOnline(false);
      await a.waitForSelector("#connection[data-state=disconnected]", { timeout: WAIT });
      const typedOffline = [];
      for (let i = 1; i <= 4; i++) {
        const token = `<a${i}>`;
        await a.keyboard.type(token, { delay: 10 });
        typedOffline.push(token);
        await b.keyboard.type(`<b${i}>`, { delay: 10 });
        await a.waitForTimeout(150);
      }
      assert.equal(await a.textContent("#sync"), "unsaved changes");
      await shot(a, "offline-ann-while-offline");
      proxy.setOnline(true);
      const content = await converged(server, doc, [a, b]);
      for (const token of [...typedOffline, "<b1>", "<b2>", "<b3>", "<b4>", "start "]) {
        assert.equal(count(content, token), 1, `${token} exactly once in ${content}`);
      }
      await shot(a, "offline-ann-back");
      assert.deepEqual([...a.errors, ...b.errors], []);
    } finally {
      await proxy.close();
    }
  });

  test("undo in one page does not undo the other's text", async () => {
    const doc = "undo";
    const a = await editorOn(server.url, doc, ANN);
    const b = await editorOn(server.url, doc, BOB);
    await a.keyboard.type("alpha");
    await converged(server, doc, [a, b]);
    await b.keyboard.press("Control+End");
    await b.keyboard.type(" beta");
    await converged(server, doc, [a, b]);
    await a.keyboard.press("Control+KeyZ");
    assert.equal(await converged(server, doc, [a, b]), " beta");
    await a.keyboard.press("Control+Shift+KeyZ");
    assert.equal(await converged(server, doc, [a, b]), "alpha beta");
    await a.keyboard.press("Control+KeyZ");
    assert.equal(await converged(server, doc, [a, b]), " beta");
    await shot(b, "undo-bob");
  });

  test("emoji typed in one page appear intact in the other", async () => {
    const doc = "emoji";
    const a = await editorOn(server.url, doc, ANN);
    const b = await editorOn(server.url, doc, BOB);
    const typed = "otters 🦦😀 👩‍💻 🇫🇷 e\u0301 中文 𝄞";
    await a.keyboard.type(typed, { delay: 10 });
    // b has the whole text before it types at its end (typing while a's last keys are still on
    // their way would put b's text before them, by the tie-break, which is not what this checks).
    assert.equal(await converged(server, doc, [a, b]), typed);
    await b.keyboard.press("Control+End");
    await b.keyboard.type(" ✔️👍", { delay: 10 });
    const content = await converged(server, doc, [a, b]);
    assert.equal(content, `${typed} ✔️👍`);
    await shot(b, "emoji-bob");
  });

  test("the history slider shows the document at an old version", async () => {
    const doc = "history";
    const a = await editorOn(server.url, doc, ANN);
    await a.keyboard.type("first");
    await settled(a, server, doc);
    const firstVersion = (await getDoc(server, doc)).version;
    await a.keyboard.press("Enter");
    await a.keyboard.type("second");
    await settled(a, server, doc);
    const current = await getDoc(server, doc);
    assert.ok(current.version > firstVersion);
    await a.waitForFunction((v) => document.querySelector("#history").max === String(v), current.version, { timeout: WAIT });
    await a.locator("#history").fill(String(firstVersion));
    await a.waitForSelector(`#history-text[data-version="${firstVersion}"]`, { timeout: WAIT });
    const old = await getDoc(server, doc, firstVersion);
    assert.equal(await a.textContent("#history-text"), old.content || "(empty)");
    assert.equal(await a.textContent("#history-version"), `version ${firstVersion} of ${current.version}`);
    assert.equal(await text(a), current.content, "the editor still shows the latest text");
    await shot(a, "history-ann");
    await a.click("#history-live");
    await a.waitForSelector(`#history-text[data-version="${current.version}"]`, { timeout: WAIT });
    assert.equal(await a.textContent("#history-text"), current.content);
  });
});
