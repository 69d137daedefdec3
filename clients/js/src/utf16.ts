/**
 * Position conversion between the two units in play:
 *
 * - **UTF-16 code units**: what JavaScript strings, the DOM, CodeMirror, Monaco and ProseMirror
 *   count (`"😀".length === 2`).
 * - **Code points** (Unicode scalar values): what otterdoc counts on the wire
 *   (`[..."😀"].length === 1`).
 *
 * Everything here is pure and works on plain strings. Combining marks (`"e\u0301"`) are two
 * code points in both units; astral characters (emoji, `𝄞`, rare CJK) are one code point but two
 * UTF-16 units; a ZWJ sequence like `"👩\u200d💻"` is three code points and five units.
 *
 * @module
 */

/** True when `unit` is a UTF-16 high (leading) surrogate. */
export function isHighSurrogate(unit: number): boolean {
  return unit >= 0xd800 && unit <= 0xdbff;
}

/** True when `unit` is a UTF-16 low (trailing) surrogate. */
export function isLowSurrogate(unit: number): boolean {
  return unit >= 0xdc00 && unit <= 0xdfff;
}

/**
 * Number of code points in `text` (what otterdoc calls its length). A lone surrogate counts as
 * one, like `[...text].length`.
 */
export function codePointLength(text: string): number {
  let n = text.length;
  for (let i = 0; i + 1 < text.length; i++) {
    if (isHighSurrogate(text.charCodeAt(i)) && isLowSurrogate(text.charCodeAt(i + 1))) {
      n--;
      i++;
    }
  }
  return n;
}

/**
 * The UTF-16 offset reached by advancing `count` code points from the UTF-16 offset `from`
 * (clamped to the end of `text`).
 */
export function advanceCodePoints(text: string, from: number, count: number): number {
  let i = from;
  const end = text.length;
  while (count > 0 && i < end) {
    if (isHighSurrogate(text.charCodeAt(i)) && i + 1 < end && isLowSurrogate(text.charCodeAt(i + 1))) {
      i += 2;
    } else {
      i += 1;
    }
    count--;
  }
  return i;
}

/** True when the UTF-16 offset `offset` falls between the two halves of a surrogate pair. */
export function splitsSurrogatePair(text: string, offset: number): boolean {
  return (
    offset > 0 &&
    offset < text.length &&
    isLowSurrogate(text.charCodeAt(offset)) &&
    isHighSurrogate(text.charCodeAt(offset - 1))
  );
}

/**
 * True when `text` is well-formed UTF-16 (no lone surrogates), i.e. it can be sent to the
 * server: JSON cannot carry a lone surrogate to a Rust server.
 */
export function isWellFormed(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (isHighSurrogate(c)) {
      if (i + 1 >= text.length || !isLowSurrogate(text.charCodeAt(i + 1))) return false;
      i++;
    } else if (isLowSurrogate(c)) {
      return false;
    }
  }
  return true;
}

/**
 * Converts a UTF-16 offset in `text` to a code point index. An offset inside a surrogate pair is
 * rounded down (to the start of that character); an offset past the end is clamped to the end.
 */
export function utf16ToCodePoint(text: string, offset: number): number {
  const end = Math.max(0, Math.min(offset, text.length));
  let n = 0;
  let i = 0;
  while (i < end) {
    if (isHighSurrogate(text.charCodeAt(i)) && i + 1 < text.length && isLowSurrogate(text.charCodeAt(i + 1))) {
      if (i + 1 === end) break; // `offset` splits this pair: round down
      i += 2;
    } else {
      i += 1;
    }
    n++;
  }
  return n;
}

/**
 * Converts a code point index in `text` to a UTF-16 offset (clamped to the end of `text`).
 */
export function codePointToUtf16(text: string, index: number): number {
  return advanceCodePoints(text, 0, Math.max(0, index));
}

/**
 * Converts many UTF-16 offsets of one text to code point indices in a single pass.
 * Offsets may be in any order; the result has the same order.
 */
export function utf16ToCodePoints(text: string, offsets: readonly number[]): number[] {
  return convertMany(offsets, (sorted) => {
    const out: number[] = [];
    let i = 0;
    let n = 0;
    for (const raw of sorted) {
      const target = Math.max(0, Math.min(raw, text.length));
      while (i < target) {
        const pair =
          isHighSurrogate(text.charCodeAt(i)) && i + 1 < text.length && isLowSurrogate(text.charCodeAt(i + 1));
        if (pair && i + 1 === target) break; // splits a pair: round down
        i += pair ? 2 : 1;
        n++;
      }
      out.push(n);
    }
    return out;
  });
}

/**
 * Converts many code point indices of one text to UTF-16 offsets in a single pass.
 * Indices may be in any order; the result has the same order.
 */
export function codePointsToUtf16(text: string, indices: readonly number[]): number[] {
  return convertMany(indices, (sorted) => {
    const out: number[] = [];
    let i = 0;
    let n = 0;
    for (const raw of sorted) {
      const target = Math.max(0, raw);
      i = advanceCodePoints(text, i, target - n);
      n = target;
      out.push(i);
    }
    return out;
  });
}

function convertMany(values: readonly number[], convertSorted: (sorted: number[]) => number[]): number[] {
  const order = values.map((_, i) => i).sort((a, b) => (values[a] as number) - (values[b] as number));
  const converted = convertSorted(order.map((i) => values[i] as number));
  const out = new Array<number>(values.length);
  order.forEach((original, k) => {
    out[original] = converted[k] as number;
  });
  return out;
}
