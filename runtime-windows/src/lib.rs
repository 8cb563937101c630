//! berth's Windows driver over the Host Compute Service. The driver itself comes with its own
//! issue; this crate exists so that the workspace shows where it goes and so that CI proves
//! `runtime-core` builds for Windows beside it.
//!
//! No `unsafe` here yet; the calls into the Host Compute Service will need a module allowed
//! it, listed in `docs/architecture.md` ("Where unsafe code lives").

#![deny(unsafe_code)]

pub use runtime_core::Driver;
