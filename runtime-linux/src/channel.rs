//! The socket between the host and `berth-init`: one `SOCK_SEQPACKET` socketpair, so that each
//! message arrives whole, fds can ride along (`SCM_RIGHTS`), and the host sees end-of-file
//! exactly when the container's program has been exec'd (the init's end is close-on-exec).

use std::io::IoSlice;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::socket::{
    sendmsg, setsockopt, socketpair, sockopt, AddressFamily, ControlMessage, MsgFlags, SockFlag,
    SockType,
};
use nix::sys::time::TimeVal;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::sys;

/// The largest message either side accepts: a plan with many mounts stays well below it.
const MAX_MESSAGE: usize = 256 * 1024;
/// The most fds one message carries (one per namespace kind, and then some).
const MAX_FDS: usize = 16;

/// One end of the host–helper socket.
#[derive(Debug)]
pub struct Channel(OwnedFd);

impl Channel {
    /// A connected pair, both ends close-on-exec.
    pub fn pair() -> nix::Result<(Channel, Channel)> {
        let (a, b) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )?;
        Ok((Channel(a), Channel(b)))
    }

    /// Makes `recv` give up with `EAGAIN` after `timeout`.
    pub fn set_receive_timeout(&self, timeout: Duration) -> nix::Result<()> {
        setsockopt(
            &self.0,
            sockopt::ReceiveTimeout,
            &TimeVal::new(timeout.as_secs() as i64, timeout.subsec_micros() as i64),
        )
    }

    /// Sends one message, with `fds` attached. Never raises `SIGPIPE`.
    pub fn send<T: Serialize>(&self, message: &T, fds: &[BorrowedFd<'_>]) -> nix::Result<()> {
        let bytes = serde_json::to_vec(message).map_err(|_| Errno::EINVAL)?;
        let raw: Vec<RawFd> = fds.iter().map(|fd| fd.as_raw_fd()).collect();
        let control = [ControlMessage::ScmRights(&raw)];
        let control: &[ControlMessage] = if raw.is_empty() { &[] } else { &control };
        loop {
            match sendmsg::<()>(
                self.0.as_raw_fd(),
                &[IoSlice::new(&bytes)],
                control,
                MsgFlags::MSG_NOSIGNAL,
                None,
            ) {
                Err(Errno::EINTR) => continue,
                other => return other.map(drop),
            }
        }
    }

    /// Receives one message and the fds that came with it (close-on-exec). `Ok(None)` is
    /// end-of-file: every other end is closed.
    pub fn recv<T: DeserializeOwned>(&self) -> nix::Result<Option<(T, Vec<OwnedFd>)>> {
        let mut buffer = vec![0u8; MAX_MESSAGE];
        let (length, fds) = loop {
            match sys::socket::recv_with_fds::<MAX_FDS>(self.0.as_fd(), &mut buffer) {
                Err(Errno::EINTR) => continue,
                Err(errno) => return Err(errno),
                Ok(received) if received.truncated => return Err(Errno::EMSGSIZE),
                Ok(received) => break (received.length, received.fds),
            }
        };
        if length == 0 && fds.is_empty() {
            return Ok(None);
        }
        let message = serde_json::from_slice(&buffer[..length]).map_err(|_| Errno::EBADMSG)?;
        Ok(Some((message, fds)))
    }
}

/// Takes over an fd that is a socket of such a pair (the helper's inherited fd 3).
impl From<OwnedFd> for Channel {
    fn from(fd: OwnedFd) -> Channel {
        Channel(fd)
    }
}

impl AsFd for Channel {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}
