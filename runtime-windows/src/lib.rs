//! berth's Windows driver over the Host Compute Service. The driver itself comes with its own
//! issue; this crate exists so that the workspace shows where it goes and so that CI proves
//! `runtime-core` builds for Windows beside it.

pub use runtime_core::Driver;
