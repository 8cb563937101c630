//! The few system calls that std and nix do not wrap safely, each behind a safe function.
//!
//! This is where the crate's `unsafe` lives (with `security::sys` and the first lines of
//! `helper::main`; `docs/architecture.md`, "Where unsafe code lives", lists every such
//! module). Every block states why it is sound. Everything else in the crate is safe Rust
//! over these and nix.

pub mod clone;
pub mod fds;
pub mod image;
pub mod keyring;
pub mod mount_api;
pub mod net;
pub mod pidfd;
pub mod signals;
pub mod socket;
pub mod spawn;
pub mod terminal;
