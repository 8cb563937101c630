//! Process file descriptors: waiting for and signalling one exact process, free of pid reuse,
//! and never touching the host's other children.

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use nix::errno::Errno;
use runtime_core::ExitStatus;

/// Opens a pidfd for `pid`.
pub fn open(pid: i32) -> nix::Result<OwnedFd> {
    // SAFETY: pidfd_open takes two integers, no pointer, and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(Errno::last());
    }
    // SAFETY: not -1, so the kernel made a new fd for this call, which nothing else knows of.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Sends `signal` to the process. `ESRCH` means it has exited (it may still be a zombie).
pub fn send_signal(pidfd: BorrowedFd<'_>, signal: i32) -> nix::Result<()> {
    // SAFETY: a valid pidfd, a signal number, no siginfo, no flags.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            signal,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    Errno::result(rc).map(drop)
}

/// Reaps the process, blocking until it exits unless `no_hang`. `Ok(None)`: still running.
pub fn wait(pidfd: BorrowedFd<'_>, no_hang: bool) -> nix::Result<Option<ExitStatus>> {
    waitid(
        pidfd,
        libc::WEXITED | if no_hang { libc::WNOHANG } else { 0 },
    )
}

/// The status of the process if it has exited, leaving it unreaped (`WNOWAIT`): a zombie
/// for its parent, or the parent's child subreaper, to reap. `Ok(None)`: still running.
pub fn peek_exit(pidfd: BorrowedFd<'_>) -> nix::Result<Option<ExitStatus>> {
    waitid(pidfd, libc::WEXITED | libc::WNOHANG | libc::WNOWAIT)
}

fn waitid(pidfd: BorrowedFd<'_>, options: libc::c_int) -> nix::Result<Option<ExitStatus>> {
    loop {
        // SAFETY: siginfo_t is plain data that waitid fills.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: P_PIDFD with a valid pidfd and a writable siginfo_t.
        let rc = unsafe {
            libc::waitid(
                libc::P_PIDFD,
                pidfd.as_raw_fd() as libc::id_t,
                &mut info,
                options,
            )
        };
        match Errno::result(rc) {
            Err(Errno::EINTR) => continue,
            Err(errno) => return Err(errno),
            Ok(_) => {}
        }
        // SAFETY: waitid succeeded, so si_pid and si_status are the child's fields.
        let (pid, status) = unsafe { (info.si_pid(), info.si_status()) };
        if pid == 0 {
            return Ok(None);
        }
        return Ok(Some(match info.si_code {
            libc::CLD_EXITED => ExitStatus::exited(i64::from(status)),
            _ => ExitStatus::signaled(status),
        }));
    }
}

/// Whether the process has exited (it may not be reaped yet). Does not reap it.
pub fn has_exited(pidfd: BorrowedFd<'_>) -> bool {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let mut fds = [PollFd::new(pidfd, PollFlags::POLLIN)];
    matches!(poll(&mut fds, PollTimeout::ZERO), Ok(n) if n > 0)
}
