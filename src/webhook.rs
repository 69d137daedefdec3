//! Webhooks on top of the changefeed: for every `--webhook-url`, one task POSTs the feed in
//! batches, in cursor order, signed with HMAC-SHA256 over the timestamp and the body
//! (`--webhook-secret-file`), and retries a batch with exponential backoff until the receiver
//! answers 2xx. Only then is the webhook's delivered cursor stored (durably, in the store), so a
//! restart resumes after the last acknowledged batch and a receiver that was down gets
//! everything, in order, at least once (the payload carries the cursors, to dedupe).
//! `docs/operations.md#webhooks` is the contract.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use tokio::task::JoinHandle;

use crate::app::App;
use crate::config::limits::{
    WEBHOOK_BACKOFF_MAX, WEBHOOK_BACKOFF_MIN, WEBHOOK_BATCH, WEBHOOK_TIMEOUT,
};
use crate::config::Config;
use crate::metrics::Metrics;
use crate::store::Change;

/// The header carrying the request's timestamp (ms since the Unix epoch).
pub const TIMESTAMP_HEADER: &str = "x-otterdoc-timestamp";
/// The header carrying `sha256=<hex HMAC-SHA256(secret, timestamp "." body)>`.
pub const SIGNATURE_HEADER: &str = "x-otterdoc-signature";

/// Why the webhooks could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// A `--webhook-url` is not an `http://` URL.
    #[error("--webhook-url {url:?}: {reason}")]
    Url {
        /// The flag's value.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// `--webhook-url` without `--webhook-secret-file`.
    #[error("--webhook-url needs --webhook-secret-file (every delivery is signed)")]
    NoSecret,
    /// The secret file cannot be read or is empty.
    #[error("cannot use the webhook secret file {path}: {reason}")]
    Secret {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The HTTP client could not be built.
    #[error("cannot build the webhook HTTP client: {0}")]
    Client(String),
}

/// The configured webhooks, ready to start.
pub struct Webhooks {
    urls: Vec<reqwest::Url>,
    secret: Vec<u8>,
    client: reqwest::Client,
}

/// `sha256=<hex>` of the HMAC-SHA256 of `timestamp "." body` under `secret`.
pub fn signature(secret: &[u8], timestamp: u64, body: &[u8]) -> String {
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256=");
    for byte in digest {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

fn read_secret(path: &Path) -> Result<Vec<u8>, WebhookError> {
    let bad = |reason: String| WebhookError::Secret {
        path: path.to_owned(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
    let secret = text.trim_end();
    if secret.is_empty() {
        return Err(bad("it is empty".into()));
    }
    Ok(secret.as_bytes().to_vec())
}

impl Webhooks {
    /// The webhooks `config` names (none without `--webhook-url`).
    pub fn from_config(config: &Config) -> Result<Webhooks, WebhookError> {
        let mut urls = Vec::new();
        for url in &config.webhook_url {
            let bad = |reason: String| WebhookError::Url {
                url: url.clone(),
                reason,
            };
            let parsed = reqwest::Url::parse(url).map_err(|e| bad(e.to_string()))?;
            if parsed.scheme() != "http" {
                return Err(bad(
                    "only http:// URLs (this build has no TLS client; deliver to a local proxy \
                     for https)"
                        .into(),
                ));
            }
            urls.push(parsed);
        }
        let secret = match (&config.webhook_secret_file, urls.is_empty()) {
            (_, true) => Vec::new(),
            (None, false) => return Err(WebhookError::NoSecret),
            (Some(path), false) => read_secret(path)?,
        };
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(WEBHOOK_TIMEOUT)
            .build()
            .map_err(|e| WebhookError::Client(e.to_string()))?;
        Ok(Webhooks {
            urls,
            secret,
            client,
        })
    }

    /// Starts one delivery task per webhook; each ends when the server starts shutting down.
    pub fn start(self, app: &App) -> Vec<JoinHandle<()>> {
        self.urls
            .into_iter()
            .map(|url| {
                let delivery = Delivery {
                    app: app.clone(),
                    client: self.client.clone(),
                    secret: self.secret.clone(),
                    name: url.to_string(),
                    url,
                };
                tokio::spawn(delivery.run())
            })
            .collect()
    }
}

/// One webhook's delivery loop.
struct Delivery {
    app: App,
    client: reqwest::Client,
    secret: Vec<u8>,
    /// The URL as stored with its cursor.
    name: String,
    url: reqwest::Url,
}

/// The body of one POST.
#[derive(serde::Serialize)]
struct Batch<'a> {
    /// The cursor of the first entry and of the last one.
    first: u64,
    cursor: u64,
    changes: &'a [Change],
}

impl Delivery {
    async fn run(self) {
        let stopping = self.app.shutdown.intake.clone();
        tokio::select! {
            () = self.deliver() => {}
            () = stopping.stopped() => {}
        }
    }

    /// Delivers forever: read a batch after the stored cursor, POST it until acknowledged,
    /// store the cursor, repeat; wait for new commits when caught up.
    async fn deliver(&self) {
        let store = &self.app.store;
        let metrics = &self.app.metrics;
        let mut head = store.changes_head();
        let mut cursor = loop {
            match store.webhook_cursor(&self.name).await {
                Ok(cursor) => break cursor.unwrap_or(0),
                Err(err) => {
                    tracing::error!(webhook = %self.url, error = %err, "cannot read the webhook's cursor");
                    tokio::time::sleep(WEBHOOK_BACKOFF_MAX).await;
                }
            }
        };
        let mut failures = 0u32;
        loop {
            let newest = *head.borrow_and_update();
            Metrics::set(
                &metrics.webhook_lag,
                &self.name,
                newest.saturating_sub(cursor),
            );
            let batch = match store.changes(cursor, WEBHOOK_BATCH).await {
                Ok(batch) => batch,
                Err(err) => {
                    tracing::error!(webhook = %self.url, error = %err, "cannot read the changefeed");
                    failures = self.back_off(failures).await;
                    continue;
                }
            };
            let Some(last) = batch.last().map(|c| c.cursor) else {
                if head.changed().await.is_err() {
                    return;
                }
                continue;
            };
            match self.post(&batch).await {
                Ok(()) => {
                    failures = 0;
                    Metrics::count(&metrics.webhook_deliveries, &self.name);
                    if let Err(err) = store.set_webhook_cursor(&self.name, last).await {
                        // Delivered but not recorded: it is sent again (at least once).
                        tracing::error!(webhook = %self.url, error = %err, "cannot store the webhook's cursor");
                    }
                    cursor = last;
                }
                Err(why) => {
                    Metrics::count(&metrics.webhook_failures, &self.name);
                    tracing::warn!(webhook = %self.url, cursor, failures, error = %why, "webhook delivery failed; retrying");
                    failures = self.back_off(failures).await;
                }
            }
        }
    }

    /// One signed POST of `batch`; `Err` unless the receiver answers 2xx.
    async fn post(&self, batch: &[Change]) -> Result<(), String> {
        let body = serde_json::to_vec(&Batch {
            first: batch.first().map_or(0, |c| c.cursor),
            cursor: batch.last().map_or(0, |c| c.cursor),
            changes: batch,
        })
        .map_err(|e| e.to_string())?;
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let response = self
            .client
            .post(self.url.clone())
            .header("content-type", "application/json")
            .header(TIMESTAMP_HEADER, timestamp.to_string())
            .header(SIGNATURE_HEADER, signature(&self.secret, timestamp, &body))
            .body(body)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(format!("the receiver answered {}", response.status()))
        }
    }

    /// Waits before the next attempt: [`WEBHOOK_BACKOFF_MIN`] doubled per failure so far, up
    /// to [`WEBHOOK_BACKOFF_MAX`], plus up to 25 % jitter. Returns the new failure count.
    async fn back_off(&self, failures: u32) -> u32 {
        let base = WEBHOOK_BACKOFF_MIN
            .saturating_mul(1u32 << failures.min(16))
            .min(WEBHOOK_BACKOFF_MAX);
        // Jitter from the clock's nanoseconds: enough to spread retries, no RNG needed.
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let jitter = f64::from(nanos % 1000) / 4000.0;
        tokio::time::sleep(base + Duration::from_secs_f64(base.as_secs_f64() * jitter)).await;
        failures.saturating_add(1)
    }
}
