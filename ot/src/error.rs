//! Typed errors of the OT algebra and of the wire format. Each carries the numbers a caller
//! needs to report the problem precisely (expected vs actual lengths, component index).

use thiserror::Error;

/// An operation that does not fit the document or the other operation it is combined with.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum OtError {
    /// The operation spans a document of a different length than the one it is applied to.
    #[error(
        "operation applies to a document of {expected} characters, but the document has {actual}"
    )]
    BaseLengthMismatch {
        /// Length the operation spans.
        expected: usize,
        /// Length of the document it was applied to.
        actual: usize,
    },
    /// `compose(a, b)` where `b` does not apply to what `a` produces.
    #[error("cannot compose: the first operation produces {first_target} characters but the second applies to {second_base}")]
    ComposeLengthMismatch {
        /// `a.target_len()`.
        first_target: usize,
        /// `b.base_len()`.
        second_base: usize,
    },
    /// `transform(a, b)` where `a` and `b` do not apply to the same document.
    #[error(
        "cannot transform: the operations apply to documents of {left} and {right} characters"
    )]
    TransformBaseMismatch {
        /// `a.base_len()`.
        left: usize,
        /// `b.base_len()`.
        right: usize,
    },
    /// A range that does not lie inside the document.
    #[error(
        "range of {len} characters at {start} does not fit in a document of {doc_len} characters"
    )]
    RangeOutOfBounds {
        /// Start of the range.
        start: usize,
        /// Length of the range.
        len: usize,
        /// Length of the document.
        doc_len: usize,
    },
    /// A checked delete (`{"d": "text"}`) whose text is not what the document holds there.
    #[error("delete at component {index} expected {expected:?} at position {position}, but the document has {found:?}")]
    DeleteMismatch {
        /// Index of the delete component in the operation as it was written on the wire.
        index: usize,
        /// Position (in chars) of the delete in the base document.
        position: usize,
        /// The text the client said it deletes.
        expected: String,
        /// The text the document actually holds there.
        found: String,
    },
}

/// Why a JSON value is not a valid operation. Component indexes count from 0 in the JSON array.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum WireError {
    /// The text was not JSON at all.
    #[error("operation is not valid JSON: {0}")]
    Json(String),
    /// The operation was not a JSON array.
    #[error("operation must be a JSON array of components, got {found}")]
    NotAnArray {
        /// The JSON type found instead.
        found: &'static str,
    },
    /// One component is invalid.
    #[error("component {index}: {reason}")]
    Component {
        /// Index of the offending component.
        index: usize,
        /// What is wrong with it.
        reason: ComponentError,
    },
}

/// What is wrong with one wire component.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum ComponentError {
    /// `0` neither retains nor deletes anything.
    #[error("zero is not a component (retain is a positive integer, delete a negative one)")]
    Zero,
    /// Lengths are integers.
    #[error("{0} is not an integer (lengths count code points)")]
    Float(String),
    /// An integer too large to be a length on this platform.
    #[error("{0} is too large")]
    TooLarge(String),
    /// `""` inserts nothing.
    #[error("an insert must be a non-empty string")]
    EmptyInsert,
    /// `null`.
    #[error("null is not a component")]
    Null,
    /// `true` / `false`.
    #[error("a boolean is not a component")]
    Bool,
    /// `[...]` inside the operation.
    #[error("nested arrays are not components")]
    NestedArray,
    /// An object other than `{"d": n}` / `{"d": "text"}`.
    #[error("unknown object component: only {{\"d\": count}} or {{\"d\": \"text\"}} (a delete) is accepted")]
    UnknownObject,
    /// `{"d": "text"}` read where there is no document to check it against (use `CheckedOp`).
    #[error("a checked delete {{\"d\": \"text\"}} must be parsed as a CheckedOp, which verifies the text")]
    UncheckedContext,
    /// `{"d": ...}` with a value that is neither a positive integer nor a non-empty string.
    #[error("a delete object needs a positive integer count or the non-empty text it deletes")]
    BadDeleteObject,
}
