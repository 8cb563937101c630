//! A process of a container, the init or an exec: its handle, its streams' relays, and what
//! is known of its end (the notification, a lost service, a kill that found it gone).

use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use runtime_core::{Error, ExitStatus, Result};

use super::{disconnected, has_gone, hcs_error, Timeouts};
use crate::hcs::{Hcs, HcsCallback, HcsEvent};
use crate::relay::Relays;
use crate::translate::{self, Delivery};

/// How a process ended, as far as berth can tell.
#[derive(Debug, Clone)]
pub(super) enum End {
    Exited(ExitStatus),
    /// The service went away: its status cannot be known.
    Lost(Error),
}

/// A process of a container: the init or an exec.
pub(super) struct Proc<H: Hcs> {
    pub(super) pid: u32,
    pub(super) tty: bool,
    pub(super) what: String,
    /// How long HCS calls may take, and its exit notification is awaited once a kill found
    /// it gone.
    pub(super) timeouts: Timeouts,
    pub(super) hcs: Arc<H>,
    pub(super) handle: Mutex<Option<H::Process>>,
    pub(super) relays: Mutex<Option<Relays>>,
    pub(super) state: Mutex<ProcState>,
    pub(super) changed: Condvar,
}

#[derive(Default)]
pub(super) struct ProcState {
    pub(super) exit_code: Option<u32>,
    pub(super) lost: Option<Error>,
    /// A kill found it gone or terminated it: from then on its exit notification is awaited
    /// for a bounded time only.
    pub(super) gone_since: Option<Instant>,
    /// The signal of berth's kill that ended it.
    pub(super) killed_by: Option<i32>,
    /// The driver lets go of it (it is left to a later driver): nobody waits any more.
    pub(super) abandoned: bool,
}

impl<H: Hcs> Proc<H> {
    pub(super) fn new(
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
    pub(super) fn watch(self: &Arc<Self>) -> Result<()> {
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
    pub(super) fn exited(&self, code: Option<u32>) {
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

    pub(super) fn lose(&self, error: Error) {
        let mut state = self.state.lock();
        if state.exit_code.is_none() && state.lost.is_none() {
            state.lost = Some(error);
        }
        self.changed.notify_all();
    }

    /// A kill found it gone (or ended it): its exit is awaited for a bounded time from now.
    pub(super) fn gone(&self) {
        self.state
            .lock()
            .gone_since
            .get_or_insert_with(Instant::now);
        self.changed.notify_all();
    }

    pub(super) fn abandon(&self) {
        self.state.lock().abandoned = true;
        self.changed.notify_all();
    }

    pub(super) fn has_ended(&self) -> bool {
        let state = self.state.lock();
        state.exit_code.is_some() || state.lost.is_some()
    }

    /// Sends `signal` (delivered as `delivery`). Gone already is success.
    pub(super) fn deliver(
        &self,
        delivery: &Delivery,
        signal: i32,
        timeouts: Timeouts,
    ) -> Result<()> {
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
    pub(super) fn modify(&self, request: &str, timeout: Duration) -> Result<bool> {
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
    pub(super) fn wait_for_end(&self) {
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

    pub(super) fn final_status(&self) -> Option<u32> {
        let handle = self.handle.lock();
        let status = self
            .hcs
            .process_properties(handle.as_ref()?, self.timeouts.operation())
            .ok()?;
        translate::exit_code(&status).ok()?
    }

    /// Waits for its end, lets its output drain (up to `grace`), closes its handle, and gives
    /// how it ended.
    pub(super) fn finish(&self, grace: Duration) -> End {
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

    pub(super) fn close(&self) {
        if let Some(handle) = self.handle.lock().take() {
            self.hcs.close_process(handle);
        }
    }
}
