//! Authentication: turning the credentials a client presents (a JWT) into an [`Identity`].
//! With `--auth none` everyone is `anonymous` with full rights; with `--auth jwt` a token is
//! required and verified with an HS256 secret or an RS256/ES256 public key (PEM), with optional
//! issuer and audience checks. The claims read: `sub` (the user name), `exp` (enforced, also on
//! live sessions), and `otterdoc: {"read": [...], "write": [...]}` (document id globs). The
//! contract is in `docs/security.md`.

use std::collections::HashSet;
use std::path::Path;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use crate::config::{AuthMode, Config};
use crate::identity::Identity;

/// Why the server cannot verify tokens as configured (a start-up error).
#[derive(Debug, thiserror::Error)]
pub enum AuthSetupError {
    /// `--auth jwt` without a key.
    #[error(
        "--auth jwt needs a key: --jwt-secret-file, OTTERDOC_JWT_SECRET or --jwt-public-key-file"
    )]
    NoKey,
    /// More than one key given.
    #[error("give one key: --jwt-secret-file, OTTERDOC_JWT_SECRET or --jwt-public-key-file")]
    TwoKeys,
    /// A key file cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The key is not usable.
    #[error("invalid key in {what}: {reason}")]
    BadKey {
        /// Which key.
        what: String,
        /// Why.
        reason: String,
    },
}

/// Why a client is not let in. The message is written for the client; [`AuthError::reason`]
/// is the stable label (for metrics and logs).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No token was presented.
    #[error("a token is required: send Authorization: Bearer <jwt> (or the CONNECT passcode, or ?token= on the WebSocket URL)")]
    Missing,
    /// The token has expired.
    #[error("the token has expired; reconnect with a fresh one")]
    Expired,
    /// The signature does not verify.
    #[error("the token's signature does not verify")]
    BadSignature,
    /// The issuer is not the expected one.
    #[error("the token's issuer is not the one this server accepts")]
    WrongIssuer,
    /// The audience is not the expected one.
    #[error("the token's audience is not this server")]
    WrongAudience,
    /// Anything else wrong with the token.
    #[error("invalid token: {0}")]
    Invalid(String),
}

impl AuthError {
    /// A stable, low-cardinality label.
    pub fn reason(&self) -> &'static str {
        match self {
            AuthError::Missing => "missing",
            AuthError::Expired => "expired",
            AuthError::BadSignature => "bad-signature",
            AuthError::WrongIssuer => "wrong-issuer",
            AuthError::WrongAudience => "wrong-audience",
            AuthError::Invalid(_) => "invalid",
        }
    }
}

/// `otterdoc` claim: the document rights.
#[derive(Debug, Default, Deserialize)]
struct DocumentRights {
    #[serde(default)]
    read: Vec<String>,
    #[serde(default)]
    write: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct Claims {
    sub: String,
    exp: u64,
    #[serde(default)]
    otterdoc: DocumentRights,
}

/// Verifies credentials.
pub enum Authenticator {
    /// Authentication off: everyone is [`Identity::anonymous`].
    None,
    /// JWTs verified with this key and these rules.
    Jwt(Box<(DecodingKey, Validation)>),
}

fn read(path: &Path) -> Result<Vec<u8>, AuthSetupError> {
    std::fs::read(path).map_err(|source| AuthSetupError::Read {
        path: path.display().to_string(),
        source,
    })
}

impl Authenticator {
    /// The authenticator `config` asks for.
    pub fn from_config(config: &Config) -> Result<Authenticator, AuthSetupError> {
        if config.auth == AuthMode::None {
            return Ok(Authenticator::None);
        }
        let bad = |what: &str, e: jsonwebtoken::errors::Error| AuthSetupError::BadKey {
            what: what.to_owned(),
            reason: e.to_string(),
        };
        let secret = match (&config.jwt_secret_file, &config.jwt_secret) {
            (Some(_), Some(_)) => return Err(AuthSetupError::TwoKeys),
            (Some(path), None) => {
                let bytes = read(path)?;
                // A trailing newline from `echo secret > file` is not part of the secret.
                Some(bytes.trim_ascii_end().to_vec())
            }
            (None, Some(secret)) => Some(secret.as_bytes().to_vec()),
            (None, None) => None,
        };
        let (key, algorithms) = match (secret, &config.jwt_public_key_file) {
            (Some(_), Some(_)) => return Err(AuthSetupError::TwoKeys),
            (None, None) => return Err(AuthSetupError::NoKey),
            (Some(secret), None) => (
                DecodingKey::from_secret(&secret).map_err(|e| bad("the HS256 secret", e))?,
                vec![Algorithm::HS256],
            ),
            (None, Some(path)) => {
                let pem = read(path)?;
                let what = path.display().to_string();
                match DecodingKey::from_rsa_pem(&pem) {
                    Ok(key) => (key, vec![Algorithm::RS256]),
                    Err(_) => (
                        DecodingKey::from_ec_pem(&pem).map_err(|e| bad(&what, e))?,
                        vec![Algorithm::ES256],
                    ),
                }
            }
        };
        let mut validation = Validation::new(algorithms[0]);
        validation.algorithms = algorithms;
        validation.leeway = 0;
        validation.required_spec_claims = HashSet::from(["exp".to_owned(), "sub".to_owned()]);
        if let Some(issuer) = &config.jwt_issuer {
            validation.set_issuer(&[issuer]);
            validation.required_spec_claims.insert("iss".to_owned());
        }
        match &config.jwt_audience {
            Some(audience) => {
                validation.set_audience(&[audience]);
                validation.required_spec_claims.insert("aud".to_owned());
            }
            None => validation.validate_aud = false,
        }
        Ok(Authenticator::Jwt(Box::new((key, validation))))
    }

    /// True when a token is required.
    pub fn required(&self) -> bool {
        matches!(self, Authenticator::Jwt(_))
    }

    /// The identity `token` proves. With authentication off, any token (or none) is anonymous.
    pub fn authenticate(&self, token: Option<&str>) -> Result<Identity, AuthError> {
        let Authenticator::Jwt(jwt) = self else {
            return Ok(Identity::anonymous());
        };
        let (key, validation) = &**jwt;
        let token = token.filter(|t| !t.is_empty()).ok_or(AuthError::Missing)?;
        let data =
            jsonwebtoken::decode::<Claims>(token, key, validation).map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => AuthError::Expired,
                ErrorKind::InvalidSignature => AuthError::BadSignature,
                ErrorKind::InvalidIssuer => AuthError::WrongIssuer,
                ErrorKind::InvalidAudience => AuthError::WrongAudience,
                ErrorKind::MissingRequiredClaim(claim) if claim == "iss" => AuthError::WrongIssuer,
                ErrorKind::MissingRequiredClaim(claim) if claim == "aud" => {
                    AuthError::WrongAudience
                }
                _ => AuthError::Invalid(e.to_string()),
            })?;
        let claims = data.claims;
        if claims.sub.is_empty() {
            return Err(AuthError::Invalid("the sub claim is empty".into()));
        }
        Identity::new(
            claims.sub,
            &claims.otterdoc.read,
            &claims.otterdoc.write,
            Some(claims.exp),
        )
        .map_err(|e| AuthError::Invalid(e.to_string()))
    }
}

/// The token of an `Authorization: Bearer <token>` value.
pub fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_takes_the_token_of_the_bearer_scheme_only() {
        assert_eq!(bearer("Bearer abc.def"), Some("abc.def"));
        assert_eq!(bearer("bearer  abc "), Some("abc"));
        assert_eq!(bearer("Basic abc"), None);
        assert_eq!(bearer("abc"), None);
    }
}
