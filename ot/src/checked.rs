//! Checked deletes: a delete whose text the client stated (`{"d": "text"}` on the wire), carried
//! next to the operation so that it can be verified against the document before the operation
//! is applied. A client that deletes text it has not seen (because its copy is stale or wrong)
//! is refused instead of silently deleting something else.
//!
//! Reading them from JSON is the wire format's business ([`CheckedOp::from_json`]); this module
//! only holds them and checks them against any [`TextSource`].

use crate::error::OtError;
use crate::operation::Operation;
use crate::text::{char_len, TextSource};

/// A delete whose text the client stated (`{"d": "text"}`), to be verified against the document.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DeleteCheck {
    /// Index of the component in the wire array.
    pub index: usize,
    /// Position (in chars) in the operation's base document where the delete starts.
    pub position: usize,
    /// The text the client says is there.
    pub text: String,
}

/// An operation read from the wire together with the deleted text it promised, if any.
///
/// Apply it with [`crate::Document::apply_checked`] or verify it with
/// [`CheckedOp::verify`] against the document at the operation's base before using `op`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct CheckedOp {
    /// The operation (canonical; its trailing retain may still be missing — see
    /// [`Operation::fit_to`]).
    pub op: Operation,
    /// Deletes to verify, in order of position.
    pub checks: Vec<DeleteCheck>,
}

impl CheckedOp {
    /// Verifies every checked delete against `base`, the document the operation applies to.
    pub fn verify<T: TextSource + ?Sized>(&self, base: &T) -> Result<(), OtError> {
        for check in &self.checks {
            let len = char_len(&check.text);
            if check.position + len > base.char_len() {
                return Err(OtError::RangeOutOfBounds {
                    start: check.position,
                    len,
                    doc_len: base.char_len(),
                });
            }
            let found = base.slice_chars(check.position, len);
            if found != check.text {
                return Err(OtError::DeleteMismatch {
                    index: check.index,
                    position: check.position,
                    expected: check.text.clone(),
                    found,
                });
            }
        }
        Ok(())
    }
}
