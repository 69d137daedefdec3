//! Authentication and authorization through the real interfaces: a server with `--auth jwt`,
//! real tokens (HS256, RS256, ES256), real STOMP and HTTP clients. The matrix — every route and
//! destination (presence included) against no token, a bad signature, an expired token, a wrong issuer, a read-only
//! token, a writer, and a token for another document — checks that no read and no write ever
//! succeeds without the right claim (the document is unchanged after every refused write).
//! Also: where the token may ride, expiry of a live session, and the browser Origin rules.

use std::time::Duration;

use crate::common::http::request;
use crate::common::stomp::body_json;
use crate::common::tokens::{claims, hs256, now, ISSUER, SECRET};
use crate::common::{repo_root, StompClient, TestServer, WAIT};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use otterdoc::config::AuthMode;
use otterdoc::stomp::{Command, StompFrame};
use serde_json::{json, Value};

/// A server verifying HS256 tokens of [`SECRET`] from [`ISSUER`].
async fn server() -> TestServer {
    TestServer::start_with(|c| {
        c.auth = AuthMode::Jwt;
        c.jwt_secret = Some(SECRET.to_owned());
        c.jwt_issuer = Some(ISSUER.to_owned());
    })
    .await
}

/// CONNECT with `headers`; the first frame the server answers with.
async fn connect(
    server: &TestServer,
    url_token: Option<&str>,
    headers: &[(&str, &str)],
) -> (StompClient, StompFrame) {
    let url = match url_token {
        Some(token) => format!("{}?token={token}", server.ws_url()),
        None => server.ws_url(),
    };
    let mut c = StompClient::open(&url).await;
    let mut all = vec![("accept-version", "1.2"), ("heart-beat", "0,0")];
    all.extend_from_slice(headers);
    let first = c.connect_with(&all).await;
    (c, first)
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// SEND an op with a receipt; the RECEIPT's `error` header (None when applied).
async fn send(c: &mut StompClient, doc: &str, seq: u64, text: &str) -> Option<String> {
    let body = json!({"client": "sec", "seq": seq, "base": 0, "op": [text]});
    let receipt = format!("op-{seq}");
    c.send_op(doc, &body, Some(&receipt)).await;
    let (_, r) = c.until_receipt(&receipt).await;
    r.header("error").map(str::to_owned)
}

async fn content(server: &TestServer, doc: &str, token: &str) -> Value {
    let auth = bearer(token);
    let response = request(
        server.addr,
        "GET",
        &format!("/docs/{doc}"),
        &[("authorization", &auth)],
        None,
    )
    .await;
    assert_eq!(response.status, 200, "{:?}", response.json());
    response.json()
}

#[tokio::test]
async fn no_read_or_write_succeeds_without_the_right_claim() {
    let server = server().await;
    let admin = hs256(&claims("root", &[], &["*"], 600), SECRET);
    // Seed the document so that reads have something to find.
    let (mut seed, connected) = connect(&server, None, &[("Authorization", &bearer(&admin))]).await;
    assert_eq!(connected.command, Command::Connected);
    assert_eq!(send(&mut seed, "doc-a", 1, "hello").await, None);
    let seeded = content(&server, "doc-a", &admin).await;
    assert_eq!(seeded["content"], "hello");

    let bad_signature = hs256(&claims("eve", &["*"], &["*"], 600), "another secret");
    let expired = hs256(&claims("eve", &["*"], &["*"], -60), SECRET);
    let mut wrong_issuer_claims = claims("eve", &["*"], &["*"], 600);
    wrong_issuer_claims["iss"] = json!("https://other.example");
    let wrong_issuer = hs256(&wrong_issuer_claims, SECRET);
    let read_only = hs256(&claims("reader", &["doc-*"], &[], 600), SECRET);
    let writer = hs256(&claims("writer", &[], &["doc-a"], 600), SECRET);
    let other = hs256(&claims("other", &["other-*"], &["other-*"], 600), SECRET);

    // (name, token, may read, may write); None: authentication fails.
    type Case<'a> = (&'a str, Option<&'a str>, Option<(bool, bool)>);
    let cases: [Case<'_>; 7] = [
        ("no token", None, None),
        ("bad signature", Some(&bad_signature), None),
        ("expired", Some(&expired), None),
        ("wrong issuer", Some(&wrong_issuer), None),
        ("read-only", Some(&read_only), Some((true, false))),
        ("writer", Some(&writer), Some((true, true))),
        ("other document", Some(&other), Some((false, false))),
    ];
    let mut seq = 10;
    for (name, token, rights) in cases {
        seq += 1;
        let auth = token.map(bearer);
        let headers: Vec<(&str, &str)> = auth
            .as_deref()
            .map(|a| vec![("authorization", a)])
            .unwrap_or_default();

        // HTTP reads and writes.
        let read = request(server.addr, "GET", "/docs/doc-a", &headers, None).await;
        let page = request(server.addr, "GET", "/docs/doc-a/ops", &headers, None).await;
        let body = json!({"client": "http", "seq": seq, "base": 1, "op": [5, "!"]}).to_string();
        let write = request(
            server.addr,
            "POST",
            "/docs/doc-a/ops",
            &headers,
            Some(body.as_bytes()),
        )
        .await;
        let expect = |may: bool| match rights {
            None => 401,
            Some(_) if may => 200,
            Some(_) => 403,
        };
        let (may_read, may_write) = rights.unwrap_or((false, false));
        assert_eq!(
            read.status,
            expect(may_read),
            "{name}: GET /docs/doc-a {:?}",
            read.json()
        );
        assert_eq!(
            page.status,
            expect(may_read),
            "{name}: GET ops {:?}",
            page.json()
        );
        assert_eq!(
            write.status,
            expect(may_write),
            "{name}: POST {:?}",
            write.json()
        );
        for refused in [&read, &page, &write]
            .into_iter()
            .filter(|r| r.status != 200)
        {
            let code = if refused.status == 401 {
                "unauthorized"
            } else {
                "forbidden"
            };
            assert_eq!(refused.json()["error"]["code"], code, "{name}");
        }

        // STOMP: CONNECT, then SEND and SUBSCRIBE.
        let (mut c, first) = connect(&server, None, &headers).await;
        match rights {
            None => {
                assert_eq!(first.command, Command::Error, "{name}: {first:?}");
                let message = first.header("message").unwrap();
                assert!(
                    message.starts_with("authentication failed"),
                    "{name}: {message}"
                );
                assert!(
                    c.frame_or_close().await.is_none(),
                    "{name}: closed after the ERROR"
                );
                continue;
            }
            Some((may_read, may_write)) => {
                assert_eq!(first.command, Command::Connected, "{name}: {first:?}");
                let user = first.header("user-name").unwrap();
                assert_ne!(user, "anonymous", "{name}");
                let error = send(&mut c, "doc-a", seq, "x").await;
                if may_write {
                    assert_eq!(error, None, "{name}: SEND");
                } else {
                    assert_eq!(error.as_deref(), Some("forbidden"), "{name}: SEND");
                }
                // Presence takes the read right, both ways.
                let version = content(&server, "doc-a", &admin).await["version"].clone();
                let update = json!({"client": "p", "version": version, "selection": []});
                let f = StompFrame::new(Command::Send)
                    .with_header("destination", "/app/doc/doc-a/presence")
                    .with_header("receipt", "presence")
                    .with_body(update.to_string());
                c.send(&f).await;
                let (_, r) = c.until_receipt("presence").await;
                let expected = (!may_read).then_some("forbidden");
                assert_eq!(r.header("error"), expected, "{name}: presence SEND {r:?}");
                let (mut p, _) = connect(&server, None, &headers).await;
                p.subscribe("p", "/topic/doc/doc-a/presence", &[("receipt", "psub")])
                    .await;
                let answers = p.until_closed_or_receipt("psub").await;
                let last = answers.last().expect("an answer");
                if may_read {
                    assert_eq!(last.command, Command::Receipt, "{name}: {answers:?}");
                } else {
                    assert_eq!(last.command, Command::Error, "{name}: {answers:?}");
                    assert!(
                        last.header("message").unwrap().starts_with("forbidden"),
                        "{name}: {last:?}"
                    );
                }
                c.subscribe("s", "/topic/doc/doc-a", &[("receipt", "sub")])
                    .await;
                let answer = c.frame().await;
                if may_read {
                    assert_eq!(
                        answer.command,
                        Command::Message,
                        "{name}: snapshot {answer:?}"
                    );
                    assert_eq!(body_json(&answer)["type"], "snapshot");
                } else {
                    assert_eq!(answer.command, Command::Error, "{name}: {answer:?}");
                    assert!(
                        answer.header("message").unwrap().starts_with("forbidden"),
                        "{name}"
                    );
                    assert!(c.frame_or_close().await.is_none());
                }
            }
        }
    }
    // Only the writer's ops landed: seq 16 over STOMP (the POST of the writer too).
    let after = content(&server, "doc-a", &admin).await;
    let ops = request(
        server.addr,
        "GET",
        "/docs/doc-a/ops",
        &[("authorization", &bearer(&admin))],
        None,
    )
    .await;
    let users: Vec<String> = ops.json()["ops"]
        .as_array()
        .unwrap()
        .iter()
        .map(|op| op["user"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(users, ["root", "writer", "writer"], "{after}");
}

/// One HTTP request with an optional bearer token: (status, JSON body).
async fn call(
    server: &TestServer,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let auth = token.map(bearer);
    let headers: Vec<(&str, &str)> = auth
        .as_deref()
        .map(|a| vec![("authorization", a)])
        .unwrap_or_default();
    let body = body.map(|b| b.to_string());
    let response = request(
        server.addr,
        method,
        path,
        &headers,
        body.as_deref().map(str::as_bytes),
    )
    .await;
    (response.status, response.json())
}

#[tokio::test]
async fn the_history_routes_and_the_changefeed_check_rights_like_the_others() {
    let server = server().await;
    let admin = hs256(&claims("root", &[], &["*"], 600), SECRET);
    let admin = Some(admin.as_str());
    let seed = |doc: &str, text: &str| {
        (
            format!("/docs/{doc}/ops"),
            json!({"client": "seed", "seq": 1, "base": 0, "op": [text]}),
        )
    };
    let (path, body) = seed("doc-h", "hello");
    assert_eq!(call(&server, "POST", &path, admin, Some(body)).await.0, 200);

    let expired = hs256(&claims("eve", &["*"], &["*"], -60), SECRET);
    let reader = hs256(&claims("reader", &["doc-*"], &[], 600), SECRET);
    let writer = hs256(&claims("writer", &[], &["doc-*"], 600), SECRET);
    let other = hs256(&claims("other", &["other-*"], &["other-*"], 600), SECRET);
    // (name, token, may read doc-*, may write doc-*); None: authentication fails.
    type Case<'a> = (&'a str, Option<&'a str>, Option<(bool, bool)>);
    let cases: [Case<'_>; 5] = [
        ("no token", None, None),
        ("expired", Some(&expired), None),
        ("read-only", Some(&reader), Some((true, false))),
        ("writer", Some(&writer), Some((true, true))),
        ("other document", Some(&other), Some((false, false))),
    ];
    for (i, (name, token, rights)) in cases.into_iter().enumerate() {
        let expect = |may: bool| match rights {
            None => 401,
            Some(_) if may => 200,
            Some(_) => 403,
        };
        let (may_read, may_write) = rights.unwrap_or((false, false));
        let check = |what: &str, got: (u16, Value), status: u16| {
            assert_eq!(got.0, status, "{name}: {what} {}", got.1);
            if status != 200 {
                let code = if status == 401 {
                    "unauthorized"
                } else {
                    "forbidden"
                };
                assert_eq!(got.1["error"]["code"], code, "{name}: {what}");
            }
        };
        check(
            "diff",
            call(&server, "GET", "/docs/doc-h/diff?from=0", token, None).await,
            expect(may_read),
        );
        check(
            "verify",
            call(&server, "GET", "/docs/doc-h/verify", token, None).await,
            expect(may_read),
        );
        let seq = i as u64 + 10;
        let restore = json!({"version": 1, "client": "r", "seq": seq});
        check(
            "restore",
            call(&server, "POST", "/docs/doc-h/restore", token, Some(restore)).await,
            expect(may_write),
        );
        let (_, current) = call(&server, "GET", "/docs/doc-h", admin, None).await;
        let text =
            json!({"content": "hello!", "base": current["version"], "client": "t", "seq": seq});
        check(
            "text",
            call(&server, "POST", "/docs/doc-h/text", token, Some(text)).await,
            expect(may_write),
        );
        // Copy: read on the source, write on the target.
        let copy = json!({"to": format!("doc-copy-{i}"), "history": false});
        check(
            "copy",
            call(&server, "POST", "/docs/doc-h/copy", token, Some(copy)).await,
            expect(may_read && may_write),
        );
        let doomed = format!("doc-del-{i}");
        let (path, body) = seed(&doomed, "bye");
        assert_eq!(call(&server, "POST", &path, admin, Some(body)).await.0, 200);
        check(
            "delete",
            call(&server, "DELETE", &format!("/docs/{doomed}"), token, None).await,
            expect(may_write),
        );
        let still = call(&server, "GET", &format!("/docs/{doomed}"), admin, None)
            .await
            .0;
        assert_eq!(
            still,
            if may_write { 404 } else { 200 },
            "{name}: a refused delete deleted nothing"
        );

        // The listing and the feed need a token, and show only what it may read.
        let listed = call(&server, "GET", "/docs?prefix=doc-", token, None).await;
        let changes = call(&server, "GET", "/changes", token, None).await;
        match rights {
            None => {
                check("list", listed, 401);
                check("changes", changes, 401);
                let stream = call(&server, "GET", "/changes/stream", token, None).await;
                check("stream", stream, 401);
            }
            Some(_) => {
                // The stream never ends: only its head is read.
                let client = reqwest::Client::builder().no_proxy().build().unwrap();
                let mut get = client.get(format!("http://{}/changes/stream", server.addr));
                if let Some(token) = token {
                    get = get.bearer_auth(token);
                }
                let head = tokio::time::timeout(WAIT, get.send())
                    .await
                    .unwrap()
                    .unwrap();
                assert_eq!(head.status(), 200, "{name}: stream");
                assert_eq!(listed.0, 200, "{name}");
                assert_eq!(changes.0, 200, "{name}");
                let docs = listed.1["docs"].as_array().unwrap();
                let entries = changes.1["changes"].as_array().unwrap();
                assert_eq!(!docs.is_empty(), may_read, "{name}: {}", listed.1);
                assert_eq!(!entries.is_empty(), may_read, "{name}: {}", changes.1);
                assert!(entries
                    .iter()
                    .all(|c| c["doc"].as_str().unwrap().starts_with("doc-")));
            }
        }
    }
    // Only the writer changed doc-h: its restore and its text.
    let (_, ops) = call(&server, "GET", "/docs/doc-h/ops", admin, None).await;
    let users: Vec<&str> = ops["ops"]
        .as_array()
        .unwrap()
        .iter()
        .map(|op| op["user"].as_str().unwrap())
        .collect();
    assert_eq!(users, ["root", "writer", "writer"]);
    let (_, copies) = call(&server, "GET", "/docs?prefix=doc-copy", admin, None).await;
    assert_eq!(copies["docs"].as_array().unwrap().len(), 1, "{copies}");
}

#[tokio::test]
async fn the_token_may_come_as_passcode_or_on_the_url_and_names_the_user() {
    let server = server().await;
    let token = hs256(&claims("alice", &[], &["notes"], 600), SECRET);
    let (mut by_passcode, first) = connect(&server, None, &[("passcode", &token)]).await;
    assert_eq!(first.header("user-name"), Some("alice"), "{first:?}");
    assert_eq!(send(&mut by_passcode, "notes", 1, "a").await, None);
    let (mut by_url, first) = connect(&server, Some(&token), &[]).await;
    assert_eq!(first.header("user-name"), Some("alice"), "{first:?}");
    assert_eq!(send(&mut by_url, "notes", 2, "b").await, None);
    // The CONNECT header wins over the URL.
    let bob = hs256(&claims("bob", &[], &["notes"], 600), SECRET);
    let (_, first) = connect(&server, Some(&token), &[("authorization", &bearer(&bob))]).await;
    assert_eq!(first.header("user-name"), Some("bob"));
    let ops = request(
        server.addr,
        "GET",
        "/docs/notes/ops",
        &[("authorization", &bearer(&token))],
        None,
    )
    .await;
    assert_eq!(ops.json()["ops"][0]["user"], "alice");
}

#[tokio::test]
async fn rs256_and_es256_public_keys_verify_their_tokens() {
    for (public, private, alg) in [
        ("rsa-public.pem", "rsa-private.pem", Algorithm::RS256),
        ("ec-public.pem", "ec-private.pem", Algorithm::ES256),
    ] {
        let fixtures = repo_root().join("tests/fixtures");
        let server = TestServer::start_with(|c| {
            c.auth = AuthMode::Jwt;
            c.jwt_public_key_file = Some(fixtures.join(public));
        })
        .await;
        let pem = std::fs::read(fixtures.join(private)).unwrap();
        let key = match alg {
            Algorithm::RS256 => EncodingKey::from_rsa_pem(&pem).unwrap(),
            _ => EncodingKey::from_ec_pem(&pem).unwrap(),
        };
        let token = encode(&Header::new(alg), &claims("carol", &["*"], &[], 600), &key).unwrap();
        let (_, first) = connect(&server, None, &[("authorization", &bearer(&token))]).await;
        assert_eq!(
            first.header("user-name"),
            Some("carol"),
            "{alg:?}: {first:?}"
        );
        // An HS256 token made with the public key as a secret must not pass (algorithm confusion).
        let forged = hs256(
            &claims("mallory", &["*"], &["*"], 600),
            &String::from_utf8_lossy(&std::fs::read(fixtures.join(public)).unwrap()),
        );
        let (_, first) = connect(&server, None, &[("authorization", &bearer(&forged))]).await;
        assert_eq!(first.command, Command::Error, "{alg:?}: {first:?}");
    }
}

#[tokio::test]
async fn a_session_whose_token_expires_is_closed_with_an_error() {
    let server = server().await;
    let brief = claims("brief", &["*"], &["*"], 2);
    let exp = brief["exp"].as_u64().unwrap();
    let token = hs256(&brief, SECRET);
    let (mut c, first) = connect(&server, None, &[("authorization", &bearer(&token))]).await;
    assert_eq!(first.command, Command::Connected);
    let started = tokio::time::Instant::now();
    let frames = tokio::time::timeout(WAIT, c.until_closed()).await.unwrap();
    let error = frames
        .iter()
        .find(|f| f.command == Command::Error)
        .expect("an ERROR before the close");
    assert!(
        error.header("message").unwrap().contains("expired"),
        "{error:?}"
    );
    // Not before `exp` (a wall-clock second), and soon after it.
    assert!(now() >= exp, "closed at {} before exp {exp}", now());
    let waited = started.elapsed();
    assert!(waited < Duration::from_secs(4), "{waited:?}");
}

#[tokio::test]
async fn origins_are_checked_on_the_upgrade_and_http_answers_cors_for_allowed_ones() {
    let server = TestServer::start_with(|c| {
        c.allowed_origins = vec!["https://app.example".into()];
    })
    .await;
    let refused =
        StompClient::try_open_with(&server.ws_url(), &[("origin", "https://evil.example")]).await;
    assert_eq!(
        refused.err(),
        Some(403),
        "a page on another site cannot open a session"
    );
    let mut ok = StompClient::try_open_with(&server.ws_url(), &[("origin", "https://app.example")])
        .await
        .unwrap_or_else(|status| panic!("allowed origin refused with {status}"));
    ok.connect().await;
    // Not from a browser: no Origin, no check.
    let mut plain = StompClient::open(&server.ws_url()).await;
    plain.connect().await;

    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let preflight = http
        .request(
            reqwest::Method::OPTIONS,
            format!("http://{}/docs/notes/ops", server.addr),
        )
        .header("origin", "https://app.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), 204);
    let header = |r: &reqwest::Response, name: &str| {
        r.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    assert_eq!(
        header(&preflight, "access-control-allow-origin").as_deref(),
        Some("https://app.example")
    );
    assert!(header(&preflight, "access-control-allow-methods")
        .unwrap()
        .contains("POST"));
    assert!(header(&preflight, "access-control-allow-headers")
        .unwrap()
        .contains("authorization"));
    let response = http
        .get(format!("http://{}/healthz", server.addr))
        .header("origin", "https://app.example")
        .send()
        .await
        .unwrap();
    assert_eq!(
        header(&response, "access-control-allow-origin").as_deref(),
        Some("https://app.example")
    );
    let evil = request(
        server.addr,
        "GET",
        "/healthz",
        &[("origin", "https://evil.example")],
        None,
    )
    .await;
    assert_eq!(evil.status, 403);
    assert_eq!(evil.json()["error"]["code"], "forbidden");
}
