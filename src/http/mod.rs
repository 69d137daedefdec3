//! The HTTP side of the server. [`Service`] answers every request: it applies the browser rules
//! (`--allowed-origins`: the `Origin` check and CORS), bounds how long a request may take to
//! arrive, performs the WebSocket upgrade of `/ws` itself (so the WebSocket gets buffers sized
//! for many idle connections, and the connection limit applies), and hands everything else to
//! the warp routes:
//! - `docs.rs`: documents at any version, op pages, submitting ops;
//! - `health.rs`: `/healthz`, `/readyz`, `/metrics`;
//! - `admin.rs`: the operator's `/admin` routes;
//! - `demo.rs`: the demo editor (`/`, `/d/<id>`, `/assets/<file>`);
//! - `access.rs`: who may call what; `reply.rs`: the shape of every answer.
//!
//! Every error is `{"error":{"code","message"}}` with the status [`status`] gives its code;
//! the routes are listed in `docs/http.md`.

mod access;
mod admin;
mod changes;
mod demo;
mod docs;
mod health;
mod history;
mod reply;

use std::net::SocketAddr;

use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use warp::filters::BoxedFilter;
use warp::http::{header, HeaderValue, Method, Request, StatusCode};
use warp::reply::Response;
use warp::{Filter, Reply};

use crate::app::App;
use crate::error::{ErrorCode, Rejection};
use crate::session::{self, Peer};

pub use reply::{error_json, status};

/// STOMP WebSocket subprotocols, best first.
const SUBPROTOCOLS: [&str; 3] = ["v12.stomp", "v11.stomp", "v10.stomp"];

/// Methods the routes take, for CORS preflights.
const CORS_METHODS: &str = "GET, POST, DELETE, OPTIONS";
/// Request headers a browser may send cross-origin.
const CORS_HEADERS: &str = "authorization, content-type";
/// How long a browser may cache a preflight answer, in seconds.
const CORS_MAX_AGE: &str = "600";

/// Every route of the server but the WebSocket upgrade, which [`Service`] performs.
pub fn routes(app: App) -> BoxedFilter<(Response,)> {
    // Reached only by requests to /ws that are not a WebSocket upgrade.
    let not_upgrade = warp::path!("ws").map(|| {
        reply::error(&Rejection::new(
            ErrorCode::BadRequest,
            "/ws takes a WebSocket upgrade (GET with Connection: Upgrade, Upgrade: websocket, Sec-WebSocket-Version: 13 and a Sec-WebSocket-Key)",
        ))
    });
    health::routes(app.clone())
        .or(demo::routes())
        .unify()
        .or(docs::routes(app.clone()))
        .unify()
        .or(history::routes(app.clone()))
        .unify()
        .or(changes::routes(app.clone()))
        .unify()
        .or(admin::routes(app))
        .unify()
        .or(not_upgrade)
        .unify()
        .recover(reply::recover)
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

/// The `token` query parameter of `uri`, percent-decoded.
fn query_token(uri: &warp::http::Uri) -> Option<String> {
    form_urlencoded::parse(uri.query()?.as_bytes())
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
}

impl Service {
    /// The service of `app`.
    pub fn new(app: App) -> Service {
        let routes = routes(app.clone());
        Service { app, routes }
    }

    /// Answers one request.
    pub async fn handle(&self, req: Request<hyper::body::Incoming>, _peer: SocketAddr) -> Response {
        let origin = req
            .headers()
            .get(header::ORIGIN)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        if let Some(origin) = &origin {
            if !self.app.config.origin_allowed(origin) {
                return reply::error(&Rejection::new(
                    ErrorCode::Forbidden,
                    format!("origin {origin:?} is not allowed (--allowed-origins)"),
                ));
            }
        }
        let cors = origin.filter(|_| !self.app.config.allowed_origins.is_empty());
        if req.method() == Method::OPTIONS && cors.is_some() {
            let mut response =
                warp::reply::with_status(warp::reply(), StatusCode::NO_CONTENT).into_response();
            add_cors(&mut response, cors.as_deref(), true);
            return response;
        }
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
        let mut response = match key {
            Some(key) if upgrade => self.upgrade(req, key.as_bytes()),
            _ => {
                // Cheap: the routes are shared behind the boxed filter.
                let mut routes = warp::service(self.routes.clone());
                let answer = tower_service::Service::call(&mut routes, req);
                match tokio::time::timeout(self.app.config.request_timeout(), answer).await {
                    Ok(Ok(response)) => response,
                    Ok(Err(never)) => match never {},
                    Err(_) => reply::error(&Rejection::new(
                        ErrorCode::RequestTimeout,
                        format!(
                            "the request did not arrive within {} ms",
                            self.app.config.request_timeout_ms
                        ),
                    )),
                }
            }
        };
        add_cors(&mut response, cors.as_deref(), false);
        response
    }

    /// Switches `/ws` to the WebSocket protocol and runs a STOMP session on it.
    fn upgrade(&self, mut req: Request<hyper::body::Incoming>, key: &[u8]) -> Response {
        let max = self.app.config.max_connections;
        if self.app.metrics.connections.get() >= i64::try_from(max).unwrap_or(i64::MAX) {
            return reply::error(&Rejection::new(
                ErrorCode::TooManyConnections,
                format!(
                    "the server already has {max} connections (--max-connections); retry later"
                ),
            ));
        }
        let offered = req
            .headers()
            .get(header::SEC_WEBSOCKET_PROTOCOL)
            .and_then(|v| v.to_str().ok());
        let protocol = choose_subprotocol(offered);
        let peer = Peer {
            token: query_token(req.uri()),
        };
        let on_upgrade = hyper::upgrade::on(&mut req);
        let app = self.app.clone();
        let max_message = app.config.max_ws_message_bytes();
        self.app.shutdown.connections.spawn(async move {
            match on_upgrade.await {
                Ok(upgraded) => {
                    let (inbound, outbound) = crate::websocket::accept(upgraded, max_message).await;
                    session::run(app, peer, inbound, outbound).await;
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

/// The CORS headers for an allowed `origin` (none when CORS is off).
fn add_cors(response: &mut Response, origin: Option<&str>, preflight: bool) {
    let Some(origin) = origin.and_then(|o| HeaderValue::from_str(o).ok()) else {
        return;
    };
    let headers = response.headers_mut();
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    headers.insert(header::VARY, HeaderValue::from_static("Origin"));
    if preflight {
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static(CORS_METHODS),
        );
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static(CORS_HEADERS),
        );
        headers.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static(CORS_MAX_AGE),
        );
    }
}

/// Picks the best STOMP subprotocol the client offered, if any.
fn choose_subprotocol(offered: Option<&str>) -> Option<&'static str> {
    let offered: Vec<&str> = offered?.split(',').map(str::trim).collect();
    SUBPROTOCOLS.into_iter().find(|p| offered.contains(p))
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

    #[test]
    fn reads_the_token_query_parameter() {
        let uri: warp::http::Uri = "/ws?x=1&token=a%2Bb.c".parse().unwrap();
        assert_eq!(query_token(&uri).as_deref(), Some("a+b.c"));
        let uri: warp::http::Uri = "/ws".parse().unwrap();
        assert_eq!(query_token(&uri), None);
    }
}
