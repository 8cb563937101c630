//! The native platform: what the shared lifecycle (`runtime_core::lifecycle`) asks of Linux.
//! Each operation is a few calls into the parts that do the work: `preflight` checks,
//! [`crate::cgroups`] holds the container, `launcher` spawns `berth-init` (whose
//! code is [`crate::helper`]), the [`crate::supervisor`] notices exits and OOM kills, and
//! `recovery` takes containers back.

use std::os::fd::{AsFd, BorrowedFd, IntoRawFd, OwnedFd};
use std::path::Path;
use std::sync::Arc;

use nix::errno::Errno;
use runtime_core::lifecycle::{Adopted, ExecSink, ExitSink, Launched, Peers, Platform, Saved};
use runtime_core::{
    Command, Error, ExitStatus, Hooks, ProcessConfig, Resources, Result, Stats, Status, Stdio,
    Validated,
};

use crate::cgroups::CgroupManager;
use crate::channel::START_SOCKET;
use crate::error::{os_error, StepExt};
use crate::exit_record;
use crate::instance::{ExecContext, Instance, NativeSaved, Starter};
use crate::launcher::{self, Helper};
use crate::preflight::{self, Checked};
use crate::protocol::{CreatePlan, ExecPlan, Request};
use crate::recovery::{self, process_start_time};
use crate::security::SeccompCache;
use crate::supervisor::oom::OomWatches;
use crate::supervisor::watch::Reaping;
use crate::supervisor::{self, Supervisor};
use crate::sys;

/// The native platform of one driver.
pub struct NativePlatform {
    pub(crate) helper: Helper,
    /// Cgroup parent for containers whose command names none.
    pub(crate) cgroup_parent: Option<String>,
    pub(crate) cgroups: CgroupManager,
    pub(crate) supervisor: Supervisor,
    pub(crate) oom_watches: OomWatches,
    /// Docker's default seccomp profile, compiled once per capability set.
    pub(crate) seccomp: SeccompCache,
    /// Whether exited processes are reaped, or left for their next parent.
    pub(crate) reaping: Reaping,
}

/// A process started by `exec`.
pub struct ExecProcess {
    pub(crate) pid: i32,
    pub(crate) pidfd: OwnedFd,
    /// The key of its terminal's master among the container's consoles.
    pub(crate) console: Option<u64>,
}

impl Platform for NativePlatform {
    type Prepared = Checked;
    type Instance = Instance;
    type Process = ExecProcess;
    type Saved = NativeSaved;

    fn replace_file(temp: &Path, target: &Path) -> std::io::Result<()> {
        crate::state_files::replace_by_exchange(temp, target)
    }

    fn prepare(&self, command: &Validated<Command>, peers: &Peers<'_, Self>) -> Result<Checked> {
        preflight::check(self, command, peers)
    }

    fn launch(
        &self,
        command: &Validated<Command>,
        checked: Checked,
        stdio: &Stdio,
        hooks: &Arc<dyn Hooks>,
        state_dir: &Path,
    ) -> Result<Launched<Instance>> {
        // A driver that seals the helper when it is first used does it here, before the
        // container's first side effect.
        self.helper.image()?;
        // Goes with the state directory, which the lifecycle removes if the launch fails.
        let start_socket = launcher::start_socket(state_dir)?;
        let Checked {
            join,
            confinement,
            devices,
            device_rules,
        } = checked;
        let path = command.effective_cgroup_path(self.cgroup_parent.as_deref());
        // Named before it exists, for a later driver to remove if this one dies before the
        // container's state is saved (`abandon`).
        std::fs::write(state_dir.join(CGROUP_NOTE), &path)
            .step(|| format!("note the cgroup in {}", state_dir.display()))?;
        // berth's init records the program's exit here: created now, handed to the init alone.
        let exit_record = if command.init {
            Some(exit_record::create_for_init(state_dir)?)
        } else {
            None
        };
        let cgroup = self.cgroups.create_at(&path, &command.resources)?;
        if let Err(error) = self.cgroups.restrict_devices(&cgroup, &device_rules) {
            let _ = cgroup.destroy();
            return Err(error);
        }
        let (kinds, fds): (Vec<_>, Vec<_>) = join.into_iter().unzip();
        let plan = CreatePlan {
            command: Command::clone(command),
            confinement,
            devices,
            join: kinds,
            cgroup_procs: join_files(&cgroup),
            extra_fds: stdio.extra.len(),
        };
        // The namespaces to join, then berth's init's exit record, then the start socket's
        // listener: both the init's alone.
        let attached: Vec<BorrowedFd<'_>> = fds
            .iter()
            .map(AsFd::as_fd)
            .chain(exit_record.as_ref().map(AsFd::as_fd))
            .chain([start_socket.as_fd()])
            .collect();
        let request = Request::Create(Box::new(plan));
        let launched = launcher::launch(&self.helper, stdio, &request, &attached);
        drop(attached);
        drop((start_socket, exit_record));
        let mut launched = match launched {
            Ok(launched) => launched,
            Err(error) => {
                let _ = cgroup.destroy();
                return Err(error);
            }
        };
        let console = launched.console.take();
        let pid = launched.pid;
        let instance = Instance::new(
            command.id.clone(),
            pid,
            launched.pidfd,
            process_start_time(pid),
            cgroup,
            ExecContext::of(command),
            Some(Starter::Channel(launched.channel)),
        )
        .with_exit_record(command.init.then(|| state_dir.to_path_buf()));
        if let Some(master) = console {
            if let Err(error) = hand_console(&instance, hooks, master) {
                self.destroy(&instance);
                return Err(error);
            }
        }
        Ok(Launched { instance, pid })
    }

    fn watch(&self, instance: &Instance, sink: ExitSink<Self>) -> Result<()> {
        supervisor::watch::watch(
            &self.supervisor,
            &self.oom_watches,
            instance,
            self.reaping,
            sink,
        )
    }

    fn unwatch(&self, instance: &Instance) {
        supervisor::watch::unwatch(&self.supervisor, &self.oom_watches, instance);
    }

    fn start(&self, instance: &Instance) -> Result<Option<i32>> {
        let starter = instance
            .start_channel
            .lock()
            .take()
            .ok_or_else(|| Error::Internal("the init's start channel is gone".into()))?;
        match starter {
            Starter::Channel(channel) => launcher::start(channel)?,
            Starter::Socket(state_dir) => launcher::start_through_socket(&state_dir)?,
        }
        Ok(None)
    }

    fn signal(&self, instance: &Instance, signal: i32, all: bool) -> Result<bool> {
        if signal == libc::SIGKILL {
            instance.note_sigkill();
        }
        if all {
            return instance.cgroup.kill_all(signal).map(|()| true);
        }
        match sys::pidfd::send_signal(instance.pidfd.as_fd(), signal) {
            Ok(()) => Ok(true),
            Err(Errno::ESRCH) => Ok(false),
            Err(errno) => Err(os_error(
                format!("send signal {signal} to the init (pid {})", instance.pid),
                errno,
            )),
        }
    }

    fn kill(&self, instance: &Instance, paused: bool) -> Result<()> {
        instance.start_channel.lock().take();
        // A frozen process does not die (cgroup v1) until it is thawed.
        if paused {
            let _ = instance.cgroup.thaw();
        }
        instance.note_sigkill();
        match sys::pidfd::send_signal(instance.pidfd.as_fd(), libc::SIGKILL) {
            Ok(()) | Err(Errno::ESRCH) => Ok(()),
            Err(errno) => Err(os_error(
                format!("kill the init (pid {})", instance.pid),
                errno,
            )),
        }
    }

    fn destroy(&self, instance: &Instance) {
        instance.start_channel.lock().take();
        launcher::kill_and_reap(&instance.pidfd);
        self.clean_up(instance);
    }

    fn clean_up(&self, instance: &Instance) {
        // The init is gone; what it left in the cgroup (no private pid namespace, or a process
        // that escaped its session) goes with the cgroup.
        let _ = instance.cgroup.destroy();
        instance.drop_consoles();
        instance.start_channel.lock().take();
    }

    fn has_exited(&self, instance: &Instance) -> bool {
        instance.has_exited()
    }

    fn freeze(&self, instance: &Instance) -> Result<()> {
        instance.cgroup.freeze()
    }

    fn thaw(&self, instance: &Instance) -> Result<()> {
        instance.cgroup.thaw()
    }

    fn stats(&self, instance: &Instance) -> Result<Stats> {
        instance.cgroup.stats()
    }

    fn oom_kills(&self, instance: &Instance) -> u64 {
        instance.cgroup.oom_kill_count().unwrap_or(0)
    }

    fn resize(&self, instance: &Instance, rows: u16, cols: u16) -> Result<bool> {
        instance
            .resize(rows, cols)
            .map_err(|errno| os_error("resize the container's terminal", errno))
    }

    fn exec(
        &self,
        instance: &Instance,
        process: &Validated<ProcessConfig>,
        stdio: &Stdio,
        hooks: &Arc<dyn Hooks>,
    ) -> Result<(ExecProcess, i32)> {
        let plan = ExecPlan {
            process: ProcessConfig::clone(process),
            confinement: preflight::confinement(&self.seccomp, process, "process")?,
            init_pid: instance.pid,
            namespaces: instance.exec_namespaces,
            cgroup_procs: join_files(&instance.cgroup),
            extra_fds: stdio.extra.len(),
            hook: None,
            session_keyring: (!instance.share_session_keyring).then(|| instance.id.clone()),
        };
        let request = Request::Exec(Box::new(plan));
        let launched = launcher::launch(&self.helper, stdio, &request, &[instance.pidfd.as_fd()])?;
        let mut running = ExecProcess {
            pid: launched.pid,
            pidfd: launched.pidfd,
            console: None,
        };
        let ready = match launched.console {
            Some(master) => hand_console(instance, hooks, master).map(|key| {
                running.console = Some(key);
            }),
            None => Ok(()),
        }
        .and_then(|()| launcher::start(launched.channel));
        if let Err(error) = ready {
            launcher::kill_and_reap(&running.pidfd);
            release_console(instance, running.console);
            return Err(error);
        }
        let pid = running.pid;
        Ok((running, pid))
    }

    fn watch_exec(
        &self,
        instance: &Instance,
        running: ExecProcess,
        sink: ExecSink<Self>,
    ) -> Result<()> {
        // No thread waits for it: the supervisor reaps it by its pidfd. Its terminal leaves
        // resize's list before the exit is reported, so a wait_exec that returns finds it gone.
        let console = running.console;
        supervisor::watch::watch_exec(&self.supervisor, running.pidfd, self.reaping, move |exit| {
            sink.with_instance(|instance| release_console(instance, console));
            sink.exited(exit);
        })
        .inspect_err(|_| release_console(instance, console))
    }

    fn exec_wait(&self, instance: &Instance, running: ExecProcess) -> Result<ExitStatus> {
        // The caller waits anyway: the exec'd process is reaped on its thread, by its pidfd.
        let waited = sys::pidfd::wait(running.pidfd.as_fd(), false)
            .step(|| format!("wait for the exec'd process {}", running.pid))
            .and_then(|exit| {
                exit.ok_or_else(|| Error::Internal("waitid returned no status".into()))
            });
        release_console(instance, running.console);
        waited
    }

    fn update(&self, instance: &Instance, resources: &Validated<Resources>) -> Result<()> {
        self.cgroups.update(&instance.cgroup, resources)
    }

    fn saved(&self, instance: &Instance) -> NativeSaved {
        instance.saved()
    }

    fn cgroup_path(&self, instance: &Instance) -> String {
        instance.cgroup.relative_path()
    }

    fn adopt(&self, saved: &Saved<NativeSaved>, state_dir: &Path) -> Adopted<Instance> {
        // Exactly the path saved: with `cgroup_path` its last component need not be the id.
        let saved_path = saved.platform.cgroup_path.trim_matches('/');
        let cgroup = if saved_path.is_empty() {
            // Never the root cgroup, whatever a damaged state says.
            self.cgroups.open("", &saved.id)
        } else {
            self.cgroups.open_at(saved_path)
        };
        if saved.status == Status::Stopped {
            let _ = cgroup.destroy();
            return Adopted::Ended(saved.recorded_exit());
        }
        let exit_record = saved.platform.init.then(|| state_dir.to_path_buf());
        let pidfd = recovery::adopt(saved.pid, saved.platform.pid_start_time);
        // A created init waits on its start socket for whichever driver comes next; one whose
        // driver died in the middle of its start runs.
        let status = match saved.status {
            Status::Created if !recovery::waits_for_start(state_dir) => Status::Running,
            // A driver that died in the middle of a pause or resume: the freezer says. A
            // freeze it asked for is finished here, so that the container is paused, not
            // half so.
            Status::Running | Status::Paused => match cgroup.freeze_asked() {
                Ok(true) => match cgroup.freeze() {
                    Ok(()) => Status::Paused,
                    Err(_) => saved.status,
                },
                Ok(false) => Status::Running,
                Err(_) => saved.status,
            },
            status => status,
        };
        let starter = (status == Status::Created).then(|| Starter::Socket(state_dir.to_path_buf()));
        let startable = starter.is_none() || state_dir.join(START_SOCKET).exists();
        match pidfd {
            Ok(pidfd) if startable => Adopted::Alive(
                Instance::new(
                    saved.id.clone(),
                    saved.pid,
                    pidfd,
                    saved.platform.pid_start_time,
                    cgroup,
                    ExecContext::saved(&saved.platform),
                    starter,
                )
                .with_exit_record(exit_record),
                status,
            ),
            outcome => {
                // Created by a berth without start sockets, so it can never start: killed.
                let observed = match outcome {
                    Ok(pidfd) => {
                        launcher::kill_and_reap(&pidfd);
                        ExitStatus::signaled(libc::SIGKILL)
                    }
                    Err(observed) => observed,
                };
                // Gone (or its pid now belongs to someone else, who is left alone): what
                // remains of it is its cgroup, and how it ended is in berth's init's record.
                let oom_kills = cgroup.oom_kill_count().unwrap_or(0);
                let _ = cgroup.destroy();
                let mut exit = exit_record::resolve(observed, exit_record.as_deref(), false);
                exit.oom_killed = oom_kills > 0;
                Adopted::Ended(exit)
            }
        }
    }

    fn abandon(&self, state_dir: &Path) {
        // The launch named the cgroup before it made it; the init (if it got so far) waits
        // inside it for a start that cannot come.
        if let Ok(path) = std::fs::read_to_string(state_dir.join(CGROUP_NOTE)) {
            let path = path.trim_matches('/');
            if !path.is_empty() {
                let _ = self.cgroups.open_at(path).destroy();
            }
        }
    }
}

/// The file in a container's state directory that names its cgroup (relative to each
/// hierarchy's root) from before the cgroup is made.
const CGROUP_NOTE: &str = "cgroup";

/// The files the single-threaded helper writes `0` into to join `cgroup` (see
/// [`crate::cgroups::ContainerCgroup::join_files`]).
pub(crate) fn join_files(cgroup: &crate::cgroups::ContainerCgroup) -> Vec<String> {
    cgroup
        .join_files()
        .iter()
        .map(|p| p.display().to_string())
        .collect()
}

/// Forgets the duplicate of an exec's terminal master, if it had one, once it has exited.
pub(crate) fn release_console(instance: &Instance, console: Option<u64>) {
    if let Some(key) = console {
        instance.remove_console(key);
    }
}

/// Keeps a duplicate of a terminal master for resize and gives the master itself to the
/// caller's `on_console`, which owns it from then on. Returns the key of the duplicate.
pub(crate) fn hand_console(
    instance: &Instance,
    hooks: &Arc<dyn Hooks>,
    master: OwnedFd,
) -> Result<u64> {
    let key = instance
        .add_console(&master)
        .step(|| format!("dup the terminal master of {}", instance.id))?;
    hooks.on_console(&instance.id, master.into_raw_fd());
    Ok(key)
}
