//! otterdoc: a collaborative plain-text editing server. Editors connect over STOMP 1.2 over
//! WebSocket, submit operations for a document and receive every accepted operation; each open
//! document is owned by one task that transforms, applies, persists (sled) and broadcasts.
//! The OT algebra lives in the `ot` crate; this crate is the server around it.
//!
//! Module map (each file owns one thing):
//! - [`config`]: CLI flags / environment;
//! - [`server`]: start-up and graceful shutdown;
//! - [`http`]: HTTP routes and the WebSocket upgrade;
//! - [`session`]: one STOMP connection; [`subscription`]: delivery of one document topic;
//! - [`stomp`]: the STOMP frame codec;
//! - [`document`]: the per-document task and the registry of open documents;
//! - [`storage`]: the op log and snapshots in sled;
//! - [`protocol`]: JSON bodies and error codes; [`doc_id`]: document id validation.
#![forbid(unsafe_code)]

pub mod config;
pub mod doc_id;
pub mod document;
pub mod http;
pub mod protocol;
pub mod server;
pub mod session;
pub mod stomp;
pub mod storage;
pub mod subscription;

pub use config::Config;
pub use server::Server;
