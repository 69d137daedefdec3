//! `SledStore`: every document's history in an embedded sled database — the op log, periodic
//! snapshots, and the on-disk format marker. The layout is a contract, written down in
//! `docs/storage.md`:
//!
//! - tree `meta`: key `format` → `otterdoc-ops-v1`; a database with another value (or with ops
//!   and no marker) is refused at start-up.
//! - tree `ops`: key `<doc id bytes> 0x00 <version u64 big-endian>` → the [`OpRecord`] as JSON.
//!   Doc ids never contain NUL, so one document's keys form one contiguous, version-ordered run.
//! - tree `snapshots`: same key shape → the document's full text (UTF-8) at that version.
//!
//! Reads are synchronous sled calls (mostly served from sled's page cache); only the flush,
//! which waits for the disk, leaves the async threads.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;

use super::{OpRecord, Store, StoreError};
use crate::doc_id::DocId;

/// Value of the `format` key this build reads and writes.
pub const FORMAT: &[u8] = b"otterdoc-ops-v1";

impl From<::sled::Error> for StoreError {
    fn from(err: ::sled::Error) -> Self {
        StoreError::Backend(Box::new(err))
    }
}

/// The sled implementation of [`Store`].
#[derive(Clone)]
pub struct SledStore {
    db: ::sled::Db,
    meta: ::sled::Tree,
    ops: ::sled::Tree,
    snapshots: ::sled::Tree,
    flushes: Arc<GroupFlush>,
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
    /// Makes every write done before this call durable.
    async fn flush(&self, db: &::sled::Db) -> Result<(), StoreError> {
        let ticket = self.written.fetch_add(1, Ordering::SeqCst) + 1;
        let _guard = self.lock.lock().await;
        if self.durable.load(Ordering::SeqCst) >= ticket {
            return Ok(());
        }
        // Every commit holding a ticket up to `covers` finished its writes before this load,
        // hence before the flush below starts.
        let covers = self.written.load(Ordering::SeqCst);
        // Not `flush_async`: in sled 0.34 concurrent `flush_async` calls can deadlock (sled
        // issues #1241, #1308 — seen here as a hang with several documents committing at
        // once). The blocking flush runs right here, on the async worker, for the length of an
        // fsync: handing it to the blocking pool and back costs two thread wake-ups per commit,
        // measured as a fifth of one editor's throughput. Only one flush runs at a time (the
        // lock above), so at most one worker is ever blocked, and the others keep serving.
        db.flush()?;
        self.durable.fetch_max(covers, Ordering::SeqCst);
        Ok(())
    }
}

fn key(doc: &DocId, version: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(doc.as_str().len() + 9);
    k.extend_from_slice(doc.as_str().as_bytes());
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

fn decode(doc: &DocId, version: u64, bytes: &[u8]) -> Result<OpRecord, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        doc: doc.to_string(),
        version,
        reason: format!("unreadable op record: {e}"),
    })
}

impl SledStore {
    /// Opens (or creates) the database in `path`, checking its on-disk format.
    pub fn open(path: &Path) -> Result<SledStore, StoreError> {
        let db = ::sled::Config::new().path(path).open()?;
        let meta = db.open_tree("meta")?;
        let ops = db.open_tree("ops")?;
        let snapshots = db.open_tree("snapshots")?;
        let expected = || String::from_utf8_lossy(FORMAT).into_owned();
        match meta.get("format")? {
            Some(found) if found.as_ref() == FORMAT => {}
            Some(found) => {
                return Err(StoreError::UnknownFormat {
                    found: String::from_utf8_lossy(&found).into_owned(),
                    expected: expected(),
                })
            }
            None if ops.is_empty() && snapshots.is_empty() => {
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
        Ok(SledStore {
            db,
            meta,
            ops,
            snapshots,
            flushes: Arc::default(),
        })
    }
}

#[async_trait]
impl Store for SledStore {
    async fn head(&self, doc: &DocId) -> Result<u64, StoreError> {
        match self.ops.range(key(doc, 0)..=key(doc, u64::MAX)).next_back() {
            Some(entry) => version_of(doc, &entry?.0),
            None => Ok(0),
        }
    }

    async fn op(&self, doc: &DocId, version: u64) -> Result<Option<OpRecord>, StoreError> {
        match self.ops.get(key(doc, version))? {
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
        let expected = usize::try_from(upto - after).unwrap_or(usize::MAX);
        let mut out = Vec::with_capacity(limit.min(expected).min(4096));
        for entry in self.ops.range(key(doc, after + 1)..=key(doc, upto)) {
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
        match self
            .snapshots
            .range(key(doc, 0)..=key(doc, version))
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
        // One insert per record, not a `sled::Batch`: sled seals a batch's manifest into an I/O
        // buffer of its own, so the flush below would write and sync twice. The log is
        // recovered in order, so a crash keeps a prefix of these records, never a gap, and
        // none of them has been acknowledged yet.
        for record in records {
            let value = serde_json::to_vec(record).map_err(|e| StoreError::Corrupt {
                doc: doc.to_string(),
                version: record.version,
                reason: format!("cannot encode: {e}"),
            })?;
            self.ops.insert(key(doc, record.version), value)?;
        }
        for (version, text) in snapshots {
            self.snapshots.insert(key(doc, *version), text.as_bytes())?;
        }
        self.flushes.flush(&self.db).await
    }

    async fn flush(&self) -> Result<(), StoreError> {
        self.flushes.flush(&self.db).await
    }

    async fn check_writable(&self) -> Result<(), StoreError> {
        // A key of its own in `meta`, outside the documented layout's readers.
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        self.meta.insert("ready-check", &now.to_be_bytes())?;
        self.flushes.flush(&self.db).await
    }
}
