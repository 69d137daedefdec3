//! The PostgreSQL schema, as numbered migrations applied in order at start-up (each once,
//! recorded in `schema_migrations`). A migration is never edited once released: a change is a
//! new entry at the end. The layout is a contract, written down in `docs/storage.md`.
//!
//! Extending the schema (e.g. a column per record) is one more `Migration` here plus the code
//! that reads and writes it; older databases are brought up to date when a node starts.

/// One step of the schema.
pub(super) struct Migration {
    /// Its number: 1, 2, 3… with no gap.
    pub(super) version: i32,
    /// What it does, recorded with it.
    pub(super) name: &'static str,
    /// The statements (run in one transaction with the others of the same start-up).
    pub(super) sql: &'static str,
}

/// Every migration, in order.
pub(super) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "ops, snapshots, leases, peer secret",
        sql: r#"
CREATE TABLE ops (
    doc      text   NOT NULL,
    version  bigint NOT NULL CHECK (version >= 1),
    op       text   NOT NULL,
    client   text   NOT NULL,
    seq      bigint NOT NULL,
    "user"   text   NOT NULL,
    time     bigint NOT NULL,
    PRIMARY KEY (doc, version)
);
CREATE TABLE snapshots (
    doc      text   NOT NULL,
    version  bigint NOT NULL,
    content  text   NOT NULL,
    PRIMARY KEY (doc, version)
);
CREATE TABLE leases (
    doc         text        PRIMARY KEY,
    node        text        NOT NULL,
    incarnation text        NOT NULL,
    addr        text        NOT NULL,
    epoch       bigint      NOT NULL,
    expires_at  timestamptz NOT NULL
);
CREATE INDEX leases_by_holder ON leases (incarnation);
CREATE TABLE peer_secret (
    id      boolean PRIMARY KEY DEFAULT true CHECK (id),
    secret  text    NOT NULL
);
CREATE TABLE ready_check (
    id  boolean     PRIMARY KEY DEFAULT true CHECK (id),
    at  timestamptz NOT NULL
);
"#,
    },
    Migration {
        version: 2,
        name: "hash chain, changefeed, webhook cursors",
        // `hash` is filled for the ops already stored by `PgStore::migrate` (in Rust: BLAKE3),
        // in the same transaction; the feed starts empty (ops stored before have no entries).
        sql: r#"
ALTER TABLE ops ADD COLUMN hash text;
CREATE TABLE changes (
    cursor   bigint PRIMARY KEY,
    kind     text   NOT NULL CHECK (kind IN ('op', 'deleted')),
    doc      text   NOT NULL,
    version  bigint NOT NULL,
    time     bigint NOT NULL,
    "user"   text   NOT NULL,
    client   text,
    seq      bigint
);
CREATE INDEX changes_by_doc ON changes (doc);
CREATE TABLE feed_head (
    id      boolean PRIMARY KEY DEFAULT true CHECK (id),
    cursor  bigint  NOT NULL
);
INSERT INTO feed_head (id, cursor) VALUES (true, 0);
CREATE TABLE webhook_cursors (
    name    text   PRIMARY KEY,
    cursor  bigint NOT NULL
);
"#,
    },
];

/// The newest schema version this build knows.
pub(super) fn latest() -> i32 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_consecutive_from_one() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version, i as i32 + 1, "{}", m.name);
        }
    }
}
