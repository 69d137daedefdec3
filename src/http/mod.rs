//! The HTTP side of the server. [`Service`] answers every request: it applies the browser rules
//! (`--allowed-origins`: the `Origin` check and CORS), bounds how long a request may take to
//! arrive, performs the WebSocket upgrade of `/ws` itself (so the WebSocket gets buffers sized
//! for many idle connections, and the connection limit applies), and hands everything else to
//! the warp routes:
//! - `docs.rs`: documents at any version, op pages, submitting ops;
//! - `health.rs`: `/healthz`, `/readyz`, `/metrics`;
//! - `admin.rs`: the operator's `/admin` routes;
//! - `demo.rs`: the demo editor (`/`, `/d/<id>`, `/assets/<file>`);
//! - `access.rs`: who may call what; `reply.rs`: the shape of every answer;
//! - and everything under `--sockjs-path` goes to [`crate::sockjs`].
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

use warp::filters::BoxedFilter;
use warp::http::{header, HeaderValue, Method, Request, StatusCode};
use warp::reply::Response;
use warp::{Filter, Reply};

use crate::app::App;
use crate::error::{ErrorCode, Rejection};
use crate::sockjs::SockJs;

pub use reply::{error_json, status};

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

/// Answers every HTTP request of the server (SockJS's under `--sockjs-path` through
/// [`SockJs`]).
#[derive(Clone)]
pub struct Service {
    app: App,
    routes: BoxedFilter<(Response,)>,
    sockjs: SockJs,
}

impl Service {
    /// The service of `app`.
    pub fn new(app: App) -> Service {
        let routes = routes(app.clone());
        let sockjs = SockJs::new(app.clone());
        Service {
            app,
            routes,
            sockjs,
        }
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
        if self.sockjs.owns(req.uri().path()) {
            // SockJS answers its preflights and CORS headers itself (the protocol asks for
            // credentials and long-cached preflights), by the same `--allowed-origins` rules.
            return match self.sockjs.handle(req, cors.as_deref()).await {
                Ok(response) => response,
                Err(rejection) => {
                    let mut response = reply::error(&rejection);
                    SockJs::add_cors(&mut response, cors.as_deref());
                    response
                }
            };
        }
        if req.method() == Method::OPTIONS && cors.is_some() {
            let mut response =
                warp::reply::with_status(warp::reply(), StatusCode::NO_CONTENT).into_response();
            add_cors(&mut response, cors.as_deref(), true);
            return response;
        }
        let key = match req.uri().path() {
            "/ws" => crate::websocket::upgrade_key(&req),
            _ => None,
        };
        let mut response = match key {
            Some(key) => crate::websocket::upgrade_to_stomp(&self.app, req, key.as_bytes())
                .unwrap_or_else(|rejection| reply::error(&rejection)),
            None => {
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
