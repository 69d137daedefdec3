//! The document routes: the content of a document at any version or time, pages of its op
//! log, and submitting an op without a WebSocket. Reads need the read right on the document,
//! submissions the write right (see `access.rs`).

use std::collections::HashMap;

use bytes::Bytes;
use warp::filters::BoxedFilter;
use warp::reply::Response;
use warp::Filter;

use super::access::{authorize, Right};
use super::reply::{respond, storage};
use crate::app::App;
use crate::config::limits::{DEFAULT_OPS_LIMIT, MAX_OPS_LIMIT};
use crate::doc_id::DocId;
use crate::error::{ErrorCode, Rejection};
use crate::store::{ChainHash, Store};
use crate::wire::Submission;

pub(super) fn invalid_query(message: String) -> Rejection {
    Rejection::new(ErrorCode::InvalidQuery, message)
}

/// Reads an optional non-negative integer query parameter.
pub(super) fn query_u64(
    query: &HashMap<String, String>,
    name: &str,
) -> Result<Option<u64>, Rejection> {
    match query.get(name) {
        None => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| {
            invalid_query(format!(
                "query parameter {name}={v:?} is not a non-negative integer"
            ))
        }),
    }
}

pub(super) fn not_found(doc: &DocId) -> Rejection {
    Rejection::new(
        ErrorCode::NotFound,
        format!("document {doc} has never had an operation"),
    )
}

/// The current version of a document read from storage; `not-found` if it never had an op.
pub(super) async fn written_head(store: &dyn Store, doc: &DocId) -> Result<u64, Rejection> {
    match store.head(doc).await.map_err(storage)? {
        0 => Err(not_found(doc)),
        head => Ok(head),
    }
}

/// `version-in-future` when `version` (requested as `asked`, e.g. "from=9") is after `head`.
pub(super) fn not_after_head(
    doc: &DocId,
    asked: &str,
    version: u64,
    head: u64,
) -> Result<(), Rejection> {
    if version > head {
        return Err(Rejection::new(
            ErrorCode::VersionInFuture,
            format!("{asked} is after document {doc}'s current version {head}"),
        ));
    }
    Ok(())
}

/// `GET /docs/<id>[?version=n | ?at=ms]`.
async fn get_doc(
    app: App,
    id: String,
    query: HashMap<String, String>,
    authorization: Option<String>,
) -> Result<serde_json::Value, Rejection> {
    let doc = DocId::parse(&id)?;
    authorize(&app, authorization.as_deref(), &doc, Right::Read)?;
    let version = query_u64(&query, "version")?;
    let at = query_u64(&query, "at")?;
    let store = app.store.as_ref();
    let (version, content, hash) = match (version, at) {
        (Some(_), Some(_)) => {
            return Err(invalid_query("give either version or at, not both".into()));
        }
        (None, None) => {
            let current = app.documents.snapshot(&doc).await?;
            if current.version == 0 {
                return Err(not_found(&doc));
            }
            (current.version, current.content, current.hash)
        }
        (Some(version), None) => {
            let head = written_head(store, &doc).await?;
            not_after_head(&doc, &format!("version {version}"), version, head)?;
            let content = store.content_at(&doc, version).await.map_err(storage)?;
            let hash = hash_at(store, &doc, version).await?;
            (version, content.to_string(), hash)
        }
        (None, Some(at)) => {
            written_head(store, &doc).await?;
            let version = store.version_at_time(&doc, at).await.map_err(storage)?;
            let content = store.content_at(&doc, version).await.map_err(storage)?;
            let hash = hash_at(store, &doc, version).await?;
            (version, content.to_string(), hash)
        }
    };
    Ok(
        serde_json::json!({"doc": doc.as_str(), "version": version, "content": content, "hash": hash}),
    )
}

/// The hash chain's link at `version` (stored with its record; `hash_0` at 0).
async fn hash_at(store: &dyn Store, doc: &DocId, version: u64) -> Result<ChainHash, Rejection> {
    if version == 0 {
        return Ok(ChainHash::GENESIS);
    }
    match store.op(doc, version).await.map_err(storage)? {
        Some(record) => Ok(record.hash),
        None => Err(not_found(doc)),
    }
}

/// `GET /docs/<id>/ops?from=v&limit=k`.
async fn get_ops(
    app: App,
    id: String,
    query: HashMap<String, String>,
    authorization: Option<String>,
) -> Result<serde_json::Value, Rejection> {
    let doc = DocId::parse(&id)?;
    authorize(&app, authorization.as_deref(), &doc, Right::Read)?;
    let from = query_u64(&query, "from")?.unwrap_or(0);
    let limit = match query_u64(&query, "limit")? {
        None => DEFAULT_OPS_LIMIT,
        Some(0) => return Err(invalid_query("limit must be at least 1".into())),
        Some(k) => usize::try_from(k)
            .unwrap_or(MAX_OPS_LIMIT)
            .min(MAX_OPS_LIMIT),
    };
    let store = app.store.as_ref();
    let head = written_head(store, &doc).await?;
    not_after_head(&doc, &format!("from={from}"), from, head)?;
    let ops = store.ops(&doc, from, head, limit).await.map_err(storage)?;
    let last = ops.last().map_or(from, |r| r.version);
    let next = (last < head).then_some(last);
    Ok(serde_json::json!({"doc": doc.as_str(), "ops": ops, "next": next}))
}

/// `POST /docs/<id>/ops` with a submission body.
async fn post_op(
    app: App,
    id: String,
    body: Bytes,
    authorization: Option<String>,
) -> Result<serde_json::Value, Rejection> {
    let doc = DocId::parse(&id)?;
    let identity = authorize(&app, authorization.as_deref(), &doc, Right::Write)?;
    let submission = Submission::parse(&body, app.config.max_op_bytes).map_err(|(r, _)| r)?;
    let applied = app
        .documents
        .submit(&doc, submission, identity.user())
        .await?;
    Ok(serde_json::json!({"version": applied.version, "op": applied.op}))
}

/// The document routes.
pub(super) fn routes(app: App) -> BoxedFilter<(Response,)> {
    let max_body = app.config.max_op_bytes as u64;
    let with_app = warp::any().map(move || app.clone());
    let authorization = || warp::header::optional::<String>("authorization");
    let get_doc = warp::path!("docs" / String)
        .and(warp::get())
        .and(warp::query::<HashMap<String, String>>())
        .and(with_app.clone())
        .and(authorization())
        .then(|id, query, app, authz| async move { respond(get_doc(app, id, query, authz).await) });
    let get_ops = warp::path!("docs" / String / "ops")
        .and(warp::get())
        .and(warp::query::<HashMap<String, String>>())
        .and(with_app.clone())
        .and(authorization())
        .then(|id, query, app, authz| async move { respond(get_ops(app, id, query, authz).await) });
    let post_op = warp::path!("docs" / String / "ops")
        .and(warp::post())
        .and(warp::body::content_length_limit(max_body))
        .and(warp::body::bytes())
        .and(with_app)
        .and(authorization())
        .then(|id, body, app, authz| async move { respond(post_op(app, id, body, authz).await) });
    get_doc.or(get_ops).unify().or(post_op).unify().boxed()
}
