//! One supervisor per driver: a thread of its own running an epoll loop over every container's
//! pidfd and OOM notifier. The thread count does not grow with the number of containers.
//!
//! The supervisor only notices: a readable pidfd means the process exited, a readable OOM fd
//! means an OOM event. What follows (reaping, cleanup, hooks) is short work done by the
//! handlers the platform registers ([`watch`]); hooks themselves run on the lifecycle's event
//! queues (`runtime_core::lifecycle::events`), never on this thread, so a slow hook cannot
//! delay another container.

pub mod oom;
pub mod watch;

use std::collections::HashMap;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use nix::errno::Errno;
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use nix::sys::eventfd::{EfdFlags, EventFd};
use parking_lot::Mutex;
use runtime_core::Result;

use crate::error::StepExt;

/// The name of the supervisor thread.
pub const THREAD_NAME: &str = "berth-supervise";

/// What a handler wants after it ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Keep watching the fd.
    Keep,
    /// Stop watching it.
    Done,
}

/// Called on the supervisor thread when the watched fd is readable. Must not block.
pub type Handler = Box<dyn FnMut() -> Next + Send>;

/// Identifies one watch, to cancel it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WatchId(u64);

struct Watch {
    fd: Arc<OwnedFd>,
    handler: Arc<Mutex<Handler>>,
}

struct Shared {
    epoll: Epoll,
    stop: EventFd,
    watches: Mutex<HashMap<u64, Watch>>,
    next_id: AtomicU64,
}

/// The supervisor thread and its epoll set.
pub struct Supervisor {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// The token of the stop eventfd; watches count up from 1.
const STOP: u64 = 0;

impl Supervisor {
    /// Starts the thread.
    pub fn start() -> Result<Supervisor> {
        let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC).step(|| "create the epoll set")?;
        let stop = EventFd::from_flags(EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK)
            .step(|| "create the supervisor's stop eventfd")?;
        epoll
            .add(stop.as_fd(), EpollEvent::new(EpollFlags::EPOLLIN, STOP))
            .step(|| "watch the stop eventfd")?;
        let shared = Arc::new(Shared {
            epoll,
            stop,
            watches: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(STOP + 1),
        });
        let thread = std::thread::Builder::new()
            .name(THREAD_NAME.into())
            .spawn({
                let shared = shared.clone();
                move || run(&shared)
            })
            .step(|| "start the supervisor thread")?;
        Ok(Supervisor {
            shared,
            thread: Some(thread),
        })
    }

    /// Calls `handler` on the supervisor thread whenever `fd` is readable, until it returns
    /// [`Next::Done`] or the watch is cancelled.
    pub fn watch(&self, fd: Arc<OwnedFd>, handler: Handler) -> Result<WatchId> {
        let id = self.shared.next_id.fetch_add(1, Ordering::Relaxed);
        // Registered before it is added: an event may arrive at once.
        self.shared.watches.lock().insert(
            id,
            Watch {
                fd: fd.clone(),
                handler: Arc::new(Mutex::new(handler)),
            },
        );
        if let Err(errno) = self
            .shared
            .epoll
            .add(fd.as_fd(), EpollEvent::new(EpollFlags::EPOLLIN, id))
        {
            self.shared.watches.lock().remove(&id);
            return Err(errno).step(|| "add a watch to the supervisor");
        }
        Ok(WatchId(id))
    }

    /// Stops a watch. Once this returns, its handler is not running and will not run again.
    pub fn cancel(&self, id: WatchId) {
        let watch = self.shared.watches.lock().remove(&id.0);
        if let Some(watch) = watch {
            let _ = self.shared.epoll.delete(watch.fd.as_fd());
            // Wait out a call that may be in flight on the supervisor thread.
            drop(watch.handler.lock());
        }
    }

    /// How many fds are watched.
    pub fn watch_count(&self) -> usize {
        self.shared.watches.lock().len()
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        let _ = self.shared.stop.write(1);
        if let Some(thread) = self.thread.take() {
            // A handler may let go of the last reference to the driver, which then ends on
            // this very thread (an exit reported while the host drops the driver): a thread
            // cannot join itself (EDEADLK, which std turns into a panic). It ends by itself
            // once the handler returns: the stop is written, and it holds what it uses.
            if thread.thread().id() != std::thread::current().id() {
                let _ = thread.join();
            }
        }
    }
}

fn run(shared: &Shared) {
    let mut events = vec![EpollEvent::empty(); 64];
    loop {
        let ready = match shared.epoll.wait(&mut events, EpollTimeout::NONE) {
            Ok(n) => n,
            Err(Errno::EINTR) => continue,
            Err(_) => return,
        };
        for event in &events[..ready] {
            let id = event.data();
            if id == STOP {
                return;
            }
            let handler = shared.watches.lock().get(&id).map(|w| w.handler.clone());
            let Some(handler) = handler else { continue };
            // A panicking handler must not take the supervisor down with it.
            let next = {
                let mut handler = handler.lock();
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (*handler)()))
                    .unwrap_or(Next::Done)
            };
            if next == Next::Done {
                if let Some(watch) = shared.watches.lock().remove(&id) {
                    let _ = shared.epoll.delete(watch.fd.as_fd());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;
    use std::time::{Duration, Instant};

    use super::*;

    /// The last reference to a supervisor let go of by one of its own handlers: the drop
    /// finishes (no join of the thread by itself), and the thread then ends.
    #[test]
    fn a_handler_may_drop_its_own_supervisor() {
        let supervisor = Arc::new(Mutex::new(Some(Supervisor::start().unwrap())));
        let fired = EventFd::from_flags(EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK).unwrap();
        let fired = Arc::new(OwnedFd::from(fired));
        let dropped = Arc::new(AtomicBool::new(false));
        let handler: Handler = Box::new({
            let supervisor = supervisor.clone();
            let dropped = dropped.clone();
            move || {
                drop(supervisor.lock().take());
                dropped.store(true, Ordering::Release);
                Next::Done
            }
        });
        let thread = {
            let guard = supervisor.lock();
            let own = guard.as_ref().unwrap();
            own.watch(fired.clone(), handler).unwrap();
            own.thread.as_ref().unwrap().thread().id()
        };
        nix::unistd::write(fired.as_fd(), &1u64.to_ne_bytes()).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !dropped.load(Ordering::Acquire) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(dropped.load(Ordering::Acquire), "the drop did not finish");
        assert!(supervisor.lock().is_none());
        // The thread is gone once it returned from the handler.
        let name = format!("{thread:?}");
        let deadline = Instant::now() + Duration::from_secs(10);
        while threads_named(THREAD_NAME) > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(threads_named(THREAD_NAME), 0, "{name} still runs");
    }

    fn threads_named(name: &str) -> usize {
        std::fs::read_dir("/proc/self/task")
            .unwrap()
            .flatten()
            .filter(|task| {
                std::fs::read_to_string(task.path().join("comm"))
                    .is_ok_and(|comm| comm.trim_end() == name)
            })
            .count()
    }
}
