/**
 * The CodeMirror 6 binding (`@otterdoc/client/codemirror`): an extension that connects an
 * `EditorView` to an {@link OtterdocClient}.
 *
 * - Local transactions become ops: every document change the user makes is reported with
 *   `applyChanges` (CodeMirror's changes are UTF-16 and relative to the document before them,
 *   exactly what the client takes), and the selection with `setSelection`.
 * - Remote ops, undo, redo and resets become transactions annotated with
 *   {@link fromOtterdoc}, so they are not reported back.
 * - Remote cursors and selections are drawn in each user's colour with their name, from the
 *   client's `presence` event; between events they are mapped through every change.
 * - Undo and redo (Mod-z, Mod-y, Mod-Shift-z, and the browser's own undo/redo input events) go
 *   through the client's stacks, which hold the local user's edits only — never CodeMirror's
 *   `history()`, which would also undo other people's text.
 * - The editor is read-only until the client has loaded the document.
 *
 * `@codemirror/state` and `@codemirror/view` are peer dependencies: the application brings
 * its own copies, so the binding uses the same ones as its other extensions.
 *
 * @module
 */

import { Annotation, EditorState, Prec, StateEffect, StateField, Transaction, type ChangeSet, type Extension } from "@codemirror/state";
import { Decoration, EditorView, keymap, ViewPlugin, WidgetType, type DecorationSet, type ViewUpdate } from "@codemirror/view";

import type { SelectionRange, TextChange } from "./changes.js";
import type { OtterdocClient, RemoteCursor } from "./client.js";

/** Marks the transactions the binding makes from the client's events (not to be sent back). */
export const fromOtterdoc = Annotation.define<boolean>();

/** Replaces the remote cursors drawn (UTF-16 positions in the current document). */
export const setRemoteCursors = StateEffect.define<readonly RemoteCursor[]>();

/** Whether the client has loaded the document (until then the editor is read-only). */
const setLoaded = StateEffect.define<boolean>();

const loadedField = StateField.define<boolean>({
  create: () => false,
  update: (loaded, tr) => tr.effects.reduce((v, e) => (e.is(setLoaded) ? e.value : v), loaded),
  provide: (field) => [EditorView.editable.from(field), EditorState.readOnly.from(field, (loaded) => !loaded)],
});

/** Colours for cursors whose colour is missing or not one we accept. */
const PALETTE = ["#1e88e5", "#e53935", "#43a047", "#fb8c00", "#8e24aa", "#00897b", "#6d4c41", "#d81b60"];

/**
 * The colour to draw `cursor` in: its own if it is a `#rgb` or `#rrggbb` colour (anything else
 * could be CSS the user did not mean to run), else one of a palette chosen by its session.
 */
export function cursorColor(cursor: Pick<RemoteCursor, "color" | "session">): string {
  const c = cursor.color;
  if (c !== undefined && /^#(?:[0-9a-fA-F]{3}){1,2}$/.test(c)) {
    return c.length === 4 ? `#${c[1]}${c[1]}${c[2]}${c[2]}${c[3]}${c[3]}`.toLowerCase() : c.toLowerCase();
  }
  let hash = 0;
  for (const ch of cursor.session) hash = (hash * 31 + (ch.codePointAt(0) ?? 0)) >>> 0;
  return PALETTE[hash % PALETTE.length] as string;
}

/** What to call `cursor`'s user. */
export function cursorName(cursor: Pick<RemoteCursor, "name" | "user">): string {
  return cursor.name ?? (cursor.user || "anonymous");
}

/** A remote caret: a coloured bar with the user's name above it. */
class CaretWidget extends WidgetType {
  constructor(
    readonly color: string,
    readonly name: string,
  ) {
    super();
  }

  override eq(other: CaretWidget): boolean {
    return other.color === this.color && other.name === this.name;
  }

  toDOM(): HTMLElement {
    const caret = document.createElement("span");
    caret.className = "cm-otterdoc-caret";
    caret.style.borderLeftColor = this.color;
    caret.setAttribute("aria-hidden", "true");
    const label = document.createElement("span");
    label.className = "cm-otterdoc-label";
    label.style.backgroundColor = this.color;
    label.textContent = this.name; // text, never markup
    caret.appendChild(label);
    return caret;
  }

  override ignoreEvent(): boolean {
    return true;
  }
}

/** The decorations of `cursors` in a document of `length` UTF-16 units. */
export function remoteCursorDecorations(cursors: readonly RemoteCursor[], length: number): DecorationSet {
  const ranges = [];
  const clamp = (n: number): number => Math.max(0, Math.min(length, n));
  for (const cursor of cursors) {
    const color = cursorColor(cursor);
    const name = cursorName(cursor);
    for (const range of cursor.selection) {
      const from = clamp(Math.min(range.anchor, range.head));
      const to = clamp(Math.max(range.anchor, range.head));
      if (from < to) {
        ranges.push(
          Decoration.mark({
            class: "cm-otterdoc-selection",
            attributes: { style: `background-color: ${color}33`, "data-session": cursor.session },
          }).range(from, to),
        );
      }
      ranges.push(Decoration.widget({ widget: new CaretWidget(color, name), side: 1 }).range(clamp(range.head)));
    }
  }
  return Decoration.set(ranges, true);
}

interface Cursors {
  readonly cursors: readonly RemoteCursor[];
  readonly decorations: DecorationSet;
}

/** The remote cursors and their decorations, mapped through every change between updates. */
const cursorsField = StateField.define<Cursors>({
  create: () => ({ cursors: [], decorations: Decoration.none }),
  update(value, tr) {
    for (const effect of tr.effects) {
      if (effect.is(setRemoteCursors)) {
        return { cursors: effect.value, decorations: remoteCursorDecorations(effect.value, tr.state.doc.length) };
      }
    }
    return tr.docChanged ? { cursors: value.cursors, decorations: value.decorations.map(tr.changes) } : value;
  },
  provide: (field) => EditorView.decorations.from(field, (value) => value.decorations),
});

/** The remote cursors as last set (positions as of that update). */
export function remoteCursors(state: EditorState): readonly RemoteCursor[] {
  return state.field(cursorsField, false)?.cursors ?? [];
}

/** A change set as the client's `TextChange`s (UTF-16, each relative to the document before). */
export function changesOf(changes: ChangeSet): TextChange[] {
  const out: TextChange[] = [];
  changes.iterChanges((from, to, _fromB, _toB, inserted) => {
    out.push({ from, to, insert: inserted.toString() });
  });
  return out;
}

/** The selection of `state` as the client's ranges. */
function selectionOf(state: EditorState): SelectionRange[] {
  return state.selection.ranges.map((r) => ({ anchor: r.anchor, head: r.head }));
}

/** Connects one view to one client for the view's lifetime. */
class Binding {
  private readonly offs: (() => void)[] = [];
  private cursorsQueued = false;
  private destroyed = false;

  constructor(
    private readonly view: EditorView,
    private readonly client: OtterdocClient,
  ) {
    this.offs.push(
      client.on("ready", () => this.later(() => this.load())),
      client.on("change", (event) => this.remote(event.changes)),
      // Presence may be emitted while the binding is itself inside an update (a local edit
      // moves remote cursors); a view cannot be updated from inside an update, so the
      // cursors are set just after, from the client's state at that moment.
      client.on("presence", () => this.queueCursors()),
    );
    // The view is being constructed: it cannot take a transaction yet.
    this.later(() => {
      if (client.ready) this.load();
      this.queueCursors();
    });
  }

  /** Local edits and selection moves go to the client. */
  update(update: ViewUpdate): void {
    let local = false;
    for (const tr of update.transactions) {
      if (tr.annotation(fromOtterdoc) || !tr.docChanged) continue;
      local = true;
      try {
        this.client.applyChanges(changesOf(tr.changes));
      } catch (e) {
        // Cannot happen with CodeMirror's own changes; if it does, the client's text wins.
        console.warn("otterdoc: a local change was refused; reloading the text", e);
        this.later(() => this.load());
        return;
      }
    }
    const moved = update.transactions.some((tr) => !tr.annotation(fromOtterdoc) && tr.selection !== undefined);
    if (local || moved) {
      if (!local) this.client.breakUndoGroup(); // the caret moved away: the next edit is a new step
      if (this.client.ready) this.client.setSelection(selectionOf(update.state));
    }
  }

  destroy(): void {
    this.destroyed = true;
    for (const off of this.offs) off();
  }

  /** Shows the client's whole text (first load, or anything that got out of step). */
  private load(): void {
    if (this.destroyed) return;
    const text = this.client.text;
    const doc = this.view.state.doc;
    const effects = [setLoaded.of(true), setRemoteCursors.of(this.client.presences)];
    if (doc.toString() === text) {
      this.view.dispatch({ effects });
      return;
    }
    this.view.dispatch({
      changes: { from: 0, to: doc.length, insert: text },
      effects,
      annotations: [fromOtterdoc.of(true), Transaction.addToHistory.of(false)],
    });
  }

  /** Applies a remote change (or undo, redo, reset) the client made to its text. */
  private remote(changes: readonly TextChange[]): void {
    if (this.destroyed) return;
    this.view.dispatch({
      changes: changes.map((c) => ({ from: c.from, to: c.to ?? c.from, insert: c.insert ?? "" })),
      annotations: [fromOtterdoc.of(true), Transaction.addToHistory.of(false)],
    });
    // A cheap guard: editor and client must hold the same text.
    if (this.view.state.doc.length !== this.client.text.length) this.load();
  }

  private queueCursors(): void {
    if (this.cursorsQueued) return;
    this.cursorsQueued = true;
    this.later(() => {
      this.cursorsQueued = false;
      if (this.destroyed || this.view.state.doc.length !== this.client.text.length) return;
      this.view.dispatch({ effects: setRemoteCursors.of(this.client.presences) });
    });
  }

  private later(fn: () => void): void {
    queueMicrotask(() => {
      if (!this.destroyed) fn();
    });
  }
}

/** Styles of the remote cursors (override with a theme of the same classes). */
const cursorTheme = EditorView.baseTheme({
  ".cm-otterdoc-caret": {
    position: "relative",
    borderLeft: "2px solid",
    marginLeft: "-1px",
    marginRight: "-1px",
    pointerEvents: "none",
  },
  ".cm-otterdoc-label": {
    position: "absolute",
    bottom: "100%",
    left: "-2px",
    padding: "0 4px",
    borderRadius: "3px 3px 3px 0",
    color: "#fff",
    fontSize: "11px",
    lineHeight: "15px",
    fontFamily: "system-ui, sans-serif",
    whiteSpace: "nowrap",
    userSelect: "none",
    zIndex: "10",
  },
});

/** Options of {@link otterdoc}. */
export interface OtterdocExtensionOptions {
  /** Bind Mod-z / Mod-y / Mod-Shift-z to the client's undo and redo (default `true`). */
  readonly undoKeys?: boolean;
}

/**
 * The extension connecting a view to `client`. Create the view with `client.text` as its
 * document once the client is ready, or at any time before: it loads the text itself and
 * stays read-only until then. One client per view.
 */
export function otterdoc(client: OtterdocClient, options: OtterdocExtensionOptions = {}): Extension {
  const undo = (): boolean => {
    client.undo();
    return true; // also when there is nothing to undo: never fall through to a native undo
  };
  const redo = (): boolean => {
    client.redo();
    return true;
  };
  const extensions: Extension[] = [
    loadedField,
    cursorsField,
    cursorTheme,
    ViewPlugin.define((view) => new Binding(view, client)),
    EditorView.domEventHandlers({
      // The browser's own undo/redo (menus, gestures) must not edit the DOM behind our back.
      beforeinput(event) {
        if (event.inputType === "historyUndo") {
          event.preventDefault();
          return undo();
        }
        if (event.inputType === "historyRedo") {
          event.preventDefault();
          return redo();
        }
        return false;
      },
    }),
  ];
  if (options.undoKeys ?? true) {
    extensions.push(
      Prec.high(
        keymap.of([
          { key: "Mod-z", run: undo, preventDefault: true },
          { key: "Mod-y", run: redo, preventDefault: true },
          { key: "Mod-Shift-z", run: redo, preventDefault: true },
        ]),
      ),
    );
  }
  return extensions;
}
