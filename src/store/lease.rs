//! Document leases: what lets several nodes share one store while exactly one of them runs each
//! document's task. A lease names the node that owns a document (and where other nodes reach
//! it), until when, and a fencing epoch that grows with every new owner. The store refuses a
//! commit made under an epoch that is no longer the document's current one
//! ([`Leases::append_fenced`]), in the same transaction as the insert — so a node that lost its
//! lease (paused, cut off, presumed dead) can never add to a history someone else now owns,
//! whatever the clocks say. Expiry only decides when another node may take over.

use std::time::Duration;

use async_trait::async_trait;

use super::{Deletion, OpRecord, StoreError};
use crate::doc_id::DocId;

/// Who asks for leases: one running server process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Holder {
    /// The operator's name for the node (`--node-id`).
    pub node: String,
    /// Unique per process start: a restarted node is a new holder, so it never mistakes a lease
    /// of its previous life for one it still serves.
    pub incarnation: String,
    /// Where other nodes reach it (`--advertise-addr`, `host:port`).
    pub addr: String,
}

/// A lease granted to this process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lease {
    /// Its fencing epoch: commits are accepted under this epoch only while it is current.
    pub epoch: u64,
}

/// The current owner of a document, as the store records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    /// Its `--node-id`.
    pub node: String,
    /// The owning process.
    pub incarnation: String,
    /// Where to reach it.
    pub addr: String,
    /// The lease's epoch.
    pub epoch: u64,
    /// How long the lease still runs (zero once expired).
    pub remaining: Duration,
}

/// The answer to a claim.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Claim {
    /// The lease is ours, under a new epoch.
    Granted(Lease),
    /// Another process holds it and it has not expired.
    Held(Owner),
}

/// Leases and fenced commits, for stores several nodes share.
#[async_trait]
pub trait Leases: Send + Sync + 'static {
    /// Takes `doc`'s lease for `holder` for `ttl` if nobody holds it, it expired, or `holder`
    /// already has it; every grant gets a higher epoch than any before it.
    async fn claim(&self, doc: &DocId, holder: &Holder, ttl: Duration)
        -> Result<Claim, StoreError>;

    /// Extends by `ttl` every lease `holder` still has; returns them as (document, epoch).
    async fn renew_all(
        &self,
        holder: &Holder,
        ttl: Duration,
    ) -> Result<Vec<(DocId, Lease)>, StoreError>;

    /// Ends `holder`'s lease of `doc` at `epoch` now, so another node may take it at once.
    async fn release(&self, doc: &DocId, holder: &Holder, lease: Lease) -> Result<(), StoreError>;

    /// Who holds `doc`'s lease (even if expired), if anyone ever did.
    async fn owner(&self, doc: &DocId) -> Result<Option<Owner>, StoreError>;

    /// Like [`super::Store::append`], but only while `lease` is `doc`'s current lease; else
    /// nothing is written and the answer is [`StoreError::Fenced`]. A version already taken
    /// is [`StoreError::VersionTaken`] (nothing written either).
    async fn append_fenced(
        &self,
        doc: &DocId,
        lease: Lease,
        records: &[OpRecord],
        snapshots: &[(u64, String)],
    ) -> Result<(), StoreError>;

    /// Like [`super::Store::delete`], but only while `lease` is `doc`'s current lease; else
    /// nothing is removed and the answer is [`StoreError::Fenced`].
    async fn delete_fenced(
        &self,
        doc: &DocId,
        lease: Lease,
        deletion: &Deletion,
    ) -> Result<(), StoreError>;

    /// The secret nodes sharing this store present to each other (created on first use).
    async fn peer_secret(&self) -> Result<String, StoreError>;
}
