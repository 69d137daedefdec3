//! The STOMP destinations a session understands, parsed in one place: what a SUBSCRIBE may
//! name and where a SEND may go. The names are a contract, listed in `docs/protocol.md`.

use crate::doc_id::DocId;
use crate::error::{ErrorCode, Rejection};

/// Prefix of document topics (SUBSCRIBE).
pub const TOPIC_PREFIX: &str = "/topic/doc/";
/// Prefix of document op submissions (SEND).
pub const APP_PREFIX: &str = "/app/doc/";
/// The per-session queue of rejected ops (SUBSCRIBE).
pub const ERRORS_DESTINATION: &str = "/user/queue/errors";
/// The per-session queue of operator notices (SUBSCRIBE).
pub const NOTICES_DESTINATION: &str = "/user/queue/notices";

/// What a SUBSCRIBE names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Subscription {
    /// A document's ops.
    Document(DocId),
    /// This session's rejected ops.
    Errors,
    /// Notices from the server's operator.
    Notices,
}

/// Reads a SUBSCRIBE destination; the error is the message of the protocol violation.
pub(super) fn subscription(destination: &str) -> Result<Subscription, String> {
    if destination == ERRORS_DESTINATION {
        return Ok(Subscription::Errors);
    }
    if destination == NOTICES_DESTINATION {
        return Ok(Subscription::Notices);
    }
    let Some(id) = destination.strip_prefix(TOPIC_PREFIX) else {
        return Err(format!(
            "unknown destination {destination:?}: subscribe to {TOPIC_PREFIX}<id>, {ERRORS_DESTINATION} or {NOTICES_DESTINATION}"
        ));
    };
    DocId::parse(id)
        .map(Subscription::Document)
        .map_err(|e| e.to_string())
}

/// The document a SEND destination names, or why it names none.
pub(super) fn submission(destination: &str) -> Result<DocId, Rejection> {
    let Some(id) = destination.strip_prefix(APP_PREFIX) else {
        return Err(Rejection::new(
            ErrorCode::UnknownDestination,
            format!("unknown destination {destination:?}: ops are sent to {APP_PREFIX}<id>"),
        ));
    };
    Ok(DocId::parse(id)?)
}

/// The document id a SEND names, as written (even when invalid), for error events.
pub(super) fn named_document(destination: &str) -> Option<String> {
    destination.strip_prefix(APP_PREFIX).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_destinations() {
        let notes = DocId::parse("notes").unwrap();
        assert_eq!(
            subscription("/topic/doc/notes"),
            Ok(Subscription::Document(notes.clone()))
        );
        assert_eq!(subscription(ERRORS_DESTINATION), Ok(Subscription::Errors));
        assert!(subscription("/topic/other")
            .unwrap_err()
            .contains("unknown destination"));
        assert!(subscription("/topic/doc/a b")
            .unwrap_err()
            .contains("is invalid"));
        assert_eq!(submission("/app/doc/notes"), Ok(notes));
        assert_eq!(
            submission("/queue/x").unwrap_err().code,
            ErrorCode::UnknownDestination
        );
        assert_eq!(
            submission("/app/doc/").unwrap_err().code,
            ErrorCode::InvalidDocId
        );
        assert_eq!(named_document("/app/doc/x y").as_deref(), Some("x y"));
    }
}
