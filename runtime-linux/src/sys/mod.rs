//! The few system calls that std and nix do not wrap safely, each behind a safe function.
//!
//! This is where berth's `unsafe` lives (with the C ABI boundary in runtime-ffi). Every block
//! states why it is sound. Everything else in the crate is safe Rust over these and nix.

pub mod clone;
pub mod fds;
pub mod image;
pub mod mount_api;
pub mod net;
pub mod pidfd;
pub mod spawn;
pub mod terminal;
