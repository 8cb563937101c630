//! Platform-neutral model of a berth container.
//!
//! This crate makes no OS calls. It holds what every driver shares: the container
//! [`Command`] and its [`ProcessConfig`], [`ExitStatus`], the [`Hooks`] callbacks, the
//! [`Driver`] trait, and the one [`Error`] type with its stable [`ErrorKind`].
//!
//! `Command` and `ProcessConfig` are also the JSON wire form of the C ABI
//! (`docs/command.md`): [`Command::from_json`] parses and validates one.

#![deny(unsafe_code)]

pub mod command;
pub mod driver;
pub mod error;
pub mod hooks;
pub mod json;
pub mod process;
pub mod security;
pub mod status;
pub mod stdio;
pub mod time;
pub mod validate;

pub use command::{
    Command, IdMapping, Mount, NamespaceKind, NamespaceMode, Namespaces, Resources,
    DEFAULT_ID_MAPPING,
};
pub use driver::Driver;
pub use error::{Error, ErrorKind, OsFailure, Result};
pub use hooks::{Hooks, NoHooks};
pub use process::{ConsoleSize, IdOrName, ProcessConfig, Rlimit, UserSpec};
pub use security::{DeviceRule, HostDevice, SeccompProfile, SeccompSetting};
pub use status::{ContainerState, ExitStatus, Stats, Status};
pub use stdio::{RawStdio, Stdio};
