//! The Windows platform: what the shared lifecycle asks of a container, done with HCS.
//!
//! - `prepare` translates the command ([`translate::plan`]); nothing is made yet.
//! - `launch` creates the compute system, sets its callback and starts it. There is no
//!   process yet: HCS cannot create one suspended, so [`Launched::pid`] is 0.
//! - `start` creates the init process, sets its callback, then asks its status once, so an
//!   exit before the callback was set is not missed. It gives the real pid, which `on_start`
//!   gets. A thread waits for the init's end: then it stops the system, lets the output
//!   drain, and reports the exit.
//! - `kill` maps SIGTERM and SIGINT to `CtrlShutdown` and `CtrlC`, SIGKILL to terminate;
//!   `kill` with `all` shuts the system down (terminate if that fails or takes too long).
//!   A kill that finds the process gone is success, and waiters are released after
//!   [`Timeouts::exit_grace_ms`] if HCS never sends the exit.
//! - A lost connection to the service ends every wait with an error.
//!
//! Exit codes are Windows' 32-bit codes taken as unsigned, in [`ExitStatus::code`]; `signal`
//! is set when berth's kill ended the process (its Linux number, as the caller gave it).

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::Mutex;
use runtime_core::lifecycle::{Adopted, ExecSink, ExitSink, Launched, Peers, Platform, Saved};
use runtime_core::{
    Command, Error, ExitStatus, Hooks, OsFailure, ProcessConfig, Resources, Result, Stats, Status,
    Stdio, Validated,
};
use serde::{Deserialize, Serialize};

mod container;
mod process;

use container::{system_callback, Shared};
use process::{End, Proc};

use crate::hcs::{Hcs, HcsError, HcsErrorKind, HCS_E_SERVICE_DISCONNECT};
use crate::relay::CallerStdio;
use crate::translate::{self, Delivery, Plan, ProcessPlan};

/// How long the driver waits for HCS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Timeouts {
    /// One HCS operation (create, start, pause, a process, ...), in milliseconds; an operation
    /// that takes longer is cancelled and fails.
    pub operation_ms: u64,
    /// How long a graceful stop (`kill` with `all`, or the clean-up after the init's exit)
    /// waits for the system to shut down before it is terminated.
    pub shutdown_ms: u64,
    /// How long waiters wait for the exit notification of a process that a kill found gone
    /// (or terminated) before they are released with an unknown exit, and for its output to
    /// drain once it has exited.
    pub exit_grace_ms: u64,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            operation_ms: 240_000,
            shutdown_ms: 10_000,
            exit_grace_ms: 5_000,
        }
    }
}

impl Timeouts {
    fn operation(&self) -> Duration {
        Duration::from_millis(self.operation_ms)
    }
    fn shutdown(&self) -> Duration {
        Duration::from_millis(self.shutdown_ms)
    }
    fn exit_grace(&self) -> Duration {
        Duration::from_millis(self.exit_grace_ms)
    }
}

/// The platform over an [`Hcs`].
pub struct HcsPlatform<H: Hcs> {
    hcs: Arc<H>,
    timeouts: Timeouts,
}

impl<H: Hcs> HcsPlatform<H> {
    pub fn new(hcs: H, timeouts: Timeouts) -> Self {
        HcsPlatform {
            hcs: Arc::new(hcs),
            timeouts,
        }
    }

    /// The HCS it calls.
    pub fn hcs(&self) -> &H {
        &self.hcs
    }
}

/// What the platform keeps in a container's state file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HcsSaved {
    /// The compute system's id (the container's).
    pub system_id: String,
    /// The init's [`crate::schema::ProcessParameters`], for a `created` container that a
    /// later driver starts.
    pub init_parameters: String,
    /// Whether the init has a console.
    pub init_tty: bool,
}

/// One container.
pub struct HcsInstance<H: Hcs> {
    shared: Arc<Shared<H>>,
    init_plan: ProcessPlan,
    /// The caller's streams for the init, from create until start.
    init_stdio: Mutex<Option<CallerStdio>>,
    /// The thread that waits for the init's end (from start on).
    waiter: Mutex<Option<JoinHandle<()>>>,
}

/// An exec'd process.
pub struct HcsProcess<H: Hcs>(Arc<Proc<H>>);

impl<H: Hcs> Platform for HcsPlatform<H> {
    type Prepared = Plan;
    type Instance = HcsInstance<H>;
    type Process = HcsProcess<H>;
    type Saved = HcsSaved;

    fn prepare(&self, command: &Validated<Command>, _peers: &Peers<'_, Self>) -> Result<Plan> {
        let hcs = self.hcs.clone();
        let layer_id = move |folder: &str| {
            hcs.layer_id(folder)
                .map_err(|e| hcs_error(e, format!("the id of layer folder {folder:?}")))
        };
        translate::plan(command, &layer_id)
    }

    fn launch(
        &self,
        command: &Validated<Command>,
        plan: Plan,
        stdio: &Stdio,
        _hooks: &Arc<dyn Hooks>,
        _state_dir: &Path,
    ) -> Result<Launched<HcsInstance<H>>> {
        // The plan's init has every pipe; the streams given now say which it needs.
        let init = translate::process(&command.process, "process", stdio)?;
        let caller = CallerStdio::duplicate(stdio)?;
        let id = command.id.clone();
        let what = format!("compute system {id:?}");
        let timeout = self.timeouts.operation();
        let system = self
            .hcs
            .create_system(&id, &plan.system, timeout)
            .map_err(|e| match e.kind() {
                HcsErrorKind::AlreadyExists => Error::AlreadyExists { id: id.clone() },
                _ => hcs_error(e, format!("create {what}")),
            })?;
        let shared = Shared::new(id, self.hcs.clone(), self.timeouts);
        let instance = HcsInstance {
            shared: shared.clone(),
            init_plan: init,
            init_stdio: Mutex::new(Some(caller)),
            waiter: Mutex::new(None),
        };
        let set_up = self
            .hcs
            .set_system_callback(&system, system_callback(&shared))
            .map_err(|e| hcs_error(e, format!("watch {what}")))
            .and_then(|()| {
                self.hcs
                    .start_system(&system, timeout)
                    .map_err(|e| hcs_error(e, format!("start {what}")))
            });
        *shared.system.lock() = Some(system);
        if let Err(error) = set_up {
            self.destroy(&instance);
            return Err(error);
        }
        Ok(Launched { instance, pid: 0 })
    }

    fn watch(&self, instance: &HcsInstance<H>, sink: ExitSink<Self>) -> Result<()> {
        let pending = {
            let mut watch = instance.shared.watch.lock();
            watch.unwatched = false;
            watch.sink = Some(sink.clone());
            watch.pending.take()
        };
        if let Some(end) = pending {
            deliver(&sink, end);
        }
        Ok(())
    }

    fn unwatch(&self, instance: &HcsInstance<H>) {
        let mut watch = instance.shared.watch.lock();
        watch.sink = None;
        watch.pending = None;
        watch.unwatched = true;
    }

    fn start(&self, instance: &HcsInstance<H>) -> Result<Option<i32>> {
        let shared = &instance.shared;
        let caller = instance.init_stdio.lock().take().unwrap_or_default();
        let init = shared.create_process(&instance.init_plan, caller, "the init")?;
        let pid = init.pid;
        *shared.init.lock() = Some(init.clone());
        let (waiting, waited) = (shared.clone(), init.clone());
        let waiter = std::thread::Builder::new()
            .name("berth-hcs-wait".into())
            .spawn(move || waiting.await_init(&waited))
            .map_err(|err| Error::io("start the thread that waits for the init", &err));
        match waiter {
            Ok(waiter) => *instance.waiter.lock() = Some(waiter),
            Err(error) => {
                // No thread would see it end: end it now, and do the waiter's part here, so
                // that its end is reported and the lifecycle's clean-up after the failed
                // start does not wait for ever.
                let _ = init.deliver(&Delivery::Terminate, SIGKILL, shared.timeouts);
                shared.await_init(&init);
                return Err(error);
            }
        }
        Ok(Some(pid_of(pid)))
    }

    fn signal(&self, instance: &HcsInstance<H>, signal: i32, all: bool) -> Result<bool> {
        let delivery = translate::delivery(signal)?;
        let shared = &instance.shared;
        let init = shared.init.lock().clone();
        let Some(init) = init else {
            // Created: no process has been made yet, so the signal ends the container.
            shared.stop_system(matches!(delivery, Delivery::Signal(_)))?;
            shared.end_before_start(signal);
            return Ok(true);
        };
        if all {
            shared.mark_killed_all(signal);
            shared.stop_system(matches!(delivery, Delivery::Signal(_)))?;
            return Ok(true);
        }
        init.deliver(&delivery, signal, shared.timeouts)?;
        Ok(true)
    }

    fn kill(&self, instance: &HcsInstance<H>, paused: bool) -> Result<()> {
        let shared = &instance.shared;
        if paused {
            if let Some(system) = shared.system.lock().as_ref() {
                let _ = shared
                    .hcs
                    .resume_system(system, shared.timeouts.operation());
            }
        }
        let init = shared.init.lock().clone();
        match init {
            Some(init) => init.deliver(&Delivery::Terminate, SIGKILL, shared.timeouts),
            None => {
                shared.stop_system(false)?;
                shared.end_before_start(SIGKILL);
                Ok(())
            }
        }
    }

    fn destroy(&self, instance: &HcsInstance<H>) {
        let _ = instance.shared.stop_system(false);
        self.clean_up(instance);
    }

    fn clean_up(&self, instance: &HcsInstance<H>) {
        let shared = &instance.shared;
        let _ = shared.stop_system(true);
        // Execs whose exit HCS never sends are released after the grace.
        for exec in shared.execs.lock().drain(..) {
            if let Some(exec) = exec.upgrade() {
                exec.gone();
            }
        }
        let waiter = instance.waiter.lock().take();
        if let Some(waiter) = waiter {
            if waiter.thread().id() != std::thread::current().id() {
                let _ = waiter.join();
            }
        }
        if let Some(init) = shared.init.lock().as_ref() {
            init.close();
        }
        instance.init_stdio.lock().take();
        if let Some(system) = shared.system.lock().take() {
            shared.hcs.close_system(system);
        }
    }

    fn has_exited(&self, instance: &HcsInstance<H>) -> bool {
        instance.shared.exited.load(Ordering::Acquire)
    }

    fn freeze(&self, instance: &HcsInstance<H>) -> Result<()> {
        instance
            .shared
            .with_system("pause", |hcs, system, timeout| {
                hcs.pause_system(system, timeout)
            })
    }

    fn thaw(&self, instance: &HcsInstance<H>) -> Result<()> {
        instance
            .shared
            .with_system("resume", |hcs, system, timeout| {
                hcs.resume_system(system, timeout)
            })
    }

    fn stats(&self, instance: &HcsInstance<H>) -> Result<Stats> {
        let query = translate::statistics_query();
        let mut properties = String::new();
        instance
            .shared
            .with_system("read the statistics of", |hcs, system, timeout| {
                properties = hcs.system_properties(system, &query, timeout)?;
                Ok(())
            })?;
        translate::stats(&properties)
    }

    fn resize(&self, instance: &HcsInstance<H>, rows: u16, cols: u16) -> Result<bool> {
        let shared = &instance.shared;
        let mut consoles: Vec<Arc<Proc<H>>> = shared.init.lock().iter().cloned().collect();
        consoles.extend(shared.execs.lock().iter().filter_map(Weak::upgrade));
        consoles.retain(|p| p.tty && !p.has_ended());
        let request = translate::console_size(rows, cols);
        let mut resized = false;
        for console in consoles {
            resized |= console.modify(&request, shared.timeouts.operation())?;
        }
        Ok(resized)
    }

    fn exec(
        &self,
        instance: &HcsInstance<H>,
        process: &Validated<ProcessConfig>,
        stdio: &Stdio,
        _hooks: &Arc<dyn Hooks>,
    ) -> Result<(HcsProcess<H>, i32)> {
        let plan = translate::process(process, "process", stdio)?;
        let caller = CallerStdio::duplicate(stdio)?;
        let shared = &instance.shared;
        let exec = shared.create_process(&plan, caller, "an exec")?;
        let mut execs = shared.execs.lock();
        execs.retain(|e| e.strong_count() > 0);
        execs.push(Arc::downgrade(&exec));
        drop(execs);
        let pid = pid_of(exec.pid);
        Ok((HcsProcess(exec), pid))
    }

    fn watch_exec(
        &self,
        instance: &HcsInstance<H>,
        process: HcsProcess<H>,
        sink: ExecSink<Self>,
    ) -> Result<()> {
        let grace = instance.shared.timeouts.exit_grace();
        let exec = process.0;
        let spawned = std::thread::Builder::new()
            .name("berth-hcs-exec".into())
            .spawn({
                let exec = exec.clone();
                move || {
                    let status = match exec.finish(grace) {
                        End::Exited(status) => status,
                        End::Lost(_) => ExitStatus::unknown(),
                    };
                    sink.exited(status);
                }
            });
        match spawned {
            Ok(_) => Ok(()),
            Err(err) => {
                let _ = exec.deliver(&Delivery::Terminate, SIGKILL, instance.shared.timeouts);
                exec.finish(grace);
                Err(Error::io("start the thread that waits for an exec", &err))
            }
        }
    }

    fn exec_wait(&self, instance: &HcsInstance<H>, process: HcsProcess<H>) -> Result<ExitStatus> {
        match process.0.finish(instance.shared.timeouts.exit_grace()) {
            End::Exited(status) => Ok(status),
            End::Lost(error) => Err(error),
        }
    }

    fn update(&self, instance: &HcsInstance<H>, resources: &Validated<Resources>) -> Result<()> {
        for request in translate::update(resources)? {
            instance
                .shared
                .with_system("update the resources of", |hcs, system, timeout| {
                    hcs.modify_system(system, &request, timeout)
                })?;
        }
        Ok(())
    }

    fn saved(&self, instance: &HcsInstance<H>) -> HcsSaved {
        HcsSaved {
            system_id: instance.shared.id.clone(),
            init_parameters: instance.init_plan.parameters.clone(),
            init_tty: instance.init_plan.tty,
        }
    }

    fn adopt(&self, saved: &Saved<HcsSaved>, _state_dir: &Path) -> Adopted<HcsInstance<H>> {
        let hcs = &self.hcs;
        let Ok(system) = hcs.open_system(&saved.platform.system_id) else {
            return Adopted::Ended(saved.recorded_exit());
        };
        let shared = Shared::new(saved.id.clone(), hcs.clone(), self.timeouts);
        let watched = hcs.set_system_callback(&system, system_callback(&shared));
        *shared.system.lock() = Some(system);
        let instance = HcsInstance {
            shared: shared.clone(),
            init_plan: detached_plan(&saved.platform),
            init_stdio: Mutex::new(None),
            waiter: Mutex::new(None),
        };
        let alive = watched.is_ok()
            && match saved.status {
                Status::Created => true,
                Status::Running | Status::Paused => self.adopt_init(&instance, saved.pid),
                Status::Creating | Status::Stopped => false,
            };
        if !alive {
            self.destroy(&instance);
            // HCS keeps no exit of a process nobody watched.
            return Adopted::Ended(saved.recorded_exit());
        }
        Adopted::Alive(instance, saved.status)
    }
}

impl<H: Hcs> Drop for HcsInstance<H> {
    /// Lets go of the container: after a clean-up there is nothing left to close; a container
    /// left to a later driver (`keep_containers`) keeps running, and only this driver's
    /// handles, threads and pipes go.
    fn drop(&mut self) {
        let shared = &self.shared;
        shared.released.store(true, Ordering::Release);
        let init = shared.init.lock().take();
        let execs: Vec<_> = shared.execs.lock().drain(..).collect();
        let processes: Vec<_> = init
            .into_iter()
            .chain(execs.iter().filter_map(Weak::upgrade))
            .collect();
        for process in &processes {
            process.abandon();
        }
        if let Some(waiter) = self.waiter.lock().take() {
            if waiter.thread().id() != std::thread::current().id() {
                let _ = waiter.join();
            }
        }
        for process in &processes {
            process.relays.lock().take();
            process.close();
        }
        if let Some(system) = shared.system.lock().take() {
            shared.hcs.close_system(system);
        }
    }
}

/// The Linux number of SIGKILL, which the C ABI uses.
const SIGKILL: i32 = 9;

impl<H: Hcs> HcsPlatform<H> {
    /// Opens the init `pid` of an adopted container and waits for it; `false` when it is gone.
    fn adopt_init(&self, instance: &HcsInstance<H>, pid: i32) -> bool {
        let shared = &instance.shared;
        let Ok(pid) = u32::try_from(pid) else {
            return false;
        };
        let opened = {
            let system = shared.system.lock();
            let Some(system) = system.as_ref() else {
                return false;
            };
            shared.hcs.open_process(system, pid)
        };
        let Ok(handle) = opened else {
            return false;
        };
        let init = Proc::new(
            shared.hcs.clone(),
            pid,
            instance.init_plan.tty,
            format!("the init of {:?}", shared.id),
            shared.timeouts,
            handle,
        );
        if init.watch().is_err() {
            init.close();
            return false;
        }
        // Its streams went with the driver that relayed them.
        *init.relays.lock() = None;
        *shared.init.lock() = Some(init.clone());
        let waiting = shared.clone();
        match std::thread::Builder::new()
            .name("berth-hcs-wait".into())
            .spawn(move || waiting.await_init(&init))
        {
            Ok(waiter) => {
                *instance.waiter.lock() = Some(waiter);
                true
            }
            Err(_) => false,
        }
    }
}

/// The init's plan for a container taken back from an earlier driver: the same process, with
/// pipes only for a console's input (the caller's streams went with that driver).
fn detached_plan(saved: &HcsSaved) -> ProcessPlan {
    let mut parameters: serde_json::Value =
        serde_json::from_str(&saved.init_parameters).unwrap_or_default();
    if let Some(map) = parameters.as_object_mut() {
        map.insert("CreateStdInPipe".into(), saved.init_tty.into());
        map.insert("CreateStdOutPipe".into(), false.into());
        map.insert("CreateStdErrPipe".into(), false.into());
    }
    ProcessPlan {
        parameters: parameters.to_string(),
        tty: saved.init_tty,
        stdin: saved.init_tty,
        stdout: false,
        stderr: false,
    }
}

/// Whether HCS's answer to a call on a process means the process has ended: "already
/// stopped", "not found" or "invalid state", in either form.
fn has_gone(error: &HcsError) -> bool {
    matches!(
        error.kind(),
        HcsErrorKind::AlreadyStopped | HcsErrorKind::NotFound | HcsErrorKind::InvalidState
    )
}

fn pid_of(pid: u32) -> i32 {
    i32::try_from(pid).unwrap_or(i32::MAX)
}

fn deliver<H: Hcs>(sink: &ExitSink<HcsPlatform<H>>, end: End) {
    match end {
        End::Exited(status) => sink.exited(status),
        End::Lost(error) => sink.lost(error),
    }
}

/// The error for an HCS call that failed while doing `step`.
pub fn hcs_error(error: HcsError, step: String) -> Error {
    let failure = OsFailure {
        step,
        code: error.hresult as i32,
        name: error.to_string(),
    };
    match error.kind() {
        HcsErrorKind::Permission => Error::Permission(failure),
        _ => Error::System(failure),
    }
}

fn disconnected(what: &str) -> Error {
    hcs_error(
        HcsError::new(
            "HcsEventServiceDisconnect",
            HCS_E_SERVICE_DISCONNECT,
            Some("the connection to the Host Compute Service was lost".into()),
        ),
        format!("watch {what}"),
    )
}
