//! The stable error codes and [`Rejection`], the typed "no" every request path (STOMP SEND,
//! HTTP) answers with. The code strings are a contract, listed in `docs/protocol.md`; the list
//! of codes is derived from the enum, so a new code cannot be left out of the documented table
//! (the docs contract test walks [`ErrorCode::iter`]).

use strum::{EnumCount, EnumIter, IntoStaticStr};

use crate::doc_id::InvalidDocId;

/// Stable machine-readable reasons for rejecting a request.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    EnumIter,
    EnumCount,
    IntoStaticStr,
)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum ErrorCode {
    /// The body is not the expected JSON object (not JSON, missing or mistyped field).
    MalformedBody,
    /// The `op` field is not a valid operation in the wire format.
    InvalidOp,
    /// The document id is not 1–128 chars of `[A-Za-z0-9._~-]`.
    InvalidDocId,
    /// A SEND to a destination that does not exist.
    UnknownDestination,
    /// `base` (or a requested version) is after the document's current version.
    VersionInFuture,
    /// The operation does not apply to the document at its base version (length mismatch).
    OpDoesNotFit,
    /// A checked delete (`{"d":"text"}`) names text the document does not hold there.
    DeleteMismatch,
    /// The operation is larger than the configured limit.
    OpTooLarge,
    /// Applying the operation would make the document larger than the configured limit.
    DocumentTooLarge,
    /// The document has never had an operation.
    NotFound,
    /// `POST /docs/<id>/copy` to a document that already has operations.
    DocumentExists,
    /// The document was deleted while the submission waited for it; nothing was applied.
    DocumentDeleted,
    /// A query parameter is missing, malformed or contradictory.
    InvalidQuery,
    /// A SEND held in a transaction that was aborted.
    TransactionAborted,
    /// A presence update breaks a presence rule (a range past the end of the document, too
    /// many ranges, a name or colour over its limit).
    InvalidPresence,
    /// A presence update's `version` is older than the history the document keeps in memory.
    VersionTooOld,
    /// The server is shutting down.
    Unavailable,
    /// No valid credentials: the token is missing, malformed, badly signed or expired.
    Unauthorized,
    /// Valid credentials without the right for this document (read or write).
    Forbidden,
    /// The connection submits ops faster than `--max-submissions-per-second` allows.
    RateLimited,
    /// The server already has `--max-connections` connections.
    TooManyConnections,
    /// An HTTP request did not arrive within `--request-timeout-ms`.
    RequestTimeout,
    /// No HTTP route has this path.
    RouteNotFound,
    /// The path exists but not with this HTTP method.
    MethodNotAllowed,
    /// A request body without a `content-length`.
    LengthRequired,
    /// An HTTP request the routes cannot read (e.g. a plain GET on /ws).
    BadRequest,
    /// Storage failed; nothing was applied.
    Internal,
}

impl ErrorCode {
    /// The code as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A request refused with a code and a human-readable message. Nothing was applied.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct Rejection {
    /// Why, as a stable code.
    pub code: ErrorCode,
    /// Why, for a person.
    pub message: String,
}

impl Rejection {
    /// A rejection with `code` and `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

impl From<InvalidDocId> for Rejection {
    fn from(err: InvalidDocId) -> Self {
        Rejection::new(ErrorCode::InvalidDocId, err.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strum::IntoEnumIterator;

    #[test]
    fn codes_are_kebab_case_and_serde_agrees() {
        assert_eq!(ErrorCode::COUNT, 27);
        assert_eq!(ErrorCode::VersionInFuture.as_str(), "version-in-future");
        for code in ErrorCode::iter() {
            let json = serde_json::to_value(code).unwrap();
            assert_eq!(json, code.as_str(), "serde and strum agree on {code:?}");
        }
    }
}
