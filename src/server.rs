//! `Server`: assembles storage, the document registry, the HTTP routes and the STOMP sessions,
//! and owns graceful shutdown: stop accepting, tell every session to close, let every document
//! task finish what it has queued (each op is flushed before it is acknowledged), flush, exit.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::document::DocumentRegistry;
use crate::session::SessionContext;
use crate::storage::{OpLog, StorageError};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The data directory could not be opened or has another format.
    #[error("cannot open the data directory {path}: {source}")]
    Storage {
        /// The directory.
        path: String,
        /// Why.
        source: StorageError,
    },
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// How long shutdown waits for HTTP requests and sessions to finish before moving on.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// A running server.
pub struct Server {
    addr: SocketAddr,
    registry: DocumentRegistry,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Server {
    /// Opens storage, binds `config.listen` (port 0 picks a free port) and starts serving.
    pub async fn start(config: Config) -> Result<Server, StartError> {
        let log = OpLog::open(&config.data).map_err(|source| StartError::Storage {
            path: config.data.display().to_string(),
            source,
        })?;
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| StartError::Bind {
                addr: config.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| StartError::Bind {
            addr: config.listen,
            source,
        })?;
        let registry = DocumentRegistry::new(log, Arc::new(config));
        let registry_handle = registry.clone();
        let (shutdown, shutdown_rx) = watch::channel(false);
        let (alive, mut all_closed) = mpsc::channel::<()>(1);
        let sessions = SessionContext {
            registry: registry.clone(),
            shutdown: shutdown_rx.clone(),
            alive,
        };
        let routes = crate::http::routes(registry.clone(), sessions);
        let mut signal = shutdown_rx.clone();
        let mut drain_signal = shutdown_rx;
        let server = warp::serve(routes).incoming(listener).graceful(async move {
            crate::session::stopped(&mut signal).await;
        });
        let task = tokio::spawn(async move {
            // Ends after the shutdown signal, once in-flight HTTP requests are answered. The
            // drain timeout starts at the signal, not when the server starts serving.
            let run = server.run();
            tokio::pin!(run);
            tokio::select! {
                () = &mut run => {}
                () = crate::session::stopped(&mut drain_signal) => {
                    if tokio::time::timeout(DRAIN_TIMEOUT, &mut run).await.is_err() {
                        tracing::warn!("HTTP connections still open after the drain timeout");
                    }
                }
            }
            // Every session (and its subscription tasks) holds an `alive` sender.
            if tokio::time::timeout(DRAIN_TIMEOUT, all_closed.recv())
                .await
                .is_err()
            {
                tracing::warn!("sessions still open after the drain timeout");
            }
            registry.shutdown().await;
            tracing::info!("shutdown complete");
        });
        tracing::info!(%addr, "otterdoc listening");
        Ok(Server {
            addr,
            registry: registry_handle,
            shutdown,
            task,
        })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// How many documents have a running task right now (idle ones are unloaded).
    pub fn open_documents(&self) -> usize {
        self.registry.open_documents()
    }

    /// Starts a graceful shutdown without waiting for it.
    pub fn trigger_shutdown(&self) {
        let _ = self.shutdown.send(true);
    }

    /// Shuts down gracefully and waits until every document is flushed and storage is closed.
    pub async fn shutdown(self) {
        self.trigger_shutdown();
        let _ = self.task.await;
    }
}
