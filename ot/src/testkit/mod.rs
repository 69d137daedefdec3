//! Helpers for testing this crate and code built on it, compiled only with the `testkit`
//! feature so that nothing here (nor proptest, flate2) reaches a normal build.
//!
//! They live in the library rather than in each test directory because four places need the
//! same ones: this crate's tests, benches and examples, its cargo-fuzz targets, and the server's
//! tests. Each file owns one kind of helper:
//! - `canonical`: [`assert_canonical`], the structural invariants every operation must hold;
//! - `strategy`: proptest strategies for documents and valid operations ([`arb_doc`],
//!   [`arb_steps`] + [`build`], …) and the runner configuration ([`proptest_config`]);
//! - `model`: reference implementations written independently of the crate
//!   ([`model_apply`], [`model_transform_index`], [`char_destinations`]);
//! - `rng`: [`SplitMix64`], a seeded PRNG for deterministic loops and generated files;
//! - [`trace`]: loading the real editing traces (josephg/editing-traces, sequential set).

mod canonical;
mod model;
mod rng;
mod strategy;
pub mod trace;

pub use canonical::assert_canonical;
pub use model::{
    char_destinations, char_len, model_apply, model_apply_components, model_transform_index,
};
pub use rng::SplitMix64;
pub use strategy::{
    arb_char, arb_doc, arb_insert, arb_step, arb_steps, arb_text, build, build_chain,
    proptest_config, Step,
};
