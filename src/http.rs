//! The HTTP routes: reading documents at any version, paging through their history, submitting
//! an op without a WebSocket, health, the demo editor (`/`, `/d/<id>`, `/assets/<file>`,
//! embedded by `demo.rs`), and the upgrade to the STOMP WebSocket at `/ws`. Every error is
//! `{"error":{"code","message"}}` with the status [`status`] gives its code; the routes are
//! listed in `docs/http.md`.
//!
//! [`Service`] answers each request: a WebSocket upgrade of `/ws` it performs itself (so the
//! WebSocket gets buffers sized for many idle connections), everything else goes to the warp
//! routes.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use warp::filters::BoxedFilter;
use warp::http::{header, HeaderValue, Method, Request, StatusCode};
use warp::reply::Response;
use warp::{Filter, Reply};

use crate::app::App;
use crate::config::limits::{DEFAULT_OPS_LIMIT, MAX_OPS_LIMIT};
use crate::demo::{self, Asset};
use crate::doc_id::DocId;
use crate::error::{ErrorCode, Rejection};
use crate::identity::ANONYMOUS;
use crate::session;
use crate::store::{Store, StoreError};
use crate::wire::Submission;

/// STOMP WebSocket subprotocols, best first.
const SUBPROTOCOLS: [&str; 3] = ["v12.stomp", "v11.stomp", "v10.stomp"];

/// The HTTP status an HTTP route answers an error code with.
pub fn status(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::MalformedBody
        | ErrorCode::InvalidOp
        | ErrorCode::InvalidDocId
        | ErrorCode::UnknownDestination
        | ErrorCode::InvalidQuery
        | ErrorCode::InvalidPresence
        | ErrorCode::BadRequest => StatusCode::BAD_REQUEST,
        ErrorCode::NotFound | ErrorCode::RouteNotFound => StatusCode::NOT_FOUND,
        ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::LengthRequired => StatusCode::LENGTH_REQUIRED,
        ErrorCode::VersionInFuture | ErrorCode::VersionTooOld | ErrorCode::TransactionAborted => {
            StatusCode::CONFLICT
        }
        ErrorCode::OpTooLarge | ErrorCode::DocumentTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::OpDoesNotFit | ErrorCode::DeleteMismatch => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The HTTP error body `{"error":{"code","message"}}`.
pub fn error_json(rejection: &Rejection) -> serde_json::Value {
    serde_json::json!({"error": {"code": rejection.code.as_str(), "message": rejection.message}})
}

fn json(status: StatusCode, value: &serde_json::Value) -> Response {
    warp::reply::with_status(warp::reply::json(value), status).into_response()
}

fn error(rejection: &Rejection) -> Response {
    json(status(rejection.code), &error_json(rejection))
}

fn invalid_query(message: String) -> Rejection {
    Rejection::new(ErrorCode::InvalidQuery, message)
}

fn storage(err: StoreError) -> Rejection {
    Rejection::new(ErrorCode::Internal, err.to_string())
}

/// Reads an optional non-negative integer query parameter.
fn query_u64(query: &HashMap<String, String>, name: &str) -> Result<Option<u64>, Rejection> {
    match query.get(name) {
        None => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| {
            invalid_query(format!(
                "query parameter {name}={v:?} is not a non-negative integer"
            ))
        }),
    }
}

fn not_found(doc: &DocId) -> Rejection {
    Rejection::new(
        ErrorCode::NotFound,
        format!("document {doc} has never had an operation"),
    )
}

/// The current version of a document read from storage; `not-found` if it never had an op.
async fn written_head(store: &dyn Store, doc: &DocId) -> Result<u64, Rejection> {
    match store.head(doc).await.map_err(storage)? {
        0 => Err(not_found(doc)),
        head => Ok(head),
    }
}

/// `version-in-future` when `version` (requested as `asked`, e.g. "from=9") is after `head`.
fn not_after_head(doc: &DocId, asked: &str, version: u64, head: u64) -> Result<(), Rejection> {
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
) -> Result<serde_json::Value, Rejection> {
    let doc = DocId::parse(&id)?;
    let version = query_u64(&query, "version")?;
    let at = query_u64(&query, "at")?;
    let store = app.store.as_ref();
    let (version, content) = match (version, at) {
        (Some(_), Some(_)) => {
            return Err(invalid_query("give either version or at, not both".into()));
        }
        (None, None) => {
            let (version, content) = app.documents.snapshot(&doc).await?;
            if version == 0 {
                return Err(not_found(&doc));
            }
            (version, content)
        }
        (Some(version), None) => {
            let head = written_head(store, &doc).await?;
            not_after_head(&doc, &format!("version {version}"), version, head)?;
            let content = store.content_at(&doc, version).await.map_err(storage)?;
            (version, content.to_string())
        }
        (None, Some(at)) => {
            written_head(store, &doc).await?;
            let version = store.version_at_time(&doc, at).await.map_err(storage)?;
            let content = store.content_at(&doc, version).await.map_err(storage)?;
            (version, content.to_string())
        }
    };
    Ok(serde_json::json!({"doc": doc.as_str(), "version": version, "content": content}))
}

/// `GET /docs/<id>/ops?from=v&limit=k`.
async fn get_ops(
    app: App,
    id: String,
    query: HashMap<String, String>,
) -> Result<serde_json::Value, Rejection> {
    let doc = DocId::parse(&id)?;
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
async fn post_op(app: App, id: String, body: Bytes) -> Result<serde_json::Value, Rejection> {
    let doc = DocId::parse(&id)?;
    let submission = Submission::parse(&body, app.config.max_op_bytes).map_err(|(r, _)| r)?;
    let applied = app.documents.submit(&doc, submission, ANONYMOUS).await?;
    Ok(serde_json::json!({"version": applied.version, "op": applied.op}))
}

/// An embedded demo file; `304` when the browser already has this version of it.
fn embedded(asset: &Asset, if_none_match: Option<&str>) -> Response {
    let fresh = if_none_match.is_some_and(|tags| {
        tags.split(',')
            .any(|t| t.trim() == asset.etag || t.trim() == "*")
    });
    let mut response = if fresh {
        warp::reply::with_status(warp::reply(), StatusCode::NOT_MODIFIED).into_response()
    } else {
        Response::new(asset.body.into())
    };
    let headers = response.headers_mut();
    if !fresh {
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(asset.content_type),
        );
    }
    if let Ok(etag) = HeaderValue::from_str(&asset.etag) {
        headers.insert(header::ETAG, etag);
    }
    // Revalidate every time (the ETag makes that cheap): a new binary serves new files at the
    // same names.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // Scripts only from this server, connections only back to it (HTTP and the WebSocket);
    // CodeMirror sets inline styles, remote cursors their colours.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
             connect-src 'self' ws: wss:; img-src 'self' data:; base-uri 'none'; \
             frame-ancestors 'none'",
        ),
    );
    response
}

/// `GET /d/<id>`: the editor page, for a valid document id.
fn demo_page(id: &str, if_none_match: Option<&str>) -> Response {
    match DocId::parse(id) {
        Ok(_) => embedded(&demo::PAGE, if_none_match),
        Err(err) => error(&err.into()),
    }
}

fn respond(result: Result<serde_json::Value, Rejection>) -> Response {
    match result {
        Ok(value) => json(StatusCode::OK, &value),
        Err(rejection) => error(&rejection),
    }
}

/// Picks the best STOMP subprotocol the client offered, if any.
fn choose_subprotocol(offered: Option<&str>) -> Option<&'static str> {
    let offered: Vec<&str> = offered?.split(',').map(str::trim).collect();
    SUBPROTOCOLS.into_iter().find(|p| offered.contains(p))
}

/// Turns warp's own rejections (no route, wrong method, body too large…) into JSON errors.
async fn recover(rejection: warp::Rejection) -> Result<Response, Infallible> {
    let (code, message) = if rejection.is_not_found() {
        (ErrorCode::RouteNotFound, "no such route".to_owned())
    } else if rejection.find::<warp::reject::PayloadTooLarge>().is_some() {
        (
            ErrorCode::OpTooLarge,
            "the request body is over the op size limit".to_owned(),
        )
    } else if rejection.find::<warp::reject::LengthRequired>().is_some() {
        // Checked before MethodNotAllowed: a POST without a length to /docs/<id>/ops is also
        // rejected (for its method) by the GET route on the same path, which must not win.
        (
            ErrorCode::LengthRequired,
            "a content-length header is required".to_owned(),
        )
    } else if rejection.find::<warp::reject::MethodNotAllowed>().is_some() {
        (
            ErrorCode::MethodNotAllowed,
            "this route does not take that HTTP method".to_owned(),
        )
    } else {
        (ErrorCode::BadRequest, format!("{rejection:?}"))
    };
    Ok(error(&Rejection::new(code, message)))
}

/// Every route of the server but the WebSocket upgrade, which [`Service`] performs.
pub fn routes(app: App) -> BoxedFilter<(Response,)> {
    let with_app = {
        let app = app.clone();
        warp::any().map(move || app.clone())
    };
    let healthz = warp::path!("healthz")
        .and(warp::get())
        .map(|| json(StatusCode::OK, &serde_json::json!({"status": "ok"})));
    let get_doc = warp::path!("docs" / String)
        .and(warp::get())
        .and(warp::query::<HashMap<String, String>>())
        .and(with_app.clone())
        .then(|id, query, app| async move { respond(get_doc(app, id, query).await) });
    let get_ops = warp::path!("docs" / String / "ops")
        .and(warp::get())
        .and(warp::query::<HashMap<String, String>>())
        .and(with_app.clone())
        .then(|id, query, app| async move { respond(get_ops(app, id, query).await) });
    let max_body = app.config.max_op_bytes as u64;
    let post_op = warp::path!("docs" / String / "ops")
        .and(warp::post())
        .and(warp::body::content_length_limit(max_body))
        .and(warp::body::bytes())
        .and(with_app)
        .then(|id, body, app| async move { respond(post_op(app, id, body).await) });
    // Reached only by requests to /ws that are not a WebSocket upgrade.
    let not_upgrade = warp::path!("ws").map(|| {
        error(&Rejection::new(
            ErrorCode::BadRequest,
            "/ws takes a WebSocket upgrade (GET with Connection: Upgrade, Upgrade: websocket, Sec-WebSocket-Version: 13 and a Sec-WebSocket-Key)",
        ))
    });
    let if_none_match = || warp::header::optional::<String>("if-none-match");
    let home = warp::path::end()
        .and(warp::get())
        .and(if_none_match())
        .map(|tag: Option<String>| embedded(&demo::PAGE, tag.as_deref()));
    let doc_page = warp::path!("d" / String)
        .and(warp::get())
        .and(if_none_match())
        .map(|id: String, tag: Option<String>| demo_page(&id, tag.as_deref()));
    let assets = warp::path!("assets" / String)
        .and(warp::get())
        .and(if_none_match())
        .map(
            |name: String, tag: Option<String>| match demo::file(&name) {
                Some(asset) => embedded(asset, tag.as_deref()),
                None => error(&Rejection::new(
                    ErrorCode::RouteNotFound,
                    format!("no asset {name:?}"),
                )),
            },
        );
    healthz
        .or(home)
        .unify()
        .or(doc_page)
        .unify()
        .or(assets)
        .unify()
        .or(get_doc)
        .unify()
        .or(get_ops)
        .unify()
        .or(post_op)
        .unify()
        .or(not_upgrade)
        .unify()
        .recover(recover)
        .unify()
        .boxed()
}

/// Answers every HTTP request of the server.
#[derive(Clone)]
pub struct Service {
    app: App,
    routes: BoxedFilter<(Response,)>,
}

/// The value of `name` contains `token` (comma-separated, case-insensitive), as `Connection`
/// and `Upgrade` headers are written.
fn has_token(req: &Request<hyper::body::Incoming>, name: header::HeaderName, token: &str) -> bool {
    req.headers().get_all(name).iter().any(|value| {
        value
            .to_str()
            .is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    })
}

impl Service {
    /// The service of `app`.
    pub fn new(app: App) -> Service {
        let routes = routes(app.clone());
        Service { app, routes }
    }

    /// Answers one request.
    pub async fn handle(&self, req: Request<hyper::body::Incoming>, _peer: SocketAddr) -> Response {
        let upgrade = req.uri().path() == "/ws"
            && req.method() == Method::GET
            && has_token(&req, header::CONNECTION, "upgrade")
            && has_token(&req, header::UPGRADE, "websocket")
            && req
                .headers()
                .get(header::SEC_WEBSOCKET_VERSION)
                .map(HeaderValue::as_bytes)
                == Some(b"13");
        let key = req.headers().get(header::SEC_WEBSOCKET_KEY).cloned();
        match key {
            Some(key) if upgrade => self.upgrade(req, key.as_bytes()),
            _ => {
                // Cheap: the routes are shared behind the boxed filter.
                let mut routes = warp::service(self.routes.clone());
                match tower_service::Service::call(&mut routes, req).await {
                    Ok(response) => response,
                    Err(never) => match never {},
                }
            }
        }
    }

    /// Switches `/ws` to the WebSocket protocol and runs a STOMP session on it.
    fn upgrade(&self, mut req: Request<hyper::body::Incoming>, key: &[u8]) -> Response {
        let offered = req
            .headers()
            .get(header::SEC_WEBSOCKET_PROTOCOL)
            .and_then(|v| v.to_str().ok());
        let protocol = choose_subprotocol(offered);
        let on_upgrade = hyper::upgrade::on(&mut req);
        let app = self.app.clone();
        let max_message = app.config.max_ws_message_bytes();
        self.app.shutdown.connections.spawn(async move {
            match on_upgrade.await {
                Ok(upgraded) => {
                    let (inbound, outbound) = crate::websocket::accept(upgraded, max_message).await;
                    session::run(app, inbound, outbound).await;
                }
                Err(err) => tracing::debug!(error = %err, "WebSocket upgrade failed"),
            }
        });
        let mut response = warp::reply::with_status(warp::reply(), StatusCode::SWITCHING_PROTOCOLS)
            .into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        if let Ok(accept) = HeaderValue::from_str(&derive_accept_key(key)) {
            headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
        }
        if let Some(protocol) = protocol {
            headers.insert(
                header::SEC_WEBSOCKET_PROTOCOL,
                HeaderValue::from_static(protocol),
            );
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_best_offered_subprotocol() {
        assert_eq!(
            choose_subprotocol(Some("v10.stomp, v12.stomp")),
            Some("v12.stomp")
        );
        assert_eq!(choose_subprotocol(Some("v11.stomp")), Some("v11.stomp"));
        assert_eq!(choose_subprotocol(Some("mqtt")), None);
        assert_eq!(choose_subprotocol(None), None);
    }
}
