//! One container as the platform knows it: its compute system, its init and execs, and
//! where the init's end goes. What the instance, the callbacks and the init's waiter share.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use runtime_core::lifecycle::ExitSink;
use runtime_core::{Error, ExitStatus, Result};

use super::process::{End, Proc};
use super::{deliver, disconnected, hcs_error, HcsPlatform, Timeouts, SIGKILL};
use crate::hcs::{Hcs, HcsCallback, HcsError, HcsErrorKind, HcsEvent};
use crate::relay::{CallerStdio, Relays};
use crate::translate::{Delivery, ProcessPlan};

/// What the callbacks and the waiter share with the instance.
pub(super) struct Shared<H: Hcs> {
    pub(super) id: String,
    pub(super) hcs: Arc<H>,
    pub(super) timeouts: Timeouts,
    pub(super) system: Mutex<Option<H::System>>,
    /// The system has stopped (its exit came, or berth stopped it).
    pub(super) system_stopped: Mutex<bool>,
    pub(super) system_changed: Condvar,
    /// The init, once `start` has created it.
    pub(super) init: Mutex<Option<Arc<Proc<H>>>>,
    /// The execs, while they may run.
    pub(super) execs: Mutex<Vec<Weak<Proc<H>>>>,
    /// The init's end has been seen (reported or not yet).
    pub(super) exited: AtomicBool,
    /// The driver has let go of the container, leaving it to a later one: its waiter neither
    /// stops the system nor reports.
    pub(super) released: AtomicBool,
    pub(super) watch: Mutex<Watch<H>>,
}

/// Where the end of the init goes: the lifecycle's sink, or kept until it watches.
pub(super) struct Watch<H: Hcs> {
    pub(super) sink: Option<ExitSink<HcsPlatform<H>>>,
    pub(super) pending: Option<End>,
    pub(super) unwatched: bool,
}

/// The callback of a compute system: notes its exit, and a lost service.
pub(super) fn system_callback<H: Hcs>(shared: &Arc<Shared<H>>) -> HcsCallback {
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
    pub(super) fn new(id: String, hcs: Arc<H>, timeouts: Timeouts) -> Arc<Self> {
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
    pub(super) fn with_system(
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

    pub(super) fn create_process(
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
    pub(super) fn await_init(&self, init: &Proc<H>) {
        init.wait_for_end();
        if self.released.load(Ordering::Acquire) {
            return;
        }
        let _ = self.stop_system(true);
        let end = init.finish(self.timeouts.exit_grace());
        self.report(end);
    }

    /// The end of a container killed before its start: there was no process, so no code.
    pub(super) fn end_before_start(&self, signal: i32) {
        self.report(End::Exited(ExitStatus {
            code: -1,
            signal: Some(signal),
            oom_killed: false,
        }));
    }

    pub(super) fn report(&self, end: End) {
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

    pub(super) fn mark_killed_all(&self, signal: i32) {
        let init = self.init.lock().clone();
        let execs: Vec<_> = self.execs.lock().iter().filter_map(Weak::upgrade).collect();
        for process in init.into_iter().chain(execs) {
            process.state.lock().killed_by.get_or_insert(signal);
        }
    }

    /// Stops the system: shuts it down when `graceful` (terminating it if that fails or takes
    /// longer than the shutdown timeout), terminates it otherwise. A system that has stopped
    /// already is success.
    pub(super) fn stop_system(&self, graceful: bool) -> Result<()> {
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
    pub(super) fn await_system_exit(&self, timeout: Duration) -> bool {
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
    pub(super) fn system_exited(&self) {
        *self.system_stopped.lock() = true;
        self.system_changed.notify_all();
        let init = self.init.lock().clone();
        let execs: Vec<_> = self.execs.lock().iter().filter_map(Weak::upgrade).collect();
        for process in init.into_iter().chain(execs) {
            process.gone();
        }
    }

    /// The service is gone: every wait ends with an error.
    pub(super) fn service_lost(&self) {
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
