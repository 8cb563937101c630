//! The documents of HCS schema 2.1 that the driver writes and reads, as serde types.
//!
//! STUB: being written.
