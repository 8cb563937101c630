//! libberth: the C ABI of berth (`include/berth.h`, generated from this crate by cbindgen).
//!
//! The exported functions are in [`api`], the types they use in [`types`]. Every `unsafe` is
//! in the private `boundary` module, which checks each pointer for NULL and each string for
//! UTF-8 and turns panics into errors.
//!
//! These functions are entry points for C (and for Go, Python, ... through C). They take raw
//! pointers under the contract written in the header and are not meant to be called from
//! Rust: Rust programs use `runtime-core` and a driver crate directly. The `rlib` exists for
//! the crate's own tests.

pub mod api;
mod boundary;
mod options;
pub mod types;

pub use api::*;
pub use types::*;

#[cfg(test)]
mod tests;
