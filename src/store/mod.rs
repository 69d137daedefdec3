//! The storage boundary: everything the document tasks, subscriptions, HTTP routes and
//! webhooks need from durable storage, as the [`Store`] trait, with the records it stores
//! ([`OpRecord`], [`Change`]). The sled implementation ([`SledStore`]) is the embedded default;
//! the contract every implementation must meet is checked by one test suite
//! (`tests/it/store_contract.rs`) run against each. [`PgStore`] keeps the same history in
//! PostgreSQL, which several nodes share; it also implements [`Leases`] (`lease.rs`): which node
//! owns each document, and commits fenced by the owner's epoch.
//!
//! Rules every implementation keeps:
//! - a document's versions are 1, 2, 3… with no gap; [`Store::append`] adds the next ones;
//! - when `append` returns `Ok`, its records and snapshots survive a crash (`kill -9`);
//! - readers see only what an `append` has written (never half a batch);
//! - every record carries its link of the document's hash chain (`chain.rs`);
//! - every appended record also gets one entry in the global changefeed, in commit order;
//!   [`Store::changes`] shows an entry only once it is durable, and entries become visible in
//!   cursor order, so a reader that has seen cursor `c` never later finds a new entry below `c`
//!   (it never skips one), and never sees one a crash could take back (it never gets an
//!   invented one);
//! - [`Store::delete`] removes a document's records, snapshots and changefeed entries for good,
//!   all or nothing across a crash, and appends one `deleted` entry to the feed.

mod chain;
mod lease;
mod migrations;
mod postgres;
mod sled;

use async_trait::async_trait;
use ot::{Document, Operation};
use serde::{Deserialize, Serialize};

use crate::config::limits::VERIFY_PAGE;
use crate::doc_id::DocId;

pub use self::chain::{canonical_bytes, ChainHash};
pub use self::lease::{Claim, Holder, Lease, Leases, Owner};
pub use self::postgres::{PgStore, SoleNode};
pub use self::sled::{SledStore, FORMAT};

/// One applied operation as stored and as listed by `GET /docs/<id>/ops` (without the
/// document id, which the storage key and the route already carry).
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
    /// Its link of the hash chain: `hash(previous record's hash, this record)`.
    pub hash: ChainHash,
}

impl OpRecord {
    /// Sets [`Self::hash`] to the link that follows `previous` (the hash of version
    /// `version - 1`, [`ChainHash::GENESIS`] for version 1), and returns it.
    pub fn chain_after(&mut self, previous: &ChainHash) -> ChainHash {
        self.hash = previous.next(self);
        self.hash
    }
}

/// A document as loaded for its task: the latest version, its text, and the time of its last op.
pub struct LoadedDoc {
    /// Current version (0 for a document that never had an op).
    pub version: u64,
    /// Text at `version`.
    pub document: Document,
    /// `time` of the op that produced `version` (0 if none).
    pub last_time: u64,
    /// The hash of `version` ([`ChainHash::GENESIS`] at version 0).
    pub hash: ChainHash,
}

/// What `GET /docs` lists about a stored document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DocSummary {
    /// The id.
    pub doc: String,
    /// Its current version.
    pub version: u64,
    /// Its length at that version, in code points.
    pub length: usize,
    /// `time` of version 1.
    pub created: u64,
    /// `time` of the current version.
    pub modified: u64,
}

/// What a changefeed entry records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    /// An op was committed: `version` is the version it produced.
    Op,
    /// The document was deleted: `version` is the version it had (it is at 0 now).
    Deleted,
}

/// One entry of the global changefeed, in commit order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// Its position in the feed: increasing in commit order (not necessarily by 1).
    pub cursor: u64,
    /// What happened.
    #[serde(rename = "type")]
    pub kind: ChangeKind,
    /// The document.
    pub doc: String,
    /// See [`ChangeKind`].
    pub version: u64,
    /// When, in ms since the Unix epoch (the op's `time`, or when the deletion was committed).
    pub time: u64,
    /// Who: the op's user, or the user who deleted the document.
    pub user: String,
    /// The op's `client` (`None` for a deletion).
    pub client: Option<String>,
    /// The op's `seq` (`None` for a deletion).
    pub seq: Option<u64>,
}

/// A deletion to commit: who, when, and the version the document has.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deletion {
    /// The document's current version (recorded in the feed's `deleted` entry).
    pub version: u64,
    /// Who deletes it.
    pub user: String,
    /// When, in ms since the Unix epoch.
    pub time: u64,
}

/// The outcome of checking a document's stored history against its hash chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verification {
    /// Every record is readable, in place, spans the text its predecessor left, and carries
    /// the hash the chain gives it.
    Intact {
        /// The document's version.
        version: u64,
        /// The hash of that version.
        hash: ChainHash,
    },
    /// The first version whose record or hash does not match.
    Broken {
        /// That version.
        version: u64,
        /// What does not match.
        reason: String,
    },
}

/// A storage failure. Nothing built on a failed read or write is acknowledged.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The storage engine reported an error (I/O, corruption it detected).
    #[error("storage error: {0}")]
    Backend(Box<dyn std::error::Error + Send + Sync>),
    /// The data directory holds another on-disk format.
    #[error("the data directory has on-disk format {found:?}, but this build reads {expected:?}; use a matching otterdoc version or another --data directory")]
    UnknownFormat {
        /// What the format marker holds.
        found: String,
        /// What this build expects.
        expected: String,
    },
    /// The database was migrated by a newer otterdoc than this one.
    #[error("the database has schema version {found}, newer than this build's {known}; use a matching otterdoc version")]
    NewerSchema {
        /// The database's schema version.
        found: i32,
        /// The newest this build knows.
        known: i32,
    },
    /// Another otterdoc node already serves this database; several nodes on one database are
    /// not available yet (`docs/cluster.md`).
    #[error("another otterdoc node is already running on this database; nodes may share one database only if every one of them is started with --node-id (docs/cluster.md): stop it, or give this node its own database")]
    Shared,
    /// A node started with `--node-id` found a node running alone on the database.
    #[error("an otterdoc node started without --node-id runs on this database and holds it alone: stop it, or restart it with --node-id too (docs/cluster.md)")]
    HeldAlone,
    /// The store cannot be reached now (connection refused or lost, no answer in time). The
    /// outcome of a write that failed this way is unknown.
    #[error("the store cannot be reached: {reason}")]
    Unavailable {
        /// Why.
        reason: String,
    },
    /// A fenced commit was refused: the lease it was made under is no longer the document's
    /// current one (another node owns the document now). Nothing was written.
    #[error("document {doc} has a newer owner than lease epoch {epoch}; nothing was written")]
    Fenced {
        /// Document id.
        doc: String,
        /// The stale epoch.
        epoch: u64,
    },
    /// A commit was refused because another writer stored `version` first. Nothing was written.
    #[error(
        "version {version} of document {doc} was stored by another writer; nothing was written"
    )]
    VersionTaken {
        /// Document id.
        doc: String,
        /// The first version of the refused commit.
        version: u64,
    },
    /// A stored record could not be read or replayed.
    #[error("document {doc} is corrupt at version {version}: {reason}")]
    Corrupt {
        /// Document id.
        doc: String,
        /// Version of the bad record.
        version: u64,
        /// What is wrong.
        reason: String,
    },
}

/// Durable history of every document.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// The document's current version: that of its last stored op, 0 if it has none (or if it
    /// is being deleted).
    async fn head(&self, doc: &DocId) -> Result<u64, StoreError>;

    /// The op that produced `version`, if stored.
    async fn op(&self, doc: &DocId, version: u64) -> Result<Option<OpRecord>, StoreError>;

    /// Up to `limit` ops with versions in `after+1 ..= upto`, ascending.
    async fn ops(
        &self,
        doc: &DocId,
        after: u64,
        upto: u64,
        limit: usize,
    ) -> Result<Vec<OpRecord>, StoreError>;

    /// The newest snapshot at or before `version`: (its version, its text); `(0, "")` if none.
    async fn snapshot_at_or_before(
        &self,
        doc: &DocId,
        version: u64,
    ) -> Result<(u64, String), StoreError>;

    /// Writes `records` (consecutive, right after the current head, each with its chain hash)
    /// and `snapshots` as one durable batch, with one changefeed entry per record: when this
    /// returns `Ok`, all of them survive a crash; on `Err`, nothing built on them may be
    /// acknowledged.
    async fn append(
        &self,
        doc: &DocId,
        records: &[OpRecord],
        snapshots: &[(u64, String)],
    ) -> Result<(), StoreError>;

    /// Removes every record, snapshot and changefeed entry of `doc`, and appends one
    /// [`ChangeKind::Deleted`] entry: all of it durable when this returns `Ok`, and a crash
    /// part-way leaves the deletion to be completed when the store is opened again (never a
    /// half-deleted document). Afterwards the document is at version 0, as if it never existed.
    /// Only the document's task calls this, with nothing of the document left to commit.
    async fn delete(&self, doc: &DocId, deletion: &Deletion) -> Result<(), StoreError>;

    /// Up to `limit` ids of stored documents (version ≥ 1) that start with `prefix`, in
    /// byte order, after `after` (exclusive) when given.
    async fn list(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<DocId>, StoreError>;

    /// Up to `limit` durable changefeed entries with cursors above `after`, ascending.
    async fn changes(&self, after: u64, limit: usize) -> Result<Vec<Change>, StoreError>;

    /// The cursor of the newest durable changefeed entry (0 for an empty feed), updated as
    /// commits become durable: readers wait on it for new entries.
    fn changes_head(&self) -> tokio::sync::watch::Receiver<u64>;

    /// The cursor up to which the webhook `name` has acknowledged the feed, if ever stored.
    async fn webhook_cursor(&self, name: &str) -> Result<Option<u64>, StoreError>;

    /// Durably records that the webhook `name` has acknowledged every entry up to `cursor`.
    async fn set_webhook_cursor(&self, name: &str, cursor: u64) -> Result<(), StoreError>;

    /// Makes everything written so far durable (used at shutdown).
    async fn flush(&self) -> Result<(), StoreError>;

    /// Proves the store can take a durable write now (for `GET /readyz`).
    async fn check_writable(&self) -> Result<(), StoreError>;

    /// The text at `version` (which must be ≤ head): the nearest snapshot plus a replay of
    /// fewer than `--snapshot-interval` ops.
    async fn content_at(&self, doc: &DocId, version: u64) -> Result<Document, StoreError> {
        let (at, text) = self.snapshot_at_or_before(doc, version).await?;
        let mut document = Document::from_text(&text);
        let records = self.ops(doc, at, version, usize::MAX).await?;
        contiguous(doc, at, version, &records)?;
        replay(doc, &mut document, &records)?;
        Ok(document)
    }

    /// The current state of a document, for its task.
    async fn load(&self, doc: &DocId) -> Result<LoadedDoc, StoreError> {
        let version = self.head(doc).await?;
        let (at, text) = self.snapshot_at_or_before(doc, version).await?;
        let mut document = Document::from_text(&text);
        let records = self.ops(doc, at, version, usize::MAX).await?;
        contiguous(doc, at, version, &records)?;
        replay(doc, &mut document, &records)?;
        let (last_time, hash) = match records.last() {
            Some(record) => (record.time, record.hash),
            None if version > 0 => self
                .op(doc, version)
                .await?
                .map_or((0, ChainHash::GENESIS), |r| (r.time, r.hash)),
            None => (0, ChainHash::GENESIS),
        };
        Ok(LoadedDoc {
            version,
            document,
            last_time,
            hash,
        })
    }

    /// The last version whose op was applied at or before `ms` (0 if none): a binary search
    /// over versions, since times never decrease within a document.
    async fn version_at_time(&self, doc: &DocId, ms: u64) -> Result<u64, StoreError> {
        let (mut lo, mut hi) = (0u64, self.head(doc).await?);
        while lo < hi {
            let mid = lo + (hi - lo).div_ceil(2);
            let time = self.op(doc, mid).await?.map_or(u64::MAX, |r| r.time);
            if time <= ms {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        Ok(lo)
    }

    /// What `GET /docs` shows about `doc`; `None` if it has no ops. Three reads: the head, its
    /// record (length and modification time) and version 1 (creation time).
    async fn summary(&self, doc: &DocId) -> Result<Option<DocSummary>, StoreError> {
        let version = self.head(doc).await?;
        if version == 0 {
            return Ok(None);
        }
        let (Some(last), Some(first)) = (self.op(doc, version).await?, self.op(doc, 1).await?)
        else {
            // Deleted between the reads.
            return Ok(None);
        };
        Ok(Some(DocSummary {
            doc: doc.to_string(),
            version,
            length: last.op.target_len(),
            created: first.time,
            modified: last.time,
        }))
    }

    /// Recomputes `doc`'s hash chain from its stored records, in pages, and reports the first
    /// version that is missing, unreadable, does not span the text its predecessor left, or
    /// whose hash is not the chain's.
    async fn verify(&self, doc: &DocId) -> Result<Verification, StoreError> {
        let head = self.head(doc).await?;
        let (mut at, mut hash, mut len) = (0u64, ChainHash::GENESIS, 0usize);
        while at < head {
            let page = match self.ops(doc, at, head, VERIFY_PAGE).await {
                Ok(page) => page,
                Err(StoreError::Corrupt {
                    version, reason, ..
                }) => return Ok(Verification::Broken { version, reason }),
                Err(other) => return Err(other),
            };
            if page.is_empty() {
                return Ok(Verification::Broken {
                    version: at + 1,
                    reason: "the record is missing".into(),
                });
            }
            for record in page {
                let version = at + 1;
                let broken = |reason: String| Ok(Verification::Broken { version, reason });
                if record.version != version {
                    return broken(format!(
                        "the record is missing (the next one stored is version {})",
                        record.version
                    ));
                }
                if record.op.base_len() != len {
                    return broken(format!(
                        "the op spans {} characters, but version {} has {len}",
                        record.op.base_len(),
                        version - 1
                    ));
                }
                let expected = hash.next(&record);
                if record.hash != expected {
                    return broken(format!(
                        "the stored hash is {}, the chain gives {expected}",
                        record.hash
                    ));
                }
                (at, hash, len) = (version, expected, record.op.target_len());
            }
        }
        Ok(Verification::Intact {
            version: head,
            hash,
        })
    }
}

/// Checks that `records` are exactly versions `after+1 ..= upto` (a document deleted during
/// the read, or storage missing history, must not produce a wrong text).
fn contiguous(doc: &DocId, after: u64, upto: u64, records: &[OpRecord]) -> Result<(), StoreError> {
    for (i, record) in records.iter().enumerate() {
        let expected = after + 1 + i as u64;
        if record.version != expected {
            return Err(missing(doc, expected));
        }
    }
    let next = after + 1 + records.len() as u64;
    if next <= upto {
        return Err(missing(doc, next));
    }
    Ok(())
}

fn missing(doc: &DocId, version: u64) -> StoreError {
    StoreError::Corrupt {
        doc: doc.to_string(),
        version,
        reason: "the record is missing".into(),
    }
}

/// Applies stored `records` to `document` in order, reporting a record that does not apply as
/// corruption of that version.
fn replay(doc: &DocId, document: &mut Document, records: &[OpRecord]) -> Result<(), StoreError> {
    for record in records {
        document
            .apply(&record.op)
            .map_err(|e| StoreError::Corrupt {
                doc: doc.to_string(),
                version: record.version,
                reason: format!("stored op does not apply: {e}"),
            })?;
    }
    Ok(())
}
