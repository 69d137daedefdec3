//! The SockJS URLs under the base path, as the protocol defines them:
//! - `GET <base>` and `<base>/`: the greeting;
//! - `GET <base>/info`: what the server supports (`websocket`, `cookie_needed`, `origins`,
//!   `entropy`), and its CORS preflight;
//! - `<base>/websocket`: a raw WebSocket (plain STOMP, as on `/ws`);
//! - `<base>/<server>/<session>/<transport>`: `websocket`, `xhr_streaming`, `xhr` (polling)
//!   and `xhr_send` (the client's messages), `eventsource`.
//!
//! Not served (404, documented): `iframe*.html` and the transports that need it or a script
//! callback (`htmlfile`, `jsonp`, `jsonp_send`); `sockjs-client` falls back to the transports
//! above, which every current browser has.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures::{SinkExt, Stream, StreamExt};
use http_body_util::BodyExt;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use warp::http::{header, HeaderValue, Method, Request, StatusCode};
use warp::reply::Response;
use warp::Reply;

use super::framing::{self, Transport};
use super::session::{self, InboundError, Receiver, Registry};
use crate::app::App;
use crate::config::limits::{CLOSE_HANDSHAKE, LINGER};
use crate::error::{ErrorCode, Rejection};
use crate::session::Peer;
use crate::websocket;

/// The greeting's body.
const GREETING: &str = "Welcome to SockJS!\n";
/// What the session responses may not be cached as (some mobile browsers cache POSTs).
const NO_CACHE: &str = "no-store, no-cache, no-transform, must-revalidate, max-age=0";
/// Preflights are cacheable for a year.
const ONE_YEAR_SECS: u64 = 31_536_000;

type Incoming = hyper::body::Incoming;

/// What a request asks for, from its path under the base.
#[derive(Debug, PartialEq, Eq)]
enum Route<'a> {
    Greeting,
    Info,
    RawWebSocket,
    /// `iframe.html` and its versioned forms: refused.
    Iframe,
    Session {
        session: &'a str,
        transport: &'a str,
    },
    Unknown,
}

fn route(rest: &str) -> Route<'_> {
    match rest {
        "" | "/" => return Route::Greeting,
        "/info" => return Route::Info,
        "/websocket" => return Route::RawWebSocket,
        _ => {}
    }
    if rest.starts_with("/iframe") && rest.ends_with(".html") && !rest[1..].contains('/') {
        return Route::Iframe;
    }
    let parts: Vec<&str> = rest.split('/').skip(1).collect();
    match parts.as_slice() {
        [server, session, transport]
            if [server, session]
                .iter()
                .all(|p| !p.is_empty() && !p.contains('.')) =>
        {
            Route::Session { session, transport }
        }
        _ => Route::Unknown,
    }
}

pub(super) async fn handle(
    app: &App,
    sessions: &Registry,
    req: Request<Incoming>,
    cors: Option<&str>,
) -> Result<Response, Rejection> {
    let path = req.uri().path().to_owned();
    let rest = path
        .strip_prefix(app.config.sockjs_path.as_str())
        .unwrap_or_default();
    let method = req.method().clone();
    let peer = Peer {
        token: websocket::query_token(req.uri()),
    };
    let sent_cookie = jsessionid(&req);
    let mut response = match (route(rest), &method) {
        (Route::Greeting, &Method::GET) => text(StatusCode::OK, GREETING),
        (Route::Greeting, _) => return Err(not_allowed("GET")),
        (Route::Info, &Method::GET) => info(app),
        (Route::Info, &Method::OPTIONS) => preflight(&req, "OPTIONS, GET"),
        (Route::Info, _) => return Err(not_allowed("OPTIONS, GET")),
        (Route::RawWebSocket, _) => match websocket::upgrade_key(&req) {
            Some(key) => return websocket::upgrade_to_stomp(app, req, key.as_bytes()),
            None => not_upgrade(&method),
        },
        (Route::Iframe, _) => return Err(Rejection::new(
            ErrorCode::RouteNotFound,
            "this server does not serve SockJS's iframe.html: the iframe-based transports are off (see docs/protocol.md#sockjs)",
        )),
        (Route::Session { session, transport }, _) => {
            let session = session.to_owned();
            let transport = transport.to_owned();
            let mut response = match (transport.as_str(), &method) {
                ("websocket", _) => {
                    return match websocket::upgrade_key(&req) {
                        Some(key) => sockjs_websocket(app, req, key.as_bytes(), peer),
                        None => Ok(not_upgrade(&method)),
                    };
                }
                ("xhr" | "xhr_streaming" | "xhr_send", &Method::OPTIONS) => {
                    preflight(&req, "OPTIONS, POST")
                }
                ("xhr", &Method::POST) => {
                    let (receiver, mut body) = Receiver::new(Transport::XhrPolling);
                    sessions.receive(app, &session, peer, receiver)?;
                    // One frame, then the response ends (the client polls again).
                    let frame = body.recv().await.unwrap_or_else(|| {
                        Transport::XhrPolling.wrap(&framing::close(framing::GO_AWAY))
                    });
                    content(StatusCode::OK, Transport::XhrPolling.content_type(), frame)
                }
                ("xhr_streaming", &Method::POST) => {
                    receive_streaming(app, sessions, &session, peer, Transport::XhrStreaming)?
                }
                ("eventsource", &Method::GET) => {
                    receive_streaming(app, sessions, &session, peer, Transport::EventSource)?
                }
                ("xhr_send", &Method::POST) => xhr_send(app, sessions, &session, req).await?,
                ("xhr" | "xhr_streaming" | "xhr_send", _) => {
                    return Err(not_allowed("OPTIONS, POST"))
                }
                ("eventsource", _) => return Err(not_allowed("GET")),
                _ => return Err(unknown(&path)),
            };
            if app.config.sockjs_cookie_needed && method != Method::OPTIONS {
                set_cookie(&mut response, cookie(&sent_cookie));
            }
            response
        }
        (Route::Unknown, _) => return Err(unknown(&path)),
    };
    add_cors(&mut response, cors);
    Ok(response)
}

fn unknown(path: &str) -> Rejection {
    Rejection::new(
        ErrorCode::RouteNotFound,
        format!("no SockJS URL {path:?} (see docs/protocol.md#sockjs)"),
    )
}

fn not_allowed(allow: &'static str) -> Rejection {
    Rejection::new(
        ErrorCode::MethodNotAllowed,
        format!("this SockJS URL takes {allow}"),
    )
}

/// A WebSocket URL asked for without an upgrade: 400 to GET (as the protocol says), 405 to
/// anything else.
fn not_upgrade(method: &Method) -> Response {
    if method == Method::GET {
        text(
            StatusCode::BAD_REQUEST,
            "Can \"Upgrade\" only to \"WebSocket\".",
        )
    } else {
        let mut response = StatusCode::METHOD_NOT_ALLOWED.into_response();
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET"));
        response
    }
}

fn content(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Response {
    let mut response = Response::new(body.into().into());
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    no_cache(&mut response);
    response
}

fn text(status: StatusCode, body: &'static str) -> Response {
    content(status, "text/plain;charset=UTF-8", body)
}

fn no_cache(response: &mut Response) {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(NO_CACHE));
}

/// `GET <base>/info`.
fn info(app: &App) -> Response {
    let entropy = uuid::Uuid::new_v4().as_u128() as u32;
    let body = serde_json::json!({
        "websocket": true,
        "cookie_needed": app.config.sockjs_cookie_needed,
        "origins": ["*:*"],
        "entropy": entropy,
    });
    content(
        StatusCode::OK,
        "application/json;charset=UTF-8",
        body.to_string(),
    )
}

/// A CORS preflight: cacheable for a year, echoing the headers asked for.
fn preflight(req: &Request<Incoming>, methods: &'static str) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_str(&format!("public, max-age={ONE_YEAR_SECS}"))
            .unwrap_or(HeaderValue::from_static("public")),
    );
    let expires = SystemTime::now() + Duration::from_secs(ONE_YEAR_SECS);
    if let Ok(value) = HeaderValue::from_str(&httpdate::fmt_http_date(expires)) {
        headers.insert(header::EXPIRES, value);
    }
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from(ONE_YEAR_SECS),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static(methods),
    );
    headers.insert(header::ALLOW, HeaderValue::from_static(methods));
    if let Some(asked) = req
        .headers()
        .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
        .filter(|v| !v.is_empty())
    {
        headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, asked.clone());
    }
    response
}

/// CORS for an allowed `origin`: the origin echoed with credentials (sockjs-client sends its
/// XHRs `withCredentials`, which rules out `*`). None when `--allowed-origins` is empty.
pub(super) fn add_cors(response: &mut Response, origin: Option<&str>) {
    let Some(origin) = origin.and_then(|o| HeaderValue::from_str(o).ok()) else {
        return;
    };
    let headers = response.headers_mut();
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
        HeaderValue::from_static("true"),
    );
    headers.insert(header::VARY, HeaderValue::from_static("Origin"));
}

/// The `JSESSIONID` cookie: the client's own if it sent one, else `dummy` (a load balancer
/// only needs to see it to keep the session sticky).
fn cookie(sent: &Option<String>) -> String {
    let value = sent.as_deref().unwrap_or("dummy");
    format!("JSESSIONID={value}; Path=/")
}

fn set_cookie(response: &mut Response, cookie: String) {
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
}

/// The `JSESSIONID` value of the request's `Cookie` header, if any.
fn jsessionid(req: &Request<Incoming>) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == "JSESSIONID")
        .map(|(_, value)| value.to_owned())
        .filter(|v| v.chars().all(|c| c.is_ascii_graphic() && c != ';'))
}

/// A receiving request of a streaming transport: the response streams what the session
/// writes to it until the session ends it.
fn receive_streaming(
    app: &App,
    sessions: &Registry,
    session: &str,
    peer: Peer,
    transport: Transport,
) -> Result<Response, Rejection> {
    let (receiver, body) = Receiver::new(transport);
    sessions.receive(app, session, peer, receiver)?;
    let mut response = warp::reply::stream(BodyStream(body)).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(transport.content_type()),
    );
    no_cache(&mut response);
    Ok(response)
}

/// The bodies a receiver's response carries, as a response body stream.
struct BodyStream(mpsc::Receiver<Bytes>);

impl Stream for BodyStream {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0.poll_recv(cx).map(|item| item.map(Ok))
    }
}

/// `POST .../xhr_send`: a JSON array of messages for session `session`.
async fn xhr_send(
    app: &App,
    sessions: &Registry,
    session: &str,
    req: Request<Incoming>,
) -> Result<Response, Rejection> {
    let token = websocket::query_token(req.uri());
    let Some(handle) = sessions.get(session, token.as_deref()) else {
        return Err(session::unknown_session());
    };
    let max = app.config.max_ws_message_bytes();
    let timeout = app.config.request_timeout();
    let timed_out = || {
        Rejection::new(
            ErrorCode::RequestTimeout,
            format!(
                "the request did not complete within {} ms",
                app.config.request_timeout_ms
            ),
        )
    };
    let body = http_body_util::Limited::new(req.into_body(), max).collect();
    let body = match tokio::time::timeout(timeout, body).await {
        Err(_) => return Err(timed_out()),
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(err)) => {
            if err.is::<http_body_util::LengthLimitError>() {
                // Like a WebSocket message over the limit: the STOMP session says why and ends.
                let message = format!("a SockJS message body is over the limit of {max} bytes");
                handle.fail(InboundError(message.clone())).await;
                return Ok(content(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "text/plain;charset=UTF-8",
                    message,
                ));
            }
            return Err(Rejection::new(
                ErrorCode::BadRequest,
                format!("the request body could not be read: {err}"),
            ));
        }
    };
    let messages = match framing::parse_send_body(&body) {
        Ok(messages) => messages,
        Err(err) => {
            return Ok(content(
                StatusCode::INTERNAL_SERVER_ERROR,
                "text/plain;charset=UTF-8",
                err.to_string(),
            ))
        }
    };
    tokio::time::timeout(timeout, handle.deliver(messages))
        .await
        .map_err(|_| timed_out())?;
    // A 204 has no body; the content type is set anyway (Firefox guesses XML otherwise).
    Ok(content(
        StatusCode::NO_CONTENT,
        "text/plain;charset=UTF-8",
        Bytes::new(),
    ))
}

/// `.../websocket`: a SockJS session carried by one WebSocket (SockJS framing inside).
fn sockjs_websocket(
    app: &App,
    mut req: Request<Incoming>,
    key: &[u8],
    peer: Peer,
) -> Result<Response, Rejection> {
    let (receiver, outgoing) = Receiver::new(Transport::WebSocket);
    let handle = session::start_for_connection(app, peer, receiver)?;
    let on_upgrade = hyper::upgrade::on(&mut req);
    let max_message = app.config.max_ws_message_bytes();
    app.shutdown.connections.spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => {
                let socket = websocket::socket(upgraded, max_message).await;
                carry(socket, outgoing, &handle).await;
            }
            Err(err) => tracing::debug!(error = %err, "SockJS WebSocket upgrade failed"),
        }
        handle.end();
    });
    Ok(websocket::switching_protocols(key, None))
}

/// Carries a SockJS session over a WebSocket: the session's frames out, one message each,
/// and the client's messages in. Reading and writing run side by side (a client that sends
/// while the session's answers wait must not stop them from going out).
async fn carry(
    socket: websocket::Socket,
    mut outgoing: mpsc::Receiver<Bytes>,
    handle: &session::Handle,
) {
    let (mut sink, mut stream) = socket.split();
    let writing = async {
        while let Some(frame) = outgoing.recv().await {
            let message = match Utf8Bytes::try_from(frame) {
                Ok(text) => Message::Text(text),
                Err(_) => continue,
            };
            if sink.send(message).await.is_err() {
                return;
            }
        }
        // The session ended (its close frame was the last message).
        let _ = tokio::time::timeout(CLOSE_HANDSHAKE, sink.close()).await;
    };
    let reading = async {
        while let Some(message) = stream.next().await {
            let text = match message {
                Ok(Message::Text(text)) => text,
                Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_)) => continue,
                Ok(Message::Binary(_)) | Ok(Message::Close(_)) | Err(_) => return,
            };
            match framing::parse_websocket_message(&text) {
                Ok(messages) => handle.deliver(messages).await,
                // The protocol: broken JSON ends the connection at once.
                Err(_) => return,
            }
        }
    };
    tokio::pin!(writing, reading);
    tokio::select! {
        () = &mut writing => {
            // Read what the client still sends for a moment, so closing does not reset the
            // connection under the last frames written.
            let _ = tokio::time::timeout(LINGER, &mut reading).await;
        }
        () = &mut reading => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_follow_the_protocol_url_scheme() {
        assert_eq!(route(""), Route::Greeting);
        assert_eq!(route("/"), Route::Greeting);
        assert_eq!(route("/info"), Route::Info);
        assert_eq!(route("/websocket"), Route::RawWebSocket);
        assert_eq!(route("/iframe.html"), Route::Iframe);
        assert_eq!(route("/iframe-0.1.2.html"), Route::Iframe);
        assert_eq!(
            route("/000/abc/xhr"),
            Route::Session {
                session: "abc",
                transport: "xhr"
            }
        );
        for unknown in [
            "/a",
            "//",
            "/a/a",
            "/a./a/xhr",
            "/a/a./xhr",
            "//a/xhr",
            "/a//xhr",
            "/a/b/c/d",
        ] {
            assert_eq!(route(unknown), Route::Unknown, "{unknown}");
        }
    }
}
