//! What the supervisor watches for one container: its init's pidfd, and its OOM events where
//! its cgroup has a memory controller. Both are reported to the lifecycle's `ExitSink`.

use std::os::fd::AsFd;
use std::sync::Arc;

use runtime_core::lifecycle::ExitSink;
use runtime_core::{ExitStatus, Result};

use super::oom::OomWatches;
use super::{Next, Supervisor};
use crate::instance::Instance;
use crate::platform::NativePlatform;
use crate::sys;

/// Starts watching `instance`.
pub fn watch(
    supervisor: &Supervisor,
    oom_watches: &OomWatches,
    instance: &Instance,
    sink: ExitSink<NativePlatform>,
) -> Result<()> {
    let exit_handler = {
        let pidfd = instance.pidfd.clone();
        let sink = sink.clone();
        Box::new(move || match sys::pidfd::wait(pidfd.as_fd(), true) {
            Ok(None) => Next::Keep,
            Ok(Some(exit)) => {
                sink.exited(exit);
                Next::Done
            }
            Err(_) => {
                // Not ours to reap (recovered from an earlier driver, or the host reaped it):
                // the status is lost, and waiters must not hang.
                sink.exited(ExitStatus::unknown());
                Next::Done
            }
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

/// Stops watching OOM events of `instance` (its exit watch ends with the exit).
pub fn unwatch(supervisor: &Supervisor, oom_watches: &OomWatches, instance: &Instance) {
    if let Some(watch) = instance.oom_watch.lock().take() {
        oom_watches.cancel(supervisor, watch);
    }
}
