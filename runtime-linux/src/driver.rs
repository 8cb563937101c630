//! The native driver: the [`runtime_core::Driver`] implementation for Linux.
//!
//! The path of a `run`: [`LinuxDriver::create`] checks everything it can before touching the
//! system, reserves the id, creates the state dir and the cgroup, and hands a
//! `CreatePlan` to `launcher::launch`, which spawns `berth-init` (see
//! [`crate::helper`]). `start` lets the init exec the program; `wait` reaps it through its
//! pidfd and cleans up; `delete` forgets it.

use std::collections::HashMap;
use std::os::fd::{AsFd, BorrowedFd, IntoRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use parking_lot::Mutex;
use runtime_core::{
    Command, ContainerState, Driver, Error, ExitStatus, Hooks, NamespaceKind, NamespaceMode,
    ProcessConfig, Result, Stats, Status, Stdio,
};
use serde::{Deserialize, Serialize};

use crate::cgroups::{CgroupManager, CgroupMode, ContainerCgroup};
use crate::container::Container;
use crate::error::{os_error, StepExt};
use crate::launcher;
use crate::launcher::Helper;
use crate::locate::{find_helper, sealed_copy};
use crate::mount_options::MountOptions;
use crate::protocol::{Confinement, CreatePlan, ExecPlan, Request};
use crate::security::devices::ResolvedDevice;
use crate::security::{self, CapabilitySet, SeccompCache};
use crate::state::{process_start_time, PersistedState, StateDir};
use crate::supervisor::events::EventPool;
use crate::supervisor::oom::OomWatches;
use crate::supervisor::{Next, Supervisor};
use crate::sys;
use runtime_core::DeviceRule;

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
    helper: Helper,
    root: PathBuf,
    cgroup_parent: Option<String>,
    cgroups: CgroupManager,
    containers: Mutex<HashMap<String, Slot>>,
    supervisor: Supervisor,
    oom_watches: OomWatches,
    events: Arc<EventPool>,
    /// What recovery at start-up found wrong: one line per state directory it skipped or
    /// cleaned up.
    recovery_report: Vec<String>,
    /// Docker's default seccomp profile, compiled once per capability set.
    seccomp: SeccompCache,
}

/// A container id's place in the table: reserved while `create` runs, so that a second
/// `create` of the same id fails at once, then the container.
enum Slot {
    Creating,
    Live(Arc<Container>),
}

impl LinuxDriver {
    /// Sets the driver up: finds the helper, detects the cgroup layout, creates the root.
    pub fn new(options: DriverOptions) -> Result<Self> {
        let path = find_helper(options.helper_path.as_deref())?;
        let helper = Helper {
            image: sealed_copy(&path)?,
            path,
        };
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
        let mut driver = LinuxDriver {
            helper,
            root,
            cgroup_parent: options.cgroup_parent,
            cgroups: CgroupManager::detect()?,
            containers: Mutex::new(HashMap::new()),
            supervisor: Supervisor::start()?,
            oom_watches: OomWatches::new(),
            events: EventPool::new(),
            recovery_report: Vec::new(),
            seccomp: SeccompCache::new(),
        };
        if driver.cgroups.mode() == CgroupMode::Unified {
            driver.oom_watches.prepare_v2(&driver.supervisor)?;
        }
        driver.recovery_report = driver.recover();
        Ok(driver)
    }

    /// What recovery found wrong when this driver started: a line per state directory it
    /// skipped (unreadable or corrupt state) or cleaned up (a container that is gone).
    pub fn recovery_report(&self) -> &[String] {
        &self.recovery_report
    }

    /// Takes back the containers an earlier driver on the same root left running. A pid is
    /// trusted only while its start time matches the recorded one: a reused pid is never
    /// signalled.
    fn recover(&self) -> Vec<String> {
        let mut report = Vec::new();
        let Ok(entries) = std::fs::read_dir(&self.root) else {
            return report;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if !path.is_dir() || runtime_core::validate::validate_id("id", &name).is_err() {
                continue;
            }
            let state_dir = StateDir::existing(path);
            let state = match state_dir.load() {
                Ok(state) if state.id == name => state,
                Ok(state) => {
                    report.push(format!("{name}: its state names {:?}; skipped", state.id));
                    continue;
                }
                Err(why) => {
                    report.push(format!("{name}: unreadable state ({why}); skipped"));
                    continue;
                }
            };
            let (parent, _) = state
                .cgroup_path
                .rsplit_once('/')
                .unwrap_or(("", &state.cgroup_path));
            let cgroup = self.cgroups.open(parent, &state.id);
            match adopt(&state) {
                Some(pidfd) => {
                    let kills = cgroup.oom_kill_count().unwrap_or(0);
                    let was_created = state.status == Status::Created;
                    let container = Arc::new(Container::recovered(state, pidfd, cgroup, state_dir));
                    container.set_oom_baseline(kills);
                    self.containers
                        .lock()
                        .insert(container.id.clone(), Slot::Live(container.clone()));
                    if let Err(error) = self.supervise(&container) {
                        report.push(format!("{name}: cannot supervise it ({error}); killed"));
                        let _ = self.kill_and_finish(&container);
                    } else if was_created {
                        // Its start channel died with the old driver: it can never start.
                        report.push(format!("{name}: created but never started; killed"));
                        let _ = self.kill_and_finish(&container);
                    }
                }
                None => {
                    // Gone (or its pid now belongs to someone else, who is left alone): what
                    // remains of it is its cgroup and state.
                    let _ = cgroup.destroy();
                    let _ = state_dir.remove();
                    report.push(format!("{name}: no longer running; cleaned up"));
                }
            }
        }
        report.sort();
        report
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

    /// Every container in the table (not the ids being created).
    fn live(&self) -> Vec<Arc<Container>> {
        self.containers
            .lock()
            .values()
            .filter_map(|slot| match slot {
                Slot::Live(container) => Some(container.clone()),
                Slot::Creating => None,
            })
            .collect()
    }

    /// Drops the container from the table and its OOM watch from the supervisor.
    fn forget(&self, container: &Container) {
        if let Some(watch) = container.oom_watch.lock().take() {
            self.oom_watches.cancel(&self.supervisor, watch);
        }
        self.containers.lock().remove(&container.id);
    }

    /// Everything that can be checked before a side effect, and the namespace fds to join.
    fn prepare(&self, command: &Command) -> Result<Checked> {
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
        if command.namespaces.is_new(NamespaceKind::Mount) {
            crate::helper::rootfs::check_image(&command.rootfs)?;
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
        let confinement = self.confinement(&command.process, "process")?;
        let mut devices = Vec::new();
        let mut device_rules = command.device_cgroup_rules.clone();
        for (i, rule) in device_rules.iter().enumerate() {
            security::devices::validate(rule, &format!("device_cgroup_rules[{i}]"))?;
        }
        for (i, device) in command.devices.iter().enumerate() {
            let resolved =
                security::devices::resolve_host_device(device, &format!("devices[{i}]"))?;
            device_rules.push(resolved.rule.clone());
            devices.push(resolved);
        }
        let (join, namespace_fds) = self.namespaces_to_join(command)?;
        Ok(Checked {
            join,
            namespace_fds,
            confinement,
            devices,
            device_rules: security::devices::rules(command.process.privileged, &device_rules),
        })
    }

    /// The capabilities and seccomp filter of a process, checked and compiled.
    fn confinement(&self, process: &ProcessConfig, field: &str) -> Result<Confinement> {
        let capabilities = CapabilitySet::for_process(process, field)?;
        let seccomp = security::seccomp::program_for(
            process.seccomp.as_ref(),
            process.privileged,
            capabilities,
            &self.seccomp,
            &format!("{field}.seccomp"),
        )?;
        Ok(Confinement {
            capabilities,
            seccomp: seccomp.map(|program| (*program).clone()),
        })
    }

    /// Only the device nodes the rules allow: the v1 devices controller, or an eBPF program on
    /// a cgroup2-only host.
    fn restrict_devices(&self, cgroup: &ContainerCgroup, rules: &[DeviceRule]) -> Result<()> {
        let relative = cgroup.relative_path();
        if self.cgroups.mode() == CgroupMode::Unified {
            if let Some(mount) = self.cgroups.unified_mount() {
                security::devices::apply_v2(&mount.join(&relative), rules)?;
            }
            return Ok(());
        }
        for (controllers, mount) in self.cgroups.v1_mounts() {
            if controllers.split(',').any(|c| c == "devices") {
                security::devices::apply_v1(&mount.join(&relative), rules)?;
            }
        }
        Ok(())
    }

    /// Options whose issue has not landed yet are refused rather than ignored.
    fn check_supported(&self, command: &Command) -> Result<()> {
        check_supported_process(&command.process)?;
        if matches!(
            command.namespaces.user,
            NamespaceMode::Path(_) | NamespaceMode::Container(_)
        ) {
            return Err(Error::Unsupported(
                "joining an existing user namespace (namespaces.user path or container)".into(),
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
            fulfilled: false,
        })
    }

    /// Hands the container to the supervisor: its exit, and its OOM events where the
    /// cgroup has a memory controller.
    fn supervise(&self, container: &Arc<Container>) -> Result<()> {
        let exit_handler = {
            let container = container.clone();
            let events = self.events.clone();
            Box::new(
                move || match sys::pidfd::wait(container.pidfd.as_fd(), true) {
                    Ok(None) => Next::Keep,
                    Ok(Some(exit)) => {
                        container.reaped(exit);
                        let finishing = container.clone();
                        events.submit(&container.events, move || finishing.finish(exit));
                        Next::Done
                    }
                    Err(_) => {
                        // Not ours to reap (recovered from an earlier driver, or the host
                        // reaped it): the status is lost, and waiters must not hang.
                        let finishing = container.clone();
                        let exit = ExitStatus::unknown();
                        events.submit(&container.events, move || finishing.finish(exit));
                        Next::Done
                    }
                },
            )
        };
        self.supervisor
            .watch(container.pidfd.clone(), exit_handler)?;
        if let Some(path) = container.cgroup.oom_watch_path() {
            let on_oom = {
                let container = Arc::downgrade(container);
                let events = self.events.clone();
                Arc::new(move || {
                    let Some(container) = container.upgrade() else {
                        return;
                    };
                    if container.life.lock().finished {
                        return;
                    }
                    let reporting = container.clone();
                    events.submit(&container.events, move || reporting.report_new_ooms());
                })
            };
            let watch = self.oom_watches.watch(&self.supervisor, &path, on_oom)?;
            *container.oom_watch.lock() = Some(watch);
        }
        Ok(())
    }

    /// Kills the init if it still runs and waits until it is reaped and cleaned up.
    fn kill_and_finish(&self, container: &Container) -> Result<ExitStatus> {
        container.life.lock().channel = None;
        if container.status() == Status::Paused {
            let _ = container.cgroup.thaw();
        }
        match sys::pidfd::send_signal(container.pidfd.as_fd(), libc::SIGKILL) {
            Ok(()) | Err(Errno::ESRCH) => {}
            Err(errno) => return Err(os_error(format!("kill container {}", container.id), errno)),
        }
        Ok(container.wait_finished())
    }

    /// The container, if it is in a state that allows `operation`.
    fn get_in(
        &self,
        id: &str,
        allowed: &[Status],
        operation: &'static str,
    ) -> Result<Arc<Container>> {
        let container = self.get(id)?;
        let status = container.status();
        if allowed.contains(&status) {
            Ok(container)
        } else {
            Err(Error::InvalidState {
                id: id.to_string(),
                state: status.to_string(),
                operation,
            })
        }
    }

    /// Threads of this driver now: the supervisor and the event workers.
    pub fn thread_count(&self) -> usize {
        1 + self.events.workers()
    }

    /// Fds the supervisor watches (two per container with a memory controller).
    pub fn watched_fds(&self) -> usize {
        self.supervisor.watch_count()
    }
}

impl Drop for LinuxDriver {
    /// Containers still held are killed and cleaned up: a driver never leaves a container it
    /// can no longer reap (recovery of live containers is a later feature).
    fn drop(&mut self) {
        for container in self.live() {
            let _ = self.delete(&container.id, true);
        }
        self.events.shutdown();
    }
}

/// What `prepare` found and computed before any side effect.
struct Checked {
    join: Vec<String>,
    namespace_fds: Vec<OwnedFd>,
    confinement: Confinement,
    devices: Vec<ResolvedDevice>,
    device_rules: Vec<DeviceRule>,
}

/// Frees a reserved id unless the container made it into the table.
struct Reservation<'a> {
    driver: &'a LinuxDriver,
    id: String,
    fulfilled: bool,
}

impl Reservation<'_> {
    fn fulfil(mut self, container: Arc<Container>) {
        self.driver
            .containers
            .lock()
            .insert(self.id.clone(), Slot::Live(container));
        self.fulfilled = true;
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if !self.fulfilled {
            self.driver.containers.lock().remove(&self.id);
        }
    }
}

/// Keeps a duplicate of a terminal master for resize and gives the master itself to the
/// caller's `on_console`, which owns it from then on. Returns the key of the duplicate.
fn hand_console(container: &Container, hooks: &Arc<dyn Hooks>, master: OwnedFd) -> Result<u64> {
    let key = container
        .add_console(&master)
        .step(|| format!("dup the terminal master of {}", container.id))?;
    hooks.on_console(&container.id, master.into_raw_fd());
    Ok(key)
}

fn check_supported_process(_process: &ProcessConfig) -> Result<()> {
    Ok(())
}

/// A pidfd for the recorded init if it still runs and is the same process (same start time).
fn adopt(state: &PersistedState) -> Option<OwnedFd> {
    if state.status == Status::Stopped || state.pid <= 0 {
        return None;
    }
    let pidfd = sys::pidfd::open(state.pid).ok()?;
    // Read after the pidfd exists: if the pid was reused before, the start time differs; after,
    // the pidfd pins the process it names.
    if process_start_time(state.pid) != state.pid_start_time || state.pid_start_time == 0 {
        return None;
    }
    if sys::pidfd::has_exited(pidfd.as_fd()) {
        return None;
    }
    Some(pidfd)
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
        let Checked {
            join,
            namespace_fds,
            confinement,
            devices,
            device_rules,
        } = self.prepare(command)?;
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
        if let Err(error) = self.restrict_devices(&cgroup, &device_rules) {
            let _ = cgroup.destroy();
            let _ = state_dir.remove();
            return Err(error);
        }
        let plan = CreatePlan {
            command: command.clone(),
            confinement,
            devices,
            join,
            cgroup_procs: cgroup
                .procs_files()
                .iter()
                .map(|p| p.display().to_string())
                .collect(),
        };
        let attached: Vec<BorrowedFd<'_>> = namespace_fds.iter().map(AsFd::as_fd).collect();
        let request = Request::Create(Box::new(plan));
        let mut launched = match launcher::launch(&self.helper, stdio, &request, &attached) {
            Ok(launched) => launched,
            Err(error) => {
                let _ = cgroup.destroy();
                let _ = state_dir.remove();
                return Err(error);
            }
        };
        let console = launched.console.take();
        let container = Arc::new(Container::new(
            command,
            launched,
            cgroup,
            state_dir,
            hooks.clone(),
        ));
        let ready = self
            .supervise(&container)
            .and_then(|()| container.state_dir.save(&container.persisted()))
            .and_then(|()| match console {
                Some(master) => hand_console(&container, &hooks, master).map(drop),
                None => Ok(()),
            });
        if let Err(error) = ready {
            let _ = self.kill_and_finish(&container);
            self.forget(&container);
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
            let _ = self.kill_and_finish(&container);
            return Err(error);
        }
        container.life.lock().status = Status::Running;
        let _ = container.state_dir.save(&container.persisted());
        container.hooks.on_start(id, container.pid);
        Ok(())
    }

    fn wait(&self, id: &str) -> Result<ExitStatus> {
        Ok(self.get(id)?.wait_finished())
    }

    fn delete(&self, id: &str, force: bool) -> Result<()> {
        let container = self.get(id)?;
        let status = container.status();
        if status != Status::Stopped && !force {
            return Err(Error::InvalidState {
                id: id.to_string(),
                state: status.to_string(),
                operation: "delete without force",
            });
        }
        self.kill_and_finish(&container)?;
        self.forget(&container);
        container.state_dir.remove()
    }

    fn kill(&self, id: &str, signal: i32, all: bool) -> Result<()> {
        valid_signal(signal)?;
        let container = self.get_in(
            id,
            &[Status::Created, Status::Running, Status::Paused],
            "kill",
        )?;
        let stopped = || Error::InvalidState {
            id: id.to_string(),
            state: Status::Stopped.to_string(),
            operation: "kill",
        };
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

    fn exec(
        &self,
        id: &str,
        process: &ProcessConfig,
        stdio: &Stdio,
        hooks: Arc<dyn Hooks>,
    ) -> Result<ExitStatus> {
        process.validate("process")?;
        check_supported_process(process)?;
        let container = self.get_in(id, &[Status::Running], "exec into")?;
        let plan = ExecPlan {
            process: process.clone(),
            confinement: self.confinement(process, "process")?,
            init_pid: container.pid,
            namespace_flags: container.exec_namespaces,
            cgroup_procs: container
                .cgroup
                .procs_files()
                .iter()
                .map(|p| p.display().to_string())
                .collect(),
        };
        let request = Request::Exec(Box::new(plan));
        let launched = launcher::launch(&self.helper, stdio, &request, &[container.pidfd.as_fd()])?;
        let pidfd = launched.pidfd;
        let console = match launched.console {
            Some(master) => match hand_console(&container, &hooks, master) {
                Ok(key) => Some(key),
                Err(error) => {
                    launcher::kill_and_reap(&pidfd);
                    return Err(error);
                }
            },
            None => None,
        };
        let started = launcher::start(launched.channel);
        if started.is_err() {
            launcher::kill_and_reap(&pidfd);
        }
        let waited = started.and_then(|()| {
            hooks.on_start(id, launched.pid);
            // The caller waits anyway: the exec'd process is reaped on its thread, by its
            // pidfd.
            sys::pidfd::wait(pidfd.as_fd(), false)
                .step(|| format!("wait for the exec'd process {} in {id}", launched.pid))?
                .ok_or_else(|| Error::Internal("waitid returned no status".into()))
        });
        if let Some(key) = console {
            container.remove_console(key);
        }
        let exit = waited?;
        hooks.on_exit(id, &exit);
        Ok(exit)
    }

    fn pause(&self, id: &str) -> Result<()> {
        let container = self.get_in(id, &[Status::Running], "pause")?;
        container.cgroup.freeze()?;
        container.life.lock().status = Status::Paused;
        let _ = container.state_dir.save(&container.persisted());
        Ok(())
    }

    fn resume(&self, id: &str) -> Result<()> {
        let container = self.get_in(id, &[Status::Paused], "resume")?;
        container.cgroup.thaw()?;
        container.life.lock().status = Status::Running;
        let _ = container.state_dir.save(&container.persisted());
        Ok(())
    }

    fn stats(&self, id: &str) -> Result<Stats> {
        let container = self.get_in(
            id,
            &[Status::Created, Status::Running, Status::Paused],
            "read stats of",
        )?;
        container.cgroup.stats()
    }

    fn resize(&self, id: &str, rows: u16, cols: u16) -> Result<()> {
        if rows == 0 || cols == 0 {
            return Err(Error::invalid("size", "rows and cols must be at least 1"));
        }
        let container = self.get_in(
            id,
            &[Status::Created, Status::Running, Status::Paused],
            "resize",
        )?;
        match container.resize(rows, cols) {
            Ok(true) => Ok(()),
            Ok(false) => Err(Error::InvalidState {
                id: id.to_string(),
                state: "without a terminal".into(),
                operation: "resize",
            }),
            Err(errno) => Err(os_error(format!("resize the terminal of {id}"), errno)),
        }
    }

    fn state(&self, id: &str) -> Result<ContainerState> {
        Ok(self.get(id)?.state())
    }

    fn list(&self) -> Result<Vec<ContainerState>> {
        let mut states: Vec<ContainerState> = self.live().iter().map(|c| c.state()).collect();
        states.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(states)
    }
}
