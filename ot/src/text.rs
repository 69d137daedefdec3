//! Char (code point) counting and slicing: the one place that converts between the crate's
//! code-point positions and Rust's UTF-8 byte offsets, and [`TextSource`], the read-only view
//! of a text by code point that a checked delete is verified against (a `&str` here, the rope
//! of [`crate::Document`] there).

/// Text that a checked delete can be verified against.
pub trait TextSource {
    /// Length in chars.
    fn char_len(&self) -> usize;
    /// `len` chars starting at char `start` (the caller keeps the range in bounds).
    fn slice_chars(&self, start: usize, len: usize) -> String;
}

impl TextSource for str {
    fn char_len(&self) -> usize {
        char_len(self)
    }
    fn slice_chars(&self, start: usize, len: usize) -> String {
        let tail = split_at_char(self, start).1;
        split_at_char(tail, len).0.to_owned()
    }
}

impl TextSource for String {
    fn char_len(&self) -> usize {
        char_len(self)
    }
    fn slice_chars(&self, start: usize, len: usize) -> String {
        self.as_str().slice_chars(start, len)
    }
}

/// Number of Unicode scalar values in `s`.
pub(crate) fn char_len(s: &str) -> usize {
    // ASCII is by far the common case in editor traffic and is cheap to check.
    if s.is_ascii() {
        s.len()
    } else {
        s.chars().count()
    }
}

/// Splits `s` after `n` chars (or at its end if it is shorter).
pub(crate) fn split_at_char(s: &str, n: usize) -> (&str, &str) {
    let (head, _) = prefix_chars(s, n);
    s.split_at(head.len())
}

/// The longest prefix of `s` with at most `max` chars, and its char count.
pub(crate) fn prefix_chars(s: &str, max: usize) -> (&str, usize) {
    if s.len() <= max && s.is_ascii() {
        return (s, s.len());
    }
    match s.char_indices().nth(max) {
        Some((byte, _)) => (&s[..byte], max),
        None => (s, char_len(s)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_splits_by_code_point() {
        let s = "a😀é中";
        assert_eq!(char_len(s), 4);
        assert_eq!(split_at_char(s, 2), ("a😀", "é中"));
        assert_eq!(split_at_char(s, 9), (s, ""));
        assert_eq!(prefix_chars(s, 3), ("a😀é", 3));
        assert_eq!(prefix_chars("abc", 9), ("abc", 3));
        assert_eq!(s.slice_chars(1, 2), "😀é");
        assert_eq!(TextSource::char_len(s), 4);
    }
}
