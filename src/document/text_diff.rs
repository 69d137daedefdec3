//! The op that turns one text into another: what `POST /docs/<id>/text` submits, what a
//! restore applies, and what `GET /docs/<id>/diff` answers for versions too far apart to
//! compose. It keeps the common prefix and suffix, and in between takes a minimal edit script
//! over code points (Myers, through `similar`), so the op touches only what changed and merges
//! with concurrent edits elsewhere. A diff that would take longer than
//! [`DIFF_DEADLINE`] settles for a coarser script (still exact: it turns `old` into `new`), so no
//! input can stall a document or a request; large inputs are diffed off the async threads.

use std::time::Instant;

use ot::Operation;
use similar::{Algorithm, DiffOp};

use crate::config::limits::DIFF_DEADLINE;

/// Below this many code points (each side, once prefix and suffix are trimmed) a diff is
/// cheap enough to compute on the calling thread.
const INLINE_CHARS: usize = 4096;

/// The op (spanning `old`) that turns `old` into `new`.
pub fn text_diff(old: &str, new: &str) -> Operation {
    let a: Vec<char> = old.chars().collect();
    let b: Vec<char> = new.chars().collect();
    diff_chars(&a, &b)
}

/// [`text_diff`], off the async threads when the changed middle is large.
pub async fn text_diff_off_thread(old: String, new: String) -> Operation {
    let a: Vec<char> = old.chars().collect();
    let b: Vec<char> = new.chars().collect();
    let (prefix, suffix) = common_ends(&a, &b);
    if a.len() - prefix - suffix <= INLINE_CHARS && b.len() - prefix - suffix <= INLINE_CHARS {
        return diff_chars(&a, &b);
    }
    match tokio::task::spawn_blocking(move || diff_chars(&a, &b)).await {
        Ok(op) => op,
        // The closure does not panic; should the pool be gone, the diff still has an answer.
        Err(_) => text_diff(&old, &new),
    }
}

/// Lengths of the common prefix and of the common suffix after it.
fn common_ends(a: &[char], b: &[char]) -> (usize, usize) {
    let prefix = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let suffix = a[prefix..]
        .iter()
        .rev()
        .zip(b[prefix..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    (prefix, suffix)
}

fn diff_chars(a: &[char], b: &[char]) -> Operation {
    let (prefix, suffix) = common_ends(a, b);
    let mut op = Operation::new();
    op.retain(prefix);
    let steps = similar::capture_diff_deadline(
        Algorithm::Myers,
        a,
        prefix..a.len() - suffix,
        b,
        prefix..b.len() - suffix,
        Some(Instant::now() + DIFF_DEADLINE),
    );
    for step in steps {
        match step {
            DiffOp::Equal { len, .. } => {
                op.retain(len);
            }
            DiffOp::Delete { old_len, .. } => {
                op.delete(old_len);
            }
            DiffOp::Insert {
                new_index, new_len, ..
            } => {
                op.insert(&b[new_index..new_index + new_len].iter().collect::<String>());
            }
            DiffOp::Replace {
                old_len,
                new_index,
                new_len,
                ..
            } => {
                op.insert(&b[new_index..new_index + new_len].iter().collect::<String>())
                    .delete(old_len);
            }
        }
    }
    op.retain(suffix);
    op
}

/// Code points an op inserts and deletes.
pub fn op_size(op: &Operation) -> (usize, usize) {
    op.components()
        .iter()
        .fold((0, 0), |(ins, del), c| match c {
            ot::Component::Insert(_) => (ins + c.target_len(), del),
            ot::Component::Delete(n) => (ins, del + n),
            ot::Component::Retain(_) => (ins, del),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn keeps_what_is_common_and_touches_only_what_changed() {
        let op = text_diff("hello world", "hello brave world");
        assert_eq!(op.to_json(), r#"[6,"brave ",5]"#);
        let op = text_diff("abc😀def", "abcdef");
        assert_eq!(op.to_json(), r#"[3,-1,3]"#);
        assert_eq!(text_diff("same", "same").to_json(), "[4]");
        assert_eq!(text_diff("", "new").to_json(), r#"["new"]"#);
        assert_eq!(text_diff("old", "").to_json(), "[-3]");
        // Minimal over code points: two separate edits, not one replacement.
        let op = text_diff("one two three", "one 2 three!");
        assert_eq!(op_size(&op), (2, 3));
        assert_eq!(op.apply("one two three").unwrap(), "one 2 three!");
    }

    proptest! {
        #[test]
        fn the_diff_turns_old_into_new(old in "[ab😀é\n]{0,40}", new in "[ab😀é\n]{0,40}") {
            let op = text_diff(&old, &new);
            prop_assert_eq!(op.base_len(), old.chars().count());
            prop_assert_eq!(op.apply(&old).unwrap(), new);
        }
    }
}
