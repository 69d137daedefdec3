//! `Server`: assembles the store, the document registry, the HTTP routes and the STOMP
//! sessions into an [`App`], and runs graceful shutdown phase by phase: stop accepting and let
//! HTTP requests finish, close every session, let every document task finish what it has
//! queued (each op is flushed before it is acknowledged), flush, exit.
//!
//! The store is sled under `--data` (the default) or, with `--store postgres://...`, a
//! PostgreSQL database that this node then holds alone ([`SoleNode`]).

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::task::JoinHandle;

use crate::app::App;
use crate::config::limits::DRAIN_TIMEOUT;
use crate::config::Config;
use crate::document::Cluster;
use crate::store::{Holder, Leases, PgStore, SledStore, SoleNode, Store, StoreError};
use crate::webhook::Webhooks;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The data directory could not be opened or has another format.
    #[error("cannot open the data directory {path}: {source}")]
    Storage {
        /// The directory.
        path: String,
        /// Why.
        source: StoreError,
    },
    /// The PostgreSQL database (`--store`) could not be reached, migrated or had for this node.
    #[error("cannot use the PostgreSQL database given by --store: {0}")]
    Database(StoreError),
    /// `--node-id` without `--advertise-addr` on a listen address other nodes cannot use.
    #[error("--node-id needs --advertise-addr (where the other nodes reach this one): the listen address {addr} names no host")]
    Advertise {
        /// The address bound.
        addr: SocketAddr,
    },
    /// Authentication or the admin token is misconfigured.
    #[error("{0}")]
    Setup(#[from] crate::app::SetupError),
    /// A webhook flag is wrong.
    #[error("{0}")]
    Webhook(#[from] crate::webhook::WebhookError),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// A running server.
pub struct Server {
    addr: SocketAddr,
    stomp_tcp_addr: Option<SocketAddr>,
    app: App,
    task: JoinHandle<()>,
    /// With `--store`: this node's hold on its database, kept until the server is gone.
    _sole: Option<SoleNode>,
}

impl Server {
    /// Opens storage, binds `config.listen` (port 0 picks a free port) and starts serving.
    pub async fn start(config: Config) -> Result<Server, StartError> {
        let webhooks = Webhooks::from_config(&config)?;
        let mut pg = None;
        let (store, sole): (Arc<dyn Store>, _) = match &config.store {
            None => {
                let store =
                    SledStore::open(&config.data).map_err(|source| StartError::Storage {
                        path: config.data.display().to_string(),
                        source,
                    })?;
                (Arc::new(store), None)
            }
            Some(url) => {
                let store = Arc::new(PgStore::connect(url).await.map_err(StartError::Database)?);
                let lock = match config.node_id {
                    None => store.lock_sole_node().await,
                    Some(_) => store.lock_shared_node().await,
                };
                pg = Some(store.clone());
                (store, Some(lock.map_err(StartError::Database)?))
            }
        };
        let bind_error = |source| StartError::Bind {
            addr: config.listen,
            source,
        };
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(bind_error)?;
        let addr = listener.local_addr().map_err(bind_error)?;
        let stomp_tcp = match config.stomp_tcp_listen {
            Some(addr) => {
                let bind_error = |source| StartError::Bind { addr, source };
                let listener = tokio::net::TcpListener::bind(addr)
                    .await
                    .map_err(bind_error)?;
                let bound = listener.local_addr().map_err(bind_error)?;
                Some((listener, bound))
            }
            None => None,
        };
        let stomp_tcp_addr = stomp_tcp.as_ref().map(|(_, bound)| *bound);
        let cluster = match (&config.node_id, pg) {
            (Some(node), Some(pg)) => Some(Self::join(&config, node, addr, pg).await?),
            _ => None,
        };
        let app = App::with_cluster(config, store, cluster.clone())?;
        if let Some(cluster) = cluster {
            let phase = app.shutdown.documents.clone();
            phase.spawn(cluster.keep(phase.clone()));
        }
        let service = crate::http::Service::new(app.clone());
        let http = crate::listener::serve(listener, app.clone(), service);
        let stomp = stomp_tcp.map(|(listener, _)| crate::stomp_tcp::serve(listener, app.clone()));
        // Both accept loops end at the intake phase.
        let accept = async move {
            match stomp {
                Some(stomp) => {
                    tokio::join!(http, stomp);
                }
                None => http.await,
            }
        };
        let deliveries = webhooks.start(&app);
        let task = tokio::spawn(Self::run(app.clone(), accept, deliveries));
        tracing::info!(%addr, "otterdoc listening");
        if let Some(addr) = stomp_tcp_addr {
            tracing::info!(%addr, "otterdoc listening for STOMP over TCP");
        }
        Ok(Server {
            addr,
            stomp_tcp_addr,
            app,
            task,
            _sole: sole,
        })
    }

    /// Joins the nodes sharing `pg` as `node`, reachable at `--advertise-addr` (default: the
    /// address bound, `addr`, unless it names no host).
    async fn join(
        config: &Config,
        node: &str,
        addr: SocketAddr,
        pg: Arc<PgStore>,
    ) -> Result<Arc<Cluster>, StartError> {
        let advertise = match &config.advertise_addr {
            Some(advertise) => advertise.clone(),
            None if addr.ip().is_unspecified() => return Err(StartError::Advertise { addr }),
            None => addr.to_string(),
        };
        let holder = Holder {
            node: node.to_owned(),
            incarnation: uuid::Uuid::new_v4().to_string(),
            addr: advertise,
        };
        let leases: Arc<dyn Leases> = pg;
        Cluster::join(leases, holder, config.lease())
            .await
            .map_err(StartError::Database)
    }

    /// Accepts until shutdown starts, then shuts down in order.
    async fn run(
        app: App,
        accept: impl std::future::Future<Output = ()>,
        deliveries: Vec<JoinHandle<()>>,
    ) {
        // Accepting ends at the shutdown signal (the intake phase), and sessions stop reading
        // frames. The documents then finish what is queued, so every op accepted so far is
        // durable and its outcome settled; then the connections report those outcomes (the
        // RECEIPTs of ops applied during the drain) and close.
        accept.await;
        // Webhook deliveries stop with the intake (an unacknowledged batch is sent again
        // after the restart).
        for delivery in deliveries {
            let _ = delivery.await;
        }
        app.documents.shutdown().await;
        if !app.shutdown.connections.stop(DRAIN_TIMEOUT).await {
            tracing::warn!("connections still open after the drain timeout");
        }
        if let Err(err) = app.store.flush().await {
            tracing::error!(error = %err, "final flush failed");
        }
        tracing::info!("shutdown complete");
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The address `--stomp-tcp-listen` bound (port 0 picks a free port), if set.
    pub fn stomp_tcp_addr(&self) -> Option<SocketAddr> {
        self.stomp_tcp_addr
    }

    /// How many documents have a running task right now (idle ones are unloaded).
    pub fn open_documents(&self) -> usize {
        self.app.documents.open_documents()
    }

    /// Starts a graceful shutdown without waiting for it.
    pub fn trigger_shutdown(&self) {
        self.app.shutdown.intake.cancel();
    }

    /// Shuts down gracefully and waits until every document is flushed and storage is closed.
    pub async fn shutdown(self) {
        self.trigger_shutdown();
        let _ = self.task.await;
    }
}
