//! One container in the lifecycle: its status and the transitions between them (each saved to
//! its state file as it happens), its exit kept for every waiter until `delete`, and the calls
//! of its hooks.
//!
//! The order of hooks: `on_start` (on the thread that called `start`) comes before `on_exit`,
//! even for a program that exits at once, because an exit that arrives while `start` is under
//! way waits for it. `on_oom` and `on_exit` run on the container's event queue, one at a time
//! and in order. A detached exec's hooks keep the same order: `on_start` on the thread that
//! called `exec_detached`, `on_exit` on the container's queue after it. No hook runs once `delete` has returned, and none is called with a lock of
//! the lifecycle held, so a hook may call the driver (even `delete` its own container).

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::{Condvar, Mutex, MutexGuard};

use super::events::{EventPool, EventQueue};
use super::store::{Saved, StateFile};
use super::Platform;
use crate::command::Resources;
use crate::error::{Error, Result};
use crate::hooks::Hooks;
use crate::process::ProcessConfig;
use crate::status::{ContainerState, ExitStatus, Operation, Stats, Status};
use crate::stdio::Stdio;
use crate::validated::Validated;

/// One container of a driver.
pub struct Record<P: Platform> {
    id: String,
    /// The init's host pid: from the launch, or from the start on a platform that creates the
    /// init only then.
    pid: AtomicI32,
    created: String,
    rootfs: String,
    platform: Arc<P>,
    instance: P::Instance,
    hooks: Arc<dyn Hooks>,
    file: StateFile,
    pool: Arc<EventPool>,
    queue: Arc<EventQueue>,
    life: Mutex<Life>,
    /// Signalled when `life.finished` or `life.deleted` becomes true, a delete gives up, or a
    /// detached exec finishes.
    finished: Condvar,
    /// OOM kills already reported through `on_oom`.
    oom_reported: AtomicU64,
    gate: HookGate,
}

struct Life {
    status: Status,
    /// The init's exit, from the moment it is reaped.
    exit: Option<ExitStatus>,
    /// Why the exit could not be observed, when the platform lost sight of the container (its
    /// service went away): every `wait` gives this error.
    lost: Option<Error>,
    /// A `start` is under way; an exit that arrives now waits for its `on_start`.
    starting: bool,
    /// An exit that arrived while `starting`.
    deferred_exit: Option<ExitStatus>,
    /// The exit is collected, what the container left removed and `on_exit` has returned.
    finished: bool,
    /// A `delete` is under way: the one that removes the state and the table entry.
    deleting: bool,
    /// A `delete` has removed the container.
    deleted: bool,
    /// The detached execs, by host pid, kept until the container is deleted.
    execs: HashMap<i32, DetachedExec>,
    /// Detached execs started so far: the serial of the last one.
    exec_serial: u64,
}

/// A process started by a detached exec: its hooks and, once it has ended, its exit.
struct DetachedExec {
    /// Tells it from an earlier exec whose pid the kernel has given to it since: a late report
    /// or `on_exit` of that one must not be taken for this one's.
    serial: u64,
    hooks: Arc<dyn Hooks>,
    /// `on_start` has returned; an exit that arrives before waits for it.
    started: bool,
    exit: Option<ExitStatus>,
    /// `on_exit` has returned (or will never run): waiters may go.
    finished: bool,
}

/// What a [`Record`] is made of.
pub(crate) struct Parts<P: Platform> {
    pub id: String,
    pub pid: i32,
    pub created: String,
    pub rootfs: String,
    pub status: Status,
    pub platform: Arc<P>,
    pub instance: P::Instance,
    pub hooks: Arc<dyn Hooks>,
    pub file: StateFile,
    pub pool: Arc<EventPool>,
    /// OOM kills reported already: 0 for a new container, the count so far for one taken
    /// back from an earlier driver.
    pub oom_reported: u64,
}

impl<P: Platform> Record<P> {
    pub(crate) fn new(parts: Parts<P>) -> Arc<Self> {
        Arc::new(Record {
            id: parts.id,
            pid: AtomicI32::new(parts.pid),
            created: parts.created,
            rootfs: parts.rootfs,
            platform: parts.platform,
            instance: parts.instance,
            hooks: parts.hooks,
            file: parts.file,
            pool: parts.pool,
            queue: EventQueue::new(),
            life: Mutex::new(Life {
                status: parts.status,
                exit: None,
                lost: None,
                starting: false,
                deferred_exit: None,
                finished: false,
                deleting: false,
                deleted: false,
                execs: HashMap::new(),
                exec_serial: 0,
            }),
            finished: Condvar::new(),
            oom_reported: AtomicU64::new(parts.oom_reported),
            gate: HookGate::default(),
        })
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// The init's host pid.
    pub fn pid(&self) -> i32 {
        self.pid.load(Ordering::Acquire)
    }

    /// What the platform knows of the container.
    pub fn instance(&self) -> &P::Instance {
        &self.instance
    }

    /// The status: the recorded one, or `Stopped` for an init that has exited and is not
    /// cleaned up yet.
    pub fn status(&self) -> Status {
        let life = self.life.lock();
        self.status_in(&life)
    }

    fn status_in(&self, life: &Life) -> Status {
        match life.status {
            Status::Running | Status::Paused
                if life.exit.is_some() || self.platform.has_exited(&self.instance) =>
            {
                Status::Stopped
            }
            status => status,
        }
    }

    /// Whether the init has exited.
    pub fn has_exited(&self) -> bool {
        self.life.lock().exit.is_some() || self.platform.has_exited(&self.instance)
    }

    /// The status now, if it allows `operation`.
    fn check(&self, operation: Operation) -> Result<()> {
        let status = self.status();
        if status.allows(operation) {
            Ok(())
        } else {
            Err(status.refuses(&self.id, operation))
        }
    }

    /// Saves the state as it is in `life`.
    fn persist(&self, life: &Life) -> Result<()> {
        self.file.save(&Saved {
            id: self.id.clone(),
            pid: self.pid(),
            status: life.status,
            created: self.created.clone(),
            rootfs: self.rootfs.clone(),
            exit_status: life.exit,
            platform: self.platform.saved(&self.instance),
        })
    }

    pub(crate) fn save(&self) -> Result<()> {
        let life = self.life.lock();
        self.persist(&life)
    }

    /// Moves to `status` and saves it. A failed save is not the operation's failure: the
    /// container did change, and the next transition saves again.
    fn become_(&self, mut life: MutexGuard<'_, Life>, status: Status) {
        life.status = status;
        let _ = self.persist(&life);
    }

    // ---- the transitions ----

    /// `created` → `running`: lets the init run the program, then calls `on_start`.
    pub(crate) fn start(self: &Arc<Self>) -> Result<()> {
        {
            let mut life = self.life.lock();
            let status = self.status_in(&life);
            if life.starting {
                return Err(Error::InvalidState {
                    id: self.id.clone(),
                    state: "starting".into(),
                    operation: Operation::Start.verb(),
                });
            }
            if !status.allows(Operation::Start) {
                return Err(status.refuses(&self.id, Operation::Start));
            }
            life.starting = true;
        }
        let started = self.platform.start(&self.instance);
        if let Ok(pid) = started {
            if let Some(pid) = pid {
                self.pid.store(pid, Ordering::Release);
            }
            self.become_(self.life.lock(), Status::Running);
            let pid = self.pid();
            self.call_hook(|hooks| hooks.on_start(&self.id, pid));
        }
        let deferred = {
            let mut life = self.life.lock();
            life.starting = false;
            life.deferred_exit.take()
        };
        if let Some(exit) = deferred {
            self.submit_finish(exit);
        }
        if let Err(error) = started {
            let _ = self.kill_and_finish();
            return Err(error);
        }
        Ok(())
    }

    /// `running` → `paused`.
    pub(crate) fn pause(&self) -> Result<()> {
        self.check(Operation::Pause)?;
        self.platform.freeze(&self.instance)?;
        self.become_(self.life.lock(), Status::Paused);
        Ok(())
    }

    /// `paused` → `running`.
    pub(crate) fn resume(&self) -> Result<()> {
        self.check(Operation::Resume)?;
        self.platform.thaw(&self.instance)?;
        self.become_(self.life.lock(), Status::Running);
        Ok(())
    }

    /// The platform has reaped the init: the container reads as stopped from now on, and its
    /// clean-up and `on_exit` follow on its event queue (after `on_start`, if a start is
    /// under way).
    fn reaped(self: &Arc<Self>, exit: ExitStatus) {
        let mut life = self.life.lock();
        if life.exit.is_some() {
            return;
        }
        life.exit = Some(exit);
        if life.starting {
            life.deferred_exit = Some(exit);
            return;
        }
        drop(life);
        self.submit_finish(exit);
    }

    fn submit_finish(self: &Arc<Self>, exit: ExitStatus) {
        let record = self.clone();
        self.pool.submit(&self.queue, move || record.finish(exit));
    }

    /// → `stopped`: reports the last OOM kills, removes what the container left, saves,
    /// calls `on_exit` and wakes the waiters. Runs on the event queue (or on the caller's
    /// thread for a container nobody watches).
    fn finish(&self, mut exit: ExitStatus) {
        let kills = self.platform.oom_kills(&self.instance);
        self.report_ooms(kills);
        exit.oom_killed = exit.oom_killed || kills > 0;
        self.platform.clean_up(&self.instance);
        {
            let mut life = self.life.lock();
            life.exit = Some(exit);
            self.become_(life, Status::Stopped);
        }
        self.call_hook(|hooks| hooks.on_exit(&self.id, &exit));
        self.life.lock().finished = true;
        self.finished.notify_all();
    }

    /// Kills the container and waits until its exit is collected and cleaned up.
    pub(crate) fn kill_and_finish(&self) -> Result<ExitStatus> {
        let (exited, paused) = {
            let life = self.life.lock();
            (life.exit.is_some(), life.status == Status::Paused)
        };
        if !exited {
            self.platform.kill(&self.instance, paused)?;
        }
        self.wait_finished()
    }

    /// Kills a container whose exit nobody watches and finishes it here, with an exit berth
    /// could not see.
    pub(crate) fn abandon(&self) {
        self.platform.destroy(&self.instance);
        self.finish(ExitStatus::unknown());
    }

    /// Blocks until the container has finished, and returns how its init ended, or why that
    /// could not be seen ([`ExitSink::lost`]). From one of the container's own hooks, which the
    /// finish may be waiting for, it returns the exit at once if there is one, and refuses
    /// otherwise.
    pub(crate) fn wait(&self) -> Result<ExitStatus> {
        let exit = self.wait_finished()?;
        match &self.life.lock().lost {
            Some(error) => Err(error.clone()),
            None => Ok(exit),
        }
    }

    /// [`Record::wait`], with the exit (unknown) of a container the platform lost.
    fn wait_finished(&self) -> Result<ExitStatus> {
        let mut life = self.life.lock();
        if self.gate.in_own_hook_here(self.key()) && !life.finished {
            return life.exit.ok_or_else(|| Error::InvalidState {
                id: self.id.clone(),
                state: self.status_in(&life).to_string(),
                operation: "wait, from its own hook, for",
            });
        }
        while !life.finished {
            self.finished.wait(&mut life);
        }
        Ok(life.exit.expect("a finished container has an exit status"))
    }

    /// Ends the container's life in the driver: kills it unless it is stopped (only with
    /// `force`), waits for its finish, stops watching it, lets no hook run from now on, and
    /// removes its state. The caller removes it from the table once this returns `Ok`. Of
    /// deletes at the same time, one does this; the others wait for it and find the container
    /// gone (`NotFound`), so no late delete touches a container created again with the id.
    pub(crate) fn delete(&self, force: bool) -> Result<()> {
        {
            let mut life = self.life.lock();
            while life.deleting {
                self.finished.wait(&mut life);
            }
            if life.deleted {
                return Err(Error::no_container(&self.id));
            }
            let status = self.status_in(&life);
            let allowed = status.allows(Operation::Delete)
                || (force && status.allows(Operation::ForceDelete));
            if !allowed {
                return Err(status.refuses(&self.id, Operation::Delete));
            }
            life.deleting = true;
        }
        let deleted = self.kill_and_finish().and_then(|_| {
            self.platform.unwatch(&self.instance);
            self.gate.close(self.key());
            self.file.remove()
        });
        let mut life = self.life.lock();
        life.deleting = false;
        life.deleted = deleted.is_ok();
        self.finished.notify_all();
        deleted
    }

    /// Undoes a create that failed after the launch: no hook runs, the container is killed
    /// (and its exit collected if it is `watched`), and its state removed.
    pub(crate) fn discard(&self, watched: bool) {
        self.gate.close(self.key());
        if watched {
            let _ = self.kill_and_finish();
            self.platform.unwatch(&self.instance);
        } else {
            self.platform.destroy(&self.instance);
        }
        let _ = self.file.remove();
    }

    /// Lets go of a container the driver leaves running for a later one ([`super::OnDrop::Keep`]):
    /// no hook runs from now on and nothing is watched; the state file stays.
    pub(crate) fn release(&self) {
        self.gate.close(self.key());
        self.platform.unwatch(&self.instance);
    }

    // ---- operations in a status ----

    pub(crate) fn update(&self, resources: &Validated<Resources>) -> Result<()> {
        self.check(Operation::Update)?;
        self.platform.update(&self.instance, resources)
    }

    pub(crate) fn signal(&self, signal: i32, all: bool) -> Result<()> {
        self.check(Operation::Kill)?;
        if self.platform.signal(&self.instance, signal, all)? {
            Ok(())
        } else {
            Err(Status::Stopped.refuses(&self.id, Operation::Kill))
        }
    }

    pub(crate) fn stats(&self) -> Result<Stats> {
        self.check(Operation::Stats)?;
        self.platform.stats(&self.instance)
    }

    pub(crate) fn resize(&self, rows: u16, cols: u16) -> Result<()> {
        self.check(Operation::Resize)?;
        if self.platform.resize(&self.instance, rows, cols)? {
            Ok(())
        } else {
            Err(Error::InvalidState {
                id: self.id.clone(),
                state: "without a terminal".into(),
                operation: Operation::Resize.verb(),
            })
        }
    }

    /// Runs `process` in the container and waits for it. Its hooks are called on this
    /// thread, and not once the container is deleted.
    pub(crate) fn exec(
        &self,
        process: &Validated<ProcessConfig>,
        stdio: &Stdio,
        hooks: Arc<dyn Hooks>,
    ) -> Result<ExitStatus> {
        self.check(Operation::Exec)?;
        let (running, pid) = self.platform.exec(&self.instance, process, stdio, &hooks)?;
        let key = self.key();
        self.gate
            .call(key, HookOf::Exec, || hooks.on_start(&self.id, pid));
        let exit = self.platform.exec_wait(&self.instance, running)?;
        self.gate
            .call(key, HookOf::Exec, || hooks.on_exit(&self.id, &exit));
        Ok(exit)
    }

    /// Starts `process` in the container and returns its pid at once. `on_start` runs on
    /// this thread before it returns; the exit is kept for [`Record::wait_exec`] and goes to
    /// `on_exit` on the container's event queue (after `on_start`, however fast it came).
    pub(crate) fn exec_detached(
        self: &Arc<Self>,
        process: &Validated<ProcessConfig>,
        stdio: &Stdio,
        hooks: Arc<dyn Hooks>,
    ) -> Result<i32> {
        self.check(Operation::Exec)?;
        let (running, pid) = self.platform.exec(&self.instance, process, stdio, &hooks)?;
        let serial = {
            let mut life = self.life.lock();
            life.exec_serial += 1;
            let serial = life.exec_serial;
            let exec = DetachedExec {
                serial,
                hooks: hooks.clone(),
                started: false,
                exit: None,
                finished: false,
            };
            // Replaces an earlier exec that had this pid: the newest process owns it.
            life.execs.insert(pid, exec);
            serial
        };
        let sink = ExecSink {
            record: Arc::downgrade(self),
            pid,
            serial,
        };
        if let Err(error) = self.platform.watch_exec(&self.instance, running, sink) {
            let mut life = self.life.lock();
            if exec_of(&mut life, pid, serial).is_some() {
                life.execs.remove(&pid);
            }
            // A wait_exec that guessed the pid finds it gone.
            self.finished.notify_all();
            return Err(error);
        }
        self.gate
            .call(self.key(), HookOf::Exec, || hooks.on_start(&self.id, pid));
        let early_exit = exec_of(&mut self.life.lock(), pid, serial).and_then(|exec| {
            exec.started = true;
            exec.exit
        });
        if let Some(exit) = early_exit {
            self.submit_exec_finish(pid, serial, hooks, exit);
        }
        Ok(pid)
    }

    /// The platform has reaped a detached exec: its `on_exit` follows on the event queue once
    /// its `on_start` has returned.
    fn exec_exited(self: &Arc<Self>, pid: i32, serial: u64, exit: ExitStatus) {
        let started = {
            let mut life = self.life.lock();
            let Some(exec) = exec_of(&mut life, pid, serial) else {
                return;
            };
            if exec.exit.is_some() {
                return;
            }
            exec.exit = Some(exit);
            exec.started.then(|| exec.hooks.clone())
        };
        // A wait_exec from a hook (its own on_start, say) returns as soon as the exit is known.
        self.finished.notify_all();
        if let Some(hooks) = started {
            self.submit_exec_finish(pid, serial, hooks, exit);
        }
    }

    fn submit_exec_finish(
        self: &Arc<Self>,
        pid: i32,
        serial: u64,
        hooks: Arc<dyn Hooks>,
        exit: ExitStatus,
    ) {
        let record = self.clone();
        self.pool.submit(&self.queue, move || {
            // On the container's queue, so its finish may wait for this hook as for one of
            // its own: a `wait` from here must not wait for that finish.
            record.gate.call(record.key(), HookOf::Container, || {
                hooks.on_exit(&record.id, &exit)
            });
            if let Some(exec) = exec_of(&mut record.life.lock(), pid, serial) {
                exec.finished = true;
            }
            record.finished.notify_all();
        });
    }

    /// Blocks until the detached exec `pid` has ended and its `on_exit` has returned, and
    /// returns how it ended. From a hook of this container it returns as soon as the exit is
    /// known, without waiting for hooks (which may be waiting for this one). A delete
    /// meanwhile ends the wait: with the exit if it came, else `NotFound`.
    pub(crate) fn wait_exec(&self, pid: i32) -> Result<ExitStatus> {
        let no_exec = || Error::NotFound {
            what: "exec'd process",
            name: pid.to_string(),
            hint: format!(
                " in container {:?}; only a detached exec can be waited for",
                self.id
            ),
        };
        let in_hook = self.gate.in_any_hook_here(self.key());
        let mut life = self.life.lock();
        loop {
            let Some(exec) = life.execs.get(&pid) else {
                return Err(no_exec());
            };
            match exec.exit {
                Some(exit) if exec.finished || in_hook || life.deleted => return Ok(exit),
                None if life.deleted => return Err(no_exec()),
                _ => self.finished.wait(&mut life),
            }
        }
    }

    pub fn state(&self) -> ContainerState {
        let life = self.life.lock();
        ContainerState {
            id: self.id.clone(),
            pid: if life.exit.is_some() { 0 } else { self.pid() },
            status: self.status_in(&life),
            created: self.created.clone(),
            cgroup_path: self.platform.cgroup_path(&self.instance),
            rootfs: self.rootfs.clone(),
            exit_status: life.exit,
        }
    }

    // ---- hooks ----

    fn key(&self) -> usize {
        self as *const Self as usize
    }

    fn call_hook(&self, call: impl FnOnce(&dyn Hooks)) {
        self.gate
            .call(self.key(), HookOf::Container, || call(self.hooks.as_ref()));
    }

    /// After an OOM event: reports the kills it led to. The event can come before the
    /// platform has counted its victim (cgroup v1 signals the OOM itself), so the counter is
    /// read again for a short while until it moves.
    fn report_new_ooms(&self) {
        // The victim is usually counted within a fraction of a millisecond: look often at
        // first, then less often, for about 200 ms in all.
        let pauses = std::iter::repeat_n(Duration::from_micros(200), 50)
            .chain(std::iter::repeat_n(Duration::from_millis(5), 40));
        for pause in pauses {
            let kills = self.platform.oom_kills(&self.instance);
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

    /// Calls `on_oom` for each OOM kill not reported yet, given the platform's counter.
    fn report_ooms(&self, kills: u64) {
        let before = self.oom_reported.fetch_max(kills, Ordering::AcqRel);
        for _ in before..kills {
            self.call_hook(|hooks| hooks.on_oom(&self.id));
        }
    }
}

/// How a platform reports what happens to a container, from any thread. It holds the
/// container weakly: a report about a container that is gone is dropped.
pub struct ExitSink<P: Platform> {
    record: Weak<Record<P>>,
}

impl<P: Platform> Clone for ExitSink<P> {
    fn clone(&self) -> Self {
        ExitSink {
            record: self.record.clone(),
        }
    }
}

impl<P: Platform> ExitSink<P> {
    pub(crate) fn new(record: &Arc<Record<P>>) -> Self {
        ExitSink {
            record: Arc::downgrade(record),
        }
    }

    /// The init has exited and been reaped. Only the first report counts.
    pub fn exited(&self, exit: ExitStatus) {
        if let Some(record) = self.record.upgrade() {
            record.reaped(exit);
        }
    }

    /// The platform has lost sight of the container for good (the service that runs it went
    /// away): it counts as stopped with [`ExitStatus::unknown`], its clean-up follows, and
    /// every `wait` for it gives `error`. Only the first report (of this or an exit) counts.
    pub fn lost(&self, error: Error) {
        if let Some(record) = self.record.upgrade() {
            {
                let mut life = record.life.lock();
                if life.exit.is_some() {
                    return;
                }
                life.lost = Some(error);
            }
            record.reaped(ExitStatus::unknown());
        }
    }

    /// The kernel reported an OOM event: the kills it led to are reported to `on_oom` on the
    /// container's event queue.
    pub fn oom_event(&self) {
        let Some(record) = self.record.upgrade() else {
            return;
        };
        if record.life.lock().finished {
            return;
        }
        let reporting = record.clone();
        record
            .pool
            .submit(&record.queue, move || reporting.report_new_ooms());
    }
}

/// The detached exec `pid` started as `serial`, unless a newer one has its pid now.
fn exec_of(life: &mut Life, pid: i32, serial: u64) -> Option<&mut DetachedExec> {
    life.execs
        .get_mut(&pid)
        .filter(|exec| exec.serial == serial)
}

/// How a platform reports the exit of a detached exec, from any thread. Like [`ExitSink`] it
/// holds the container weakly.
pub struct ExecSink<P: Platform> {
    record: Weak<Record<P>>,
    pid: i32,
    serial: u64,
}

impl<P: Platform> Clone for ExecSink<P> {
    fn clone(&self) -> Self {
        ExecSink {
            record: self.record.clone(),
            pid: self.pid,
            serial: self.serial,
        }
    }
}

impl<P: Platform> ExecSink<P> {
    /// The host pid of the process this sink is for.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Calls `f` with the container's instance, unless the container is gone: for what the
    /// platform keeps there for this process (a terminal for `resize`, say) and lets go of
    /// when it exits.
    pub fn with_instance<R>(&self, f: impl FnOnce(&P::Instance) -> R) -> Option<R> {
        self.record.upgrade().map(|record| f(record.instance()))
    }

    /// The process has exited and been reaped. Only the first report counts.
    pub fn exited(&self, exit: ExitStatus) {
        if let Some(record) = self.record.upgrade() {
            record.exec_exited(self.pid, self.serial, exit);
        }
    }
}

/// Lets hooks run until `delete` closes it, and `delete` wait for a hook that is running.
#[derive(Default)]
struct HookGate {
    state: Mutex<GateState>,
    idle: Condvar,
}

#[derive(Default)]
struct GateState {
    closed: bool,
    running: usize,
}

thread_local! {
    /// The records whose hook this thread is running, innermost last, and whether the
    /// container's finish waits for that hook (its own hooks and a detached exec's `on_exit`;
    /// not a hook on an exec's caller).
    static IN_HOOK: RefCell<Vec<(usize, bool)>> = const { RefCell::new(Vec::new()) };
}

/// Whose hook runs: one the container's finish waits for (its own `on_start`, `on_oom` and
/// `on_exit`, and a detached exec's `on_exit`, which runs on its event queue), or an exec's
/// on the exec's caller, which nothing waits for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum HookOf {
    Container,
    Exec,
}

impl HookGate {
    fn call(&self, key: usize, of: HookOf, hook: impl FnOnce()) {
        {
            let mut state = self.state.lock();
            if state.closed {
                return;
            }
            state.running += 1;
        }
        /// Leaves the gate even if the hook panics.
        struct Leave<'a>(&'a HookGate);
        impl Drop for Leave<'_> {
            fn drop(&mut self) {
                IN_HOOK.with(|keys| keys.borrow_mut().pop());
                let mut state = self.0.state.lock();
                state.running -= 1;
                self.0.idle.notify_all();
            }
        }
        IN_HOOK.with(|keys| keys.borrow_mut().push((key, of == HookOf::Container)));
        let _leave = Leave(self);
        hook();
    }

    /// Whether this thread runs one of the container's own hooks, which its finish waits for.
    fn in_own_hook_here(&self, key: usize) -> bool {
        IN_HOOK.with(|keys| keys.borrow().contains(&(key, true)))
    }

    /// Whether this thread runs any hook of the container (its own or an exec's).
    fn in_any_hook_here(&self, key: usize) -> bool {
        IN_HOOK.with(|keys| keys.borrow().iter().any(|(k, _)| *k == key))
    }

    /// No hook starts from now on; waits for those running, except one this thread is in.
    fn close(&self, key: usize) {
        let own = IN_HOOK.with(|keys| keys.borrow().iter().filter(|(k, _)| *k == key).count());
        let mut state = self.state.lock();
        state.closed = true;
        while state.running > own {
            self.idle.wait(&mut state);
        }
    }
}
