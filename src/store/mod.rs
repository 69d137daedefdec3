//! The storage boundary: everything the document tasks, subscriptions and HTTP routes need from
//! durable storage, as the [`Store`] trait, with the record it stores ([`OpRecord`]). The sled
//! implementation ([`SledStore`]) is the embedded default; the contract every implementation
//! must meet is checked by one test suite (`tests/it/store_contract.rs`) run against each.
//! [`PgStore`] keeps the same history in PostgreSQL, which several nodes share; it also
//! implements [`Leases`] (`lease.rs`): which node owns each document, and commits fenced by
//! the owner's epoch.
//!
//! Rules every implementation keeps:
//! - a document's versions are 1, 2, 3… with no gap; [`Store::append`] adds the next ones;
//! - when `append` returns `Ok`, its records and snapshots survive a crash (`kill -9`);
//! - readers see only what an `append` has written (never half a batch).

mod lease;
mod migrations;
mod postgres;
mod sled;

use async_trait::async_trait;
use ot::{Document, Operation};
use serde::{Deserialize, Serialize};

use crate::doc_id::DocId;

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
}

/// A document as loaded for its task: the latest version, its text, and the time of its last op.
pub struct LoadedDoc {
    /// Current version (0 for a document that never had an op).
    pub version: u64,
    /// Text at `version`.
    pub document: Document,
    /// `time` of the op that produced `version` (0 if none).
    pub last_time: u64,
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
    /// The document's current version: that of its last stored op, 0 if it has none.
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

    /// Writes `records` (consecutive, right after the current head) and `snapshots` as one
    /// durable batch: when this returns `Ok`, all of them survive a crash; on `Err`, nothing
    /// built on them may be acknowledged.
    async fn append(
        &self,
        doc: &DocId,
        records: &[OpRecord],
        snapshots: &[(u64, String)],
    ) -> Result<(), StoreError>;

    /// Makes everything written so far durable (used at shutdown).
    async fn flush(&self) -> Result<(), StoreError>;

    /// Proves the store can take a durable write now (for `GET /readyz`).
    async fn check_writable(&self) -> Result<(), StoreError>;

    /// The text at `version` (which must be ≤ head): the nearest snapshot plus a replay of
    /// fewer than `--snapshot-interval` ops.
    async fn content_at(&self, doc: &DocId, version: u64) -> Result<Document, StoreError> {
        let (at, text) = self.snapshot_at_or_before(doc, version).await?;
        let mut document = Document::from_text(&text);
        replay(
            doc,
            &mut document,
            &self.ops(doc, at, version, usize::MAX).await?,
        )?;
        Ok(document)
    }

    /// The current state of a document, for its task.
    async fn load(&self, doc: &DocId) -> Result<LoadedDoc, StoreError> {
        let version = self.head(doc).await?;
        let (at, text) = self.snapshot_at_or_before(doc, version).await?;
        let mut document = Document::from_text(&text);
        let records = self.ops(doc, at, version, usize::MAX).await?;
        replay(doc, &mut document, &records)?;
        let last_time = match records.last() {
            Some(record) => record.time,
            None if version > 0 => self.op(doc, version).await?.map_or(0, |r| r.time),
            None => 0,
        };
        Ok(LoadedDoc {
            version,
            document,
            last_time,
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
