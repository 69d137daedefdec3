/**
 * The client's synchronisation state machine, in the style of ot.js — pure, with no I/O: it is
 * told what happened (a local edit, an op event, the connection opening or closing) and answers
 * with what to apply to the local document and which submissions to send.
 *
 * States (the `status`):
 *
 * - `synchronized`: nothing unconfirmed; the local document is the server's at `version`.
 * - `awaiting-confirm`: one op in flight (sent, not yet seen back on the topic).
 * - `awaiting-with-buffer`: one op in flight, and later local edits composed into a buffer that
 *   is sent once the op in flight is confirmed.
 * - `buffered`: local edits made while offline with nothing in flight; sent on reconnect.
 *
 * The tie-break mirrors the server (`docs/protocol.md`, "Transformation and the tie-break a
 * client must mirror"): the server transforms an incoming op against its history with the
 * incoming op on `"left"`, so for every op event from someone else the client computes
 *
 * ```text
 * [inflight′, s′]  = transform(inflight, s,  "left")
 * [buffer′,   s″]  = transform(buffer,   s′, "left")
 * ```
 *
 * and applies `s″` to its document. Its own op is recognised on the topic by `client` and `seq`
 * and only confirms the op in flight.
 *
 * Resubmission (`docs/protocol.md`, "Idempotent resubmission"): the op in flight keeps the exact
 * submission first sent (`client`, `seq`, `base`, `op`) and is resent unchanged after a
 * reconnect, so the server either applies it now or recognises it as already applied.
 *
 * @module
 */

import { OperationBuilder, OperationError, TextOperation, transform, type Component } from "./operation.js";
import type { Submission } from "./protocol.js";
import { codePointLength } from "./utf16.js";

/** The state machine's state, as reported to the UI. */
export type SyncStatus = "synchronized" | "awaiting-confirm" | "awaiting-with-buffer" | "buffered";

/** The op in flight: sent (at least once), not yet seen on the topic. */
export interface InFlight {
  /** The submission exactly as first sent; resent unchanged. */
  readonly submission: Submission;
  /** The op transformed against every op received since: it applies to the document at `version`. */
  readonly op: TextOperation;
}

/** An op event as the state machine needs it. */
export interface ServerOp {
  readonly version: number;
  readonly op: TextOperation;
  readonly client: string;
  readonly seq: number;
}

/** What receiving one op event means for the local document. */
export type ReceiveResult =
  /** Someone else's op: apply `apply` (already transformed) to the local document. */
  | { readonly kind: "remote"; readonly apply: TextOperation }
  /** This client's op in flight was accepted at `version`; send `send` next, if any. */
  | { readonly kind: "ack"; readonly seq: number; readonly send: Submission | null }
  /** A version the client already has (delivered twice); nothing to do. */
  | { readonly kind: "duplicate" };

/** An op event that does not follow the delivery contract (a gap, an op that does not fit). */
export class StateError extends Error {
  override readonly name = "StateError";
}

/** Options of {@link ClientState}. */
export interface ClientStateOptions {
  /** The `client` id of every submission (1–64 characters). */
  readonly clientId: string;
  /** The server version the local document is at. */
  readonly version: number;
  /** The first `seq` to use (default 1). */
  readonly nextSeq?: number;
  /**
   * Largest submission body, in UTF-8 bytes of its JSON (default 60000, below the server's
   * default `--max-op-bytes` and `--max-frame-bytes` of 65536 with room for the headers).
   * A larger local change is sent as several consecutive ops.
   */
  readonly maxSubmissionBytes?: number;
}

/** Default {@link ClientStateOptions.maxSubmissionBytes}. */
export const DEFAULT_MAX_SUBMISSION_BYTES = 60000;

/** The pure client state machine. */
export class ClientState {
  /** The `client` id of every submission. */
  readonly clientId: string;
  private _version: number;
  private _nextSeq: number;
  private _inflight: InFlight | null = null;
  private _buffer: TextOperation | null = null;
  private _online = false;
  private readonly maxBytes: number;

  constructor(options: ClientStateOptions) {
    this.clientId = options.clientId;
    this._version = options.version;
    this._nextSeq = options.nextSeq ?? 1;
    this.maxBytes = options.maxSubmissionBytes ?? DEFAULT_MAX_SUBMISSION_BYTES;
  }

  /** The last server version applied to the local document. */
  get version(): number {
    return this._version;
  }

  /** The `seq` the next submission will get. */
  get nextSeq(): number {
    return this._nextSeq;
  }

  /** The op in flight, if any. */
  get inflight(): InFlight | null {
    return this._inflight;
  }

  /** Local edits not yet sent, composed into one op, if any. */
  get buffer(): TextOperation | null {
    return this._buffer;
  }

  /** Whether submissions can be sent now (set by {@link connected} / {@link disconnected}). */
  get online(): boolean {
    return this._online;
  }

  /** The state, for the UI. */
  get status(): SyncStatus {
    if (this._inflight) return this._buffer ? "awaiting-with-buffer" : "awaiting-confirm";
    return this._buffer ? "buffered" : "synchronized";
  }

  /** True when every local edit has been confirmed by the server. */
  get synchronized(): boolean {
    return this._inflight === null && this._buffer === null;
  }

  /**
   * A local edit, already applied to the local document. Returns the submission to send now,
   * if any (only when online and nothing is in flight).
   */
  applyLocal(op: TextOperation): Submission | null {
    if (this._buffer) {
      this._buffer = this._buffer.compose(op);
    } else if (this._inflight) {
      if (op.baseLength !== this._inflight.op.targetLength) {
        throw new OperationError(
          `local op applies to ${op.baseLength} characters, but the document has ${this._inflight.op.targetLength}`,
        );
      }
      this._buffer = op;
    } else {
      this._buffer = op;
    }
    return this._online && !this._inflight ? this.sendBuffer() : null;
  }

  /** Handles one op event of the document topic (in version order). */
  receive(event: ServerOp): ReceiveResult {
    if (event.version <= this._version) return { kind: "duplicate" };
    if (event.version !== this._version + 1) {
      throw new StateError(`expected version ${this._version + 1}, got ${event.version}`);
    }
    const inflight = this._inflight;
    if (inflight && event.client === this.clientId && event.seq === inflight.submission.seq) {
      this._version = event.version;
      this._inflight = null;
      return { kind: "ack", seq: event.seq, send: this._online ? this.sendBuffer() : null };
    }
    // Someone else's op (or one of ours the state no longer tracks, which the local document
    // does not contain either): transform our unconfirmed ops over it, server-style.
    let s = event.op;
    let newInflight: InFlight | null = null;
    let newBuffer: TextOperation | null = null;
    try {
      if (inflight) {
        const [i2, s2] = transform(inflight.op, s, "left");
        newInflight = { submission: inflight.submission, op: i2 };
        s = s2;
      }
      if (this._buffer) {
        const [b2, s3] = transform(this._buffer, s, "left");
        newBuffer = b2;
        s = s3;
      }
    } catch (e) {
      throw new StateError(`op of version ${event.version} does not fit the local state: ${(e as Error).message}`);
    }
    this._version = event.version;
    this._inflight = newInflight;
    this._buffer = newBuffer;
    return { kind: "remote", apply: s };
  }

  /**
   * The connection (re)opened and the topic is subscribed from {@link version}. Returns what to
   * send: the op in flight, unchanged (idempotent resubmission), or else the buffer.
   */
  connected(): Submission | null {
    this._online = true;
    if (this._inflight) return this._inflight.submission;
    return this.sendBuffer();
  }

  /** The connection closed: nothing is sent until {@link connected}; edits keep buffering. */
  disconnected(): void {
    this._online = false;
  }

  /** The submission to resend after a transient rejection (`internal`), if one is in flight. */
  retry(): Submission | null {
    return this._online && this._inflight ? this._inflight.submission : null;
  }

  /**
   * Drops every unconfirmed local edit and restarts at `version` (after a rejection that cannot
   * succeed on resubmission, or lost history). The caller reloads the document.
   */
  reset(version: number): void {
    this._version = version;
    this._inflight = null;
    this._buffer = null;
  }

  /** Moves the buffer (or its first part, if it is too large for one submission) in flight. */
  private sendBuffer(): Submission | null {
    const buffer = this._buffer;
    if (!buffer) return null;
    const limit = this.maxBytes - envelopeBytes(this.clientId, this._nextSeq, this._version);
    const [head, rest] = splitOperation(buffer, limit);
    const submission: Submission = {
      client: this.clientId,
      seq: this._nextSeq++,
      base: this._version,
      op: head.toJSON(),
    };
    this._inflight = { submission, op: head };
    this._buffer = rest;
    return submission;
  }
}

/** UTF-8 bytes of a submission's JSON apart from its `op`'s components. */
function envelopeBytes(client: string, seq: number, base: number): number {
  return utf8Length(JSON.stringify({ client, seq, base, op: [] }));
}

/** UTF-8 length of a string. */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/** UTF-8 bytes of one code point inside a JSON string, as `JSON.stringify` writes it. */
function jsonCodePointBytes(cp: number): number {
  if (cp === 0x22 || cp === 0x5c || cp === 0x08 || cp === 0x0c || cp === 0x0a || cp === 0x0d || cp === 0x09) return 2;
  if (cp < 0x20) return 6;
  if (cp < 0x80) return 1;
  if (cp < 0x800) return 2;
  if (cp < 0x10000) return 3;
  return 4;
}

/**
 * Splits `op` into `[head, rest]` with `head.compose(rest)` equal to `op`, where `head`'s JSON
 * takes at most `maxBytes` UTF-8 bytes (at least one component, or one code point of an insert,
 * is always taken). `rest` is `null` when `op` fits whole.
 *
 * An insert too large for the head is split so that the head carries its **first** part and
 * `rest` inserts the later parts after it. A concurrent insert at the paste position reaches the
 * server after the head or is already before it; either way the server's tie-break (the later
 * op's text goes first) puts it before the whole text, never between its parts.
 */
export function splitOperation(op: TextOperation, maxBytes: number): [TextOperation, TextOperation | null] {
  if (utf8Length(JSON.stringify(op.components)) <= maxBytes) return [op, null];
  const head = new OperationBuilder();
  let budget = maxBytes - 2 - 17; // brackets, and the trailing retain added below
  let taken = 0; // components fully taken
  let remainder: string | null = null; // the back part of a split insert, left for `rest`
  let front = "";
  const comps = op.components;
  for (; taken < comps.length; taken++) {
    const c = comps[taken] as Component;
    const cost = utf8Length(JSON.stringify(c)) + 1;
    if (cost <= budget) {
      head.push(c);
      budget -= cost;
      continue;
    }
    if (typeof c === "string") {
      // Take as many code points from the front of the insert as fit (at least one).
      let end = 0;
      let room = budget - 3; // quotes and comma
      while (end < c.length) {
        const cp = c.codePointAt(end) as number;
        const b = jsonCodePointBytes(cp);
        if (b > room && end > 0) break;
        room -= b;
        end += cp > 0xffff ? 2 : 1;
      }
      front = c.slice(0, end);
      remainder = c.slice(end);
    } else if (taken === 0) {
      head.push(c);
      taken++;
    }
    break;
  }
  const before = head.build(); // the components taken whole
  const headOp = new OperationBuilder();
  for (const c of before.components) headOp.push(c);
  if (front) headOp.insert(front);
  headOp.retain(op.baseLength - before.baseLength);
  // `rest` keeps what `head` produced, inserting the back of a split insert after its front.
  const rest = new OperationBuilder().retain(before.targetLength + codePointLength(front));
  if (remainder !== null) {
    if (remainder) rest.insert(remainder);
    taken++;
  }
  for (let i = taken; i < comps.length; i++) rest.push(comps[i] as Component);
  const restOp = rest.build();
  return [headOp.build(), restOp.isNoop() ? null : restOp];
}
