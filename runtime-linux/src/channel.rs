//! The socket between the host and `berth-init`: one `SOCK_SEQPACKET` socketpair, so that each
//! message arrives whole, fds can ride along (`SCM_RIGHTS`), and the host sees end-of-file
//! exactly when the container's program has been exec'd (the init's end is close-on-exec).
//!
//! A container's init also listens on its start socket ([`Listener`], `start.sock` in the
//! container's state directory), so that a later driver, in this process or another, can
//! connect ([`Channel::connect`]) and start a container whose creator is gone: the connection
//! is a channel like the first, of the same kind, speaking the same protocol.

use std::io::IoSlice;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::Path;
use std::time::Duration;

use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::sys::socket::{
    bind, connect, listen, sendmsg, setsockopt, socket, socketpair, sockopt, AddressFamily,
    Backlog, ControlMessage, MsgFlags, SockFlag, SockType, UnixAddr,
};
use nix::sys::stat::{fchmodat, FchmodatFlags, Mode};
use nix::sys::time::TimeVal;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::sys;

/// The largest message either side accepts: a plan with many mounts stays well below it.
const MAX_MESSAGE: usize = 256 * 1024;
/// The most fds one message carries: one per namespace kind and then some, and a process's
/// extra fds (`runtime_core::MAX_EXTRA_FDS`). The kernel takes at most 253 (`SCM_MAX_FD`).
const MAX_FDS: usize = 16 + runtime_core::MAX_EXTRA_FDS;
const _: () = assert!(MAX_FDS <= 253, "SCM_MAX_FD");

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

    /// Another fd of the same socket, numbered `lowest` or above (close-on-exec).
    pub fn duplicate_at_least(&self, lowest: RawFd) -> nix::Result<Channel> {
        sys::fds::dup_at_least(self.0.as_fd(), lowest).map(Channel)
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

impl Channel {
    /// Connects to the start socket in the container's state directory `dir`. `ECONNREFUSED`
    /// when no init listens there any more (it has started, or it is gone); `ENOENT` when
    /// there is no socket.
    pub fn connect(dir: &Path) -> nix::Result<Channel> {
        Channel::connect_to(dir, START_SOCKET)
    }

    /// Connects to the socket `name` in `dir` (a start socket, or the LXC driver's launch
    /// socket).
    pub fn connect_to(dir: &Path, name: &str) -> nix::Result<Channel> {
        let socket = seqpacket(SockFlag::empty())?;
        at_socket(dir, name, |address, _| connect(socket.as_raw_fd(), address))?;
        Ok(Channel(socket))
    }
}

/// Takes over an fd that is a socket of such a pair (the helper's inherited fd 3), or a
/// connection to the start socket.
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

/// The name of the start socket in a container's state directory.
pub const START_SOCKET: &str = "start.sock";

/// The most connections the start socket queues before they are accepted.
const BACKLOG: i32 = 4;

/// The listening end of a container's start socket. Non-blocking: [`Listener::accept`] says
/// when there is nothing to accept.
#[derive(Debug)]
pub struct Listener(OwnedFd);

impl Listener {
    /// Makes the start socket in the container's (new) state directory `dir`, readable and
    /// writable by its owner alone (connecting needs write access), and listens on it.
    /// Nothing can connect before the mode is set: connections are refused until `listen`.
    pub fn bind(dir: &Path) -> nix::Result<Listener> {
        Listener::bind_to(dir, START_SOCKET)
    }

    /// Makes the socket `name` in `dir`, as [`Listener::bind`] does the start socket.
    pub fn bind_to(dir: &Path, name: &str) -> nix::Result<Listener> {
        let socket = seqpacket(SockFlag::SOCK_NONBLOCK)?;
        at_socket(dir, name, |address, dir| {
            bind(socket.as_raw_fd(), address)?;
            fchmodat(
                dir.as_fd(),
                name,
                Mode::S_IRUSR | Mode::S_IWUSR,
                FchmodatFlags::FollowSymlink,
            )
        })?;
        listen(&socket, Backlog::new(BACKLOG)?)?;
        Ok(Listener(socket))
    }

    /// The next connection, close-on-exec; `None` when there is none (any more).
    pub fn accept(&self) -> nix::Result<Option<Channel>> {
        loop {
            match sys::socket::accept(self.0.as_fd()) {
                Ok(fd) => return Ok(Some(Channel(fd))),
                Err(Errno::EINTR) => continue,
                // Gone again before it was accepted: as if it had never come.
                Err(Errno::EAGAIN | Errno::ECONNABORTED) => return Ok(None),
                Err(errno) => return Err(errno),
            }
        }
    }
}

/// Takes over an fd that is a start socket's listener (attached to the create plan).
impl From<OwnedFd> for Listener {
    fn from(fd: OwnedFd) -> Listener {
        Listener(fd)
    }
}

impl AsFd for Listener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

/// A new Unix `SOCK_SEQPACKET` socket, close-on-exec, with `flags` besides.
fn seqpacket(flags: SockFlag) -> nix::Result<OwnedFd> {
    socket(
        AddressFamily::Unix,
        SockType::SeqPacket,
        SockFlag::SOCK_CLOEXEC | flags,
        None,
    )
}

/// Calls `call` with the address of the start socket in `dir` and an fd of `dir`. The
/// address goes through that fd (`/proc/self/fd/N/start.sock`): a state directory's path may
/// be longer than a socket address holds (108 bytes), and the directory is pinned while it is
/// used. The fd is `O_PATH` and close-on-exec, and closed before this returns.
fn at_socket<T>(
    dir: &Path,
    name: &str,
    call: impl FnOnce(&UnixAddr, &OwnedFd) -> nix::Result<T>,
) -> nix::Result<T> {
    let dir = open(
        dir,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    let path = format!("/proc/self/fd/{}/{name}", dir.as_raw_fd());
    call(&UnixAddr::new(path.as_str())?, &dir)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    use std::path::PathBuf;

    use super::*;
    use crate::protocol::Request;

    /// A fresh directory whose path is longer than a socket address holds.
    fn long_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir()
            .join(format!("berth-channel-{name}-{}", std::process::id()))
            .join("d".repeat(120));
        let _ = std::fs::remove_dir_all(dir.parent().unwrap());
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn the_start_socket_is_its_owners_alone_and_carries_the_protocol() {
        let dir = long_dir("socket");
        let listener = Listener::bind(&dir).unwrap();
        let meta = std::fs::metadata(dir.join(START_SOCKET)).unwrap();
        assert!(meta.file_type().is_socket());
        assert_eq!(meta.permissions().mode() & 0o7777, 0o600);
        assert!(
            listener.accept().unwrap().is_none(),
            "nothing to accept yet"
        );

        let caller = Channel::connect(&dir).unwrap();
        let accepted = listener.accept().unwrap().expect("the connection");
        caller.send(&Request::Start, &[]).unwrap();
        assert!(matches!(
            accepted.recv::<Request>(),
            Ok(Some((Request::Start, _)))
        ));
        drop(accepted);
        assert!(caller.recv::<Request>().unwrap().is_none(), "end-of-file");

        drop(listener);
        assert_eq!(
            Channel::connect(&dir).unwrap_err(),
            Errno::ECONNREFUSED,
            "nobody listens"
        );
        std::fs::remove_dir_all(dir.parent().unwrap()).unwrap();
        assert_eq!(Channel::connect(&dir).unwrap_err(), Errno::ENOENT);
    }

    #[test]
    fn a_start_socket_is_made_once() {
        let dir = long_dir("once");
        let _listener = Listener::bind(&dir).unwrap();
        assert_eq!(Listener::bind(&dir).unwrap_err(), Errno::EADDRINUSE);
        std::fs::remove_dir_all(dir.parent().unwrap()).unwrap();
    }
}
