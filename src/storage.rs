//! `OpLog`: every document's history in sled — the op log, periodic snapshots, and the
//! on-disk format marker. The layout is a contract, written down in `docs/storage.md`:
//!
//! - tree `meta`: key `format` → `otterdoc-ops-v1`; a database with another value (or with ops
//!   and no marker) is refused at start-up.
//! - tree `ops`: key `<doc id bytes> 0x00 <version u64 big-endian>` → the [`OpRecord`] as JSON.
//!   Doc ids never contain NUL, so one document's keys form one contiguous, version-ordered run.
//! - tree `snapshots`: same key shape → the document's full text (UTF-8) at that version, written
//!   every `snapshot_interval` versions, so reading any version replays fewer than that many ops.
//!
//! The document task is the only writer of a document's keys; readers (HTTP, catch-up of
//! subscribers) only ever see what the writer has flushed or is about to.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use ot::Document;

use crate::doc_id::DocId;
use crate::protocol::OpRecord;

/// Value of the `format` key this build reads and writes.
pub const FORMAT: &[u8] = b"otterdoc-ops-v1";

/// A storage failure. Nothing built on a failed read or write is acknowledged.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// sled reported an error (I/O, corruption it detected).
    #[error("storage error: {0}")]
    Sled(#[from] sled::Error),
    /// The flush task itself failed (panicked or was cancelled).
    #[error("flush did not complete: {0}")]
    Flush(String),
    /// The data directory holds another on-disk format.
    #[error("the data directory has on-disk format {found:?}, but this build reads {expected:?}; use a matching otterdoc version or another --data directory")]
    UnknownFormat {
        /// What the `format` key holds.
        found: String,
        /// What this build expects.
        expected: String,
    },
    /// A stored record could not be read or replayed.
    #[error("document {doc} is corrupt at version {version}: {reason}")]
    Corrupt {
        /// Document id.
        doc: String,
        /// Version of the bad record.
        version: u64,
        /// What is wrong.
        reason: String,
    },
}

/// A document as loaded for its task: the latest version, its text, and the time of its last op.
pub struct LoadedDoc {
    /// Current version (0 for a document that never had an op).
    pub version: u64,
    /// Text at `version`.
    pub document: Document,
    /// `time` of the op that produced `version` (0 if none).
    pub last_time: u64,
}

/// The op log and snapshots of every document.
#[derive(Clone)]
pub struct OpLog {
    db: sled::Db,
    ops: sled::Tree,
    snapshots: sled::Tree,
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
    async fn flush(&self, db: &sled::Db) -> Result<(), StorageError> {
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
        // once). The blocking flush runs on the blocking pool, off the async threads.
        let db = db.clone();
        tokio::task::spawn_blocking(move || db.flush())
            .await
            .map_err(|e| StorageError::Flush(e.to_string()))??;
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

fn version_of(doc: &DocId, key: &[u8]) -> Result<u64, StorageError> {
    let tail = key.get(doc.as_str().len() + 1..).unwrap_or_default();
    let bytes: [u8; 8] = tail.try_into().map_err(|_| StorageError::Corrupt {
        doc: doc.to_string(),
        version: 0,
        reason: format!("malformed key of {} bytes", key.len()),
    })?;
    Ok(u64::from_be_bytes(bytes))
}

impl OpLog {
    /// Opens (or creates) the database in `path`, checking its on-disk format.
    pub fn open(path: &Path) -> Result<OpLog, StorageError> {
        let db = sled::Config::new().path(path).open()?;
        let meta = db.open_tree("meta")?;
        let ops = db.open_tree("ops")?;
        let snapshots = db.open_tree("snapshots")?;
        match meta.get("format")? {
            Some(found) if found.as_ref() == FORMAT => {}
            Some(found) => {
                return Err(StorageError::UnknownFormat {
                    found: String::from_utf8_lossy(&found).into_owned(),
                    expected: String::from_utf8_lossy(FORMAT).into_owned(),
                })
            }
            None if ops.is_empty() && snapshots.is_empty() => {
                meta.insert("format", FORMAT)?;
                db.flush()?;
            }
            None => {
                return Err(StorageError::UnknownFormat {
                    found: "(none, but the database holds data)".into(),
                    expected: String::from_utf8_lossy(FORMAT).into_owned(),
                })
            }
        }
        Ok(OpLog {
            db,
            ops,
            snapshots,
            flushes: Arc::default(),
        })
    }

    fn decode(doc: &DocId, version: u64, bytes: &[u8]) -> Result<OpRecord, StorageError> {
        serde_json::from_slice(bytes).map_err(|e| StorageError::Corrupt {
            doc: doc.to_string(),
            version,
            reason: format!("unreadable op record: {e}"),
        })
    }

    /// The document's current version: that of its last stored op, 0 if it has none.
    pub fn head(&self, doc: &DocId) -> Result<u64, StorageError> {
        match self.ops.range(key(doc, 0)..=key(doc, u64::MAX)).next_back() {
            Some(entry) => version_of(doc, &entry?.0),
            None => Ok(0),
        }
    }

    /// The op that produced `version`, if stored.
    pub fn op(&self, doc: &DocId, version: u64) -> Result<Option<OpRecord>, StorageError> {
        match self.ops.get(key(doc, version))? {
            Some(bytes) => Ok(Some(Self::decode(doc, version, &bytes)?)),
            None => Ok(None),
        }
    }

    /// Up to `limit` ops with versions in `after+1 ..= upto`, ascending.
    pub fn ops(
        &self,
        doc: &DocId,
        after: u64,
        upto: u64,
        limit: usize,
    ) -> Result<Vec<OpRecord>, StorageError> {
        if upto <= after || limit == 0 {
            return Ok(Vec::new());
        }
        let mut out = Vec::with_capacity(limit.min((upto - after) as usize));
        for entry in self.ops.range(key(doc, after + 1)..=key(doc, upto)) {
            let (k, v) = entry?;
            let version = version_of(doc, &k)?;
            out.push(Self::decode(doc, version, &v)?);
            if out.len() == limit {
                break;
            }
        }
        Ok(out)
    }

    /// The newest snapshot at or before `version`: (its version, its text); `(0, "")` if none.
    pub fn snapshot_at_or_before(
        &self,
        doc: &DocId,
        version: u64,
    ) -> Result<(u64, String), StorageError> {
        match self
            .snapshots
            .range(key(doc, 0)..=key(doc, version))
            .next_back()
        {
            Some(entry) => {
                let (k, v) = entry?;
                let at = version_of(doc, &k)?;
                let text = String::from_utf8(v.to_vec()).map_err(|_| StorageError::Corrupt {
                    doc: doc.to_string(),
                    version: at,
                    reason: "snapshot is not UTF-8".into(),
                })?;
                Ok((at, text))
            }
            None => Ok((0, String::new())),
        }
    }

    /// Replays stored ops `from+1 ..= to` onto `document` (which is at `from`).
    pub fn replay(
        &self,
        doc: &DocId,
        document: &mut Document,
        from: u64,
        to: u64,
    ) -> Result<Option<OpRecord>, StorageError> {
        let mut last = None;
        for entry in self.ops.range(key(doc, from + 1)..=key(doc, to)) {
            let (k, v) = entry?;
            let version = version_of(doc, &k)?;
            let record = Self::decode(doc, version, &v)?;
            document
                .apply(&record.op)
                .map_err(|e| StorageError::Corrupt {
                    doc: doc.to_string(),
                    version,
                    reason: format!("stored op does not apply: {e}"),
                })?;
            last = Some(record);
        }
        Ok(last)
    }

    /// The text at `version` (which must be ≤ head), from the nearest snapshot plus replay.
    pub fn content_at(&self, doc: &DocId, version: u64) -> Result<Document, StorageError> {
        let (at, text) = self.snapshot_at_or_before(doc, version)?;
        let mut document = Document::from_text(&text);
        self.replay(doc, &mut document, at, version)?;
        Ok(document)
    }

    /// Loads the current state of a document.
    pub fn load(&self, doc: &DocId) -> Result<LoadedDoc, StorageError> {
        let version = self.head(doc)?;
        let (at, text) = self.snapshot_at_or_before(doc, version)?;
        let mut document = Document::from_text(&text);
        let last = self.replay(doc, &mut document, at, version)?;
        let last_time = match last {
            Some(record) => record.time,
            None if version > 0 => self.op(doc, version)?.map_or(0, |r| r.time),
            None => 0,
        };
        Ok(LoadedDoc {
            version,
            document,
            last_time,
        })
    }

    /// The last version whose op was applied at or before `ms` (0 if none): binary search over
    /// versions, since times never decrease within a document.
    pub fn version_at_time(&self, doc: &DocId, ms: u64) -> Result<u64, StorageError> {
        let (mut lo, mut hi) = (0u64, self.head(doc)?);
        while lo < hi {
            let mid = lo + (hi - lo).div_ceil(2);
            let time = self.op(doc, mid)?.map_or(u64::MAX, |r| r.time);
            if time <= ms {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        Ok(lo)
    }

    /// Writes `records` (consecutive, after the current head) and `snapshots` in one batch and
    /// flushes to disk once; when this returns `Ok`, they survive a crash.
    pub async fn append(
        &self,
        doc: &DocId,
        records: &[OpRecord],
        snapshots: &[(u64, String)],
    ) -> Result<(), StorageError> {
        let mut batch = sled::Batch::default();
        for record in records {
            let value = serde_json::to_vec(record).map_err(|e| StorageError::Corrupt {
                doc: doc.to_string(),
                version: record.version,
                reason: format!("cannot encode: {e}"),
            })?;
            batch.insert(key(doc, record.version), value);
        }
        self.ops.apply_batch(batch)?;
        for (version, text) in snapshots {
            self.snapshots.insert(key(doc, *version), text.as_bytes())?;
        }
        self.flushes.flush(&self.db).await
    }

    /// Flushes everything to disk (used at shutdown).
    pub fn flush(&self) -> Result<(), StorageError> {
        self.db.flush()?;
        Ok(())
    }
}
