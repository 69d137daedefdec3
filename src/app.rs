//! `App`: what the server hands to every HTTP route and STOMP session — the documents, the
//! store, the settings, authentication, the roster of sessions, the metrics and the shutdown
//! phases — assembled once by `server.rs`. Passing this one value (instead of reaching through
//! the registry for its parts) keeps each part's owner obvious and lets a route or session use
//! exactly what it needs.

use std::sync::Arc;

use crate::auth::{AuthSetupError, Authenticator};
use crate::config::Config;
use crate::document::{Cluster, DocumentRegistry};
use crate::metrics::Metrics;
use crate::roster::Roster;
use crate::shutdown::Shutdown;
use crate::store::Store;
use crate::subscription::Sources;

/// Why the parts of a server could not be assembled.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// Authentication is misconfigured.
    #[error(transparent)]
    Auth(#[from] AuthSetupError),
    /// The admin token file cannot be read or is empty.
    #[error("cannot use the admin token file {path}: {reason}")]
    AdminToken {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
}

/// The running server's parts.
#[derive(Clone)]
pub struct App {
    /// Settings.
    pub config: Arc<Config>,
    /// Durable history (read directly by the read-only HTTP routes and catch-up).
    pub store: Arc<dyn Store>,
    /// The open documents (every change goes through their tasks).
    pub documents: DocumentRegistry,
    /// Verifies credentials.
    pub auth: Arc<Authenticator>,
    /// The admin routes' token (`None`: they are off).
    pub admin_token: Option<Arc<str>>,
    /// Connected sessions.
    pub roster: Roster,
    /// Counters and gauges for `/metrics`.
    pub metrics: Arc<Metrics>,
    /// Shutdown phases.
    pub shutdown: Shutdown,
    /// The nodes sharing the store, when several may (`--store postgres://...`).
    pub cluster: Option<Arc<Cluster>>,
}

impl App {
    /// The parts of a server with `config` over `store`: a document registry whose tasks run in
    /// a fresh set of shutdown phases.
    pub fn new(config: Config, store: Arc<dyn Store>) -> Result<App, SetupError> {
        Self::with_cluster(config, store, None)
    }

    /// Like [`Self::new`], for a node among several sharing `store` (`cluster`).
    pub fn with_cluster(
        config: Config,
        store: Arc<dyn Store>,
        cluster: Option<Arc<Cluster>>,
    ) -> Result<App, SetupError> {
        let auth = Arc::new(Authenticator::from_config(&config)?);
        let admin_token = match &config.admin_token_file {
            None => None,
            Some(path) => {
                let bad = |reason: String| SetupError::AdminToken {
                    path: path.display().to_string(),
                    reason,
                };
                let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
                let token = text.trim();
                if token.is_empty() {
                    return Err(bad("it is empty".into()));
                }
                Some(Arc::from(token))
            }
        };
        let config = Arc::new(config);
        let metrics = Arc::new(Metrics::new());
        let shutdown = Shutdown::default();
        let documents = DocumentRegistry::new(
            store.clone(),
            config.clone(),
            shutdown.documents.clone(),
            metrics.clone(),
            cluster.clone(),
        );
        Ok(App {
            config,
            store,
            documents,
            auth,
            admin_token,
            roster: Roster::default(),
            metrics,
            shutdown,
            cluster,
        })
    }

    /// What a document subscription needs.
    pub fn subscription_sources(&self) -> Sources {
        Sources {
            registry: self.documents.clone(),
            store: self.store.clone(),
            phase: self.shutdown.connections.clone(),
            metrics: self.metrics.clone(),
        }
    }
}
