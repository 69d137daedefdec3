//! STOMP over SockJS 0.3.3, for frontends that connect with `sockjs-client` (as Spring STOMP
//! frontends do: `new SockJS(url)` handed to stompjs). Everything under `--sockjs-path` is
//! answered here; each SockJS session runs one STOMP session through [`crate::session::run`],
//! the same code as `/ws`, whatever transports carry it.
//!
//! - `framing.rs`: SockJS frames, transport wrapping, client payloads;
//! - `session.rs`: SockJS sessions (the STOMP session behind each, the one receiving request,
//!   heart-beats, the disconnect delay) and the table of them;
//! - `routes.rs`: the URLs — greeting, `info`, the raw WebSocket, and the session URLs of the
//!   `websocket`, `xhr_streaming`, `xhr` / `xhr_send` and `eventsource` transports.
//!
//! The contract is in `docs/protocol.md#sockjs`.

mod framing;
mod routes;
mod session;

use warp::http::Request;
use warp::reply::Response;

use crate::app::App;
use crate::error::Rejection;

pub use framing::PayloadError;

/// The SockJS endpoint of a server.
#[derive(Clone)]
pub struct SockJs {
    app: App,
    sessions: session::Registry,
}

impl SockJs {
    /// The endpoint of `app`, at its `--sockjs-path`.
    pub fn new(app: App) -> SockJs {
        SockJs {
            app,
            sessions: session::Registry::default(),
        }
    }

    /// True if `path` is the endpoint's (its base, or under it).
    pub fn owns(&self, path: &str) -> bool {
        let base = self.app.config.sockjs_path.as_str();
        path.strip_prefix(base)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    }

    /// Adds SockJS's CORS headers for an allowed `origin` to a response made elsewhere (the
    /// JSON error answers), as [`Self::handle`] adds them to its own.
    pub fn add_cors(response: &mut Response, origin: Option<&str>) {
        routes::add_cors(response, origin);
    }

    /// Answers a request [`Self::owns`]; `cors` is its `Origin` when CORS applies (the
    /// Origin check has passed). Errors of the server's own policy (limits, unknown
    /// sessions and URLs) come back as a [`Rejection`]; the protocol's own answers are made
    /// here.
    pub async fn handle(
        &self,
        req: Request<hyper::body::Incoming>,
        cors: Option<&str>,
    ) -> Result<Response, Rejection> {
        routes::handle(&self.app, &self.sessions, req, cors).await
    }
}
