//! Who a session or request acts as. Every op is recorded with its user's name.

/// The user every session and request acts as while authentication is off.
pub const ANONYMOUS: &str = "anonymous";
