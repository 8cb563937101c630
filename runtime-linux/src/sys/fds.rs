//! Closing every fd a container must not inherit.

use nix::errno::Errno;

/// Marks every fd from `lowest` up close-on-exec, so that none survives the `execve` of the
/// container's program while the ones still in use (the channel to the host) keep working
/// until then.
pub fn cloexec_from(lowest: u32) -> nix::Result<()> {
    // SAFETY: close_range only changes flags of fds in the range; no memory is involved.
    let rc = unsafe { libc::close_range(lowest, u32::MAX, libc::CLOSE_RANGE_CLOEXEC as i32) };
    Errno::result(rc).map(drop)
}

/// Closes every fd from `lowest` up.
pub fn close_from(lowest: u32) -> nix::Result<()> {
    // SAFETY: closing fds this process owns and will not use again (the caller's promise,
    // checked by it being called first thing in the helper).
    let rc = unsafe { libc::close_range(lowest, u32::MAX, 0) };
    Errno::result(rc).map(drop)
}

/// Duplicates `fd` to a new close-on-exec fd numbered `lowest` or above.
pub fn dup_at_least(
    fd: std::os::fd::BorrowedFd<'_>,
    lowest: i32,
) -> nix::Result<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    let raw = nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(lowest))?;
    // SAFETY: F_DUPFD_CLOEXEC returned a new fd that nothing else owns.
    Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(raw) })
}

/// Duplicates a raw fd the caller of the library owns (and keeps), as [`dup_at_least`] does.
/// An fd that is not open is `EBADF`, never undefined behaviour: `fcntl` checks it.
pub fn dup_callers_fd(raw: i32, lowest: i32) -> nix::Result<std::os::fd::OwnedFd> {
    if raw < 0 {
        return Err(Errno::EBADF);
    }
    // SAFETY: the borrow lasts only for the fcntl, which validates the number itself.
    dup_at_least(unsafe { std::os::fd::BorrowedFd::borrow_raw(raw) }, lowest)
}
