//! `Cluster`: what a node needs to share its store with other nodes — the store's leases, who
//! this node is (`Holder`), the lease length, the peer secret — and the one task that renews
//! every lease this node holds, with one statement per period. A document task that owns a
//! document holds an [`OwnedLease`]: it commits under its epoch, and is told (its `lost`
//! token) when the renewal finds the lease gone to another node.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio_util::sync::CancellationToken;

use crate::doc_id::DocId;
use crate::shutdown::Phase;
use crate::store::{Deletion, Holder, Lease, Leases, OpRecord, StoreError};

/// This node among the nodes sharing one store.
pub struct Cluster {
    pub(super) leases: Arc<dyn Leases>,
    pub(super) holder: Holder,
    pub(super) lease: Duration,
    secret: String,
    /// The leases held by this node's document tasks, with the token that tells each task its
    /// lease is gone.
    owned: Mutex<HashMap<DocId, (Lease, CancellationToken)>>,
}

/// A document task's lease.
pub(crate) struct OwnedLease {
    cluster: Arc<Cluster>,
    pub(super) lease: Lease,
    /// Cancelled when the lease is found to belong to someone else.
    pub(super) lost: CancellationToken,
}

impl Cluster {
    /// This node (`holder`) on `leases`, with leases of `lease` length; fetches (or makes) the
    /// peer secret.
    pub async fn join(
        leases: Arc<dyn Leases>,
        holder: Holder,
        lease: Duration,
    ) -> Result<Arc<Cluster>, StoreError> {
        let secret = leases.peer_secret().await?;
        Ok(Arc::new(Cluster {
            leases,
            holder,
            lease,
            secret,
            owned: Mutex::default(),
        }))
    }

    /// The secret nodes prove themselves with.
    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// This node's name.
    pub fn node(&self) -> &str {
        &self.holder.node
    }

    /// Where other nodes reach this one.
    pub fn addr(&self) -> &str {
        &self.holder.addr
    }

    /// Records that this node's task for `doc` holds `lease`.
    pub(super) fn own(self: &Arc<Self>, doc: &DocId, lease: Lease) -> OwnedLease {
        let lost = CancellationToken::new();
        let previous = self.owned.lock().insert(doc.clone(), (lease, lost.clone()));
        if let Some((_, token)) = previous {
            token.cancel();
        }
        OwnedLease {
            cluster: self.clone(),
            lease,
            lost,
        }
    }

    /// Renews every lease of this node every third of a lease, until the phase stops; tells
    /// each task whose lease is no longer this node's. A failed renewal changes nothing:
    /// commits are fenced by the store, so a lease that lapsed meanwhile only lets another node
    /// take the document over, and the next renewal that gets through says so.
    pub async fn keep(self: Arc<Self>, phase: Phase) {
        let period = self.lease / 3;
        loop {
            tokio::select! {
                () = phase.stopped() => return,
                () = tokio::time::sleep(period) => {}
            }
            match self.leases.renew_all(&self.holder, self.lease).await {
                Ok(held) => {
                    let held: HashMap<DocId, Lease> = held.into_iter().collect();
                    self.owned.lock().retain(|doc, (lease, lost)| {
                        let kept = held.get(doc) == Some(lease);
                        if !kept {
                            lost.cancel();
                        }
                        kept
                    });
                }
                Err(err) => tracing::warn!(error = %err, "cannot renew the leases"),
            }
        }
    }
}

impl OwnedLease {
    /// Commits under this lease (refused if it is no longer current).
    pub(super) async fn append(
        &self,
        doc: &DocId,
        records: &[OpRecord],
        snapshots: &[(u64, String)],
    ) -> Result<(), StoreError> {
        self.cluster
            .leases
            .append_fenced(doc, self.lease, records, snapshots)
            .await
    }

    /// Deletes the document under this lease (refused if it is no longer current).
    pub(super) async fn delete(&self, doc: &DocId, deletion: &Deletion) -> Result<(), StoreError> {
        self.cluster
            .leases
            .delete_fenced(doc, self.lease, deletion)
            .await
    }

    /// The task stops owning the document without releasing the lease (it may be gone, or
    /// the store unreachable): it lapses, or the renewal drops it.
    pub(super) fn give_up(self, doc: &DocId) {
        let mut owned = self.cluster.owned.lock();
        if owned
            .get(doc)
            .is_some_and(|(lease, _)| *lease == self.lease)
        {
            owned.remove(doc);
        }
    }

    /// The task stops owning the document and ends the lease now, so another node may take
    /// the document at once.
    pub(super) async fn release(self, doc: &DocId) {
        let cluster = self.cluster.clone();
        let lease = self.lease;
        self.give_up(doc);
        if let Err(err) = cluster.leases.release(doc, &cluster.holder, lease).await {
            tracing::warn!(%doc, error = %err, "cannot release the lease; it lapses instead");
        }
    }
}
