//! `DocId`: a validated document id. Ids appear in STOMP destinations, URLs and storage keys,
//! so they are restricted to URL-unreserved characters, which also keeps the sled key
//! separator (a NUL byte) out of them.

use std::fmt;

use crate::config::limits::MAX_DOC_ID_LEN;

/// A document id: 1–128 chars of `[A-Za-z0-9._~-]`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DocId(String);

/// Why a string is not a document id; the message is written for the client.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("document id {shown:?} is invalid: it must be 1-{MAX_DOC_ID_LEN} characters of A-Z a-z 0-9 . _ ~ -")]
pub struct InvalidDocId {
    /// The offending id, cut after a few more characters than the limit.
    pub shown: String,
}

impl DocId {
    /// Validates `id`.
    pub fn parse(id: &str) -> Result<DocId, InvalidDocId> {
        let valid_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '~' | '-');
        if id.is_empty() || id.len() > MAX_DOC_ID_LEN || !id.chars().all(valid_char) {
            return Err(InvalidDocId {
                shown: id.chars().take(MAX_DOC_ID_LEN + 8).collect(),
            });
        }
        Ok(DocId(id.to_owned()))
    }

    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DocId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_unreserved_ids_and_rejects_the_rest() {
        for ok in ["a", "Doc-1.v2_~x", &"x".repeat(128)] {
            assert!(DocId::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a/b", "a b", "é", "a%20", &"x".repeat(129), "a\0b"] {
            assert!(DocId::parse(bad).is_err(), "{bad}");
        }
        let err = DocId::parse("a/b").unwrap_err();
        assert_eq!(
            err.to_string(),
            "document id \"a/b\" is invalid: it must be 1-128 characters of A-Z a-z 0-9 . _ ~ -"
        );
    }
}
