//! The `Operation` type: a canonical sequence of retain / insert / delete components over the
//! Unicode scalar values (code points) of a plain-text document, plus the algebra that does not
//! involve a second concurrent operation: `apply`, `compose` and `invert`.
//!
//! Every length in this crate counts `char`s (code points), never UTF-8 bytes or UTF-16 units,
//! so that a client in any language agrees with the server on what "position 5" means.

use smallvec::SmallVec;

use crate::error::OtError;

/// The text of an insert: a string that keeps up to 24 bytes inline, so the typical keystroke
/// insert (and its transformed copies) costs no allocation. It derefs to `str` and converts
/// from `&str` and `String` with `.into()`.
pub type InsertText = compact_str::CompactString;

/// Component storage: up to four components inline.
pub(crate) type Components = SmallVec<[Component; 4]>;
use crate::text::{char_len, split_at_char};

/// One step of an [`Operation`], read left to right over the base document.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Component {
    /// Keep the next `n` characters of the base document (`n > 0`).
    Retain(usize),
    /// Insert this (non-empty) text at the current position.
    Insert(InsertText),
    /// Remove the next `n` characters of the base document (`n > 0`).
    Delete(usize),
}

impl Component {
    /// How many characters of the base document this component consumes.
    pub fn base_len(&self) -> usize {
        match self {
            Component::Retain(n) | Component::Delete(n) => *n,
            Component::Insert(_) => 0,
        }
    }

    /// How many characters of the resulting document this component produces.
    pub fn target_len(&self) -> usize {
        match self {
            Component::Retain(n) => *n,
            Component::Insert(s) => char_len(s),
            Component::Delete(_) => 0,
        }
    }
}

/// A change to a plain-text document, always in canonical form.
///
/// Canonical form means: no empty components, no two adjacent components of the same kind, and
/// an insert is always placed before a delete it touches (`"x", -2`, never `-2, "x"`). Two
/// operations that do the same thing are therefore equal as values. The builder methods
/// ([`retain`](Self::retain), [`insert`](Self::insert), [`delete`](Self::delete)) are the only way
/// to add components, so canonical form cannot be broken.
///
/// An operation spans its whole base document: [`base_len`](Self::base_len) is the length of
/// the document it applies to, [`target_len`](Self::target_len) the length of the result.
///
/// ```
/// use ot::Operation;
/// let mut op = Operation::new();
/// op.retain(5).insert(", world").delete(1);
/// assert_eq!(op.base_len(), 6);
/// assert_eq!(op.apply("hello!").unwrap(), "hello, world");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Operation {
    /// Inline storage for the common shapes (a keystroke is at most retain, insert, delete,
    /// retain), so building or transforming one allocates only for inserted text.
    components: Components,
    base_len: usize,
    target_len: usize,
}

impl Operation {
    /// The empty operation, which applies only to the empty document.
    pub fn new() -> Self {
        Self::default()
    }

    /// An operation that changes nothing in a document of `len` characters.
    pub fn identity(len: usize) -> Self {
        let mut op = Self::new();
        op.retain(len);
        op
    }

    /// Pre-allocates room for `n` components.
    pub fn with_capacity(n: usize) -> Self {
        Self {
            components: Components::with_capacity(n),
            base_len: 0,
            target_len: 0,
        }
    }

    /// Wraps `components`, which the caller guarantees are in canonical form and span
    /// `base_len` chars producing `target_len` (checked in debug builds).
    pub(crate) fn from_canonical_parts(
        components: Components,
        base_len: usize,
        target_len: usize,
    ) -> Self {
        let op = Self {
            components,
            base_len,
            target_len,
        };
        debug_assert_eq!(op, Self::from_components(op.components.iter().cloned()));
        op
    }

    /// The components, in canonical form.
    pub fn components(&self) -> &[Component] {
        &self.components
    }

    /// Length (in chars) of the document this operation applies to.
    pub fn base_len(&self) -> usize {
        self.base_len
    }

    /// Length (in chars) of the document this operation produces.
    pub fn target_len(&self) -> usize {
        self.target_len
    }

    /// True when applying the operation changes nothing (it only retains, or is empty).
    pub fn is_noop(&self) -> bool {
        self.components
            .iter()
            .all(|c| matches!(c, Component::Retain(_)))
    }

    /// Appends a retain of `n` characters (merged with a preceding retain; `0` is ignored).
    pub fn retain(&mut self, n: usize) -> &mut Self {
        if n == 0 {
            return self;
        }
        self.base_len += n;
        self.target_len += n;
        if let Some(Component::Retain(last)) = self.components.last_mut() {
            *last += n;
        } else {
            self.components.push(Component::Retain(n));
        }
        self
    }

    /// Appends an insert of `text` (merged with an adjacent insert; empty text is ignored).
    ///
    /// If the operation currently ends in a delete, the insert is placed before that delete,
    /// which is the canonical order (both orders mean the same thing).
    pub fn insert(&mut self, text: &str) -> &mut Self {
        if text.is_empty() {
            return self;
        }
        self.insert_counted(text, char_len(text))
    }

    /// [`insert`](Self::insert) for callers that already know the text's char count.
    pub(crate) fn insert_counted(&mut self, text: &str, chars: usize) -> &mut Self {
        if chars == 0 {
            return self;
        }
        self.target_len += chars;
        let n = self.components.len();
        match self.components.as_mut_slice() {
            [.., Component::Insert(last)] => last.push_str(text),
            [.., Component::Insert(before), Component::Delete(_)] => before.push_str(text),
            [.., Component::Delete(_)] => self
                .components
                .insert(n - 1, Component::Insert(InsertText::from(text))),
            _ => self
                .components
                .push(Component::Insert(InsertText::from(text))),
        }
        self
    }

    /// Appends a delete of `n` characters (merged with a preceding delete; `0` is ignored).
    pub fn delete(&mut self, n: usize) -> &mut Self {
        if n == 0 {
            return self;
        }
        self.base_len += n;
        if let Some(Component::Delete(last)) = self.components.last_mut() {
            *last += n;
        } else {
            self.components.push(Component::Delete(n));
        }
        self
    }

    /// Appends a component through the builder, so the result stays canonical.
    pub fn push(&mut self, component: Component) -> &mut Self {
        match component {
            Component::Retain(n) => self.retain(n),
            Component::Insert(s) => self.insert(&s),
            Component::Delete(n) => self.delete(n),
        }
    }

    /// Builds an operation from components in any form, canonicalising them.
    pub fn from_components<I: IntoIterator<Item = Component>>(components: I) -> Self {
        let mut op = Self::new();
        for c in components {
            op.push(c);
        }
        op
    }

    /// The operation that replaces `delete` chars at `pos` by `insert` in a document of
    /// `doc_len` chars — the shape of one editor keystroke or paste.
    ///
    /// Errors when the range does not fit in the document.
    ///
    /// ```
    /// let op = ot::Operation::splice(5, 1, 1, "X").unwrap();
    /// assert_eq!(op.apply("hello").unwrap(), "hXllo");
    /// ```
    pub fn splice(
        doc_len: usize,
        pos: usize,
        delete: usize,
        insert: &str,
    ) -> Result<Self, OtError> {
        let end =
            pos.checked_add(delete)
                .filter(|&e| e <= doc_len)
                .ok_or(OtError::RangeOutOfBounds {
                    start: pos,
                    len: delete,
                    doc_len,
                })?;
        let mut op = Self::with_capacity(4);
        op.retain(pos)
            .insert(insert)
            .delete(delete)
            .retain(doc_len - end);
        Ok(op)
    }

    /// Extends the operation with a trailing retain so that it spans a document of `doc_len`
    /// chars. Wire input may omit the trailing retain; this restores it.
    ///
    /// Errors when the operation already expects a longer document.
    pub fn fit_to(&mut self, doc_len: usize) -> Result<(), OtError> {
        if self.base_len > doc_len {
            return Err(OtError::BaseLengthMismatch {
                expected: self.base_len,
                actual: doc_len,
            });
        }
        let missing = doc_len - self.base_len;
        self.retain(missing);
        Ok(())
    }

    /// Applies the operation to a string. Costs O(len(text)); see [`crate::Document`] for a
    /// rope whose apply costs O(components · log n).
    ///
    /// ```
    /// let op = ot::Operation::splice(2, 0, 1, "é").unwrap();
    /// assert_eq!(op.apply("ab").unwrap(), "éb");
    /// ```
    pub fn apply(&self, text: &str) -> Result<String, OtError> {
        let actual = char_len(text);
        if actual != self.base_len {
            return Err(OtError::BaseLengthMismatch {
                expected: self.base_len,
                actual,
            });
        }
        let mut out = String::with_capacity(text.len() + self.target_len.saturating_sub(actual));
        let mut rest = text;
        for c in &self.components {
            match c {
                Component::Retain(n) => {
                    let (keep, tail) = split_at_char(rest, *n);
                    out.push_str(keep);
                    rest = tail;
                }
                Component::Insert(s) => out.push_str(s),
                Component::Delete(n) => rest = split_at_char(rest, *n).1,
            }
        }
        Ok(out)
    }

    /// Composes `self` followed by `next` into one operation with the same effect:
    /// `apply(apply(s, a), b) == apply(s, a.compose(b))`.
    ///
    /// Errors when `next` does not apply to what `self` produces.
    ///
    /// ```
    /// let a = ot::Operation::splice(3, 3, 0, "d").unwrap();
    /// let b = ot::Operation::splice(4, 0, 1, "A").unwrap();
    /// assert_eq!(a.compose(&b).unwrap().apply("abc").unwrap(), "Abcd");
    /// ```
    pub fn compose(&self, next: &Operation) -> Result<Operation, OtError> {
        if self.target_len != next.base_len {
            return Err(OtError::ComposeLengthMismatch {
                first_target: self.target_len,
                second_base: next.base_len,
            });
        }
        let mut out = Operation::with_capacity(self.components.len() + next.components.len());
        let mut a = Pieces::new(&self.components);
        let mut b = Pieces::new(&next.components);
        loop {
            // Deletes of the first op and inserts of the second need no partner.
            if let Some(Piece::Delete(n)) = a.peek_piece() {
                out.delete(n);
                a.advance_all();
                continue;
            }
            if let Some(Piece::Insert) = b.peek_piece() {
                let (s, chars) = b.take_insert_all();
                out.insert_counted(s, chars);
                continue;
            }
            match (a.peek_piece(), b.peek_piece()) {
                (None, None) => break,
                (Some(Piece::Retain(x)), Some(Piece::Retain(y))) => {
                    let n = x.min(y);
                    out.retain(n);
                    a.consume(n);
                    b.consume(n);
                }
                (Some(Piece::Retain(x)), Some(Piece::Delete(y))) => {
                    let n = x.min(y);
                    out.delete(n);
                    a.consume(n);
                    b.consume(n);
                }
                (Some(Piece::Insert), Some(Piece::Retain(y))) => {
                    let (s, chars) = a.take_insert(y);
                    out.insert_counted(s, chars);
                    b.consume(chars);
                }
                (Some(Piece::Insert), Some(Piece::Delete(y))) => {
                    let (_, chars) = a.take_insert(y);
                    b.consume(chars);
                }
                // Lengths were checked, so both sides run out together.
                _ => unreachable!("compose: lengths checked but components misaligned"),
            }
        }
        Ok(out)
    }

    /// Composes a whole sequence of consecutive operations (each applying to the result of the
    /// one before) in a balanced tree of pairwise composes, so a long history costs
    /// O(total · log count) instead of re-walking a growing operation once per element.
    ///
    /// Returns `Ok(None)` for an empty sequence.
    pub fn compose_all<I>(ops: I) -> Result<Option<Operation>, OtError>
    where
        I: IntoIterator<Item = Operation>,
    {
        let mut level: Vec<Operation> = ops.into_iter().collect();
        while level.len() > 1 {
            let mut next = Vec::with_capacity(level.len().div_ceil(2));
            let mut it = level.into_iter();
            while let Some(first) = it.next() {
                match it.next() {
                    Some(second) => next.push(first.compose(&second)?),
                    None => next.push(first),
                }
            }
            level = next;
        }
        Ok(level.pop())
    }

    /// The operation that undoes `self`, given the text `self` was applied to:
    /// `apply(apply(s, o), o.invert(s)) == s`.
    ///
    /// ```
    /// let op = ot::Operation::splice(5, 1, 3, "I").unwrap();
    /// let undo = op.invert("hello").unwrap();
    /// assert_eq!(undo.apply(&op.apply("hello").unwrap()).unwrap(), "hello");
    /// ```
    pub fn invert(&self, base_text: &str) -> Result<Operation, OtError> {
        let actual = char_len(base_text);
        if actual != self.base_len {
            return Err(OtError::BaseLengthMismatch {
                expected: self.base_len,
                actual,
            });
        }
        let mut out = Operation::with_capacity(self.components.len());
        let mut rest = base_text;
        for c in &self.components {
            match c {
                Component::Retain(n) => {
                    out.retain(*n);
                    rest = split_at_char(rest, *n).1;
                }
                Component::Insert(s) => {
                    out.delete(char_len(s));
                }
                Component::Delete(n) => {
                    let (gone, tail) = split_at_char(rest, *n);
                    out.insert_counted(gone, *n);
                    rest = tail;
                }
            }
        }
        Ok(out)
    }

    /// Consumes the operation, returning its components.
    pub fn into_components(self) -> Vec<Component> {
        self.components.into_vec()
    }
}

/// A cursor over a component list that can hand out parts of a component, used by `compose`
/// and `transform` to walk two operations in lock-step without cloning components.
pub(crate) struct Pieces<'a> {
    components: &'a [Component],
    /// Index of the current component.
    index: usize,
    /// For retains/deletes: chars of the current component already consumed.
    /// For inserts: bytes of the current insert's text already consumed.
    offset: usize,
}

/// What is left of the current component, by kind and remaining length (inserts report their
/// remaining length in chars only through `take_insert*`).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Piece {
    Retain(usize),
    Insert,
    Delete(usize),
}

impl<'a> Pieces<'a> {
    pub(crate) fn new(components: &'a [Component]) -> Self {
        Self {
            components,
            index: 0,
            offset: 0,
        }
    }

    /// The kind and remaining length of the current (partial) component, `None` at the end.
    pub(crate) fn peek_piece(&self) -> Option<Piece> {
        self.components.get(self.index).map(|c| match c {
            Component::Retain(n) => Piece::Retain(n - self.offset),
            Component::Delete(n) => Piece::Delete(n - self.offset),
            Component::Insert(_) => Piece::Insert,
        })
    }

    fn next_component(&mut self) {
        self.index += 1;
        self.offset = 0;
    }

    pub(crate) fn advance_all(&mut self) {
        self.next_component();
    }

    /// Consumes `n` chars of the current retain or delete.
    pub(crate) fn consume(&mut self, n: usize) {
        if let Some(Component::Retain(len) | Component::Delete(len)) =
            self.components.get(self.index)
        {
            self.offset += n;
            if self.offset >= *len {
                self.next_component();
            }
        }
    }

    /// Takes the rest of the current insert: (text, char count).
    pub(crate) fn take_insert_all(&mut self) -> (&'a str, usize) {
        self.take_insert(usize::MAX)
    }

    /// Takes up to `max` chars of the current insert: (text, char count).
    pub(crate) fn take_insert(&mut self, max: usize) -> (&'a str, usize) {
        let Some(Component::Insert(s)) = self.components.get(self.index) else {
            return ("", 0);
        };
        let rest = &s[self.offset..];
        let (taken, chars) = crate::text::prefix_chars(rest, max);
        if taken.len() == rest.len() {
            self.next_component();
        } else {
            self.offset += taken.len();
        }
        (taken, chars)
    }
}
