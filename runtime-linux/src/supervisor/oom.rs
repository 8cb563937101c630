//! Fds that become readable when the kernel reports an OOM event in a container's cgroup.
//!
//! cgroup v1: one eventfd per container, registered in `cgroup.event_control` on its
//! `memory.oom_control`. cgroup v2: the kernel signals a modification of `memory.events` on
//! every change of its counters; one inotify instance serves every container of a driver (one
//! watch each), since inotify instances are few per user (`fs.inotify.max_user_instances`,
//! 128 by default).

use std::collections::HashMap;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;
use std::sync::Arc;

use nix::fcntl::OFlag;
use nix::sys::eventfd::{EfdFlags, EventFd};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify, WatchDescriptor};
use nix::sys::stat::Mode;
use parking_lot::Mutex;
use runtime_core::Result;

use super::{Next, Supervisor, WatchId};
use crate::error::StepExt;

/// Called on the supervisor thread on each OOM event of one container. Must not block.
pub type OnOom = Arc<dyn Fn() + Send + Sync>;

/// How a container's OOM events are watched, to be cancelled with [`OomWatches::cancel`].
pub enum OomWatch {
    V1(WatchId),
    V2(WatchDescriptor),
}

/// The OOM watches of one driver.
pub struct OomWatches {
    /// Created with the first cgroup v2 container.
    inotify: Mutex<Option<Arc<SharedInotify>>>,
}

struct SharedInotify {
    inotify: Inotify,
    callbacks: Mutex<HashMap<WatchDescriptor, OnOom>>,
}

impl OomWatches {
    pub fn new() -> OomWatches {
        OomWatches {
            inotify: Mutex::new(None),
        }
    }

    /// Calls `on_oom` on each OOM event of the cgroup whose OOM file is `path`
    /// (`memory.oom_control` for v1, `memory.events` for v2).
    pub fn watch(&self, supervisor: &Supervisor, path: &Path, on_oom: OnOom) -> Result<OomWatch> {
        if path.file_name().is_some_and(|n| n == "memory.oom_control") {
            return watch_v1(supervisor, path, on_oom).map(OomWatch::V1);
        }
        let shared = self.shared_inotify(supervisor)?;
        let wd = shared
            .inotify
            .add_watch(path, AddWatchFlags::IN_MODIFY)
            .step(|| format!("watch {}", path.display()))?;
        shared.callbacks.lock().insert(wd, on_oom);
        Ok(OomWatch::V2(wd))
    }

    pub fn cancel(&self, supervisor: &Supervisor, watch: OomWatch) {
        match watch {
            OomWatch::V1(id) => supervisor.cancel(id),
            OomWatch::V2(wd) => {
                if let Some(shared) = self.inotify.lock().as_ref() {
                    shared.callbacks.lock().remove(&wd);
                    // Gone already if the cgroup was removed first (IN_IGNORED).
                    let _ = shared.inotify.rm_watch(wd);
                }
            }
        }
    }

    /// Sets up the shared inotify instance now (a cgroup v2 driver calls it at start), so
    /// that a driver's own fds do not change with its first container.
    pub fn prepare_v2(&self, supervisor: &Supervisor) -> Result<()> {
        self.shared_inotify(supervisor).map(drop)
    }

    fn shared_inotify(&self, supervisor: &Supervisor) -> Result<Arc<SharedInotify>> {
        let mut slot = self.inotify.lock();
        if let Some(shared) = slot.as_ref() {
            return Ok(shared.clone());
        }
        let inotify = Inotify::init(InitFlags::IN_CLOEXEC | InitFlags::IN_NONBLOCK)
            .step(|| "create the OOM inotify instance")?;
        let pollable = inotify
            .as_fd()
            .try_clone_to_owned()
            .step(|| "dup the OOM inotify fd")?;
        let shared = Arc::new(SharedInotify {
            inotify,
            callbacks: Mutex::new(HashMap::new()),
        });
        let handler = {
            let shared = shared.clone();
            Box::new(move || {
                for event in shared.inotify.read_events().unwrap_or_default() {
                    let mut callbacks = shared.callbacks.lock();
                    if event.mask.contains(AddWatchFlags::IN_IGNORED) {
                        callbacks.remove(&event.wd);
                    } else if let Some(on_oom) = callbacks.get(&event.wd).cloned() {
                        drop(callbacks);
                        on_oom();
                    }
                }
                Next::Keep
            })
        };
        supervisor.watch(Arc::new(pollable), handler)?;
        *slot = Some(shared.clone());
        Ok(shared)
    }
}

impl Default for OomWatches {
    fn default() -> Self {
        Self::new()
    }
}

/// An eventfd registered on `memory.oom_control`, watched by the supervisor.
fn watch_v1(supervisor: &Supervisor, path: &Path, on_oom: OnOom) -> Result<WatchId> {
    let shown = path.display();
    let control = nix::fcntl::open(path, OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty())
        .step(|| format!("open {shown}"))?;
    let event = EventFd::from_flags(EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK)
        .step(|| "create an OOM eventfd")?;
    let register = path.with_file_name("cgroup.event_control");
    std::fs::write(
        &register,
        format!("{} {}", event.as_fd().as_raw_fd(), control.as_raw_fd()),
    )
    .step(|| format!("register for OOM events in {}", register.display()))?;
    let pollable: OwnedFd = event
        .as_fd()
        .try_clone_to_owned()
        .step(|| "dup the OOM eventfd")?;
    let handler = Box::new(move || {
        // The kernel also signals the eventfd when the cgroup goes away; on_oom then finds
        // nothing new, and the container's end cancels the watch.
        let _ = event.read();
        let _keep_registered = &control;
        on_oom();
        Next::Keep
    });
    supervisor.watch(Arc::new(pollable), handler)
}
