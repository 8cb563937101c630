//! Receiving fds over a Unix socket, and accepting connections: nix hands the `SCM_RIGHTS`
//! fds and the accepted sockets over as bare numbers, which become owned fds here, right
//! where the kernel installed them.

use std::io::IoSliceMut;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::cmsg_space;
use nix::sys::socket::{accept4, recvmsg, ControlMessageOwned, MsgFlags, SockFlag};

/// What one [`recv_with_fds`] got.
pub struct Received {
    /// The length of the message, at the start of the buffer.
    pub length: usize,
    /// The fds that came with it, close-on-exec.
    pub fds: Vec<OwnedFd>,
    /// The message or its fds did not fit (`MSG_TRUNC`, `MSG_CTRUNC`).
    pub truncated: bool,
}

/// One `recvmsg` into `buffer`, taking up to `MAX_FDS` fds close-on-exec
/// (`MSG_CMSG_CLOEXEC`). `EINTR` is the caller's to retry.
pub fn recv_with_fds<const MAX_FDS: usize>(
    socket: BorrowedFd<'_>,
    buffer: &mut [u8],
) -> nix::Result<Received> {
    let mut control = cmsg_space!([RawFd; MAX_FDS]);
    let mut iov = [IoSliceMut::new(buffer)];
    let message = recvmsg::<()>(
        socket.as_raw_fd(),
        &mut iov,
        Some(&mut control),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )?;
    let mut fds = Vec::new();
    for cmsg in message.cmsgs()? {
        if let ControlMessageOwned::ScmRights(received) = cmsg {
            // SAFETY: each number is an fd that this recvmsg just installed in our fd table
            // for this message alone (SCM_RIGHTS): nothing else in the process knows it, so
            // it is open and ours to own and close.
            fds.extend(
                received
                    .into_iter()
                    .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }),
            );
        }
    }
    Ok(Received {
        length: message.bytes,
        fds,
        truncated: message
            .flags
            .intersects(MsgFlags::MSG_TRUNC | MsgFlags::MSG_CTRUNC),
    })
}

/// Accepts one connection on the listening `socket`, close-on-exec. `EAGAIN` on a
/// non-blocking listener with nothing to accept; `EINTR` is the caller's to retry.
pub fn accept(socket: BorrowedFd<'_>) -> nix::Result<OwnedFd> {
    let fd = accept4(socket.as_raw_fd(), SockFlag::SOCK_CLOEXEC)?;
    // SAFETY: a successful accept4 returns a new fd, made by this call for this connection,
    // that nothing else in the process knows of.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}
