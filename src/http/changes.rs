//! The changefeed routes: `GET /changes` pages the global feed of committed ops and deletions;
//! `GET /changes/stream` is the same feed as Server-Sent Events, each event's `id:` its cursor,
//! so an `EventSource` that reconnects resumes with `Last-Event-ID` by itself. Both read only
//! what the store reports durable (so they never show an entry a crash could take back) and
//! show only entries of documents the caller may read.

use std::collections::HashMap;
use std::convert::Infallible;

use futures::Stream;
use warp::filters::BoxedFilter;
use warp::reply::Response;
use warp::{Filter, Reply};

use super::access::identify;
use super::docs::{invalid_query, query_u64};
use super::reply::{error, respond, storage};
use crate::app::App;
use crate::config::limits::{CHANGES_KEEP_ALIVE, DEFAULT_CHANGES_LIMIT, MAX_CHANGES_LIMIT};
use crate::doc_id::DocId;
use crate::error::Rejection;
use crate::identity::Identity;
use crate::store::Change;

/// Whether `identity` may see `change` (the read right on its document).
fn visible(identity: &Identity, change: &Change) -> bool {
    DocId::parse(&change.doc).is_ok_and(|doc| identity.can_read(&doc))
}

/// `GET /changes?after=<cursor>&limit=k`.
async fn get_changes(
    app: App,
    query: HashMap<String, String>,
    authorization: Option<String>,
) -> Result<serde_json::Value, Rejection> {
    let identity = identify(&app, authorization.as_deref())?;
    let after = query_u64(&query, "after")?.unwrap_or(0);
    let limit = match query_u64(&query, "limit")? {
        None => DEFAULT_CHANGES_LIMIT,
        Some(0) => return Err(invalid_query("limit must be at least 1".into())),
        Some(k) => usize::try_from(k)
            .unwrap_or(MAX_CHANGES_LIMIT)
            .min(MAX_CHANGES_LIMIT),
    };
    let page = app.store.changes(after, limit).await.map_err(storage)?;
    // Where to go on from: past every entry read, shown or not.
    let cursor = page.last().map_or(after, |c| c.cursor);
    let changes: Vec<&Change> = page.iter().filter(|c| visible(&identity, c)).collect();
    Ok(serde_json::json!({"changes": changes, "cursor": cursor}))
}

/// The feed after `after`, forever: pages of durable entries, then waiting for the next
/// commit; ends when the server shuts down (the client reconnects with `Last-Event-ID`).
fn feed(
    app: App,
    identity: Identity,
    mut after: u64,
) -> impl Stream<Item = Result<warp::sse::Event, Infallible>> + Send {
    async_stream(move |tx| async move {
        let mut head = app.store.changes_head();
        let stopping = app.shutdown.intake.clone();
        loop {
            let page = match app.store.changes(after, MAX_CHANGES_LIMIT).await {
                Ok(page) => page,
                Err(err) => {
                    tracing::error!(error = %err, "changefeed read failed");
                    let _ = tx
                        .send(
                            warp::sse::Event::default()
                                .event("error")
                                .data(err.to_string()),
                        )
                        .await;
                    return;
                }
            };
            if page.is_empty() {
                tokio::select! {
                    changed = head.changed() => if changed.is_err() { return },
                    () = stopping.stopped() => return,
                    () = tx.closed() => return,
                }
                continue;
            }
            for change in page {
                after = change.cursor;
                if !visible(&identity, &change) {
                    continue;
                }
                let data = serde_json::to_string(&change).unwrap_or_default();
                let event = warp::sse::Event::default()
                    .id(change.cursor.to_string())
                    .data(data);
                if tx.send(event).await.is_err() {
                    return;
                }
            }
        }
    })
}

/// A stream fed by a task writing into a small channel (bounded: a slow reader makes the
/// task wait, never buffer the feed).
fn async_stream<F, Fut>(body: F) -> impl Stream<Item = Result<warp::sse::Event, Infallible>> + Send
where
    F: FnOnce(tokio::sync::mpsc::Sender<warp::sse::Event>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, mut rx) = tokio::sync::mpsc::channel(16);
    tokio::spawn(body(tx));
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx).map(|e| e.map(Ok)))
}

/// `GET /changes/stream?after=<cursor>` (or `Last-Event-ID: <cursor>`, which wins).
fn stream_changes(
    app: App,
    query: HashMap<String, String>,
    last_event_id: Option<String>,
    authorization: Option<String>,
) -> Result<Response, Rejection> {
    let identity = identify(&app, authorization.as_deref())?;
    let after = match last_event_id {
        Some(id) => id.trim().parse().map_err(|_| {
            invalid_query(format!(
                "Last-Event-ID {id:?} is not a cursor (a non-negative integer)"
            ))
        })?,
        None => query_u64(&query, "after")?.unwrap_or(0),
    };
    let events = feed(app, identity, after);
    Ok(warp::sse::reply(
        warp::sse::keep_alive()
            .interval(CHANGES_KEEP_ALIVE)
            .stream(events),
    )
    .into_response())
}

/// The changefeed routes.
pub(super) fn routes(app: App) -> BoxedFilter<(Response,)> {
    let with_app = warp::any().map(move || app.clone());
    let authorization = || warp::header::optional::<String>("authorization");
    let page = warp::path!("changes")
        .and(warp::get())
        .and(warp::query::<HashMap<String, String>>())
        .and(with_app.clone())
        .and(authorization())
        .then(|query, app, authz| async move { respond(get_changes(app, query, authz).await) });
    let stream = warp::path!("changes" / "stream")
        .and(warp::get())
        .and(warp::query::<HashMap<String, String>>())
        .and(warp::header::optional::<String>("last-event-id"))
        .and(with_app)
        .and(authorization())
        .map(|query, last, app, authz| {
            stream_changes(app, query, last, authz).unwrap_or_else(|r| error(&r))
        });
    page.or(stream).unify().boxed()
}
