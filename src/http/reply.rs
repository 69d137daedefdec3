//! How every HTTP answer is shaped: JSON bodies, the status of each error code, and the error
//! body `{"error":{"code","message"}}` — also for warp's own rejections (no route, wrong method,
//! body too large), so a client never gets anything else.

use std::convert::Infallible;

use warp::http::StatusCode;
use warp::reply::Response;
use warp::Reply;

use crate::error::{ErrorCode, Rejection};
use crate::store::StoreError;

/// The HTTP status an HTTP route answers an error code with.
pub fn status(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::MalformedBody
        | ErrorCode::InvalidOp
        | ErrorCode::InvalidDocId
        | ErrorCode::UnknownDestination
        | ErrorCode::InvalidQuery
        | ErrorCode::InvalidPresence
        | ErrorCode::BadRequest => StatusCode::BAD_REQUEST,
        ErrorCode::NotFound | ErrorCode::RouteNotFound => StatusCode::NOT_FOUND,
        ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::LengthRequired => StatusCode::LENGTH_REQUIRED,
        ErrorCode::VersionInFuture
        | ErrorCode::VersionTooOld
        | ErrorCode::TransactionAborted
        | ErrorCode::DocumentExists
        | ErrorCode::DocumentDeleted => StatusCode::CONFLICT,
        ErrorCode::OpTooLarge | ErrorCode::DocumentTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::OpDoesNotFit | ErrorCode::DeleteMismatch => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::Unavailable | ErrorCode::TooManyConnections => StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
        ErrorCode::Forbidden => StatusCode::FORBIDDEN,
        ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
        ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The HTTP error body `{"error":{"code","message"}}`.
pub fn error_json(rejection: &Rejection) -> serde_json::Value {
    serde_json::json!({"error": {"code": rejection.code.as_str(), "message": rejection.message}})
}

/// A JSON response.
pub(super) fn json(status: StatusCode, value: &serde_json::Value) -> Response {
    warp::reply::with_status(warp::reply::json(value), status).into_response()
}

/// The error response of `rejection`.
pub(super) fn error(rejection: &Rejection) -> Response {
    json(status(rejection.code), &error_json(rejection))
}

/// 200 with the value, or the error.
pub(super) fn respond(result: Result<serde_json::Value, Rejection>) -> Response {
    match result {
        Ok(value) => json(StatusCode::OK, &value),
        Err(rejection) => error(&rejection),
    }
}

/// A storage failure, as the client sees it.
pub(super) fn storage(err: StoreError) -> Rejection {
    // A store that cannot be reached now is a state to wait out (503), not a fault of ours.
    let code = match err {
        StoreError::Unavailable { .. } => ErrorCode::Unavailable,
        _ => ErrorCode::Internal,
    };
    Rejection::new(code, err.to_string())
}

/// Turns warp's own rejections (no route, wrong method, body too large…) into JSON errors.
pub(super) async fn recover(rejection: warp::Rejection) -> Result<Response, Infallible> {
    if let Some(super::admin::Denied(denied)) = rejection.find::<super::admin::Denied>() {
        return Ok(error(denied));
    }
    let (code, message) = if rejection.is_not_found() {
        (ErrorCode::RouteNotFound, "no such route".to_owned())
    } else if rejection.find::<warp::reject::PayloadTooLarge>().is_some() {
        (
            ErrorCode::OpTooLarge,
            "the request body is over the op size limit".to_owned(),
        )
    } else if rejection.find::<warp::reject::LengthRequired>().is_some() {
        // Checked before MethodNotAllowed: a POST without a length to /docs/<id>/ops is also
        // rejected (for its method) by the GET route on the same path, which must not win.
        (
            ErrorCode::LengthRequired,
            "a content-length header is required".to_owned(),
        )
    } else if rejection.find::<warp::reject::MethodNotAllowed>().is_some() {
        (
            ErrorCode::MethodNotAllowed,
            "this route does not take that HTTP method".to_owned(),
        )
    } else {
        (ErrorCode::BadRequest, format!("{rejection:?}"))
    };
    Ok(error(&Rejection::new(code, message)))
}
