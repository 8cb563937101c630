//! The LXC driver: the same containers through LXC 5.
//!
//! [`LxcDriver`] runs each container with `lxc-execute` (LXC's monitor, one process per
//! container) on a config rendered from the [`runtime_core::Command`] ([`config`]), with
//! berth's own checks of the image first ([`image`]), Docker's seccomp profile in LXC's format
//! ([`seccomp`]), and two hooks of `berth-init` ([`crate::helper::lxc_hook`]): one applies
//! the masks and read-only paths with the native driver's code, one holds LXC's init until
//! start. Around LXC, the native driver's parts do the rest (see `platform`). `docs/lxc.md`
//! has the mapping table and the process tree.

pub mod config;
mod driver;
pub mod image;
mod launch;
mod platform;
pub mod seccomp;

pub use driver::LxcDriver;
pub use platform::{LxcPlatform, LxcSaved};
