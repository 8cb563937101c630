//! libberth: the C ABI of berth (`include/berth.h`, generated from this crate by cbindgen).
//!
//! The exported functions are in [`api`], the types they use in [`types`]. Every `unsafe`
//! block is in the private `boundary` module, which checks each pointer for NULL and each
//! string for UTF-8 and turns panics into errors; `api` holds the `#[no_mangle]` exports,
//! which the `unsafe_code` lint counts too. `docs/architecture.md` ("Where unsafe code
//! lives") lists every module allowed `unsafe` and why.
//!
//! These functions are entry points for C (and for Go, Python, ... through C). They take raw
//! pointers under the contract written in the header and are not meant to be called from
//! Rust: Rust programs use `runtime-core` and a driver crate directly. The `rlib` exists for
//! the crate's own tests.

#![deny(unsafe_code)]
#![warn(clippy::undocumented_unsafe_blocks)]

// The `#[no_mangle]` exports: the linker trusts their names to be unique in the process, which
// is why the lint counts them as unsafe. No `unsafe` block goes here: it goes in `boundary`.
#[allow(unsafe_code)]
pub mod api;
// Raw pointers from C turned into references, strings and values, and the C callbacks.
#[allow(unsafe_code)]
mod boundary;
mod options;
pub mod types;

pub use api::*;
pub use types::*;

#[cfg(test)]
mod tests;
