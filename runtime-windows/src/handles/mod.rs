//! The caller's standard streams as files the driver owns, and a read of one that another
//! thread can stop. The caller lends raw handles (fds on Unix, `HANDLE`s on Windows) for the
//! length of one call ([`runtime_core::Stdio`]'s contract): they are duplicated here, before the
//! call returns. This is the crate's one module with `unsafe` outside `computecore`: taking
//! such a borrowed raw handle.

use std::fs::File;
use std::io;

use runtime_core::RawStdio;

/// The driver's own duplicate of the caller's handle `raw`.
pub fn duplicate(raw: RawStdio) -> io::Result<File> {
    duplicate_raw(raw)
}

#[cfg(unix)]
fn duplicate_raw(raw: RawStdio) -> io::Result<File> {
    use std::os::fd::BorrowedFd;
    if raw < 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{raw} is not a file descriptor"),
        ));
    }
    // SAFETY: `raw` is not -1, and the caller keeps it open for the length of the call that
    // lent it (the contract of `Stdio`); it is only borrowed here to be duplicated.
    let borrowed = unsafe { BorrowedFd::borrow_raw(raw) };
    Ok(File::from(borrowed.try_clone_to_owned()?))
}

#[cfg(windows)]
fn duplicate_raw(raw: RawStdio) -> io::Result<File> {
    use std::os::windows::io::{BorrowedHandle, RawHandle};
    // Neither null nor INVALID_HANDLE_VALUE names a handle that can be duplicated.
    if raw == 0 || raw == -1 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{raw:#x} is not a handle"),
        ));
    }
    // SAFETY: the caller keeps `raw` open for the length of the call that lent it (the
    // contract of `Stdio`); it is only borrowed here to be duplicated (`DuplicateHandle`).
    let borrowed = unsafe { BorrowedHandle::borrow_raw(raw as RawHandle) };
    Ok(File::from(borrowed.try_clone_to_owned()?))
}

/// Whether `file` has something to read (or has reached its end) within `timeout`: so that a
/// thread pumping a caller's stdin can look at a stop flag between waits instead of blocking
/// in `read` for ever.
#[cfg(unix)]
pub fn readable_within(file: &File, timeout: std::time::Duration) -> io::Result<bool> {
    use std::os::fd::AsFd;

    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let millis = u16::try_from(timeout.as_millis()).unwrap_or(u16::MAX);
    let mut fds = [PollFd::new(file.as_fd(), PollFlags::POLLIN)];
    match poll(&mut fds, PollTimeout::from(millis)) {
        Ok(ready) => Ok(ready > 0),
        Err(nix::errno::Errno::EINTR) => Ok(false),
        Err(errno) => Err(io::Error::from(errno)),
    }
}
