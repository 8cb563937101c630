//! Terminals. With `--console-socket`, the master of the container's terminal goes to the
//! caller over that Unix socket (`SCM_RIGHTS`, as runc sends it: the fd with its name as the
//! message). In the foreground without one (`berth run` at a shell), the CLI relays between
//! its own stdio and the master, with its terminal in raw mode.

use std::io::{IoSlice, Read, Write};
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::sync::Arc;

use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
use nix::sys::termios::{self, SetArg, Termios};
use parking_lot::Mutex;
use runtime_core::{Hooks, RawStdio};

use crate::error::{CliError, CliResult, Step};

/// Sends `master` to the socket at `path`.
pub fn send_master(path: &str, master: BorrowedFd<'_>) -> CliResult<()> {
    let stream =
        UnixStream::connect(path).step(|| format!("connect to the console socket {path}"))?;
    let name = b"/dev/ptmx";
    let fds = [master.as_raw_fd()];
    sendmsg::<()>(
        stream.as_raw_fd(),
        &[IoSlice::new(name)],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )
    .step(|| format!("send the terminal master over {path}"))?;
    Ok(())
}

/// What becomes of a container process's terminal master.
#[derive(Debug, Clone)]
pub enum ConsoleTarget {
    /// No terminal is expected.
    None,
    /// Sent to the caller's socket.
    Socket(String),
    /// Kept by this process (a foreground relay).
    Keep,
}

/// The library's hooks for one `create` or `exec`: the master goes where it should, and
/// what went wrong is kept for the caller to see after the call (a hook cannot return an
/// error).
pub struct ConsoleHooks {
    target: ConsoleTarget,
    pub failure: Mutex<Option<CliError>>,
    pub kept: Mutex<Option<OwnedFd>>,
}

impl ConsoleHooks {
    pub fn new(target: ConsoleTarget) -> Arc<ConsoleHooks> {
        Arc::new(ConsoleHooks {
            target,
            failure: Mutex::new(None),
            kept: Mutex::new(None),
        })
    }

    /// The error a hook met, if any.
    pub fn take_failure(&self) -> CliResult<()> {
        match self.failure.lock().take() {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }
}

impl Hooks for ConsoleHooks {
    fn on_console(&self, _id: &str, master: RawStdio) {
        // The library hands us ownership of `master` (see `Hooks::on_console`).
        let master = crate::fd::own(master);
        match &self.target {
            ConsoleTarget::Socket(path) => {
                if let Err(error) = send_master(path, std::os::fd::AsFd::as_fd(&master)) {
                    *self.failure.lock() = Some(error);
                }
            }
            ConsoleTarget::Keep => *self.kept.lock() = Some(master),
            ConsoleTarget::None => {}
        }
    }
}

/// The relay of a foreground terminal. The caller's terminal goes back to its old mode when
/// this is dropped.
pub struct Relay {
    saved: Option<(std::fs::File, Termios)>,
}

impl Relay {
    /// Starts copying stdin → master and master → stdout on threads of their own.
    pub fn start(master: OwnedFd) -> CliResult<Relay> {
        let stdin = std::io::stdin();
        let saved = match termios::tcgetattr(&stdin) {
            Ok(original) => {
                let mut raw = original.clone();
                termios::cfmakeraw(&mut raw);
                termios::tcsetattr(&stdin, SetArg::TCSANOW, &raw)
                    .step(|| "put the terminal in raw mode".to_string())?;
                Some((std::fs::File::from(stdin_fd()?), original))
            }
            Err(_) => None,
        };
        let mut to_master = std::fs::File::from(master);
        let mut from_master = to_master
            .try_clone()
            .step(|| "dup the terminal master".to_string())?;
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            let mut input = std::io::stdin();
            while let Ok(n) = input.read(&mut buf) {
                if n == 0 || to_master.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        });
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            let mut output = std::io::stdout();
            while let Ok(n) = from_master.read(&mut buf) {
                if n == 0 || output.write_all(&buf[..n]).is_err() {
                    break;
                }
                let _ = output.flush();
            }
        });
        Ok(Relay { saved })
    }
}

fn stdin_fd() -> CliResult<OwnedFd> {
    nix::unistd::dup(std::io::stdin()).step(|| "dup stdin".to_string())
}

impl Drop for Relay {
    fn drop(&mut self) {
        if let Some((terminal, original)) = &self.saved {
            let _ = termios::tcsetattr(terminal, SetArg::TCSANOW, original);
        }
    }
}
