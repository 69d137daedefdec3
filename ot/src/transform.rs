//! Transformation of concurrent operations (`transform`) and of cursor positions
//! (`transform_index`, `transform_selection`) — the part of OT that lets two sites apply each
//! other's operations in different orders and still converge.
//!
//! # Tie-break, and what the otterdoc server does
//!
//! When both operations insert at the same position, [`Side`] decides whose text comes first.
//! The otterdoc server transforms an incoming operation against every operation already in the
//! history after its base with the **incoming operation on [`Side::Right`]**: text that reached
//! the server first stays first. A client mirroring the server therefore transforms its own
//! pending (unacknowledged) operation against a received operation with its pending operation on
//! `Side::Right` — i.e. `transform(&pending, &received, Side::Right)` — and applies the returned
//! `received′` to its document.

use crate::error::OtError;
use crate::operation::{Operation, Piece, Pieces};
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
    Ok((a_out, b_out))
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
            crate::Component::Retain(n) => base_pos += n,
            crate::Component::Insert(s) => new_index += char_len(s),
            crate::Component::Delete(n) => {
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
