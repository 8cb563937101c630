//! The native driver: the [`runtime_core::Driver`] implementation for Linux.
//!
//! The path of a `run`: [`LinuxDriver::create`] checks everything it can before touching the
//! system, reserves the id, creates the state dir and the cgroup, and hands a
//! `CreatePlan` to `launcher::launch`, which spawns `berth-init` (see
//! [`crate::helper`]). `start` lets the init exec the program; `wait` reaps it through its
//! pidfd and cleans up; `delete` forgets it.

use std::collections::HashMap;
use std::ffi::CString;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use parking_lot::Mutex;
use runtime_core::{
    Command, ContainerState, Driver, Error, ExitStatus, Hooks, NamespaceKind, NamespaceMode,
    Result, Status, Stdio,
};
use serde::{Deserialize, Serialize};

use crate::cgroups::{CgroupManager, ContainerCgroup};
use crate::channel::Channel;
use crate::error::{os_error, StepExt};
use crate::launcher;
use crate::locate::find_helper;
use crate::mount_options::MountOptions;
use crate::protocol::{CreatePlan, Request};
use crate::state::{process_start_time, PersistedState, StateDir};
use crate::sys;

/// The default state directory.
pub const DEFAULT_ROOT: &str = "/run/berth";

/// How a [`LinuxDriver`] is set up. Every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DriverOptions {
    /// Directory for the driver's state (default `/run/berth`).
    #[serde(default)]
    pub root: Option<PathBuf>,
    /// The `berth-init` helper executable (see [`crate::locate`] for the search otherwise).
    #[serde(default)]
    pub helper_path: Option<PathBuf>,
    /// Cgroup parent for containers whose command names none (default `berth`).
    #[serde(default)]
    pub cgroup_parent: Option<String>,
}

/// The native Linux driver. Cheap to share between threads; see [`Driver`] for the rules.
pub struct LinuxDriver {
    helper: CString,
    root: PathBuf,
    cgroup_parent: Option<String>,
    cgroups: CgroupManager,
    containers: Mutex<HashMap<String, Slot>>,
}

/// A container id's place in the table: reserved while `create` runs, so that a second
/// `create` of the same id fails at once, then the container.
enum Slot {
    Creating,
    Live(Arc<Container>),
}

/// One container of this driver.
struct Container {
    id: String,
    pid: i32,
    pidfd: OwnedFd,
    pid_start_time: u64,
    cgroup: ContainerCgroup,
    created: String,
    rootfs: String,
    state_dir: StateDir,
    hooks: Arc<dyn Hooks>,
    life: Mutex<Life>,
    /// Held while reaping, so that only one thread calls `waitid` and the others then read
    /// the stored status.
    reaper: Mutex<()>,
}

struct Life {
    status: Status,
    /// The channel to an init that waits for start.
    channel: Option<Channel>,
    exit: Option<ExitStatus>,
}

impl LinuxDriver {
    /// Sets the driver up: finds the helper, detects the cgroup layout, creates the root.
    pub fn new(options: DriverOptions) -> Result<Self> {
        let helper = find_helper(options.helper_path.as_deref())?;
        let helper = CString::new(helper.as_os_str().as_encoded_bytes())
            .map_err(|_| Error::invalid("helper_path", "contains NUL"))?;
        if let Some(parent) = &options.cgroup_parent {
            let probe = Command::new("probe", "/probe", runtime_core::ProcessConfig::new(["x"]));
            Command {
                cgroup_parent: Some(parent.clone()),
                ..probe
            }
            .validate()?;
        }
        let root = options.root.unwrap_or_else(|| PathBuf::from(DEFAULT_ROOT));
        if !root.is_absolute() {
            return Err(Error::invalid(
                "root",
                format!("{} is relative; give an absolute path", root.display()),
            ));
        }
        std::fs::create_dir_all(&root).step(|| format!("create state root {}", root.display()))?;
        Ok(LinuxDriver {
            helper,
            root,
            cgroup_parent: options.cgroup_parent,
            cgroups: CgroupManager::detect()?,
            containers: Mutex::new(HashMap::new()),
        })
    }

    /// The state directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn get(&self, id: &str) -> Result<Arc<Container>> {
        match self.containers.lock().get(id) {
            Some(Slot::Live(container)) => Ok(container.clone()),
            _ => Err(Error::no_container(id)),
        }
    }

    /// Everything that can be checked before a side effect, and the namespace fds to join.
    fn prepare(&self, command: &Command) -> Result<(Vec<String>, Vec<OwnedFd>)> {
        command.validate()?;
        match std::fs::metadata(&command.rootfs) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => {
                return Err(Error::invalid(
                    "rootfs",
                    format!("{} is not a directory", command.rootfs),
                ))
            }
            Err(err) => {
                return Err(Error::invalid(
                    "rootfs",
                    format!("{}: {err}", command.rootfs),
                ))
            }
        }
        for (i, mount) in command.mounts.iter().enumerate() {
            let field = format!("mounts[{i}]");
            MountOptions::parse(&field, mount)?;
            if let (true, Some(source)) = (mount.is_bind(), &mount.source) {
                if let Err(err) = std::fs::metadata(source) {
                    return Err(Error::invalid(
                        format!("{field}.source"),
                        format!("{source}: {err}"),
                    ));
                }
            }
        }
        self.check_supported(command)?;
        self.cgroups.check(&command.resources)?;
        self.namespaces_to_join(command)
    }

    /// Options whose issue has not landed yet are refused rather than ignored.
    fn check_supported(&self, command: &Command) -> Result<()> {
        let process = &command.process;
        if process.tty {
            return Err(Error::Unsupported("process.tty (terminals)".into()));
        }
        if !process.cap_add.is_empty() || !process.cap_drop.is_empty() {
            return Err(Error::Unsupported(
                "process.cap_add and process.cap_drop (capabilities)".into(),
            ));
        }
        if command.namespaces.user != NamespaceMode::Host {
            return Err(Error::Unsupported(
                "namespaces.user (user namespaces)".into(),
            ));
        }
        Ok(())
    }

    /// Opens the namespaces the container joins: the fd is what the helper uses, so a path
    /// that goes away or a container that exits later changes nothing.
    fn namespaces_to_join(&self, command: &Command) -> Result<(Vec<String>, Vec<OwnedFd>)> {
        let mut kinds = Vec::new();
        let mut fds = Vec::new();
        for kind in NamespaceKind::ALL {
            let field = format!("namespaces.{}", kind.field());
            let fd = match command.namespaces.get(kind) {
                NamespaceMode::Path(path) => open_namespace(path)
                    .map_err(|errno| Error::invalid(field, format!("{path}: {}", errno.desc())))?,
                NamespaceMode::Container(other) => {
                    let container = self.get(other).map_err(|_| {
                        Error::invalid(&field, format!("no container {other:?} in this driver"))
                    })?;
                    let path = format!("/proc/{}/ns/{}", container.pid, kind.name());
                    let fd = open_namespace(&path).map_err(|errno| {
                        Error::invalid(&field, format!("{path}: {}", errno.desc()))
                    })?;
                    // The pid could have been reused between the lookup and the open.
                    if container.has_exited() {
                        return Err(Error::invalid(
                            field,
                            format!("container {other:?} is not running"),
                        ));
                    }
                    fd
                }
                _ => continue,
            };
            kinds.push(kind.name().to_string());
            fds.push(fd);
        }
        Ok((kinds, fds))
    }

    fn reserve(&self, id: &str) -> Result<Reservation<'_>> {
        let mut containers = self.containers.lock();
        if containers.contains_key(id) {
            return Err(Error::AlreadyExists { id: id.to_string() });
        }
        containers.insert(id.to_string(), Slot::Creating);
        Ok(Reservation {
            driver: self,
            id: id.to_string(),
        })
    }

    /// Reaps the init (once; later callers read the stored status) and cleans up.
    fn reap(&self, container: &Container) -> Result<ExitStatus> {
        let _reaper = container.reaper.lock();
        if let Some(exit) = container.life.lock().exit {
            return Ok(exit);
        }
        let mut exit = sys::pidfd::wait(container.pidfd.as_fd(), false)
            .step(|| format!("wait for container {}", container.id))?
            .ok_or_else(|| Error::Internal("waitid returned no status".into()))?;
        exit.oom_killed = container.cgroup.oom_kill_count().unwrap_or(0) > 0;
        // The init is gone; whatever it left in the cgroup (no private pid namespace, or a
        // process that escaped its session) goes with it.
        let cleaned = container.cgroup.destroy();
        {
            let mut life = container.life.lock();
            life.status = Status::Stopped;
            life.channel = None;
            life.exit = Some(exit);
        }
        let _ = container.state_dir.save(&container.persisted());
        container.hooks.on_exit(&container.id, &exit);
        cleaned?;
        Ok(exit)
    }
}

impl Drop for LinuxDriver {
    /// Containers still held are killed and cleaned up: a driver never leaves a container it
    /// can no longer reap (recovery of live containers is a later feature).
    fn drop(&mut self) {
        let live: Vec<Arc<Container>> = self
            .containers
            .lock()
            .values()
            .filter_map(|slot| match slot {
                Slot::Live(container) => Some(container.clone()),
                Slot::Creating => None,
            })
            .collect();
        for container in live {
            let _ = self.delete(&container.id, true);
        }
    }
}

/// Frees a reserved id unless the container made it into the table.
struct Reservation<'a> {
    driver: &'a LinuxDriver,
    id: String,
}

impl Reservation<'_> {
    fn fulfil(self, container: Arc<Container>) {
        self.driver
            .containers
            .lock()
            .insert(self.id.clone(), Slot::Live(container));
        std::mem::forget(self);
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        self.driver.containers.lock().remove(&self.id);
    }
}

impl Container {
    /// The recorded status, or `Stopped` for a program that has exited but is not reaped yet.
    fn status(&self) -> Status {
        let status = self.life.lock().status;
        match status {
            Status::Running | Status::Paused if self.has_exited() => Status::Stopped,
            status => status,
        }
    }

    fn has_exited(&self) -> bool {
        self.life.lock().exit.is_some() || sys::pidfd::has_exited(self.pidfd.as_fd())
    }

    fn persisted(&self) -> PersistedState {
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
        }
    }

    fn state(&self) -> ContainerState {
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

fn open_namespace(path: &str) -> nix::Result<OwnedFd> {
    nix::fcntl::open(path, OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty())
}

fn valid_signal(signal: i32) -> Result<()> {
    if (1..=libc::SIGRTMAX()).contains(&signal) {
        Ok(())
    } else {
        Err(Error::invalid(
            "signal",
            format!(
                "{signal} is not a signal number (1 to {})",
                libc::SIGRTMAX()
            ),
        ))
    }
}

impl Driver for LinuxDriver {
    fn create(&self, command: &Command, stdio: &Stdio, hooks: Arc<dyn Hooks>) -> Result<i32> {
        let (join, namespace_fds) = self.prepare(command)?;
        let reservation = self.reserve(&command.id)?;
        let state_dir = StateDir::create(&self.root, &command.id)?;
        let parent = command
            .cgroup_parent
            .as_deref()
            .or(self.cgroup_parent.as_deref())
            .unwrap_or(runtime_core::command::DEFAULT_CGROUP_PARENT);
        let cgroup = match self.cgroups.create(parent, &command.id, &command.resources) {
            Ok(cgroup) => cgroup,
            Err(error) => {
                let _ = state_dir.remove();
                return Err(error);
            }
        };
        let plan = CreatePlan {
            command: command.clone(),
            join,
            cgroup_procs: cgroup
                .procs_files()
                .iter()
                .map(|p| p.display().to_string())
                .collect(),
        };
        let attached: Vec<BorrowedFd<'_>> = namespace_fds.iter().map(AsFd::as_fd).collect();
        let request = Request::Create(Box::new(plan));
        let launched = match launcher::launch(&self.helper, stdio, &request, &attached) {
            Ok(launched) => launched,
            Err(error) => {
                let _ = cgroup.destroy();
                let _ = state_dir.remove();
                return Err(error);
            }
        };
        let container = Arc::new(Container {
            id: command.id.clone(),
            pid: launched.pid,
            pid_start_time: process_start_time(launched.pid),
            pidfd: launched.pidfd,
            cgroup,
            created: runtime_core::time::now_rfc3339(),
            rootfs: command.rootfs.clone(),
            state_dir,
            hooks,
            life: Mutex::new(Life {
                status: Status::Created,
                channel: Some(launched.channel),
                exit: None,
            }),
            reaper: Mutex::new(()),
        });
        if let Err(error) = container.state_dir.save(&container.persisted()) {
            launcher::kill_and_reap(&container.pidfd);
            let _ = container.cgroup.destroy();
            let _ = container.state_dir.remove();
            return Err(error);
        }
        reservation.fulfil(container.clone());
        Ok(container.pid)
    }

    fn start(&self, id: &str) -> Result<()> {
        let container = self.get(id)?;
        let channel = {
            let mut life = container.life.lock();
            match (life.status, life.channel.take()) {
                (Status::Created, Some(channel)) => channel,
                (status, _) => {
                    return Err(Error::InvalidState {
                        id: id.to_string(),
                        state: status.to_string(),
                        operation: "start",
                    })
                }
            }
        };
        if let Err(error) = launcher::start(channel) {
            let _ = sys::pidfd::send_signal(container.pidfd.as_fd(), libc::SIGKILL);
            let _ = self.reap(&container);
            return Err(error);
        }
        container.life.lock().status = Status::Running;
        let _ = container.state_dir.save(&container.persisted());
        container.hooks.on_start(id, container.pid);
        Ok(())
    }

    fn wait(&self, id: &str) -> Result<ExitStatus> {
        let container = self.get(id)?;
        self.reap(&container)
    }

    fn delete(&self, id: &str, force: bool) -> Result<()> {
        let container = self.get(id)?;
        let status = container.status();
        match status {
            Status::Stopped => {}
            Status::Created | Status::Running | Status::Paused if force => {
                // A created init also exits when its channel closes; the kill makes it sure.
                container.life.lock().channel = None;
                if status == Status::Paused {
                    let _ = container.cgroup.thaw();
                }
                match sys::pidfd::send_signal(container.pidfd.as_fd(), libc::SIGKILL) {
                    Ok(()) | Err(Errno::ESRCH) => {}
                    Err(errno) => return Err(os_error(format!("kill container {id}"), errno)),
                }
            }
            _ => {
                return Err(Error::InvalidState {
                    id: id.to_string(),
                    state: status.to_string(),
                    operation: "delete without force",
                })
            }
        }
        self.reap(&container)?;
        container.state_dir.remove()?;
        self.containers.lock().remove(id);
        Ok(())
    }

    fn kill(&self, id: &str, signal: i32, all: bool) -> Result<()> {
        valid_signal(signal)?;
        let container = self.get(id)?;
        let stopped = || Error::InvalidState {
            id: id.to_string(),
            state: Status::Stopped.to_string(),
            operation: "kill",
        };
        if container.status() == Status::Stopped {
            return Err(stopped());
        }
        if all {
            return container.cgroup.kill_all(signal);
        }
        match sys::pidfd::send_signal(container.pidfd.as_fd(), signal) {
            Ok(()) => Ok(()),
            Err(Errno::ESRCH) => Err(stopped()),
            Err(errno) => Err(os_error(
                format!("send signal {signal} to container {id}"),
                errno,
            )),
        }
    }

    fn state(&self, id: &str) -> Result<ContainerState> {
        Ok(self.get(id)?.state())
    }

    fn list(&self) -> Result<Vec<ContainerState>> {
        let live: Vec<Arc<Container>> = self
            .containers
            .lock()
            .values()
            .filter_map(|slot| match slot {
                Slot::Live(container) => Some(container.clone()),
                Slot::Creating => None,
            })
            .collect();
        let mut states: Vec<ContainerState> = live.iter().map(|c| c.state()).collect();
        states.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(states)
    }
}
