//! Platform-neutral model of a berth container.
//!
//! This crate makes no OS calls of its own (only std's files, for state, and threads, for
//! hooks), and holds no `unsafe` code (see "Where unsafe code lives" in
//! `docs/architecture.md`). It holds what every driver shares: the container [`Command`] and
//! its [`ProcessConfig`], [`ExitStatus`], the [`Hooks`] callbacks, the [`Driver`] trait, the
//! one [`Error`] type with its stable [`ErrorKind`], and the [`lifecycle`] that turns a
//! driver's [`Platform`] into a [`Driver`].
//!
//! `Command` and `ProcessConfig` are also the JSON wire form of the C ABI
//! (`docs/command.md`): [`Command::from_json`] parses and validates one.

#![deny(unsafe_code)]

pub mod command;
pub mod driver;
pub mod error;
pub mod hooks;
pub mod json;
pub mod lifecycle;
pub mod process;
pub mod security;
pub mod status;
pub mod stdio;
pub mod time;
pub mod validate;
pub mod validated;

pub use command::{
    Command, DeviceNode, HugepageLimit, HyperV, IdMapping, Mount, NamespaceKind, NamespaceMode,
    Namespaces, NetworkPriority, Personality, Resources, ThrottleDevice, WeightDevice,
    WindowsConfig, DEFAULT_ID_MAPPING, ROOTFS_PROPAGATIONS,
};
pub use driver::Driver;
pub use error::{Error, ErrorKind, OsFailure, Result};
pub use hooks::{Hooks, NoHooks};
pub use lifecycle::{Lifecycle, OnDrop, Platform};
pub use process::{
    CapabilitySets, ConsoleSize, IdOrName, ProcessConfig, Rlimit, UserSpec, DEFAULT_UMASK,
};
pub use security::{DeviceRule, HostDevice, SeccompProfile, SeccompSetting};
pub use status::{ContainerState, ExitStatus, Operation, Stats, Status};
pub use stdio::{RawStdio, Stdio, MAX_EXTRA_FDS};
pub use validated::Validated;
