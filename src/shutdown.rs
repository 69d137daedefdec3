//! Graceful shutdown, by one mechanism: a [`CancellationToken`] that tells tasks to stop and a
//! [`TaskTracker`] that lets the server wait for them, per phase. The phases run in order:
//! intake (stop accepting connections; sessions stop reading frames), documents (each finishes
//! what is queued in its mailbox, flushes and answers), connections (sessions report the
//! outcomes that settled — so an op applied during the drain gets its RECEIPT — then close).

use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// One phase of shutdown: the tasks in it, and the signal that tells them to stop.
#[derive(Clone, Debug, Default)]
pub struct Phase {
    token: CancellationToken,
    tracker: TaskTracker,
}

impl Phase {
    /// Spawns `task` as part of this phase, so shutdown waits for it.
    pub fn spawn<F>(&self, task: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.tracker.spawn(task)
    }

    /// Resolves once this phase has been told to stop.
    pub async fn stopped(&self) {
        self.token.cancelled().await;
    }

    /// True once this phase has been told to stop.
    pub fn is_stopping(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Tells every task of the phase to stop (they see [`Self::stopped`]).
    pub fn cancel(&self) {
        self.token.cancel();
        self.tracker.close();
    }

    /// Waits until every task of the phase has ended (after [`Self::cancel`]).
    pub async fn wait(&self) {
        self.tracker.wait().await;
    }

    /// Cancels the phase and waits at most `limit` for its tasks to end. False if some were
    /// still running at the deadline.
    pub async fn stop(&self, limit: Duration) -> bool {
        self.cancel();
        tokio::time::timeout(limit, self.wait()).await.is_ok()
    }

    /// A handle that counts as one running task of this phase until it is dropped, for work
    /// that runs in a task someone else spawned (e.g. a WebSocket session inside warp's).
    pub fn token(&self) -> tokio_util::task::task_tracker::TaskTrackerToken {
        self.tracker.token()
    }
}

/// The server's shutdown phases, handed to everything that spawns long-lived tasks.
#[derive(Clone, Debug, Default)]
pub struct Shutdown {
    /// Intake: the accept loop, and sessions' reading of new frames. Stopped first (its token
    /// only: nothing is tracked in it).
    pub intake: Phase,
    /// Document tasks. Stopped second: they finish what is queued.
    pub documents: Phase,
    /// Connections: HTTP requests in flight, STOMP sessions and their tasks. Stopped last.
    pub connections: Phase,
}
