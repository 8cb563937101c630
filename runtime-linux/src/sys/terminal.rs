//! The two terminal ioctls nix does not wrap: the window size and the controlling terminal.

use std::os::fd::{AsRawFd, BorrowedFd};

use nix::errno::Errno;

/// Sets the window size of the terminal behind `fd` (master or slave).
pub fn set_window_size(fd: BorrowedFd<'_>, rows: u16, cols: u16) -> nix::Result<()> {
    let size = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads a winsize that lives for the call.
    Errno::result(unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, &size) }).map(drop)
}

/// Makes the terminal behind `fd` the controlling terminal of the calling session leader.
pub fn make_controlling(fd: BorrowedFd<'_>) -> nix::Result<()> {
    // SAFETY: TIOCSCTTY takes an integer argument (0: do not steal from another session).
    Errno::result(unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSCTTY, 0) }).map(drop)
}

/// Opens the slave of the pty whose master is `master` (`TIOCGPTPEER`, Linux 4.13): the very
/// peer of that master, reached without a path that a container could have replaced.
pub fn open_peer(master: BorrowedFd<'_>) -> nix::Result<std::os::fd::OwnedFd> {
    let flags = libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC;
    // SAFETY: TIOCGPTPEER takes the open flags as an integer and returns a new fd or -1.
    let fd = unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCGPTPEER, flags) };
    Errno::result(fd)?;
    // SAFETY: not -1 (checked above), so a new fd TIOCGPTPEER made for this call, which
    // nothing else knows of.
    Ok(unsafe { std::os::fd::FromRawFd::from_raw_fd(fd) })
}

/// Unlocks the slave of the pty master `master` (`TIOCSPTLCK` to 0), as `unlockpt` does.
pub fn unlock(master: BorrowedFd<'_>) -> nix::Result<()> {
    let unlocked: libc::c_int = 0;
    // SAFETY: TIOCSPTLCK reads an int that lives for the call.
    Errno::result(unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSPTLCK, &unlocked) }).map(drop)
}

/// The number N of the slave `/dev/pts/N` of the pty master `master` (`TIOCGPTN`).
pub fn pty_number(master: BorrowedFd<'_>) -> nix::Result<u32> {
    let mut number: libc::c_uint = 0;
    // SAFETY: TIOCGPTN writes one unsigned int into `number`, which outlives the call.
    Errno::result(unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCGPTN, &mut number) })?;
    Ok(number)
}
