// The otterdoc demo editor, served by the server itself at / and /d/<id> (src/http.rs; the
// bundle is embedded by src/demo.rs). `/` creates or opens a document; `/d/<id>` is the
// editor: CodeMirror 6 bound to an OtterdocClient, who is here (names and colours), the
// connection state, the document's version, and a history slider that shows the document at
// any version through GET /docs/<id>?version=n.
//
// `?name=` and `?color=` set the user's name and colour (otherwise they are remembered in
// localStorage, or picked at random).

import { OtterdocClient, type ConnectionState, type RemoteCursor, type SyncStatus } from "@otterdoc/client";
import { cursorColor, cursorName, otterdoc } from "@otterdoc/client/codemirror";
import { EditorState } from "@codemirror/state";
import { drawSelection, EditorView, highlightActiveLine, lineNumbers } from "@codemirror/view";

const DOC_ID = /^[A-Za-z0-9._~-]{1,128}$/;
const COLORS = ["#1e88e5", "#e53935", "#43a047", "#fb8c00", "#8e24aa", "#00897b", "#6d4c41", "#d81b60"];
const ANIMALS = ["Otter", "Heron", "Beaver", "Badger", "Kestrel", "Marten", "Newt", "Vole"];

/** Creates an element with a class and children. */
function el<K extends keyof HTMLElementTagNameMap>(tag: K, props: Partial<HTMLElementTagNameMap[K]> = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

function pick<T>(list: readonly T[]): T {
  return list[Math.floor(Math.random() * list.length)] as T;
}

function randomId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(6));
  return `doc-${Array.from(bytes, (b) => (b % 36).toString(36)).join("")}`;
}

/** The user's name and colour: from the URL, else remembered, else random. */
function identity(): { name: string; color: string } {
  const params = new URLSearchParams(location.search);
  const stored = (key: string): string | null => {
    try {
      return localStorage.getItem(key);
    } catch {
      return null;
    }
  };
  const name = (params.get("name") ?? stored("otterdoc.name") ?? `${pick(ANIMALS)} ${Math.floor(Math.random() * 90) + 10}`).slice(0, 64);
  const asked = params.get("color") ?? stored("otterdoc.color");
  const color = asked && /^#[0-9a-fA-F]{6}$/.test(asked) ? asked.toLowerCase() : pick(COLORS);
  return { name, color };
}

function remember(key: string, value: string): void {
  try {
    localStorage.setItem(key, value);
  } catch {
    // Private mode: not remembered, nothing else changes.
  }
}

function home(root: HTMLElement): void {
  document.title = "otterdoc";
  const input = el("input", { id: "doc-id", name: "doc", placeholder: "document name, e.g. notes", required: true, pattern: DOC_ID.source.slice(1, -1), autocomplete: "off" });
  const error = el("p", { className: "error", id: "home-error" });
  const open = el("form", { id: "open-form" }, input, el("button", { type: "submit" }, "Open"));
  open.addEventListener("submit", (event) => {
    event.preventDefault();
    const id = input.value.trim();
    if (!DOC_ID.test(id)) {
      error.textContent = "A document name is 1–128 characters of A–Z a–z 0–9 . _ ~ -";
      return;
    }
    location.assign(`/d/${id}`);
  });
  const create = el("button", { id: "new-doc", type: "button", className: "primary" }, "New document");
  create.addEventListener("click", () => location.assign(`/d/${randomId()}`));
  root.append(
    el(
      "main",
      { className: "home" },
      el("h1", {}, el("span", { className: "logo" }), "otterdoc"),
      el("p", { className: "lead" }, "Collaborative plain-text editing. Share the link of a document to edit it together."),
      create,
      el("p", { className: "or" }, "or open one by name"),
      open,
      error,
    ),
  );
  input.focus();
}

const CONNECTION_LABELS: Record<ConnectionState, string> = {
  connecting: "connecting…",
  connected: "connected",
  disconnected: "reconnecting…",
  offline: "offline",
  closed: "closed",
};

const SYNC_LABELS: Record<SyncStatus, string> = {
  synchronized: "saved",
  "awaiting-confirm": "saving…",
  "awaiting-with-buffer": "saving…",
  buffered: "unsaved changes",
};

function editor(root: HTMLElement, doc: string): void {
  document.title = `${doc} · otterdoc`;
  const me = identity();
  const wsUrl = `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}/ws`;
  const client = new OtterdocClient({ url: wsUrl, doc, presence: { name: me.name, color: me.color } });

  const connection = el("span", { id: "connection", className: "pill" }, CONNECTION_LABELS.connecting);
  const sync = el("span", { id: "sync", className: "muted" });
  const version = el("span", { id: "version", className: "muted" }, "v0");
  const nameInput = el("input", { id: "name", value: me.name, maxLength: 64, title: "Your name, as others see it" });
  const swatch = el("span", { className: "swatch", title: "Your colour" });
  swatch.style.backgroundColor = me.color;
  const peers = el("ul", { id: "peers", className: "peers" });
  const editorHost = el("div", { id: "editor", className: "editor" });
  const slider = el("input", { id: "history", type: "range", min: "0", max: "0", value: "0", step: "1" });
  const historyLabel = el("span", { id: "history-version", className: "muted" }, "version 0 of 0");
  const historyText = el("pre", { id: "history-text", className: "history-text" });
  const live = el("button", { id: "history-live", type: "button" }, "Latest");

  root.append(
    el(
      "header",
      { className: "bar" },
      el("a", { href: "/", className: "brand" }, el("span", { className: "logo" }), "otterdoc"),
      el("span", { className: "doc-name", id: "doc-name" }, doc),
      connection,
      sync,
      version,
      el("span", { className: "spacer" }),
      swatch,
      nameInput,
    ),
    el("section", { className: "here" }, el("span", { className: "muted" }, "Here now:"), peers),
    editorHost,
    el(
      "section",
      { className: "history" },
      el("div", { className: "history-head" }, el("label", { htmlFor: "history" }, "History"), slider, historyLabel, live),
      historyText,
    ),
  );

  const view = new EditorView({
    parent: editorHost,
    state: EditorState.create({
      doc: "",
      extensions: [lineNumbers(), drawSelection(), highlightActiveLine(), EditorView.lineWrapping, otterdoc(client)],
    }),
  });

  // --- connection, sync, version ------------------------------------------------------
  const showConnection = (state: ConnectionState): void => {
    connection.textContent = CONNECTION_LABELS[state];
    connection.dataset.state = state;
    // A history read may have failed while the network was gone: read it again.
    if (state === "connected" && client.ready) showHistory();
  };
  client.on("connection", showConnection);
  const showSync = (): void => {
    sync.textContent = SYNC_LABELS[client.status];
    sync.dataset.status = client.status;
  };
  client.on("sync", showSync);
  client.on("error", (err) => console.warn(`otterdoc: ${err.code}: ${err.message}`));

  // --- who is here ------------------------------------------------------------------------
  const chip = (name: string, color: string, you: boolean): HTMLLIElement => {
    const dot = el("span", { className: "dot" });
    dot.style.backgroundColor = color;
    const item = el("li", { className: you ? "peer you" : "peer" }, dot, name, you ? el("span", { className: "muted" }, " (you)") : "");
    item.dataset.name = name;
    item.dataset.color = color;
    return item;
  };
  const showPeers = (cursors: readonly RemoteCursor[] = client.presences): void => {
    const items = [chip(nameInput.value || me.name, me.color, true)];
    for (const cursor of [...cursors].sort((a, b) => cursorName(a).localeCompare(cursorName(b)))) {
      items.push(chip(cursorName(cursor), cursorColor(cursor), false));
    }
    peers.replaceChildren(...items);
  };
  client.on("presence", showPeers);
  nameInput.addEventListener("change", () => {
    const name = nameInput.value.trim().slice(0, 64) || me.name;
    nameInput.value = name;
    remember("otterdoc.name", name);
    client.setPresenceInfo({ name, color: me.color });
    showPeers();
  });
  remember("otterdoc.color", me.color);

  // --- history ------------------------------------------------------------------------------
  // The slider's maximum follows the document; while it sits at the maximum it follows too.
  let latest = 0;
  let request = 0;
  const showVersion = (): void => {
    const following = Number(slider.value) === latest;
    latest = client.version;
    version.textContent = `v${latest}`;
    slider.max = String(latest);
    if (following) {
      slider.value = String(latest);
      showHistory();
    } else {
      historyLabel.textContent = `version ${slider.value} of ${latest}`;
    }
  };
  let timer: ReturnType<typeof setTimeout> | null = null;
  const showHistory = (): void => {
    const at = Number(slider.value);
    historyLabel.textContent = `version ${at} of ${latest}`;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => void fetchVersion(at), 120);
  };
  const fetchVersion = async (at: number): Promise<void> => {
    const mine = ++request;
    historyText.dataset.version = "";
    historyText.classList.add("loading");
    let text: string;
    if (at === 0) {
      text = "";
    } else {
      try {
        const res = await fetch(`/docs/${doc}?version=${at}`);
        const body = (await res.json()) as { content?: string; error?: { message: string } };
        text = res.ok ? (body.content ?? "") : `(${body.error?.message ?? res.statusText})`;
      } catch (e) {
        text = `(could not load version ${at}: ${(e as Error).message})`;
      }
    }
    if (mine !== request) return; // a later request won
    historyText.classList.remove("loading");
    historyText.textContent = text === "" ? "(empty)" : text;
    historyText.classList.toggle("empty", text === "");
    historyText.dataset.version = String(at);
  };
  slider.addEventListener("input", showHistory);
  live.addEventListener("click", () => {
    slider.value = String(latest);
    showHistory();
  });
  for (const event of ["ready", "change", "ack"] as const) client.on(event, showVersion);

  showConnection(client.connectionState);
  showSync();
  showPeers();
  client.whenReady().then(() => {
    showVersion();
    view.focus();
  });
  // For debugging from the console (and for the browser tests' waits).
  (window as unknown as { otterdoc: unknown }).otterdoc = { client, view };
}

const root = document.getElementById("app") as HTMLElement;
const match = /^\/d\/([^/]+)\/?$/.exec(location.pathname);
if (match && DOC_ID.test(match[1] as string)) editor(root, match[1] as string);
else home(root);
