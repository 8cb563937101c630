//! Closing every fd a container must not inherit.

use nix::errno::Errno;

/// Marks every fd from `lowest` up close-on-exec, so that none survives the `execve` of the
/// container's program while the ones still in use (the channel to the host) keep working
/// until then.
pub fn cloexec_from(lowest: u32) -> nix::Result<()> {
    // SAFETY: with CLOSE_RANGE_CLOEXEC close_range closes nothing: it only sets the
    // close-on-exec flag of the fds in the range, which every owner keeps using as before;
    // no memory is involved.
    let rc = unsafe { libc::close_range(lowest, u32::MAX, libc::CLOSE_RANGE_CLOEXEC as i32) };
    Errno::result(rc).map(drop)
}

/// Closes every fd from `lowest` up.
///
/// # Safety
/// Nothing in the process may own or use an fd in the range, now or later (an `OwnedFd` or a
/// `File` there would later close or use a number the kernel has given to another file).
/// berth calls it only first thing in the `berth-init` helper, where nothing has been opened
/// yet and every fd above the channel is a host's leak.
pub unsafe fn close_from(lowest: u32) -> nix::Result<()> {
    // SAFETY: the caller's promise that no one owns the fds closed; close_range touches no
    // memory of ours.
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
    // SAFETY: a successful F_DUPFD_CLOEXEC returns a new fd, made by this call, that nothing
    // else knows of.
    Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(raw) })
}

/// Duplicates a raw fd the caller of the library owns (and keeps), as [`dup_at_least`] does.
/// An fd that is not open is `EBADF`, never undefined behaviour: `fcntl` checks it.
pub fn dup_callers_fd(raw: i32, lowest: i32) -> nix::Result<std::os::fd::OwnedFd> {
    if raw < 0 {
        return Err(Errno::EBADF);
    }
    // SAFETY: the borrow lasts only for the fcntl, which neither closes nor changes the fd it
    // duplicates; the library's caller owns it and keeps it open for the call (the API's
    // contract), and a number that is not open is EBADF from the kernel, not a memory error.
    dup_at_least(unsafe { std::os::fd::BorrowedFd::borrow_raw(raw) }, lowest)
}
