//! `App`: what the server hands to every HTTP route and STOMP session — the documents, the
//! store, the settings and the shutdown phases — assembled once by `server.rs`. Passing this
//! one value (instead of reaching through the registry for its parts) keeps each part's owner
//! obvious and lets a route or session use exactly what it needs.

use std::sync::Arc;

use crate::config::Config;
use crate::document::DocumentRegistry;
use crate::shutdown::Shutdown;
use crate::store::Store;
use crate::subscription::Sources;

/// The running server's parts.
#[derive(Clone)]
pub struct App {
    /// Settings.
    pub config: Arc<Config>,
    /// Durable history (read directly by the read-only HTTP routes and catch-up).
    pub store: Arc<dyn Store>,
    /// The open documents (every change goes through their tasks).
    pub documents: DocumentRegistry,
    /// Shutdown phases.
    pub shutdown: Shutdown,
}

impl App {
    /// The parts of a server with `config` over `store`: a document registry whose tasks run in
    /// a fresh set of shutdown phases.
    pub fn new(config: Config, store: Arc<dyn Store>) -> App {
        let config = Arc::new(config);
        let shutdown = Shutdown::default();
        let documents =
            DocumentRegistry::new(store.clone(), config.clone(), shutdown.documents.clone());
        App {
            config,
            store,
            documents,
            shutdown,
        }
    }

    /// What a document subscription needs.
    pub fn subscription_sources(&self) -> Sources {
        Sources {
            registry: self.documents.clone(),
            store: self.store.clone(),
            phase: self.shutdown.connections.clone(),
        }
    }
}
