//! Transformation of concurrent operations (`transform`) and of cursor positions
//! (`transform_index`, `transform_selection`) — the part of OT that lets two sites apply each
//! other's operations in different orders and still converge.
//!
//! # Tie-break, and what the otterdoc server does
//!
//! When both operations insert at the same position, [`Side`] decides whose text comes first.
//! The otterdoc server transforms an incoming operation against every operation already in the
//! history after its base with the **incoming operation on [`Side::Left`]**: at one position the
//! later operation's text goes first. Editors keep a caret before text someone else inserts at
//! it, so keys typed before the other operation was seen belong before that text; this
//! tie-break puts them there, and two people typing at one spot each get an unbroken run (the
//! ot.js and ShareDB convention). A client mirroring the server therefore transforms its own
//! pending (unacknowledged) operation against a received operation with its pending operation on
//! `Side::Left` — i.e. `transform(&pending, &received, Side::Left)` — and applies the returned
//! `received′` to its document.

use crate::error::OtError;
use crate::operation::{Component, Components, Operation, Piece, Pieces};
use crate::text::char_len;

/// Which of two concurrent inserts at the same position goes first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// The operation on this side has its insert placed first (to the left).
    Left,
    /// The operation on this side has its insert placed second (to the right).
    Right,
}

impl Side {
    /// The other side.
    pub fn opposite(self) -> Side {
        match self {
            Side::Left => Side::Right,
            Side::Right => Side::Left,
        }
    }
}

/// Transforms two operations made concurrently against the same document.
///
/// Returns `(a′, b′)` with `apply(apply(s, a), b′) == apply(apply(s, b), a′)`, and
/// `a.compose(b′) == b.compose(a′)`. `side` is the side of `a`: with `Side::Left`, when both
/// insert at the same position `a`'s text ends up first.
///
/// ```
/// use ot::{transform, Operation, Side};
/// let a = Operation::splice(3, 1, 0, "X").unwrap();
/// let b = Operation::splice(3, 1, 0, "Y").unwrap();
/// let (a2, b2) = transform(&a, &b, Side::Left).unwrap();
/// let left = b2.apply(&a.apply("abc").unwrap()).unwrap();
/// let right = a2.apply(&b.apply("abc").unwrap()).unwrap();
/// assert_eq!(left, "aXYbc");
/// assert_eq!(left, right);
/// ```
pub fn transform(
    a: &Operation,
    b: &Operation,
    side: Side,
) -> Result<(Operation, Operation), OtError> {
    if a.base_len() != b.base_len() {
        return Err(OtError::TransformBaseMismatch {
            left: a.base_len(),
            right: b.base_len(),
        });
    }
    if let (Some(x), Some(y)) = (Splice::of(a), Splice::of(b)) {
        return Ok(transform_splices(&x, &y, a.base_len(), side));
    }
    Ok(transform_walk(a, b, side))
}

/// [`transform`] of any two operations of the same base length: walks both component lists in
/// lock-step.
fn transform_walk(a: &Operation, b: &Operation, side: Side) -> (Operation, Operation) {
    let mut a_out = Operation::with_capacity(a.components().len() + 2);
    let mut b_out = Operation::with_capacity(b.components().len() + 2);
    let mut x = Pieces::new(a.components());
    let mut y = Pieces::new(b.components());
    loop {
        let (pa, pb) = (x.peek_piece(), y.peek_piece());
        let a_inserts = matches!(pa, Some(Piece::Insert));
        let b_inserts = matches!(pb, Some(Piece::Insert));
        if a_inserts && (side == Side::Left || !b_inserts) {
            let (s, n) = x.take_insert_all();
            a_out.insert_counted(s, n);
            b_out.retain(n);
            continue;
        }
        if b_inserts {
            let (s, n) = y.take_insert_all();
            a_out.retain(n);
            b_out.insert_counted(s, n);
            continue;
        }
        match (pa, pb) {
            (None, None) => break,
            (Some(Piece::Retain(m)), Some(Piece::Retain(n))) => {
                let k = m.min(n);
                a_out.retain(k);
                b_out.retain(k);
                x.consume(k);
                y.consume(k);
            }
            (Some(Piece::Delete(m)), Some(Piece::Delete(n))) => {
                // Both removed the same text: nothing left for either to do.
                let k = m.min(n);
                x.consume(k);
                y.consume(k);
            }
            (Some(Piece::Delete(m)), Some(Piece::Retain(n))) => {
                let k = m.min(n);
                a_out.delete(k);
                x.consume(k);
                y.consume(k);
            }
            (Some(Piece::Retain(m)), Some(Piece::Delete(n))) => {
                let k = m.min(n);
                b_out.delete(k);
                x.consume(k);
                y.consume(k);
            }
            // Base lengths are equal, so both run out together.
            _ => unreachable!("transform: base lengths checked but components misaligned"),
        }
    }
    (a_out, b_out)
}

/// An operation of the shape an editor keystroke or paste has — retain `pos`, insert `text`,
/// delete `del`, retain the rest (each part possibly empty) — read without copying.
struct Splice<'a> {
    pos: usize,
    text: &'a str,
    chars: usize,
    del: usize,
}

impl<'a> Splice<'a> {
    fn of(op: &'a Operation) -> Option<Self> {
        let mut s = Splice {
            pos: 0,
            text: "",
            chars: 0,
            del: 0,
        };
        let mut rest = op.components();
        if let [Component::Retain(n), tail @ ..] = rest {
            s.pos = *n;
            rest = tail;
        }
        if let [Component::Insert(t), tail @ ..] = rest {
            s.text = t;
            s.chars = char_len(t);
            rest = tail;
        }
        if let [Component::Delete(n), tail @ ..] = rest {
            s.del = *n;
            rest = tail;
        }
        if let [Component::Retain(_), tail @ ..] = rest {
            rest = tail;
        }
        rest.is_empty().then_some(s)
    }
}

/// [`transform`] of two splices of a document of `len` chars, in closed form: the same result
/// as the general walk (it is checked against it exhaustively on small documents in the tests),
/// without walking components piece by piece. Editor traffic is almost all splices, so this is
/// the hot path of a server.
fn transform_splices(a: &Splice, b: &Splice, len: usize, side: Side) -> (Operation, Operation) {
    (
        splice_over(a, b, side == Side::Left, len),
        splice_over(b, a, side == Side::Right, len),
    )
}

/// `x` transformed over the concurrent `y` (`x′`, which applies after `y`). `x_first`: whether
/// `x`'s insert goes before `y`'s when both insert at one position.
#[inline(always)] // called twice per transform; inlining saves ~10% of it
fn splice_over(x: &Splice, y: &Splice, x_first: bool, len: usize) -> Operation {
    let (x_end, y_end) = (x.pos + x.del, y.pos + y.del);
    let base_len = len - y.del + y.chars;
    // Does `y`'s insert land before the point where `x` inserts and starts deleting? At the
    // same position it does unless `x`'s insert wins the tie (with no insert, `x` only deletes
    // from there, after anything inserted at that position).
    let y_first = y.pos < x.pos || (y.pos == x.pos && (!x_first || x.chars == 0));
    // Chars of `y`'s output before that point.
    let mut lead = x.pos - x.pos.min(y_end).saturating_sub(y.pos);
    if y_first {
        lead += y.chars;
    }
    let overlap = x_end.min(y_end).saturating_sub(x.pos.max(y.pos));
    let deleted = x.del - overlap;
    let mut out = Components::new();
    push_retain(&mut out, lead);
    if x.chars > 0 {
        out.push(Component::Insert(x.text.into()));
    }
    let mut consumed = lead + deleted;
    if y.chars > 0 && !y_first && y.pos < x_end {
        // `y`'s insert lands inside the range `x` deletes, which it splits in two.
        let before = y.pos - x.pos;
        push_delete(&mut out, before);
        push_retain(&mut out, y.chars);
        push_delete(&mut out, deleted - before);
        consumed += y.chars;
    } else {
        push_delete(&mut out, deleted);
    }
    push_retain(&mut out, base_len - consumed);
    Operation::from_canonical_parts(out, base_len, base_len - deleted + x.chars)
}

fn push_retain(out: &mut Components, n: usize) {
    if n > 0 {
        match out.last_mut() {
            Some(Component::Retain(last)) => *last += n,
            _ => out.push(Component::Retain(n)),
        }
    }
}

fn push_delete(out: &mut Components, n: usize) {
    if n > 0 {
        match out.last_mut() {
            Some(Component::Delete(last)) => *last += n,
            _ => out.push(Component::Delete(n)),
        }
    }
}

/// Transforms `op` against a sequence of consecutive operations `history` (each applying to the
/// result of the one before, the first to `op`'s base) — what a server does to catch an
/// operation up with everything it has not seen. `side` is `op`'s side in every step.
///
/// This is stepwise on purpose: it is what a client computes when it transforms its pending
/// operation against each received operation in turn, so the two converge. It is *not* in
/// general equal to transforming `op` against the composition of `history`: when both insert,
/// a tie at one position can arise or disappear through a delete in between, which the
/// composition no longer shows (e.g. "insert after x, then delete x" and "insert before x,
/// then delete x" compose to the same operation). It is equal when `op` or `history` inserts
/// nothing.
pub fn transform_through<'a, I>(
    op: &Operation,
    history: I,
    side: Side,
) -> Result<Operation, OtError>
where
    I: IntoIterator<Item = &'a Operation>,
{
    let mut current = op.clone();
    for h in history {
        current = transform(&current, h, side)?.0;
    }
    Ok(current)
}

/// How a cursor reacts to text inserted exactly at its position.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Bias {
    /// The cursor stays where it is; the inserted text ends up after it. This is the default:
    /// another user typing at your cursor does not push it.
    #[default]
    Stay,
    /// The cursor moves to after the inserted text, as the typist's own cursor does.
    Push,
}

/// Where a position (a cursor between chars, counted in chars of `op`'s base document) ends up
/// after `op`.
///
/// Inserts before the position shift it right; an insert exactly at it shifts it only with
/// [`Bias::Push`]; deletes before it shift it left, and a position inside a deleted range moves
/// to the range's start. When a range is replaced (insert then delete at the same place), the
/// deleted range starts after the inserted text, so a cursor inside it lands after the new text.
/// Positions past the end are clamped to the end.
///
/// ```
/// use ot::{transform_index, Bias, Operation};
/// let del = Operation::splice(6, 1, 3, "").unwrap(); // "abcdef" -> "aef"
/// assert_eq!(transform_index(2, &del, Bias::Stay), 1); // inside the deleted "bcd": to its start
/// assert_eq!(transform_index(5, &del, Bias::Stay), 2);
/// let ins = Operation::splice(6, 1, 0, "XY").unwrap(); // "abcdef" -> "aXYbcdef"
/// assert_eq!(transform_index(1, &ins, Bias::Stay), 1); // an insert at the cursor: stays
/// assert_eq!(transform_index(1, &ins, Bias::Push), 3); // ... unless asked
/// assert_eq!(transform_index(2, &ins, Bias::Stay), 4);
/// ```
pub fn transform_index(index: usize, op: &Operation, bias: Bias) -> usize {
    let index = index.min(op.base_len());
    let mut base_pos = 0usize;
    let mut new_index = index;
    for c in op.components() {
        // Nothing at or after a Stay cursor, and nothing after a Push cursor, can move it.
        if base_pos > index || (base_pos == index && bias == Bias::Stay) {
            break;
        }
        match c {
            Component::Retain(n) => base_pos += n,
            Component::Insert(s) => new_index += char_len(s),
            Component::Delete(n) => {
                new_index -= (*n).min(index - base_pos);
                base_pos += n;
            }
        }
    }
    new_index
}

/// A selection: `anchor` is where it started, `head` where the cursor is. Equal for a caret.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Selection {
    /// The fixed end.
    pub anchor: usize,
    /// The moving end (the caret).
    pub head: usize,
}

/// Transforms both ends of a selection with [`transform_index`].
pub fn transform_selection(selection: Selection, op: &Operation, bias: Bias) -> Selection {
    Selection {
        anchor: transform_index(selection.anchor, op, bias),
        head: transform_index(selection.head, op, bias),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The closed form for two splices gives exactly what the general walk gives, for every pair
    /// of splices of every document up to 7 chars, on both sides.
    #[test]
    fn splice_fast_path_equals_walk() {
        let texts = ["", "x", "yz", "é"];
        let mut checked = 0;
        for len in 0..=7usize {
            let mut splices = Vec::new();
            for pos in 0..=len {
                for del in 0..=len - pos {
                    for text in texts {
                        splices.push(Operation::splice(len, pos, del, text).unwrap());
                    }
                }
            }
            for a in &splices {
                for b in &splices {
                    for side in [Side::Left, Side::Right] {
                        let fast = transform(a, b, side).unwrap();
                        let walk = transform_walk(a, b, side);
                        assert_eq!(fast, walk, "{a:?} {b:?} {side:?}");
                        assert_eq!(
                            fast.0,
                            Operation::from_components(fast.0.components().to_vec())
                        );
                        assert_eq!(
                            fast.1,
                            Operation::from_components(fast.1.components().to_vec())
                        );
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked > 90_000);
    }
}
