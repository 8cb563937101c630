//! `berth-init lxc-hook STATE_DIR`: berth's two hooks in an LXC container's start, which LXC
//! runs (with `NAME lxc TYPE` appended) from the config the LXC driver wrote.
//!
//! - `mount`, in the container's mount and pid namespaces after LXC's mounts and before its
//!   `pivot_root`: checks that `/proc`, `/sys` and `/dev` are the filesystems LXC mounted,
//!   reached through no symlink, then applies the sysctls, Docker's masks and read-only paths
//!   and the read-only rootfs with the native driver's own code (`Mounted::protect`).
//! - `start-host`, in the host's namespaces just before LXC lets its init run the program:
//!   hands the init's pidfd to the driver through the launch socket in the state directory and
//!   waits for start, from that driver or, once it is gone, from a later one through the
//!   start socket, as the native init does. It gives up when the init dies (the container was
//!   killed before it started), which makes LXC abandon the start.
//!
//! A failure is written to [`HOOK_FAILURE`] for the driver to report, and makes the hook exit
//! non-zero, which makes LXC stop the container.

use std::os::fd::AsFd;
use std::path::Path;
use std::process::exit;

use runtime_core::{Command, Error, Result};

use super::init::wait_for_start_until;
use super::rootfs::Mounted;
use crate::channel::{Channel, Listener};
use crate::error::StepExt;
use crate::protocol::{Failure, Report};
use crate::sys;

/// The first argument that selects the hook mode of `berth-init`.
pub const HOOK_ARGUMENT: &str = "lxc-hook";
/// The socket in the state directory on which the driver waits for the start hook.
pub const LAUNCH_SOCKET: &str = "lxc-launch.sock";
/// The command the mount hook applies, written by the driver.
pub const PLAN_FILE: &str = "lxc-plan.json";
/// Where a hook leaves its failure (a `protocol::Failure` as JSON) for the driver.
pub const HOOK_FAILURE: &str = "lxc-hook-failure.json";

/// The entry of the hook mode: `args` are the process's arguments, `berth-init lxc-hook
/// STATE_DIR NAME lxc TYPE`. Never returns.
pub fn main(args: &[String]) -> ! {
    let (Some(dir), Some(kind)) = (args.get(2), args.last()) else {
        eprintln!("berth-init: usage: berth-init {HOOK_ARGUMENT} STATE_DIR NAME lxc TYPE");
        exit(2)
    };
    let dir = Path::new(dir);
    let outcome = match kind.as_str() {
        "mount" => mount_hook(dir),
        "start-host" => start_host_hook(dir),
        other => Err(Error::Internal(format!("berth has no LXC hook {other:?}"))),
    };
    match outcome {
        Ok(()) => exit(0),
        Err(error) => {
            let failure = Failure::from(&error);
            if let Ok(text) = serde_json::to_vec(&failure) {
                let _ = std::fs::write(dir.join(HOOK_FAILURE), text);
            }
            eprintln!("berth-init: LXC {kind} hook: {error}");
            exit(1)
        }
    }
}

fn mount_hook(dir: &Path) -> Result<()> {
    let plan = std::fs::read(dir.join(PLAN_FILE)).step(|| format!("read {PLAN_FILE}"))?;
    let command: Command = serde_json::from_slice(&plan)
        .map_err(|error| Error::Internal(format!("{PLAN_FILE}: {error}")))?;
    let root = std::env::var("LXC_ROOTFS_MOUNT")
        .map_err(|_| Error::Internal("LXC gave the mount hook no LXC_ROOTFS_MOUNT".into()))?;
    let mounted = Mounted::of_lxc(&root)?;
    for (key, value) in &command.sysctls {
        mounted.write_sysctl(key, value)?;
    }
    mounted.protect(&command)
}

fn start_host_hook(dir: &Path) -> Result<()> {
    let pid: i32 = std::env::var("LXC_PID")
        .ok()
        .and_then(|pid| pid.parse().ok())
        .ok_or_else(|| Error::Internal("LXC gave the start-host hook no LXC_PID".into()))?;
    // LXC's init is the monitor's child, which waits for this hook: its pid is not reused
    // before the pidfd exists.
    let init = sys::pidfd::open(pid).step(|| format!("open a pidfd for LXC's init {pid}"))?;
    let listener = Listener::bind(dir).step(|| "make the start socket")?;
    let host = Channel::connect_to(dir, LAUNCH_SOCKET).step(|| "connect to the driver")?;
    host.send(&Report::Spawned { pid }, &[init.as_fd()])
        .step(|| "report LXC's init to the driver")?;
    if wait_for_start_until(&host, listener, init.as_fd()) {
        Ok(())
    } else {
        // Nothing to report: the init is gone, or nobody is left to start it.
        exit(1)
    }
}
