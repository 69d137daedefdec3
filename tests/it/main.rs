//! The integration suite, as one test binary (so the server, warp and sled are linked once):
//! every module drives a real server — in this process on a loopback port, or the real binary
//! as a child — through its real interfaces, with a temp sled directory.
//!
//! - `smoke`: a first end-to-end pass;
//! - `stomp_codec`: property tests of the STOMP codec;
//! - `stomp_protocol`: the STOMP session contract; `session_timing`: its timing rules, with
//!   paused time over in-memory channels;
//! - `collaboration`: editors converging, catch-up, lagging readers, idle unload;
//! - `presence`: selections broadcast, kept current, left, coalesced, rejected;
//! - `http_api`: every HTTP route and error;
//! - `durability`: restarts, `kill -9`, SIGTERM, on-disk format, CLI environment;
//! - `crash`: the crash loop — `kill -9` at random moments, editors reconnecting and resubmitting;
//! - `store_contract`: the `Store` contract, run against every implementation;
//! - `history`: the history routes (hash chain, list, diff, restore, text, copy, delete) and
//!   the changefeed, with STOMP editors and `kill -9`;
//! - `cluster`: several nodes sharing one PostgreSQL (convergence across nodes);
//! - `postgres_node`: one node on PostgreSQL (`--store`): restarts, readiness, a second node
//!   refused, bad values, a node cut off from its database;
//! - `interop`: a real `@stomp/stompjs` client, over `/ws` and over `sockjs-client`;
//! - `sockjs`: the SockJS endpoint at the protocol level; `stomp_tcp`: STOMP over plain TCP;
//! - `security`: authentication and rights (the matrix), Origin checks and CORS;
//! - `hostile`: hostile input of every kind against the real binary, with memory measured;
//! - `hardening`: limits, rate limits, slow readers, metrics, readiness, admin routes, shutdown;
//! - `speed_probe`: the history read-speed bench (ignored; prints figures);
//! - `docs_contract`: `docs/` pinned to the code; `layering`: the module layering of `src/`.

// A test binary exports nothing: `pub` in its helper modules means "shared across modules".
#![allow(unreachable_pub)]

#[path = "../common/mod.rs"]
mod common;

mod cluster;
mod collaboration;
mod crash;
mod docs_contract;
mod durability;
mod hardening;
mod history;
mod hostile;
mod http_api;
mod interop;
mod layering;
mod postgres_node;
mod presence;
mod security;
mod session_timing;
mod smoke;
mod sockjs;
mod speed_probe;
mod stomp_codec;
mod stomp_protocol;
mod stomp_tcp;
mod store_contract;
