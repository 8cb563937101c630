//! A terminal for a container process, allocated in the container's own devpts instance (so
//! the slave is the container's `/dev/pts/N`), whose master goes to the host.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use nix::fcntl::OFlag;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::stat::Mode;
use nix::unistd::{dup2_stderr, dup2_stdin, dup2_stdout, setsid};
use runtime_core::{ConsoleSize, Result};

use crate::error::StepExt;
use crate::sys;

/// A pty pair opened inside the container.
pub struct Terminal {
    pub master: OwnedFd,
    slave: OwnedFd,
    slave_path: String,
}

impl Terminal {
    /// A new pty from `ptmx`, an open multiplexer of the container's devpts: the init opens
    /// it through berth's `/dev` fd, an exec'd process as the container's `/dev/ptmx`
    /// ([`Terminal::open_ptmx`]). The slave comes from the master itself (`TIOCGPTPEER`),
    /// not from a path.
    pub fn new(ptmx: OwnedFd, size: Option<ConsoleSize>) -> Result<Terminal> {
        sys::terminal::unlock(ptmx.as_fd()).step(|| "unlock the pty (TIOCSPTLCK)")?;
        let number =
            sys::terminal::pty_number(ptmx.as_fd()).step(|| "number the pty (TIOCGPTN)")?;
        let slave_path = format!("/dev/pts/{number}");
        let slave = sys::terminal::open_peer(ptmx.as_fd())
            .step(|| format!("open {slave_path} (TIOCGPTPEER)"))?;
        if let Some(size) = size {
            sys::terminal::set_window_size(slave.as_fd(), size.rows, size.cols)
                .step(|| format!("set the size of {slave_path}"))?;
        }
        Ok(Terminal {
            master: ptmx,
            slave,
            slave_path,
        })
    }

    /// Opens `/dev/ptmx` of the current root: for a process that joined a running container.
    pub fn open_ptmx() -> Result<OwnedFd> {
        nix::fcntl::open(
            "/dev/ptmx",
            OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .step(|| "open /dev/ptmx")
    }

    /// The slave, for binding onto `/dev/console`.
    pub fn slave(&self) -> BorrowedFd<'_> {
        self.slave.as_fd()
    }

    /// Makes the slave the process's controlling terminal and its stdin, stdout and stderr.
    /// Consumes the terminal: the master must not stay open in the container.
    pub fn attach(self) -> Result<()> {
        setsid().step(|| "setsid")?;
        sys::terminal::make_controlling(self.slave.as_fd())
            .step(|| format!("make {} the controlling terminal", self.slave_path))?;
        let slave = self.slave.as_fd();
        dup2_stdin(slave).step(|| format!("dup {} onto stdin", self.slave_path))?;
        dup2_stdout(slave).step(|| format!("dup {} onto stdout", self.slave_path))?;
        dup2_stderr(slave).step(|| format!("dup {} onto stderr", self.slave_path))
    }
}

/// Whether the terminal on `fd` has hung up: its master closed (`POLLHUP`, which a slave
/// whose master is open never reports). A poll that fails (a seccomp profile may deny it)
/// reads as no.
pub fn hung_up(fd: BorrowedFd<'_>) -> bool {
    let mut fds = [PollFd::new(fd, PollFlags::empty())];
    matches!(poll(&mut fds, PollTimeout::ZERO), Ok(1))
        && fds[0]
            .revents()
            .is_some_and(|events| events.contains(PollFlags::POLLHUP))
}
