//! Callbacks a driver makes while a container lives.

use crate::status::ExitStatus;
use crate::stdio::RawStdio;

/// Callbacks on the events of one container (or one exec). Every method has an empty default.
///
/// Drivers may call them from a thread of their own, and concurrently for different containers;
/// which thread runs which hook is documented by each driver. A hook should return quickly.
pub trait Hooks: Send + Sync {
    /// The user's program runs; `pid` is its pid on the host.
    fn on_start(&self, _id: &str, _pid: i32) {}
    /// The kernel's OOM killer killed a process in the container.
    fn on_oom(&self, _id: &str) {}
    /// The process has exited and been reaped.
    fn on_exit(&self, _id: &str, _status: &ExitStatus) {}
    /// The terminal master of a `tty` process; the callee owns it and must close it.
    fn on_console(&self, _id: &str, _master: RawStdio) {}
}

/// Hooks that do nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHooks;

impl Hooks for NoHooks {}
