//! Every call of the suite that hands a command or a process to the driver goes through here,
//! so that a change of how they are passed (a validated form, say) is made in one place.

use std::sync::Arc;

use runtime_core::{Command, Driver, ExitStatus, Hooks, ProcessConfig, Result, Stdio};

/// `Driver::create`.
pub(crate) fn create(
    driver: &dyn Driver,
    command: &Command,
    stdio: &Stdio,
    hooks: Arc<dyn Hooks>,
) -> Result<i32> {
    driver.create(command, stdio, hooks)
}

/// `Driver::run`.
pub(crate) fn run(
    driver: &dyn Driver,
    command: &Command,
    stdio: &Stdio,
    hooks: Arc<dyn Hooks>,
) -> Result<ExitStatus> {
    driver.run(command, stdio, hooks)
}

/// `Driver::exec_detached`.
pub(crate) fn exec_detached(
    driver: &dyn Driver,
    id: &str,
    process: &ProcessConfig,
    stdio: &Stdio,
    hooks: Arc<dyn Hooks>,
) -> Result<i32> {
    driver.exec_detached(id, process, stdio, hooks)
}

/// `Driver::exec`.
pub(crate) fn exec(
    driver: &dyn Driver,
    id: &str,
    process: &ProcessConfig,
    stdio: &Stdio,
    hooks: Arc<dyn Hooks>,
) -> Result<ExitStatus> {
    driver.exec(id, process, stdio, hooks)
}
