/**
 * Undo and redo of the local user's own edits only. Each stack holds operations that apply to
 * the current document (the top) or to the document after undoing the entries above it; when a
 * remote op is applied, both stacks are transformed against it, so undoing never reverts someone
 * else's work and always applies to the document as it is now.
 *
 * Pure: no I/O, no clock unless given one.
 *
 * @module
 */

import { transform, type TextOperation } from "./operation.js";

/** Options of {@link UndoManager}. */
export interface UndoOptions {
  /** Most undo steps kept (default 200). */
  readonly maxDepth?: number;
  /**
   * Consecutive local edits less than this many ms apart are undone together (default 500;
   * `0` makes every edit its own step).
   */
  readonly groupDelayMs?: number;
  /** The clock, in ms (default `Date.now`). */
  readonly now?: () => number;
}

/** The undo and redo stacks of one client. */
export class UndoManager {
  private undoStack: TextOperation[] = [];
  private redoStack: TextOperation[] = [];
  private readonly maxDepth: number;
  private readonly groupDelayMs: number;
  private readonly now: () => number;
  private lastEditAt = -Infinity;
  private grouping = true;

  constructor(options: UndoOptions = {}) {
    this.maxDepth = options.maxDepth ?? 200;
    this.groupDelayMs = options.groupDelayMs ?? 500;
    this.now = options.now ?? Date.now;
  }

  /** True when there is something to undo. */
  get canUndo(): boolean {
    return this.undoStack.length > 0;
  }

  /** True when there is something to redo. */
  get canRedo(): boolean {
    return this.redoStack.length > 0;
  }

  /** Number of undo steps. */
  get undoDepth(): number {
    return this.undoStack.length;
  }

  /** Number of redo steps. */
  get redoDepth(): number {
    return this.redoStack.length;
  }

  /**
   * Records a local edit, given its inverse (`op.invert(textBefore)`). Clears the redo stack.
   * Merged into the previous step if it came within the group delay.
   */
  record(inverse: TextOperation): void {
    if (inverse.isNoop()) return;
    this.redoStack = [];
    const at = this.now();
    const top = this.undoStack[this.undoStack.length - 1];
    if (top && this.grouping && this.groupDelayMs > 0 && at - this.lastEditAt < this.groupDelayMs) {
      // The new inverse undoes the latest edit, then `top` the ones before it.
      this.undoStack[this.undoStack.length - 1] = inverse.compose(top);
    } else {
      this.undoStack.push(inverse);
      if (this.undoStack.length > this.maxDepth) this.undoStack.shift();
    }
    this.lastEditAt = at;
    this.grouping = true;
  }

  /** Makes the next recorded edit start a new undo step, whatever the delay. */
  breakGroup(): void {
    this.grouping = false;
  }

  /**
   * Transforms both stacks against an op just applied to the document that is not the user's
   * own (a remote op), so every entry keeps applying.
   */
  transform(op: TextOperation): void {
    this.undoStack = transformStack(this.undoStack, op);
    this.redoStack = transformStack(this.redoStack, op);
  }

  /**
   * Pops the next undo step that still changes something. The caller applies it to `text` as a
   * local edit; its inverse goes onto the redo stack. Returns `null` when there is nothing left.
   */
  undo(text: string): TextOperation | null {
    const op = popEffective(this.undoStack);
    if (!op) return null;
    this.redoStack.push(op.invert(text));
    this.grouping = false;
    return op;
  }

  /** Like {@link undo}, from the redo stack; the inverse goes onto the undo stack. */
  redo(text: string): TextOperation | null {
    const op = popEffective(this.redoStack);
    if (!op) return null;
    this.undoStack.push(op.invert(text));
    this.grouping = false;
    return op;
  }

  /** Forgets both stacks (after the document was reloaded). */
  clear(): void {
    this.undoStack = [];
    this.redoStack = [];
    this.grouping = false;
  }
}

/**
 * Transforms a stack (top last) against `op`, which applies to the document the top entry
 * applies to. Each entry below applies after the one above it, so `op` is carried down.
 */
function transformStack(stack: TextOperation[], op: TextOperation): TextOperation[] {
  const out = new Array<TextOperation>(stack.length);
  let carried = op;
  for (let i = stack.length - 1; i >= 0; i--) {
    const [entry, next] = transform(stack[i] as TextOperation, carried, "right");
    out[i] = entry;
    carried = next;
  }
  return out;
}

/** Pops entries until one that still changes something (remote edits may have made some no-ops). */
function popEffective(stack: TextOperation[]): TextOperation | null {
  for (;;) {
    const op = stack.pop();
    if (!op) return null;
    if (!op.isNoop()) return op;
  }
}
