//! An fd that becomes readable when the kernel reports an OOM event in a cgroup:
//! cgroup v1 `memory.oom_control` through an eventfd registered in `cgroup.event_control`,
//! cgroup v2 `memory.events` through inotify (the kernel signals a modification on every
//! change of its counters).

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;

use nix::fcntl::OFlag;
use nix::sys::eventfd::{EfdFlags, EventFd};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
use nix::sys::stat::Mode;
use runtime_core::Result;

use crate::error::StepExt;

/// A readable-on-OOM fd and how to clear it.
pub struct OomNotifier {
    kind: Kind,
}

enum Kind {
    V1 { event: EventFd, _control: OwnedFd },
    V2(Inotify),
}

impl OomNotifier {
    /// Watches `path`, which is `memory.oom_control` (v1) or `memory.events` (v2).
    pub fn new(path: &Path) -> Result<OomNotifier> {
        let shown = path.display();
        if path.file_name().is_some_and(|n| n == "memory.oom_control") {
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
            Ok(OomNotifier {
                kind: Kind::V1 {
                    event,
                    _control: control,
                },
            })
        } else {
            let inotify = Inotify::init(InitFlags::IN_CLOEXEC | InitFlags::IN_NONBLOCK)
                .step(|| "create an inotify instance")?;
            inotify
                .add_watch(path, AddWatchFlags::IN_MODIFY)
                .step(|| format!("watch {shown}"))?;
            Ok(OomNotifier {
                kind: Kind::V2(inotify),
            })
        }
    }

    /// Consumes what made the fd readable.
    pub fn clear(&self) {
        match &self.kind {
            Kind::V1 { event, .. } => {
                let _ = event.read();
            }
            Kind::V2(inotify) => {
                let _ = inotify.read_events();
            }
        }
    }

    /// A duplicate of the pollable fd, for the supervisor.
    pub fn pollable(&self) -> Result<OwnedFd> {
        let fd = match &self.kind {
            Kind::V1 { event, .. } => event.as_fd(),
            Kind::V2(inotify) => inotify.as_fd(),
        };
        fd.try_clone_to_owned().step(|| "dup the OOM fd")
    }
}
