//! The LXC platform: what the shared lifecycle asks of a container run by LXC.
//!
//! LXC sets the container up (`lxc-execute` on the config [`super::config`] renders), berth
//! does the rest with the native driver's own parts, which this platform holds as a
//! [`NativePlatform`]: the cgroup manager writes the resources and device rules into the
//! cgroup LXC made, the supervisor reaps `lxc-execute` and watches OOM events, pause and
//! stats go through the cgroup, and `exec` is the native exec (`berth-init` joins the
//! namespaces of LXC's init through its pidfd).

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use nix::errno::Errno;
use runtime_core::lifecycle::{Adopted, ExecSink, ExitSink, Launched, Peers, Platform, Saved};
use runtime_core::{
    Command, Error, ExitStatus, Hooks, NamespaceKind, NamespaceMode, ProcessConfig, Resources,
    Result, Stats, Status, Stdio, Validated,
};
use serde::{Deserialize, Serialize};

use super::config::{self, ConfigInputs};
use super::launch::{self, CONFIG_FILE, LOG_FILE};
use super::{image, seccomp};
use crate::cgroups::ContainerCgroup;
use crate::channel::START_SOCKET;
use crate::error::{os_error, StepExt};
use crate::helper::lxc_hook::{HOOK_ARGUMENT, PLAN_FILE};
use crate::instance::{ExecContext, Instance, NativeSaved, Starter};
use crate::platform::{hand_console, release_console, ExecProcess, NativePlatform};
use crate::recovery::{self, process_start_time};
use crate::security::{self, CapabilitySet};
use crate::supervisor::watch::{reaper, Reaping};
use crate::sys;

/// The LXC seccomp profile, in the state directory.
const SECCOMP_FILE: &str = "lxc.seccomp";

/// The LXC platform of one driver.
pub struct LxcPlatform {
    /// The native parts berth uses around LXC: helper, cgroups, supervisor, seccomp.
    pub(crate) native: NativePlatform,
    /// `lxc-execute`.
    pub(crate) tool: PathBuf,
    /// Whether the host runs AppArmor (LXC would confine the container with its profile).
    pub(crate) apparmor: bool,
}

/// One LXC container: LXC's init as the native platform knows an init (pidfd, cgroup, exec
/// namespaces, start channel, terminals), and LXC's monitor, whose exit is the container's.
pub struct LxcInstance {
    pub(crate) init: Instance,
    monitor_pid: i32,
    monitor: Arc<OwnedFd>,
    monitor_start_time: u64,
    /// The most OOM kills seen in the cgroup: LXC removes the cgroup as the container ends,
    /// before its exit is reported, so the count is kept here.
    oom_kills: AtomicU64,
    /// The user's program (LXC's init's child), once started.
    program: parking_lot::Mutex<Option<Arc<OwnedFd>>>,
    /// The state directory, whose plan names the program that start checks again.
    state_dir: PathBuf,
    /// The command as this driver launched it (`None` for a container taken back: its plan
    /// file has it), so that start need not read the plan again.
    command: Option<Box<Command>>,
}

impl LxcInstance {
    /// The user's program, as found at start (or now, for a container taken back).
    fn program(&self) -> Option<Arc<OwnedFd>> {
        let mut program = self.program.lock();
        if program.is_none() {
            *program = program_of(self).map(Arc::new);
        }
        program.clone()
    }
}

/// The LXC platform's part of the state file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LxcSaved {
    /// LXC's init (the container's pid 1), as the native driver saves its init.
    #[serde(flatten)]
    pub init: NativeSaved,
    /// `lxc-execute`.
    pub monitor_pid: i32,
    pub monitor_start_time: u64,
}

/// What [`LxcPlatform::prepare`] computed.
pub struct Prepared {
    config: String,
    seccomp: Option<String>,
    device_rules: Vec<runtime_core::DeviceRule>,
}

impl LxcPlatform {
    fn cgroup_parent<'a>(&'a self, command: &'a Command) -> &'a str {
        command
            .cgroup_parent
            .as_deref()
            .or(self.native.cgroup_parent.as_deref())
            .unwrap_or(runtime_core::command::DEFAULT_CGROUP_PARENT)
            .trim_matches('/')
    }

    /// The hook line of the config: this `berth-init` by its path, for the state directory.
    /// LXC runs it with `sh -c` but strips quotes around a whole value, so the two paths are
    /// written bare and must need no quoting.
    fn hook_line(&self, state_dir: &Path) -> Result<String> {
        let helper = self.native.helper.path().display().to_string();
        let dir = state_dir.display().to_string();
        for (what, path) in [("the berth-init helper", &helper), ("the state root", &dir)] {
            if !path
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "/._+-:@,%=".contains(c))
            {
                return Err(Error::Unsupported(format!(
                    "the LXC driver needs paths without spaces or shell characters: {what} is {path:?}"
                )));
            }
        }
        Ok(format!("{helper} {HOOK_ARGUMENT} {dir}"))
    }
}

impl LxcPlatform {
    /// Removes what is left of the cgroups of container `id` (whose cgroup is `cgroup`): its
    /// own, its monitor's beside it, and what LXC leaves in every hierarchy (see
    /// [`remove_lxc_leftovers`]). LXC removes its cgroups as a container ends, unless
    /// `lxc-execute` itself was killed or the start failed.
    fn remove_cgroups(&self, cgroup: &ContainerCgroup, id: &str) {
        let _ = cgroup.destroy();
        let relative = cgroup.relative_path();
        let parent = relative.rsplit_once('/').map_or("", |(parent, _)| parent);
        let monitor = monitor_cgroup(id);
        let _ = self.native.cgroups.open(parent, &monitor).destroy();
        remove_lxc_leftovers(&[
            format!("{parent}/{id}"),
            format!("{parent}/{monitor}"),
            "lxc.pivot".into(),
        ]);
    }
}

/// The LXC monitor's cgroup, beside the container's.
fn monitor_cgroup(id: &str) -> String {
    format!("{id}.lxc-monitor")
}

impl Platform for LxcPlatform {
    type Prepared = Prepared;
    type Instance = LxcInstance;
    type Process = ExecProcess;
    type Saved = LxcSaved;

    fn replace_file(temp: &Path, target: &Path) -> std::io::Result<()> {
        crate::state_files::replace_by_exchange(temp, target)
    }

    fn prepare(&self, command: &Validated<Command>, peers: &Peers<'_, Self>) -> Result<Prepared> {
        crate::preflight::refuse_windows(command)?;
        image::check(command)?;
        self.native.cgroups.check(&command.resources)?;
        let mut device_rules = command.device_cgroup_rules.clone();
        for (i, rule) in device_rules.iter().enumerate() {
            security::devices::validate(rule, &format!("device_cgroup_rules[{i}]"))?;
        }
        if !command.devices.is_empty() {
            return Err(Error::Unsupported(
                "devices: nodes in the container's /dev (the LXC driver)".into(),
            ));
        }
        if command.cgroup_path.is_some() {
            return Err(Error::Unsupported(
                "cgroup_path: a cgroup not named by the id (the LXC driver, whose cgroups \
                 LXC names <cgroup_parent>/<id>)"
                    .into(),
            ));
        }
        device_rules = security::devices::rules(command.process.privileged, &device_rules, &[]);
        security::devices::policy(&device_rules)?;
        let capabilities = CapabilitySet::for_process(&command.process, "process")?;
        let seccomp = seccomp::render(&command.process, capabilities, "process.seccomp")?;
        let shares = namespace_shares(command, peers)?;
        let config = render_config(self, command, capabilities, &shares, seccomp.is_some())?;
        Ok(Prepared {
            config,
            seccomp,
            device_rules,
        })
    }

    fn launch(
        &self,
        command: &Validated<Command>,
        prepared: Prepared,
        stdio: &Stdio,
        hooks: &Arc<dyn Hooks>,
        state_dir: &Path,
    ) -> Result<Launched<LxcInstance>> {
        // lxc-execute closes every fd above 2 of the init it starts.
        stdio.refuse_extra()?;
        let write = |name: &str, text: &[u8]| {
            std::fs::write(state_dir.join(name), text)
                .step(|| format!("write {}", state_dir.join(name).display()))
        };
        let config = finish_config(&prepared.config, state_dir);
        write(CONFIG_FILE, config.as_bytes())?;
        if let Some(profile) = &prepared.seccomp {
            write(SECCOMP_FILE, profile.as_bytes())?;
        }
        let plan = serde_json::to_vec(&**command)
            .map_err(|error| Error::Internal(format!("encode the LXC plan: {error}")))?;
        write(PLAN_FILE, &plan)?;
        let terminal = command.process.tty.then(open_terminal).transpose()?;
        let stdio = match &terminal {
            Some((_, slave)) => {
                let fd = Some(std::os::fd::AsRawFd::as_raw_fd(slave));
                Stdio {
                    stdin: fd,
                    stdout: fd,
                    stderr: fd,
                    extra: Vec::new(),
                }
            }
            None => stdio.clone(),
        };
        let parent = self.cgroup_parent(command);
        let cgroup = self.native.cgroups.open(parent, &command.id);
        let started = launch::launch(
            &self.tool,
            state_dir,
            &command.id,
            &command.process.args,
            &stdio,
        );
        let started = match started {
            Ok(started) => started,
            Err(error) => {
                self.remove_cgroups(&cgroup, &command.id);
                return Err(error);
            }
        };
        let launch::Started {
            monitor_pid,
            monitor,
            init_pid,
            init,
            channel,
        } = started;
        let instance = LxcInstance {
            init: Instance::new(
                command.id.clone(),
                init_pid,
                init,
                process_start_time(init_pid),
                cgroup,
                ExecContext::of(command),
                Some(Starter::Channel(channel)),
            ),
            monitor_pid,
            monitor: Arc::new(monitor),
            monitor_start_time: process_start_time(monitor_pid),
            oom_kills: AtomicU64::new(0),
            program: parking_lot::Mutex::new(None),
            state_dir: state_dir.to_path_buf(),
            command: Some(Box::new(Command::clone(command))),
        };
        // LXC made the cgroup; the program has not run yet.
        let confined = self
            .native
            .cgroups
            .update(&instance.init.cgroup, &command.resources)
            .and_then(|()| {
                self.native
                    .cgroups
                    .restrict_devices(&instance.init.cgroup, &prepared.device_rules)
            })
            .and_then(|()| match terminal {
                Some((master, _slave)) => hand_console(&instance.init, hooks, master).map(drop),
                None => Ok(()),
            });
        if let Err(error) = confined {
            self.destroy(&instance);
            return Err(error);
        }
        Ok(Launched {
            instance,
            pid: init_pid,
        })
    }

    fn watch(&self, instance: &LxcInstance, sink: ExitSink<Self>) -> Result<()> {
        let native = &self.native;
        let exit_sink = sink.clone();
        native.supervisor.watch(
            instance.monitor.clone(),
            // The monitor is lxc-execute, ours to reap whatever the options say.
            reaper(instance.monitor.clone(), Reaping::Reap, move |exit| {
                exit_sink.exited(launch::container_exit(exit))
            }),
        )?;
        if let Some(path) = instance.init.cgroup.oom_watch_path() {
            let on_oom = Arc::new(move || sink.oom_event());
            let watch = native
                .oom_watches
                .watch(&native.supervisor, &path, on_oom)?;
            *instance.init.oom_watch.lock() = Some(watch);
        }
        Ok(())
    }

    fn unwatch(&self, instance: &LxcInstance) {
        self.native.unwatch(&instance.init);
    }

    fn start(&self, instance: &LxcInstance) -> Result<Option<i32>> {
        // LXC's init, not berth's, execs the program after the start-host hook lets it go,
        // and its failure never reaches the starter: the program is checked in the image
        // again (it may have gone since create), so that such a start fails with the native
        // driver's error (`exec NAME: ENOENT`) and the lifecycle kills the waiting init.
        recheck_program(instance)?;
        self.native.start(&instance.init)?;
        // The hook has let LXC's init go; it forks the program a moment later. Started means
        // the program runs, so that a signal right after start reaches it.
        let pause = std::time::Duration::from_micros(50);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::time::Instant::now() < deadline {
            if let Some(program) = program_of(instance) {
                *instance.program.lock() = Some(Arc::new(program));
                break;
            }
            if sys::pidfd::has_exited(instance.monitor.as_fd()) {
                break;
            }
            std::thread::sleep(pause);
        }
        Ok(None)
    }

    fn signal(&self, instance: &LxcInstance, signal: i32, all: bool) -> Result<bool> {
        if all {
            return instance.init.cgroup.kill_all(signal).map(|()| true);
        }
        // The signal goes to the user's program, as the native driver's goes to its init:
        // LXC's init would pass SIGTERM on to every process, and cannot pass SIGKILL on.
        // Before start, to LXC's init.
        let target = instance.program();
        let sent = match &target {
            Some(program) => sys::pidfd::send_signal(program.as_ref().as_fd(), signal),
            None => sys::pidfd::send_signal(instance.init.pidfd.as_fd(), signal),
        };
        match sent {
            Ok(()) => Ok(true),
            Err(Errno::ESRCH) => Ok(false),
            Err(errno) => Err(os_error(
                format!("send signal {signal} to the container {}", instance.init.id),
                errno,
            )),
        }
    }

    fn kill(&self, instance: &LxcInstance, paused: bool) -> Result<()> {
        let unstarted = instance.init.start_channel.lock().take().is_some();
        if paused {
            let _ = instance.init.cgroup.thaw();
        }
        // A started container dies of the program's SIGKILL (LXC's init then exits with 137);
        // one waiting in the start hook, of its init's, which ends the hook and LXC's start.
        let program = (!unstarted).then(|| instance.program()).flatten();
        let target = program.as_deref().unwrap_or(&instance.init.pidfd);
        match sys::pidfd::send_signal(target.as_fd(), libc::SIGKILL) {
            Ok(()) | Err(Errno::ESRCH) => Ok(()),
            Err(errno) => Err(os_error(
                format!("kill the container {}", instance.init.id),
                errno,
            )),
        }
    }

    fn destroy(&self, instance: &LxcInstance) {
        instance.init.start_channel.lock().take();
        let _ = instance.init.cgroup.thaw();
        launch::stop_monitor(&instance.monitor, Some(&instance.init.pidfd));
        self.clean_up(instance);
    }

    fn clean_up(&self, instance: &LxcInstance) {
        self.remove_cgroups(&instance.init.cgroup, &instance.init.id);
        instance.init.drop_consoles();
        instance.init.start_channel.lock().take();
    }

    fn has_exited(&self, instance: &LxcInstance) -> bool {
        sys::pidfd::has_exited(instance.monitor.as_fd())
    }

    fn freeze(&self, instance: &LxcInstance) -> Result<()> {
        self.native.freeze(&instance.init)
    }

    fn thaw(&self, instance: &LxcInstance) -> Result<()> {
        self.native.thaw(&instance.init)
    }

    fn stats(&self, instance: &LxcInstance) -> Result<Stats> {
        self.native.stats(&instance.init)
    }

    fn oom_kills(&self, instance: &LxcInstance) -> u64 {
        // The lifecycle reads the counter from the OOM event on, while the cgroup exists.
        match instance.init.cgroup.oom_kill_count() {
            Ok(now) => instance.oom_kills.fetch_max(now, Ordering::AcqRel).max(now),
            Err(_) => instance.oom_kills.load(Ordering::Acquire),
        }
    }

    fn resize(&self, instance: &LxcInstance, rows: u16, cols: u16) -> Result<bool> {
        self.native.resize(&instance.init, rows, cols)
    }

    fn exec(
        &self,
        instance: &LxcInstance,
        process: &Validated<ProcessConfig>,
        stdio: &Stdio,
        hooks: &Arc<dyn Hooks>,
    ) -> Result<(ExecProcess, i32)> {
        self.native.exec(&instance.init, process, stdio, hooks)
    }

    fn watch_exec(
        &self,
        instance: &LxcInstance,
        running: ExecProcess,
        sink: ExecSink<Self>,
    ) -> Result<()> {
        let console = running.console;
        crate::supervisor::watch::watch_exec(
            &self.native.supervisor,
            running.pidfd,
            self.native.reaping,
            move |exit| {
                sink.with_instance(|instance| release_console(&instance.init, console));
                sink.exited(exit);
            },
        )
        .inspect_err(|_| release_console(&instance.init, console))
    }

    fn exec_wait(&self, instance: &LxcInstance, running: ExecProcess) -> Result<ExitStatus> {
        self.native.exec_wait(&instance.init, running)
    }

    fn update(&self, instance: &LxcInstance, resources: &Validated<Resources>) -> Result<()> {
        self.native.update(&instance.init, resources)
    }

    fn saved(&self, instance: &LxcInstance) -> LxcSaved {
        LxcSaved {
            init: instance.init.saved(),
            monitor_pid: instance.monitor_pid,
            monitor_start_time: instance.monitor_start_time,
        }
    }

    fn cgroup_path(&self, instance: &LxcInstance) -> String {
        instance.init.cgroup.relative_path()
    }

    fn adopt(&self, saved: &Saved<LxcSaved>, state_dir: &Path) -> Adopted<LxcInstance> {
        let cgroup_path = &saved.platform.init.cgroup_path;
        let (parent, _) = cgroup_path.rsplit_once('/').unwrap_or(("", cgroup_path));
        let cgroup = self.native.cgroups.open(parent, &saved.id);
        let alive = saved.status != Status::Stopped;
        let adopt = |pid, start_time| {
            alive
                .then(|| recovery::adopt(pid, start_time).ok())
                .flatten()
        };
        let init = adopt(saved.pid, saved.platform.init.pid_start_time);
        let monitor = adopt(
            saved.platform.monitor_pid,
            saved.platform.monitor_start_time,
        );
        let starter =
            (saved.status == Status::Created).then(|| Starter::Socket(state_dir.to_path_buf()));
        let startable = starter.is_none() || state_dir.join(START_SOCKET).exists();
        match (init, monitor) {
            (Some(init), Some(monitor)) if startable => Adopted::Alive(
                LxcInstance {
                    init: Instance::new(
                        saved.id.clone(),
                        saved.pid,
                        init,
                        saved.platform.init.pid_start_time,
                        cgroup,
                        ExecContext::saved(&saved.platform.init),
                        starter,
                    ),
                    monitor_pid: saved.platform.monitor_pid,
                    monitor: Arc::new(monitor),
                    monitor_start_time: saved.platform.monitor_start_time,
                    oom_kills: AtomicU64::new(0),
                    program: parking_lot::Mutex::new(None),
                    state_dir: state_dir.to_path_buf(),
                    command: None,
                },
                saved.status,
            ),
            (init, monitor) => {
                if let Some(init) = &init {
                    let _ = sys::pidfd::send_signal(init.as_fd(), libc::SIGKILL);
                }
                if let Some(monitor) = &monitor {
                    // Not our child: it cannot be reaped here, only waited out.
                    let _ = launch::stop_monitor(monitor, init.as_ref());
                }
                // A monitor that ended while no driver watched (its container exited) left
                // the `lxc.pivot` it moved into, as any other.
                self.remove_cgroups(&cgroup, &saved.id);
                // The monitor carried the program's exit to its parent, the driver that died.
                Adopted::Ended(saved.recorded_exit())
            }
        }
    }
}

/// Removes the cgroups `dirs` (relative to each hierarchy's root) from every cgroup hierarchy
/// mounted here, berth's and the others LXC uses too (such as `name=systemd`), where they
/// are empty: LXC leaves the `lxc.pivot` cgroup its monitor moves into at the root to remove
/// its own, and the named hierarchies are not berth's cgroup manager's. One in use stays, for
/// the next container's clean-up.
fn remove_lxc_leftovers(dirs: &[String]) {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    for line in mountinfo.lines() {
        let Some((before, after)) = line.split_once(" - ") else {
            continue;
        };
        if !matches!(after.split_whitespace().next(), Some("cgroup" | "cgroup2")) {
            continue;
        }
        let Some(mount) = before.split_whitespace().nth(4) else {
            continue;
        };
        for dir in dirs {
            let _ = std::fs::remove_dir(Path::new(mount).join(dir));
        }
    }
}

impl Drop for LxcPlatform {
    /// The driver's cgroup parent, in the hierarchies where LXC made it and berth's cgroup
    /// manager does not look, once no container is left in it.
    fn drop(&mut self) {
        let parent = self
            .native
            .cgroup_parent
            .as_deref()
            .unwrap_or(runtime_core::command::DEFAULT_CGROUP_PARENT)
            .trim_matches('/');
        let mut dirs = Vec::new();
        let mut path = PathBuf::new();
        for part in parent.split('/').filter(|p| !p.is_empty()) {
            path.push(part);
            dirs.push(path.display().to_string());
        }
        dirs.reverse();
        remove_lxc_leftovers(&dirs);
    }
}

/// Checks the container's program in the image again, as create checked it.
fn recheck_program(instance: &LxcInstance) -> Result<()> {
    let read;
    let command = match &instance.command {
        Some(command) => command,
        None => {
            let path = instance.state_dir.join(PLAN_FILE);
            let plan = std::fs::read(&path).step(|| format!("read {}", path.display()))?;
            read = serde_json::from_slice::<Command>(&plan)
                .map_err(|error| Error::Internal(format!("{}: {error}", path.display())))?;
            &read
        }
    };
    image::check_program(&command.rootfs, &command.process, &command.mounts)
}

/// The user's program: the first child of LXC's init, once started.
fn program_of(instance: &LxcInstance) -> Option<OwnedFd> {
    if instance.init.start_channel.lock().is_some() {
        return None;
    }
    let pid = instance.init.pid;
    let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).ok()?;
    let child: i32 = children.split_whitespace().next()?.parse().ok()?;
    let pidfd = sys::pidfd::open(child).ok()?;
    // The pid was read before the pidfd was opened: check it is still the init's child.
    let stat = std::fs::read_to_string(format!("/proc/{child}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 2..];
    let parent: i32 = after_name.split_whitespace().nth(1)?.parse().ok()?;
    (parent == pid && !instance.init.has_exited()).then_some(pidfd)
}

/// The `lxc.namespace.share.*` of the namespaces the command joins.
fn namespace_shares(
    command: &Command,
    peers: &Peers<'_, LxcPlatform>,
) -> Result<Vec<(NamespaceKind, String)>> {
    let mut shares = Vec::new();
    for kind in NamespaceKind::ALL {
        let field = format!("namespaces.{}", kind.field());
        let path = match command.namespaces.get(kind) {
            NamespaceMode::Path(path) => path.clone(),
            NamespaceMode::Container(other) => {
                let peer = peers.get(other).ok_or_else(|| {
                    Error::invalid(&field, format!("no container {other:?} in this driver"))
                })?;
                if peer.has_exited() {
                    return Err(Error::invalid(
                        field,
                        format!("container {other:?} is not running"),
                    ));
                }
                format!("/proc/{}/ns/{}", peer.pid(), kind.name())
            }
            _ => continue,
        };
        if let Err(err) = std::fs::metadata(&path) {
            return Err(Error::invalid(field, format!("{path}: {err}")));
        }
        shares.push((kind, path));
    }
    Ok(shares)
}

/// The config, but for the lines that name the state directory ([`finish_config`]).
fn render_config(
    platform: &LxcPlatform,
    command: &Command,
    capabilities: CapabilitySet,
    shares: &[(NamespaceKind, String)],
    has_seccomp: bool,
) -> Result<String> {
    let parent = platform.cgroup_parent(command);
    let container = format!("{parent}/{}", command.id);
    let monitor = format!("{parent}/{}", monitor_cgroup(&command.id));
    let placeholder = Path::new(STATE_DIR_PLACEHOLDER);
    let seccomp = placeholder.join(SECCOMP_FILE);
    let log = placeholder.join(LOG_FILE);
    let hook = platform.hook_line(placeholder)?;
    config::render(
        command,
        &ConfigInputs {
            hook: &hook,
            cgroup_container: &container,
            cgroup_monitor: &monitor,
            capabilities,
            seccomp_profile: has_seccomp.then_some(seccomp.as_path()),
            namespace_shares: shares,
            log_file: &log,
            host_has_apparmor: platform.apparmor,
        },
    )
}

/// Stands for the state directory in the config [`LxcPlatform::prepare`] renders, before the
/// directory exists.
const STATE_DIR_PLACEHOLDER: &str = "/@berth-state-dir@";

/// The config with the state directory's path in.
fn finish_config(config: &str, state_dir: &Path) -> String {
    config.replace(STATE_DIR_PLACEHOLDER, &state_dir.display().to_string())
}

/// A new pty pair on the host's devpts: the slave is the program's stdio (LXC passes it
/// through with `lxc.console.path = none`), the master goes to `on_console`.
fn open_terminal() -> Result<(OwnedFd, OwnedFd)> {
    use nix::fcntl::OFlag;
    let master = nix::fcntl::open(
        "/dev/ptmx",
        OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .step(|| "open /dev/ptmx")?;
    sys::terminal::unlock(master.as_fd()).step(|| "unlock the terminal")?;
    let slave = sys::terminal::open_peer(master.as_fd()).step(|| "open the terminal's slave")?;
    Ok((master, slave))
}
