//! The LXC driver: the shared lifecycle over the LXC platform ([`super::platform`]).

use std::path::{Path, PathBuf};

use runtime_core::{Error, Lifecycle, Result};

use super::platform::LxcPlatform;
use crate::driver::{native_platform, DriverOptions};

/// Where `lxc-execute` is looked for.
const TOOL_DIRS: [&str; 4] = ["/usr/bin", "/usr/local/bin", "/usr/sbin", "/bin"];

/// The LXC driver: berth's interface over LXC 5's `lxc-execute`. It takes the same options as
/// the native [`crate::LinuxDriver`]; see `docs/lxc.md` for what maps to what.
pub struct LxcDriver {
    lifecycle: Lifecycle<LxcPlatform>,
}

impl LxcDriver {
    /// Sets the driver up: finds `lxc-execute` (Unsupported without LXC) and the helper,
    /// detects the cgroup layout, creates the root and takes back the containers an earlier
    /// LXC driver on the same root left.
    pub fn new(options: DriverOptions) -> Result<Self> {
        let tool = TOOL_DIRS
            .iter()
            .map(|dir| Path::new(dir).join("lxc-execute"))
            .find(|path| path.is_file())
            .ok_or_else(|| {
                Error::Unsupported(
                    "the LXC driver needs lxc-execute (LXC 5), which is not installed".into(),
                )
            })?;
        let platform = LxcPlatform {
            native: native_platform(&options)?,
            tool,
            apparmor: host_has_apparmor(),
        };
        let (root, on_drop) = options.root_and_on_drop();
        Ok(LxcDriver {
            lifecycle: Lifecycle::new(platform, root, on_drop)?,
        })
    }

    /// What recovery found wrong when this driver started (see
    /// [`crate::LinuxDriver::recovery_report`]).
    pub fn recovery_report(&self) -> &[String] {
        self.lifecycle.recovery_report()
    }

    /// The state directory.
    pub fn root(&self) -> &Path {
        self.lifecycle.root()
    }

    /// The `lxc-execute` this driver runs.
    pub fn tool(&self) -> PathBuf {
        self.lifecycle.platform().tool.clone()
    }
}

runtime_core::driver_over_lifecycle!(LxcDriver);

/// Whether AppArmor is enabled on this host.
fn host_has_apparmor() -> bool {
    std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|text| text.trim() == "Y")
}
