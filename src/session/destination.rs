//! The STOMP destinations a session understands, parsed in one place: what a SUBSCRIBE may
//! name and where a SEND may go. The names are a contract, listed in `docs/protocol.md`.
//! Document ids cannot contain `/`, so `<id>/presence` can never be mistaken for an id.

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
/// Suffix of a document's presence destinations: `/topic/doc/<id>/presence` (SUBSCRIBE) and
/// `/app/doc/<id>/presence` (SEND).
pub const PRESENCE_SUFFIX: &str = "/presence";

/// What a SUBSCRIBE names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Subscription {
    /// A document's ops.
    Document(DocId),
    /// A document's presence.
    Presence(DocId),
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
    let Some(rest) = destination.strip_prefix(TOPIC_PREFIX) else {
        return Err(format!(
            "unknown destination {destination:?}: subscribe to {TOPIC_PREFIX}<id>, \
             {TOPIC_PREFIX}<id>{PRESENCE_SUFFIX}, {ERRORS_DESTINATION} or {NOTICES_DESTINATION}"
        ));
    };
    match rest.strip_suffix(PRESENCE_SUFFIX) {
        Some(id) => DocId::parse(id).map(Subscription::Presence),
        None => DocId::parse(rest).map(Subscription::Document),
    }
    .map_err(|e| e.to_string())
}

/// Where a SEND goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Target {
    /// An op for a document.
    Ops(DocId),
    /// A presence update for a document.
    Presence(DocId),
}

/// Where a SEND destination goes, or why it goes nowhere.
pub(super) fn send_target(destination: &str) -> Result<Target, Rejection> {
    let Some(rest) = destination.strip_prefix(APP_PREFIX) else {
        return Err(Rejection::new(
            ErrorCode::UnknownDestination,
            format!(
                "unknown destination {destination:?}: ops are sent to {APP_PREFIX}<id>, \
                 presence to {APP_PREFIX}<id>{PRESENCE_SUFFIX}"
            ),
        ));
    };
    Ok(match rest.strip_suffix(PRESENCE_SUFFIX) {
        Some(id) => Target::Presence(DocId::parse(id)?),
        None => Target::Ops(DocId::parse(rest)?),
    })
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
        assert_eq!(
            subscription("/topic/doc/notes/presence"),
            Ok(Subscription::Presence(notes.clone()))
        );
        assert!(
            subscription("/topic/doc/presence").is_ok(),
            "an id like any other"
        );
        assert!(subscription("/topic/doc/a/b/presence").is_err());
        assert_eq!(
            send_target("/app/doc/notes/presence"),
            Ok(Target::Presence(notes.clone()))
        );
        assert_eq!(
            send_target("/app/doc//presence").unwrap_err().code,
            ErrorCode::InvalidDocId
        );
        assert!(subscription("/topic/other")
            .unwrap_err()
            .contains("unknown destination"));
        assert!(subscription("/topic/doc/a b")
            .unwrap_err()
            .contains("is invalid"));
        assert_eq!(send_target("/app/doc/notes"), Ok(Target::Ops(notes)));
        assert_eq!(
            send_target("/queue/x").unwrap_err().code,
            ErrorCode::UnknownDestination
        );
        assert_eq!(
            send_target("/app/doc/").unwrap_err().code,
            ErrorCode::InvalidDocId
        );
        assert_eq!(named_document("/app/doc/x y").as_deref(), Some("x y"));
    }
}
