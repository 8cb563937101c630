//! The wire form of the security settings lives in runtime-core, which owns the JSON form of a
//! container; it is re-exported here beside the code that applies it.

pub use runtime_core::security::*;
