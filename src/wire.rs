//! The JSON bodies that cross the wire — the submission a client sends, and the op, snapshot
//! and error events it receives. These shapes are the contract written down in
//! `docs/protocol.md`; STOMP and HTTP both use them. Each body is serialised once here, never
//! assembled by hand elsewhere.

use serde::Serialize;
use serde_json::Value;

use ot::{CheckedOp, Operation};

use crate::config::limits::MAX_CLIENT_ID_LEN;
use crate::error::{ErrorCode, Rejection};
use crate::store::OpRecord;

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
