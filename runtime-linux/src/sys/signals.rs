//! What berth's init (`helper::pid1`) does with signals and children, for every signal
//! number, real-time ones included, which nix's `Signal` cannot name: wait for one, send one,
//! and reap any child.

use nix::errno::Errno;
use nix::sys::signal::SigSet;
use runtime_core::ExitStatus;

/// Waits for one of `set` (blocked by the caller) and returns its number.
pub fn wait_any(set: &SigSet) -> nix::Result<i32> {
    loop {
        // SAFETY: `set` is a valid, initialised sigset_t for the call, and a null siginfo
        // pointer asks for no details; sigwaitinfo writes nothing else.
        let rc = unsafe { libc::sigwaitinfo(set.as_ref(), std::ptr::null_mut()) };
        match Errno::result(rc) {
            Err(Errno::EINTR) => continue,
            other => return other,
        }
    }
}

/// `kill(pid, number)`: a process, or with a negative `pid` a process group.
pub fn send(pid: i32, number: i32) -> nix::Result<()> {
    // SAFETY: kill takes two integers and touches no memory of ours.
    Errno::result(unsafe { libc::kill(pid, number) }).map(drop)
}

/// Reaps one child of the caller that has ended, whichever it is (berth's init reaps every
/// orphan of its container): its pid and status. `None` when none has ended, or none is left.
pub fn reap_any() -> Option<(i32, ExitStatus)> {
    wait(-1, libc::WNOHANG).ok().flatten()
}

/// Blocks until the child `pid` ends, and reaps it.
pub fn wait_for(pid: i32) -> nix::Result<ExitStatus> {
    wait(pid, 0).map(|ended| ended.map_or_else(ExitStatus::unknown, |(_, status)| status))
}

fn wait(pid: i32, options: libc::c_int) -> nix::Result<Option<(i32, ExitStatus)>> {
    loop {
        let mut status: libc::c_int = 0;
        // SAFETY: waitpid writes the status into the int we lend it for the call, nothing else.
        let rc = unsafe { libc::waitpid(pid, &mut status, options) };
        match Errno::result(rc) {
            Err(Errno::EINTR) => continue,
            Err(errno) => return Err(errno),
            Ok(0) => return Ok(None),
            Ok(reaped) => return Ok(Some((reaped, decode(status)))),
        }
    }
}

/// A wait status as berth reports it. Without `WUNTRACED` or `WCONTINUED` it is an exit or a
/// death by signal.
fn decode(status: libc::c_int) -> ExitStatus {
    if libc::WIFEXITED(status) {
        ExitStatus::exited(i64::from(libc::WEXITSTATUS(status)))
    } else if libc::WIFSIGNALED(status) {
        ExitStatus::signaled(libc::WTERMSIG(status))
    } else {
        ExitStatus::unknown()
    }
}
