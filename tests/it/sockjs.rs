//! The SockJS endpoint at the protocol level, written from the SockJS 0.3.3 protocol
//! description: the greeting, `info`, the framing of every transport, one receiving
//! connection per session (`2010`), closed sessions (`3000`) and interrupted ones (`1002`),
//! heart-beats, the disconnect delay, `xhr_send` errors, CORS, the token on the URL, and the
//! limits counted per SockJS session. Real HTTP (reqwest) and WebSocket clients against a
//! real server; the STOMP inside is checked as far as each rule needs (the whole editing
//! scenario per transport is `interop`'s, with `sockjs-client`).

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use otterdoc::config::AuthMode;
use tokio_tungstenite::tungstenite::Message;

use crate::common::http::{request, Response};
use crate::common::tokens::{claims, hs256, ISSUER, SECRET};
use crate::common::{TestServer, WAIT};

const CONNECT: &str = "CONNECT\naccept-version:1.2\nheart-beat:0,0\n\n\0";

/// A client for the streaming responses (read chunk by chunk).
fn streaming_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("HTTP client")
}

async fn poll(server: &TestServer, session: &str) -> Response {
    let path = format!("/sockjs/000/{session}/xhr");
    request(server.addr, "POST", &path, &[], None).await
}

/// The body of one `xhr` poll, which must be 200.
async fn poll_body(server: &TestServer, session: &str) -> String {
    let response = poll(server, session).await;
    assert_eq!(response.status, 200, "{response:?}");
    String::from_utf8(response.body).expect("UTF-8 body")
}

async fn send(server: &TestServer, session: &str, body: &[u8]) -> Response {
    let path = format!("/sockjs/000/{session}/xhr_send");
    request(server.addr, "POST", &path, &[], Some(body)).await
}

/// `xhr_send`s `messages` (must be 204).
async fn send_messages(server: &TestServer, session: &str, messages: &[&str]) {
    let body = serde_json::to_vec(messages).unwrap();
    let response = send(server, session, &body).await;
    assert_eq!(response.status, 204, "{response:?}");
}

/// The messages of an array frame `a[...]` (with the transport's trailing newline).
fn array(frame: &str) -> Vec<String> {
    let json = frame
        .trim_end_matches('\n')
        .strip_prefix('a')
        .unwrap_or_else(|| panic!("not an array frame: {frame:?}"));
    serde_json::from_str(json).unwrap_or_else(|e| panic!("{frame:?}: {e}"))
}

/// Opens a polling session and completes STOMP CONNECT on it; the CONNECTED frame.
async fn connected_polling(server: &TestServer, session: &str) -> String {
    assert_eq!(poll_body(server, session).await, "o\n");
    send_messages(server, session, &[CONNECT]).await;
    let messages = array(&poll_body(server, session).await);
    assert!(messages[0].starts_with("CONNECTED\n"), "{messages:?}");
    messages[0].clone()
}

/// A streaming response, read as it arrives.
struct Stream(reqwest::Response);

impl Stream {
    async fn open(server: &TestServer, method: &str, path: &str) -> Stream {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let response = streaming_client()
            .request(method, format!("http://{}{path}", server.addr))
            .send()
            .await
            .expect("streaming request");
        Stream(response)
    }

    /// Reads until the body so far ends with `suffix`; what was read.
    async fn until(&mut self, suffix: &str) -> String {
        let mut got = Vec::new();
        tokio::time::timeout(WAIT, async {
            while !got.ends_with(suffix.as_bytes()) {
                match self.0.chunk().await.expect("streaming body") {
                    Some(chunk) => got.extend_from_slice(&chunk),
                    None => panic!(
                        "the response ended before {suffix:?}: {:?}",
                        String::from_utf8_lossy(&got)
                    ),
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("no {suffix:?} within {WAIT:?}"));
        String::from_utf8(got).expect("UTF-8 body")
    }

    /// Reads the rest of the body, which must end within [`WAIT`].
    async fn rest(&mut self) -> String {
        let mut got = Vec::new();
        tokio::time::timeout(WAIT, async {
            while let Some(chunk) = self.0.chunk().await.expect("streaming body") {
                got.extend_from_slice(&chunk);
            }
        })
        .await
        .expect("the response ends");
        String::from_utf8(got).expect("UTF-8 body")
    }
}

async fn connections(server: &TestServer) -> f64 {
    let response = request(server.addr, "GET", "/metrics", &[], None).await;
    let text = String::from_utf8(response.body).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("otterdoc_connections "))
        .unwrap_or_else(|| panic!("no otterdoc_connections in {text}"))
        .parse()
        .unwrap()
}

/// Waits (bounded) until the server counts `n` connections.
async fn wait_connections(server: &TestServer, n: f64) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while connections(server).await != n {
        assert!(
            tokio::time::Instant::now() < deadline,
            "connections did not reach {n}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn greeting_and_info() {
    let server = TestServer::start().await;
    for path in ["/sockjs", "/sockjs/"] {
        let response = request(server.addr, "GET", path, &[], None).await;
        assert_eq!(response.status, 200, "{path}");
        assert_eq!(response.body, b"Welcome to SockJS!\n", "{path}");
        assert_eq!(
            response.header("content-type"),
            Some("text/plain;charset=UTF-8")
        );
    }
    let response = request(server.addr, "GET", "/sockjs/info", &[], None).await;
    assert_eq!(response.status, 200);
    assert_eq!(
        response.header("content-type"),
        Some("application/json;charset=UTF-8")
    );
    assert!(response
        .header("cache-control")
        .is_some_and(|v| v.contains("no-store")));
    let info = response.json();
    assert_eq!(info["websocket"], true, "{info}");
    assert_eq!(info["cookie_needed"], false, "{info}");
    assert_eq!(info["origins"], serde_json::json!(["*:*"]), "{info}");
    assert!(info["entropy"].is_u64(), "{info}");
    let again = request(server.addr, "GET", "/sockjs/info", &[], None)
        .await
        .json();
    assert_ne!(info["entropy"], again["entropy"], "entropy is random");

    // The iframe transports are refused, as documented; unknown URLs are 404.
    for path in [
        "/sockjs/iframe.html",
        "/sockjs/iframe-1.6.1.html",
        "/sockjs/a/b/c/d",
    ] {
        let response = request(server.addr, "GET", path, &[], None).await;
        assert_eq!(response.status, 404, "{path}");
        assert_eq!(
            response.json()["error"]["code"],
            "route-not-found",
            "{path}"
        );
    }
    let response = request(server.addr, "GET", "/sockjs/000/s/jsonp", &[], None).await;
    assert_eq!(response.status, 404);
    let response = request(server.addr, "POST", "/sockjs/info", &[], None).await;
    assert_eq!(response.status, 405);
}

#[tokio::test]
async fn a_custom_base_path_and_cookie_needed() {
    let server = TestServer::start_with(|c| {
        c.sockjs_path = "/stomp/sjs".into();
        c.sockjs_cookie_needed = true;
    })
    .await;
    let info = request(server.addr, "GET", "/stomp/sjs/info", &[], None).await;
    assert_eq!(info.json()["cookie_needed"], true);
    let response = request(server.addr, "GET", "/sockjs/info", &[], None).await;
    assert_eq!(response.status, 404, "the default base is not served");
    let path = "/stomp/sjs/000/c1/xhr";
    let response = request(server.addr, "POST", path, &[], None).await;
    assert_eq!(response.body, b"o\n");
    assert_eq!(
        response.header("set-cookie"),
        Some("JSESSIONID=dummy; Path=/")
    );
    let response = request(
        server.addr,
        "POST",
        path,
        &[("cookie", "JSESSIONID=abc")],
        None,
    )
    .await;
    assert_eq!(
        response.header("set-cookie"),
        Some("JSESSIONID=abc; Path=/")
    );
}

#[tokio::test]
async fn xhr_polling_carries_a_stomp_session_across_requests() {
    let server = TestServer::start().await;
    let response = poll(&server, "p1").await;
    assert_eq!(response.status, 200);
    assert_eq!(response.body, b"o\n");
    assert_eq!(
        response.header("content-type"),
        Some("application/javascript;charset=UTF-8")
    );
    assert!(response
        .header("cache-control")
        .is_some_and(|v| v.contains("no-store")));
    let connect = send(&server, "p1", &serde_json::to_vec(&[CONNECT]).unwrap()).await;
    assert_eq!(connect.status, 204);
    let messages = array(&poll_body(&server, "p1").await);
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert!(
        messages[0].starts_with("CONNECTED\nversion:1.2\n"),
        "{messages:?}"
    );
    assert!(messages[0].ends_with("\n\n\0"), "{messages:?}");

    // Two frames sent in one body (and split oddly across messages) arrive in order; frames
    // queued while no poll is open wait for the next one, batched in one array.
    let sub = "SUBSCRIBE\nid:d\ndestination:/topic/doc/p\nreceipt:r1\n\n\0";
    send_messages(&server, "p1", &[&sub[..10], &sub[10..], "SEND\ndestination:/app/doc/p\nreceipt:r2\n\n{\"client\":\"c\",\"seq\":1,\"base\":0,\"op\":[\"hi\"]}\0"]).await;
    let mut seen = Vec::new();
    while !seen.iter().any(|m: &String| m.contains("receipt-id:r2")) {
        seen.extend(array(&poll_body(&server, "p1").await));
    }
    let kinds: Vec<&str> = seen.iter().map(|m| m.split('\n').next().unwrap()).collect();
    assert_eq!(kinds.first(), Some(&"MESSAGE"), "snapshot first: {seen:?}");
    assert!(seen.iter().any(|m| m.contains("receipt-id:r1")), "{seen:?}");
    let (_, doc) = server.get("/docs/p").await;
    assert_eq!(doc["content"], "hi");
    assert_eq!(
        connections(&server).await,
        1.0,
        "one STOMP session for the SockJS session"
    );
}

#[tokio::test]
async fn one_receiving_connection_per_session() {
    let server = TestServer::start().await;
    let mut first = Stream::open(&server, "POST", "/sockjs/000/r1/xhr_streaming").await;
    first.until("o\n").await;
    // A second receiver (any transport) is told 2010 and ends; the first stays.
    let second = poll_body(&server, "r1").await;
    assert_eq!(second, "c[2010,\"Another connection still open\"]\n");
    let mut third = Stream::open(&server, "GET", "/sockjs/000/r1/eventsource").await;
    assert_eq!(
        third.rest().await,
        "\r\ndata: c[2010,\"Another connection still open\"]\r\n\r\n"
    );
    send_messages(&server, "r1", &[CONNECT]).await;
    let frame = first.until("\"]\n").await;
    assert!(frame.starts_with("a[\"CONNECTED\\u000a"), "{frame:?}");
}

#[tokio::test]
async fn a_closed_session_says_go_away_then_is_forgotten() {
    let server = TestServer::start_with(|c| c.sockjs_disconnect_delay_ms = 500).await;
    connected_polling(&server, "g1").await;
    // A protocol violation: the STOMP session answers ERROR and closes.
    send_messages(&server, "g1", &["BOGUS\n\n\0"]).await;
    let messages = array(&poll_body(&server, "g1").await);
    assert!(messages[0].starts_with("ERROR\n"), "{messages:?}");
    for _ in 0..2 {
        assert_eq!(poll_body(&server, "g1").await, "c[3000,\"Go away!\"]\n");
    }
    wait_connections(&server, 0.0).await;
    // After the disconnect delay the id is free: xhr_send finds nothing, a poll starts anew.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(send(&server, "g1", b"[\"x\"]").await.status, 404);
    assert_eq!(poll_body(&server, "g1").await, "o\n");

    // DISCONNECT ends the session the same way.
    connected_polling(&server, "g2").await;
    send_messages(&server, "g2", &["DISCONNECT\nreceipt:bye\n\n\0"]).await;
    let mut body = poll_body(&server, "g2").await;
    if body.starts_with('a') {
        assert!(array(&body)[0].contains("receipt-id:bye"), "{body:?}");
        body = poll_body(&server, "g2").await;
    }
    assert_eq!(body, "c[3000,\"Go away!\"]\n");
}

#[tokio::test]
async fn an_interrupted_receiver_ends_the_session() {
    let server = TestServer::start().await;
    let mut stream = Stream::open(&server, "POST", "/sockjs/000/i1/xhr_streaming").await;
    stream.until("o\n").await;
    send_messages(&server, "i1", &[CONNECT]).await;
    stream.until("\"]\n").await;
    assert_eq!(connections(&server).await, 1.0);
    drop(stream);
    wait_connections(&server, 0.0).await;
    assert_eq!(
        poll_body(&server, "i1").await,
        "c[1002,\"Connection interrupted\"]\n"
    );
}

#[tokio::test]
async fn an_abandoned_session_ends_after_the_disconnect_delay() {
    let server = TestServer::start_with(|c| c.sockjs_disconnect_delay_ms = 300).await;
    connected_polling(&server, "d1").await;
    assert_eq!(connections(&server).await, 1.0);
    // Polling again within the delay keeps it.
    tokio::time::sleep(Duration::from_millis(150)).await;
    send_messages(
        &server,
        "d1",
        &["SUBSCRIBE\nid:e\ndestination:/user/queue/errors\nreceipt:r\n\n\0"],
    )
    .await;
    assert!(array(&poll_body(&server, "d1").await)[0].contains("receipt-id:r"));
    // No poll for longer than the delay: the SockJS and the STOMP session end.
    wait_connections(&server, 0.0).await;
    assert_eq!(send(&server, "d1", b"[\"\\n\"]").await.status, 404);
}

#[tokio::test]
async fn heart_beats_on_every_receiving_transport() {
    let server = TestServer::start_with(|c| c.sockjs_heartbeat_ms = 200).await;
    assert_eq!(poll_body(&server, "h1").await, "o\n");
    // A poll with nothing to say ends with a heart-beat.
    let started = tokio::time::Instant::now();
    assert_eq!(poll_body(&server, "h1").await, "h\n");
    assert!(started.elapsed() >= Duration::from_millis(150));

    let mut stream = Stream::open(&server, "POST", "/sockjs/000/h2/xhr_streaming").await;
    let prelude = stream.until("o\n").await;
    assert_eq!(prelude, format!("{}\no\n", "h".repeat(2048)));
    stream.until("h\nh\n").await;

    let mut events = Stream::open(&server, "GET", "/sockjs/000/h3/eventsource").await;
    assert_eq!(
        events.0.headers()["content-type"],
        "text/event-stream;charset=UTF-8"
    );
    assert_eq!(events.until("data: o\r\n\r\n").await, "\r\ndata: o\r\n\r\n");
    assert_eq!(events.until("data: h\r\n\r\n").await, "data: h\r\n\r\n");

    let (mut ws, _) =
        tokio_tungstenite::connect_async(format!("ws://{}/sockjs/000/h4/websocket", server.addr))
            .await
            .expect("SockJS WebSocket");
    assert_eq!(next_text(&mut ws).await, "o");
    assert_eq!(next_text(&mut ws).await, "h");
}

#[tokio::test]
async fn xhr_send_errors() {
    let server = TestServer::start().await;
    let unknown = send(&server, "nobody", b"[\"x\"]").await;
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.json()["error"]["code"], "not-found");

    assert_eq!(poll_body(&server, "e1").await, "o\n");
    let empty = send(&server, "e1", b"").await;
    assert_eq!(empty.status, 500);
    assert_eq!(empty.body, b"Payload expected.");
    for broken in [&b"[\"x"[..], b"x", b"[1]", b"{\"a\":1}", b"\"a\""] {
        let response = send(&server, "e1", broken).await;
        assert_eq!(
            response.status,
            500,
            "{:?}",
            String::from_utf8_lossy(broken)
        );
        assert_eq!(response.body, b"Broken JSON encoding.");
    }
    let get = request(server.addr, "GET", "/sockjs/000/e1/xhr_send", &[], None).await;
    assert_eq!(get.status, 405);
    // None of that touched the session: it still works.
    send_messages(&server, "e1", &[CONNECT]).await;
    assert!(array(&poll_body(&server, "e1").await)[0].starts_with("CONNECTED\n"));
}

async fn next_text(
    ws: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
) -> String {
    loop {
        let message = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("a WebSocket message in time")
            .expect("the WebSocket is open")
            .expect("a WebSocket message");
        match message {
            Message::Text(text) => return text.to_string(),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[tokio::test]
async fn websocket_transport_framing() {
    let server = TestServer::start().await;
    let url = format!("ws://{}/sockjs/000/w1/websocket", server.addr);
    let (mut ws, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .unwrap();
    assert_eq!(next_text(&mut ws).await, "o");
    // One JSON string or an array of them per message.
    ws.send(Message::text(serde_json::to_string(CONNECT).unwrap()))
        .await
        .unwrap();
    let connected = array(&next_text(&mut ws).await);
    assert!(connected[0].starts_with("CONNECTED\n"), "{connected:?}");
    ws.send(Message::text(
        serde_json::to_string(&[
            "SUBSCRIBE\nid:e\ndestination:/user/queue/errors\nreceipt:r\n\n\0",
        ])
        .unwrap(),
    ))
    .await
    .unwrap();
    assert!(array(&next_text(&mut ws).await)[0].contains("receipt-id:r"));
    // Broken JSON ends the connection, and with it the session.
    ws.send(Message::text("[\"x")).await.unwrap();
    let closed = tokio::time::timeout(WAIT, async {
        while let Some(Ok(message)) = ws.next().await {
            if message.is_close() {
                break;
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the connection closes");
    wait_connections(&server, 0.0).await;

    // Without an upgrade: 400 to GET.
    let response = request(server.addr, "GET", "/sockjs/000/w2/websocket", &[], None).await;
    assert_eq!(response.status, 400);
    assert_eq!(response.body, b"Can \"Upgrade\" only to \"WebSocket\".");

    // The raw WebSocket carries plain STOMP, as /ws does.
    let url = format!("ws://{}/sockjs/websocket", server.addr);
    let (mut raw, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .unwrap();
    raw.send(Message::text(CONNECT)).await.unwrap();
    assert!(next_text(&mut raw).await.starts_with("CONNECTED\n"));
}

#[tokio::test]
async fn cors_and_origin_follow_allowed_origins() {
    let server =
        TestServer::start_with(|c| c.allowed_origins = vec!["http://app.example".into()]).await;
    let origin = [("origin", "http://app.example")];
    let info = request(server.addr, "GET", "/sockjs/info", &origin, None).await;
    assert_eq!(info.status, 200);
    assert_eq!(
        info.header("access-control-allow-origin"),
        Some("http://app.example")
    );
    assert_eq!(
        info.header("access-control-allow-credentials"),
        Some("true")
    );
    let preflight = request(
        server.addr,
        "OPTIONS",
        "/sockjs/000/c1/xhr_send",
        &[
            ("origin", "http://app.example"),
            ("access-control-request-method", "POST"),
            ("access-control-request-headers", "content-type"),
        ],
        None,
    )
    .await;
    assert_eq!(preflight.status, 204);
    assert_eq!(
        preflight.header("access-control-allow-methods"),
        Some("OPTIONS, POST")
    );
    assert_eq!(
        preflight.header("access-control-allow-headers"),
        Some("content-type")
    );
    assert_eq!(preflight.header("access-control-max-age"), Some("31536000"));
    assert_eq!(
        preflight.header("access-control-allow-origin"),
        Some("http://app.example")
    );
    let path = "/sockjs/000/c1/xhr";
    let poll = request(server.addr, "POST", path, &origin, None).await;
    assert_eq!(poll.body, b"o\n");
    assert_eq!(
        poll.header("access-control-allow-origin"),
        Some("http://app.example")
    );
    // Errors carry CORS too (else the browser reports a network error instead).
    let unknown = request(
        server.addr,
        "POST",
        "/sockjs/000/zz/xhr_send",
        &origin,
        Some(b"[]"),
    )
    .await;
    assert_eq!(unknown.status, 404);
    assert_eq!(
        unknown.header("access-control-allow-origin"),
        Some("http://app.example")
    );
    // Another origin is refused outright, on every SockJS URL.
    let evil = [("origin", "http://evil.example")];
    for (method, path) in [("GET", "/sockjs/info"), ("POST", "/sockjs/000/c2/xhr")] {
        let response = request(server.addr, method, path, &evil, None).await;
        assert_eq!(response.status, 403, "{method} {path}");
        assert_eq!(response.json()["error"]["code"], "forbidden");
    }
    assert_eq!(connections(&server).await, 1.0, "only c1 started");
}

#[tokio::test]
async fn the_token_rides_on_the_sockjs_url() {
    let server = TestServer::start_with(|c| {
        c.auth = AuthMode::Jwt;
        c.jwt_secret = Some(SECRET.to_owned());
        c.jwt_issuer = Some(ISSUER.to_owned());
    })
    .await;
    let token = hs256(&claims("sockjs-user", &["t-doc"], &["t-doc"], 600), SECRET);
    let path = format!("/sockjs/000/t1/xhr?token={token}");
    let response = request(server.addr, "POST", &path, &[], None).await;
    assert_eq!(response.body, b"o\n");
    let own_send = format!("/sockjs/000/t1/xhr_send?token={token}");
    let body = serde_json::to_vec(&[CONNECT]).unwrap();
    let sent = request(server.addr, "POST", &own_send, &[], Some(&body)).await;
    assert_eq!(sent.status, 204, "{sent:?}");
    let connected = array(
        &String::from_utf8(request(server.addr, "POST", &path, &[], None).await.body).unwrap(),
    );
    assert!(connected[0].starts_with("CONNECTED\n"), "{connected:?}");
    assert!(
        connected[0].contains("user-name:sockjs-user"),
        "{connected:?}"
    );

    // Every later request must carry the session's token: its id alone is not enough to send
    // into it or to read what it receives.
    let other = hs256(&claims("someone-else", &["t-doc"], &["t-doc"], 600), SECRET);
    let foreign_send = format!("/sockjs/000/t1/xhr_send?token={other}");
    let foreign_poll = format!("/sockjs/000/t1/xhr?token={other}");
    for (path, body) in [
        ("/sockjs/000/t1/xhr_send", Some(&b"[\"x\"]"[..])),
        (foreign_send.as_str(), Some(&b"[\"x\"]"[..])),
        ("/sockjs/000/t1/xhr", None),
        (foreign_poll.as_str(), None),
    ] {
        let response = request(server.addr, "POST", path, &[], body).await;
        assert_eq!(response.status, 404, "{path}: {response:?}");
        assert_eq!(response.json()["error"]["code"], "not-found", "{path}");
    }
    let subscribe = "SUBSCRIBE\nid:e\ndestination:/user/queue/errors\nreceipt:r\n\n\0";
    let body = serde_json::to_vec(&[subscribe]).unwrap();
    let sent = request(server.addr, "POST", &own_send, &[], Some(&body)).await;
    assert_eq!(sent.status, 204, "{sent:?}");
    let receipt = request(server.addr, "POST", &path, &[], None).await;
    let receipt = String::from_utf8(receipt.body).unwrap();
    assert!(array(&receipt)[0].contains("receipt-id:r"), "{receipt:?}");

    // Without one: CONNECT is refused, as on /ws.
    assert_eq!(poll_body(&server, "t2").await, "o\n");
    send_messages(&server, "t2", &[CONNECT]).await;
    let refused = array(&poll_body(&server, "t2").await);
    assert!(refused[0].starts_with("ERROR\n"), "{refused:?}");
    assert!(refused[0].contains("token"), "{refused:?}");
}

#[tokio::test]
async fn limits_apply_per_sockjs_session() {
    let server = TestServer::start_with(|c| {
        c.max_connections = 1;
        c.max_frame_bytes = 1024;
    })
    .await;
    assert_eq!(poll_body(&server, "l1").await, "o\n");
    // A second session would be a second connection: refused; the first one's requests are
    // not new connections.
    let refused = poll(&server, "l2").await;
    assert_eq!(refused.status, 503, "{refused:?}");
    assert_eq!(refused.json()["error"]["code"], "too-many-connections");
    let ws =
        tokio_tungstenite::connect_async(format!("ws://{}/sockjs/000/l3/websocket", server.addr))
            .await;
    assert!(ws.is_err(), "a WebSocket session is refused too");
    send_messages(&server, "l1", &[CONNECT]).await;
    assert!(array(&poll_body(&server, "l1").await)[0].starts_with("CONNECTED\n"));

    // A frame over --max-frame-bytes is the STOMP session's ERROR, as on /ws.
    let big = format!("SEND\ndestination:/app/doc/x\n\n{}\0", "x".repeat(2000));
    send_messages(&server, "l1", &[&big]).await;
    let error = array(&poll_body(&server, "l1").await);
    assert!(error[0].starts_with("ERROR\n"), "{error:?}");
    assert_eq!(poll_body(&server, "l1").await, "c[3000,\"Go away!\"]\n");

    // A body over the message limit is refused with 413 and ends the session.
    let server = TestServer::start_with(|c| c.max_frame_bytes = 1024).await;
    connected_polling(&server, "l4").await;
    let limit = server_config_message_limit(1024);
    let huge = serde_json::to_vec(&["y".repeat(limit + 1)]).unwrap();
    let response = send(&server, "l4", &huge).await;
    assert_eq!(response.status, 413, "{response:?}");
    let error = array(&poll_body(&server, "l4").await);
    assert!(error[0].starts_with("ERROR\n"), "{error:?}");
    assert!(error[0].contains("over the limit"), "{error:?}");
}

/// `Config::max_ws_message_bytes` for `max_frame_bytes`.
fn server_config_message_limit(max_frame_bytes: usize) -> usize {
    let mut config = otterdoc::Config::new("127.0.0.1:0".parse().unwrap(), "unused".into());
    config.max_frame_bytes = max_frame_bytes;
    config.max_ws_message_bytes()
}
