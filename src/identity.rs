//! Who a session or request acts as, and what it may do: an [`Identity`] is a user name (recorded
//! with every op it submits) and its rights on documents, as glob patterns over document ids.
//! Read covers subscribing and HTTP reads; write covers submitting ops and implies read.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use glob::{MatchOptions, Pattern};

use crate::doc_id::DocId;

/// The user every session and request acts as while authentication is off.
pub const ANONYMOUS: &str = "anonymous";

/// The documents one right covers.
#[derive(Clone, Debug)]
enum Scope {
    /// Every document (authentication off).
    All,
    /// The documents whose id matches one of the patterns.
    Matching(Vec<Pattern>),
}

impl Scope {
    fn covers(&self, doc: &DocId) -> bool {
        // Ids are plain tokens: `*` matches any run of characters, case matters.
        let options = MatchOptions {
            case_sensitive: true,
            require_literal_separator: false,
            require_literal_leading_dot: false,
        };
        match self {
            Scope::All => true,
            Scope::Matching(patterns) => patterns
                .iter()
                .any(|p| p.matches_with(doc.as_str(), options)),
        }
    }
}

/// A pattern in a token's rights that is not a valid glob.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("document pattern {pattern:?} is not a valid glob: {reason}")]
pub struct BadPattern {
    /// The pattern.
    pub pattern: String,
    /// Why.
    pub reason: String,
}

fn compile(patterns: &[String]) -> Result<Vec<Pattern>, BadPattern> {
    patterns
        .iter()
        .map(|p| {
            Pattern::new(p).map_err(|e| BadPattern {
                pattern: p.clone(),
                reason: e.msg.to_owned(),
            })
        })
        .collect()
}

/// A user and their rights.
#[derive(Clone, Debug)]
pub struct Identity {
    user: String,
    read: Scope,
    write: Scope,
    /// When the credentials stop being valid (seconds since the epoch).
    expires_at: Option<u64>,
}

impl Identity {
    /// The identity of everyone while authentication is off: full rights, no expiry.
    pub fn anonymous() -> Identity {
        Identity {
            user: ANONYMOUS.to_owned(),
            read: Scope::All,
            write: Scope::All,
            expires_at: None,
        }
    }

    /// Another otterdoc node (sharing the store) named `node`: every right, since it forwards
    /// what its own sessions were allowed to do, and checked their rights itself.
    pub fn node(node: &str) -> Identity {
        Identity {
            user: format!("node:{node}"),
            read: Scope::All,
            write: Scope::All,
            expires_at: None,
        }
    }

    /// `user` with read and write rights on the documents matching the patterns, valid until
    /// `expires_at` (seconds since the epoch).
    pub fn new(
        user: impl Into<String>,
        read: &[String],
        write: &[String],
        expires_at: Option<u64>,
    ) -> Result<Identity, BadPattern> {
        Ok(Identity {
            user: user.into(),
            read: Scope::Matching(compile(read)?),
            write: Scope::Matching(compile(write)?),
            expires_at,
        })
    }

    /// The user name.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// May subscribe to and read `doc` (write implies read).
    pub fn can_read(&self, doc: &DocId) -> bool {
        self.read.covers(doc) || self.write.covers(doc)
    }

    /// May submit ops to `doc`.
    pub fn can_write(&self, doc: &DocId) -> bool {
        self.write.covers(doc)
    }

    /// How long the credentials stay valid from now (`None`: forever; zero: already expired).
    pub fn valid_for(&self) -> Option<Duration> {
        let expires = UNIX_EPOCH + Duration::from_secs(self.expires_at?);
        Some(
            expires
                .duration_since(SystemTime::now())
                .unwrap_or(Duration::ZERO),
        )
    }

    /// When the credentials expire, in seconds since the epoch.
    pub fn expires_at(&self) -> Option<u64> {
        self.expires_at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(id: &str) -> DocId {
        DocId::parse(id).unwrap()
    }

    #[test]
    fn rights_are_globs_and_write_implies_read() {
        let id = Identity::new(
            "alice",
            &["team-*".into()],
            &["team-notes".into(), "scratch-?".into()],
            None,
        )
        .unwrap();
        assert!(id.can_read(&doc("team-plans")));
        assert!(!id.can_write(&doc("team-plans")));
        assert!(id.can_write(&doc("team-notes")));
        assert!(id.can_read(&doc("scratch-1")) && id.can_write(&doc("scratch-1")));
        assert!(!id.can_read(&doc("scratch-12")));
        assert!(!id.can_read(&doc("Team-plans")), "case matters");
        assert!(!id.can_read(&doc("other")));
        let anyone = Identity::anonymous();
        assert!(anyone.can_write(&doc("anything")) && anyone.valid_for().is_none());
        assert!(Identity::new("x", &["[".into()], &[], None).is_err());
    }

    #[test]
    fn expiry_counts_down_to_zero() {
        let past = Identity::new("a", &[], &[], Some(1)).unwrap();
        assert_eq!(past.valid_for(), Some(Duration::ZERO));
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let soon = Identity::new("a", &[], &[], Some(now + 60)).unwrap();
        assert!(soon.valid_for().unwrap() > Duration::from_secs(50));
    }
}
