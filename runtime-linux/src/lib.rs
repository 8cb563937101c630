//! berth's native Linux driver.
//!
//! The host process (which may be a many-threaded Go daemon) never runs berth code between
//! fork and exec. It spawns `berth-init`, a fresh single-threaded helper, and all namespace,
//! mount and credential work happens there. See `docs/architecture.md` for the path of a
//! `run` call, which starts at [`LinuxDriver`]'s `create`.

pub mod cgroups;
mod channel;
pub mod driver;
pub mod error;
pub mod helper;
mod instance;
mod launcher;
pub mod locate;
mod mount_options;
mod namespaces;
pub mod platform;
mod preflight;
mod protocol;
mod recovery;
pub mod security;
pub mod supervisor;
pub mod sys;

pub use driver::{DriverOptions, LinuxDriver};
