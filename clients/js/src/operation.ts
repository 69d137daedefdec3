/**
 * The text operation algebra — a port of the Rust crate `ot` (`ot/src/operation.rs`,
 * `ot/src/transform.rs`) that agrees with it exactly, checked against the shared vectors in
 * `ot/testdata/vectors.json`.
 *
 * An operation is a sequence of components read left to right over the base document; every
 * length counts **Unicode code points**, never UTF-16 units (see `utf16.ts` for conversion):
 *
 * - a positive integer `n` retains `n` code points,
 * - a non-empty string inserts it,
 * - a negative integer `-n` deletes `n` code points.
 *
 * Operations are always in canonical form (no empty components, no two adjacent components of
 * the same kind, an insert before a delete it touches), span their whole base document, and are
 * immutable once built, so two operations that do the same thing are equal component by
 * component and serialise to the same JSON.
 *
 * @module
 */

import { advanceCodePoints, codePointLength, isWellFormed } from "./utf16.js";

/** One wire component: retain (`n > 0`), insert (non-empty string) or delete (`-n`, `n > 0`). */
export type Component = number | string;

/**
 * Which of two concurrent inserts at the same position goes first. `"left"`: the operation on
 * this side has its insert placed first; `"right"`: second.
 *
 * The otterdoc server transforms an incoming operation with the incoming one on `"left"` (the
 * later op's text goes first), so a client transforms its own unacknowledged operations against
 * received ones on `"left"` too.
 */
export type Side = "left" | "right";

/**
 * How a cursor reacts to text inserted exactly at its position. `"stay"`: the cursor stays, the
 * text ends up after it (the default for other people's typing); `"push"`: the cursor moves past
 * the inserted text (as the typist's own cursor does).
 */
export type Bias = "stay" | "push";

/** A selection in code points: `anchor` is where it started, `head` where the caret is. */
export interface Selection {
  readonly anchor: number;
  readonly head: number;
}

/** An operation that does not fit the document or the other operation it is combined with. */
export class OperationError extends Error {
  override readonly name = "OperationError";
}

/** Builds an operation component by component, keeping it canonical. */
export class OperationBuilder {
  private readonly components: Component[] = [];
  private baseLen = 0;
  private targetLen = 0;

  /** Appends a retain of `n` code points (merged with a preceding retain; `0` is ignored). */
  retain(n: number): this {
    checkLength(n, "retain");
    if (n === 0) return this;
    this.baseLen += n;
    this.targetLen += n;
    const last = this.components.length - 1;
    const prev = this.components[last];
    if (typeof prev === "number" && prev > 0) this.components[last] = prev + n;
    else this.components.push(n);
    return this;
  }

  /**
   * Appends an insert of `text` (merged with an adjacent insert; empty text is ignored). If the
   * operation ends in a delete, the insert goes before it (the canonical order).
   */
  insert(text: string, codePoints: number = codePointLength(text)): this {
    if (text.length === 0) return this;
    this.targetLen += codePoints;
    const c = this.components;
    const n = c.length;
    const last = c[n - 1];
    if (typeof last === "string") {
      c[n - 1] = last + text;
    } else if (typeof last === "number" && last < 0) {
      const before = c[n - 2];
      if (typeof before === "string") c[n - 2] = before + text;
      else c.splice(n - 1, 0, text);
    } else {
      c.push(text);
    }
    return this;
  }

  /** Appends a delete of `n` code points (merged with a preceding delete; `0` is ignored). */
  delete(n: number): this {
    checkLength(n, "delete");
    if (n === 0) return this;
    this.baseLen += n;
    const last = this.components.length - 1;
    const prev = this.components[last];
    if (typeof prev === "number" && prev < 0) this.components[last] = prev - n;
    else this.components.push(-n);
    return this;
  }

  /** Appends one wire component (retain, insert or delete) through the canonicalising builder. */
  push(component: Component): this {
    if (typeof component === "string") return this.insert(component);
    if (component > 0) return this.retain(component);
    return this.delete(-component);
  }

  /** The operation built so far (the builder can keep being used; the result does not change). */
  build(): TextOperation {
    return TextOperation.fromCanonical(this.components.slice(), this.baseLen, this.targetLen);
  }
}

function checkLength(n: number, what: string): void {
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new OperationError(`${what} length must be a non-negative integer, got ${n}`);
  }
}

/**
 * A change to a plain-text document, in canonical form, spanning its whole base document.
 * Immutable: every method returns a new operation.
 */
export class TextOperation {
  /** The components, in canonical wire form (frozen). */
  readonly components: readonly Component[];
  /** Length in code points of the document this operation applies to. */
  readonly baseLength: number;
  /** Length in code points of the document it produces. */
  readonly targetLength: number;

  private constructor(components: Component[], baseLength: number, targetLength: number) {
    this.components = Object.freeze(components);
    this.baseLength = baseLength;
    this.targetLength = targetLength;
  }

  /** @internal Wraps components already in canonical form. */
  static fromCanonical(components: Component[], baseLength: number, targetLength: number): TextOperation {
    return new TextOperation(components, baseLength, targetLength);
  }

  /** An operation that changes nothing in a document of `length` code points. */
  static identity(length: number): TextOperation {
    return new OperationBuilder().retain(length).build();
  }

  /**
   * The operation that replaces `deleteCount` code points at `position` by `insert`, in a
   * document of `docLength` code points — the shape of one keystroke or paste.
   */
  static splice(docLength: number, position: number, deleteCount: number, insert: string): TextOperation {
    if (position < 0 || deleteCount < 0 || position + deleteCount > docLength) {
      throw new OperationError(
        `range of ${deleteCount} characters at ${position} does not fit in a document of ${docLength} characters`,
      );
    }
    return new OperationBuilder()
      .retain(position)
      .insert(insert)
      .delete(deleteCount)
      .retain(docLength - position - deleteCount)
      .build();
  }

  /** Builds an operation from components in any (possibly non-canonical) order. */
  static fromComponents(components: Iterable<Component>): TextOperation {
    const b = new OperationBuilder();
    for (const c of components) b.push(c);
    return b.build();
  }

  /**
   * Parses the wire format (a JSON array, already parsed) as the server does, canonicalising it.
   * Checked deletes `{"d": n}` are accepted; `{"d": "text"}` is converted to a delete of that
   * many code points (the check itself only matters to the server). If `docLength` is given, a
   * missing trailing retain is restored and an operation spanning more is rejected.
   *
   * @throws OperationError for anything the server would reject as `invalid-op`.
   */
  static fromJSON(value: unknown, docLength?: number): TextOperation {
    if (!Array.isArray(value)) throw new OperationError("an operation must be a JSON array");
    const b = new OperationBuilder();
    value.forEach((item: unknown, index: number) => {
      const fail = (why: string): never => {
        throw new OperationError(`component ${index}: ${why}`);
      };
      if (typeof item === "number") {
        if (!Number.isSafeInteger(item)) fail(`${item} is not an integer in range`);
        if (item === 0) fail("0 is not a valid component");
        b.push(item);
      } else if (typeof item === "string") {
        if (item.length === 0) fail("an insert must not be empty");
        if (!isWellFormed(item)) fail("an insert must not contain a lone surrogate");
        b.insert(item);
      } else if (item !== null && typeof item === "object" && !Array.isArray(item)) {
        const keys = Object.keys(item);
        const d = (item as { d?: unknown }).d;
        if (keys.length !== 1 || keys[0] !== "d") fail('the only object component is {"d": …}');
        if (typeof d === "number" && Number.isSafeInteger(d) && d > 0) b.delete(d);
        else if (typeof d === "string" && d.length > 0) b.delete(codePointLength(d));
        else fail('{"d": …} needs a positive integer or a non-empty string');
      } else {
        fail(`${item === null ? "null" : Array.isArray(item) ? "an array" : typeof item} is not a component`);
      }
    });
    const op = b.build();
    return docLength === undefined ? op : op.fitTo(docLength);
  }

  /** The wire form, e.g. `[5, "abc", -3, 7]` (a fresh array). */
  toJSON(): Component[] {
    return this.components.slice();
  }

  /** True when applying the operation changes nothing. */
  isNoop(): boolean {
    return this.components.every((c) => typeof c === "number" && c > 0);
  }

  /** True when both operations have the same components. */
  equals(other: TextOperation): boolean {
    if (this.components.length !== other.components.length) return false;
    return this.components.every((c, i) => c === other.components[i]);
  }

  /** Extends the operation with a trailing retain so that it spans `docLength` code points. */
  fitTo(docLength: number): TextOperation {
    if (this.baseLength > docLength) {
      throw new OperationError(
        `the operation spans ${this.baseLength} characters, but the document has ${docLength}`,
      );
    }
    if (this.baseLength === docLength) return this;
    const b = new OperationBuilder();
    for (const c of this.components) b.push(c);
    return b.retain(docLength - this.baseLength).build();
  }

  /** Applies the operation to `text` (whose code point length must be `baseLength`). */
  apply(text: string): string {
    const actual = codePointLength(text);
    if (actual !== this.baseLength) {
      throw new OperationError(
        `operation applies to a document of ${this.baseLength} characters, but the document has ${actual}`,
      );
    }
    const parts: string[] = [];
    let pos = 0; // UTF-16 offset in `text`
    for (const c of this.components) {
      if (typeof c === "string") {
        parts.push(c);
      } else if (c > 0) {
        const end = advanceCodePoints(text, pos, c);
        parts.push(text.slice(pos, end));
        pos = end;
      } else {
        pos = advanceCodePoints(text, pos, -c);
      }
    }
    return parts.join("");
  }

  /**
   * `this` followed by `next` as one operation:
   * `next.apply(this.apply(s)) === this.compose(next).apply(s)`.
   */
  compose(next: TextOperation): TextOperation {
    if (this.targetLength !== next.baseLength) {
      throw new OperationError(
        `cannot compose: the first operation produces ${this.targetLength} characters but the second applies to ${next.baseLength}`,
      );
    }
    const out = new OperationBuilder();
    const a = new Pieces(this.components);
    const b = new Pieces(next.components);
    for (;;) {
      // Deletes of the first op and inserts of the second need no partner.
      const pa = a.peek();
      if (pa === DELETE) {
        out.delete(a.remaining());
        a.next();
        continue;
      }
      const pb = b.peek();
      if (pb === INSERT) {
        const [s, n] = b.takeInsert(Infinity);
        out.insert(s, n);
        continue;
      }
      if (pa === END && pb === END) break;
      if (pa === RETAIN && pb === RETAIN) {
        const n = Math.min(a.remaining(), b.remaining());
        out.retain(n);
        a.consume(n);
        b.consume(n);
      } else if (pa === RETAIN && pb === DELETE) {
        const n = Math.min(a.remaining(), b.remaining());
        out.delete(n);
        a.consume(n);
        b.consume(n);
      } else if (pa === INSERT && pb === RETAIN) {
        const [s, n] = a.takeInsert(b.remaining());
        out.insert(s, n);
        b.consume(n);
      } else if (pa === INSERT && pb === DELETE) {
        const [, n] = a.takeInsert(b.remaining());
        b.consume(n);
      } else {
        throw new OperationError("compose: components misaligned");
      }
    }
    return out.build();
  }

  /** Composes consecutive operations (each applying to the result of the one before). */
  static composeAll(ops: readonly TextOperation[]): TextOperation | null {
    let level = ops.slice();
    if (level.length === 0) return null;
    while (level.length > 1) {
      const next: TextOperation[] = [];
      for (let i = 0; i < level.length; i += 2) {
        const first = level[i] as TextOperation;
        const second = level[i + 1];
        next.push(second ? first.compose(second) : first);
      }
      level = next;
    }
    return level[0] as TextOperation;
  }

  /**
   * The operation that undoes this one, given the text it applies to:
   * `op.invert(s).apply(op.apply(s)) === s`.
   */
  invert(baseText: string): TextOperation {
    const actual = codePointLength(baseText);
    if (actual !== this.baseLength) {
      throw new OperationError(
        `operation applies to a document of ${this.baseLength} characters, but the document has ${actual}`,
      );
    }
    const out = new OperationBuilder();
    let pos = 0;
    for (const c of this.components) {
      if (typeof c === "string") {
        out.delete(codePointLength(c));
      } else if (c > 0) {
        out.retain(c);
        pos = advanceCodePoints(baseText, pos, c);
      } else {
        const end = advanceCodePoints(baseText, pos, -c);
        out.insert(baseText.slice(pos, end), -c);
        pos = end;
      }
    }
    return out.build();
  }

  /** Debug form, e.g. `TextOperation[5,"abc",-3,7]`. */
  toString(): string {
    return `TextOperation${JSON.stringify(this.components)}`;
  }
}

/**
 * Transforms two operations made concurrently against the same document. Returns `[a′, b′]`
 * with `b′.apply(a.apply(s)) === a′.apply(b.apply(s))`. `side` is `a`'s side: with `"left"`,
 * when both insert at the same position `a`'s text ends up first.
 */
export function transform(a: TextOperation, b: TextOperation, side: Side): [TextOperation, TextOperation] {
  if (a.baseLength !== b.baseLength) {
    throw new OperationError(
      `cannot transform: the operations apply to documents of ${a.baseLength} and ${b.baseLength} characters`,
    );
  }
  const aOut = new OperationBuilder();
  const bOut = new OperationBuilder();
  const x = new Pieces(a.components);
  const y = new Pieces(b.components);
  for (;;) {
    const pa = x.peek();
    const pb = y.peek();
    if (pa === INSERT && (side === "left" || pb !== INSERT)) {
      const [s, n] = x.takeInsert(Infinity);
      aOut.insert(s, n);
      bOut.retain(n);
      continue;
    }
    if (pb === INSERT) {
      const [s, n] = y.takeInsert(Infinity);
      aOut.retain(n);
      bOut.insert(s, n);
      continue;
    }
    if (pa === END && pb === END) break;
    if (pa === END || pb === END) throw new OperationError("transform: components misaligned");
    const k = Math.min(x.remaining(), y.remaining());
    if (pa === RETAIN && pb === RETAIN) {
      aOut.retain(k);
      bOut.retain(k);
    } else if (pa === DELETE && pb === RETAIN) {
      aOut.delete(k);
    } else if (pa === RETAIN && pb === DELETE) {
      bOut.delete(k);
    } // both delete the same text: nothing left for either to do
    x.consume(k);
    y.consume(k);
  }
  return [aOut.build(), bOut.build()];
}

/**
 * Transforms `op` through consecutive operations `history` (the first applies to `op`'s base),
 * with `op` on `side` in every step — what the server does to catch a submission up.
 */
export function transformThrough(op: TextOperation, history: Iterable<TextOperation>, side: Side): TextOperation {
  let current = op;
  for (const h of history) current = transform(current, h, side)[0];
  return current;
}

/**
 * Where a position (a cursor between code points of `op`'s base document) ends up after `op`.
 * Inserts before it shift it right; an insert exactly at it shifts it only with `"push"`;
 * a position inside a deleted range moves to the range's start (after any text inserted in its
 * place); positions past the end are clamped.
 */
export function transformIndex(index: number, op: TextOperation, bias: Bias = "stay"): number {
  const idx = Math.max(0, Math.min(index, op.baseLength));
  let basePos = 0;
  let newIndex = idx;
  for (const c of op.components) {
    if (basePos > idx || (basePos === idx && bias === "stay")) break;
    if (typeof c === "string") {
      newIndex += codePointLength(c);
    } else if (c > 0) {
      basePos += c;
    } else {
      newIndex -= Math.min(-c, idx - basePos);
      basePos += -c;
    }
  }
  return newIndex;
}

/** Transforms both ends of a selection with {@link transformIndex}. */
export function transformSelection(selection: Selection, op: TextOperation, bias: Bias = "stay"): Selection {
  return {
    anchor: transformIndex(selection.anchor, op, bias),
    head: transformIndex(selection.head, op, bias),
  };
}

// ---------------------------------------------------------------------------------------------
// A cursor over a component list that hands out parts of components, in code points.

const END = 0;
const RETAIN = 1;
const INSERT = 2;
const DELETE = 3;
type PieceKind = typeof END | typeof RETAIN | typeof INSERT | typeof DELETE;

class Pieces {
  private index = 0;
  /** Retain/delete: code points consumed of the current component. Insert: UTF-16 units. */
  private offset = 0;

  constructor(private readonly components: readonly Component[]) {}

  peek(): PieceKind {
    const c = this.components[this.index];
    if (c === undefined) return END;
    if (typeof c === "string") return INSERT;
    return c > 0 ? RETAIN : DELETE;
  }

  /** Code points left in the current retain or delete. */
  remaining(): number {
    const c = this.components[this.index] as number;
    return Math.abs(c) - this.offset;
  }

  next(): void {
    this.index++;
    this.offset = 0;
  }

  consume(n: number): void {
    this.offset += n;
    if (this.offset >= Math.abs(this.components[this.index] as number)) this.next();
  }

  /** Takes up to `max` code points of the current insert: [text, code points]. */
  takeInsert(max: number): [string, number] {
    const s = this.components[this.index] as string;
    const start = this.offset;
    let end: number;
    let n: number;
    if (max === Infinity) {
      end = s.length;
      n = codePointLength(start === 0 ? s : s.slice(start));
    } else {
      end = advanceCodePoints(s, start, max);
      n = codePointLength(s.slice(start, end));
    }
    if (end >= s.length) this.next();
    else this.offset = end;
    return [start === 0 && end === s.length ? s : s.slice(start, end), n];
  }
}
