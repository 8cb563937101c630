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
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use runtime_core::lifecycle::{ExecSink, ExitSink, Launched, Peers, Platform, Saved};
use runtime_core::{
    Command, Error, ExitStatus, Hooks, OsFailure, ProcessConfig, Resources, Result, Stats, Status,
    Stdio, Validated,
};
use serde::{Deserialize, Serialize};

use crate::hcs::{Hcs, HcsCallback, HcsError, HcsErrorKind, HcsEvent, HCS_E_SERVICE_DISCONNECT};
use crate::relay::{CallerStdio, Relays};
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

/// What the callbacks and the waiter share with the instance.
struct Shared<H: Hcs> {
    id: String,
    hcs: Arc<H>,
    timeouts: Timeouts,
    system: Mutex<Option<H::System>>,
    /// The system has stopped (its exit came, or berth stopped it).
    system_stopped: Mutex<bool>,
    system_changed: Condvar,
    /// The init, once `start` has created it.
    init: Mutex<Option<Arc<Proc<H>>>>,
    /// The execs, while they may run.
    execs: Mutex<Vec<Weak<Proc<H>>>>,
    /// The init's end has been seen (reported or not yet).
    exited: AtomicBool,
    /// The driver has let go of the container, leaving it to a later one: its waiter neither
    /// stops the system nor reports.
    released: AtomicBool,
    watch: Mutex<Watch<H>>,
}

/// Where the end of the init goes: the lifecycle's sink, or kept until it watches.
struct Watch<H: Hcs> {
    sink: Option<ExitSink<HcsPlatform<H>>>,
    pending: Option<End>,
    unwatched: bool,
}

/// How a process ended, as far as berth can tell.
#[derive(Debug, Clone)]
enum End {
    Exited(ExitStatus),
    /// The service went away: its status cannot be known.
    Lost(Error),
}

/// A process of a container: the init or an exec.
struct Proc<H: Hcs> {
    pid: u32,
    tty: bool,
    what: String,
    /// How long HCS calls may take, and its exit notification is awaited once a kill found
    /// it gone.
    timeouts: Timeouts,
    hcs: Arc<H>,
    handle: Mutex<Option<H::Process>>,
    relays: Mutex<Option<Relays>>,
    state: Mutex<ProcState>,
    changed: Condvar,
}

#[derive(Default)]
struct ProcState {
    exit_code: Option<u32>,
    lost: Option<Error>,
    /// A kill found it gone or terminated it: from then on its exit notification is awaited
    /// for a bounded time only.
    gone_since: Option<Instant>,
    /// The signal of berth's kill that ended it.
    killed_by: Option<i32>,
    /// The driver lets go of it (it is left to a later driver): nobody waits any more.
    abandoned: bool,
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
        let waiting = shared.clone();
        let waiter = std::thread::Builder::new()
            .name("berth-hcs-wait".into())
            .spawn(move || waiting.await_init(&init))
            .map_err(|err| Error::io("start the thread that waits for the init", &err));
        match waiter {
            Ok(waiter) => *instance.waiter.lock() = Some(waiter),
            Err(error) => {
                // No one would see it end: end it now.
                let _ = self.kill(instance, false);
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

    fn adopt(&self, saved: &Saved<HcsSaved>, _state_dir: &Path) -> Option<HcsInstance<H>> {
        let hcs = &self.hcs;
        let system = hcs.open_system(&saved.platform.system_id).ok()?;
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
            return None;
        }
        Some(instance)
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

/// The callback of a compute system: notes its exit, and a lost service.
fn system_callback<H: Hcs>(shared: &Arc<Shared<H>>) -> HcsCallback {
    let shared = Arc::downgrade(shared);
    Arc::new(move |event| {
        let Some(shared) = shared.upgrade() else {
            return;
        };
        match event {
            HcsEvent::SystemExited(_) => shared.system_exited(),
            HcsEvent::ServiceDisconnect => shared.service_lost(),
            _ => {}
        }
    })
}

impl<H: Hcs> Shared<H> {
    fn new(id: String, hcs: Arc<H>, timeouts: Timeouts) -> Arc<Self> {
        Arc::new(Shared {
            id,
            hcs,
            timeouts,
            system: Mutex::new(None),
            system_stopped: Mutex::new(false),
            system_changed: Condvar::new(),
            init: Mutex::new(None),
            execs: Mutex::new(Vec::new()),
            exited: AtomicBool::new(false),
            released: AtomicBool::new(false),
            watch: Mutex::new(Watch {
                sink: None,
                pending: None,
                unwatched: false,
            }),
        })
    }

    /// Calls `call` with the open system; its failure is the failure to `verb` it.
    fn with_system(
        &self,
        verb: &str,
        call: impl FnOnce(&H, &H::System, Duration) -> Result<(), HcsError>,
    ) -> Result<()> {
        let system = self.system.lock();
        let Some(system) = system.as_ref() else {
            return Err(Error::Internal(format!(
                "the compute system of {:?} is closed",
                self.id
            )));
        };
        call(&self.hcs, system, self.timeouts.operation())
            .map_err(|e| hcs_error(e, format!("{verb} compute system {:?}", self.id)))
    }

    fn create_process(
        &self,
        plan: &ProcessPlan,
        caller: CallerStdio,
        role: &str,
    ) -> Result<Arc<Proc<H>>> {
        let what = format!("{role} of {:?}", self.id);
        let (handle, mut info) = {
            let system = self.system.lock();
            let system = system.as_ref().ok_or_else(|| {
                Error::Internal(format!("the compute system of {what} is closed"))
            })?;
            self.hcs
                .create_process(system, &plan.parameters, self.timeouts.operation())
                .map_err(|e| hcs_error(e, format!("create {what}")))?
        };
        let process = Proc::new(
            self.hcs.clone(),
            info.pid,
            plan.tty,
            what,
            self.timeouts,
            handle,
        );
        let relays = Relays::start(&mut info, caller);
        let watched = relays.and_then(|relays| {
            *process.relays.lock() = Some(relays);
            process.watch()
        });
        if let Err(error) = watched {
            let _ = process.deliver(&Delivery::Terminate, SIGKILL, self.timeouts);
            process.finish(self.timeouts.exit_grace());
            return Err(error);
        }
        Ok(process)
    }

    /// The init's waiter: its end, then the system stopped, its output drained, the end
    /// reported.
    fn await_init(&self, init: &Proc<H>) {
        init.wait_for_end();
        if self.released.load(Ordering::Acquire) {
            return;
        }
        let _ = self.stop_system(true);
        let end = init.finish(self.timeouts.exit_grace());
        self.report(end);
    }

    /// The end of a container killed before its start: there was no process, so no code.
    fn end_before_start(&self, signal: i32) {
        self.report(End::Exited(ExitStatus {
            code: -1,
            signal: Some(signal),
            oom_killed: false,
        }));
    }

    fn report(&self, end: End) {
        if self.exited.swap(true, Ordering::AcqRel) {
            return;
        }
        let sink = {
            let mut watch = self.watch.lock();
            if watch.sink.is_none() && !watch.unwatched {
                watch.pending = Some(end.clone());
            }
            watch.sink.clone()
        };
        if let Some(sink) = sink {
            deliver(&sink, end);
        }
    }

    fn mark_killed_all(&self, signal: i32) {
        let init = self.init.lock().clone();
        let execs: Vec<_> = self.execs.lock().iter().filter_map(Weak::upgrade).collect();
        for process in init.into_iter().chain(execs) {
            process.state.lock().killed_by.get_or_insert(signal);
        }
    }

    /// Stops the system: shuts it down when `graceful` (terminating it if that fails or takes
    /// longer than the shutdown timeout), terminates it otherwise. A system that has stopped
    /// already is success.
    fn stop_system(&self, graceful: bool) -> Result<()> {
        if *self.system_stopped.lock() {
            return Ok(());
        }
        let guard = self.system.lock();
        let Some(system) = guard.as_ref() else {
            return Ok(());
        };
        let stopped = |result: Result<(), HcsError>| match result {
            Ok(()) => Ok(true),
            Err(e)
                if matches!(
                    e.kind(),
                    HcsErrorKind::AlreadyStopped | HcsErrorKind::NotFound
                ) =>
            {
                Ok(true)
            }
            Err(e) => Err(e),
        };
        if graceful {
            let shut_down = stopped(self.hcs.shut_down_system(system, self.timeouts.shutdown()));
            if matches!(shut_down, Ok(true)) && self.await_system_exit(self.timeouts.shutdown()) {
                drop(guard);
                self.system_exited();
                return Ok(());
            }
        }
        let terminated = stopped(self.hcs.terminate_system(system, self.timeouts.operation()));
        drop(guard);
        match terminated {
            Ok(_) => {
                self.system_exited();
                Ok(())
            }
            Err(e) => Err(hcs_error(
                e,
                format!("terminate compute system {:?}", self.id),
            )),
        }
    }

    /// Waits up to `timeout` for the system's exit notification; whether it came.
    fn await_system_exit(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut stopped = self.system_stopped.lock();
        while !*stopped {
            if self
                .system_changed
                .wait_until(&mut stopped, deadline)
                .timed_out()
            {
                return *stopped;
            }
        }
        true
    }

    /// The system has stopped: its processes are gone, whether or not HCS says so for each.
    fn system_exited(&self) {
        *self.system_stopped.lock() = true;
        self.system_changed.notify_all();
        let init = self.init.lock().clone();
        let execs: Vec<_> = self.execs.lock().iter().filter_map(Weak::upgrade).collect();
        for process in init.into_iter().chain(execs) {
            process.gone();
        }
    }

    /// The service is gone: every wait ends with an error.
    fn service_lost(&self) {
        let init = self.init.lock().clone();
        let execs: Vec<_> = self.execs.lock().iter().filter_map(Weak::upgrade).collect();
        let started = init.is_some();
        for process in init.into_iter().chain(execs) {
            process.lose(disconnected(&process.what));
        }
        if !started {
            self.report(End::Lost(disconnected(&format!("container {:?}", self.id))));
        }
        *self.system_stopped.lock() = true;
        self.system_changed.notify_all();
    }
}

impl<H: Hcs> Proc<H> {
    fn new(
        hcs: Arc<H>,
        pid: u32,
        tty: bool,
        what: String,
        timeouts: Timeouts,
        handle: H::Process,
    ) -> Arc<Self> {
        Arc::new(Proc {
            pid,
            tty,
            what,
            timeouts,
            hcs,
            handle: Mutex::new(Some(handle)),
            relays: Mutex::new(None),
            state: Mutex::new(ProcState::default()),
            changed: Condvar::new(),
        })
    }

    /// Sets the callback, then asks once whether it has exited already (before the callback
    /// was there to hear it).
    fn watch(self: &Arc<Self>) -> Result<()> {
        let weak = Arc::downgrade(self);
        let callback: HcsCallback = Arc::new(move |event| {
            let Some(process) = weak.upgrade() else {
                return;
            };
            match event {
                HcsEvent::ProcessExited(data) => {
                    let code = data.as_deref().and_then(|d| translate::exit_code(d).ok()?);
                    process.exited(code);
                }
                HcsEvent::ServiceDisconnect => process.lose(disconnected(&process.what)),
                _ => {}
            }
        });
        let guard = self.handle.lock();
        let Some(handle) = guard.as_ref() else {
            return Err(Error::Internal(format!("{} is closed", self.what)));
        };
        self.hcs
            .set_process_callback(handle, callback)
            .map_err(|e| hcs_error(e, format!("watch {}", self.what)))?;
        let status = self
            .hcs
            .process_properties(handle, self.timeouts.operation());
        drop(guard);
        if let Ok(status) = status {
            if let Ok(Some(code)) = translate::exit_code(&status) {
                self.exited(Some(code));
            }
        }
        Ok(())
    }

    /// Its exit is known; `None`: it exited, with a code HCS did not give.
    fn exited(&self, code: Option<u32>) {
        let mut state = self.state.lock();
        if state.exit_code.is_none() && state.lost.is_none() {
            match code {
                Some(code) => state.exit_code = Some(code),
                None => {
                    state.gone_since.get_or_insert_with(Instant::now);
                }
            }
        }
        self.changed.notify_all();
    }

    fn lose(&self, error: Error) {
        let mut state = self.state.lock();
        if state.exit_code.is_none() && state.lost.is_none() {
            state.lost = Some(error);
        }
        self.changed.notify_all();
    }

    /// A kill found it gone (or ended it): its exit is awaited for a bounded time from now.
    fn gone(&self) {
        self.state
            .lock()
            .gone_since
            .get_or_insert_with(Instant::now);
        self.changed.notify_all();
    }

    fn abandon(&self) {
        self.state.lock().abandoned = true;
        self.changed.notify_all();
    }

    fn has_ended(&self) -> bool {
        let state = self.state.lock();
        state.exit_code.is_some() || state.lost.is_some()
    }

    /// Sends `signal` (delivered as `delivery`). Gone already is success.
    fn deliver(&self, delivery: &Delivery, signal: i32, timeouts: Timeouts) -> Result<()> {
        let guard = self.handle.lock();
        let Some(handle) = guard.as_ref() else {
            return Ok(());
        };
        let result = match delivery {
            Delivery::Signal(options) => {
                self.hcs
                    .signal_process(handle, options, timeouts.operation())
            }
            Delivery::Terminate => self.hcs.terminate_process(handle, timeouts.operation()),
        };
        drop(guard);
        match result {
            Ok(()) => {
                if *delivery == Delivery::Terminate {
                    self.state.lock().killed_by.get_or_insert(signal);
                    self.gone();
                }
                Ok(())
            }
            Err(e) if has_gone(&e) => {
                self.gone();
                Ok(())
            }
            Err(e) => Err(hcs_error(e, format!("signal {}", self.what))),
        }
    }

    /// Resizes its console; `false` if it has ended meanwhile.
    fn modify(&self, request: &str, timeout: Duration) -> Result<bool> {
        let handle = self.handle.lock();
        let Some(handle) = handle.as_ref() else {
            return Ok(false);
        };
        match self.hcs.modify_process(handle, request, timeout) {
            Ok(()) => Ok(true),
            Err(e) if has_gone(&e) => Ok(false),
            Err(e) => Err(hcs_error(e, format!("resize the console of {}", self.what))),
        }
    }

    /// Blocks until its exit is known, the service is lost, or a kill's grace has passed.
    fn wait_for_end(&self) {
        let mut state = self.state.lock();
        loop {
            if state.exit_code.is_some() || state.lost.is_some() || state.abandoned {
                return;
            }
            match state.gone_since {
                Some(since) => {
                    let deadline = since + self.timeouts.exit_grace();
                    if self.changed.wait_until(&mut state, deadline).timed_out() {
                        drop(state);
                        // One last look, for an exit whose notification never came.
                        let code = self.final_status();
                        let mut state = self.state.lock();
                        if state.exit_code.is_none() && state.lost.is_none() {
                            state.exit_code = code;
                        }
                        return;
                    }
                }
                None => self.changed.wait(&mut state),
            }
        }
    }

    fn final_status(&self) -> Option<u32> {
        let handle = self.handle.lock();
        let status = self
            .hcs
            .process_properties(handle.as_ref()?, self.timeouts.operation())
            .ok()?;
        translate::exit_code(&status).ok()?
    }

    /// Waits for its end, lets its output drain (up to `grace`), closes its handle, and gives
    /// how it ended.
    fn finish(&self, grace: Duration) -> End {
        self.wait_for_end();
        if let Some(relays) = self.relays.lock().take() {
            relays.finish(grace);
        }
        self.close();
        let state = self.state.lock();
        if let Some(error) = &state.lost {
            return End::Lost(error.clone());
        }
        End::Exited(match state.exit_code {
            Some(code) => ExitStatus {
                code: i64::from(code),
                signal: state.killed_by,
                oom_killed: false,
            },
            None => ExitStatus {
                signal: state.killed_by,
                ..ExitStatus::unknown()
            },
        })
    }

    fn close(&self) {
        if let Some(handle) = self.handle.lock().take() {
            self.hcs.close_process(handle);
        }
    }
}
