//! The demo editor, served by the binary itself: `GET /` (the start page), `GET /d/<id>` (the
//! editor for one document) and `GET /assets/<file>`. The files are embedded by
//! [`crate::demo`]; this file owns how they are served — ETags and `304`, revalidation on
//! every load, and a content security policy that keeps the page's scripts and connections on
//! this server.

use warp::filters::BoxedFilter;
use warp::http::{header, HeaderValue, StatusCode};
use warp::reply::Response;
use warp::{Filter, Reply};

use super::reply::error;
use crate::demo::{self, Asset};
use crate::doc_id::DocId;
use crate::error::{ErrorCode, Rejection};

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

/// The demo's routes.
pub(super) fn routes() -> BoxedFilter<(Response,)> {
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
    home.or(doc_page).unify().or(assets).unify().boxed()
}
