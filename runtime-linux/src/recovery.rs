//! Taking back a container an earlier driver left (created, running or paused): its pid is
//! trusted only while its start time matches the recorded one, so a reused pid is never
//! signalled.

use std::os::fd::{AsFd, OwnedFd};

use crate::sys;

/// A pidfd for the recorded init if it still runs and is the same process (same start time).
pub fn adopt(pid: i32, recorded_start_time: u64) -> Option<OwnedFd> {
    if pid <= 0 || recorded_start_time == 0 {
        return None;
    }
    let pidfd = sys::pidfd::open(pid).ok()?;
    // Read after the pidfd exists: if the pid was reused before, the start time differs; after,
    // the pidfd pins the process it names.
    if process_start_time(pid) != recorded_start_time {
        return None;
    }
    if sys::pidfd::has_exited(pidfd.as_fd()) {
        // It exited while no driver watched it. If it is this process's child (a driver of
        // this process let it go), it is reaped here, or it would stay a zombie; another's
        // child is not ours to reap (ECHILD).
        let _ = sys::pidfd::wait(pidfd.as_fd(), true);
        return None;
    }
    Some(pidfd)
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
