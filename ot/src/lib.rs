//! Operational Transformation for plain text.
//!
//! An [`Operation`] is a sequence of retain / insert / delete components over the Unicode scalar
//! values (code points) of a document. This crate gives the algebra that a collaborative editor
//! needs and nothing else — no I/O, no async:
//!
//! - [`Operation::apply`] (on a `&str`) and [`Document::apply`] (on a rope, O(components · log n));
//! - [`Operation::compose`] and [`Operation::compose_all`] (balanced, for long histories);
//! - [`transform()`] with an explicit tie-break [`Side`], and [`transform_through`] for catching an
//!   operation up with a history;
//! - [`Operation::invert`] (undo);
//! - [`ClientState`]: the editor side of the protocol (one op in flight, a buffer);
//! - [`transform_index`] / [`transform_selection`] for cursors;
//! - the JSON wire format ([`Operation::from_json`], [`CheckedOp::from_json`], serde impls):
//!   `[5, "abc", -3, 7]`, with checked deletes (`{"d": "text"}`) verified by
//!   [`CheckedOp::verify`] or [`Document::apply_checked`];
//! - with the `testkit` feature, `ot::testkit`: the helpers shared by the tests of this crate and of
//!   the crates built on it.
//!
//! # Modules
//! Each module uses only the modules listed before it, so there are no import cycles:
//! - `error`: the typed errors ([`OtError`], [`WireError`], [`ComponentError`]);
//! - `text`: code-point counting and slicing, and [`TextSource`];
//! - `operation`: [`Operation`] and [`Component`]: building, canonical form, apply, compose,
//!   invert;
//! - `transform`: [`transform()`], [`transform_through`], cursors;
//! - `checked`: checked deletes ([`CheckedOp`], [`DeleteCheck`]) and their verification;
//! - `wire`: the JSON wire format;
//! - `document`: [`Document`], the rope-backed text;
//! - `testkit` (feature `testkit`): canonical-form check, proptest generators, reference models,
//!   editing-trace loading.
//!
//! # Laws
//! For a document `s` and operations `a`, `b` applicable to it (all checked by the property
//! tests in `ot/tests/`):
//! - compose: `apply(apply(s, a), b) == apply(s, compose(a, b))`, and compose is associative;
//! - transform (TP1): with `(a′, b′) = transform(a, b, side)`,
//!   `apply(apply(s, a), b′) == apply(apply(s, b), a′)` and `compose(a, b′) == compose(b, a′)`;
//! - invert: `apply(apply(s, o), invert(o, s)) == s`;
//! - transforming through a list is transforming through each element in turn, and converges:
//!   with `op″ = transform_through(op, h, side)` and `h′` the list transformed through `op`,
//!   `compose(compose_all(h), op″) == compose(op, compose_all(h′))`. (It equals transforming
//!   through the list's composition only when `op` or the list inserts nothing: composing loses
//!   the order of an insert and a delete at one position, which a tie-break depends on.)
//!
//! ```
//! use ot::{transform, Operation, Side};
//! let s = "hello";
//! let a = Operation::splice(5, 0, 0, "Oh, ").unwrap();
//! let b = Operation::splice(5, 5, 0, "!").unwrap();
//! let (a2, b2) = transform(&a, &b, Side::Left).unwrap();
//! let one = b2.apply(&a.apply(s).unwrap()).unwrap();
//! let two = a2.apply(&b.apply(s).unwrap()).unwrap();
//! assert_eq!(one, "Oh, hello!");
//! assert_eq!(one, two);
//! assert_eq!(a.compose(&b2).unwrap(), b.compose(&a2).unwrap());
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod checked;
mod client;
mod document;
mod error;
mod operation;
mod text;
mod transform;
mod wire;

#[cfg(feature = "testkit")]
pub mod testkit;

pub use checked::{CheckedOp, DeleteCheck};
pub use client::{ClientError, ClientState};
pub use document::Document;
pub use error::{ComponentError, OtError, WireError};
pub use operation::{Component, InsertText, Operation};
pub use text::TextSource;
pub use transform::{
    transform, transform_index, transform_selection, transform_through, Bias, Selection, Side,
};
