//! `PgStore`: every document's history in PostgreSQL, shared by any number of otterdoc nodes
//! (`--store postgres://...`). The tables are created and upgraded by the numbered migrations of
//! `migrations.rs` at start-up; the layout is in `docs/storage.md`.
//!
//! - `ops`: one row per op, primary key (doc, version): two writers can never both store
//!   version n of a document; the loser's whole commit fails ([`StoreError::VersionTaken`]).
//! - `snapshots`: the text at some versions, same key.
//! - `leases`: who owns each document, until when, under which fencing epoch ([`Leases`]).
//! - `changes`: the global changefeed, one row per committed op or deletion, keyed by cursor;
//!   `feed_head`: its one-row counter. Every commit (and deletion) moves the counter in the
//!   same statement, which locks its row until the commit is durable, so cursors are handed out
//!   and become visible in one order across every node: a reader that has seen cursor `c`
//!   never later finds an entry below `c`. The price is that commits of all documents on the
//!   database queue for that row, one at a time (`docs/storage.md`).
//! - `webhook_cursors`: how far each webhook has acknowledged the feed.
//!
//! A commit is ONE statement — fence check (the lease row locked `FOR SHARE`, so a takeover
//! waits for it), head check, op rows, snapshot rows — so it costs one round trip and is atomic:
//! all of it or none. Every connection runs with `synchronous_commit = on`, so when the
//! statement returns the commit is on the server's disk. Every call is bounded by
//! [`STORE_TIMEOUT`]; a connection that failed or timed out is dropped from the pool, never
//! reused.

use std::sync::{Arc, LazyLock, Weak};
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio::sync::watch;
use tokio_postgres::NoTls;

use super::lease::{Claim, Holder, Lease, Leases, Owner};
use super::migrations::{latest, MIGRATIONS};
use super::{ChainHash, Change, ChangeKind, Deletion, OpRecord, Store, StoreError};
use crate::config::limits::{FEED_POLL, STORE_POOL, STORE_TIMEOUT};
use crate::doc_id::DocId;

/// The PostgreSQL implementation of [`Store`] and [`Leases`].
#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
    /// How to connect, for the one connection that is not pooled (the [`SoleNode`] lock).
    config: tokio_postgres::Config,
    /// The newest changefeed cursor known to be durable: moved by this node's commits at
    /// once, and by a poll of `feed_head` for the other nodes'.
    feed: Arc<watch::Sender<u64>>,
}

/// The advisory lock a node holds for as long as it is the only node on its database (see
/// [`PgStore::lock_sole_node`]); the migrations use another key.
const SOLE_NODE_LOCK: i64 = 7_011_002;
/// How often [`PgStore::lock_sole_node`] asks, 100 ms apart.
const SOLE_NODE_ATTEMPTS: u32 = 20;

/// Proof that this process is the only otterdoc node on its database: a session-level advisory
/// lock, held by one dedicated connection for as long as this value lives. Several nodes on
/// one database need the lease-based ownership of `docs/cluster.md`, which is not available
/// yet; until then a second node is refused at start rather than left to contend for the same
/// documents. The lock is only the clear refusal, not what keeps the history whole: that is
/// the (doc, version) key and the head check of every commit, so even a node that lost the
/// lock (its connection broke, and another node started) can never fork a document — its
/// commits fail, and its document tasks reload.
pub struct SoleNode {
    connection: tokio::task::JoinHandle<()>,
    _client: tokio_postgres::Client,
}

impl Drop for SoleNode {
    fn drop(&mut self) {
        self.connection.abort();
    }
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(err: tokio_postgres::Error) -> Self {
        StoreError::Backend(Box::new(err))
    }
}

/// What went wrong with one call, before it is named for the caller.
enum Failure {
    Db(tokio_postgres::Error),
    TimedOut,
}

fn unavailable(reason: impl Into<String>) -> StoreError {
    StoreError::Unavailable {
        reason: reason.into(),
    }
}

impl From<Failure> for StoreError {
    fn from(failure: Failure) -> Self {
        match failure {
            Failure::Db(err) if err.code().is_none() => unavailable(err.to_string()),
            Failure::Db(err) => err.into(),
            Failure::TimedOut => unavailable(format!(
                "PostgreSQL did not answer within {} ms",
                STORE_TIMEOUT.as_millis()
            )),
        }
    }
}

/// A u64 as a `bigint` column: versions and times must fit (they always do in practice).
fn big(value: u64, what: &str) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| {
        StoreError::Backend(format!("{what} {value} does not fit PostgreSQL's bigint").into())
    })
}

/// An upper bound as a `bigint`: anything past the largest storable value means "no bound".
fn bound(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// Client sequence numbers are any u64: stored bit for bit (they are compared, never ordered).
fn seq_in(seq: u64) -> i64 {
    seq as i64
}

fn seq_out(seq: i64) -> u64 {
    seq as u64
}

fn ms(ttl: Duration) -> i64 {
    i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX)
}

const SELECT_OP: &str = r#"SELECT version, op, client, seq, "user", time, hash FROM ops
    WHERE doc = $1 AND version = $2"#;
const SELECT_OPS: &str = r#"SELECT version, op, client, seq, "user", time, hash FROM ops
    WHERE doc = $1 AND version > $2 AND version <= $3 ORDER BY version LIMIT $4"#;
const SELECT_CHANGES: &str = r#"SELECT cursor, kind, doc, version, time, "user", client, seq
    FROM changes WHERE cursor > $1 ORDER BY cursor LIMIT $2"#;
const LIST: &str = r#"SELECT doc FROM ops
    WHERE version = 1 AND starts_with(doc, $1) AND doc COLLATE "C" > $2
    ORDER BY doc COLLATE "C" LIMIT $3"#;

/// The fence of a fenced statement ($2 the epoch), or none.
fn fence_sql(fenced: bool) -> &'static str {
    if fenced {
        "SELECT epoch FROM leases WHERE doc = $1 AND epoch = $2 FOR SHARE"
    } else {
        "SELECT $2::bigint AS epoch"
    }
}

/// The deletion statement: everything of the document, and one `deleted` entry in the feed
/// (its cursor from `feed_head`, whose row stays locked until the deletion is durable).
fn delete_sql(fenced: bool) -> String {
    let fence = fence_sql(fenced);
    format!(
        r#"WITH fence AS ({fence}),
gone_ops AS (DELETE FROM ops WHERE doc = $1 AND EXISTS (SELECT 1 FROM fence) RETURNING 1),
gone_snapshots AS (
    DELETE FROM snapshots WHERE doc = $1 AND EXISTS (SELECT 1 FROM fence) RETURNING 1
),
gone_changes AS (
    DELETE FROM changes WHERE doc = $1 AND EXISTS (SELECT 1 FROM fence) RETURNING 1
),
feed AS (
    UPDATE feed_head SET cursor = cursor + 1 WHERE EXISTS (SELECT 1 FROM fence)
    RETURNING cursor
),
entry AS (
    INSERT INTO changes (cursor, kind, doc, version, time, "user")
    SELECT cursor, 'deleted', $1, $3, $4, $5 FROM feed
    RETURNING cursor
)
SELECT (SELECT count(*) FROM fence), (SELECT cursor FROM entry),
    (SELECT count(*) FROM gone_ops) + (SELECT count(*) FROM gone_snapshots)
        + (SELECT count(*) FROM gone_changes)"#
    )
}

static DELETE: LazyLock<String> = LazyLock::new(|| delete_sql(false));
static DELETE_FENCED: LazyLock<String> = LazyLock::new(|| delete_sql(true));

/// The commit statement; `fenced` adds the lease check ($2 is then the epoch).
fn append_sql(fenced: bool) -> String {
    let fence = fence_sql(fenced);
    format!(
        r#"WITH fence AS ({fence}),
head AS (SELECT coalesce(max(version), 0) AS v FROM ops WHERE doc = $1),
ok AS (SELECT 1 FROM fence, head WHERE head.v = $3::bigint - 1),
written AS (
    INSERT INTO ops (doc, version, op, client, seq, "user", time, hash)
    SELECT $1, r.version, r.op, r.client, r.seq, r.usr, r.time, r.hash
    FROM unnest($4::bigint[], $5::text[], $6::text[], $7::bigint[], $8::text[], $9::bigint[],
        $12::text[]) AS r(version, op, client, seq, usr, time, hash)
    WHERE EXISTS (SELECT 1 FROM ok)
    RETURNING 1
),
feed AS (
    UPDATE feed_head SET cursor = cursor + cardinality($4::bigint[])
    WHERE EXISTS (SELECT 1 FROM ok)
    RETURNING cursor
),
logged AS (
    INSERT INTO changes (cursor, kind, doc, version, time, "user", client, seq)
    SELECT feed.cursor - cardinality($4::bigint[]) + r.n, 'op', $1, r.version, r.time, r.usr,
        r.client, r.seq
    FROM feed, unnest($4::bigint[], $6::text[], $7::bigint[], $8::text[], $9::bigint[])
        WITH ORDINALITY AS r(version, client, seq, usr, time, n)
    RETURNING 1
),
snapped AS (
    INSERT INTO snapshots (doc, version, content)
    SELECT $1, s.version, s.content FROM unnest($10::bigint[], $11::text[]) AS s(version, content)
    WHERE EXISTS (SELECT 1 FROM ok)
    RETURNING 1
)
SELECT (SELECT count(*) FROM fence), (SELECT v FROM head), (SELECT count(*) FROM written),
    (SELECT count(*) FROM snapped), (SELECT count(*) FROM logged), (SELECT cursor FROM feed)"#
    )
}

static APPEND: LazyLock<String> = LazyLock::new(|| append_sql(false));
static APPEND_FENCED: LazyLock<String> = LazyLock::new(|| append_sql(true));

const CLAIM: &str = r#"INSERT INTO leases AS l (doc, node, incarnation, addr, epoch, expires_at)
VALUES ($1, $2, $3, $4, 1, now() + $5::bigint * interval '1 millisecond')
ON CONFLICT (doc) DO UPDATE
    SET node = EXCLUDED.node, incarnation = EXCLUDED.incarnation, addr = EXCLUDED.addr,
        epoch = l.epoch + 1, expires_at = EXCLUDED.expires_at
    WHERE l.expires_at <= now() OR l.incarnation = EXCLUDED.incarnation
RETURNING epoch"#;
const OWNER: &str = r#"SELECT node, incarnation, addr, epoch,
    greatest(0, extract(epoch FROM expires_at - now()) * 1000)::bigint
FROM leases WHERE doc = $1"#;
const RENEW_ALL: &str = r#"UPDATE leases SET expires_at = now() + $2::bigint * interval '1 millisecond'
WHERE incarnation = $1 RETURNING doc, epoch"#;
const RELEASE: &str =
    "UPDATE leases SET expires_at = now() WHERE doc = $1 AND incarnation = $2 AND epoch = $3";

fn record_of(doc: &DocId, row: &tokio_postgres::Row) -> Result<OpRecord, StoreError> {
    let mut record = unhashed_record_of(doc, row)?;
    let hash: Option<String> = row.try_get(6)?;
    record.hash = hash
        .as_deref()
        .and_then(ChainHash::from_hex)
        .ok_or_else(|| StoreError::Corrupt {
            doc: doc.to_string(),
            version: record.version,
            reason: format!("unreadable hash {hash:?}"),
        })?;
    Ok(record)
}

/// A record from its first six columns, with [`ChainHash::GENESIS`] as a placeholder hash.
fn unhashed_record_of(doc: &DocId, row: &tokio_postgres::Row) -> Result<OpRecord, StoreError> {
    let version = row.try_get::<_, i64>(0)? as u64;
    let op_text: String = row.try_get(1)?;
    let op = serde_json::from_str(&op_text).map_err(|e| StoreError::Corrupt {
        doc: doc.to_string(),
        version,
        reason: format!("unreadable op: {e}"),
    })?;
    Ok(OpRecord {
        version,
        op,
        client: row.try_get(2)?,
        seq: seq_out(row.try_get(3)?),
        user: row.try_get(4)?,
        time: row.try_get::<_, i64>(5)? as u64,
        hash: ChainHash::GENESIS,
    })
}

fn change_of(row: &tokio_postgres::Row) -> Result<Change, StoreError> {
    let cursor = row.try_get::<_, i64>(0)? as u64;
    let kind = match row.try_get::<_, &str>(1)? {
        "op" => ChangeKind::Op,
        "deleted" => ChangeKind::Deleted,
        other => {
            return Err(StoreError::Backend(
                format!("changefeed entry {cursor} has the unknown kind {other:?}").into(),
            ))
        }
    };
    Ok(Change {
        cursor,
        kind,
        doc: row.try_get(2)?,
        version: row.try_get::<_, i64>(3)? as u64,
        time: row.try_get::<_, i64>(4)? as u64,
        user: row.try_get(5)?,
        client: row.try_get(6)?,
        seq: row.try_get::<_, Option<i64>>(7)?.map(seq_out),
    })
}

/// Follows `feed_head` for the entries other nodes commit, until the store is dropped.
async fn poll_feed(pool: Pool, feed: Weak<watch::Sender<u64>>) {
    loop {
        tokio::time::sleep(FEED_POLL).await;
        let Some(feed) = feed.upgrade() else { return };
        let read = async {
            let client = pool.get().await.ok()?;
            let row = client
                .query_one("SELECT cursor FROM feed_head", &[])
                .await
                .ok()?;
            row.try_get::<_, i64>(0).ok()
        };
        if let Ok(Some(head)) = tokio::time::timeout(STORE_TIMEOUT, read).await {
            advance(&feed, head as u64);
        }
    }
}

/// Moves the known durable head forward (never back: polls and commits race).
fn advance(feed: &watch::Sender<u64>, head: u64) {
    feed.send_if_modified(|known| {
        let moved = head > *known;
        if moved {
            *known = head;
        }
        moved
    });
}

impl PgStore {
    /// Connects to the database at `url` (`postgres://user:password@host:port/db?...`) and
    /// brings its schema up to date.
    pub async fn connect(url: &str) -> Result<PgStore, StoreError> {
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| StoreError::Backend(format!("invalid PostgreSQL URL: {e}").into()))?;
        // An ack means "on disk": never let a database default weaken that.
        // (And no NOTICEs, such as a migration's "already exists, skipping", in the log.)
        config.options("-c synchronous_commit=on -c client_min_messages=warning");
        config.application_name("otterdoc");
        config.connect_timeout(STORE_TIMEOUT);
        config.keepalives(true);
        config.keepalives_idle(Duration::from_secs(5));
        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(STORE_POOL)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(STORE_TIMEOUT))
            .create_timeout(Some(STORE_TIMEOUT))
            .recycle_timeout(Some(STORE_TIMEOUT))
            .build()
            .map_err(|e| StoreError::Backend(Box::new(e)))?;
        let (feed, _) = watch::channel(0);
        let store = PgStore {
            pool,
            config,
            feed: Arc::new(feed),
        };
        store.migrate().await?;
        let head: i64 = store
            .with(|c| {
                Box::pin(async move { c.query_one("SELECT cursor FROM feed_head", &[]).await })
            })
            .await?
            .try_get(0)?;
        advance(&store.feed, head as u64);
        tokio::spawn(poll_feed(store.pool.clone(), Arc::downgrade(&store.feed)));
        Ok(store)
    }

    /// Takes the database for this node alone ([`SoleNode`]); refuses if another node has it.
    pub async fn lock_sole_node(&self) -> Result<SoleNode, StoreError> {
        self.lock_node(false).await
    }

    /// Joins the nodes sharing the database (`--node-id`): the same lock, shared, so a node
    /// running alone on the database (or starting so) is refused, and they are.
    pub async fn lock_shared_node(&self) -> Result<SoleNode, StoreError> {
        self.lock_node(true).await
    }

    async fn lock_node(&self, shared: bool) -> Result<SoleNode, StoreError> {
        let (client, connection) = tokio::time::timeout(STORE_TIMEOUT, self.config.connect(NoTls))
            .await
            .map_err(|_| StoreError::from(Failure::TimedOut))?
            .map_err(|e| StoreError::from(Failure::Db(e)))?;
        let connection = tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::error!(
                    error = %err,
                    "lost the connection holding this node's lock on the database: another \
                     node could now start on it (commits stay checked by version)"
                );
            }
        });
        // A node that was just killed holds the lock until PostgreSQL notices its connection
        // closed, which takes a moment: ask a few times before calling the database taken.
        let mut attempts = 0;
        loop {
            let locked = tokio::time::timeout(
                STORE_TIMEOUT,
                client.query_one(
                    if shared {
                        "SELECT pg_try_advisory_lock_shared($1)"
                    } else {
                        "SELECT pg_try_advisory_lock($1)"
                    },
                    &[&SOLE_NODE_LOCK],
                ),
            )
            .await
            .map_err(|_| StoreError::from(Failure::TimedOut))?
            .map_err(|e| StoreError::from(Failure::Db(e)))?
            .try_get::<_, bool>(0)?;
            if locked {
                break;
            }
            attempts += 1;
            if attempts == SOLE_NODE_ATTEMPTS {
                connection.abort();
                return Err(if shared {
                    StoreError::HeldAlone
                } else {
                    StoreError::Shared
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // Statements of a node that died may still be running in PostgreSQL (a commit sent
        // just before `kill -9` completes without its client). Let them finish before this
        // node loads anything, so it starts from everything its previous life will ever have
        // written. Bounded: were one still running, the (doc, version) key keeps the history
        // whole anyway.
        // (Nodes sharing the database skip this: the others are busy, and leases fence.)
        let deadline = tokio::time::Instant::now() + STORE_TIMEOUT;
        if !shared {
            loop {
                let orphans: i64 = client
                    .query_one(
                        "SELECT count(*) FROM pg_stat_activity \
                         WHERE datname = current_database() AND application_name = 'otterdoc' \
                         AND pid <> pg_backend_pid() AND state <> 'idle'",
                        &[],
                    )
                    .await
                    .map_err(|e| StoreError::from(Failure::Db(e)))?
                    .try_get(0)?;
                if orphans == 0 || tokio::time::Instant::now() >= deadline {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        Ok(SoleNode {
            connection,
            _client: client,
        })
    }

    async fn client(&self) -> Result<deadpool_postgres::Client, StoreError> {
        self.pool.get().await.map_err(|e| match e {
            deadpool_postgres::PoolError::Backend(err) => Failure::Db(err).into(),
            deadpool_postgres::PoolError::Timeout(_) => Failure::TimedOut.into(),
            other => unavailable(other.to_string()),
        })
    }

    /// Runs `work` on a pooled connection within [`STORE_TIMEOUT`]; a connection whose call
    /// failed for any reason but a SQL error (or did not finish) is taken out of the pool.
    async fn with<T>(
        &self,
        work: impl for<'c> FnOnce(
            &'c deadpool_postgres::Client,
        )
            -> futures::future::BoxFuture<'c, Result<T, tokio_postgres::Error>>,
    ) -> Result<T, Failure> {
        let client = self.client().await.map_err(|_| Failure::TimedOut)?;
        let outcome = tokio::time::timeout(STORE_TIMEOUT, work(&client)).await;
        match outcome {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(err)) => {
                if err.code().is_none() {
                    drop(deadpool_postgres::Object::take(client));
                }
                Err(Failure::Db(err))
            }
            Err(_) => {
                drop(deadpool_postgres::Object::take(client));
                Err(Failure::TimedOut)
            }
        }
    }

    /// Applies every migration the database lacks, under an advisory lock so nodes starting
    /// together do not race; refuses a database migrated by a newer build.
    async fn migrate(&self) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.batch_execute(
            "SELECT pg_advisory_xact_lock(7011001);
             CREATE TABLE IF NOT EXISTS schema_migrations (
                 version    integer     PRIMARY KEY,
                 name       text        NOT NULL,
                 applied_at timestamptz NOT NULL DEFAULT now()
             );",
        )
        .await?;
        let applied: i32 = tx
            .query_one(
                "SELECT coalesce(max(version), 0) FROM schema_migrations",
                &[],
            )
            .await?
            .try_get(0)?;
        if applied > latest() {
            return Err(StoreError::NewerSchema {
                found: applied,
                known: latest(),
            });
        }
        for migration in MIGRATIONS.iter().filter(|m| m.version > applied) {
            tx.batch_execute(migration.sql).await?;
            tx.execute(
                "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                &[&migration.version, &migration.name],
            )
            .await?;
            tracing::info!(
                version = migration.version,
                name = migration.name,
                "schema migrated"
            );
        }
        Self::chain_unhashed(&tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Gives every op stored without a hash (by a build before migration 2) its link of the
    /// chain, document by document, in the migrating transaction.
    async fn chain_unhashed(tx: &deadpool_postgres::Transaction<'_>) -> Result<(), StoreError> {
        let docs = tx
            .query("SELECT DISTINCT doc FROM ops WHERE hash IS NULL", &[])
            .await?;
        for row in docs {
            let text: String = row.try_get(0)?;
            let doc = DocId::parse(&text).map_err(|e| StoreError::Corrupt {
                doc: text.clone(),
                version: 0,
                reason: format!("ops of an invalid document id: {e}"),
            })?;
            let rows = tx
                .query(
                    r#"SELECT version, op, client, seq, "user", time FROM ops WHERE doc = $1
                       ORDER BY version"#,
                    &[&text],
                )
                .await?;
            let update = tx
                .prepare("UPDATE ops SET hash = $3 WHERE doc = $1 AND version = $2")
                .await?;
            let mut hash = ChainHash::GENESIS;
            for row in &rows {
                let mut record = unhashed_record_of(&doc, row)?;
                hash = record.chain_after(&hash);
                tx.execute(
                    &update,
                    &[&text, &big(record.version, "version")?, &hash.to_hex()],
                )
                .await?;
            }
            tracing::info!(%doc, ops = rows.len(), "hash chain computed for stored ops");
        }
        Ok(())
    }

    /// Removes `doc` (fenced by `epoch` when given) with its `deleted` feed entry.
    async fn remove(
        &self,
        doc: &DocId,
        epoch: Option<u64>,
        deletion: &Deletion,
    ) -> Result<(), StoreError> {
        let epoch = epoch.map(|e| big(e, "epoch")).transpose()?;
        let sql: &'static str = if epoch.is_some() {
            DELETE_FENCED.as_str()
        } else {
            DELETE.as_str()
        };
        let doc_text = doc.as_str().to_owned();
        let version = big(deletion.version, "version")?;
        let time = big(deletion.time, "time")?;
        let user = deletion.user.clone();
        let row = self
            .with(|c| {
                Box::pin(async move {
                    let st = c.prepare_cached(sql).await?;
                    c.query_one(&st, &[&doc_text, &epoch, &version, &time, &user])
                        .await
                })
            })
            .await?;
        if row.try_get::<_, i64>(0)? == 0 {
            return Err(StoreError::Fenced {
                doc: doc.to_string(),
                epoch: epoch.unwrap_or_default() as u64,
            });
        }
        if let Some(cursor) = row.try_get::<_, Option<i64>>(1)? {
            advance(&self.feed, cursor as u64);
        }
        Ok(())
    }

    async fn write(
        &self,
        doc: &DocId,
        epoch: Option<u64>,
        records: &[OpRecord],
        snapshots: &[(u64, String)],
    ) -> Result<(), StoreError> {
        let Some(first) = records.first().map(|r| r.version) else {
            // Nothing new (a batch of duplicates): they are stored already.
            return Ok(());
        };
        let mut versions = Vec::with_capacity(records.len());
        let mut ops = Vec::with_capacity(records.len());
        let mut clients = Vec::with_capacity(records.len());
        let mut seqs = Vec::with_capacity(records.len());
        let mut users = Vec::with_capacity(records.len());
        let mut times = Vec::with_capacity(records.len());
        let mut hashes = Vec::with_capacity(records.len());
        for r in records {
            hashes.push(r.hash.to_hex());
            versions.push(big(r.version, "version")?);
            ops.push(
                serde_json::to_string(&r.op).map_err(|e| StoreError::Corrupt {
                    doc: doc.to_string(),
                    version: r.version,
                    reason: format!("cannot encode: {e}"),
                })?,
            );
            clients.push(r.client.clone());
            seqs.push(seq_in(r.seq));
            users.push(r.user.clone());
            times.push(big(r.time, "time")?);
        }
        let snap_versions = snapshots
            .iter()
            .map(|(v, _)| big(*v, "version"))
            .collect::<Result<Vec<i64>, _>>()?;
        let snap_texts: Vec<String> = snapshots.iter().map(|(_, t)| t.clone()).collect();
        let epoch = epoch.map(|e| big(e, "epoch")).transpose()?;
        let sql: &'static str = if epoch.is_some() {
            APPEND_FENCED.as_str()
        } else {
            APPEND.as_str()
        };
        let doc_text = doc.as_str().to_owned();
        let first = big(first, "version")?;
        let row = self
            .with(|c| {
                Box::pin(async move {
                    let statement = c.prepare_cached(sql).await?;
                    c.query_one(
                        &statement,
                        &[
                            &doc_text,
                            &epoch,
                            &first,
                            &versions,
                            &ops,
                            &clients,
                            &seqs,
                            &users,
                            &times,
                            &snap_versions,
                            &snap_texts,
                            &hashes,
                        ],
                    )
                    .await
                })
            })
            .await
            .map_err(|failure| match failure {
                Failure::Db(err)
                    if err.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION) =>
                {
                    StoreError::VersionTaken {
                        doc: doc.to_string(),
                        version: first as u64,
                    }
                }
                other => other.into(),
            })?;
        let fence: i64 = row.try_get(0)?;
        let head: i64 = row.try_get(1)?;
        let written: i64 = row.try_get(2)?;
        if fence == 0 {
            return Err(StoreError::Fenced {
                doc: doc.to_string(),
                epoch: epoch.unwrap_or_default() as u64,
            });
        }
        if written as usize != records.len() {
            if head >= first {
                return Err(StoreError::VersionTaken {
                    doc: doc.to_string(),
                    version: first as u64,
                });
            }
            return Err(StoreError::Corrupt {
                doc: doc.to_string(),
                version: first as u64,
                reason: format!("refused to store it after version {head}: a gap"),
            });
        }
        let logged: i64 = row.try_get(4)?;
        if logged as usize != records.len() {
            // Cannot happen (the rows went in together); committed, so say so loudly.
            tracing::error!(%doc, logged, "ops committed without their changefeed entries");
        }
        if let Some(cursor) = row.try_get::<_, Option<i64>>(5)? {
            advance(&self.feed, cursor as u64);
        }
        Ok(())
    }
}

#[async_trait]
impl Store for PgStore {
    async fn head(&self, doc: &DocId) -> Result<u64, StoreError> {
        let doc = doc.as_str().to_owned();
        let row = self
            .with(|c| {
                Box::pin(async move {
                    let st = c
                        .prepare_cached("SELECT coalesce(max(version), 0) FROM ops WHERE doc = $1")
                        .await?;
                    c.query_one(&st, &[&doc]).await
                })
            })
            .await?;
        Ok(row.try_get::<_, i64>(0)? as u64)
    }

    async fn op(&self, doc: &DocId, version: u64) -> Result<Option<OpRecord>, StoreError> {
        let text = doc.as_str().to_owned();
        let version = bound(version);
        let row = self
            .with(|c| {
                Box::pin(async move {
                    let st = c.prepare_cached(SELECT_OP).await?;
                    c.query_opt(&st, &[&text, &version]).await
                })
            })
            .await?;
        row.map(|row| record_of(doc, &row)).transpose()
    }

    async fn ops(
        &self,
        doc: &DocId,
        after: u64,
        upto: u64,
        limit: usize,
    ) -> Result<Vec<OpRecord>, StoreError> {
        if upto <= after || limit == 0 {
            return Ok(Vec::new());
        }
        let text = doc.as_str().to_owned();
        let (after, upto) = (bound(after), bound(upto));
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self
            .with(|c| {
                Box::pin(async move {
                    let st = c.prepare_cached(SELECT_OPS).await?;
                    c.query(&st, &[&text, &after, &upto, &limit]).await
                })
            })
            .await?;
        rows.iter().map(|row| record_of(doc, row)).collect()
    }

    async fn snapshot_at_or_before(
        &self,
        doc: &DocId,
        version: u64,
    ) -> Result<(u64, String), StoreError> {
        let text = doc.as_str().to_owned();
        let version = bound(version);
        let row = self
            .with(|c| {
                Box::pin(async move {
                    let st = c
                        .prepare_cached(
                            "SELECT version, content FROM snapshots WHERE doc = $1 AND version <= $2 \
                             ORDER BY version DESC LIMIT 1",
                        )
                        .await?;
                    c.query_opt(&st, &[&text, &version]).await
                })
            })
            .await?;
        match row {
            Some(row) => Ok((row.try_get::<_, i64>(0)? as u64, row.try_get(1)?)),
            None => Ok((0, String::new())),
        }
    }

    async fn append(
        &self,
        doc: &DocId,
        records: &[OpRecord],
        snapshots: &[(u64, String)],
    ) -> Result<(), StoreError> {
        self.write(doc, None, records, snapshots).await
    }

    async fn delete(&self, doc: &DocId, deletion: &Deletion) -> Result<(), StoreError> {
        self.remove(doc, None, deletion).await
    }

    async fn list(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<DocId>, StoreError> {
        let prefix = prefix.to_owned();
        let after = after.unwrap_or_default().to_owned();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self
            .with(|c| {
                Box::pin(async move {
                    let st = c.prepare_cached(LIST).await?;
                    c.query(&st, &[&prefix, &after, &limit]).await
                })
            })
            .await?;
        rows.iter()
            .map(|row| {
                let id: String = row.try_get(0)?;
                DocId::parse(&id).map_err(|e| StoreError::Corrupt {
                    doc: id.clone(),
                    version: 1,
                    reason: format!("ops of an invalid document id: {e}"),
                })
            })
            .collect()
    }

    async fn changes(&self, after: u64, limit: usize) -> Result<Vec<Change>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let after = bound(after);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self
            .with(|c| {
                Box::pin(async move {
                    let st = c.prepare_cached(SELECT_CHANGES).await?;
                    c.query(&st, &[&after, &limit]).await
                })
            })
            .await?;
        let changes = rows.iter().map(change_of).collect::<Result<Vec<_>, _>>()?;
        if let Some(last) = changes.last() {
            // Read from the database, so durable: a reader may wait on it.
            advance(&self.feed, last.cursor);
        }
        Ok(changes)
    }

    fn changes_head(&self) -> watch::Receiver<u64> {
        self.feed.subscribe()
    }

    async fn webhook_cursor(&self, name: &str) -> Result<Option<u64>, StoreError> {
        let name = name.to_owned();
        let row = self
            .with(|c| {
                Box::pin(async move {
                    c.query_opt(
                        "SELECT cursor FROM webhook_cursors WHERE name = $1",
                        &[&name],
                    )
                    .await
                })
            })
            .await?;
        row.map(|row| Ok(row.try_get::<_, i64>(0)? as u64))
            .transpose()
    }

    async fn set_webhook_cursor(&self, name: &str, cursor: u64) -> Result<(), StoreError> {
        let name = name.to_owned();
        let cursor = big(cursor, "cursor")?;
        // Never backwards: nodes delivering the same webhook may store their cursors in any
        // order, and each has delivered everything up to its own.
        self.with(|c| {
            Box::pin(async move {
                c.execute(
                    "INSERT INTO webhook_cursors (name, cursor) VALUES ($1, $2) \
                     ON CONFLICT (name) DO UPDATE \
                     SET cursor = greatest(webhook_cursors.cursor, EXCLUDED.cursor)",
                    &[&name, &cursor],
                )
                .await
            })
        })
        .await?;
        Ok(())
    }

    async fn flush(&self) -> Result<(), StoreError> {
        // Every append was committed (synchronous_commit = on) before it returned.
        Ok(())
    }

    async fn check_writable(&self) -> Result<(), StoreError> {
        self.with(|c| {
            Box::pin(async move {
                c.execute(
                    "INSERT INTO ready_check (id, at) VALUES (true, now()) \
                     ON CONFLICT (id) DO UPDATE SET at = now()",
                    &[],
                )
                .await
            })
        })
        .await?;
        Ok(())
    }
}

#[async_trait]
impl Leases for PgStore {
    async fn claim(
        &self,
        doc: &DocId,
        holder: &Holder,
        ttl: Duration,
    ) -> Result<Claim, StoreError> {
        let text = doc.as_str().to_owned();
        let (node, incarnation, addr) = (
            holder.node.clone(),
            holder.incarnation.clone(),
            holder.addr.clone(),
        );
        let ttl = ms(ttl);
        let row = self
            .with(|c| {
                Box::pin(async move {
                    let st = c.prepare_cached(CLAIM).await?;
                    c.query_opt(&st, &[&text, &node, &incarnation, &addr, &ttl])
                        .await
                })
            })
            .await?;
        if let Some(row) = row {
            return Ok(Claim::Granted(Lease {
                epoch: row.try_get::<_, i64>(0)? as u64,
            }));
        }
        match self.owner(doc).await? {
            Some(owner) => Ok(Claim::Held(owner)),
            // Cannot happen (a row blocked the claim), but a retry would settle it.
            None => Err(unavailable("the lease changed during the claim; retry")),
        }
    }

    async fn renew_all(
        &self,
        holder: &Holder,
        ttl: Duration,
    ) -> Result<Vec<(DocId, Lease)>, StoreError> {
        let incarnation = holder.incarnation.clone();
        let ttl = ms(ttl);
        let rows = self
            .with(|c| {
                Box::pin(async move {
                    let st = c.prepare_cached(RENEW_ALL).await?;
                    c.query(&st, &[&incarnation, &ttl]).await
                })
            })
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let doc: String = row.try_get(0)?;
            let doc = DocId::parse(&doc).map_err(|e| StoreError::Corrupt {
                doc: doc.clone(),
                version: 0,
                reason: format!("lease of an invalid document id: {e}"),
            })?;
            out.push((
                doc,
                Lease {
                    epoch: row.try_get::<_, i64>(1)? as u64,
                },
            ));
        }
        Ok(out)
    }

    async fn release(&self, doc: &DocId, holder: &Holder, lease: Lease) -> Result<(), StoreError> {
        let text = doc.as_str().to_owned();
        let incarnation = holder.incarnation.clone();
        let epoch = big(lease.epoch, "epoch")?;
        self.with(|c| {
            Box::pin(async move {
                let st = c.prepare_cached(RELEASE).await?;
                c.execute(&st, &[&text, &incarnation, &epoch]).await
            })
        })
        .await?;
        Ok(())
    }

    async fn owner(&self, doc: &DocId) -> Result<Option<Owner>, StoreError> {
        let text = doc.as_str().to_owned();
        let row = self
            .with(|c| {
                Box::pin(async move {
                    let st = c.prepare_cached(OWNER).await?;
                    c.query_opt(&st, &[&text]).await
                })
            })
            .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(Owner {
            node: row.try_get(0)?,
            incarnation: row.try_get(1)?,
            addr: row.try_get(2)?,
            epoch: row.try_get::<_, i64>(3)? as u64,
            remaining: Duration::from_millis(row.try_get::<_, i64>(4)?.max(0) as u64),
        }))
    }

    async fn append_fenced(
        &self,
        doc: &DocId,
        lease: Lease,
        records: &[OpRecord],
        snapshots: &[(u64, String)],
    ) -> Result<(), StoreError> {
        self.write(doc, Some(lease.epoch), records, snapshots).await
    }

    async fn delete_fenced(
        &self,
        doc: &DocId,
        lease: Lease,
        deletion: &Deletion,
    ) -> Result<(), StoreError> {
        self.remove(doc, Some(lease.epoch), deletion).await
    }

    async fn peer_secret(&self) -> Result<String, StoreError> {
        let fresh = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        let row = self
            .with(|c| {
                Box::pin(async move {
                    c.execute(
                        "INSERT INTO peer_secret (id, secret) VALUES (true, $1) \
                         ON CONFLICT (id) DO NOTHING",
                        &[&fresh],
                    )
                    .await?;
                    c.query_one("SELECT secret FROM peer_secret", &[]).await
                })
            })
            .await?;
        Ok(row.try_get(0)?)
    }
}
