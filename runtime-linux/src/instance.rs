//! One container as the native platform knows it: its init's pidfd, its cgroup, the way to
//! an init that waits for start, its OOM watch and its terminals. Its status, exit and hooks
//! are the lifecycle's (`runtime_core::lifecycle`).

use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use runtime_core::{NamespaceKind, NamespaceMode, Namespaces};
use serde::{Deserialize, Serialize};

use crate::cgroups::ContainerCgroup;
use crate::channel::Channel;
use crate::protocol::NamespaceSet;
use crate::supervisor::oom::OomWatch;
use crate::sys;

/// The native platform's part of a container's state file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NativeSaved {
    /// The init's start time in clock ticks since boot (field 22 of `/proc/<pid>/stat`), so
    /// that a reused pid is never mistaken for the container.
    pub pid_start_time: u64,
    pub cgroup_path: String,
    /// The namespaces an exec joins.
    #[serde(default)]
    pub exec_namespaces: NamespaceSet,
    /// The processes keep their starter's session keyring (no new one: `--no-new-keyring`).
    #[serde(default)]
    pub share_session_keyring: bool,
    /// berth's init is pid 1 and records the program's exit in the state directory
    /// ([`crate::exit_record`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub init: bool,
}

pub struct Instance {
    pub id: String,
    pub pid: i32,
    pub pidfd: Arc<OwnedFd>,
    pub pid_start_time: u64,
    pub cgroup: ContainerCgroup,
    /// The namespaces an exec joins: every one not shared with the host.
    pub exec_namespaces: NamespaceSet,
    /// An exec'd process keeps the session keyring of the helper instead of a new one.
    pub share_session_keyring: bool,
    /// The way to an init that waits for start.
    pub start_channel: Mutex<Option<Starter>>,
    pub oom_watch: Mutex<Option<OomWatch>>,
    /// The state directory, where berth's init records the program's exit
    /// ([`crate::exit_record`]); `None` without berth's init.
    pub exit_record: Option<PathBuf>,
    /// This driver sent SIGKILL to the init (or the whole container) while it was alive: an
    /// init killed so records nothing, and a driver that is not its parent sees no status.
    pub killed: Arc<AtomicBool>,
    /// Duplicates of the terminal masters of the init and of running execs, for `resize`.
    consoles: Mutex<Vec<(u64, OwnedFd)>>,
    next_console: AtomicU64,
}

impl Instance {
    pub fn new(
        id: String,
        pid: i32,
        pidfd: OwnedFd,
        pid_start_time: u64,
        cgroup: ContainerCgroup,
        exec: ExecContext,
        start_channel: Option<Starter>,
    ) -> Instance {
        let ExecContext {
            namespaces: exec_namespaces,
            share_session_keyring,
        } = exec;
        Instance {
            id,
            pid,
            pidfd: Arc::new(pidfd),
            pid_start_time,
            cgroup,
            exec_namespaces,
            share_session_keyring,
            start_channel: Mutex::new(start_channel),
            oom_watch: Mutex::new(None),
            exit_record: None,
            killed: Arc::new(AtomicBool::new(false)),
            consoles: Mutex::new(Vec::new()),
            next_console: AtomicU64::new(0),
        }
    }

    /// The instance of a container whose init records the program's exit in `state_dir`.
    pub fn with_exit_record(mut self, state_dir: Option<PathBuf>) -> Instance {
        self.exit_record = state_dir;
        self
    }

    /// Notes a SIGKILL about to go to the init (or to every process) while it is alive.
    pub fn note_sigkill(&self) {
        if !self.has_exited() {
            self.killed.store(true, Ordering::Release);
        }
    }

    pub fn has_exited(&self) -> bool {
        sys::pidfd::has_exited(self.pidfd.as_fd())
    }

    /// Keeps a duplicate of a terminal master for `resize`; returns the key to forget it by.
    pub fn add_console(&self, master: &OwnedFd) -> std::io::Result<u64> {
        let key = self.next_console.fetch_add(1, Ordering::Relaxed);
        self.consoles.lock().push((key, master.try_clone()?));
        Ok(key)
    }

    pub fn remove_console(&self, key: u64) {
        self.consoles.lock().retain(|(k, _)| *k != key);
    }

    pub fn drop_consoles(&self) {
        self.consoles.lock().clear();
    }

    /// Resizes every terminal of the container; `false` if it has none.
    pub fn resize(&self, rows: u16, cols: u16) -> nix::Result<bool> {
        let consoles = self.consoles.lock();
        for (_, master) in consoles.iter() {
            sys::terminal::set_window_size(master.as_fd(), rows, cols)?;
        }
        Ok(!consoles.is_empty())
    }

    pub fn saved(&self) -> NativeSaved {
        NativeSaved {
            pid_start_time: self.pid_start_time,
            cgroup_path: self.cgroup.relative_path(),
            exec_namespaces: self.exec_namespaces,
            share_session_keyring: self.share_session_keyring,
            init: self.exit_record.is_some(),
        }
    }
}

/// What an exec'd process takes from its container: the namespaces it joins and whether it
/// keeps its starter's session keyring.
#[derive(Debug, Clone, Copy)]
pub struct ExecContext {
    pub namespaces: NamespaceSet,
    pub share_session_keyring: bool,
}

impl ExecContext {
    /// The exec context of a container made from `command`.
    pub fn of(command: &runtime_core::Command) -> ExecContext {
        ExecContext {
            namespaces: exec_namespaces(&command.namespaces),
            share_session_keyring: command.share_session_keyring,
        }
    }

    /// The exec context recorded in a state file.
    pub fn saved(saved: &NativeSaved) -> ExecContext {
        ExecContext {
            namespaces: saved.exec_namespaces,
            share_session_keyring: saved.share_session_keyring,
        }
    }
}

/// How a driver reaches an init that waits for start.
#[derive(Debug)]
pub enum Starter {
    /// The channel of the launch: the driver that created the container holds it.
    Channel(Channel),
    /// The container's state directory, where the init listens on its start socket
    /// ([`crate::channel::Listener`]): a later driver's way in.
    Socket(PathBuf),
}

/// The namespaces an exec joins: those the container does not share with the host.
pub fn exec_namespaces(namespaces: &Namespaces) -> NamespaceSet {
    NamespaceKind::ALL
        .into_iter()
        .filter(|&kind| *namespaces.get(kind) != NamespaceMode::Host)
        .collect()
}
