//! A terminal for a container process, allocated in the container's own devpts instance (so
//! the slave is the container's `/dev/pts/N`), whose master goes to the host.

use std::os::fd::{AsFd, OwnedFd};

use nix::fcntl::OFlag;
use nix::mount::{mount, MsFlags};
use nix::pty::{grantpt, posix_openpt, ptsname_r, unlockpt};
use nix::sys::stat::{mknod, Mode, SFlag};
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
    /// Opens `/dev/ptmx` of the current root (the container's, after `pivot_root` or `setns`)
    /// and the slave it gives.
    pub fn open(size: Option<ConsoleSize>) -> Result<Terminal> {
        let master = posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)
            .step(|| "open /dev/ptmx")?;
        grantpt(&master).step(|| "grantpt")?;
        unlockpt(&master).step(|| "unlockpt")?;
        let slave_path = ptsname_r(&master).step(|| "ptsname")?;
        let slave = nix::fcntl::open(
            slave_path.as_str(),
            OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .step(|| format!("open {slave_path}"))?;
        if let Some(size) = size {
            sys::terminal::set_window_size(slave.as_fd(), size.rows, size.cols)
                .step(|| format!("set the size of {slave_path}"))?;
        }
        Ok(Terminal {
            master: master.into(),
            slave,
            slave_path,
        })
    }

    /// Binds the slave onto `/dev/console`, as a container's init expects.
    pub fn bind_console(&self) -> Result<()> {
        match mknod(
            "/dev/console",
            SFlag::S_IFREG,
            Mode::from_bits_truncate(0o600),
            0,
        ) {
            Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
            Err(errno) => return Err(errno).step(|| "create /dev/console"),
        }
        mount(
            Some(self.slave_path.as_str()),
            "/dev/console",
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .step(|| format!("bind {} onto /dev/console", self.slave_path))
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
