//! One simulated editor: a STOMP connection subscribed to its document's topic, the local text,
//! and the ot.js discipline ([`ot::ClientState`]): one op in flight, every incoming op
//! transformed against it. It records when each version reached it, when its own ops were sent,
//! acknowledged (RECEIPT) and echoed (its own op back on the topic).

use std::borrow::Cow;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use anyhow::{bail, Context};
use ot::{ClientState, Document, Operation};
use otterdoc::stomp::{Command, StompFrame};
use rand::rngs::StdRng;
use rand::Rng;
use serde::Deserialize;

use crate::stats::Samples;
use crate::stomp::{send_frame, Conn};

/// A `/topic/doc/<id>` event, with only the fields the bench reads.
#[derive(Deserialize)]
struct Event<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    version: u64,
    #[serde(default)]
    op: Option<Operation>,
    #[serde(default, borrow)]
    client: Option<Cow<'a, str>>,
    #[serde(default)]
    seq: Option<u64>,
    #[serde(default)]
    content: Option<String>,
}

/// What an editor measured.
#[derive(Default)]
pub(crate) struct Record {
    /// SEND → RECEIPT.
    pub(crate) ack: Samples,
    /// SEND → own op on the topic.
    pub(crate) echo: Samples,
    /// (version, when sent) of each own op.
    pub(crate) own: Vec<(u64, Instant)>,
    /// When each version arrived, indexed by `version - first - 1`.
    pub(crate) seen: Vec<Instant>,
    /// The version of the snapshot the editor started from.
    pub(crate) first: u64,
}

/// One editor of one document.
pub(crate) struct Editor {
    conn: Conn,
    doc: String,
    client: String,
    pub(crate) content: Document,
    pub(crate) version: u64,
    state: ClientState,
    next_seq: u64,
    /// Own op in flight: (seq, sent at).
    inflight: Option<(u64, Instant)>,
    /// Receipts not yet seen: receipt seq → sent at.
    receipts: HashMap<u64, Instant>,
    pub(crate) record: Record,
}

impl Editor {
    /// Connects (from `local`, if given), subscribes to `doc` and loads its snapshot.
    pub(crate) async fn join(
        server: SocketAddr,
        local: Option<IpAddr>,
        doc: &str,
        client: String,
    ) -> anyhow::Result<Editor> {
        let mut conn = Conn::open(server, local).await?;
        let frames = conn
            .subscribe("doc", &format!("/topic/doc/{doc}"), &[])
            .await?;
        let snapshot = frames.first().context("no snapshot before the receipt")?;
        let event: Event<'_> = serde_json::from_slice(&snapshot.body)?;
        if event.kind != "snapshot" {
            bail!("expected a snapshot, got {}", event.kind);
        }
        let content = Document::from_text(event.content.as_deref().unwrap_or_default());
        let mut editor = Editor {
            conn,
            doc: doc.to_owned(),
            client,
            content,
            version: event.version,
            state: ClientState::default(),
            next_seq: 1,
            inflight: None,
            receipts: HashMap::new(),
            record: Record {
                first: event.version,
                ..Record::default()
            },
        };
        for frame in frames.into_iter().skip(1) {
            editor.handle(frame)?;
        }
        Ok(editor)
    }

    /// True when nothing of this editor's is in flight.
    pub(crate) fn idle(&self) -> bool {
        self.inflight.is_none()
    }

    /// Applies `op` locally and sends it (nothing may be in flight).
    pub(crate) async fn submit(&mut self, op: Operation) -> anyhow::Result<()> {
        if self.inflight.is_some() {
            bail!("an op is already in flight");
        }
        self.content.apply(&op)?;
        let send = self
            .state
            .local(op)?
            .context("nothing was in flight, so the op goes out")?;
        let seq = self.next_seq;
        self.next_seq += 1;
        let body = serde_json::json!({
            "client": self.client, "seq": seq, "base": self.version, "op": send
        })
        .to_string();
        let now = Instant::now();
        self.inflight = Some((seq, now));
        self.receipts.insert(seq, now);
        self.conn
            .send(&send_frame(&self.doc, body, &seq.to_string()))
            .await
    }

    /// A random small edit of the local text: mostly a one-character insert, sometimes a
    /// one-character delete; now and then a character outside ASCII.
    pub(crate) fn random_op(&self, rng: &mut StdRng) -> Operation {
        let len = self.content.char_len();
        if len > 0 && rng.random_bool(0.25) {
            let pos = rng.random_range(0..len);
            return Operation::splice(len, pos, 1, "").expect("in range");
        }
        let pos = rng.random_range(0..=len);
        let text = match rng.random_range(0..20) {
            0 => "é",
            1 => "😀",
            2 => "中",
            n => ["a", "b", "c", "d", "e", " "][n % 6],
        };
        Operation::splice(len, pos, 0, text).expect("in range")
    }

    /// Reads and handles the next frame.
    pub(crate) async fn step(&mut self) -> anyhow::Result<()> {
        let frame = self.conn.next().await?;
        self.handle(frame)
    }

    fn handle(&mut self, frame: StompFrame) -> anyhow::Result<()> {
        let now = Instant::now();
        match frame.command {
            Command::Receipt => {
                if let Some(error) = frame.header("error") {
                    bail!("op rejected: {error}: {:?}", frame.header("message"));
                }
                let seq: u64 = frame
                    .header("receipt-id")
                    .and_then(|r| r.parse().ok())
                    .context("receipt-id")?;
                if let Some(sent) = self.receipts.remove(&seq) {
                    self.record.ack.push(now - sent);
                }
                Ok(())
            }
            Command::Message => {
                let event: Event<'_> = serde_json::from_slice(&frame.body)?;
                if event.kind != "op" {
                    bail!("unexpected {} event", event.kind);
                }
                if event.version != self.version + 1 {
                    bail!(
                        "version {} after {}: a gap or a duplicate",
                        event.version,
                        self.version
                    );
                }
                self.version = event.version;
                self.record.seen.push(now);
                let own = event.client.as_deref() == Some(self.client.as_str());
                match (own, self.inflight) {
                    (true, Some((seq, sent))) if event.seq == Some(seq) => {
                        self.record.echo.push(now - sent);
                        self.record.own.push((event.version, sent));
                        self.inflight = None;
                        if self.state.ack()?.is_some() {
                            bail!("nothing is ever buffered");
                        }
                    }
                    (true, _) => bail!("an own op that was not in flight"),
                    (false, _) => {
                        let op = event.op.context("op event without op")?;
                        let local = self.state.remote(&op)?;
                        self.content.apply(&local)?;
                    }
                }
                Ok(())
            }
            Command::Error => bail!("server ERROR: {:?}", frame.header("message")),
            other => bail!("unexpected {}", other.as_str()),
        }
    }

    /// Reads until this editor has seen `version` and every receipt arrived.
    pub(crate) async fn catch_up_to(&mut self, version: u64) -> anyhow::Result<()> {
        while self.version < version || !self.receipts.is_empty() || self.inflight.is_some() {
            self.step().await?;
        }
        Ok(())
    }

    /// Closes the connection.
    pub(crate) async fn close(self) -> Record {
        self.conn.close().await;
        self.record
    }
}

/// Broadcast latency of every op: from its SEND to the moment the last *other* editor saw it.
pub(crate) fn broadcast_latencies(records: &[Record]) -> Samples {
    let mut out = Samples::default();
    if records.len() < 2 {
        return out;
    }
    for (author, record) in records.iter().enumerate() {
        for &(version, sent) in &record.own {
            let last = records
                .iter()
                .enumerate()
                .filter(|(other, _)| *other != author)
                .filter_map(|(_, r)| {
                    let index = version.checked_sub(r.first + 1)?;
                    r.seen.get(usize::try_from(index).ok()?)
                })
                .max();
            if let Some(last) = last {
                out.push(last.saturating_duration_since(sent));
            }
        }
    }
    out
}
