//! [`HcsDriver`]: the shared lifecycle over the HCS platform, and its options.

use std::path::PathBuf;

use runtime_core::{Lifecycle, OnDrop, Result};
use serde::Deserialize;

use crate::hcs::Hcs;
use crate::platform::{HcsPlatform, Timeouts};

/// What `berth_driver_new({"kind": "windows", ...})` takes besides `kind`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WindowsOptions {
    /// Where the containers' state lives: `%ProgramData%\berth` by default.
    pub root: PathBuf,
    /// Leave the containers running when the driver is dropped, for a later driver on the
    /// same root to take back (the compute systems outlive their handles).
    pub keep_containers: bool,
    /// How long the driver waits for HCS.
    pub timeouts: Timeouts,
}

impl Default for WindowsOptions {
    fn default() -> Self {
        WindowsOptions {
            root: default_root(),
            keep_containers: false,
            timeouts: Timeouts::default(),
        }
    }
}

/// `%ProgramData%\berth`, or `C:\ProgramData\berth` when the variable is not set; on other
/// systems (the tests' fake HCS) `/run/berth-windows`.
fn default_root() -> PathBuf {
    if cfg!(windows) {
        let data = std::env::var_os("ProgramData").unwrap_or_else(|| r"C:\ProgramData".into());
        PathBuf::from(data).join("berth")
    } else {
        PathBuf::from("/run/berth-windows")
    }
}

/// berth's Windows driver: the shared lifecycle over an [`Hcs`]. On Windows,
/// `HcsDriver::new` runs it over `computecore.dll`; [`HcsDriver::with_hcs`] takes any
/// implementation (the tests' [`crate::fake::FakeHcs`]).
///
/// `create` returns 0 for the pid: HCS cannot create a process suspended, so the init is
/// created by `start`, and its pid reaches `on_start`, `state` and `list` from then on.
pub struct HcsDriver<H: Hcs> {
    lifecycle: Lifecycle<HcsPlatform<H>>,
}

impl<H: Hcs> HcsDriver<H> {
    /// The driver over `hcs`, after taking back what an earlier driver on the same root left.
    pub fn with_hcs(hcs: H, options: WindowsOptions) -> Result<Self> {
        let on_drop = if options.keep_containers {
            OnDrop::Keep
        } else {
            OnDrop::Delete
        };
        let platform = HcsPlatform::new(hcs, options.timeouts);
        Ok(HcsDriver {
            lifecycle: Lifecycle::new(platform, options.root, on_drop)?,
        })
    }

    /// The HCS the driver calls.
    pub fn hcs(&self) -> &H {
        self.lifecycle.platform().hcs()
    }

    /// What recovery found wrong when the driver started.
    pub fn recovery_report(&self) -> &[String] {
        self.lifecycle.recovery_report()
    }
}

#[cfg(windows)]
impl HcsDriver<crate::computecore::ComputeCore> {
    /// The driver over the Host Compute Service of this machine. UNSUPPORTED, naming what is
    /// missing, where `computecore.dll` (Windows 10 1809 / Server 2019 and later) or one of
    /// its functions is not there.
    pub fn new(options: WindowsOptions) -> Result<Self> {
        HcsDriver::with_hcs(crate::computecore::ComputeCore::load()?, options)
    }
}

runtime_core::driver_over_lifecycle!(impl<H: Hcs> for HcsDriver<H>);
