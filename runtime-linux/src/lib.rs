//! berth's native Linux driver.
//!
//! The host process (which may be a many-threaded Go daemon) never runs berth code between
//! fork and exec. It spawns `berth-init`, a fresh single-threaded helper, and all namespace,
//! mount and credential work happens there. See `docs/architecture.md` for the path of a
//! `run` call, which starts at [`LinuxDriver`]'s `create`.
//!
//! `unsafe` code is denied everywhere but in [`sys`] and the private `security::sys`, which
//! wrap the system calls that std and nix do not, and the first lines of the helper's
//! [`helper::main`]; `docs/architecture.md` ("Where unsafe code lives") says why each needs it.

#![deny(unsafe_code)]
#![warn(clippy::undocumented_unsafe_blocks)]

pub mod cgroups;
mod channel;
pub mod driver;
pub mod error;
mod exit_record;
pub mod helper;
pub mod hook;
mod instance;
mod launcher;
pub mod locate;
pub mod lxc;
mod mount_options;
mod namespaces;
pub mod peek;
pub mod platform;
mod preflight;
mod protocol;
mod recovery;
pub mod security;
mod state_files;
pub mod supervisor;
// The system calls std and nix do not wrap safely, each behind a safe function.
#[allow(unsafe_code)]
pub mod sys;

pub use driver::{DriverOptions, HelperSeal, LinuxDriver};
pub use hook::{ContainerHook, HookOutput, HookProgram};
pub use lxc::LxcDriver;
