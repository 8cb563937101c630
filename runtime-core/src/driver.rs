//! The interface every driver (native Linux, LXC, Windows HCS) implements.

use std::sync::Arc;

use crate::command::{Command, Resources};
use crate::error::{Error, Result};
use crate::hooks::Hooks;
use crate::process::ProcessConfig;
use crate::status::{ContainerState, ExitStatus, Stats};
use crate::stdio::Stdio;

/// A container driver. Every method may be called from many threads at once; an operation on
/// one container never waits for an operation on another.
pub trait Driver: Send + Sync {
    /// Creates, starts and waits for a container, then deletes it. Blocks until it exits.
    fn run(&self, command: &Command, stdio: &Stdio, hooks: Arc<dyn Hooks>) -> Result<ExitStatus> {
        self.create(command, stdio, hooks)?;
        let id = command.id.as_str();
        let outcome = self.start(id).and_then(|()| self.wait(id));
        let deleted = self.delete(id, true);
        let status = outcome?;
        deleted?;
        Ok(status)
    }

    /// Sets a container up and leaves it stopped just before its program runs. Returns the host
    /// pid of its init.
    fn create(&self, command: &Command, stdio: &Stdio, hooks: Arc<dyn Hooks>) -> Result<i32>;

    /// Lets a created container run its program.
    fn start(&self, id: &str) -> Result<()>;

    /// Blocks until the container's init exits and returns how it ended.
    fn wait(&self, id: &str) -> Result<ExitStatus>;

    /// Removes a container. A created or running one is refused unless `force`, which kills it.
    fn delete(&self, id: &str, force: bool) -> Result<()>;

    /// Runs another process in a running container and blocks until it exits.
    fn exec(
        &self,
        id: &str,
        _process: &ProcessConfig,
        _stdio: &Stdio,
        _hooks: Arc<dyn Hooks>,
    ) -> Result<ExitStatus> {
        let _ = id;
        Err(Error::Unsupported("exec".into()))
    }

    /// Starts another process in a running container and returns its host pid at once. Its
    /// exit goes to `hooks.on_exit` (on a thread of the driver) and to [`Driver::wait_exec`];
    /// the driver keeps it until the container is deleted.
    fn exec_detached(
        &self,
        id: &str,
        _process: &ProcessConfig,
        _stdio: &Stdio,
        _hooks: Arc<dyn Hooks>,
    ) -> Result<i32> {
        let _ = id;
        Err(Error::Unsupported("detached exec".into()))
    }

    /// Blocks until the process `pid` started by [`Driver::exec_detached`] in container `id`
    /// exits, and returns how it ended; at once if it has exited already.
    fn wait_exec(&self, id: &str, _pid: i32) -> Result<ExitStatus> {
        let _ = id;
        Err(Error::Unsupported("detached exec".into()))
    }

    /// Changes the resources of a created, running or paused container: the fields given in
    /// `resources` are set, the others keep their values (as `runc update` does).
    fn update(&self, _id: &str, _resources: &Resources) -> Result<()> {
        Err(Error::Unsupported("update".into()))
    }

    /// Sends `signal` to the init, or to every process of the container when `all`.
    fn kill(&self, id: &str, signal: i32, all: bool) -> Result<()>;

    /// Freezes every process of the container.
    fn pause(&self, _id: &str) -> Result<()> {
        Err(Error::Unsupported("pause".into()))
    }

    /// Thaws a paused container.
    fn resume(&self, _id: &str) -> Result<()> {
        Err(Error::Unsupported("resume".into()))
    }

    /// Changes the terminal size of the container's (or its execs') terminal.
    fn resize(&self, _id: &str, _rows: u16, _cols: u16) -> Result<()> {
        Err(Error::Unsupported("resize".into()))
    }

    /// The state of one container.
    fn state(&self, id: &str) -> Result<ContainerState>;

    /// The state of every container of this driver.
    fn list(&self) -> Result<Vec<ContainerState>>;

    /// Resource usage of a container.
    fn stats(&self, _id: &str) -> Result<Stats> {
        Err(Error::Unsupported("stats".into()))
    }
}

/// Implements [`Driver`] for a driver type that holds its `lifecycle` (a
/// [`crate::Lifecycle`]): every operation is the lifecycle's. For a generic driver, name its
/// parameters: `driver_over_lifecycle!(impl<H: Hcs> for HcsDriver<H>)`.
#[macro_export]
macro_rules! driver_over_lifecycle {
    (impl<$($param:ident: $bound:path),*> for $driver:ty) => {
        impl<$($param: $bound),*> $crate::Driver for $driver {
            fn create(
                &self,
                command: &$crate::Command,
                stdio: &$crate::Stdio,
                hooks: ::std::sync::Arc<dyn $crate::Hooks>,
            ) -> $crate::Result<i32> {
                self.lifecycle.create(command, stdio, hooks)
            }

            fn start(&self, id: &str) -> $crate::Result<()> {
                self.lifecycle.start(id)
            }

            fn wait(&self, id: &str) -> $crate::Result<$crate::ExitStatus> {
                self.lifecycle.wait(id)
            }

            fn delete(&self, id: &str, force: bool) -> $crate::Result<()> {
                self.lifecycle.delete(id, force)
            }

            fn exec(
                &self,
                id: &str,
                process: &$crate::ProcessConfig,
                stdio: &$crate::Stdio,
                hooks: ::std::sync::Arc<dyn $crate::Hooks>,
            ) -> $crate::Result<$crate::ExitStatus> {
                self.lifecycle.exec(id, process, stdio, hooks)
            }

            fn exec_detached(
                &self,
                id: &str,
                process: &$crate::ProcessConfig,
                stdio: &$crate::Stdio,
                hooks: ::std::sync::Arc<dyn $crate::Hooks>,
            ) -> $crate::Result<i32> {
                self.lifecycle.exec_detached(id, process, stdio, hooks)
            }

            fn wait_exec(
                &self,
                id: &str,
                pid: i32,
            ) -> $crate::Result<$crate::ExitStatus> {
                self.lifecycle.wait_exec(id, pid)
            }

            fn update(
                &self,
                id: &str,
                resources: &$crate::Resources,
            ) -> $crate::Result<()> {
                self.lifecycle.update(id, resources)
            }

            fn kill(&self, id: &str, signal: i32, all: bool) -> $crate::Result<()> {
                self.lifecycle.kill(id, signal, all)
            }

            fn pause(&self, id: &str) -> $crate::Result<()> {
                self.lifecycle.pause(id)
            }

            fn resume(&self, id: &str) -> $crate::Result<()> {
                self.lifecycle.resume(id)
            }

            fn resize(&self, id: &str, rows: u16, cols: u16) -> $crate::Result<()> {
                self.lifecycle.resize(id, rows, cols)
            }

            fn state(&self, id: &str) -> $crate::Result<$crate::ContainerState> {
                self.lifecycle.state(id)
            }

            fn list(&self) -> $crate::Result<::std::vec::Vec<$crate::ContainerState>> {
                self.lifecycle.list()
            }

            fn stats(&self, id: &str) -> $crate::Result<$crate::Stats> {
                self.lifecycle.stats(id)
            }
        }
    };
    ($driver:ty) => {
        $crate::driver_over_lifecycle!(impl<> for $driver);
    };
}
