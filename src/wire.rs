//! The JSON bodies that cross the wire — the submission and presence update a client sends,
//! the restore, text and copy requests of the HTTP history routes, and the op, snapshot,
//! deleted, error, presence and leave events a client receives. These shapes are the contract
//! written down in `docs/protocol.md` and `docs/http.md`; STOMP and HTTP both use them. Each body
//! is serialised once here, never assembled by hand elsewhere.

use serde::Serialize;
use serde_json::Value;

use ot::{CheckedOp, Operation, Selection};

use crate::config::limits::{
    MAX_CLIENT_ID_LEN, MAX_PRESENCE_BYTES, MAX_PRESENCE_COLOR_LEN, MAX_PRESENCE_NAME_LEN,
    MAX_PRESENCE_RANGES,
};
use crate::doc_id::DocId;
use crate::error::{ErrorCode, Rejection};
use crate::store::{ChainHash, OpRecord};

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
    /// The body as received, which a node forwards unchanged to the document's owner.
    pub body: bytes::Bytes,
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

/// A SEND body as the JSON object it must be: at most `max` bytes (else `too_large`, naming
/// `what`), JSON, and an object (else `malformed-body`, naming its `shape`).
fn body_object(
    body: &[u8],
    max: usize,
    too_large: ErrorCode,
    what: &str,
    shape: &str,
) -> Result<serde_json::Map<String, Value>, (Rejection, SubmissionIds)> {
    let fail = |code: ErrorCode, message: String| {
        Err((Rejection::new(code, message), SubmissionIds::default()))
    };
    if body.len() > max {
        let size = body.len();
        return fail(
            too_large,
            format!("{what} is {size} bytes, over the {max}-byte limit"),
        );
    }
    match serde_json::from_slice(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => fail(
            ErrorCode::MalformedBody,
            format!("body must be a JSON object {shape}"),
        ),
        Err(e) => fail(ErrorCode::MalformedBody, format!("body is not JSON: {e}")),
    }
}

impl Submission {
    /// Parses a submission body. `max_op_bytes` caps the body size.
    pub fn parse(
        body: &[u8],
        max_op_bytes: usize,
    ) -> Result<Submission, (Rejection, SubmissionIds)> {
        let map = body_object(
            body,
            max_op_bytes,
            ErrorCode::OpTooLarge,
            "the operation",
            "{\"client\",\"seq\",\"base\",\"op\"}",
        )?;
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
            body: bytes::Bytes::copy_from_slice(body),
        })
    }
}

/// A session's selection: the body of `SEND /app/doc/<id>/presence`. Checked here for
/// everything that does not depend on the document; the document task checks the rest
/// (`version`, and the ranges against the document's length at that version).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PresenceUpdate {
    /// The sender's `client` id (1–64 chars), as in its submissions.
    pub client: String,
    /// The version the selection refers to.
    pub version: u64,
    /// Ranges in code points of the document at `version`.
    pub selection: Vec<Selection>,
    /// Display name, if given.
    pub name: Option<String>,
    /// Display colour, if given.
    pub color: Option<String>,
}

/// An optional display string (`name`, `color`): absent or `null` is `None`; otherwise a
/// string of 1–`max` characters without control characters.
fn display_string(
    map: &serde_json::Map<String, Value>,
    field: &str,
    max: usize,
) -> Result<Option<String>, Rejection> {
    match map.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => {
            let len = s.chars().count();
            if len == 0 || len > max || s.chars().any(char::is_control) {
                Err(Rejection::new(
                    ErrorCode::InvalidPresence,
                    format!("\"{field}\" must be 1-{max} characters without control characters"),
                ))
            } else {
                Ok(Some(s.clone()))
            }
        }
        Some(_) => Err(Rejection::new(
            ErrorCode::MalformedBody,
            format!("\"{field}\" must be a string"),
        )),
    }
}

impl PresenceUpdate {
    /// Parses a presence update body. The error names `client` when it could be read, for the
    /// error event.
    pub fn parse(body: &[u8]) -> Result<PresenceUpdate, (Rejection, SubmissionIds)> {
        let map = body_object(
            body,
            MAX_PRESENCE_BYTES,
            ErrorCode::InvalidPresence,
            "the presence update",
            "{\"client\",\"version\",\"selection\"}",
        )?;
        let ids = SubmissionIds {
            client: map.get("client").and_then(Value::as_str).map(str::to_owned),
            seq: None,
        };
        let fail = |err: Rejection| (err, ids.clone());
        let malformed = |msg: String| fail(Rejection::new(ErrorCode::MalformedBody, msg));
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
        let version = match map.get("version") {
            Some(v) => v
                .as_u64()
                .ok_or_else(|| malformed("\"version\" must be a non-negative integer".into()))?,
            None => return Err(malformed("missing field \"version\"".into())),
        };
        let ranges = match map.get("selection") {
            Some(Value::Array(ranges)) => ranges,
            Some(_) => return Err(malformed("\"selection\" must be an array".into())),
            None => return Err(malformed("missing field \"selection\"".into())),
        };
        if ranges.len() > MAX_PRESENCE_RANGES {
            return Err(fail(Rejection::new(
                ErrorCode::InvalidPresence,
                format!(
                    "the selection has {} ranges, over the limit of {MAX_PRESENCE_RANGES}",
                    ranges.len()
                ),
            )));
        }
        let mut selection = Vec::with_capacity(ranges.len());
        for (i, range) in ranges.iter().enumerate() {
            let end = |name: &str| {
                range
                    .get(name)
                    .and_then(Value::as_u64)
                    .and_then(|n| usize::try_from(n).ok())
                    .ok_or_else(|| {
                        malformed(format!(
                            "selection[{i}] must be {{\"anchor\",\"head\"}} with non-negative integers"
                        ))
                    })
            };
            selection.push(Selection {
                anchor: end("anchor")?,
                head: end("head")?,
            });
        }
        let name = display_string(&map, "name", MAX_PRESENCE_NAME_LEN).map_err(fail)?;
        let color = display_string(&map, "color", MAX_PRESENCE_COLOR_LEN).map_err(fail)?;
        Ok(PresenceUpdate {
            client,
            version,
            selection,
            name,
            color,
        })
    }
}

/// One range of a presence event.
#[derive(Serialize)]
struct RangeBody {
    anchor: usize,
    head: usize,
}

/// `{"type":"presence", "session", "client", "user", "version", "selection", "name"?, "color"?}`.
#[derive(Serialize)]
struct PresenceEventBody<'a> {
    r#type: &'static str,
    session: &'a str,
    client: &'a str,
    user: &'a str,
    version: u64,
    selection: Vec<RangeBody>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    color: Option<&'a str>,
}

/// What a presence event says about one session.
#[derive(Clone, Copy, Debug)]
pub struct PresenceEvent<'a> {
    /// The session's id (CONNECTED's `session` header of that connection).
    pub session: &'a str,
    /// The `client` id it sent.
    pub client: &'a str,
    /// The session's user.
    pub user: &'a str,
    /// The version `selection` refers to.
    pub version: u64,
    /// Ranges in code points of the document at `version`.
    pub selection: &'a [Selection],
    /// Display name, if the session gave one.
    pub name: Option<&'a str>,
    /// Display colour, if the session gave one.
    pub color: Option<&'a str>,
}

/// Serialises a presence event (one MESSAGE on `/topic/doc/<id>/presence`).
pub fn presence_event_json(event: &PresenceEvent<'_>) -> String {
    let body = PresenceEventBody {
        r#type: "presence",
        session: event.session,
        client: event.client,
        user: event.user,
        version: event.version,
        selection: event
            .selection
            .iter()
            .map(|s| RangeBody {
                anchor: s.anchor,
                head: s.head,
            })
            .collect(),
        name: event.name,
        color: event.color,
    };
    serde_json::to_string(&body).expect("a presence event always serialises")
}

/// Serialises `{"type":"leave","session"}`: the session is no longer present.
pub fn leave_event_json(session: &str) -> String {
    #[derive(Serialize)]
    struct LeaveEventBody<'a> {
        r#type: &'static str,
        session: &'a str,
    }
    let body = LeaveEventBody {
        r#type: "leave",
        session,
    };
    serde_json::to_string(&body).expect("a leave event always serialises")
}

/// `{"type":"op", "doc", "version", "op", "client", "seq", "user", "time", "hash"}` — one
/// MESSAGE per op.
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
    hash: &'a ChainHash,
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
        hash: &record.hash,
    };
    serde_json::to_string(&body).expect("an op event always serialises")
}

/// Serialises `{"type":"snapshot","doc","version","content","hash"}`.
pub fn snapshot_event_json(doc: &str, version: u64, content: &str, hash: &ChainHash) -> String {
    serde_json::json!({"type": "snapshot", "doc": doc, "version": version, "content": content, "hash": hash})
        .to_string()
}

/// Serialises `{"type":"deleted","doc"}`: the document was deleted, and the subscription
/// delivers nothing more.
pub fn deleted_event_json(doc: &str) -> String {
    serde_json::json!({"type": "deleted", "doc": doc}).to_string()
}

/// The body of `POST /docs/<id>/restore`: make the document's text what it was at `version`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Restore {
    /// The version whose text to restore.
    pub version: u64,
    /// The caller's client id (1–64 chars).
    pub client: String,
    /// The caller's sequence number; (`client`, `seq`) identifies the restore for retries.
    pub seq: u64,
    /// The version the caller last saw, if given: a retry is recognised among the ops after it.
    pub base: Option<u64>,
}

/// The body of `POST /docs/<id>/text`: the document's new full text, made against `base`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TextSubmission {
    /// The whole new text.
    pub content: String,
    /// The version the text was edited from.
    pub base: u64,
    /// The caller's client id (1–64 chars).
    pub client: String,
    /// The caller's sequence number; (`client`, `seq`) identifies it for retries.
    pub seq: u64,
}

/// The body of `POST /docs/<id>/copy`: copy the document at `version` into a new document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CopyRequest {
    /// The new document.
    pub to: DocId,
    /// The source version to copy (`None`: the current one).
    pub version: Option<u64>,
    /// Copy versions 1..=`version` as they are (`true`), or only the text, as one insert.
    pub history: bool,
}

/// The fields of a history route's JSON object body, or `malformed-body` naming what it must
/// look like (its size is bounded by the route).
fn request_object(body: &[u8], shape: &str) -> Result<serde_json::Map<String, Value>, Rejection> {
    let malformed = |msg: String| Rejection::new(ErrorCode::MalformedBody, msg);
    if body.is_empty() {
        return Err(malformed(format!(
            "the request has no body; it takes {shape}"
        )));
    }
    match serde_json::from_slice(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(malformed(format!("body must be a JSON object {shape}"))),
        Err(e) => Err(malformed(format!("body is not JSON: {e}"))),
    }
}

/// Reads the fields shared by submissions: `client` (1–64 chars) and non-negative integers.
struct Fields<'a>(&'a serde_json::Map<String, Value>);

impl Fields<'_> {
    fn malformed(msg: String) -> Rejection {
        Rejection::new(ErrorCode::MalformedBody, msg)
    }

    fn client(&self) -> Result<String, Rejection> {
        match self.0.get("client") {
            Some(Value::String(s)) if !s.is_empty() && s.chars().count() <= MAX_CLIENT_ID_LEN => {
                Ok(s.clone())
            }
            Some(Value::String(_)) => Err(Self::malformed(format!(
                "\"client\" must be 1-{MAX_CLIENT_ID_LEN} characters"
            ))),
            Some(_) => Err(Self::malformed("\"client\" must be a string".into())),
            None => Err(Self::malformed("missing field \"client\"".into())),
        }
    }

    fn optional_u64(&self, name: &str) -> Result<Option<u64>, Rejection> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v.as_u64().map(Some).ok_or_else(|| {
                Self::malformed(format!("\"{name}\" must be a non-negative integer"))
            }),
        }
    }

    fn u64(&self, name: &str) -> Result<u64, Rejection> {
        self.optional_u64(name)?
            .ok_or_else(|| Self::malformed(format!("missing field \"{name}\"")))
    }
}

impl Restore {
    /// Parses a restore body `{"version","client","seq","base"?}`.
    pub fn parse(body: &[u8]) -> Result<Restore, Rejection> {
        let map = request_object(body, "{\"version\",\"client\",\"seq\"}")?;
        let fields = Fields(&map);
        Ok(Restore {
            version: fields.u64("version")?,
            client: fields.client()?,
            seq: fields.u64("seq")?,
            base: fields.optional_u64("base")?,
        })
    }
}

impl TextSubmission {
    /// Parses a text body `{"content","base","client","seq"}`.
    pub fn parse(body: &[u8]) -> Result<TextSubmission, Rejection> {
        let map = request_object(body, "{\"content\",\"base\",\"client\",\"seq\"}")?;
        let fields = Fields(&map);
        let content = match map.get("content") {
            Some(Value::String(s)) => s.clone(),
            Some(_) => return Err(Fields::malformed("\"content\" must be a string".into())),
            None => return Err(Fields::malformed("missing field \"content\"".into())),
        };
        Ok(TextSubmission {
            content,
            base: fields.u64("base")?,
            client: fields.client()?,
            seq: fields.u64("seq")?,
        })
    }
}

impl CopyRequest {
    /// Parses a copy body `{"to","version"?,"history"?}` (`history` defaults to `true`).
    pub fn parse(body: &[u8]) -> Result<CopyRequest, Rejection> {
        let map = request_object(body, "{\"to\",\"version\",\"history\"}")?;
        let fields = Fields(&map);
        let to = match map.get("to") {
            Some(Value::String(s)) => DocId::parse(s)?,
            Some(_) => return Err(Fields::malformed("\"to\" must be a document id".into())),
            None => return Err(Fields::malformed("missing field \"to\"".into())),
        };
        let history = match map.get("history") {
            None | Some(Value::Null) => true,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                return Err(Fields::malformed(
                    "\"history\" must be true or false".into(),
                ))
            }
        };
        Ok(CopyRequest {
            to,
            version: fields.optional_u64("version")?,
            history,
        })
    }
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

    #[test]
    fn parses_a_presence_update_and_names_what_is_wrong() {
        let ok = PresenceUpdate::parse(
            br##"{"client":"c1","version":3,"selection":[{"anchor":1,"head":2}],"name":"Ann","color":"#1e88e5"}"##,
        )
        .unwrap();
        assert_eq!(ok.selection, [Selection { anchor: 1, head: 2 }]);
        assert_eq!(
            (ok.name.as_deref(), ok.color.as_deref()),
            (Some("Ann"), Some("#1e88e5"))
        );
        let bare =
            PresenceUpdate::parse(br#"{"client":"c1","version":0,"selection":[],"name":null}"#)
                .unwrap();
        assert_eq!((bare.name, bare.color), (None, None));
        let many = format!(
            r#"{{"client":"c","version":0,"selection":[{}]}}"#,
            vec![r#"{"anchor":0,"head":0}"#; MAX_PRESENCE_RANGES + 1].join(",")
        );
        let long_name = format!(
            r#"{{"client":"c","version":0,"selection":[],"name":"{}"}}"#,
            "n".repeat(MAX_PRESENCE_NAME_LEN + 1)
        );
        let huge = format!(
            r#"{{"client":"c","version":0,"selection":[],"pad":"{}"}}"#,
            "x".repeat(MAX_PRESENCE_BYTES)
        );
        let cases: [(&[u8], ErrorCode); 10] = [
            (b"[]", ErrorCode::MalformedBody),
            (
                br#"{"client":"c","selection":[]}"#,
                ErrorCode::MalformedBody,
            ),
            (
                br#"{"client":"c","version":-1,"selection":[]}"#,
                ErrorCode::MalformedBody,
            ),
            (
                br#"{"client":"c","version":0,"selection":{}}"#,
                ErrorCode::MalformedBody,
            ),
            (
                br#"{"client":"c","version":0,"selection":[{"anchor":1}]}"#,
                ErrorCode::MalformedBody,
            ),
            (
                br#"{"client":"c","version":0,"selection":[],"color":7}"#,
                ErrorCode::MalformedBody,
            ),
            (
                br#"{"client":"c","version":0,"selection":[],"name":"a\u0007"}"#,
                ErrorCode::InvalidPresence,
            ),
            (many.as_bytes(), ErrorCode::InvalidPresence),
            (long_name.as_bytes(), ErrorCode::InvalidPresence),
            (huge.as_bytes(), ErrorCode::InvalidPresence),
        ];
        for (body, code) in cases {
            let (err, _) = PresenceUpdate::parse(body).unwrap_err();
            assert_eq!(err.code, code, "{}", String::from_utf8_lossy(body));
        }
        let (_, ids) = PresenceUpdate::parse(br#"{"client":"c9","version":"x"}"#).unwrap_err();
        assert_eq!(ids.client.as_deref(), Some("c9"));
    }

    #[test]
    fn presence_events_omit_absent_name_and_colour() {
        let selection = [Selection { anchor: 3, head: 7 }];
        let event = PresenceEvent {
            session: "s1",
            client: "c1",
            user: "alice",
            version: 13,
            selection: &selection,
            name: None,
            color: None,
        };
        assert_eq!(
            presence_event_json(&event),
            r#"{"type":"presence","session":"s1","client":"c1","user":"alice","version":13,"selection":[{"anchor":3,"head":7}]}"#
        );
        assert_eq!(leave_event_json("s1"), r#"{"type":"leave","session":"s1"}"#);
    }
}
