//! The JSON bodies that cross the wire — the submission a client sends, the op and snapshot
//! events it receives, the error event — and the stable error codes. These shapes are the
//! contract written down in `docs/protocol.md`; STOMP and HTTP both use them.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use ot::{CheckedOp, Operation};

/// Longest `client` id a submission may carry.
pub const MAX_CLIENT_ID_LEN: usize = 64;

/// Stable machine-readable reasons for rejecting a request. The strings are a contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
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
    /// A query parameter is missing, malformed or contradictory.
    InvalidQuery,
    /// A SEND held in a transaction that was aborted.
    TransactionAborted,
    /// The server is shutting down.
    Unavailable,
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
    /// Every code, in the order `docs/protocol.md` lists them.
    pub const ALL: [ErrorCode; 18] = [
        ErrorCode::MalformedBody,
        ErrorCode::InvalidOp,
        ErrorCode::InvalidDocId,
        ErrorCode::UnknownDestination,
        ErrorCode::VersionInFuture,
        ErrorCode::OpDoesNotFit,
        ErrorCode::DeleteMismatch,
        ErrorCode::OpTooLarge,
        ErrorCode::DocumentTooLarge,
        ErrorCode::NotFound,
        ErrorCode::InvalidQuery,
        ErrorCode::TransactionAborted,
        ErrorCode::Unavailable,
        ErrorCode::RouteNotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::LengthRequired,
        ErrorCode::BadRequest,
        ErrorCode::Internal,
    ];

    /// The code as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::MalformedBody => "malformed-body",
            ErrorCode::InvalidOp => "invalid-op",
            ErrorCode::InvalidDocId => "invalid-doc-id",
            ErrorCode::UnknownDestination => "unknown-destination",
            ErrorCode::VersionInFuture => "version-in-future",
            ErrorCode::OpDoesNotFit => "op-does-not-fit",
            ErrorCode::DeleteMismatch => "delete-mismatch",
            ErrorCode::OpTooLarge => "op-too-large",
            ErrorCode::DocumentTooLarge => "document-too-large",
            ErrorCode::NotFound => "not-found",
            ErrorCode::InvalidQuery => "invalid-query",
            ErrorCode::TransactionAborted => "transaction-aborted",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::RouteNotFound => "route-not-found",
            ErrorCode::MethodNotAllowed => "method-not-allowed",
            ErrorCode::LengthRequired => "length-required",
            ErrorCode::BadRequest => "bad-request",
            ErrorCode::Internal => "internal",
        }
    }

    /// The HTTP status an HTTP route answers this code with.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::MalformedBody
            | ErrorCode::InvalidOp
            | ErrorCode::InvalidDocId
            | ErrorCode::UnknownDestination
            | ErrorCode::InvalidQuery
            | ErrorCode::BadRequest => 400,
            ErrorCode::NotFound | ErrorCode::RouteNotFound => 404,
            ErrorCode::MethodNotAllowed => 405,
            ErrorCode::LengthRequired => 411,
            ErrorCode::VersionInFuture | ErrorCode::TransactionAborted => 409,
            ErrorCode::OpTooLarge | ErrorCode::DocumentTooLarge => 413,
            ErrorCode::OpDoesNotFit | ErrorCode::DeleteMismatch => 422,
            ErrorCode::Unavailable => 503,
            ErrorCode::Internal => 500,
        }
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

/// A client's operation: the body of `SEND /app/doc/<id>` and of `POST /docs/<id>/ops`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Submission {
    /// Id the client picked once (1–64 chars).
    pub client: String,
    /// Per-client sequence number; (`client`, `seq`) identifies the op for resubmission.
    pub seq: u64,
    /// The version the op was made against.
    pub base: u64,
    /// The op, possibly without its trailing retain, with any checked deletes.
    pub op: CheckedOp,
}

/// The identifying fields of a submission, read even from a body that is otherwise invalid,
/// so an error event can name the op it rejects.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SubmissionIds {
    /// `client`, when it was a string.
    pub client: Option<String>,
    /// `seq`, when it was an unsigned integer.
    pub seq: Option<u64>,
}

impl Submission {
    /// Parses a submission body. `max_op_bytes` caps the body size.
    pub fn parse(
        body: &[u8],
        max_op_bytes: usize,
    ) -> Result<Submission, (Rejection, SubmissionIds)> {
        if body.len() > max_op_bytes {
            let err = Rejection::new(
                ErrorCode::OpTooLarge,
                format!(
                    "the operation is {} bytes, over the {max_op_bytes}-byte limit",
                    body.len()
                ),
            );
            return Err((err, SubmissionIds::default()));
        }
        let value: Value = serde_json::from_slice(body).map_err(|e| {
            (
                Rejection::new(ErrorCode::MalformedBody, format!("body is not JSON: {e}")),
                SubmissionIds::default(),
            )
        })?;
        let Value::Object(map) = &value else {
            let err = Rejection::new(
                ErrorCode::MalformedBody,
                "body must be a JSON object {\"client\",\"seq\",\"base\",\"op\"}",
            );
            return Err((err, SubmissionIds::default()));
        };
        let ids = SubmissionIds {
            client: map.get("client").and_then(Value::as_str).map(str::to_owned),
            seq: map.get("seq").and_then(Value::as_u64),
        };
        let malformed = |msg: String| (Rejection::new(ErrorCode::MalformedBody, msg), ids.clone());
        let client = match map.get("client") {
            Some(Value::String(s)) if !s.is_empty() && s.chars().count() <= MAX_CLIENT_ID_LEN => {
                s.clone()
            }
            Some(Value::String(_)) => {
                return Err(malformed(format!(
                    "\"client\" must be 1-{MAX_CLIENT_ID_LEN} characters"
                )))
            }
            Some(_) => return Err(malformed("\"client\" must be a string".into())),
            None => return Err(malformed("missing field \"client\"".into())),
        };
        let unsigned = |name: &str| match map.get(name) {
            Some(v) => v
                .as_u64()
                .ok_or_else(|| malformed(format!("\"{name}\" must be a non-negative integer"))),
            None => Err(malformed(format!("missing field \"{name}\""))),
        };
        let seq = unsigned("seq")?;
        let base = unsigned("base")?;
        let op = match map.get("op") {
            Some(op) => CheckedOp::from_value(op).map_err(|e| {
                (
                    Rejection::new(ErrorCode::InvalidOp, format!("invalid op: {e}")),
                    ids.clone(),
                )
            })?,
            None => return Err(malformed("missing field \"op\"".into())),
        };
        Ok(Submission {
            client,
            seq,
            base,
            op,
        })
    }
}

/// One applied operation as stored and as broadcast (without the document id, which the
/// storage key and the destination already carry).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpRecord {
    /// Version this op produced (the first op produces version 1).
    pub version: u64,
    /// The op as applied, spanning the whole document at `version - 1`.
    pub op: Operation,
    /// Submitting client's id.
    pub client: String,
    /// Submitting client's sequence number.
    pub seq: u64,
    /// The submitting session's user name.
    pub user: String,
    /// When it was applied, in ms since the Unix epoch (never decreasing within a document).
    pub time: u64,
}

/// `{"type":"op", "doc", "version", "op", "client", "seq", "user", "time"}` — one MESSAGE per op.
#[derive(Serialize)]
struct OpEventBody<'a> {
    r#type: &'static str,
    doc: &'a str,
    version: u64,
    op: &'a Operation,
    client: &'a str,
    seq: u64,
    user: &'a str,
    time: u64,
}

/// Serialises the op event JSON for `record` of document `doc`.
pub fn op_event_json(doc: &str, record: &OpRecord) -> String {
    let body = OpEventBody {
        r#type: "op",
        doc,
        version: record.version,
        op: &record.op,
        client: &record.client,
        seq: record.seq,
        user: &record.user,
        time: record.time,
    };
    serde_json::to_string(&body).expect("an op event always serialises")
}

/// Serialises `{"type":"snapshot","doc","version","content"}`.
pub fn snapshot_event_json(doc: &str, version: u64, content: &str) -> String {
    serde_json::json!({"type": "snapshot", "doc": doc, "version": version, "content": content})
        .to_string()
}

/// Serialises the error event sent to `/user/queue/errors`.
pub fn error_event_json(
    rejection: &Rejection,
    doc: Option<&str>,
    ids: &SubmissionIds,
    receipt: Option<&str>,
) -> String {
    serde_json::json!({
        "type": "error",
        "code": rejection.code.as_str(),
        "message": rejection.message,
        "doc": doc,
        "client": ids.client,
        "seq": ids.seq,
        "receipt": receipt,
    })
    .to_string()
}

/// The HTTP error body `{"error":{"code","message"}}`.
pub fn http_error_json(rejection: &Rejection) -> Value {
    serde_json::json!({"error": {"code": rejection.code.as_str(), "message": rejection.message}})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_submission_and_names_what_is_wrong() {
        let ok =
            Submission::parse(br#"{"client":"c1","seq":4,"base":0,"op":["hi"]}"#, 1000).unwrap();
        assert_eq!((ok.client.as_str(), ok.seq, ok.base), ("c1", 4, 0));
        let cases: [(&[u8], ErrorCode); 6] = [
            (b"nope", ErrorCode::MalformedBody),
            (br#"{"client":"c1","seq":4,"base":0}"#, ErrorCode::MalformedBody),
            (br#"{"client":"c1","seq":-1,"base":0,"op":[]}"#, ErrorCode::MalformedBody),
            (br#"{"client":"","seq":1,"base":0,"op":[]}"#, ErrorCode::MalformedBody),
            (br#"{"client":"c","seq":1,"base":0,"op":[1.5]}"#, ErrorCode::InvalidOp),
            (br#"{"client":"c","seq":1,"base":0,"op":["xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"]}"#, ErrorCode::OpTooLarge),
        ];
        for (body, code) in cases {
            let (err, _) = Submission::parse(body, 60).unwrap_err();
            assert_eq!(err.code, code, "{}", String::from_utf8_lossy(body));
        }
        let (_, ids) =
            Submission::parse(br#"{"client":"c9","seq":7,"base":0,"op":null}"#, 100).unwrap_err();
        assert_eq!(
            ids,
            SubmissionIds {
                client: Some("c9".into()),
                seq: Some(7)
            }
        );
    }
}
