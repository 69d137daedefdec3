//! Test tokens: JWT claims in otterdoc's shape, signed with HS256, for servers run with
//! `--auth jwt`.

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

/// The HS256 secret the test servers verify with.
pub const SECRET: &str = "a test secret that signs the test tokens";
/// The issuer the test servers require.
pub const ISSUER: &str = "https://id.example";

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Claims for `sub` with rights, valid for `valid_for` seconds (negative: already expired).
pub fn claims(sub: &str, read: &[&str], write: &[&str], valid_for: i64) -> Value {
    json!({
        "sub": sub,
        "iss": ISSUER,
        "exp": now().saturating_add_signed(valid_for),
        "otterdoc": {"read": read, "write": write},
    })
}

/// `claims` signed with HS256 and `secret`.
pub fn hs256(claims: &Value, secret: &str) -> String {
    encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()).unwrap(),
    )
    .unwrap()
}
