//! The native driver: the [`runtime_core::Driver`] implementation for Linux.

use std::path::PathBuf;
use std::sync::Arc;

use runtime_core::{Command, ContainerState, Driver, Error, ExitStatus, Hooks, Result, Stdio};
use serde::{Deserialize, Serialize};

/// How a [`LinuxDriver`] is set up. Every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DriverOptions {
    /// Directory for the driver's state (default `/run/berth`).
    #[serde(default)]
    pub root: Option<PathBuf>,
    /// The `berth-init` helper executable.
    #[serde(default)]
    pub helper_path: Option<PathBuf>,
    /// Cgroup parent for containers whose command names none (default `berth`).
    #[serde(default)]
    pub cgroup_parent: Option<String>,
}

/// The native Linux driver.
pub struct LinuxDriver {}

impl LinuxDriver {
    /// Sets the driver up: finds the helper, detects the cgroup layout, creates the state dir.
    pub fn new(_options: DriverOptions) -> Result<Self> {
        Err(Error::Unsupported("native driver (being written)".into()))
    }
}

impl Driver for LinuxDriver {
    fn create(&self, _: &Command, _: &Stdio, _: Arc<dyn Hooks>) -> Result<i32> {
        Err(Error::Unsupported("create".into()))
    }
    fn start(&self, _: &str) -> Result<()> {
        Err(Error::Unsupported("start".into()))
    }
    fn wait(&self, _: &str) -> Result<ExitStatus> {
        Err(Error::Unsupported("wait".into()))
    }
    fn delete(&self, _: &str, _: bool) -> Result<()> {
        Err(Error::Unsupported("delete".into()))
    }
    fn kill(&self, _: &str, _: i32, _: bool) -> Result<()> {
        Err(Error::Unsupported("kill".into()))
    }
    fn state(&self, _: &str) -> Result<ContainerState> {
        Err(Error::Unsupported("state".into()))
    }
    fn list(&self) -> Result<Vec<ContainerState>> {
        Ok(Vec::new())
    }
}
