//! Where berth's run time goes: `Driver::run` split in its steps (wall clock), and a CPU
//! profile of a loop of runs with `perf record -e cpu-clock` (a software event: this machine's
//! PMU counts no instructions), by process and by symbol.

use std::path::Path;
use std::time::Duration;

use nix::sys::signal::{kill, SigSet, Signal};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

use super::idle::run_phases;
use crate::runners::{Env, WORK};
use crate::util::{self, new_id, Summary};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Profile {
    pub iterations: usize,
    /// `LinuxDriver::new` and the driver's drop, ms: what a process that makes a driver for
    /// one run (the berth CLI) pays on top of the run.
    pub driver_new: Summary,
    pub driver_drop: Summary,
    /// `berth_driver_new` (the C ABI) and `berth_driver_free`, ms (absent from the results of
    /// harnesses before it was measured).
    #[serde(default)]
    pub ffi_driver_new: Summary,
    #[serde(default)]
    pub ffi_driver_free: Summary,
    /// The first `Driver::run` of a new driver, and the runs after it on the same driver, ms:
    /// `first_runs` drivers, each with one first run and `next_per_driver` next ones.
    #[serde(default)]
    pub first_run: Summary,
    #[serde(default)]
    pub next_runs: Summary,
    /// `berth run` as a process under the wrapper, split at its processes' execs and exits
    /// (`perf record` of `sched_process_exec`/`exit`, which does not slow the calls down as
    /// tracing them does): the step's name and its ms.
    #[serde(default)]
    pub cli_steps: Vec<(String, Summary)>,
    #[serde(default)]
    pub cli_runs: usize,
    #[serde(default)]
    pub cli_note: Option<String>,
    /// The size of the berth-init helper, bytes.
    pub helper_bytes: u64,
    /// Median, p10, p90 of each step, ms.
    pub phases: Vec<(String, Summary)>,
    pub perf_runs: usize,
    /// One CPU profile with no other container, one with `background` sleeping ones.
    pub perf: Vec<PerfProfile>,
    pub perf_note: Option<String>,
    /// `perf trace -s` of `trace_runs` runs, by process name and system call, per run; one
    /// per number of sleeping containers beside them.
    pub trace: Vec<(usize, Vec<TraceRow>)>,
    pub trace_runs: usize,
    pub trace_note: Option<String>,
}

/// `perf report`s of one profile.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PerfProfile {
    /// Sleeping containers held by the driver while the profiled runs go.
    pub background: usize,
    /// Samples by process and binary (self time).
    pub by_process: String,
    /// Functions by inclusive time (children counted), system calls and kernel paths mostly.
    pub by_function: String,
}

pub fn measure(
    env: &Env,
    iterations: usize,
    perf_runs: usize,
    trace_runs: usize,
    backgrounds: &[usize],
    rootfs: &str,
) -> Result<Profile, String> {
    let (mut made, mut dropped) = (Vec::new(), Vec::new());
    for _ in 0..iterations.min(50) {
        let start = std::time::Instant::now();
        let driver = env.berth_driver()?;
        made.push(start.elapsed());
        let start = std::time::Instant::now();
        drop(driver);
        dropped.push(start.elapsed());
    }
    let (mut ffi_made, mut ffi_freed) = (Vec::new(), Vec::new());
    for _ in 0..iterations.min(50) {
        let start = std::time::Instant::now();
        let driver = env.ffi_driver()?;
        ffi_made.push(start.elapsed());
        let start = std::time::Instant::now();
        drop(driver);
        ffi_freed.push(start.elapsed());
    }
    let (first, next) = first_and_next(env, iterations.clamp(5, 30), 4)?;
    let cli_runs = (trace_runs / 2).clamp(5, 25);
    let (cli_steps, cli_note) = match cli_timeline(env, cli_runs) {
        Ok(steps) => (steps, None),
        Err(e) => (Vec::new(), Some(e)),
    };
    let driver = env.berth_driver()?;
    let mut phases: [Vec<Duration>; 4] = Default::default();
    for _ in 0..2 {
        run_phases(&driver, &env.command(&new_id("pwarm"), ["/bin/true"]))?;
    }
    for _ in 0..iterations {
        let split = run_phases(&driver, &env.command(&new_id("phase"), ["/bin/true"]))?;
        for (all, one) in phases.iter_mut().zip(split) {
            all.push(one);
        }
    }
    drop(driver);
    let names = ["create", "start", "wait", "delete"];
    let mut profile = Profile {
        iterations,
        driver_new: Summary::of(&made),
        driver_drop: Summary::of(&dropped),
        ffi_driver_new: Summary::of(&ffi_made),
        ffi_driver_free: Summary::of(&ffi_freed),
        first_run: Summary::of(&first),
        next_runs: Summary::of(&next),
        cli_steps,
        cli_runs,
        cli_note,
        helper_bytes: env
            .helper
            .as_ref()
            .and_then(|h| std::fs::metadata(h).ok())
            .map_or(0, |m| m.len()),
        phases: names
            .iter()
            .zip(&phases)
            .map(|(n, d)| (n.to_string(), Summary::of(d)))
            .collect(),
        perf_runs,
        perf: Vec::new(),
        perf_note: None,
        trace: Vec::new(),
        trace_runs,
        trace_note: None,
    };
    for &background in backgrounds {
        match perf(perf_runs, rootfs, background) {
            Ok(p) => profile.perf.push(p),
            Err(e) => {
                profile.perf_note = Some(e);
                break;
            }
        }
    }
    for &background in backgrounds {
        match trace(trace_runs, rootfs, background) {
            Ok(rows) => profile.trace.push((background, rows)),
            Err(e) => {
                profile.trace_note = Some(e);
                break;
            }
        }
    }
    Ok(profile)
}

/// `drivers` new drivers, each timed on its first `Driver::run` of `/bin/true` and on
/// `next` runs after it: what a process that makes a driver for one container pays beyond a
/// warm driver's run.
fn first_and_next(
    env: &Env,
    drivers: usize,
    next: usize,
) -> Result<(Vec<Duration>, Vec<Duration>), String> {
    let (mut firsts, mut nexts) = (Vec::new(), Vec::new());
    for _ in 0..drivers {
        let driver = env.berth_driver()?;
        for k in 0..=next {
            let command = env.command(&new_id("first"), ["/bin/true"]);
            let start = std::time::Instant::now();
            crate::runners::berth_run(&driver, &command)?;
            let took = start.elapsed();
            if k == 0 {
                firsts.push(took);
            } else {
                nexts.push(took);
            }
        }
    }
    Ok((firsts, nexts))
}

/// The steps of a wrapped `berth run` of `/bin/true`, from the wrapper's start to berth's
/// exit, each the span between two of its processes' execs and exits.
pub const CLI_STEPS: [&str; 5] = ["wrapper", "start", "helper", "program", "teardown"];

/// `runs` wrapped `berth run`s, each under `perf record -e sched:sched_process_exec -e
/// sched:sched_process_exit`, split into [`CLI_STEPS`].
fn cli_timeline(env: &Env, runs: usize) -> Result<Vec<(String, Summary)>, String> {
    use crate::runners::Oci;
    std::fs::create_dir_all(WORK).map_err(|e| e.to_string())?;
    let data = Path::new(WORK).join("cli-timeline.data");
    let mut steps: Vec<Vec<Duration>> = vec![Vec::new(); CLI_STEPS.len()];
    for _ in 0..runs {
        let id = new_id("clitime");
        let command = env.command(&id, ["/bin/true"]);
        let bundle = env.bundle(&command)?;
        let mut args = vec!["--root".to_string(), Oci::Berth.root()];
        args.extend([
            "run".into(),
            "--bundle".into(),
            bundle.to_string_lossy().into_owned(),
            id.clone(),
        ]);
        let wrapped = env.wrapped(&env.program(Oci::Berth), &args);
        let status = std::process::Command::new("perf")
            .args(["record", "-q", "-o"])
            .arg(&data)
            .args([
                "-e",
                "sched:sched_process_exec",
                "-e",
                "sched:sched_process_exit",
                "--",
            ])
            .arg(wrapped.get_program())
            .args(wrapped.get_args())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
        env.oci_delete(Oci::Berth, &id, None);
        match status {
            Ok(s) if s.success() => {}
            Ok(s) => return Err(format!("perf record of berth run: {s}")),
            Err(e) => return Err(format!("perf: {e}")),
        }
        let script = std::process::Command::new("perf")
            .args(["script", "-F", "comm,pid,time,event,trace", "-i"])
            .arg(&data)
            .output()
            .map_err(|e| format!("perf script: {e}"))?;
        let text = String::from_utf8_lossy(&script.stdout);
        let split = split_cli_run(&text)
            .ok_or_else(|| format!("the events of a berth run were not all seen:\n{text}"))?;
        for (all, one) in steps.iter_mut().zip(split) {
            all.push(one);
        }
    }
    let _ = std::fs::remove_file(&data);
    Ok(CLI_STEPS
        .iter()
        .zip(&steps)
        .map(|(name, d)| (name.to_string(), Summary::of(d)))
        .collect())
}

/// One run's [`CLI_STEPS`] from `perf script`'s lines (`comm pid time: event: fields`): the
/// wrapper's first exec, berth's exec, the helper's (`/proc/self/fd/4`), the program's
/// (`/bin/true`), its exit, and berth's last exit.
fn split_cli_run(text: &str) -> Option<[Duration; 5]> {
    let (mut first, mut berth, mut helper, mut program, mut exited, mut end) =
        (None, None, None, None, None, None);
    let mut berth_pid = None;
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let Some(t) = fields
            .iter()
            .position(|f| f.ends_with(':') && f.trim_end_matches(':').parse::<f64>().is_ok())
        else {
            continue;
        };
        let time: f64 = fields[t].trim_end_matches(':').parse().ok()?;
        let pid = fields.get(t.wrapping_sub(1)).copied();
        let event = fields.get(t + 1).copied().unwrap_or("");
        let rest = fields[t + 2..].join(" ");
        if event.starts_with("sched:sched_process_exec") {
            first.get_or_insert(time);
            if rest.contains("filename=") && rest.split_whitespace().next()?.ends_with("/berth") {
                berth.get_or_insert(time);
                berth_pid = pid;
            } else if rest.starts_with("filename=/proc/self/fd/4") {
                helper.get_or_insert(time);
            } else if rest.starts_with("filename=/bin/true") {
                program.get_or_insert(time);
            }
        } else if event.starts_with("sched:sched_process_exit") {
            if rest.starts_with("comm=true ") {
                exited.get_or_insert(time);
            }
            if berth_pid.is_some() && pid == berth_pid {
                end = Some(time);
            }
        }
    }
    let at = [first?, berth?, helper?, program?, exited?, end?];
    let mut split = [Duration::ZERO; 5];
    for (k, step) in split.iter_mut().enumerate() {
        *step = Duration::from_secs_f64((at[k + 1] - at[k]).max(0.0));
    }
    Some(split)
}

/// The environment variable that gives `profile-loop` its synchronisation directory: it
/// creates `ready` once its sleeping containers run, waits for a SIGUSR1 (go), creates `done`
/// after its runs, and waits for another SIGUSR1 before removing the sleeping containers. So
/// perf attaches (`-p`) only around the runs: neither the start nor the removal of the
/// sleeping containers is profiled. The waits are `sigwait`s (`rt_sigtimedwait`, a call berth
/// never makes), which the trace summary leaves out.
const SYNC_ENV: &str = "BERTH_BENCH_SYNC_DIR";

fn wait_for(path: &Path, child: &mut std::process::Child) -> Result<(), String> {
    let deadline = std::time::Instant::now() + Duration::from_secs(600);
    while !path.exists() {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("profile-loop ended early: {status}"));
        }
        if std::time::Instant::now() > deadline {
            return Err(format!("timed out waiting for {}", path.display()));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// The process names of a berth run: the host's threads, the helper (`berth-init`; run from
/// a sealed memfd, its name may be the memfd's or the fd's), and the container's init (whose
/// calls before its exec count under the program's name, `true`).
pub const COMMS: &str =
    "berth-bench,berth-supervise,berth-events,berth-init,memfd:berth-ini,4,true";

/// Whether a process name is one of the helper's.
pub fn is_helper(comm: &str) -> bool {
    matches!(comm, "berth-init" | "memfd:berth-ini" | "4")
}

/// Runs `profile-loop` and a system-wide perf command (`perf_args -a`) during its runs only.
/// perf attached to one process (`-p`) does not follow the processes it starts later, so the
/// recording is system-wide and the reports keep berth's process names ([`COMMS`]).
fn attached(
    perf_args: &[&str],
    runs: usize,
    rootfs: &str,
    background: usize,
) -> Result<Vec<i32>, String> {
    let tids: std::sync::Mutex<Vec<i32>> = std::sync::Mutex::new(Vec::new());
    if util::output_of("perf", &["--version"]).is_none() {
        return Err("perf is not installed (apt-get install linux-perf)".into());
    }
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let sync = Path::new(WORK).join("perf-sync");
    let _ = std::fs::remove_dir_all(&sync);
    std::fs::create_dir_all(&sync).map_err(|e| format!("create {}: {e}", sync.display()))?;
    let mut child = std::process::Command::new(&exe)
        .args([
            "profile-loop",
            &runs.to_string(),
            rootfs,
            &background.to_string(),
        ])
        .env(SYNC_ENV, &sync)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("profile-loop: {e}"))?;
    let result = (|| {
        wait_for(&sync.join("ready"), &mut child)?;
        let perf = std::process::Command::new("perf")
            .args(perf_args)
            .arg("-a")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .map_err(|e| format!("perf: {e}"))?;
        // perf gives no sign that it is attached: give it time.
        std::thread::sleep(Duration::from_millis(1500));
        signal(&child, Signal::SIGUSR1);
        let ran = wait_for(&sync.join("done"), &mut child);
        // The profiled process's threads, while it waits to be told to tear down.
        *tids.lock().unwrap() = std::fs::read_dir(format!("/proc/{}/task", child.id()))
            .map(|d| {
                d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                    .collect()
            })
            .unwrap_or_default();
        signal(&perf, Signal::SIGINT);
        let perf_out = perf.wait_with_output().map_err(|e| format!("perf: {e}"))?;
        ran?;
        // perf may end by the SIGINT itself.
        use std::os::unix::process::ExitStatusExt;
        let interrupted =
            perf_out.status.signal() == Some(libc::SIGINT) || perf_out.status.code() == Some(130);
        if !perf_out.status.success() && !interrupted {
            return Err(format!(
                "{} failed: {}",
                perf_args.join(" "),
                String::from_utf8_lossy(&perf_out.stderr).trim()
            ));
        }
        Ok(())
    })();
    // The child may have exited: then it is a zombie until the wait below, so the pid is
    // still ours.
    signal(&child, Signal::SIGUSR1);
    let child_out = child
        .wait_with_output()
        .map_err(|e| format!("profile-loop: {e}"))?;
    let _ = std::fs::remove_dir_all(&sync);
    result?;
    if !child_out.status.success() {
        return Err(format!(
            "profile-loop failed: {}",
            String::from_utf8_lossy(&child_out.stderr).trim()
        ));
    }
    Ok(tids.into_inner().unwrap())
}

/// `perf record -g` of `runs` berth runs beside `background` sleeping containers, children
/// included, then two `perf report`s.
fn perf(runs: usize, rootfs: &str, background: usize) -> Result<PerfProfile, String> {
    std::fs::create_dir_all(WORK).map_err(|e| e.to_string())?;
    let data = Path::new(WORK).join("perf.data");
    let data_s = data.to_string_lossy().into_owned();
    attached(
        &[
            "record",
            "-q",
            "-g",
            "-e",
            "cpu-clock",
            "-F",
            "2000",
            "-o",
            &data_s,
        ],
        runs,
        rootfs,
        background,
    )?;
    let report = |args: &[&str], lines: usize| -> Result<String, String> {
        let mut all = vec![
            "report",
            "-i",
            &data_s,
            "--stdio",
            "-q",
            "-g",
            "none",
            "--comms",
            COMMS,
            "--percentage",
            "relative",
        ];
        all.extend_from_slice(args);
        let out = std::process::Command::new("perf")
            .args(&all)
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .output()
            .map_err(|e| format!("perf report: {e}"))?;
        Ok(String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            // Frames perf could not name (no frame pointers in user code) say nothing.
            .filter(|l| !l.ends_with(" 0000000000000000") && !l.contains("] 0x"))
            .take(lines)
            .collect::<Vec<_>>()
            .join("\n"))
    };
    // The helper's process name is its memfd's or its fd's ("4"): say berth-init.
    let by_process = report(
        &[
            "--no-children",
            "--sort",
            "comm,dso",
            "--percent-limit",
            "1.5",
        ],
        16,
    )?
    .lines()
    .map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        match f.as_slice() {
            [pct, comm, rest @ ..] => {
                let comm = if is_helper(comm) { "berth-init" } else { comm };
                format!("{pct:>7}  {comm:<16} {}", rest.join(" "))
            }
            _ => line.to_string(),
        }
    })
    .collect::<Vec<_>>()
    .join("\n");
    let by_function = report(
        &["--children", "--sort", "sym", "--percent-limit", "2.5"],
        45,
    )?;
    let _ = std::fs::remove_file(&data);
    Ok(PerfProfile {
        background,
        by_process,
        by_function,
    })
}

/// One line of the system-call summary: a process name and a call, per run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TraceRow {
    pub comm: String,
    pub syscall: String,
    pub calls_per_run: f64,
    pub ms_per_run: f64,
    pub max_ms: f64,
}

/// `perf trace -s` of `runs` berth runs: wall-clock time in each system call, summed over
/// every process of a name (the host's threads, berth-init, the containers' `true`) and
/// divided by the number of runs.
pub fn trace(runs: usize, rootfs: &str, background: usize) -> Result<Vec<TraceRow>, String> {
    std::fs::create_dir_all(WORK).map_err(|e| e.to_string())?;
    let out = Path::new(WORK).join("trace.txt");
    let out_s = out.to_string_lossy().into_owned();
    let tids = attached(&["trace", "-s", "-o", &out_s], runs, rootfs, background)?;
    let text = std::fs::read_to_string(&out).map_err(|e| format!("read {out_s}: {e}"))?;
    let _ = std::fs::remove_file(&out);
    let mut rows: Vec<TraceRow> = Vec::new();
    let mut comm = String::new();
    let wanted: Vec<&str> = COMMS.split(',').collect();
    // The harness's own waits (see SYNC_ENV), not berth's.
    let skip = ["rt_sigtimedwait", "execve"];
    for line in text.lines() {
        let trimmed = line.trim();
        if let Some(head) = trimmed
            .split(" events,")
            .next()
            .filter(|_| trimmed.contains(" events,"))
        {
            // "berth-init (21674), 314 events, 3.0%"
            let (name, tid) = head.rsplit_once(" (").unwrap_or((head, ""));
            // "berth-init (21674), 314 events, 3.0%": the tid is up to the ')'.
            let tid: i32 = tid
                .split(')')
                .next()
                .and_then(|t| t.parse().ok())
                .unwrap_or(0);
            // The profiled process's own threads, its helpers and containers; not this
            // harness, nor another berth's threads elsewhere on the machine.
            let host_thread = matches!(name, "berth-bench" | "berth-supervise" | "berth-events");
            comm = if wanted.contains(&name) && (!host_thread || tids.contains(&tid)) {
                if is_helper(name) {
                    "berth-init".to_string()
                } else {
                    name.to_string()
                }
            } else {
                String::new()
            };
            continue;
        }
        let f: Vec<&str> = trimmed.split_whitespace().collect();
        if f.len() < 8 || comm.is_empty() {
            continue;
        }
        let (Ok(calls), Ok(total), Ok(max)) = (
            f[1].parse::<f64>(),
            f[3].parse::<f64>(),
            f[6].parse::<f64>(),
        ) else {
            continue;
        };
        if comm == "berth-bench" && skip.contains(&f[0]) {
            continue;
        }
        match rows
            .iter_mut()
            .find(|r| r.comm == comm && r.syscall == f[0])
        {
            Some(row) => {
                row.calls_per_run += calls;
                row.ms_per_run += total;
                row.max_ms = row.max_ms.max(max);
            }
            None => rows.push(TraceRow {
                comm: comm.clone(),
                syscall: f[0].to_string(),
                calls_per_run: calls,
                ms_per_run: total,
                max_ms: max,
            }),
        }
    }
    let runs = runs.max(1) as f64;
    for row in &mut rows {
        row.calls_per_run /= runs;
        row.ms_per_run /= runs;
    }
    rows.sort_by(|a, b| b.ms_per_run.total_cmp(&a.ms_per_run));
    Ok(rows)
}

/// The `profile-loop` mode: `background` sleeping containers, then `runs` `/bin/true`
/// containers through `Driver::run` (the part perf sees), then clean-up. With
/// `BERTH_BENCH_SYNC_DIR`, it waits for the harness between the parts.
pub fn profile_loop(env: &Env, runs: usize, background: usize) -> Result<(), String> {
    let sync = std::env::var_os(SYNC_ENV).map(std::path::PathBuf::from);
    // SIGUSR1 blocked in this thread before any other starts, so that every thread inherits
    // the mask and the signal stays pending for sigwait.
    let mut usr1 = SigSet::empty();
    usr1.add(Signal::SIGUSR1);
    usr1.thread_block()
        .map_err(|e| format!("block SIGUSR1: {e}"))?;
    let signal = |name: &str| {
        if let Some(dir) = &sync {
            let _ = std::fs::write(dir.join(name), b"");
        }
    };
    let wait = || {
        if sync.is_some() {
            let _ = usr1.wait();
        }
    };
    let driver = env.berth_driver()?;
    let mut sleeping = Vec::new();
    let result = (|| {
        for _ in 0..background {
            let id = new_id("pbg");
            crate::runners::berth_start(
                &driver,
                &env.command(&id, super::exec::SLEEP),
                std::sync::Arc::new(runtime_core::NoHooks),
            )?;
            sleeping.push(id);
        }
        crate::runners::berth_run(&driver, &env.command(&new_id("pwarm"), ["/bin/true"]))?;
        signal("ready");
        wait();
        for _ in 0..runs {
            crate::runners::berth_run(&driver, &env.command(&new_id("perf"), ["/bin/true"]))?;
        }
        Ok(())
    })();
    signal("done");
    wait();
    for id in &sleeping {
        let _ = runtime_core::Driver::delete(&driver, id, true);
    }
    result
}

/// Sends `signal` to a child of ours (still unreaped, so the pid cannot be another's). An
/// error (it has exited) is of no interest here.
fn signal(child: &std::process::Child, signal: Signal) {
    let _ = kill(Pid::from_raw(child.id() as i32), signal);
}
