//! [`SplitMix64`], the PRNG of the seeded test loops and of generated files such as
//! `ot/testdata/vectors.json`: no dependency, and the same sequence on every platform and for
//! every version of every crate, so a seed names one case forever.

/// A small deterministic PRNG (SplitMix64).
#[derive(Clone, Debug)]
pub struct SplitMix64(
    /// The state; any value is a valid seed.
    pub u64,
);

impl SplitMix64 {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`; the modulo bias is irrelevant here).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// A random char with the same mix as [`arb_char`](super::arb_char).
    pub fn char(&mut self) -> char {
        const SPECIAL: &[char] = &[
            'é',
            'ß',
            'Ω',
            '\u{200D}',
            '\u{FE0F}',
            '𝄞',
            '👍',
            '\u{1F3FD}',
            '🇫',
            '🇷',
            '한',
            '\n',
        ];
        let pick = |lo: u32, span: usize, r: &mut Self| {
            char::from_u32(lo + r.below(span) as u32).expect("ranges hold only scalar values")
        };
        match self.below(16) {
            0..=7 => pick('a' as u32, 26, self),
            8 | 9 => pick(0x0300, 0x70, self),
            10 | 11 => pick(0x4E00, 0x200, self),
            12 | 13 => pick(0x1F600, 0x50, self),
            _ => SPECIAL[self.below(SPECIAL.len())],
        }
    }

    /// Non-empty text of `1..=max` chars from [`SplitMix64::char`] (`max > 0`).
    pub fn text(&mut self, max: usize) -> String {
        let n = 1 + self.below(max);
        (0..n).map(|_| self.char()).collect()
    }
}
