//! Measure 4: the cost of idle containers at scale. For 1, 100 and 1000 sleeping containers:
//! what the host side holds (the calling process's memory, threads and fds, and any process
//! left running beside the containers), and the time of one more run and one exec.

use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use runtime_core::{Driver, NoHooks, ProcessConfig, Stdio};
use runtime_linux::LinuxDriver;
use serde::{Deserialize, Serialize};

use super::exec::SLEEP;
use crate::runners::{self, Env, ExecOutcome, Oci, BERTH_ROOT, CGROUP_PARENT, OCI_CGROUP_PARENT};
use crate::util::{self, new_id, SelfCounters, Summary};

/// How long to let things settle before counting: berth's extra event workers end after 2 s
/// without work.
pub const SETTLE: Duration = Duration::from_millis(2500);

/// Parallel `run --detach` / `delete` processes when starting or removing many runc or crun
/// containers (only to save time; not measured as latency).
const OCI_WORKERS: usize = 4;

/// One runtime at one number of containers.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Row {
    pub runtime: String,
    pub containers: usize,
    /// Time to start them all (berth: one caller; runc/crun: 4 concurrent processes).
    pub start_all_ms: f64,
    /// The calling process's resident set growth over the containers' start, per container
    /// (berth: the driver's share of the host process; runc/crun: only the harness's own
    /// bookkeeping, as the caller holds nothing of theirs).
    pub rss_per_container: f64,
    /// The calling process's malloc'd bytes growth, per container.
    pub heap_per_container: f64,
    /// berth: the threads its driver added to the host process; runc/crun: the threads of any
    /// host-side process of theirs left running (the caller holds none of theirs).
    pub host_threads: i64,
    /// The calling process's fds growth, per container.
    pub fds_per_container: f64,
    /// Host-side processes left running other than the containers themselves (shims,
    /// monitors, helpers).
    pub helper_processes: usize,
    /// Their resident sets, summed, per container.
    pub helper_rss_per_container: f64,
    /// Names of those processes, for the report.
    pub helper_names: Vec<String>,
    /// Processes inside the containers' cgroups (one `sleep` each expected).
    pub container_processes: usize,
    /// The runtime's state directory, per container (file sizes rounded up to 4 KiB pages).
    pub state_bytes_per_container: f64,
    /// Memory charged to the containers' cgroups (their processes, page tables, kernel
    /// objects), per container: the same kind of cost for every runtime.
    pub cgroup_bytes_per_container: f64,
    /// One more `/bin/true` run while the containers sleep.
    pub run: Summary,
    /// berth only: the run split in create, start, wait, delete (medians, ms).
    pub run_phases: Vec<(String, f64)>,
    /// One exec of `/bin/true` into the first container.
    pub exec: Option<Summary>,
    pub exec_note: Option<String>,
    pub error: Option<String>,
}

/// The result of measure 4.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Idle {
    pub sizes: Vec<usize>,
    pub samples: usize,
    pub rows: Vec<Row>,
}

impl Row {
    /// Host-side memory per container: for berth the host process's growth plus any helper
    /// process; for runc and crun their processes left running (the caller keeps nothing of
    /// theirs: its own growth is the harness's bookkeeping).
    ///
    /// The host process's growth is the larger of its RSS growth and its malloc'd bytes
    /// growth: RSS misses what malloc takes from memory freed earlier and still resident,
    /// malloc'd bytes miss thread stacks and other mappings.
    pub fn host_memory_per_container(&self) -> f64 {
        if self.runtime.starts_with("berth") {
            self.rss_per_container.max(self.heap_per_container) + self.helper_rss_per_container
        } else {
            self.helper_rss_per_container
        }
    }
}

impl Idle {
    pub fn row(&self, runtime: &str, size: usize) -> Option<&Row> {
        self.rows
            .iter()
            .find(|r| r.runtime == runtime && r.containers == size)
    }
}

/// Every size in turn, and at each size berth, crun and runc in turn.
pub fn measure(env: &Env, sizes: &[usize], samples: usize) -> Result<Idle, String> {
    let mut rows = Vec::new();
    for &size in sizes {
        for runtime in ["berth-lib", "crun", "runc"] {
            let mut row = Row {
                runtime: runtime.into(),
                containers: size,
                ..Row::default()
            };
            let result = match runtime {
                "berth-lib" => berth(env, size, samples, &mut row),
                "crun" => oci(env, Oci::Crun, size, samples, &mut row),
                _ => oci(env, Oci::Runc, size, samples, &mut row),
            };
            if let Err(e) = result {
                row.error = Some(e);
            }
            rows.push(row);
        }
    }
    Ok(Idle {
        sizes: sizes.to_vec(),
        samples,
        rows,
    })
}

fn per(delta: f64, size: usize) -> f64 {
    delta / size.max(1) as f64
}

fn berth(env: &Env, size: usize, samples: usize, row: &mut Row) -> Result<(), String> {
    let before_driver = util::self_counters();
    let driver = env.berth_driver()?;
    // One run first, so that the driver's threads and the allocator's arenas exist.
    runners::berth_run(&driver, &env.command(&new_id("iwarm"), ["/bin/true"]))?;
    std::thread::sleep(SETTLE);
    let cgroup_before = cgroup_memory(CGROUP_PARENT);
    let base = util::self_counters();
    let mut ids = Vec::with_capacity(size);
    let mut pids = HashSet::with_capacity(size);
    let start = Instant::now();
    let started = (|| {
        for _ in 0..size {
            let id = new_id("idle");
            let pid = runners::berth_start(&driver, &env.command(&id, SLEEP), Arc::new(NoHooks))?;
            ids.push(id);
            pids.insert(pid);
        }
        Ok::<(), String>(())
    })();
    row.start_all_ms = start.elapsed().as_secs_f64() * 1e3;
    let result = started.and_then(|()| {
        std::thread::sleep(SETTLE);
        let now = util::self_counters();
        record_self(row, &base, &now, size);
        row.host_threads = now.threads as i64 - before_driver.threads as i64;
        // The host's children: the containers' inits, and anything else berth left running.
        let me = std::process::id() as i32;
        for pid in util::all_pids() {
            if util::ppid_of(pid) != Some(me) || is_zombie(pid) {
                continue;
            }
            if pids.contains(&pid) {
                row.container_processes += 1;
            } else {
                row.helper_processes += 1;
                row.helper_rss_per_container += util::rss_of(pid) as f64;
                row.helper_names.push(util::cmdline_of(pid));
            }
        }
        row.helper_rss_per_container = per(row.helper_rss_per_container, size);
        row.state_bytes_per_container = per(util::dir_usage(Path::new(BERTH_ROOT)).0 as f64, size);
        row.cgroup_bytes_per_container = per(
            cgroup_memory(CGROUP_PARENT).saturating_sub(cgroup_before) as f64,
            size,
        );

        // One more run, split in its phases.
        let mut total = Vec::new();
        let mut phases: [Vec<Duration>; 4] = Default::default();
        for _ in 0..samples {
            let command = env.command(&new_id("imore"), ["/bin/true"]);
            let split = run_phases(&driver, &command)?;
            total.push(split.iter().sum());
            for (all, one) in phases.iter_mut().zip(split) {
                all.push(one);
            }
        }
        row.run = Summary::of(&total);
        row.run_phases = ["create", "start", "wait", "delete"]
            .iter()
            .zip(&phases)
            .map(|(name, d)| (name.to_string(), util::median_ms(d)))
            .collect();

        // One exec into the first container.
        let process = ProcessConfig::new(["/bin/true"]);
        let mut times = Vec::new();
        for _ in 0..samples {
            let start = Instant::now();
            match runners::berth_exec(&driver, &ids[0], &process) {
                ExecOutcome::Ok => times.push(start.elapsed()),
                ExecOutcome::Unsupported(m) => {
                    row.exec_note = Some(format!("not available (Unsupported: {m})"));
                    break;
                }
                ExecOutcome::Failed(e) => {
                    row.exec_note = Some(format!("failed: {e}"));
                    break;
                }
            }
        }
        if row.exec_note.is_none() {
            row.exec = Some(Summary::of(&times));
        }
        Ok(())
    });
    for id in &ids {
        let _ = driver.delete(id, true);
    }
    result
}

/// `Driver::run`'s own steps, each timed: create, start, wait, delete.
pub fn run_phases(
    driver: &LinuxDriver,
    command: &runtime_core::Command,
) -> Result<[Duration; 4], String> {
    let t0 = Instant::now();
    driver
        .create(command, &Stdio::null(), Arc::new(NoHooks))
        .map_err(|e| format!("berth create: {e}"))?;
    let t1 = Instant::now();
    let started = driver.start(&command.id);
    let t2 = Instant::now();
    let waited = started.and_then(|()| driver.wait(&command.id));
    let t3 = Instant::now();
    let deleted = driver.delete(&command.id, true);
    let t4 = Instant::now();
    let status = waited.map_err(|e| format!("berth start/wait: {e}"))?;
    deleted.map_err(|e| format!("berth delete: {e}"))?;
    runners::expect_success("berth run", status)?;
    Ok([t1 - t0, t2 - t1, t3 - t2, t4 - t3])
}

fn record_self(row: &mut Row, base: &SelfCounters, now: &SelfCounters, size: usize) {
    row.rss_per_container = per(now.rss as f64 - base.rss as f64, size);
    row.heap_per_container = per(now.heap as f64 - base.heap as f64, size);
    row.fds_per_container = per(now.fds as f64 - base.fds as f64, size);
}

fn is_zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rfind(')').map(|i| s[i + 2..].starts_with('Z')))
        .unwrap_or(true)
}

fn oci(env: &Env, oci: Oci, size: usize, samples: usize, row: &mut Row) -> Result<(), String> {
    let before: HashSet<i32> = util::all_pids().into_iter().collect();
    let cgroup_before = cgroup_memory(OCI_CGROUP_PARENT);
    let base = util::self_counters();
    let started: Mutex<Vec<(String, Option<i32>)>> = Mutex::new(Vec::new());
    let error: Mutex<Option<String>> = Mutex::new(None);
    let next = AtomicUsize::new(0);
    let start = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..OCI_WORKERS {
            scope.spawn(|| loop {
                if next.fetch_add(1, Ordering::Relaxed) >= size || error.lock().unwrap().is_some() {
                    return;
                }
                let id = new_id(&format!("i{}", oci.name()));
                let result = env
                    .bundle(&env.command(&id, SLEEP))
                    .and_then(|bundle| env.oci_run_detached(oci, &id, &bundle));
                let pid = result.as_ref().ok().copied();
                started.lock().unwrap().push((id, pid));
                if let Err(e) = result {
                    error.lock().unwrap().get_or_insert(e);
                }
            });
        }
    });
    row.start_all_ms = start.elapsed().as_secs_f64() * 1e3;
    let started = started.into_inner().unwrap();
    let result = match error.into_inner().unwrap() {
        Some(e) => Err(e),
        None => Ok(()),
    }
    .and_then(|()| {
        std::thread::sleep(SETTLE);
        let now = util::self_counters();
        record_self(row, &base, &now, size);
        let marker = format!("/{OCI_CGROUP_PARENT}/");
        for pid in util::all_pids() {
            if before.contains(&pid) || is_zombie(pid) {
                continue;
            }
            if util::cgroups_of(pid).contains(&marker) {
                row.container_processes += 1;
            } else if is_runtime_process(pid) {
                row.helper_processes += 1;
                row.helper_rss_per_container += util::rss_of(pid) as f64;
                row.host_threads += threads_of(pid) as i64;
                row.helper_names.push(util::cmdline_of(pid));
            }
        }
        row.helper_rss_per_container = per(row.helper_rss_per_container, size);
        row.state_bytes_per_container = per(util::dir_usage(Path::new(&oci.root())).0 as f64, size);
        row.cgroup_bytes_per_container = per(
            cgroup_memory(OCI_CGROUP_PARENT).saturating_sub(cgroup_before) as f64,
            size,
        );

        let mut times = Vec::new();
        for _ in 0..samples {
            let id = new_id(&format!("m{}", oci.name()));
            let bundle = env.bundle(&env.command(&id, ["/bin/true"]))?;
            let start = Instant::now();
            let result = env.oci_run(oci, &id, &bundle);
            times.push(start.elapsed());
            env.oci_delete(oci, &id, None);
            result?;
        }
        row.run = Summary::of(&times);

        let process_file = env.process_file(
            &format!("idle-{}", oci.name()),
            &ProcessConfig::new(["/bin/true"]),
        )?;
        let mut times = Vec::new();
        for _ in 0..samples {
            let start = Instant::now();
            env.oci_exec(oci, &started[0].0, &process_file)?;
            times.push(start.elapsed());
        }
        row.exec = Some(Summary::of(&times));
        Ok(())
    });
    let queue = Mutex::new(started);
    std::thread::scope(|scope| {
        for _ in 0..OCI_WORKERS {
            scope.spawn(|| loop {
                let Some((id, pid)) = queue.lock().unwrap().pop() else {
                    return;
                };
                env.oci_delete(oci, &id, pid);
            });
        }
    });
    result
}

/// A process of a runtime left on the host: runc, crun, or anything naming the benchmark.
fn is_runtime_process(pid: i32) -> bool {
    let exe = std::fs::read_link(format!("/proc/{pid}/exe"))
        .map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .ok()
        .flatten()
        .unwrap_or_default();
    let cmdline = util::cmdline_of(pid);
    matches!(exe.as_str(), "runc" | "crun" | "conmon")
        || exe.starts_with("containerd-shim")
        || cmdline.contains("berth-bench")
}

fn threads_of(pid: i32) -> u64 {
    std::fs::read_dir(format!("/proc/{pid}/task")).map_or(0, |d| d.count() as u64)
}

/// Memory charged to the cgroup `parent` and everything under it, in bytes: v1
/// `memory.usage_in_bytes` where a v1 memory hierarchy is mounted, else v2 `memory.current`.
pub fn cgroup_memory(parent: &str) -> u64 {
    let Ok(manager) = runtime_linux::cgroups::CgroupManager::detect() else {
        return 0;
    };
    let path = manager
        .v1_mounts()
        .into_iter()
        .find(|(names, _)| names.split(',').any(|n| n == "memory"))
        .map(|(_, mount)| mount.join(parent).join("memory.usage_in_bytes"))
        .or_else(|| {
            manager
                .unified_mount()
                .map(|m| m.join(parent).join("memory.current"))
        });
    path.and_then(|p| std::fs::read_to_string(p).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}
