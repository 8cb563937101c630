//! One container of a driver: its init's pidfd, cgroup, state dir and hooks, and the record
//! of its life that the driver's calls and the supervisor share.

use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};
use runtime_core::{
    Command, ContainerState, ExitStatus, Hooks, NamespaceKind, NamespaceMode, Status,
};

use crate::cgroups::ContainerCgroup;
use crate::channel::Channel;
use crate::launcher::Launched;
use crate::state::{PersistedState, StateDir};
use crate::supervisor::events::EventQueue;
use crate::supervisor::oom::OomWatch;
use crate::sys;

pub struct Container {
    pub id: String,
    pub pid: i32,
    pub pidfd: Arc<OwnedFd>,
    pub pid_start_time: u64,
    pub cgroup: ContainerCgroup,
    pub created: String,
    pub rootfs: String,
    pub state_dir: StateDir,
    pub hooks: Arc<dyn Hooks>,
    /// The `CLONE_NEW*` flags an exec joins: every namespace not shared with the host.
    pub exec_namespaces: i32,
    /// This container's hooks and clean-up, in order.
    pub events: Arc<EventQueue>,
    pub life: Mutex<Life>,
    /// Signalled when `life.finished` becomes true.
    pub finished: Condvar,
    /// OOM kills already reported through `on_oom`.
    oom_reported: AtomicU64,
    pub oom_watch: Mutex<Option<OomWatch>>,
    /// Duplicates of the terminal masters of the init and of running execs, for `resize`.
    consoles: Mutex<Vec<(u64, OwnedFd)>>,
    next_console: AtomicU64,
}

/// What a container is, fixed at its creation (or recovery).
struct Identity {
    id: String,
    pid: i32,
    pidfd: OwnedFd,
    pid_start_time: u64,
    cgroup: ContainerCgroup,
    created: String,
    rootfs: String,
    state_dir: StateDir,
    hooks: Arc<dyn Hooks>,
    exec_namespaces: i32,
}

pub struct Life {
    pub status: Status,
    /// The channel to an init that waits for start.
    pub channel: Option<Channel>,
    pub exit: Option<ExitStatus>,
    /// The exit is collected, the cgroup gone and `on_exit` has returned.
    pub finished: bool,
}

impl Container {
    pub fn new(
        command: &Command,
        launched: Launched,
        cgroup: ContainerCgroup,
        state_dir: StateDir,
        hooks: Arc<dyn Hooks>,
    ) -> Container {
        let exec_namespaces = NamespaceKind::ALL
            .into_iter()
            .filter(|&kind| *command.namespaces.get(kind) != NamespaceMode::Host)
            .map(crate::helper::clone_flag)
            .fold(0, |flags, flag| flags | flag.bits());
        let Launched {
            pid,
            pidfd,
            channel,
            console: _,
        } = launched;
        Container::assemble(
            Identity {
                id: command.id.clone(),
                pid,
                pidfd,
                pid_start_time: crate::state::process_start_time(pid),
                cgroup,
                created: runtime_core::time::now_rfc3339(),
                rootfs: command.rootfs.clone(),
                state_dir,
                hooks,
                exec_namespaces,
            },
            Status::Created,
            Some(channel),
        )
    }

    /// The recorded status, or `Stopped` for a program that has exited and is not reaped yet.
    pub fn status(&self) -> Status {
        let status = self.life.lock().status;
        match status {
            Status::Running | Status::Paused if self.has_exited() => Status::Stopped,
            status => status,
        }
    }

    pub fn has_exited(&self) -> bool {
        self.life.lock().exit.is_some() || sys::pidfd::has_exited(self.pidfd.as_fd())
    }

    /// Blocks until [`Self::finish`] has run, and returns the exit status.
    pub fn wait_finished(&self) -> ExitStatus {
        let mut life = self.life.lock();
        while !life.finished {
            self.finished.wait(&mut life);
        }
        life.exit.expect("a finished container has an exit status")
    }

    /// Counts OOM kills up to `kills` as reported already (by an earlier driver).
    pub fn set_oom_baseline(&self, kills: u64) {
        self.oom_reported.store(kills, Ordering::Release);
    }

    /// After an OOM event: reports the kills it led to. The event can come before the kernel
    /// has picked and counted its victim (v1 signals the OOM itself), so the counter is read
    /// again for a short while until it moves. Runs on the container's event queue.
    pub fn report_new_ooms(&self) {
        // The victim is usually counted within a fraction of a millisecond: look often at
        // first, then less often, for about 200 ms in all.
        let pauses = std::iter::repeat_n(Duration::from_micros(200), 50)
            .chain(std::iter::repeat_n(Duration::from_millis(5), 40));
        for pause in pauses {
            let kills = self.cgroup.oom_kill_count().unwrap_or(0);
            if kills > self.oom_reported.load(Ordering::Acquire) {
                self.report_ooms(kills);
                return;
            }
            if self.life.lock().exit.is_some() {
                return; // finish reports whatever is left
            }
            std::thread::sleep(pause);
        }
    }

    /// Calls `on_oom` for each OOM kill not reported yet (given the cgroup's counter).
    /// Runs on the container's event queue.
    pub fn report_ooms(&self, kills: u64) {
        let before = self.oom_reported.fetch_max(kills, Ordering::AcqRel);
        for _ in before..kills {
            self.hooks.on_oom(&self.id);
        }
    }

    /// A container an earlier driver started, found alive by a new one. Its hooks are gone
    /// with the old driver, and so is the channel of an init that was never started.
    pub fn recovered(
        state: PersistedState,
        pidfd: OwnedFd,
        cgroup: ContainerCgroup,
        state_dir: StateDir,
    ) -> Container {
        Container::assemble(
            Identity {
                id: state.id,
                pid: state.pid,
                pidfd,
                pid_start_time: state.pid_start_time,
                cgroup,
                created: state.created,
                rootfs: state.rootfs,
                state_dir,
                hooks: Arc::new(runtime_core::NoHooks),
                exec_namespaces: state.exec_namespaces,
            },
            state.status,
            None,
        )
    }

    fn assemble(identity: Identity, status: Status, channel: Option<Channel>) -> Container {
        let Identity {
            id,
            pid,
            pidfd,
            pid_start_time,
            cgroup,
            created,
            rootfs,
            state_dir,
            hooks,
            exec_namespaces,
        } = identity;
        Container {
            id,
            pid,
            pidfd: Arc::new(pidfd),
            pid_start_time,
            cgroup,
            created,
            rootfs,
            state_dir,
            hooks,
            exec_namespaces,
            events: EventQueue::new(),
            life: Mutex::new(Life {
                status,
                channel,
                exit: None,
                finished: false,
            }),
            finished: Condvar::new(),
            oom_reported: AtomicU64::new(0),
            oom_watch: Mutex::new(None),
            consoles: Mutex::new(Vec::new()),
            next_console: AtomicU64::new(0),
        }
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

    /// Resizes every terminal of the container; `false` if it has none.
    pub fn resize(&self, rows: u16, cols: u16) -> nix::Result<bool> {
        let consoles = self.consoles.lock();
        for (_, master) in consoles.iter() {
            sys::terminal::set_window_size(master.as_fd(), rows, cols)?;
        }
        Ok(!consoles.is_empty())
    }

    /// Called by the supervisor the moment it has reaped the init, so that the container
    /// reads as stopped from then on, before the clean-up has run.
    pub fn reaped(&self, exit: ExitStatus) {
        self.life.lock().exit = Some(exit);
    }

    /// After the init exited: records the status, removes the cgroup with whatever is left in
    /// it, saves the state, calls `on_exit` and wakes the waiters. Runs on the container's
    /// event queue.
    pub fn finish(&self, mut exit: ExitStatus) {
        let kills = self.cgroup.oom_kill_count().unwrap_or(0);
        self.report_ooms(kills);
        exit.oom_killed = kills > 0;
        // The init is gone; what it left in the cgroup (no private pid namespace, or a process
        // that escaped its session) goes with the cgroup.
        let _ = self.cgroup.destroy();
        self.consoles.lock().clear();
        {
            let mut life = self.life.lock();
            life.status = Status::Stopped;
            life.channel = None;
            life.exit = Some(exit);
        }
        let _ = self.state_dir.save(&self.persisted());
        self.hooks.on_exit(&self.id, &exit);
        self.life.lock().finished = true;
        self.finished.notify_all();
    }

    pub fn persisted(&self) -> PersistedState {
        let life = self.life.lock();
        PersistedState {
            id: self.id.clone(),
            pid: self.pid,
            pid_start_time: self.pid_start_time,
            status: life.status,
            created: self.created.clone(),
            cgroup_path: self.cgroup.relative_path(),
            rootfs: self.rootfs.clone(),
            exit_status: life.exit,
            exec_namespaces: self.exec_namespaces,
        }
    }

    pub fn state(&self) -> ContainerState {
        let status = self.status();
        let exit = self.life.lock().exit;
        ContainerState {
            id: self.id.clone(),
            pid: if exit.is_some() { 0 } else { self.pid },
            status,
            created: self.created.clone(),
            cgroup_path: self.cgroup.relative_path(),
            rootfs: self.rootfs.clone(),
            exit_status: exit,
        }
    }
}
