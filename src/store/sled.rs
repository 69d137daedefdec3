//! `SledStore`: every document's history in an embedded sled database — the op log, periodic
//! snapshots, the global changefeed, and the on-disk format marker. The layout is a contract,
//! written down in `docs/storage.md`:
//!
//! - tree `meta`: key `format` → `otterdoc-ops-v2`; a database with another value (or with ops
//!   and no marker) is refused at start-up, except `otterdoc-ops-v1`, which is upgraded in
//!   place. Also `webhook 0x00 <url>` → the webhook's delivered cursor, and
//!   `deleting 0x00 <doc id>` → a deletion in progress (completed at start-up).
//! - tree `ops`: key `<doc id bytes> 0x00 <version u64 big-endian>` → the [`OpRecord`] as JSON,
//!   with its changefeed `cursor`. Doc ids never contain NUL, so one document's keys form one
//!   contiguous, version-ordered run.
//! - tree `snapshots`: same key shape → the document's full text (UTF-8) at that version.
//! - tree `changes`: key `<cursor u64 big-endian>` → `{"doc","version"}` (the rest of an entry
//!   is read from the op record), or `{"doc","version","deleted":{"user","time"}}`.
//!
//! Reads are synchronous sled calls (mostly served from sled's page cache); only the flush,
//! which waits for the disk, and a deletion's removals leave the async threads.
//!
//! Commits insert one record at a time (no `sled::Batch`, whose manifest costs a second write
//! and sync per flush), each changefeed entry just before its record, under one lock that also
//! assigns the cursors. sled recovers a prefix of its log, so after a crash at most the newest
//! entry can lack its record; [`SledStore::open`] drops it. A flush makes every entry inserted
//! before it durable, and only then do readers see them (the feed's durable head).

use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use ot::Operation;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::{ChainHash, Change, ChangeKind, Deletion, OpRecord, Store, StoreError};
use crate::doc_id::DocId;

/// Value of the `format` key this build reads and writes.
pub const FORMAT: &[u8] = b"otterdoc-ops-v2";

/// The previous format, upgraded in place when opened: records without `hash` or `cursor`.
const FORMAT_V1: &[u8] = b"otterdoc-ops-v1";

/// Prefix of the `meta` keys of webhook cursors.
const WEBHOOK_PREFIX: &[u8] = b"webhook\0";
/// Prefix of the `meta` keys of deletions in progress.
const DELETING_PREFIX: &[u8] = b"deleting\0";
/// Keys read (and removed) at a time while deleting a document.
const DELETE_CHUNK: usize = 1024;

impl From<::sled::Error> for StoreError {
    fn from(err: ::sled::Error) -> Self {
        StoreError::Backend(Box::new(err))
    }
}

fn backend(message: String) -> StoreError {
    StoreError::Backend(message.into())
}

/// The sled implementation of [`Store`].
#[derive(Clone)]
pub struct SledStore {
    db: ::sled::Db,
    meta: ::sled::Tree,
    ops: ::sled::Tree,
    snapshots: ::sled::Tree,
    changes: ::sled::Tree,
    flushes: Arc<GroupFlush>,
    feed: Arc<Feed>,
    /// Documents whose deletion is in progress: they read as absent, and take no appends.
    deleting: Arc<parking_lot::Mutex<HashSet<String>>>,
}

/// The changefeed's cursors: who takes the next one, and how far the feed is durable.
struct Feed {
    /// The next cursor to assign; held while a commit inserts its entries and records, so
    /// cursors are inserted in increasing order.
    next: parking_lot::Mutex<u64>,
    /// The highest cursor inserted so far.
    written: AtomicU64,
    /// The highest cursor known durable (every entry up to it is on disk).
    durable: watch::Sender<u64>,
}

impl Feed {
    /// Every entry up to `cursor` is on disk.
    fn durable_up_to(&self, cursor: u64) {
        self.durable.send_if_modified(|head| {
            let newer = cursor > *head;
            if newer {
                *head = cursor;
            }
            newer
        });
    }
}

/// Makes concurrent commits of different documents share fsyncs: a commit that finds a flush
/// already running waits for the lock, and skips flushing if a flush that started after its
/// own writes has completed meanwhile. One flush then covers every document that wrote while
/// the previous one ran — group commit across documents, on top of the per-document batches.
#[derive(Default)]
struct GroupFlush {
    /// Number of commits whose writes are done (each takes the next ticket).
    written: AtomicU64,
    /// Every commit with a ticket up to this value is durable.
    durable: AtomicU64,
    /// Held while a flush runs.
    lock: tokio::sync::Mutex<()>,
}

impl GroupFlush {
    /// Makes every write done before this call durable, and with it the feed's entries.
    async fn flush(&self, db: &::sled::Db, feed: &Feed) -> Result<(), StoreError> {
        let ticket = self.written.fetch_add(1, Ordering::SeqCst) + 1;
        let _guard = self.lock.lock().await;
        if self.durable.load(Ordering::SeqCst) >= ticket {
            return Ok(());
        }
        // Every commit holding a ticket up to `covers` finished its writes before this load,
        // hence before the flush below starts; so did every feed entry up to `entries`.
        let covers = self.written.load(Ordering::SeqCst);
        let entries = feed.written.load(Ordering::SeqCst);
        // Not `flush_async`: in sled 0.34 concurrent `flush_async` calls can deadlock (sled
        // issues #1241, #1308 — seen here as a hang with several documents committing at
        // once). The blocking flush runs right here, on the async worker, for the length of an
        // fsync: handing it to the blocking pool and back costs two thread wake-ups per commit,
        // measured as a fifth of one editor's throughput. Only one flush runs at a time (the
        // lock above), so at most one worker is ever blocked, and the others keep serving.
        db.flush()?;
        self.durable.fetch_max(covers, Ordering::SeqCst);
        feed.durable_up_to(entries);
        Ok(())
    }
}

fn key(doc: &str, version: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(doc.len() + 9);
    k.extend_from_slice(doc.as_bytes());
    k.push(0);
    k.extend_from_slice(&version.to_be_bytes());
    k
}

fn version_of(doc: &DocId, key: &[u8]) -> Result<u64, StoreError> {
    let tail = key.get(doc.as_str().len() + 1..).unwrap_or_default();
    let bytes: [u8; 8] = tail.try_into().map_err(|_| StoreError::Corrupt {
        doc: doc.to_string(),
        version: 0,
        reason: format!("malformed key of {} bytes", key.len()),
    })?;
    Ok(u64::from_be_bytes(bytes))
}

/// The document id of a key of `ops` or `snapshots`.
fn doc_of(key: &[u8]) -> Result<&str, StoreError> {
    let end = key
        .iter()
        .position(|&b| b == 0)
        .ok_or_else(|| backend(format!("a key without a document id separator: {key:?}")))?;
    std::str::from_utf8(&key[..end]).map_err(|_| backend("a document id that is not UTF-8".into()))
}

fn decode(doc: &DocId, version: u64, bytes: &[u8]) -> Result<OpRecord, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        doc: doc.to_string(),
        version,
        reason: format!("unreadable op record: {e}"),
    })
}

/// An op record as stored: the record and its changefeed cursor (absent for records written
/// by format v1, which had no feed).
#[derive(Serialize)]
struct StoredOp<'a> {
    version: u64,
    op: &'a Operation,
    client: &'a str,
    seq: u64,
    user: &'a str,
    time: u64,
    hash: &'a ChainHash,
    #[serde(skip_serializing_if = "Option::is_none")]
    cursor: Option<u64>,
}

fn encode_op(record: &OpRecord, cursor: Option<u64>) -> Result<Vec<u8>, serde_json::Error> {
    serde_json::to_vec(&StoredOp {
        version: record.version,
        op: &record.op,
        client: &record.client,
        seq: record.seq,
        user: &record.user,
        time: record.time,
        hash: &record.hash,
        cursor,
    })
}

/// Only the changefeed cursor of a stored op record.
#[derive(Deserialize)]
struct CursorOf {
    #[serde(default)]
    cursor: Option<u64>,
}

/// A changefeed entry as stored.
#[derive(Serialize, Deserialize)]
struct StoredChange {
    doc: String,
    version: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    deleted: Option<DeletedBy>,
}

#[derive(Serialize, Deserialize)]
struct DeletedBy {
    user: String,
    time: u64,
}

/// A record of format v1 (no hash), read while upgrading.
#[derive(Deserialize)]
struct RecordV1 {
    version: u64,
    op: Operation,
    client: String,
    seq: u64,
    user: String,
    time: u64,
}

fn webhook_key(name: &str) -> Vec<u8> {
    [WEBHOOK_PREFIX, name.as_bytes()].concat()
}

fn deleting_key(doc: &str) -> Vec<u8> {
    [DELETING_PREFIX, doc.as_bytes()].concat()
}

fn u64_of(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(bytes.get(..8)?.try_into().ok()?))
}

impl SledStore {
    /// Opens (or creates) the database in `path`, checking its on-disk format (upgrading a v1
    /// database in place), completing any deletion a crash interrupted, and dropping a
    /// changefeed entry whose record a crash took back.
    pub fn open(path: &Path) -> Result<SledStore, StoreError> {
        let db = ::sled::Config::new().path(path).open()?;
        let meta = db.open_tree("meta")?;
        let ops = db.open_tree("ops")?;
        let snapshots = db.open_tree("snapshots")?;
        let changes = db.open_tree("changes")?;
        let expected = || String::from_utf8_lossy(FORMAT).into_owned();
        let mut upgrade = false;
        match meta.get("format")? {
            Some(found) if found.as_ref() == FORMAT => {}
            Some(found) if found.as_ref() == FORMAT_V1 => upgrade = true,
            Some(found) => {
                return Err(StoreError::UnknownFormat {
                    found: String::from_utf8_lossy(&found).into_owned(),
                    expected: expected(),
                })
            }
            None if ops.is_empty() && snapshots.is_empty() && changes.is_empty() => {
                meta.insert("format", FORMAT)?;
                db.flush()?;
            }
            None => {
                return Err(StoreError::UnknownFormat {
                    found: "(none, but the database holds data)".into(),
                    expected: expected(),
                })
            }
        }
        let (durable, _) = watch::channel(0);
        let store = SledStore {
            db,
            meta,
            ops,
            snapshots,
            changes,
            flushes: Arc::default(),
            feed: Arc::new(Feed {
                next: parking_lot::Mutex::new(1),
                written: AtomicU64::new(0),
                durable,
            }),
            deleting: Arc::default(),
        };
        if upgrade {
            store.upgrade_from_v1()?;
        }
        store.complete_deletions()?;
        let last = store.trim_feed()?;
        *store.feed.next.lock() = last + 1;
        store.feed.written.store(last, Ordering::SeqCst);
        store.feed.durable.send_replace(last);
        store.db.flush()?;
        Ok(store)
    }

    /// Rewrites every v1 record with its chain hash (v1 had none), then marks the database v2.
    /// Interrupted, it runs again at the next start (it only rewrites records with the values
    /// they must have). Ops written by v1 have no changefeed entries: the feed starts here.
    fn upgrade_from_v1(&self) -> Result<(), StoreError> {
        tracing::info!("upgrading the data directory from otterdoc-ops-v1 to otterdoc-ops-v2");
        let mut current: Option<(String, ChainHash)> = None;
        for entry in self.ops.iter() {
            let (k, v) = entry?;
            let doc = doc_of(&k)?.to_owned();
            let old: RecordV1 = serde_json::from_slice(&v).map_err(|e| StoreError::Corrupt {
                doc: doc.clone(),
                version: u64_of(&k[doc.len() + 1..]).unwrap_or(0),
                reason: format!("unreadable v1 op record: {e}"),
            })?;
            let previous = match &current {
                Some((d, hash)) if *d == doc => *hash,
                _ => ChainHash::GENESIS,
            };
            let mut record = OpRecord {
                version: old.version,
                op: old.op,
                client: old.client,
                seq: old.seq,
                user: old.user,
                time: old.time,
                hash: ChainHash::GENESIS,
            };
            let hash = record.chain_after(&previous);
            let value = encode_op(&record, None).map_err(|e| backend(e.to_string()))?;
            self.ops.insert(k, value)?;
            current = Some((doc, hash));
        }
        self.db.flush()?;
        self.meta.insert("format", FORMAT)?;
        self.db.flush()?;
        Ok(())
    }

    /// Finishes every deletion a crash interrupted (their `deleting` markers are durable, so
    /// each was decided; its feed entry may still be missing).
    fn complete_deletions(&self) -> Result<(), StoreError> {
        let pending: Vec<(Vec<u8>, Vec<u8>)> = self
            .meta
            .scan_prefix(DELETING_PREFIX)
            .map(|e| e.map(|(k, v)| (k.to_vec(), v.to_vec())))
            .collect::<Result<_, _>>()?;
        for (k, v) in pending {
            let doc = String::from_utf8_lossy(&k[DELETING_PREFIX.len()..]).into_owned();
            tracing::info!(doc, "completing a deletion interrupted by a crash");
            let cursor = u64_of(&v).ok_or_else(|| backend("a malformed deletion marker".into()))?;
            if self.changes.get(cursor.to_be_bytes())?.is_none() {
                self.changes.insert(cursor.to_be_bytes(), &v[8..])?;
            }
            self.remove_document(&doc)?;
            self.meta.remove(k)?;
        }
        Ok(())
    }

    /// Drops feed entries at the end of the feed whose record is not stored (a crash between
    /// the two inserts of a commit, so neither was acknowledged); returns the last cursor.
    fn trim_feed(&self) -> Result<u64, StoreError> {
        while let Some((k, v)) = self.changes.last()? {
            let cursor = u64_of(&k).ok_or_else(|| backend("a malformed changefeed key".into()))?;
            let entry: StoredChange = serde_json::from_slice(&v)
                .map_err(|e| backend(format!("unreadable changefeed entry {cursor}: {e}")))?;
            if entry.deleted.is_some() || self.ops.contains_key(key(&entry.doc, entry.version))? {
                return Ok(cursor);
            }
            tracing::info!(
                cursor,
                doc = entry.doc,
                "dropping a changefeed entry whose op a crash took back"
            );
            self.changes.remove(k)?;
        }
        Ok(0)
    }

    /// Removes every key of `doc`: each record's feed entry before the record (so a crash
    /// part-way still finds the cursors of what remains), then its snapshots. Blocking.
    fn remove_document(&self, doc: &str) -> Result<(), StoreError> {
        let range = || key(doc, 0)..=key(doc, u64::MAX);
        loop {
            let chunk: Vec<(::sled::IVec, ::sled::IVec)> = self
                .ops
                .range(range())
                .take(DELETE_CHUNK)
                .collect::<Result<_, _>>()?;
            if chunk.is_empty() {
                break;
            }
            for (k, v) in chunk {
                if let Ok(CursorOf {
                    cursor: Some(cursor),
                }) = serde_json::from_slice(&v)
                {
                    self.changes.remove(cursor.to_be_bytes())?;
                }
                self.ops.remove(k)?;
            }
        }
        loop {
            let chunk: Vec<::sled::IVec> = self
                .snapshots
                .range(range())
                .keys()
                .take(DELETE_CHUNK)
                .collect::<Result<_, _>>()?;
            if chunk.is_empty() {
                break;
            }
            for k in chunk {
                self.snapshots.remove(k)?;
            }
        }
        Ok(())
    }

    fn is_deleting(&self, doc: &str) -> bool {
        self.deleting.lock().contains(doc)
    }

    async fn flush_all(&self) -> Result<(), StoreError> {
        self.flushes.flush(&self.db, &self.feed).await
    }
}

#[async_trait]
impl Store for SledStore {
    async fn head(&self, doc: &DocId) -> Result<u64, StoreError> {
        if self.is_deleting(doc.as_str()) {
            return Ok(0);
        }
        let d = doc.as_str();
        match self.ops.range(key(d, 0)..=key(d, u64::MAX)).next_back() {
            Some(entry) => version_of(doc, &entry?.0),
            None => Ok(0),
        }
    }

    async fn op(&self, doc: &DocId, version: u64) -> Result<Option<OpRecord>, StoreError> {
        match self.ops.get(key(doc.as_str(), version))? {
            Some(bytes) => Ok(Some(decode(doc, version, &bytes)?)),
            None => Ok(None),
        }
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
        let d = doc.as_str();
        let expected = usize::try_from(upto - after).unwrap_or(usize::MAX);
        let mut out = Vec::with_capacity(limit.min(expected).min(4096));
        for entry in self.ops.range(key(d, after + 1)..=key(d, upto)) {
            let (k, v) = entry?;
            let version = version_of(doc, &k)?;
            out.push(decode(doc, version, &v)?);
            if out.len() == limit {
                break;
            }
        }
        Ok(out)
    }

    async fn snapshot_at_or_before(
        &self,
        doc: &DocId,
        version: u64,
    ) -> Result<(u64, String), StoreError> {
        let d = doc.as_str();
        match self
            .snapshots
            .range(key(d, 0)..=key(d, version))
            .next_back()
        {
            Some(entry) => {
                let (k, v) = entry?;
                let at = version_of(doc, &k)?;
                let text = String::from_utf8(v.to_vec()).map_err(|_| StoreError::Corrupt {
                    doc: doc.to_string(),
                    version: at,
                    reason: "snapshot is not UTF-8".into(),
                })?;
                Ok((at, text))
            }
            None => Ok((0, String::new())),
        }
    }

    async fn append(
        &self,
        doc: &DocId,
        records: &[OpRecord],
        snapshots: &[(u64, String)],
    ) -> Result<(), StoreError> {
        let d = doc.as_str();
        if self.is_deleting(d) {
            return Err(backend(format!(
                "document {doc} is being deleted; its deletion completes at the next start"
            )));
        }
        let encode_failed = |record: &OpRecord, e: serde_json::Error| StoreError::Corrupt {
            doc: doc.to_string(),
            version: record.version,
            reason: format!("cannot encode: {e}"),
        };
        {
            // One insert per record, not a `sled::Batch`: sled seals a batch's manifest into an
            // I/O buffer of its own, so the flush below would write and sync twice. Each feed
            // entry goes in just before its record, under the cursor lock: the log is recovered
            // in order, so a crash keeps a prefix of these inserts — at most one entry without
            // its record (dropped at the next start), never a record without its entry, never
            // a gap — and none of them has been acknowledged yet.
            let mut next = self.feed.next.lock();
            for record in records {
                let cursor = *next;
                let entry = serde_json::to_vec(&StoredChange {
                    doc: d.to_owned(),
                    version: record.version,
                    deleted: None,
                })
                .map_err(|e| encode_failed(record, e))?;
                let value =
                    encode_op(record, Some(cursor)).map_err(|e| encode_failed(record, e))?;
                self.changes.insert(cursor.to_be_bytes(), entry)?;
                self.ops.insert(key(d, record.version), value)?;
                *next += 1;
                self.feed.written.store(cursor, Ordering::SeqCst);
            }
        }
        for (version, text) in snapshots {
            self.snapshots.insert(key(d, *version), text.as_bytes())?;
        }
        self.flush_all().await
    }

    async fn delete(&self, doc: &DocId, deletion: &Deletion) -> Result<(), StoreError> {
        let d = doc.as_str().to_owned();
        self.deleting.lock().insert(d.clone());
        let entry = serde_json::to_vec(&StoredChange {
            doc: d.clone(),
            version: deletion.version,
            deleted: Some(DeletedBy {
                user: deletion.user.clone(),
                time: deletion.time,
            }),
        })
        .map_err(|e| backend(e.to_string()))?;
        {
            // The marker first: a crash after it completes the deletion at the next start; a
            // crash before it leaves the document as it was (nothing was acknowledged).
            let mut next = self.feed.next.lock();
            let cursor = *next;
            let marker = [&cursor.to_be_bytes()[..], &entry].concat();
            self.meta.insert(deleting_key(&d), marker)?;
            self.changes.insert(cursor.to_be_bytes(), entry)?;
            *next += 1;
            self.feed.written.store(cursor, Ordering::SeqCst);
        }
        self.flush_all().await?;
        // Decided and durable; the removals may take a while for a long history.
        let this = self.clone();
        let doc_id = d.clone();
        tokio::task::spawn_blocking(move || this.remove_document(&doc_id))
            .await
            .map_err(|e| backend(format!("the deletion task failed: {e}")))??;
        self.meta.remove(deleting_key(&d))?;
        self.flush_all().await?;
        // Only once every key is gone may the id take ops again. (On an error above it stays
        // marked: appends are refused until the next start completes the deletion.)
        self.deleting.lock().remove(&d);
        Ok(())
    }

    async fn list(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<DocId>, StoreError> {
        // `<id> 0x01` sorts after every key of `<id>` and before every key of any other id
        // that sorts after it (ids hold no byte below `-`).
        let mut from: Vec<u8> = match after {
            Some(after) if after.as_bytes() >= prefix.as_bytes() => {
                [after.as_bytes(), &[1]].concat()
            }
            _ => prefix.as_bytes().to_vec(),
        };
        let mut out = Vec::new();
        while out.len() < limit {
            let Some(entry) = self.ops.range(from.clone()..).next() else {
                break;
            };
            let (k, _) = entry?;
            let id = doc_of(&k)?;
            if !id.starts_with(prefix) {
                break;
            }
            if !self.is_deleting(id) {
                let doc = DocId::parse(id)
                    .map_err(|e| backend(format!("a stored document id is invalid: {e}")))?;
                out.push(doc);
            }
            from = [id.as_bytes(), &[1]].concat();
        }
        Ok(out)
    }

    async fn changes(&self, after: u64, limit: usize) -> Result<Vec<Change>, StoreError> {
        let durable = *self.feed.durable.borrow();
        if after >= durable || limit == 0 {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        for entry in self
            .changes
            .range((after + 1).to_be_bytes()..=durable.to_be_bytes())
        {
            let (k, v) = entry?;
            let cursor = u64_of(&k).ok_or_else(|| backend("a malformed changefeed key".into()))?;
            let entry: StoredChange = serde_json::from_slice(&v)
                .map_err(|e| backend(format!("unreadable changefeed entry {cursor}: {e}")))?;
            let change = match entry.deleted {
                Some(by) => Change {
                    cursor,
                    kind: ChangeKind::Deleted,
                    doc: entry.doc,
                    version: entry.version,
                    time: by.time,
                    user: by.user,
                    client: None,
                    seq: None,
                },
                None => {
                    // Absent only while the document's deletion removes its keys: it is going,
                    // and its own `deleted` entry follows.
                    let Some(bytes) = self.ops.get(key(&entry.doc, entry.version))? else {
                        continue;
                    };
                    let doc = DocId::parse(&entry.doc)
                        .map_err(|e| backend(format!("a stored document id is invalid: {e}")))?;
                    let record = decode(&doc, entry.version, &bytes)?;
                    Change {
                        cursor,
                        kind: ChangeKind::Op,
                        doc: entry.doc,
                        version: entry.version,
                        time: record.time,
                        user: record.user,
                        client: Some(record.client),
                        seq: Some(record.seq),
                    }
                }
            };
            out.push(change);
            if out.len() == limit {
                break;
            }
        }
        Ok(out)
    }

    fn changes_head(&self) -> watch::Receiver<u64> {
        self.feed.durable.subscribe()
    }

    async fn webhook_cursor(&self, name: &str) -> Result<Option<u64>, StoreError> {
        Ok(self.meta.get(webhook_key(name))?.and_then(|v| u64_of(&v)))
    }

    async fn set_webhook_cursor(&self, name: &str, cursor: u64) -> Result<(), StoreError> {
        self.meta.insert(webhook_key(name), &cursor.to_be_bytes())?;
        self.flush_all().await
    }

    async fn flush(&self) -> Result<(), StoreError> {
        self.flush_all().await
    }

    async fn check_writable(&self) -> Result<(), StoreError> {
        // A key of its own in `meta`, outside the documented layout's readers.
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        self.meta.insert("ready-check", &now.to_be_bytes())?;
        self.flush_all().await
    }
}
