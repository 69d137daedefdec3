/**
 * `OtterdocClient`: one collaboratively edited document. It ties together the pure parts — the
 * state machine (`client-state.ts`), undo (`undo.ts`), presence (`presence.ts`) — with the STOMP
 * transport (`connection.ts`), and speaks UTF-16 to the editor (`changes.ts`).
 *
 * @module
 */

import {
  changesToOperation,
  diffToChanges,
  operationToChanges,
  selectionToCodePoints,
  selectionToUtf16,
  type SelectionRange,
  type TextChange,
} from "./changes.js";
import { ClientState, StateError, type SyncStatus } from "./client-state.js";
import { StompConnection, type ConnectionOptions } from "./connection.js";
import { Emitter } from "./emitter.js";
import { isServerErrorCode, isTransientErrorCode, OtterdocError, type ErrorCode } from "./errors.js";
import { transformSelection, TextOperation, type Selection } from "./operation.js";
import { PresencePublisher, PresenceTracker, type RemotePresence } from "./presence.js";
import {
  isValidDocId,
  MAX_CLIENT_ID_LENGTH,
  parseDocEvent,
  parseErrorEvent,
  parsePresenceEvent,
  type OpEvent,
  type PresenceSubmission,
  type SnapshotEvent,
  type Submission,
} from "./protocol.js";
import { UndoManager, type UndoOptions } from "./undo.js";
import { codePointLength } from "./utf16.js";

/**
 * The connection as the UI should show it:
 * `connecting` (first attempt or retrying), `connected` (subscribed, edits flow),
 * `disconnected` (lost; retrying with back-off), `offline` (paused by {@link OtterdocClient.goOffline}),
 * `closed` (by {@link OtterdocClient.close}).
 */
export type ConnectionState = "connecting" | "connected" | "disconnected" | "offline" | "closed";

/** Where a change of the document that the editor did not make itself comes from. */
export type ChangeOrigin = "remote" | "undo" | "redo" | "reset";

/** The `change` event: apply `changes` to the editor. */
export interface ChangeEvent {
  /** UTF-16 changes, every position relative to the text *before* the change (CodeMirror style). */
  readonly changes: readonly TextChange[];
  /** Why the document changed. */
  readonly origin: ChangeOrigin;
  /** The whole text after the change. */
  readonly text: string;
  /** The server version the client is at after the change. */
  readonly version: number;
  /** For `remote`: the `client` id of the author. */
  readonly client?: string;
  /** For `remote`: the user name the server recorded. */
  readonly user?: string;
}

/** Another session's cursor, in UTF-16 offsets of the current text. */
export interface RemoteCursor {
  readonly session: string;
  readonly client: string;
  readonly user: string;
  readonly name?: string;
  readonly color?: string;
  readonly selection: readonly SelectionRange[];
}

/** Events of {@link OtterdocClient}. */
export interface OtterdocEvents {
  /** The document is loaded (first snapshot), or reloaded after a reset. */
  ready: { readonly text: string; readonly version: number };
  /** The document changed by something other than the editor's own {@link OtterdocClient.applyChanges}. */
  change: ChangeEvent;
  /** The connection state changed. */
  connection: ConnectionState;
  /** The synchronisation state changed. */
  sync: SyncStatus;
  /** The server confirmed one of this client's ops. */
  ack: { readonly seq: number; readonly version: number };
  /** A rejection, a protocol error or a recovery. */
  error: OtterdocError;
  /** Remote cursors changed (moved, joined, left). */
  presence: readonly RemoteCursor[];
}

/** Presence options: what to publish with this client's selection. */
export interface PresenceOptions {
  /** Display name (the server limits its size). */
  readonly name?: string;
  /** Display colour, e.g. `#1e88e5` (the server limits its size). */
  readonly color?: string;
  /** At most one presence update per this many ms (default 100). */
  readonly throttleMs?: number;
}

/** Options of {@link OtterdocClient}. */
export interface OtterdocClientOptions extends Omit<ConnectionOptions, "doc" | "url"> {
  /** The WebSocket URL of the server's `/ws`, e.g. `ws://127.0.0.1:8080/ws`. */
  readonly url: string;
  /** The document id (1–128 characters of `A–Z a–z 0–9 . _ ~ -`). */
  readonly doc: string;
  /** This editor's `client` id, 1–64 characters (default: a random UUID). Unique per editor instance. */
  readonly clientId?: string;
  /**
   * Start from a known state instead of a snapshot: the text at `version` (e.g. rendered by the
   * server, or saved). The client subscribes with `version:<version>` and catches up.
   */
  readonly initial?: { readonly version: number; readonly text: string };
  /** Publish and receive presence (default `false`; requires a server with presence). */
  readonly presence?: boolean | PresenceOptions;
  /** Undo options (grouping delay, depth). */
  readonly undo?: UndoOptions;
  /** Largest submission body in UTF-8 bytes; larger changes are sent as several ops (default 60000). */
  readonly maxSubmissionBytes?: number;
  /** Delay before resubmitting after an `internal` or `unavailable` rejection, ms (default 1000). */
  readonly retryDelayMs?: number;
  /** Connect in the constructor (default `true`); otherwise call {@link OtterdocClient.connect}. */
  readonly autoConnect?: boolean;
}

/** Options of {@link OtterdocClient.applyChanges}. */
export interface LocalChangeOptions {
  /** Record the change for undo (default `true`). */
  readonly undoable?: boolean;
  /** The editor's selection after the change (UTF-16), published as presence. */
  readonly selection?: readonly SelectionRange[];
}

/** A random client id. */
function randomClientId(): string {
  const c = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto;
  if (c?.randomUUID) return c.randomUUID();
  return `c-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 12)}`;
}

/**
 * A collaboratively edited plain-text document.
 *
 * The editor binding:
 * 1. waits for `ready` (or {@link whenReady}) and shows {@link text};
 * 2. reports each user edit with {@link applyChanges} (UTF-16 `from`/`to`/`insert`, after applying
 *    it to the editor itself);
 * 3. applies every `change` event's `changes` to the editor (remote edits, undo, redo, reset);
 * 4. optionally reports the selection with {@link setSelection} and draws {@link presences}.
 */
export class OtterdocClient extends Emitter<OtterdocEvents> {
  /** The document id. */
  readonly doc: string;
  /** This editor's `client` id. */
  readonly clientId: string;

  private _text: string;
  private loaded: boolean;
  private state: ClientState;
  private readonly undoManager: UndoManager;
  private readonly tracker: PresenceTracker;
  private readonly publisher: PresencePublisher | null;
  private readonly connection: StompConnection;
  private _connectionState: ConnectionState = "disconnected";
  private lastSync: SyncStatus = "synchronized";
  /** Waiting for a snapshot that replaces the local document (first load or reset). */
  private needSnapshot: boolean;
  private online = false;
  /** False once the server refused the presence topic. */
  private presenceSupported = true;
  /** The version a presence update was refused as too old at; republished only after it. */
  private presenceRefusedAt: number | null = null;
  private paused = false;
  private closed = false;
  private receiptCounter = 0;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly retryDelayMs: number;
  private readonly maxSubmissionBytes: number | undefined;
  private readonly presenceInfo: { name?: string; color?: string };

  constructor(options: OtterdocClientOptions) {
    super();
    if (!isValidDocId(options.doc)) {
      throw new RangeError(`invalid document id ${JSON.stringify(options.doc)}: 1–128 characters of A–Z a–z 0–9 . _ ~ -`);
    }
    const clientId = options.clientId ?? randomClientId();
    if (clientId.length < 1 || [...clientId].length > MAX_CLIENT_ID_LENGTH) {
      throw new RangeError(`clientId must be 1–${MAX_CLIENT_ID_LENGTH} characters`);
    }
    this.doc = options.doc;
    this.clientId = clientId;
    this.retryDelayMs = options.retryDelayMs ?? 1000;
    this.maxSubmissionBytes = options.maxSubmissionBytes;
    this._text = options.initial?.text ?? "";
    this.loaded = options.initial !== undefined;
    this.needSnapshot = !this.loaded;
    this.state = this.newState(options.initial?.version ?? 0);
    this.undoManager = new UndoManager(options.undo);
    this.tracker = new PresenceTracker({ ownClient: clientId });
    const presence = options.presence === true ? {} : options.presence || null;
    this.presenceInfo = {
      ...(presence?.name === undefined ? {} : { name: presence.name }),
      ...(presence?.color === undefined ? {} : { color: presence.color }),
    };
    this.publisher = presence
      ? new PresencePublisher({
          ...(presence.throttleMs === undefined ? {} : { throttleMs: presence.throttleMs }),
          prepare: (selection, info) => this.preparePresence(selection, info),
          send: (submission) => {
            try {
              this.connection.sendPresence(JSON.stringify(submission));
            } catch {
              // The socket closed under us; presence is republished on reconnect.
            }
          },
        })
      : null;
    this.publisher?.setInfo(this.presenceInfo);
    const { url, doc, ...rest } = options;
    this.connection = new StompConnection(
      { ...rest, url, doc },
      {
        connecting: () => this.setConnectionState("connecting"),
        open: (info) => this.onOpen(info.session, info.features),
        close: (info) => this.onClose(info.reason),
        docMessage: (body) => this.guard(() => this.onDocMessage(body)),
        presenceMessage: (body) => this.guard(() => this.onPresenceMessage(body)),
        errorMessage: (body) => this.guard(() => this.onErrorMessage(body)),
        protocolError: (message, info) => this.onProtocolError(message, info.aboutPresence),
      },
    );
    if (options.autoConnect ?? true) this.connect();
  }

  // ---------------------------------------------------------------------------------------
  // State

  /** The current text (what the editor should show). */
  get text(): string {
    return this._text;
  }

  /** The last server version applied. */
  get version(): number {
    return this.state.version;
  }

  /** True once the document is loaded (snapshot or `initial`). */
  get ready(): boolean {
    return this.loaded;
  }

  /** The synchronisation state. */
  get status(): SyncStatus {
    return this.state.status;
  }

  /** The connection state. */
  get connectionState(): ConnectionState {
    return this._connectionState;
  }

  /** True when there is something to undo / redo. */
  get canUndo(): boolean {
    return this.undoManager.canUndo;
  }

  get canRedo(): boolean {
    return this.undoManager.canRedo;
  }

  /** False once the server refused the presence topic (a server without presence). */
  get presenceAvailable(): boolean {
    return this.publisher !== null && this.presenceSupported;
  }

  /** Remote cursors, in UTF-16 offsets of {@link text}. */
  get presences(): RemoteCursor[] {
    return this.tracker.list().map((p) => this.toCursor(p));
  }

  /** Resolves once the document is loaded. */
  whenReady(): Promise<void> {
    if (this.loaded) return Promise.resolve();
    return new Promise((resolve) => this.once("ready", () => resolve()));
  }

  /** Resolves once every local edit is confirmed by the server. */
  whenSynchronized(): Promise<void> {
    if (this.loaded && this.state.synchronized && !this.needSnapshot) return Promise.resolve();
    return new Promise((resolve) => {
      const check = (): void => {
        if (this.loaded && this.state.synchronized && !this.needSnapshot) {
          offSync();
          offReady();
          resolve();
        }
      };
      const offSync = this.on("sync", check);
      const offReady = this.on("ready", check);
    });
  }

  // ---------------------------------------------------------------------------------------
  // Connection

  /** Starts connecting (and reconnecting after every loss). */
  connect(): void {
    if (this.closed) throw new Error("the client is closed");
    this.paused = false;
    this.connection.start();
  }

  /**
   * Disconnects on purpose and stays offline: edits keep buffering and are sent by
   * {@link goOnline}.
   */
  async goOffline(): Promise<void> {
    this.paused = true;
    await this.connection.stop();
    this.setConnectionState("offline");
  }

  /** Reconnects after {@link goOffline}. */
  goOnline(): void {
    if (this.closed || !this.paused) return;
    this.connect();
  }

  /** Drops the connection at once, as a network failure would; it reconnects (for tests and "retry now"). */
  dropConnection(): void {
    this.connection.dropConnection();
  }

  /** Disconnects for good. Unconfirmed edits are lost unless {@link status} was `synchronized`. */
  async close(): Promise<void> {
    this.closed = true;
    this.paused = true;
    this.clearRetry();
    this.publisher?.dispose();
    await this.connection.stop();
    this.setConnectionState("closed");
  }

  // ---------------------------------------------------------------------------------------
  // Local edits

  /**
   * Reports an edit the user made in the editor (already applied there): UTF-16 changes, every
   * position relative to the text before the edit (like CodeMirror's `ChangeSet`).
   *
   * @throws InvalidChangeError (nothing changed) when a change is out of range, overlaps
   *   another, splits a surrogate pair or inserts a lone surrogate.
   * @throws Error when the document is not loaded yet.
   */
  applyChanges(changes: TextChange | readonly TextChange[], options: LocalChangeOptions = {}): void {
    this.requireLoaded();
    const list: readonly TextChange[] = Array.isArray(changes) ? changes : [changes as TextChange];
    const op = changesToOperation(this._text, list);
    this.applyLocal(op, "local", options.undoable ?? true);
    if (options.selection) this.setSelection(options.selection);
  }

  /**
   * Reports an edit as the whole new text (e.g. a `<textarea>`'s value after an `input`
   * event); the change is found by comparing with {@link text}. `caret` (the caret after the
   * edit, UTF-16) places an ambiguous change where the user made it.
   */
  replaceText(newText: string, caret?: number, options: LocalChangeOptions = {}): void {
    this.requireLoaded();
    const changes = diffToChanges(this._text, newText, caret);
    if (changes.length > 0) this.applyChanges(changes, options);
    else if (options.selection) this.setSelection(options.selection);
  }

  /** Reports an edit as a code-point operation over {@link text}. */
  applyOperation(op: TextOperation, options: { undoable?: boolean } = {}): void {
    this.requireLoaded();
    this.applyLocal(op, "local", options.undoable ?? true);
  }

  /** Undoes the user's last edit (not other people's). Emits `change` with origin `undo`. */
  undo(): boolean {
    if (!this.loaded) return false;
    const op = this.undoManager.undo(this._text);
    if (!op) return false;
    this.applyLocal(op, "undo", false);
    return true;
  }

  /** Redoes the last undone edit. Emits `change` with origin `redo`. */
  redo(): boolean {
    if (!this.loaded) return false;
    const op = this.undoManager.redo(this._text);
    if (!op) return false;
    this.applyLocal(op, "redo", false);
    return true;
  }

  /** Makes the next edit start a new undo step (e.g. on cursor movement). */
  breakUndoGroup(): void {
    this.undoManager.breakGroup();
  }

  // ---------------------------------------------------------------------------------------
  // Presence

  /** Reports the editor's selection (UTF-16); published (throttled) if presence is enabled. */
  setSelection(ranges: readonly SelectionRange[] | null): void {
    if (!this.publisher) return;
    this.publisher.setSelection(ranges ? selectionToCodePoints(this._text, ranges) : null);
  }

  /** Changes the name and colour published with the selection. */
  setPresenceInfo(info: { name?: string; color?: string }): void {
    this.publisher?.setInfo(info);
  }

  // ---------------------------------------------------------------------------------------
  // Internals

  private newState(version: number): ClientState {
    return new ClientState({
      clientId: this.clientId,
      version,
      ...(this.state ? { nextSeq: this.state.nextSeq } : {}),
      ...(this.maxSubmissionBytes === undefined ? {} : { maxSubmissionBytes: this.maxSubmissionBytes }),
    });
  }

  private requireLoaded(): void {
    if (!this.loaded) throw new Error("the document is not loaded yet: wait for the `ready` event");
  }

  private applyLocal(op: TextOperation, origin: "local" | "undo" | "redo", undoable: boolean): void {
    const before = this._text;
    const after = op.apply(before); // throws before anything changed if it does not fit
    const inverse = undoable ? op.invert(before) : null;
    this._text = after;
    const submission = this.state.applyLocal(op);
    if (inverse) this.undoManager.record(inverse);
    this.publisher?.transform(op, "push");
    if (this.tracker.localOp(op)) this.emitPresence();
    if (submission) this.transmit(submission);
    if (origin !== "local") {
      this.emit("change", {
        changes: operationToChanges(before, op),
        origin,
        text: after,
        version: this.state.version,
      });
    }
    this.emitSync();
  }

  private transmit(submission: Submission): void {
    if (!this.online || !this.connection.connected) return; // resent by connected()
    const receipt = `op-${submission.seq}-${++this.receiptCounter}`;
    try {
      this.connection.sendOp(JSON.stringify(submission), receipt, (headers) =>
        this.guard(() => this.onReceipt(submission, headers)),
      );
    } catch {
      // The socket closed under us; the op in flight is resent on reconnect.
    }
  }

  private onReceipt(submission: Submission, headers: Readonly<Record<string, string>>): void {
    const code = headers.error;
    if (code === undefined) return; // accepted: confirmed by its op event, in version order
    const inflight = this.state.inflight;
    if (!inflight || inflight.submission.seq !== submission.seq) return; // stale
    const errorCode: ErrorCode = isServerErrorCode(code) ? code : "internal";
    const message = headers.message ?? code;
    if (isTransientErrorCode(errorCode)) {
      this.emit("error", new OtterdocError(errorCode, message, { seq: submission.seq }));
      this.scheduleRetry();
      return;
    }
    this.hardReset(new OtterdocError(errorCode, message, { seq: submission.seq, reset: true }));
  }

  private scheduleRetry(): void {
    if (this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      const again = this.state.retry();
      if (again) this.transmit(again);
    }, this.retryDelayMs);
  }

  private clearRetry(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  /**
   * Drops every unconfirmed local edit and reloads the document from a snapshot. Used when a
   * submission is rejected for good, or the server no longer has the client's version.
   */
  private hardReset(error: OtterdocError): void {
    this.clearRetry();
    this.state.reset(this.state.version);
    this.undoManager.clear();
    if (this.tracker.clear()) this.emitPresence();
    this.needSnapshot = true;
    this.emit("error", error);
    if (this.online && this.connection.connected) this.connection.subscribeDocument(null);
    this.emitSync();
  }

  private onOpen(session: string | null, features: readonly string[] | null): void {
    this.online = true;
    if (this.publisher && this.presenceSupported && features !== null && !features.includes("presence")) {
      // The server says it has no presence (CONNECTED `features`): no need to probe for it.
      this.presenceUnsupported(`it announces features: ${features.join(",") || "(none)"}`);
    }
    this.tracker.setOwnSession(session);
    this.connection.subscribeErrors();
    this.connection.subscribeDocument(this.needSnapshot ? null : this.state.version);
    if (this.publisher && this.presenceSupported) this.connection.subscribePresence();
    this.setConnectionState("connected");
    if (!this.needSnapshot) {
      const submission = this.state.connected();
      if (submission) this.transmit(submission);
      this.emitSync();
    }
    this.publisher?.markDirty();
  }

  private onClose(_reason: string): void {
    this.online = false;
    this.state.disconnected();
    this.clearRetry();
    if (this.tracker.clear()) this.emitPresence();
    if (this.closed) this.setConnectionState("closed");
    else if (this.paused) this.setConnectionState("offline");
    else this.setConnectionState("disconnected");
  }

  private onProtocolError(message: string, aboutPresence: boolean): void {
    if (aboutPresence && this.presenceSupported) {
      // A server from before the `features` header without presence refuses the presence
      // topic (and closes the connection): carry on without presence from the next connection.
      this.presenceUnsupported(message);
      return;
    }
    const lost = message.includes("version-in-future") || message.includes("has no stored version");
    if (lost && !this.needSnapshot) {
      // The server does not have our version any more (restored from an older backup?): the
      // next connection loads a snapshot.
      this.hardReset(
        new OtterdocError("history-lost", `the server no longer has version ${this.state.version}: ${message}`, {
          source: "connection",
          reset: true,
        }),
      );
      return;
    }
    this.emit("error", new OtterdocError("protocol-error", message, { source: "connection" }));
  }

  /** The server has no presence: say so once and carry on without it. */
  private presenceUnsupported(why: string): void {
    this.presenceSupported = false;
    if (this.tracker.clear()) this.emitPresence();
    this.emit("error", new OtterdocError("protocol-error", `the server does not support presence: ${why}`, { source: "presence" }));
  }

  private onDocMessage(body: string): void {
    const event = parseDocEvent(body);
    if (event.type === "snapshot") this.onSnapshot(event);
    else this.onOpEvent(event);
  }

  private onSnapshot(event: SnapshotEvent): void {
    if (!this.needSnapshot) return; // not asked for (cannot happen with version subscriptions)
    const before = this._text;
    const wasLoaded = this.loaded;
    this.needSnapshot = false;
    this.state = this.newState(event.version);
    this.tracker.reset();
    this.undoManager.clear();
    this._text = event.content;
    this.loaded = true;
    if (this.online) this.state.connected();
    if (wasLoaded && before !== event.content) {
      this.emit("change", {
        changes: diffToChanges(before, event.content),
        origin: "reset",
        text: event.content,
        version: event.version,
      });
    }
    this.emit("ready", { text: event.content, version: event.version });
    this.emitSync();
    this.publisher?.markDirty();
  }

  private onOpEvent(event: OpEvent): void {
    if (this.needSnapshot) return; // superseded by the snapshot being loaded
    let op: TextOperation;
    let result;
    try {
      op = TextOperation.fromJSON(event.op);
      result = this.state.receive({ version: event.version, op, client: event.client, seq: event.seq });
    } catch (e) {
      this.recoverFromBadEvent(e as Error, event.version);
      return;
    }
    if (result.kind === "duplicate") return;
    if (result.kind === "ack") {
      this.tracker.serverOp(event.version, op, event.client, null, (s) => this.toLocal(s));
      this.emit("ack", { seq: result.seq, version: event.version });
      if (result.send) this.transmit(result.send);
      this.emitSync();
      this.publisher?.poke();
      return;
    }
    const before = this._text;
    let after: string;
    try {
      after = result.apply.apply(before);
    } catch (e) {
      this.recoverFromBadEvent(e as Error, event.version);
      return;
    }
    this._text = after;
    this.undoManager.transform(result.apply);
    this.publisher?.transform(result.apply, "stay");
    const presenceChanged = this.tracker.serverOp(event.version, op, event.client, result.apply, (s) => this.toLocal(s));
    if (!result.apply.isNoop()) {
      this.emit("change", {
        changes: operationToChanges(before, result.apply),
        origin: "remote",
        text: after,
        version: event.version,
        client: event.client,
        user: event.user,
      });
    }
    if (presenceChanged) this.emitPresence();
    this.emitSync();
    if (this.presenceRefusedAt !== null) this.publisher?.poke();
  }

  /** An op event broke the contract (a gap, or it does not fit): resubscribe to recover. */
  private recoverFromBadEvent(error: Error, version: number): void {
    if (error instanceof StateError && error.message.startsWith("expected version")) {
      // A gap: catch up again from the version we have.
      this.emit("error", new OtterdocError("unexpected-event", error.message, { source: "connection" }));
      if (this.online && this.connection.connected) this.connection.subscribeDocument(this.state.version);
      return;
    }
    this.hardReset(
      new OtterdocError("unexpected-event", `op of version ${version} could not be applied: ${error.message}`, {
        source: "connection",
        reset: true,
      }),
    );
  }

  private onPresenceMessage(body: string): void {
    if (!this.publisher || this.needSnapshot) return;
    const event = parsePresenceEvent(body);
    if (this.tracker.receive(event, this.state.version, (s) => this.toLocal(s))) this.emitPresence();
  }

  private onErrorMessage(body: string): void {
    const event = parseErrorEvent(body);
    // Op rejections are handled through their RECEIPTs; the queue matters for presence, whose
    // SENDs carry no receipt.
    if (event.doc === `${this.doc}/presence`) {
      const code: ErrorCode = isServerErrorCode(event.code) ? event.code : "internal";
      this.emit("error", new OtterdocError(code, event.message, { source: "presence" }));
      // The server no longer had the ops to move our selection from its version (it reloaded
      // the document): publish again once the client has caught up past that version.
      if (code === "version-too-old") {
        this.presenceRefusedAt = this.state.version;
        this.publisher?.markDirty();
      }
    }
  }

  /** Maps a selection in the server's document at {@link version} into the local document. */
  private toLocal(selection: readonly Selection[]): Selection[] {
    let s = selection.slice();
    const inflight = this.state.inflight;
    const buffer = this.state.buffer;
    if (inflight) s = s.map((r) => transformSelection(r, inflight.op, "stay"));
    if (buffer) s = s.map((r) => transformSelection(r, buffer, "stay"));
    return s;
  }

  private preparePresence(selection: readonly Selection[], info: { name?: string; color?: string }): PresenceSubmission | null {
    if (!this.presenceSupported || !this.online || !this.connection.connected || !this.loaded || this.needSnapshot || !this.state.synchronized) {
      return null;
    }
    if (this.presenceRefusedAt !== null) {
      if (this.state.version <= this.presenceRefusedAt) return null; // poked by the next op
      this.presenceRefusedAt = null;
    }
    const length = codePointLength(this._text);
    return {
      client: this.clientId,
      version: this.state.version,
      selection: selection.map((r) => ({ anchor: Math.min(r.anchor, length), head: Math.min(r.head, length) })),
      ...info,
    };
  }

  private toCursor(p: RemotePresence): RemoteCursor {
    return {
      session: p.session,
      client: p.client,
      user: p.user,
      ...(p.name === undefined ? {} : { name: p.name }),
      ...(p.color === undefined ? {} : { color: p.color }),
      selection: selectionToUtf16(this._text, p.selection),
    };
  }

  private emitPresence(): void {
    this.emit("presence", this.presences);
  }

  private emitSync(): void {
    const status = this.state.status;
    if (status !== this.lastSync) {
      this.lastSync = status;
      this.emit("sync", status);
    }
  }

  private setConnectionState(state: ConnectionState): void {
    if (this.closed && state !== "closed") return;
    if (state === this._connectionState) return;
    this._connectionState = state;
    this.emit("connection", state);
  }

  /** Runs a handler of incoming data; a malformed body is reported, never thrown into stompjs. */
  private guard(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.emit("error", new OtterdocError("unexpected-event", (e as Error).message, { source: "connection" }));
    }
  }
}
