//! Deliberately empty. `ot` lists this crate as a dev-dependency only for what its manifest
//! says: `ot = { path = "..", features = ["testkit"] }`. Cargo unifies features per build, so
//! whenever `ot`'s tests, benches or examples are built, the `ot` they link has `ot::testkit` —
//! under `cargo test -p ot` as well as `cargo test --workspace`. Use `ot::testkit` directly.
#![forbid(unsafe_code)]
