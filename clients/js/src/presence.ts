/**
 * Presence: other sessions' cursors, kept in local-document coordinates as ops arrive, and the
 * throttled publishing of this client's own selection.
 *
 * The wire contract: a presence event at version `v` applies to the document at `v`; ops after
 * `v` move it. The client keeps remote selections in the coordinates of its *local* document
 * (the server's at the client's version, plus its own unconfirmed edits) and moves them with
 * every change applied to it: a remote op moves a cursor with bias `"push"` when it comes from
 * the cursor's own client (their typing carries their caret along) and `"stay"` otherwise.
 *
 * Own selection: the server transforms a presence from its `version` to the current one, so a
 * selection may only be published when the local document *is* the server's document at some
 * version — when nothing is unconfirmed. The publisher waits for that (as ShareDB's presence
 * does), at most once per throttle interval, always sending the latest selection.
 *
 * Pure apart from the scheduler it is given.
 *
 * @module
 */

import { transformSelection, type Bias, type Selection, type TextOperation } from "./operation.js";
import type { LeaveEvent, PresenceEvent, PresenceSubmission } from "./protocol.js";

/** Another session's presence, in code points of the local document. */
export interface RemotePresence {
  /** The server's session id of that connection (unique per connection). */
  readonly session: string;
  /** That editor's `client` id. */
  readonly client: string;
  /** The user name the server recorded. */
  readonly user: string;
  readonly name?: string;
  readonly color?: string;
  /** Ranges in code points of the local document (transformed up to now). */
  readonly selection: readonly Selection[];
}

interface HistoryEntry {
  readonly version: number;
  readonly op: TextOperation;
  readonly client: string;
}

/** Maps a selection in the server's document at the client's version into the local document. */
export type ToLocal = (selection: readonly Selection[]) => Selection[];

/** Options of {@link PresenceTracker}. */
export interface PresenceTrackerOptions {
  /** This client's id: its own presence, echoed back, is ignored. */
  readonly ownClient: string;
  /** Server ops kept to move presence events that are older than the local version (default 1000). */
  readonly historyLimit?: number;
}

function moveSelection(selection: readonly Selection[], op: TextOperation, bias: Bias): Selection[] {
  return selection.map((r) => transformSelection(r, op, bias));
}

/** Remote presences, kept in local-document coordinates. */
export class PresenceTracker {
  private readonly ownClient: string;
  private ownSession: string | null = null;
  private readonly historyLimit: number;
  private readonly active = new Map<string, RemotePresence>();
  /** Presence events at versions the client has not reached yet, by session. */
  private readonly ahead = new Map<string, PresenceEvent>();
  private history: HistoryEntry[] = [];

  constructor(options: PresenceTrackerOptions) {
    this.ownClient = options.ownClient;
    this.historyLimit = options.historyLimit ?? 1000;
  }

  /** This connection's session id (from CONNECTED), whose own echoes are ignored. */
  setOwnSession(session: string | null): void {
    this.ownSession = session;
  }

  /** Every remote presence, in local-document code points. */
  list(): RemotePresence[] {
    return [...this.active.values()];
  }

  /** One session's presence. */
  get(session: string): RemotePresence | undefined {
    return this.active.get(session);
  }

  /**
   * An op event was processed at `version`: `serverOp` as the server sent it, `local` what was
   * applied to the local document (`null` when it confirmed this client's own op, which the
   * local document already contains). `toLocal` maps the server's document at `version` into
   * the local one. Returns true when some presence changed.
   */
  serverOp(version: number, serverOp: TextOperation, client: string, local: TextOperation | null, toLocal: ToLocal): boolean {
    this.history.push({ version, op: serverOp, client });
    if (this.history.length > this.historyLimit) this.history.splice(0, this.history.length - this.historyLimit);
    let changed = false;
    if (local && !local.isNoop()) {
      for (const [session, p] of this.active) {
        const bias: Bias = p.client === client ? "push" : "stay";
        this.active.set(session, { ...p, selection: moveSelection(p.selection, local, bias) });
        changed = true;
      }
    }
    for (const [session, ev] of this.ahead) {
      if (ev.version <= version) {
        this.ahead.delete(session);
        changed = this.activate(ev, version, toLocal) || changed;
      }
    }
    return changed;
  }

  /** A local edit was applied: remote cursors at its position stay where they are. */
  localOp(op: TextOperation): boolean {
    if (op.isNoop() || this.active.size === 0) return false;
    for (const [session, p] of this.active) {
      this.active.set(session, { ...p, selection: moveSelection(p.selection, op, "stay") });
    }
    return true;
  }

  /**
   * A presence or leave event arrived; the client is at `version`. Returns true when the list
   * of presences changed (an event ahead of the client waits for its version).
   */
  receive(event: PresenceEvent | LeaveEvent, version: number, toLocal: ToLocal): boolean {
    if (event.type === "leave") {
      this.ahead.delete(event.session);
      return this.active.delete(event.session);
    }
    if (event.session === this.ownSession || event.client === this.ownClient) return false;
    if (event.version > version) {
      this.ahead.set(event.session, event);
      return false;
    }
    this.ahead.delete(event.session);
    return this.activate(event, version, toLocal);
  }

  /** Forgets everything (the connection closed: presences are resent on resubscribe). */
  clear(): boolean {
    const had = this.active.size > 0;
    this.active.clear();
    this.ahead.clear();
    return had;
  }

  /** Forgets the op history too (the document was reloaded). */
  reset(): void {
    this.clear();
    this.history = [];
  }

  private activate(ev: PresenceEvent, version: number, toLocal: ToLocal): boolean {
    let selection: Selection[] = ev.selection.slice();
    if (ev.version < version) {
      // Move it through the ops after its version, which the client has already applied.
      const start = this.history.findIndex((h) => h.version === ev.version + 1);
      const last = this.history[this.history.length - 1];
      if (start < 0 || !last || last.version !== version) return false; // too old: wait for the next one
      for (let i = start; i < this.history.length; i++) {
        const h = this.history[i] as HistoryEntry;
        selection = moveSelection(selection, h.op, h.client === ev.client ? "push" : "stay");
      }
    }
    const presence: RemotePresence = {
      session: ev.session,
      client: ev.client,
      user: ev.user,
      ...(ev.name === undefined ? {} : { name: ev.name }),
      ...(ev.color === undefined ? {} : { color: ev.color }),
      selection: toLocal(selection),
    };
    this.active.set(ev.session, presence);
    return true;
  }
}

/** Schedules `fn` after `ms`; returns a function that cancels it. */
export type Scheduler = (fn: () => void, ms: number) => () => void;

/** The default scheduler, on `setTimeout`. */
export const timerScheduler: Scheduler = (fn, ms) => {
  const t = setTimeout(fn, ms);
  return () => clearTimeout(t);
};

/** Options of {@link PresencePublisher}. */
export interface PresencePublisherOptions {
  /** At most one presence SEND per this many ms (default 100). */
  readonly throttleMs?: number;
  /** The clock (default `Date.now`). */
  readonly now?: () => number;
  readonly schedule?: Scheduler;
  /**
   * Builds the submission if it can be sent now (online and nothing unconfirmed), else `null`;
   * `selection` is in local-document code points.
   */
  readonly prepare: (selection: readonly Selection[], info: { name?: string; color?: string }) => PresenceSubmission | null;
  /** Sends it. */
  readonly send: (submission: PresenceSubmission) => void;
}

/** Publishes this client's selection: throttled, latest value wins, only when sendable. */
export class PresencePublisher {
  private selection: Selection[] | null = null;
  private info: { name?: string; color?: string } = {};
  private dirty = false;
  private lastSentAt = -Infinity;
  private cancelTimer: (() => void) | null = null;
  private readonly throttleMs: number;
  private readonly now: () => number;
  private readonly schedule: Scheduler;

  constructor(private readonly options: PresencePublisherOptions) {
    this.throttleMs = options.throttleMs ?? 100;
    this.now = options.now ?? Date.now;
    this.schedule = options.schedule ?? timerScheduler;
  }

  /** The selection to publish, in local-document code points (`null`: nothing to publish yet). */
  get current(): readonly Selection[] | null {
    return this.selection;
  }

  /** Sets the local selection (publishes soon). */
  setSelection(selection: readonly Selection[] | null): void {
    this.selection = selection ? selection.slice() : null;
    this.markDirty();
  }

  /** Sets the name and colour sent with the selection (publishes soon). */
  setInfo(info: { name?: string; color?: string }): void {
    this.info = { ...info };
    this.markDirty();
  }

  /** Moves the local selection with a change to the local document (without publishing). */
  transform(op: TextOperation, bias: Bias): void {
    if (this.selection) this.selection = moveSelection(this.selection, op, bias);
  }

  /** Asks for the current selection to be published again (e.g. after a reconnect). */
  markDirty(): void {
    this.dirty = true;
    this.poke();
  }

  /** Something changed that may make publishing possible (an ack, a connection): try now. */
  poke(): void {
    if (!this.dirty || this.selection === null || this.cancelTimer) return;
    const wait = this.lastSentAt + this.throttleMs - this.now();
    if (wait > 0) {
      this.cancelTimer = this.schedule(() => {
        this.cancelTimer = null;
        this.poke();
      }, wait);
      return;
    }
    const submission = this.options.prepare(this.selection, this.info);
    if (!submission) return; // poked again when it becomes possible
    this.dirty = false;
    this.lastSentAt = this.now();
    this.options.send(submission);
  }

  /** Cancels a scheduled publish. */
  dispose(): void {
    this.cancelTimer?.();
    this.cancelTimer = null;
  }
}
