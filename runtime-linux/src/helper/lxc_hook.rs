//! `berth-init lxc-hook STATE_DIR`: berth's hook in an LXC container's start, which LXC runs
//! as `lxc.hook.start-host` (with `NAME lxc start-host` appended) from the config the LXC
//! driver wrote: in the host's namespaces, once LXC has set the container up (its mounts
//! made, `pivot_root` done) and before its init drops privileges and runs the program.
//!
//! 1. It connects to the driver's launch socket in the state directory, and makes the start
//!    socket there for a later driver.
//! 2. It joins the mount, network, IPC and UTS namespaces of LXC's init (through its pidfd)
//!    and, with the native driver's own code, checks that `/proc`, `/sys` and `/dev` are the
//!    filesystems LXC mounted, reached through no symlink, then writes the sysctls (in the
//!    container's namespaces, never the host's) and applies Docker's masks, the read-only
//!    paths and the read-only rootfs (`Mounted::protect`).
//! 3. It hands the init's pidfd to the driver and waits for start, from that driver or, once
//!    it is gone, from a later one through the start socket, as the native init does. It gives
//!    up when the init dies (the container was killed before it started), which makes LXC
//!    abandon the start.
//!
//! One hook, not one per step: LXC runs each hook through `sh -c`, which costs more than all
//! of berth's work in it. A failure goes to the driver on the launch socket, or, before that
//! exists, to [`HOOK_FAILURE`]; it makes the hook exit non-zero, which makes LXC stop the
//! container.

use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::process::exit;

use nix::sched::CloneFlags;
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
/// The command the hook protects the filesystem for, written by the driver.
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

/// Step 2: the container's filesystem protected, from inside its namespaces.
fn protect(dir: &Path, init: &OwnedFd) -> Result<()> {
    let plan = std::fs::read(dir.join(PLAN_FILE)).step(|| format!("read {PLAN_FILE}"))?;
    let command: Command = serde_json::from_slice(&plan)
        .map_err(|error| Error::Internal(format!("{PLAN_FILE}: {error}")))?;
    // The namespaces the sysctls live in, and the mounts: joining one the container shares
    // with the host changes nothing. `setns` of the mount namespace makes the container's
    // root this process's root.
    let flags = CloneFlags::CLONE_NEWNS
        | CloneFlags::CLONE_NEWNET
        | CloneFlags::CLONE_NEWIPC
        | CloneFlags::CLONE_NEWUTS;
    nix::sched::setns(init, flags).step(|| "join the namespaces of LXC's init")?;
    let mounted = Mounted::of_lxc("/")?;
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
    if let Err(error) = protect(dir, &init) {
        super::report_failure(&host, &error);
        exit(1)
    }
    host.send(&Report::Spawned { pid }, &[init.as_fd()])
        .step(|| "report LXC's init to the driver")?;
    if wait_for_start_until(&host, listener, init.as_fd()) {
        Ok(())
    } else {
        // Nothing to report: the init is gone, or nobody is left to start it.
        exit(1)
    }
}
