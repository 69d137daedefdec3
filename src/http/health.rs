//! What a load balancer and a monitoring system ask: `GET /healthz` (the process answers),
//! `GET /readyz` (the store takes a durable write and the server is not shutting down) and
//! `GET /metrics` (Prometheus text).

use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Reply};

use super::reply::{error, json, storage};
use crate::app::App;
use crate::error::{ErrorCode, Rejection};

async fn readyz(app: App) -> Response {
    if app.shutdown.intake.is_stopping() {
        return error(&Rejection::new(
            ErrorCode::Unavailable,
            "the server is shutting down",
        ));
    }
    match app.store.check_writable().await {
        Ok(()) => json(StatusCode::OK, &serde_json::json!({"status": "ready"})),
        Err(err) => {
            let mut rejection = storage(err);
            rejection.code = ErrorCode::Unavailable;
            error(&rejection)
        }
    }
}

fn metrics(app: &App) -> Response {
    // Gauges that are cheaper to read when asked than to keep current.
    app.metrics
        .open_documents
        .set(app.documents.open_documents() as i64);
    warp::reply::with_header(
        app.metrics.render(),
        "content-type",
        "application/openmetrics-text; version=1.0.0; charset=utf-8",
    )
    .into_response()
}

/// The health and metrics routes.
pub(super) fn routes(app: App) -> BoxedFilter<(Response,)> {
    let with_app = warp::any().map(move || app.clone());
    let healthz = warp::path!("healthz")
        .and(warp::get())
        .map(|| json(StatusCode::OK, &serde_json::json!({"status": "ok"})));
    let readyz = warp::path!("readyz")
        .and(warp::get())
        .and(with_app.clone())
        .then(readyz);
    let metrics = warp::path!("metrics")
        .and(warp::get())
        .and(with_app)
        .map(|app: App| metrics(&app));
    healthz.or(readyz).unify().or(metrics).unify().boxed()
}
