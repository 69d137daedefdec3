//! The operator's routes under `/admin` (on only with `--admin-token-file`; every request
//! carries `Authorization: Bearer <admin token>`): list the connected sessions and the open
//! documents, close one session or every session of a user, and send a notice to every session
//! or to one user's, delivered on `/user/queue/notices`.

use bytes::Bytes;
use serde::Deserialize;
use warp::filters::BoxedFilter;
use warp::reply::Response;
use warp::Filter;

use super::access;
use super::reply::respond;
use crate::app::App;
use crate::error::{ErrorCode, Rejection};
use crate::roster::Control;

/// What an operator tells closed sessions.
const CLOSED_BY_OPERATOR: &str = "the session was closed by the server's operator";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Notice {
    message: String,
    #[serde(default)]
    user: Option<String>,
}

/// Longest notice accepted, in bytes.
const MAX_NOTICE_BYTES: usize = 4096;

fn sessions(app: &App) -> serde_json::Value {
    serde_json::json!({"sessions": app.roster.list()})
}

fn documents(app: &App) -> serde_json::Value {
    serde_json::json!({"documents": app.documents.list_open()})
}

fn close_session(app: &App, id: &str) -> Result<serde_json::Value, Rejection> {
    let control = Control::Close(CLOSED_BY_OPERATOR.to_owned());
    match app.roster.send(|session, _| session == id, &control) {
        0 => Err(Rejection::new(
            ErrorCode::NotFound,
            format!("no session {id:?} is connected"),
        )),
        closed => Ok(serde_json::json!({"closed": closed})),
    }
}

fn close_user(app: &App, user: &str) -> serde_json::Value {
    let control = Control::Close(CLOSED_BY_OPERATOR.to_owned());
    let closed = app.roster.send(|_, u| u == user, &control);
    serde_json::json!({"closed": closed})
}

fn notice(app: &App, body: &[u8]) -> Result<serde_json::Value, Rejection> {
    let notice: Notice = serde_json::from_slice(body).map_err(|e| {
        Rejection::new(
            ErrorCode::MalformedBody,
            format!("a notice is {{\"message\":\"...\",\"user\":\"...\"(optional)}}: {e}"),
        )
    })?;
    if notice.message.is_empty() || notice.message.len() > MAX_NOTICE_BYTES {
        return Err(Rejection::new(
            ErrorCode::MalformedBody,
            format!("the message must be 1-{MAX_NOTICE_BYTES} bytes"),
        ));
    }
    let control = Control::Notice(notice.message);
    let delivered = match &notice.user {
        Some(user) => app.roster.send(|_, u| u == user, &control),
        None => app.roster.send(|_, _| true, &control),
    };
    Ok(serde_json::json!({"sessions": delivered}))
}

/// The admin routes.
pub(super) fn routes(app: App) -> BoxedFilter<(Response,)> {
    // The token is checked first: without it nothing else about the request matters.
    let admin = move || {
        let app = app.clone();
        warp::path("admin")
            .and(warp::header::optional::<String>("authorization"))
            .and_then(move |authz: Option<String>| {
                let app = app.clone();
                async move {
                    match access::admin(&app, authz.as_deref()) {
                        Ok(()) => Ok(app),
                        Err(rejection) => Err(warp::reject::custom(Denied(rejection))),
                    }
                }
            })
    };
    let list_sessions = admin()
        .and(warp::path!("sessions"))
        .and(warp::get())
        .map(|app: App| respond(Ok(sessions(&app))));
    let list_documents = admin()
        .and(warp::path!("documents"))
        .and(warp::get())
        .map(|app: App| respond(Ok(documents(&app))));
    let close_one = admin()
        .and(warp::path!("sessions" / String / "close"))
        .and(warp::post())
        .map(|app: App, id: String| respond(close_session(&app, &id)));
    let close_all = admin()
        .and(warp::path!("users" / String / "close"))
        .and(warp::post())
        .map(|app: App, user: String| respond(Ok(close_user(&app, &user))));
    let notices = admin()
        .and(warp::path!("notices"))
        .and(warp::post())
        .and(warp::body::content_length_limit(
            MAX_NOTICE_BYTES as u64 * 2,
        ))
        .and(warp::body::bytes())
        .map(|app: App, body: Bytes| respond(notice(&app, &body)));
    list_sessions
        .or(list_documents)
        .unify()
        .or(close_one)
        .unify()
        .or(close_all)
        .unify()
        .or(notices)
        .unify()
        .boxed()
}

/// A request the admin token does not let in; answered by `recover` with its rejection.
#[derive(Debug)]
pub(super) struct Denied(pub(super) Rejection);

impl warp::reject::Reject for Denied {}
