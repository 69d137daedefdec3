//! HTTP requests for tests, through `reqwest` (no proxy, bounded by [`WAIT`]); and, for the
//! few tests of deliberately malformed requests, raw bytes on a socket with the response head
//! parsed by `httparse`.

use std::net::SocketAddr;
use std::sync::OnceLock;

use reqwest::Method;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::WAIT;

/// A response: status and the body as received.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    /// Header names (lower case) and values, in the order received.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON (`Value::Null` if it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

fn client() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .no_proxy()
            .timeout(WAIT)
            .build()
            .expect("HTTP client")
    })
}

/// One request; `Err` if the server cannot be reached or the exchange breaks off (e.g. the
/// server was killed mid-request).
pub async fn try_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Result<Response, reqwest::Error> {
    let method = Method::from_bytes(method.as_bytes()).expect("HTTP method");
    let mut request = client().request(method, format!("http://{addr}{path}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(body) = body {
        // Explicit, so an empty body is still a body of length 0 (not one without a length).
        request = request
            .header("content-type", "application/json")
            .header("content-length", body.len())
            .body(body.to_vec());
    }
    let response = request.send().await?;
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_owned(),
                v.to_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let body = response.bytes().await?.to_vec();
    Ok(Response {
        status,
        headers,
        body,
    })
}

/// One request that must complete.
pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Response {
    try_request(addr, method, path, headers, body)
        .await
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

/// `GET path`: (status, JSON body).
pub async fn get(addr: SocketAddr, path: &str) -> (u16, Value) {
    let response = request(addr, "GET", path, &[], None).await;
    (response.status, response.json())
}

/// `POST path` with a JSON body: (status, JSON body).
pub async fn post(addr: SocketAddr, path: &str, body: &str) -> (u16, Value) {
    let response = request(addr, "POST", path, &[], Some(body.as_bytes())).await;
    (response.status, response.json())
}

/// `POST path`, or `None` if the server went away before answering.
pub async fn try_post(addr: SocketAddr, path: &str, body: &Value) -> Option<(u16, Value)> {
    let body = body.to_string();
    let response = try_request(addr, "POST", path, &[], Some(body.as_bytes()))
        .await
        .ok()?;
    Some((response.status, response.json()))
}

/// Sends `request` as-is on a new connection and reads until the server closes it; returns
/// the status and the JSON body (`Value::Null` if none).
pub async fn raw(addr: SocketAddr, request: &[u8]) -> (u16, Value) {
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        stream.write_all(request).await.expect("write");
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await.expect("read");
        response
    };
    let response = tokio::time::timeout(WAIT, exchange)
        .await
        .expect("raw request timed out");
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut head = httparse::Response::new(&mut headers);
    let httparse::Status::Complete(len) = head.parse(&response).expect("an HTTP response") else {
        panic!(
            "incomplete response head: {:?}",
            String::from_utf8_lossy(&response)
        );
    };
    let status = head.code.expect("status code");
    (
        status,
        serde_json::from_slice(&response[len..]).unwrap_or(Value::Null),
    )
}
