//! Taking back a container an earlier driver left (created, running or paused): its pid is
//! trusted only while its start time matches the recorded one, so a reused pid is never
//! signalled.

use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use runtime_core::ExitStatus;

use crate::sys;

/// A pidfd for the recorded init if it still runs and is the same process (same start
/// time); otherwise how it ended, as far as this process can tell: the exact status of one
/// that is this process's own child and ended unwatched (a driver of this process let it go),
/// [`ExitStatus::unknown`] for any other.
pub fn adopt(pid: i32, recorded_start_time: u64) -> Result<OwnedFd, ExitStatus> {
    if pid <= 0 || recorded_start_time == 0 {
        return Err(ExitStatus::unknown());
    }
    let pidfd = sys::pidfd::open(pid).map_err(|_| ExitStatus::unknown())?;
    // Read after the pidfd exists: if the pid was reused before, the start time differs; after,
    // the pidfd pins the process it names.
    if process_start_time(pid) != recorded_start_time {
        return Err(ExitStatus::unknown());
    }
    if sys::pidfd::has_exited(pidfd.as_fd()) {
        // It exited while no driver watched it. If it is this process's child, it is reaped
        // here, or it would stay a zombie; another's child is not ours to reap (ECHILD).
        let waited = sys::pidfd::wait(pidfd.as_fd(), true);
        return Err(waited.ok().flatten().unwrap_or_else(ExitStatus::unknown));
    }
    Ok(pidfd)
}

/// Whether the init of a created container (its state directory `state_dir`) still waits
/// for start: its start socket still listens. An init that took start closed its listener
/// before its exec, so a container whose driver died in the middle of a start reads as
/// running.
pub fn waits_for_start(state_dir: &Path) -> bool {
    match crate::channel::Channel::connect(state_dir) {
        Ok(_) => true,
        Err(errno) => errno != nix::errno::Errno::ECONNREFUSED,
    }
}

/// The start time of `pid` in clock ticks since boot, or 0 if it cannot be read.
pub fn process_start_time(pid: i32) -> u64 {
    stat_field(pid, 19)
        .and_then(|field| field.parse().ok())
        .unwrap_or(0)
}

/// The state letter of `pid` (`R`, `S`, `Z`, ...), if it can be read.
pub fn process_state(pid: i32) -> Option<char> {
    stat_field(pid, 0).and_then(|field| field.chars().next())
}

/// Field `index` of `/proc/<pid>/stat` counted from the state (field 3). The command name
/// may hold spaces and parentheses: fields start after the last ')'.
fn stat_field(pid: i32, index: usize) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(index).map(str::to_string)
}
