//! Who may call a route: the caller's identity from `Authorization: Bearer <jwt>` (401 without
//! valid credentials when authentication is on), its right on the document (403 without), and
//! the admin token of the `/admin` routes.

use crate::app::App;
use crate::auth;
use crate::doc_id::DocId;
use crate::error::{ErrorCode, Rejection};
use crate::identity::Identity;
use crate::metrics::Metrics;

/// The right a route needs on its document.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Right {
    Read,
    Write,
}

/// The identity the request's `Authorization` header proves, with `right` on `doc`.
pub(super) fn authorize(
    app: &App,
    authorization: Option<&str>,
    doc: &DocId,
    right: Right,
) -> Result<Identity, Rejection> {
    let identity = identify(app, authorization)?;
    let allowed = match right {
        Right::Read => identity.can_read(doc),
        Right::Write => identity.can_write(doc),
    };
    if !allowed {
        let what = if right == Right::Read {
            "read"
        } else {
            "write"
        };
        return Err(Rejection::new(
            ErrorCode::Forbidden,
            format!("user {} may not {what} document {doc}", identity.user()),
        ));
    }
    Ok(identity)
}

/// The identity the request's `Authorization` header proves (401 without valid credentials
/// when authentication is on), for routes over many documents, which show only those it may
/// read.
pub(super) fn identify(app: &App, authorization: Option<&str>) -> Result<Identity, Rejection> {
    let token = authorization.and_then(auth::bearer);
    app.auth.authenticate(token).map_err(|err| {
        Metrics::count(&app.metrics.auth_failures, err.reason());
        Rejection::new(ErrorCode::Unauthorized, err.to_string())
    })
}

/// Checks the admin token. Without `--admin-token-file` the admin routes do not exist.
pub(super) fn admin(app: &App, authorization: Option<&str>) -> Result<(), Rejection> {
    let Some(expected) = &app.admin_token else {
        return Err(Rejection::new(
            ErrorCode::RouteNotFound,
            "the admin routes are off (start the server with --admin-token-file)",
        ));
    };
    let given = authorization.and_then(auth::bearer).unwrap_or_default();
    if !constant_time_eq(given.as_bytes(), expected.as_bytes()) {
        Metrics::count(&app.metrics.auth_failures, "admin");
        return Err(Rejection::new(
            ErrorCode::Unauthorized,
            "the admin routes need Authorization: Bearer <admin token>",
        ));
    }
    Ok(())
}

/// Compares without stopping at the first difference, so timing does not reveal the token.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_whole_tokens() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secre"));
    }
}
