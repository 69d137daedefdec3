//! Who runs a document when nodes share the store: a new document task first claims the
//! document's lease. Granted, it becomes the owner's task (`actor.rs`, committing under that
//! lease); held by a live node, it becomes a relay of that node (`relay.rs`). While neither is
//! possible — the owner died and its lease has not lapsed yet, or the store cannot be reached —
//! it keeps trying, and requests wait in its mailbox; a task nobody waits for retires.

use std::sync::Arc;

use tracing::Instrument;

use super::actor::{DocumentActor, Start};
use super::cluster::Cluster;
use super::relay::{Relay, RETRY};
use crate::config::limits::STORE_TIMEOUT;
use crate::peer::Upstream;
use crate::store::Claim;

/// Resolves the document's owner and runs the task that fits, until it ends.
pub(super) async fn run(start: Start, cluster: Arc<Cluster>) {
    let span = tracing::debug_span!("document", doc = %start.doc);
    resolve(start, cluster).instrument(span).await;
}

async fn resolve(mut start: Start, cluster: Arc<Cluster>) {
    loop {
        if start.phase.is_stopping() {
            start.presence.close();
            drop(start.registration);
            super::actor::abandon(&mut start.mailbox);
            return;
        }
        let wait = match cluster
            .leases
            .claim(&start.doc, &cluster.holder, cluster.lease)
            .await
        {
            Ok(Claim::Granted(lease)) => {
                start.metrics.leases_acquired.inc();
                tracing::debug!(epoch = lease.epoch, "took the document's lease");
                let owned = cluster.own(&start.doc, lease);
                return DocumentActor::run_owned(start, owned).await;
            }
            // Our own address under another incarnation: this node's previous life, whose
            // lease must lapse first.
            Ok(Claim::Held(owner)) if owner.addr == cluster.holder.addr => {
                owner.remaining.min(RETRY)
            }
            Ok(Claim::Held(owner)) => {
                let max_frame = start
                    .config
                    .max_doc_bytes
                    .saturating_mul(6)
                    .saturating_add(start.config.max_frame_bytes);
                match Upstream::connect(
                    &owner.addr,
                    cluster.node(),
                    cluster.secret(),
                    max_frame,
                    STORE_TIMEOUT,
                )
                .await
                {
                    Ok(upstream) => return Relay::run(start, cluster, owner, upstream).await,
                    Err(err) => {
                        tracing::debug!(error = %err, "the document's owner cannot be reached");
                        owner.remaining.min(RETRY)
                    }
                }
            }
            Err(err) => {
                tracing::warn!(error = %err, "cannot claim the document's lease");
                RETRY
            }
        };
        let Start {
            registration,
            mailbox,
            weak,
            presence,
            ..
        } = &start;
        if registration.retire_if(|| {
            mailbox.is_empty() && weak.strong_count() <= 1 && presence.close_if_empty()
        }) {
            return;
        }
        tokio::select! {
            () = tokio::time::sleep(wait.max(std::time::Duration::from_millis(20))) => {}
            () = start.phase.stopped() => {}
        }
    }
}
