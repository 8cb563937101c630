//! What the supervisor watches for one container: its init's pidfd, and its OOM events where
//! its cgroup has a memory controller, both reported to the lifecycle's `ExitSink`; and the
//! pidfd of each detached exec, reported to its `ExecSink`.

use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;

use runtime_core::lifecycle::ExitSink;
use runtime_core::{ExitStatus, Result};

use super::oom::OomWatches;
use super::{Handler, Next, Supervisor};
use crate::exit_record;
use crate::instance::Instance;
use crate::launcher;
use crate::platform::NativePlatform;
use crate::sys;

/// Starts watching `instance`.
pub fn watch(
    supervisor: &Supervisor,
    oom_watches: &OomWatches,
    instance: &Instance,
    reap: Reaping,
    sink: ExitSink<NativePlatform>,
) -> Result<()> {
    let exit_handler = {
        let sink = sink.clone();
        let record = instance.exit_record.clone();
        let killed = instance.killed.clone();
        reaper(instance.pidfd.clone(), reap, move |observed| {
            let killed = killed.load(std::sync::atomic::Ordering::Acquire);
            sink.exited(exit_record::resolve(observed, record.as_deref(), killed))
        })
    };
    supervisor.watch(instance.pidfd.clone(), exit_handler)?;
    if let Some(path) = instance.cgroup.oom_watch_path() {
        let on_oom = Arc::new(move || sink.oom_event());
        let watch = oom_watches.watch(supervisor, &path, on_oom)?;
        *instance.oom_watch.lock() = Some(watch);
    }
    Ok(())
}

/// Starts watching a process of a container that nobody waits for (a detached exec): the
/// supervisor reaps it once it exits and hands its status to `on_exit`. On failure the
/// process is killed and reaped here.
pub fn watch_exec(
    supervisor: &Supervisor,
    pidfd: OwnedFd,
    reap: Reaping,
    on_exit: impl FnOnce(ExitStatus) + Send + 'static,
) -> Result<()> {
    let pidfd = Arc::new(pidfd);
    let watched = supervisor.watch(pidfd.clone(), reaper(pidfd.clone(), reap, on_exit));
    if watched.is_err() {
        launcher::kill_and_reap(&pidfd);
    }
    watched.map(drop)
}

/// Whether the driver reaps the processes it started once they exit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reaping {
    /// Reap them (a daemon that embeds the library).
    Reap,
    /// Read their status and leave them zombies, for the process that becomes their parent
    /// when this one is gone (a command-line tool's caller, a child subreaper) to reap.
    LeaveZombies,
}

/// A handler that reaps the process of `pidfd` once it has exited (never waiting for "any
/// child"), or only reads its status with [`Reaping::LeaveZombies`], and hands the status to
/// `report`.
pub(crate) fn reaper(
    pidfd: Arc<OwnedFd>,
    reap: Reaping,
    report: impl FnOnce(ExitStatus) + Send + 'static,
) -> Handler {
    let mut report = Some(report);
    Box::new(move || {
        let waited = match reap {
            Reaping::Reap => sys::pidfd::wait(pidfd.as_fd(), true),
            Reaping::LeaveZombies => sys::pidfd::peek_exit(pidfd.as_fd()),
        };
        let exit = match waited {
            Ok(None) => return Next::Keep,
            Ok(Some(exit)) => exit,
            // Not ours to reap (recovered from an earlier driver, or the host reaped it): the
            // status is lost, and waiters must not hang.
            Err(_) => ExitStatus::unknown(),
        };
        if let Some(report) = report.take() {
            report(exit);
        }
        Next::Done
    })
}

/// Stops watching OOM events of `instance` (its exit watch ends with the exit).
pub fn unwatch(supervisor: &Supervisor, oom_watches: &OomWatches, instance: &Instance) {
    if let Some(watch) = instance.oom_watch.lock().take() {
        oom_watches.cancel(supervisor, watch);
    }
}
