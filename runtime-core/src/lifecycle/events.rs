//! Where hooks and the slower follow-up of an event run: a small pool of threads, with each
//! container's events kept in order and different containers' events run side by side.
//!
//! One worker stays; when every worker is busy (a slow hook), another is started for the
//! next container with work, and it ends after a short idle time. So a slow hook delays only
//! the events of its own container, and the thread count follows the number of hooks running
//! at once, not the number of containers.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

/// The name of the pool's threads.
pub const THREAD_NAME: &str = "berth-events";

/// How long an extra worker waits for work before it ends.
const IDLE_EXIT: Duration = Duration::from_secs(2);

type Job = Box<dyn FnOnce() + Send>;

/// The pool shared by every container of a driver.
pub struct EventPool {
    state: Mutex<PoolState>,
    work: Condvar,
}

#[derive(Default)]
struct PoolState {
    ready: VecDeque<Arc<EventQueue>>,
    workers: usize,
    idle: usize,
    stopping: bool,
}

/// One container's events, run one at a time in the order they were queued.
pub struct EventQueue {
    jobs: Mutex<QueueState>,
}

#[derive(Default)]
struct QueueState {
    jobs: VecDeque<Job>,
    /// Queued in the pool or being drained by a worker.
    scheduled: bool,
}

impl EventPool {
    pub fn new() -> Arc<EventPool> {
        Arc::new(EventPool {
            state: Mutex::new(PoolState::default()),
            work: Condvar::new(),
        })
    }

    /// Queues `job` on `queue`; it runs after the jobs queued on it before.
    pub fn submit(self: &Arc<Self>, queue: &Arc<EventQueue>, job: impl FnOnce() + Send + 'static) {
        {
            let mut jobs = queue.jobs.lock();
            jobs.jobs.push_back(Box::new(job));
            if jobs.scheduled {
                return;
            }
            jobs.scheduled = true;
        }
        let mut state = self.state.lock();
        state.ready.push_back(queue.clone());
        if state.idle > 0 {
            self.work.notify_one();
        } else {
            state.workers += 1;
            let pool = self.clone();
            let spawned = std::thread::Builder::new()
                .name(THREAD_NAME.into())
                .spawn(move || pool.work_loop());
            if spawned.is_err() {
                state.workers -= 1;
                // No thread to be had: run it here rather than lose an exit.
                let queue = state.ready.pop_back().expect("just pushed");
                drop(state);
                drain(&queue);
            }
        }
    }

    /// Lets every worker end once the queued work is done, and waits for them.
    pub fn shutdown(&self) {
        let mut state = self.state.lock();
        state.stopping = true;
        self.work.notify_all();
        while state.workers > 0 {
            self.work.wait(&mut state);
        }
    }

    /// Threads of the pool now.
    pub fn workers(&self) -> usize {
        self.state.lock().workers
    }

    fn work_loop(self: Arc<Self>) {
        let mut state = self.state.lock();
        loop {
            if let Some(queue) = state.ready.pop_front() {
                drop(state);
                drain(&queue);
                state = self.state.lock();
                continue;
            }
            if state.stopping {
                state.workers -= 1;
                self.work.notify_all();
                return;
            }
            state.idle += 1;
            let timed_out = self.work.wait_for(&mut state, IDLE_EXIT).timed_out();
            state.idle -= 1;
            if timed_out && state.ready.is_empty() && state.workers > 1 {
                state.workers -= 1;
                return;
            }
        }
    }
}

impl EventQueue {
    pub fn new() -> Arc<EventQueue> {
        Arc::new(EventQueue {
            jobs: Mutex::new(QueueState::default()),
        })
    }
}

fn drain(queue: &EventQueue) {
    loop {
        let job = {
            let mut jobs = queue.jobs.lock();
            match jobs.jobs.pop_front() {
                Some(job) => job,
                None => {
                    jobs.scheduled = false;
                    return;
                }
            }
        };
        // A hook that panics must not kill the worker or skip the events after it.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
    }
}
