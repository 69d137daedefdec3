//! The history routes: listing documents, diffs between versions, restoring a version,
//! merging in a full text, copying, deleting and verifying the hash chain (`docs/http.md`).
//! Reads go to storage (diffs use the snapshots at both ends, never a replay of everything
//! between); every change goes through the document's task, like a submission, so it is
//! serialised with the live editors, broadcast, and idempotent where it makes an op.

use std::collections::HashMap;

use bytes::Bytes;
use ot::Operation;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Reply};

use super::access::{authorize, identify, Right};
use super::docs::{invalid_query, not_after_head, not_found, query_u64, written_head};
use super::reply::{error, respond, storage};
use crate::app::App;
use crate::config::limits::{DEFAULT_DOCS_LIMIT, MAX_DOCS_LIMIT, MAX_DOCS_SCANNED};
use crate::doc_id::DocId;
use crate::document::{op_size, text_diff_off_thread, CopySource};
use crate::error::{ErrorCode, Rejection};
use crate::store::Verification;
use crate::wire::{CopyRequest, Restore, TextSubmission};

/// `GET /docs?prefix=&after=&limit=`: the stored documents the caller may read, in id order.
async fn list_docs(
    app: App,
    query: HashMap<String, String>,
    authorization: Option<String>,
) -> Result<serde_json::Value, Rejection> {
    let identity = identify(&app, authorization.as_deref())?;
    let prefix = query.get("prefix").map_or("", String::as_str);
    let limit = match query_u64(&query, "limit")? {
        None => DEFAULT_DOCS_LIMIT,
        Some(0) => return Err(invalid_query("limit must be at least 1".into())),
        Some(k) => usize::try_from(k)
            .unwrap_or(MAX_DOCS_LIMIT)
            .min(MAX_DOCS_LIMIT),
    };
    let store = app.store.as_ref();
    let mut after = query.get("after").cloned();
    let mut docs = Vec::new();
    let mut scanned = 0;
    let mut exhausted = false;
    while docs.len() < limit && scanned < MAX_DOCS_SCANNED {
        let want = (limit - docs.len()).min(MAX_DOCS_SCANNED - scanned);
        let ids = store
            .list(prefix, after.as_deref(), want)
            .await
            .map_err(storage)?;
        scanned += ids.len();
        if ids.len() < want {
            exhausted = true;
        }
        for id in &ids {
            if !identity.can_read(id) {
                continue;
            }
            // A document deleted since it was listed has no summary any more.
            if let Some(summary) = store.summary(id).await.map_err(storage)? {
                docs.push(summary);
            }
        }
        match ids.last() {
            Some(last) => after = Some(last.to_string()),
            None => break,
        }
        if exhausted {
            break;
        }
    }
    let next = if exhausted { None } else { after };
    Ok(serde_json::json!({"docs": docs, "next": next}))
}

/// `GET /docs/<id>/diff?from=a&to=b[&format=unified]`.
async fn get_diff(
    app: App,
    id: String,
    query: HashMap<String, String>,
    authorization: Option<String>,
) -> Result<Response, Rejection> {
    let doc = DocId::parse(&id)?;
    authorize(&app, authorization.as_deref(), &doc, Right::Read)?;
    let store = app.store.as_ref();
    let head = written_head(store, &doc).await?;
    let from = query_u64(&query, "from")?.ok_or_else(|| invalid_query("from is missing".into()))?;
    let to = query_u64(&query, "to")?.unwrap_or(head);
    if from > to {
        return Err(invalid_query(format!(
            "from={from} is after to={to}; a diff goes forward"
        )));
    }
    not_after_head(&doc, &format!("to={to}"), to, head)?;
    let unified = match query.get("format").map(String::as_str) {
        None | Some("json") => false,
        Some("unified") => true,
        Some(other) => {
            return Err(invalid_query(format!(
                "format={other:?} is not one of json, unified"
            )))
        }
    };
    if unified {
        let old = store.content_at(&doc, from).await.map_err(storage)?;
        let new = store.content_at(&doc, to).await.map_err(storage)?;
        let (old, new) = (old.to_string(), new.to_string());
        let text = similar::TextDiff::from_lines(&old, &new)
            .unified_diff()
            .header(&format!("{doc}@{from}"), &format!("{doc}@{to}"))
            .to_string();
        return Ok(warp::reply::with_header(
            warp::reply::with_status(text, StatusCode::OK),
            "content-type",
            "text/plain; charset=utf-8",
        )
        .into_response());
    }
    let op = diff_op(&app, &doc, from, to).await?;
    let (inserted, deleted) = op_size(&op);
    let body = serde_json::json!({
        "doc": doc.as_str(), "from": from, "to": to, "op": op,
        "inserted": inserted, "deleted": deleted,
    });
    Ok(super::reply::json(StatusCode::OK, &body))
}

/// One op turning the text at `from` into the text at `to`: the composition of the ops
/// between them when there are at most `--snapshot-interval` of them; otherwise a minimal
/// diff of the texts at both ends (each one snapshot read plus at most that many ops).
async fn diff_op(app: &App, doc: &DocId, from: u64, to: u64) -> Result<Operation, Rejection> {
    let store = app.store.as_ref();
    if to - from <= app.config.snapshot_interval {
        let records = store
            .ops(doc, from, to, usize::MAX)
            .await
            .map_err(storage)?;
        if records.len() as u64 != to - from {
            return Err(storage(crate::store::StoreError::Corrupt {
                doc: doc.to_string(),
                version: from + records.len() as u64 + 1,
                reason: "the record is missing".into(),
            }));
        }
        let composed = Operation::compose_all(records.into_iter().map(|r| r.op)).map_err(|e| {
            Rejection::new(
                ErrorCode::Internal,
                format!("history does not compose: {e}"),
            )
        })?;
        return Ok(match composed {
            Some(op) => op,
            None => {
                let len = store
                    .content_at(doc, from)
                    .await
                    .map_err(storage)?
                    .char_len();
                let mut op = Operation::new();
                op.retain(len);
                op
            }
        });
    }
    let old = store.content_at(doc, from).await.map_err(storage)?;
    let new = store.content_at(doc, to).await.map_err(storage)?;
    Ok(text_diff_off_thread(old.to_string(), new.to_string()).await)
}

/// `POST /docs/<id>/restore` with `{"version","client","seq","base"?}`.
async fn post_restore(
    app: App,
    id: String,
    body: Bytes,
    authorization: Option<String>,
) -> Result<serde_json::Value, Rejection> {
    let doc = DocId::parse(&id)?;
    let identity = authorize(&app, authorization.as_deref(), &doc, Right::Write)?;
    let restore = Restore::parse(&body)?;
    let restored = restore.version;
    written_head(app.store.as_ref(), &doc).await?;
    let applied = app
        .documents
        .restore(&doc, restore, identity.user())
        .await?;
    Ok(serde_json::json!({
        "version": applied.version, "op": applied.op, "restored": restored,
        "duplicate": applied.duplicate,
    }))
}

/// `POST /docs/<id>/text` with `{"content","base","client","seq"}`.
async fn post_text(
    app: App,
    id: String,
    body: Bytes,
    authorization: Option<String>,
) -> Result<serde_json::Value, Rejection> {
    let doc = DocId::parse(&id)?;
    let identity = authorize(&app, authorization.as_deref(), &doc, Right::Write)?;
    let text = TextSubmission::parse(&body)?;
    let max = app.config.max_doc_bytes;
    if text.content.len() > max {
        return Err(Rejection::new(
            ErrorCode::DocumentTooLarge,
            format!(
                "the content is {} bytes, over the {max}-byte document limit",
                text.content.len()
            ),
        ));
    }
    let applied = app.documents.text(&doc, text, identity.user()).await?;
    Ok(serde_json::json!({
        "version": applied.version, "op": applied.op, "duplicate": applied.duplicate,
    }))
}

/// `POST /docs/<id>/copy` with `{"to","version"?,"history"?}`.
async fn post_copy(
    app: App,
    id: String,
    body: Bytes,
    authorization: Option<String>,
) -> Result<serde_json::Value, Rejection> {
    let doc = DocId::parse(&id)?;
    authorize(&app, authorization.as_deref(), &doc, Right::Read)?;
    let copy = CopyRequest::parse(&body)?;
    let identity = authorize(&app, authorization.as_deref(), &copy.to, Right::Write)?;
    let head = written_head(app.store.as_ref(), &doc).await?;
    let version = copy.version.unwrap_or(head);
    if version == 0 {
        return Err(Rejection::new(
            ErrorCode::MalformedBody,
            "\"version\" must be at least 1 (version 0 is the empty document)",
        ));
    }
    not_after_head(&doc, &format!("version {version}"), version, head)?;
    let source = CopySource {
        doc: doc.clone(),
        version,
        history: copy.history,
    };
    let copied = app
        .documents
        .copy(&copy.to, source, identity.user())
        .await?;
    Ok(serde_json::json!({
        "doc": copy.to.as_str(), "from": doc.as_str(), "source_version": version,
        "version": copied.version, "history": copy.history,
    }))
}

/// `DELETE /docs/<id>`.
async fn delete_doc(
    app: App,
    id: String,
    authorization: Option<String>,
) -> Result<serde_json::Value, Rejection> {
    let doc = DocId::parse(&id)?;
    let identity = authorize(&app, authorization.as_deref(), &doc, Right::Write)?;
    if app.store.head(&doc).await.map_err(storage)? == 0 {
        return Err(not_found(&doc));
    }
    let deleted = app.documents.delete(&doc, identity.user()).await?;
    Ok(serde_json::json!({"doc": doc.as_str(), "deleted": true, "version": deleted.version}))
}

/// `GET /docs/<id>/verify`.
async fn get_verify(
    app: App,
    id: String,
    authorization: Option<String>,
) -> Result<serde_json::Value, Rejection> {
    let doc = DocId::parse(&id)?;
    authorize(&app, authorization.as_deref(), &doc, Right::Read)?;
    written_head(app.store.as_ref(), &doc).await?;
    Ok(match app.store.verify(&doc).await.map_err(storage)? {
        Verification::Intact { version, hash } => serde_json::json!({
            "doc": doc.as_str(), "ok": true, "version": version, "hash": hash,
        }),
        Verification::Broken { version, reason } => serde_json::json!({
            "doc": doc.as_str(), "ok": false, "version": version, "reason": reason,
        }),
    })
}

/// The history routes.
pub(super) fn routes(app: App) -> BoxedFilter<(Response,)> {
    let max_op = app.config.max_op_bytes as u64;
    // A text body holds a whole document, JSON-escaped (a document's limit is checked after
    // parsing; this bounds what is read).
    let max_text = (app.config.max_doc_bytes as u64).saturating_mul(2) + 4096;
    let with_app = warp::any().map(move || app.clone());
    let authorization = || warp::header::optional::<String>("authorization");
    let list = warp::path!("docs")
        .and(warp::get())
        .and(warp::query::<HashMap<String, String>>())
        .and(with_app.clone())
        .and(authorization())
        .then(|query, app, authz| async move { respond(list_docs(app, query, authz).await) });
    let diff = warp::path!("docs" / String / "diff")
        .and(warp::get())
        .and(warp::query::<HashMap<String, String>>())
        .and(with_app.clone())
        .and(authorization())
        .then(|id, query, app, authz| async move {
            get_diff(app, id, query, authz)
                .await
                .unwrap_or_else(|r| error(&r))
        });
    let verify = warp::path!("docs" / String / "verify")
        .and(warp::get())
        .and(with_app.clone())
        .and(authorization())
        .then(|id, app, authz| async move { respond(get_verify(app, id, authz).await) });
    let restore = warp::path!("docs" / String / "restore")
        .and(warp::post())
        .and(warp::body::content_length_limit(max_op))
        .and(warp::body::bytes())
        .and(with_app.clone())
        .and(authorization())
        .then(
            |id, body, app, authz| async move { respond(post_restore(app, id, body, authz).await) },
        );
    let text = warp::path!("docs" / String / "text")
        .and(warp::post())
        .and(warp::body::content_length_limit(max_text))
        .and(warp::body::bytes())
        .and(with_app.clone())
        .and(authorization())
        .then(|id, body, app, authz| async move { respond(post_text(app, id, body, authz).await) });
    let copy = warp::path!("docs" / String / "copy")
        .and(warp::post())
        .and(warp::body::content_length_limit(max_op))
        .and(warp::body::bytes())
        .and(with_app.clone())
        .and(authorization())
        .then(|id, body, app, authz| async move { respond(post_copy(app, id, body, authz).await) });
    let delete = warp::path!("docs" / String)
        .and(warp::delete())
        .and(with_app)
        .and(authorization())
        .then(|id, app, authz| async move { respond(delete_doc(app, id, authz).await) });
    list.or(diff)
        .unify()
        .or(verify)
        .unify()
        .or(restore)
        .unify()
        .or(text)
        .unify()
        .or(copy)
        .unify()
        .or(delete)
        .unify()
        .boxed()
}
