//! otterdoc: a collaborative plain-text editing server. Editors connect over STOMP 1.2 over
//! WebSocket, submit operations for a document and receive every accepted operation; each open
//! document is owned by one task that transforms, applies, persists and broadcasts. The OT
//! algebra lives in the `ot` crate; this crate is the server around it.
//!
//! # Layout
//! Data flows one way — socket → session → document task → store / broadcast → subscription →
//! socket — and each module imports only modules below it in this list (no cycles):
//! - [`server`]: start-up, and graceful shutdown phase by phase;
//! - [`webhook`]: the changefeed delivered to `--webhook-url`s, signed and retried;
//! - [`listener`]: the accept loop (socket options, HTTP/1.1 with upgrades, head timeout);
//! - [`stomp_tcp`]: STOMP over plain TCP (`--stomp-tcp-listen`), its own accept loop;
//! - [`http`]: the HTTP routes and the WebSocket upgrade; [`sockjs`]: STOMP over SockJS (its
//!   sessions and transports); [`websocket`]: the WebSocket upgrade, and a WebSocket as the
//!   byte transport of a STOMP session; [`demo`]: the demo editor's files, embedded;
//! - [`session`]: one STOMP connection (negotiation, dispatch, transactions, replies in order);
//! - [`app`]: the running server's parts, handed to routes and sessions;
//! - [`roster`]: the connected sessions, and how operators reach them;
//! - [`presence`]: the delivery of one document's presence topic to one subscriber, and where a
//!   session is present (so it leaves at the right moments);
//! - [`subscription`]: the delivery of one document topic to one subscriber;
//! - [`document`]: the per-document task, the directory of open documents, the registry;
//! - [`auth`]: credentials (JWTs) to identities;
//! - [`peer`]: a STOMP connection to another node (when several share the store);
//! - [`wire`]: JSON bodies in and out; [`store`]: the storage boundary ([`store::Store`]) and
//!   its sled implementation;
//! - [`stomp`]: the STOMP codec, typed commands, server frame builders, the outbound side of a
//!   connection;
//! - [`metrics`]: every counter and gauge, for `/metrics`;
//! - leaves: [`error`] (error codes, [`error::Rejection`]), [`identity`] (users and their
//!   rights), [`doc_id`], [`shutdown`], [`config`] (every flag, default and limit).

pub mod app;
pub mod auth;
pub mod config;
pub mod demo;
pub mod doc_id;
pub mod document;
pub mod error;
pub mod http;
pub mod identity;
pub mod listener;
pub mod metrics;
pub mod peer;
pub mod presence;
pub mod roster;
pub mod server;
pub mod session;
pub mod shutdown;
pub mod sockjs;
pub mod stomp;
pub mod stomp_tcp;
pub mod store;
pub mod subscription;
pub mod webhook;
pub mod websocket;
pub mod wire;

pub use config::Config;
pub use server::Server;
