// An in-process STOMP-over-WebSocket server implementing the otterdoc contract the client
// relies on — snapshots, `version:` subscriptions, receipts with `version`/`error`, idempotent
// resubmission — and the presence contract the real server is gaining (docs in the client's
// README): SEND /app/doc/<id>/presence, transformed to the current version, latest per session,
// broadcast on /topic/doc/<id>/presence, everyone's current presence first for a new
// subscriber, `leave` when a session goes. Used where the real server cannot be (presence) or
// to inject faults (transient rejections).
import { randomUUID } from "node:crypto";
import { WebSocketServer, type WebSocket } from "ws";

import { transformSelection, TextOperation, type Selection } from "../../src/operation.js";
import type { PresenceSubmission, Submission } from "../../src/protocol.js";
import { ReferenceServer } from "./reference-server.js";

interface Frame {
  command: string;
  headers: Record<string, string>;
  body: string;
}

function unescape(v: string): string {
  return v.replace(/\\(.)/g, (_, c: string) => ({ n: "\n", r: "\r", c: ":", "\\": "\\" })[c] ?? c);
}
function escape(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/\r/g, "\\r").replace(/:/g, "\\c");
}

function encode(command: string, headers: Record<string, string>, body = ""): string {
  const h = Object.entries(headers).map(([k, v]) => `${k}:${command === "CONNECTED" ? v : escape(v)}\n`);
  if (body) h.push(`content-length:${Buffer.byteLength(body)}\n`);
  return `${command}\n${h.join("")}\n${body}\0`;
}

/** Parses frames out of a text buffer (bodies here never contain NUL). */
function parseFrames(buffer: string): { frames: Frame[]; rest: string } {
  const frames: Frame[] = [];
  let rest = buffer;
  for (;;) {
    rest = rest.replace(/^(\r?\n)+/, "");
    const nul = rest.indexOf("\0");
    if (nul < 0) return { frames, rest };
    const raw = rest.slice(0, nul);
    rest = rest.slice(nul + 1);
    const sep = raw.indexOf("\n\n");
    const head = (sep < 0 ? raw : raw.slice(0, sep)).split(/\r?\n/);
    const command = head.shift() as string;
    const headers: Record<string, string> = {};
    for (const line of head) {
      const i = line.indexOf(":");
      const k = line.slice(0, i);
      const v = line.slice(i + 1);
      if (!(k in headers)) headers[k] = command === "CONNECT" ? v : unescape(v);
    }
    frames.push({ command, headers, body: sep < 0 ? "" : raw.slice(sep + 2) });
  }
}

interface Session {
  id: string;
  ws: WebSocket;
  subs: Map<string, { dest: string }>;
  buffer: string;
}

interface StoredPresence {
  session: string;
  client: string;
  version: number;
  selection: Selection[];
  name?: string;
  color?: string;
}

export class FakeOtterdoc {
  private wss: WebSocketServer | null = null;
  readonly docs = new Map<string, ReferenceServer>();
  private readonly sessions = new Set<Session>();
  private readonly presence = new Map<string, Map<string, StoredPresence>>(); // doc → session → presence
  /** Every presence SEND received, as parsed. */
  readonly presenceSends: PresenceSubmission[] = [];
  /** Every op SEND received. */
  readonly opSends: Submission[] = [];
  /** How many presence SUBSCRIBEs arrived. */
  presenceSubscribes = 0;
  /** Rejects the next N op submissions with this code (e.g. `internal`), applying nothing. */
  failNext: { code: string; count: number } | null = null;
  /** Rejects presence SENDs with this code. */
  rejectPresence: string | null = null;
  /**
   * CONNECTED's `features` header: `"presence"` like the real server; `""` for a server that
   * announces none; `null` for one from before the header (which has presence here).
   */
  features: string | null = "presence";
  /** While set, op SENDs are held (not answered) until released. */
  private held: (() => void)[] | null = null;
  private messageIds = 0;

  async listen(): Promise<string> {
    this.wss = new WebSocketServer({ host: "127.0.0.1", port: 0, path: "/ws", handleProtocols: (p) => (p.has("v12.stomp") ? "v12.stomp" : false) });
    await new Promise<void>((resolve) => this.wss!.once("listening", () => resolve()));
    const address = this.wss.address();
    if (address === null || typeof address === "string") throw new Error("no port");
    this.wss.on("connection", (ws) => this.accept(ws));
    return `ws://127.0.0.1:${address.port}/ws`;
  }

  async close(): Promise<void> {
    for (const s of this.sessions) s.ws.terminate();
    await new Promise<void>((resolve) => (this.wss ? this.wss.close(() => resolve()) : resolve()));
  }

  doc(id: string): ReferenceServer {
    let d = this.docs.get(id);
    if (!d) {
      d = new ReferenceServer();
      this.docs.set(id, d);
    }
    return d;
  }

  /** Holds op SENDs until {@link release}. */
  hold(): void {
    this.held = [];
  }

  release(): void {
    const held = this.held ?? [];
    this.held = null;
    for (const run of held) run();
  }

  /** Drops every connection (as a network failure would). */
  dropAll(): void {
    for (const s of this.sessions) s.ws.terminate();
  }

  private accept(ws: WebSocket): void {
    const session: Session = { id: randomUUID(), ws, subs: new Map(), buffer: "" };
    this.sessions.add(session);
    ws.on("message", (data) => {
      session.buffer += data.toString();
      const { frames, rest } = parseFrames(session.buffer);
      session.buffer = rest;
      for (const f of frames) this.handle(session, f);
    });
    ws.on("close", () => {
      this.sessions.delete(session);
      for (const [doc, map] of this.presence) {
        if (map.delete(session.id)) this.broadcastPresence(doc, { type: "leave", session: session.id });
      }
    });
  }

  private send(s: Session, command: string, headers: Record<string, string>, body = ""): void {
    if (s.ws.readyState === s.ws.OPEN) s.ws.send(encode(command, headers, body));
  }

  private receipt(s: Session, f: Frame, extra: Record<string, string> = {}): void {
    if (f.headers.receipt) this.send(s, "RECEIPT", { "receipt-id": f.headers.receipt, ...extra });
  }

  private message(s: Session, subId: string, dest: string, body: unknown): void {
    this.send(
      s,
      "MESSAGE",
      { destination: dest, subscription: subId, "message-id": `m-${++this.messageIds}`, "content-type": "application/json" },
      JSON.stringify(body),
    );
  }

  private handle(s: Session, f: Frame): void {
    switch (f.command) {
      case "CONNECT":
      case "STOMP":
        this.send(s, "CONNECTED", {
          version: "1.2",
          "heart-beat": "0,0",
          session: s.id,
          server: "fake-otterdoc/0",
          "user-name": "anonymous",
          ...(this.features === null ? {} : { features: this.features }),
        });
        return;
      case "SUBSCRIBE":
        return this.subscribe(s, f);
      case "UNSUBSCRIBE":
        s.subs.delete(f.headers.id as string);
        return this.receipt(s, f);
      case "SEND":
        return this.onSend(s, f);
      case "DISCONNECT":
        this.receipt(s, f);
        s.ws.close();
        return;
      default:
        this.receipt(s, f);
    }
  }

  private subscribe(s: Session, f: Frame): void {
    const id = f.headers.id as string;
    const dest = f.headers.destination as string;
    s.subs.set(id, { dest });
    const presence = /^\/topic\/doc\/([^/]+)\/presence$/.exec(dest);
    const topic = /^\/topic\/doc\/([^/]+)$/.exec(dest);
    if (presence) {
      this.presenceSubscribes++;
      const doc = presence[1] as string;
      for (const p of this.presenceOf(doc).values()) this.message(s, id, dest, this.presenceEvent(doc, p));
    } else if (topic) {
      const doc = this.doc(topic[1] as string);
      const v = f.headers.version;
      if (v === undefined) {
        this.message(s, id, dest, { type: "snapshot", doc: topic[1], version: doc.version, content: doc.text });
      } else {
        for (const r of doc.history.slice(Number(v))) this.message(s, id, dest, this.opEvent(topic[1] as string, r));
      }
    }
    this.receipt(s, f);
  }

  private opEvent(doc: string, r: { version: number; op: TextOperation; client: string; seq: number }): unknown {
    return { type: "op", doc, version: r.version, op: r.op.toJSON(), client: r.client, seq: r.seq, user: "anonymous", time: Date.now() };
  }

  private presenceOf(doc: string): Map<string, StoredPresence> {
    let m = this.presence.get(doc);
    if (!m) {
      m = new Map();
      this.presence.set(doc, m);
    }
    return m;
  }

  private presenceEvent(doc: string, p: StoredPresence): unknown {
    // Transformed to the current version before it is sent.
    const d = this.doc(doc);
    let selection = p.selection;
    for (const r of d.history.slice(p.version)) {
      selection = selection.map((x) => transformSelection(x, r.op, r.client === p.client ? "push" : "stay"));
    }
    return {
      type: "presence",
      session: p.session,
      client: p.client,
      user: "anonymous",
      version: d.version,
      selection,
      ...(p.name === undefined ? {} : { name: p.name }),
      ...(p.color === undefined ? {} : { color: p.color }),
    };
  }

  private broadcast(dest: string, body: unknown): void {
    for (const s of this.sessions) for (const [id, sub] of s.subs) if (sub.dest === dest) this.message(s, id, dest, body);
  }

  private broadcastPresence(doc: string, body: unknown): void {
    this.broadcast(`/topic/doc/${doc}/presence`, body);
  }

  private onSend(s: Session, f: Frame): void {
    const dest = f.headers.destination as string;
    const presence = /^\/app\/doc\/([^/]+)\/presence$/.exec(dest);
    if (presence) {
      this.presenceSubscribes++;
      const doc = presence[1] as string;
      const body = JSON.parse(f.body) as PresenceSubmission;
      this.presenceSends.push(body);
      if (this.rejectPresence) {
        for (const [id, sub] of s.subs) {
          if (sub.dest === "/user/queue/errors") {
            this.message(s, id, sub.dest, {
              type: "error",
              code: this.rejectPresence,
              message: "presence rejected",
              doc: `${doc}/presence`,
              client: body.client,
              seq: null,
              receipt: null,
            });
          }
        }
        return;
      }
      const stored: StoredPresence = {
        session: s.id,
        client: body.client,
        version: body.version,
        selection: body.selection.slice(),
        ...(body.name === undefined ? {} : { name: body.name }),
        ...(body.color === undefined ? {} : { color: body.color }),
      };
      this.presenceOf(doc).set(s.id, stored);
      this.broadcastPresence(doc, this.presenceEvent(doc, stored));
      return;
    }
    const m = /^\/app\/doc\/([^/]+)$/.exec(dest);
    if (!m) return this.receipt(s, f, { error: "unknown-destination", message: "unknown destination" });
    const run = (): void => {
      const docId = m[1] as string;
      const sub = JSON.parse(f.body) as Submission;
      this.opSends.push(sub);
      if (this.failNext && this.failNext.count > 0) {
        this.failNext.count--;
        return this.receipt(s, f, { error: this.failNext.code, message: "injected failure" });
      }
      const out = this.doc(docId).submit(sub);
      if (!out.ok) return this.receipt(s, f, { error: out.code, message: out.message });
      if (!out.duplicate) this.broadcast(`/topic/doc/${docId}`, this.opEvent(docId, out.record));
      this.receipt(s, f, { version: String(out.version) });
    };
    if (this.held) this.held.push(run);
    else run();
  }
}
