//! The CLI's only unsafe code: taking ownership of a file descriptor number that the library
//! hands over (a terminal master) or that the caller gave the CLI (`--preserve-fds`), after
//! checking that it is open.

use std::os::fd::{FromRawFd, OwnedFd, RawFd};

use nix::fcntl::{fcntl, FcntlArg};

/// Takes ownership of `fd`, which the caller guarantees is open and no one else's.
pub fn own(fd: RawFd) -> OwnedFd {
    // SAFETY: `Hooks::on_console` gives the callee sole ownership of the master fd, which the
    // library opened and passes to no one else; this is the one place that wraps it.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// Whether `fd` is open in this process (the caller's fds for `--preserve-fds`, which stay
/// the caller's: they are only borrowed for the library's call).
pub fn is_open(fd: RawFd) -> bool {
    // `F_GETFD` on a raw number reads the flags only; a closed fd gives EBADF.
    fcntl(unsafe_borrow(fd), FcntlArg::F_GETFD).is_ok()
}

fn unsafe_borrow(fd: RawFd) -> std::os::fd::BorrowedFd<'static> {
    // SAFETY: used only for the F_GETFD probe of `is_open`, during which nothing closes fds
    // (the CLI is single-threaded when it checks its inherited fds, before any driver runs).
    unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) }
}
