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
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    stat.rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().nth(19))
        .and_then(|field| field.parse().ok())
        .unwrap_or(0)
}
