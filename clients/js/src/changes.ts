/**
 * Editor-facing changes in UTF-16 offsets (the shape of CodeMirror's `ChangeSpec`) and their
 * conversion to and from code-point operations. This is the edge where UTF-16 becomes code
 * points: everything inside the client counts code points, everything an editor sees counts
 * UTF-16 units.
 *
 * @module
 */

import { OperationBuilder, type TextOperation } from "./operation.js";
import {
  advanceCodePoints,
  codePointLength,
  codePointsToUtf16,
  isHighSurrogate,
  isLowSurrogate,
  isWellFormed,
  splitsSurrogatePair,
  utf16ToCodePoints,
} from "./utf16.js";

/**
 * Replace the UTF-16 range `from`–`to` (default: `to = from`, an insert) with `insert`
 * (default: `""`, a delete).
 *
 * In a list of changes, every position refers to the document **before** any of them, like
 * CodeMirror's `ChangeSet.of`: the ranges must not overlap (touching is fine); several inserts at
 * one position are applied in the order given.
 */
export interface TextChange {
  readonly from: number;
  readonly to?: number;
  readonly insert?: string;
}

/** A selection range in UTF-16 offsets: `anchor` is where it started, `head` where the caret is. */
export interface SelectionRange {
  readonly anchor: number;
  readonly head: number;
}

/** A change that cannot be applied to the text it was given for. Nothing was changed. */
export class InvalidChangeError extends RangeError {
  override readonly name = "InvalidChangeError";
}

/** Sorts changes by position, keeping the given order for equal positions, and validates them. */
function normalise(text: string, changes: readonly TextChange[]): { from: number; to: number; insert: string }[] {
  const list = changes
    .map((c, i) => ({ from: c.from, to: c.to ?? c.from, insert: c.insert ?? "", i }))
    .sort((a, b) => a.from - b.from || a.to - b.to || a.i - b.i);
  let end = 0;
  for (const c of list) {
    if (!Number.isInteger(c.from) || !Number.isInteger(c.to) || c.from < 0 || c.to < c.from || c.to > text.length) {
      throw new InvalidChangeError(
        `change ${c.from}–${c.to} is not a range inside a document of ${text.length} UTF-16 units`,
      );
    }
    if (c.from < end) throw new InvalidChangeError(`change ${c.from}–${c.to} overlaps the change before it`);
    if (splitsSurrogatePair(text, c.from) || splitsSurrogatePair(text, c.to)) {
      throw new InvalidChangeError(`change ${c.from}–${c.to} splits a surrogate pair (an astral character)`);
    }
    if (!isWellFormed(c.insert)) throw new InvalidChangeError("inserted text contains a lone surrogate");
    end = c.to;
  }
  return list;
}

/**
 * Converts UTF-16 changes to `text` into a code-point operation spanning `text`.
 *
 * @throws InvalidChangeError when a change is out of range, overlaps another, splits a
 *   surrogate pair or inserts a lone surrogate.
 */
export function changesToOperation(text: string, changes: readonly TextChange[]): TextOperation {
  const list = normalise(text, changes);
  const points = utf16ToCodePoints(
    text,
    list.flatMap((c) => [c.from, c.to]),
  );
  const b = new OperationBuilder();
  let pos = 0; // code points consumed
  list.forEach((c, k) => {
    const from = points[2 * k] as number;
    const to = points[2 * k + 1] as number;
    b.retain(from - pos).insert(c.insert).delete(to - from);
    pos = to;
  });
  return b.retain(codePointLength(text) - pos).build();
}

/**
 * Converts an operation on `text` to UTF-16 changes, all relative to `text` (sorted,
 * non-overlapping; each replacement is one change). Ready for CodeMirror's
 * `view.dispatch({ changes })`, or {@link applyChanges}.
 */
export function operationToChanges(text: string, op: TextOperation): TextChange[] {
  const out: { from: number; to: number; insert: string }[] = [];
  let pos = 0; // UTF-16 offset in `text`
  const comps = op.components;
  // The trailing retain needs no walk.
  const last = comps.length > 0 && typeof comps[comps.length - 1] === "number" && (comps[comps.length - 1] as number) > 0
    ? comps.length - 1
    : comps.length;
  for (let i = 0; i < last; i++) {
    const c = comps[i] as number | string;
    if (typeof c === "string") {
      const prev = out[out.length - 1];
      if (prev && prev.to === pos) prev.insert += c;
      else out.push({ from: pos, to: pos, insert: c });
    } else if (c > 0) {
      pos = advanceCodePoints(text, pos, c);
    } else {
      const end = advanceCodePoints(text, pos, -c);
      const prev = out[out.length - 1];
      if (prev && prev.to === pos) prev.to = end;
      else out.push({ from: pos, to: end, insert: "" });
      pos = end;
    }
  }
  return out;
}

/**
 * Applies UTF-16 changes (all relative to `text`) and returns the new text.
 *
 * @throws InvalidChangeError as {@link changesToOperation}.
 */
export function applyChanges(text: string, changes: readonly TextChange[]): string {
  const list = normalise(text, changes);
  const parts: string[] = [];
  let pos = 0;
  for (const c of list) {
    parts.push(text.slice(pos, c.from), c.insert);
    pos = c.to;
  }
  parts.push(text.slice(pos));
  return parts.join("");
}

/**
 * The single change that turns `oldText` into `newText` (common prefix and suffix kept), never
 * splitting a surrogate pair — for bindings that only see the text before and after an edit,
 * such as a `<textarea>`'s `input` event. Returns `[]` when the texts are equal.
 *
 * `caret` (optional) is the caret position in `newText` after the edit; when the edit is
 * ambiguous (typing `a` into `aa`), it places the change so that it ends at the caret, as the
 * user typed it.
 */
export function diffToChanges(oldText: string, newText: string, caret?: number): TextChange[] {
  if (oldText === newText) return [];
  const max = Math.min(oldText.length, newText.length);
  let prefix = 0;
  while (prefix < max && oldText.charCodeAt(prefix) === newText.charCodeAt(prefix)) prefix++;
  let suffix = 0;
  while (
    suffix < max - prefix &&
    oldText.charCodeAt(oldText.length - 1 - suffix) === newText.charCodeAt(newText.length - 1 - suffix)
  ) {
    suffix++;
  }
  if (caret !== undefined) {
    // Slide an ambiguous change left so that it ends at the caret (the suffix grows, the
    // prefix shrinks, by equal text on both sides).
    const insertedEnd = newText.length - suffix;
    if (caret < insertedEnd && caret >= 0) {
      const shift = Math.min(prefix, insertedEnd - caret);
      let k = 0;
      while (
        k < shift &&
        oldText.charCodeAt(oldText.length - suffix - 1 - k) === newText.charCodeAt(newText.length - suffix - 1 - k)
      ) {
        k++;
      }
      prefix -= k;
      suffix += k;
    }
  }
  // Never cut between the halves of a surrogate pair: the prefix may end on a shared high
  // surrogate, the suffix may start on a shared low surrogate.
  if (prefix > 0 && isHighSurrogate(oldText.charCodeAt(prefix - 1))) prefix--;
  if (suffix > 0 && isLowSurrogate(oldText.charCodeAt(oldText.length - suffix))) suffix--;
  return [{ from: prefix, to: oldText.length - suffix, insert: newText.slice(prefix, newText.length - suffix) }];
}

/** Converts UTF-16 selection ranges in `text` to code points (offsets inside a pair round down). */
export function selectionToCodePoints(text: string, ranges: readonly SelectionRange[]): { anchor: number; head: number }[] {
  const points = utf16ToCodePoints(
    text,
    ranges.flatMap((r) => [r.anchor, r.head]),
  );
  return ranges.map((_, i) => ({ anchor: points[2 * i] as number, head: points[2 * i + 1] as number }));
}

/** Converts code-point selection ranges in `text` to UTF-16 offsets. */
export function selectionToUtf16(
  text: string,
  ranges: readonly { anchor: number; head: number }[],
): SelectionRange[] {
  const units = codePointsToUtf16(
    text,
    ranges.flatMap((r) => [r.anchor, r.head]),
  );
  return ranges.map((_, i) => ({ anchor: units[2 * i] as number, head: units[2 * i + 1] as number }));
}

/**
 * Where a UTF-16 position of the old text ends up after `changes` (all relative to the old
 * text, as a `change` event delivers them) — to keep a caret or a decoration in place. Same rule
 * as `transformIndex`: text inserted exactly at the position goes after it with `"stay"`
 * (default) and before it with `"push"`; a position inside a replaced range moves to the end of
 * the replacement's inserted text.
 */
export function mapPosition(position: number, changes: readonly TextChange[], bias: "stay" | "push" = "stay"): number {
  const sorted = changes
    .map((c, i) => ({ from: c.from, to: c.to ?? c.from, length: (c.insert ?? "").length, i }))
    .sort((a, b) => a.from - b.from || a.i - b.i);
  let delta = 0;
  for (const c of sorted) {
    if (c.from > position || (c.from === position && bias === "stay")) break;
    if (c.to <= position) delta += c.length - (c.to - c.from);
    else return c.from + delta + c.length;
  }
  return position + delta;
}
