//! Measure 5: OOM notification latency, from the kernel's OOM event in a container's cgroup
//! to berth's `on_oom` callback.
//!
//! The harness watches the cgroup itself, independently of berth: on cgroup v1 it registers
//! an eventfd of its own on `memory.oom_control` (the kernel signals every registered eventfd
//! at the OOM event) and a thread blocks on it; another thread polls the `oom_kill` counter
//! every 100 µs to see when the kill is counted. Both stamp `Instant::now()`; `on_oom` and
//! `on_exit` stamp theirs in the hooks. runc and crun have no callbacks.

use std::os::fd::{AsFd, AsRawFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags};
use nix::sys::eventfd::{EfdFlags, EventFd};
use runtime_core::{Driver, ExitStatus, Hooks, Stdio};
use serde::{Deserialize, Serialize};

use crate::runners::{Env, CGROUP_PARENT};
use crate::util::{new_id, Summary};

/// The limit of the container that runs out of memory, and what it asks for.
pub const OOM_LIMIT: i64 = 16 << 20;
pub const OOM_PROGRAM: [&str; 5] = [
    "/bin/dd",
    "if=/dev/zero",
    "of=/dev/null",
    "bs=64M",
    "count=1",
];

/// One OOM.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Sample {
    /// `on_oom` after the harness's own eventfd woke (ms); None without either.
    pub from_event_ms: Option<f64>,
    /// `on_oom` after the polling thread saw `oom_kill` go up (ms).
    pub from_counter_ms: Option<f64>,
    /// `on_exit` after `on_oom` (ms): negative when on_oom came after on_exit.
    pub exit_after_oom_ms: Option<f64>,
    pub oom_calls: usize,
    pub status: Option<ExitStatus>,
}

/// The result of measure 5.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Oom {
    pub iterations: usize,
    pub samples: Vec<Sample>,
    pub from_event: Summary,
    pub from_counter: Summary,
    pub exit_after_oom: Summary,
    /// How many times on_oom came at all, and before on_exit.
    pub with_callback: usize,
    pub before_exit: usize,
    pub method: String,
}

#[derive(Default)]
struct Stamps {
    oom: Vec<Instant>,
    exit: Option<Instant>,
}

struct StampHooks(Mutex<Stamps>);

impl Hooks for StampHooks {
    fn on_oom(&self, _id: &str) {
        self.0.lock().unwrap().oom.push(Instant::now());
    }
    fn on_exit(&self, _id: &str, _status: &ExitStatus) {
        self.0.lock().unwrap().exit = Some(Instant::now());
    }
}

pub fn measure(env: &Env, iterations: usize) -> Result<Oom, String> {
    let driver = env.berth_driver()?;
    let memory = memory_dir()?;
    let v1 = memory.1;
    let mut samples = Vec::new();
    for _ in 0..iterations {
        samples.push(once(env, &driver, &memory.0, v1)?);
    }
    let values =
        |f: fn(&Sample) -> Option<f64>| -> Vec<f64> { samples.iter().filter_map(f).collect() };
    let from_event = Summary::of_values(&values(|s| s.from_event_ms));
    let from_counter = Summary::of_values(&values(|s| s.from_counter_ms));
    let exit_after_oom = Summary::of_values(&values(|s| s.exit_after_oom_ms));
    let with_callback = samples.iter().filter(|s| s.oom_calls > 0).count();
    let before_exit = samples
        .iter()
        .filter(|s| s.exit_after_oom_ms.is_some_and(|d| d >= 0.0))
        .count();
    Ok(Oom {
        iterations,
        from_event,
        from_counter,
        exit_after_oom,
        with_callback,
        before_exit,
        samples,
        method: if v1 {
            "cgroup v1: the harness's own eventfd on memory.oom_control (cgroup.event_control), \
             and a thread polling memory.oom_control's oom_kill line every 100 µs"
                .into()
        } else {
            "cgroup v2: a thread polling memory.events' oom_kill line every 100 µs".into()
        },
    })
}

/// The memory controller's hierarchy root, and whether it is v1.
fn memory_dir() -> Result<(PathBuf, bool), String> {
    let manager = runtime_linux::cgroups::CgroupManager::detect().map_err(|e| e.to_string())?;
    if let Some((_, mount)) = manager
        .v1_mounts()
        .into_iter()
        .find(|(names, _)| names.split(',').any(|n| n == "memory"))
    {
        return Ok((mount, true));
    }
    manager
        .unified_mount()
        .map(|m| (m.to_path_buf(), false))
        .ok_or_else(|| "no memory cgroup controller".to_string())
}

fn once(
    env: &Env,
    driver: &runtime_linux::LinuxDriver,
    root: &Path,
    v1: bool,
) -> Result<Sample, String> {
    let id = new_id("oom");
    let mut command = env.command(&id, OOM_PROGRAM);
    command.resources.memory_limit = Some(OOM_LIMIT);
    let hooks = Arc::new(StampHooks(Mutex::new(Stamps::default())));
    driver
        .create(&command, &Stdio::null(), hooks.clone())
        .map_err(|e| format!("berth create: {e}"))?;
    let dir = root.join(CGROUP_PARENT).join(&id);
    let result = (|| {
        let counter_file = dir.join(if v1 {
            "memory.oom_control"
        } else {
            "memory.events"
        });
        let event = if v1 {
            Some(register_eventfd(&dir)?)
        } else {
            None
        };
        let stop = Arc::new(AtomicBool::new(false));
        let event_thread = event.map(|fd| {
            let stop = stop.clone();
            std::thread::spawn(move || wait_event(fd, &stop))
        });
        let poll_thread = {
            let stop = stop.clone();
            std::thread::spawn(move || poll_counter(&counter_file, &stop))
        };
        let started = driver.start(&id).map_err(|e| format!("berth start: {e}"));
        let status =
            started.and_then(|()| driver.wait(&id).map_err(|e| format!("berth wait: {e}")));
        // Let the watchers see what they will, then stop them.
        std::thread::sleep(Duration::from_millis(20));
        stop.store(true, Ordering::Relaxed);
        let event_at = event_thread.and_then(|t| t.join().ok().flatten());
        let counter_at = poll_thread.join().ok().flatten();
        let status = status?;
        let stamps = hooks.0.lock().unwrap();
        let first_oom = stamps.oom.first().copied();
        let diff = |later: Option<Instant>, earlier: Option<Instant>| match (later, earlier) {
            (Some(l), Some(e)) => Some(signed_ms(l, e)),
            _ => None,
        };
        Ok(Sample {
            from_event_ms: diff(first_oom, event_at),
            from_counter_ms: diff(first_oom, counter_at),
            exit_after_oom_ms: diff(stamps.exit, first_oom),
            oom_calls: stamps.oom.len(),
            status: Some(status),
        })
    })();
    let _ = driver.delete(&id, true);
    result
}

fn signed_ms(later: Instant, earlier: Instant) -> f64 {
    if later >= earlier {
        (later - earlier).as_secs_f64() * 1e3
    } else {
        -((earlier - later).as_secs_f64() * 1e3)
    }
}

/// An eventfd of the harness's own, registered for the cgroup's OOM events.
fn register_eventfd(dir: &Path) -> Result<(EventFd, std::fs::File), String> {
    let control_path = dir.join("memory.oom_control");
    let control = std::fs::File::open(&control_path)
        .map_err(|e| format!("open {}: {e}", control_path.display()))?;
    let event = EventFd::from_flags(EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK)
        .map_err(|e| format!("eventfd: {e}"))?;
    let register = dir.join("cgroup.event_control");
    std::fs::write(
        &register,
        format!("{} {}", event.as_raw_fd(), control.as_raw_fd()),
    )
    .map_err(|e| format!("write {}: {e}", register.display()))?;
    Ok((event, control))
}

/// Waits for the eventfd; the time it became readable with a count, or None when stopped.
fn wait_event((event, _control): (EventFd, std::fs::File), stop: &AtomicBool) -> Option<Instant> {
    while !stop.load(Ordering::Relaxed) {
        let mut pfd = [PollFd::new(event.as_fd(), PollFlags::POLLIN)];
        if matches!(poll(&mut pfd, 10u16), Ok(ready) if ready > 0) {
            let at = Instant::now();
            // The cgroup going away also signals it; an OOM event has happened before that.
            if event.read().is_ok() {
                return Some(at);
            }
        }
    }
    None
}

/// Polls the `oom_kill` counter until it goes up; the time it was first seen up.
fn poll_counter(path: &Path, stop: &AtomicBool) -> Option<Instant> {
    let read = || -> Option<u64> {
        let text = std::fs::read_to_string(path).ok()?;
        text.lines()
            .find_map(|l| l.strip_prefix("oom_kill "))
            .and_then(|v| v.trim().parse().ok())
    };
    let start = read().unwrap_or(0);
    while !stop.load(Ordering::Relaxed) {
        if read().is_some_and(|n| n > start) {
            return Some(Instant::now());
        }
        std::thread::sleep(Duration::from_micros(100));
    }
    None
}
