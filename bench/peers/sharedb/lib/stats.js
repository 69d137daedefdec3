// Latency summaries and the seeded PRNG.

// Nearest-rank percentiles over every sample (no histogram buckets, no interpolation): with at
// most a few hundred thousand samples per run, sorting them all is cheap and exact.
export function summarize(samplesMs) {
  const n = samplesMs.length;
  if (n === 0) return null;
  const sorted = Float64Array.from(samplesMs).sort();
  const rank = (q) => sorted[Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1))];
  let sum = 0;
  for (let i = 0; i < n; i++) sum += sorted[i];
  return {
    count: n,
    p50: round3(rank(0.5)),
    p99: round3(rank(0.99)),
    p999: round3(rank(0.999)),
    max: round3(sorted[n - 1]),
    mean: round3(sum / n),
  };
}

export function round3(x) {
  return Math.round(x * 1000) / 1000;
}

// A growable list of float samples that does not box every number the way a JS array of
// doubles can once it gets large.
export class Samples {
  constructor(capacity = 1024) {
    this.buf = new Float64Array(capacity);
    this.length = 0;
  }

  push(x) {
    if (this.length === this.buf.length) {
      const bigger = new Float64Array(this.buf.length * 2);
      bigger.set(this.buf);
      this.buf = bigger;
    }
    this.buf[this.length++] = x;
  }

  values() {
    return this.buf.subarray(0, this.length);
  }
}

// mulberry32: tiny, fast, and good enough to pick edit positions. What matters is that a seed
// always gives the same choices, so that runs can be repeated; the positions themselves still
// depend on how the editors' ops interleave.
export function prng(seed) {
  let a = seed >>> 0;
  return function next() {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
