//! Telling the client how its frames ended, in the order it sent them: every SEND's outcome
//! (a RECEIPT, or a rejection on the RECEIPT and on `/user/queue/errors`) and every other
//! frame's RECEIPT come out in frame order, however long each op takes to become durable.
//! Outcomes are futures kept in a `FuturesOrdered`, which yields them in push order.

use std::future::Future;
use std::pin::Pin;

use futures::stream::FuturesOrdered;
use futures::StreamExt;

use super::destination::{ERRORS_DESTINATION, NOTICES_DESTINATION};
use crate::document::Applied;
use crate::error::Rejection;
use crate::stomp::{server, Closed, Outbox};
use crate::wire::{error_event_json, SubmissionIds};

/// What to tell the client once an earlier-queued request is settled.
pub(super) enum Outcome {
    /// A SEND's outcome.
    Submitted {
        receipt: Option<String>,
        /// The document the SEND named, as written.
        doc: Option<String>,
        ids: SubmissionIds,
        /// Boxed: an applied op is much larger than the other variant.
        result: Box<Result<Applied, Rejection>>,
    },
    /// A presence SEND's outcome: a plain RECEIPT when accepted.
    Presence {
        receipt: Option<String>,
        /// The document the SEND named, as written (`<id>/presence`).
        doc: Option<String>,
        ids: SubmissionIds,
        result: Result<(), Rejection>,
    },
    /// A plain RECEIPT (for a frame whose effect was immediate, but which must not overtake
    /// the receipts of SENDs before it).
    Receipt(String),
}

type Pending = Pin<Box<dyn Future<Output = Outcome> + Send + Sync>>;

/// The session's queue of unreported outcomes and its error subscriptions.
#[derive(Default)]
pub(super) struct Replies {
    pending: FuturesOrdered<Pending>,
    /// The `/user/queue/errors` subscriptions (each gets every error event): id, client ack.
    errors: Vec<(String, bool)>,
    /// Error events delivered so far (numbers their `message-id`).
    error_messages: u64,
    /// The `/user/queue/notices` subscriptions: id, client ack.
    notices: Vec<(String, bool)>,
    /// Notices delivered so far.
    notice_messages: u64,
}

impl Replies {
    /// Queues a RECEIPT (if `receipt` asks for one) behind every earlier outcome.
    pub(super) fn receipt(&mut self, receipt: Option<&str>) {
        if let Some(receipt) = receipt {
            let receipt = receipt.to_owned();
            self.pending
                .push_back(Box::pin(async move { Outcome::Receipt(receipt) }));
        }
    }

    /// Queues a SEND's outcome, to be reported when `result` resolves and everything queued
    /// before has been reported.
    pub(super) fn submitted(
        &mut self,
        receipt: Option<String>,
        doc: Option<String>,
        ids: SubmissionIds,
        result: impl Future<Output = Result<Applied, Rejection>> + Send + Sync + 'static,
    ) {
        self.pending.push_back(Box::pin(async move {
            Outcome::Submitted {
                receipt,
                doc,
                ids,
                result: Box::new(result.await),
            }
        }));
    }

    /// Queues a presence SEND's outcome, reported when `result` resolves and everything queued
    /// before has been reported.
    pub(super) fn presence(
        &mut self,
        receipt: Option<String>,
        doc: Option<String>,
        ids: SubmissionIds,
        result: impl Future<Output = Result<(), Rejection>> + Send + Sync + 'static,
    ) {
        self.pending.push_back(Box::pin(async move {
            Outcome::Presence {
                receipt,
                doc,
                ids,
                result: result.await,
            }
        }));
    }

    /// Queues a SEND refused before it reached a document.
    pub(super) fn rejected(
        &mut self,
        receipt: Option<String>,
        doc: Option<String>,
        ids: SubmissionIds,
        rejection: Rejection,
    ) {
        self.submitted(receipt, doc, ids, async move { Err(rejection) });
    }

    /// True if nothing is waiting to be reported.
    pub(super) fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// The next outcome in frame order, once settled (`None` when nothing is pending).
    pub(super) async fn next(&mut self) -> Option<Outcome> {
        self.pending.next().await
    }

    /// Reports everything pending, waiting for each in turn.
    pub(super) async fn drain(&mut self, outbox: &Outbox) -> Result<(), Closed> {
        while let Some(outcome) = self.pending.next().await {
            self.report(outcome, outbox).await?;
        }
        Ok(())
    }

    /// A `/user/queue/errors` subscription was made.
    pub(super) fn subscribe_errors(&mut self, id: &str, client_ack: bool) {
        self.errors.push((id.to_owned(), client_ack));
    }

    /// A `/user/queue/errors` subscription was ended.
    pub(super) fn unsubscribe_errors(&mut self, id: &str) {
        self.errors.retain(|(s, _)| s != id);
    }

    /// A `/user/queue/notices` subscription was made.
    pub(super) fn subscribe_notices(&mut self, id: &str, client_ack: bool) {
        self.notices.push((id.to_owned(), client_ack));
    }

    /// A `/user/queue/notices` subscription was ended.
    pub(super) fn unsubscribe_notices(&mut self, id: &str) {
        self.notices.retain(|(s, _)| s != id);
    }

    /// Delivers an operator's notice to every notices subscription (now: it is not the
    /// outcome of a frame, so it does not wait for them).
    pub(super) async fn notice(&mut self, message: &str, outbox: &Outbox) -> Result<(), Closed> {
        let body = serde_json::json!({"type": "notice", "message": message}).to_string();
        for (sub, ack) in &self.notices {
            self.notice_messages += 1;
            let id = format!("notice-{}", self.notice_messages);
            let frame = server::message_acked(NOTICES_DESTINATION, sub, &id, *ack, body.clone());
            outbox.frame(frame).await?;
        }
        Ok(())
    }

    /// Tells the client how a request ended.
    pub(super) async fn report(&mut self, outcome: Outcome, outbox: &Outbox) -> Result<(), Closed> {
        match outcome {
            Outcome::Receipt(receipt) => outbox.frame(server::receipt(&receipt)).await,
            Outcome::Submitted {
                receipt,
                doc,
                ids,
                result,
            } => match *result {
                Ok(applied) => match receipt {
                    Some(receipt) => {
                        let frame = server::receipt(&receipt)
                            .with_header("version", applied.version.to_string());
                        outbox.frame(frame).await
                    }
                    None => Ok(()),
                },
                Err(rejection) => self.refused(outbox, receipt, doc, &ids, rejection).await,
            },
            Outcome::Presence {
                receipt,
                doc,
                ids,
                result,
            } => match result {
                Ok(()) => match receipt {
                    Some(receipt) => outbox.frame(server::receipt(&receipt)).await,
                    None => Ok(()),
                },
                Err(rejection) => self.refused(outbox, receipt, doc, &ids, rejection).await,
            },
        }
    }

    /// Reports a rejected SEND on its RECEIPT (if asked) and on every errors subscription.
    async fn refused(
        &mut self,
        outbox: &Outbox,
        receipt: Option<String>,
        doc: Option<String>,
        ids: &SubmissionIds,
        rejection: Rejection,
    ) -> Result<(), Closed> {
        tracing::debug!(code = %rejection.code, message = %rejection.message, "SEND rejected");
        if let Some(receipt) = &receipt {
            let frame = server::receipt(receipt)
                .with_header("error", rejection.code.as_str())
                .with_header("message", rejection.message.clone());
            outbox.frame(frame).await?;
        }
        let body = error_event_json(&rejection, doc.as_deref(), ids, receipt.as_deref());
        for (sub, ack) in &self.errors {
            self.error_messages += 1;
            let id = format!("error-{}", self.error_messages);
            let frame = server::message_acked(ERRORS_DESTINATION, sub, &id, *ack, body.clone());
            outbox.frame(frame).await?;
        }
        Ok(())
    }
}
