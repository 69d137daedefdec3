// Deterministic randomness for property-style tests: a seeded PRNG and generators of texts and
// operations that mix ASCII, combining marks, CJK and astral-plane characters.
import { OperationBuilder, type TextOperation } from "../../src/operation.js";
import type { TextChange } from "../../src/changes.js";

/** SplitMix32-style PRNG: deterministic for a seed. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  /** A float in [0, 1). */
  next(): number {
    this.s = (this.s + 0x9e3779b9) >>> 0;
    let z = this.s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return ((z ^ (z >>> 16)) >>> 0) / 4294967296;
  }
  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  bool(p = 0.5): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)] as T;
  }
}

/** The seed of a randomized test: `SEED` from the environment, else a fixed default. */
export function seedFromEnv(fallback: number): number {
  const v = process.env.SEED;
  return v === undefined ? fallback : Number(v);
}

/** Code points that trip up UTF-16/code-point confusion. */
export const TRICKY = ["a", "b", "x", " ", "é", "\u0301", "中", "文", "😀", "👍", "🏽", "𝄞", "🇫", "🇷", "\u200d", "\n"];

/** A random string of up to `max` code points. */
export function randomText(rng: Rng, max: number): string {
  let s = "";
  const n = rng.int(0, max);
  for (let i = 0; i < n; i++) s += rng.pick(TRICKY);
  return s;
}

/** A random operation over a document of `len` code points. */
export function randomOp(rng: Rng, len: number, maxInsert = 4): TextOperation {
  const b = new OperationBuilder();
  let left = len;
  while (left > 0) {
    const k = rng.int(1, Math.min(left, 4));
    const r = rng.next();
    if (r < 0.5) b.retain(k);
    else if (r < 0.75) b.delete(k);
    else {
      b.insert(randomText(rng, maxInsert));
      b.retain(k);
    }
    left -= k;
  }
  if (rng.bool(0.4)) b.insert(randomText(rng, maxInsert));
  return b.build();
}

/** A random single splice (what one keystroke or paste does) over `len` code points. */
export function randomSplice(rng: Rng, len: number): TextOperation {
  const pos = rng.int(0, len);
  const del = rng.bool(0.4) ? rng.int(0, Math.min(3, len - pos)) : 0;
  const ins = del > 0 && rng.bool(0.5) ? "" : randomText(rng, 3) || "z";
  return new OperationBuilder().retain(pos).insert(ins).delete(del).retain(len - pos - del).build();
}

/** Random UTF-16 changes on `text` at code point boundaries, all relative to `text`. */
export function randomChanges(rng: Rng, text: string): TextChange[] {
  // Boundaries between code points, in UTF-16 units.
  const bounds = [0];
  for (const ch of text) bounds.push((bounds[bounds.length - 1] as number) + ch.length);
  const changes: TextChange[] = [];
  let i = 0;
  while (i < bounds.length && changes.length < 3) {
    i += rng.int(0, 3);
    if (i >= bounds.length) break;
    const j = Math.min(bounds.length - 1, i + (rng.bool(0.5) ? rng.int(0, 2) : 0));
    const insert = rng.bool(0.7) ? randomText(rng, 3) : "";
    changes.push({ from: bounds[i] as number, to: bounds[j] as number, insert });
    i = j + 1;
  }
  return changes;
}
