//! The JSON wire format of an operation, shared by the server, its clients and the test vectors.
//!
//! An operation is a JSON array of components:
//! - a positive integer `n` retains `n` chars,
//! - a non-empty string inserts it,
//! - a negative integer `-n` deletes `n` chars,
//! - `{"d": n}` also deletes `n` chars, and `{"d": "text"}` deletes `text`, which is checked
//!   against the document when applied (the ShareDB text-type forms, so its clients port easily).
//!
//! On input a missing trailing retain is implied ([`Operation::fit_to`] restores it); on output an
//! operation always spans its whole base document and uses only the integer/string forms.
//! An operation read from the wire spans at most `isize::MAX` chars: a length that would take it
//! further is rejected as [`ComponentError::TooLarge`].
//!
//! Parsing goes through `serde_json::Value` so that every rejection can name the component and
//! the reason ([`WireError`]); the serde impls on [`Operation`] and [`CheckedOp`] reuse it.

use serde::de::Error as _;
use serde::ser::{Error as _, SerializeSeq};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::checked::{CheckedOp, DeleteCheck};
use crate::error::{ComponentError, WireError};
use crate::operation::{Component, Operation};
use crate::text::char_len;

impl CheckedOp {
    /// Parses the wire format from JSON text.
    ///
    /// ```
    /// let parsed = ot::CheckedOp::from_json(r#"[2, "xy", {"d": "c"}]"#).unwrap();
    /// let mut op = parsed.op.clone();
    /// op.fit_to(4).unwrap();
    /// assert_eq!(op.apply("abcd").unwrap(), "abxyd");
    /// assert_eq!(parsed.checks[0].text, "c");
    /// ```
    pub fn from_json(text: &str) -> Result<CheckedOp, WireError> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| WireError::Json(e.to_string()))?;
        Self::from_value(&value)
    }

    /// Parses the wire format from an already-parsed JSON value.
    pub fn from_value(value: &Value) -> Result<CheckedOp, WireError> {
        let items = match value {
            Value::Array(items) => items,
            other => {
                return Err(WireError::NotAnArray {
                    found: json_type(other),
                })
            }
        };
        let mut op = Operation::with_capacity(items.len());
        let mut checks = Vec::new();
        for (index, item) in items.iter().enumerate() {
            let fail = |reason| WireError::Component { index, reason };
            match item {
                Value::Number(n) => {
                    if let Some(u) = n.as_u64() {
                        let len = to_len(u, n, &op).map_err(fail)?;
                        op.retain(len);
                    } else if let Some(i) = n.as_i64() {
                        let len = to_len(i.unsigned_abs(), n, &op).map_err(fail)?;
                        op.delete(len);
                    } else {
                        return Err(fail(ComponentError::Float(n.to_string())));
                    }
                }
                Value::String(s) if s.is_empty() => return Err(fail(ComponentError::EmptyInsert)),
                Value::String(s) => {
                    op.insert(s);
                }
                Value::Object(map) => {
                    let d = match (map.len(), map.get("d")) {
                        (1, Some(d)) => d,
                        _ => return Err(fail(ComponentError::UnknownObject)),
                    };
                    match d {
                        Value::Number(n) => match n.as_u64() {
                            Some(u) if u > 0 => {
                                let len = to_len(u, n, &op).map_err(fail)?;
                                op.delete(len);
                            }
                            _ => return Err(fail(ComponentError::BadDeleteObject)),
                        },
                        Value::String(s) if !s.is_empty() => {
                            let chars = char_len(s);
                            if chars > MAX_WIRE_LEN.saturating_sub(op.base_len()) {
                                return Err(fail(ComponentError::TooLarge(chars.to_string())));
                            }
                            // The delete starts after every base char consumed so far.
                            checks.push(DeleteCheck {
                                index,
                                position: op.base_len(),
                                text: s.clone(),
                            });
                            op.delete(chars);
                        }
                        _ => return Err(fail(ComponentError::BadDeleteObject)),
                    }
                }
                Value::Null => return Err(fail(ComponentError::Null)),
                Value::Bool(_) => return Err(fail(ComponentError::Bool)),
                Value::Array(_) => return Err(fail(ComponentError::NestedArray)),
            }
        }
        Ok(CheckedOp { op, checks })
    }
}

/// The longest base document an operation read from the wire may span. Keeps every length and
/// every sum of lengths in range (a retain of `u64::MAX` after another retain used to overflow),
/// and every delete writable back as a negative JSON integer by `to_json`.
const MAX_WIRE_LEN: usize = isize::MAX as usize;

/// A retain / delete length read from the wire, to be appended to `op`.
fn to_len(u: u64, n: &serde_json::Number, op: &Operation) -> Result<usize, ComponentError> {
    match usize::try_from(u) {
        Ok(0) => Err(ComponentError::Zero),
        Ok(len) if len <= MAX_WIRE_LEN.saturating_sub(op.base_len()) => Ok(len),
        _ => Err(ComponentError::TooLarge(n.to_string())),
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl Operation {
    /// Parses the wire format, refusing checked deletes (`{"d": "text"}`), whose check would
    /// otherwise be silently dropped: use [`CheckedOp::from_json`] to accept those.
    pub fn from_json(text: &str) -> Result<Operation, WireError> {
        into_unchecked(CheckedOp::from_json(text)?)
    }

    /// The wire form as a JSON string, e.g. `[5,"abc",-3,7]`.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("serialising an operation cannot fail")
    }
}

/// The operation of `parsed`, refusing it if it has checked deletes: where there is no document
/// to verify them against, dropping them would accept a delete of text the client never saw.
fn into_unchecked(parsed: CheckedOp) -> Result<Operation, WireError> {
    match parsed.checks.first() {
        None => Ok(parsed.op),
        Some(check) => Err(WireError::Component {
            index: check.index,
            reason: ComponentError::UncheckedContext,
        }),
    }
}

impl Serialize for Operation {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.components().len()))?;
        for c in self.components() {
            match c {
                Component::Retain(n) => seq.serialize_element(n)?,
                Component::Insert(s) => seq.serialize_element(s.as_str())?,
                Component::Delete(n) => {
                    let n = i64::try_from(*n).map_err(|_| S::Error::custom("delete too long"))?;
                    seq.serialize_element(&-n)?
                }
            }
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for CheckedOp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        CheckedOp::from_value(&value).map_err(D::Error::custom)
    }
}

impl<'de> Deserialize<'de> for Operation {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let parsed = CheckedOp::deserialize(deserializer)?;
        into_unchecked(parsed).map_err(D::Error::custom)
    }
}
