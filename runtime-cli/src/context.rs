//! What every command on a container shares: the state root, and a driver opened on one
//! container's own library root.

use std::path::Path;

use runtime_linux::{DriverOptions, HelperSeal, LinuxDriver};

use crate::error::{CliError, CliResult};
use crate::store::{Locked, Root};

/// The directory under the state root where compiled seccomp programs are kept.
pub const SECCOMP_CACHE: &str = ".seccomp";

pub struct Context {
    pub root: Root,
}

impl Context {
    pub fn new(root: &Path) -> CliResult<Context> {
        Ok(Context {
            root: Root::open(root)?,
        })
    }

    /// A driver on the container's own library root: it takes back this container (and no
    /// other), and leaves it as it is when the invocation ends. It never reaps: a process it
    /// starts that exits is left a zombie for the caller (a child subreaper, once this
    /// invocation is gone) to reap with its status, as with runc.
    pub fn driver(&self, locked: &Locked) -> CliResult<LinuxDriver> {
        self.open_driver(locked, true, false)
    }

    /// [`Context::driver`] for a command that spawns the helper (`create`, a detached `run`
    /// or `exec`): its sealed copy is made meanwhile, by a thread of the driver's.
    pub fn spawning_driver(&self, locked: &Locked) -> CliResult<LinuxDriver> {
        self.open_driver(locked, true, true)
    }

    /// A driver for a foreground `run` or `exec`, which waits for its process itself and so
    /// reaps it.
    pub fn reaping_driver(&self, locked: &Locked) -> CliResult<LinuxDriver> {
        self.open_driver(locked, false, true)
    }

    fn open_driver(
        &self,
        locked: &Locked,
        leave_zombies: bool,
        spawns: bool,
    ) -> CliResult<LinuxDriver> {
        LinuxDriver::new(DriverOptions {
            root: Some(locked.driver_root()),
            keep_containers: true,
            leave_zombies,
            // Compiled seccomp programs, shared by every invocation on this root: compiling
            // one is most of a `create`. A container id starts with a letter or digit, so
            // this name is never one's.
            seccomp_cache: Some(self.root.path().join(SECCOMP_CACHE)),
            // `start`, `kill`, `delete` and the others never spawn the helper: only `create`,
            // `run` and `exec` pay for its sealed copy, made while they map their config and
            // make the cgroups.
            helper_seal: if spawns {
                HelperSeal::Background
            } else {
                HelperSeal::FirstUse
            },
            ..DriverOptions::default()
        })
        .map_err(|error| CliError::new(format!("open the container's driver: {error}")))
    }
}

/// The one container id a command takes, as its first argument.
pub fn one_id<'a>(command: &str, positional: &'a [String]) -> CliResult<&'a str> {
    match positional.first() {
        Some(id) => {
            runtime_core::validate::validate_id("id", id)
                .map_err(|e| CliError::new(format!("{command}: {e}")))?;
            Ok(id)
        }
        None => Err(CliError::new(format!(
            "{command}: requires a container id (berth {command} [options] <container-id>)"
        ))),
    }
}
