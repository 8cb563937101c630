//! Recovery, proven by force: a host process (this binary, run as a child) sets up containers
//! of every kind and is killed with SIGKILL at a random point, in the middle of a create
//! included; a new driver on the same root takes them back. Each must be listed in its true
//! state, work (start, exec, pause, resume, kill, wait, delete) and end with its true exit
//! status, and once all are deleted nothing may be left: no cgroup, mount, process, fd or
//! state file. `BERTH_LOOP_ROUNDS` rounds (default 100); `BERTH_LOOP_SEED` repeats a run.
//!
//! The kinds, all with berth's init but `plain`:
//! - `created`: created, never started; it must stay startable.
//! - `running`: started; ends by SIGTERM, which the init forwards.
//! - `paused`: started and paused.
//! - `exec`: started, with a detached exec running in it.
//! - `tty`: on a terminal whose master dies with the host: the terminal hangs up, and the
//!   program ends by SIGHUP (docs/recovery.md).
//! - `exits`: its program exits 7 by itself shortly after it starts, while no driver may be
//!   watching: its status comes from the init's record.
//! - `plain`: without berth's init; the new driver kills it with SIGKILL and says so.

mod common;
#[path = "common/conformance.rs"]
mod linux;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::Stdio as ProcessStdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use runtime_core::{
    Command, ContainerState, Driver, ExitStatus, NoHooks, ProcessConfig, Status, Stdio,
};
use runtime_linux::{DriverOptions, LinuxDriver};

const CHILD: &str = "BERTH_LOOP_CHILD";
const PARENT: &str = "BERTH_LOOP_PARENT";
const OUT: &str = "BERTH_LOOP_OUT";

const KINDS: [&str; 7] = [
    "created", "running", "paused", "exec", "tty", "exits", "plain",
];

fn options(root: &Path, parent: &str) -> DriverOptions {
    DriverOptions {
        root: Some(root.to_path_buf()),
        helper_path: Some(PathBuf::from(env!("CARGO_BIN_EXE_berth-init"))),
        cgroup_parent: Some(parent.to_string()),
        ..DriverOptions::default()
    }
}

/// The program of a container of `kind`: it says `started` on its stdout first.
fn command(kind: &str, round: u32) -> Command {
    let script = match kind {
        "exits" => "echo started; sleep 0.2; exit 7",
        _ => "echo started; exec sleep 1000",
    };
    let mut command = common::shell(&format!("{kind}-r{round}"), script);
    command.init = kind != "plain";
    command.process.tty = kind == "tty";
    command
}

/// The host: sets up one container of each kind, saying `creating <kind> <id>` before and
/// `ready <kind> <id>` after, then waits to be killed.
fn child(root: &str) {
    // A session of its own: every process it starts (helpers included) can be found by it.
    nix::unistd::setsid().unwrap();
    let parent = std::env::var(PARENT).unwrap();
    let out = PathBuf::from(std::env::var(OUT).unwrap());
    let round: u32 = std::env::var("BERTH_LOOP_ROUND").unwrap().parse().unwrap();
    let driver = LinuxDriver::new(options(Path::new(root), &parent)).unwrap();
    for kind in KINDS {
        let command = command(kind, round);
        let id = command.id.clone();
        println!("creating {kind} {id}");
        let file = std::fs::File::create(out.join(&id)).unwrap();
        let stdio = Stdio {
            stdin: None,
            stdout: (kind != "tty").then(|| file.as_raw_fd()),
            stderr: None,
            extra: Vec::new(),
        };
        driver
            .create(&command, &stdio, Arc::new(common::KeepMasters))
            .unwrap();
        if kind != "created" {
            driver.start(&id).unwrap();
        }
        if kind == "paused" {
            driver.pause(&id).unwrap();
        }
        if kind == "exec" {
            driver
                .exec_detached(
                    &id,
                    &ProcessConfig::new(["/bin/sleep", "1000"]),
                    &Stdio::null(),
                    Arc::new(NoHooks),
                )
                .unwrap();
        }
        println!("ready {kind} {id}");
    }
    println!("all");
    std::mem::forget(driver);
    loop {
        std::thread::park();
    }
}

/// A small xorshift: the rounds' random points, repeatable from the seed printed.
struct Random(u64);

impl Random {
    fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % bound.max(1)
    }
}

/// What the parent learnt from the host before it killed it.
#[derive(Default)]
struct Heard {
    /// Containers fully set up, by id, with their kind.
    ready: BTreeMap<String, &'static str>,
    /// The container being set up when the host died, if one was.
    in_flight: Option<(String, &'static str)>,
}

fn kind_of(name: &str) -> &'static str {
    KINDS.into_iter().find(|k| *k == name).expect("a kind")
}

/// One round: a host killed after `lines` lines and `delay` more, then recovery.
fn round(round: u32, random: &mut Random, root: &Path, parent: &str, out: &Path) -> String {
    let mut host = std::process::Command::new(std::env::current_exe().unwrap());
    host.env(CHILD, root)
        .env(PARENT, parent)
        .env(OUT, out)
        .env("BERTH_LOOP_ROUND", round.to_string())
        .stdout(ProcessStdio::piped());
    let mut host = host.spawn().unwrap();
    let sid = host.id() as i32;
    let mut lines = BufReader::new(host.stdout.take().unwrap());
    // Kill after one of the 2 × 7 + 1 lines, then up to 30 ms more: anywhere from before the
    // first create to after the last.
    let after = random.below(2 * KINDS.len() as u64 + 1);
    let delay = Duration::from_micros(random.below(30_000));
    let mut heard = Heard::default();
    let mut line = String::new();
    for _ in 0..after {
        line.clear();
        if lines.read_line(&mut line).unwrap() == 0 {
            break;
        }
        note(&mut heard, &line);
    }
    std::thread::sleep(delay);
    host.kill().unwrap();
    host.wait().unwrap();
    // What it said before it died.
    let mut rest = String::new();
    lines.read_to_string(&mut rest).unwrap();
    for line in rest.lines() {
        note(&mut heard, line);
    }

    let driver = LinuxDriver::new(options(root, parent)).unwrap();
    for line in driver.recovery_report() {
        assert!(
            line.ends_with("its driver died while creating it; cleaned up"),
            "round {round}: {line}"
        );
    }
    let listed: BTreeMap<String, ContainerState> = driver
        .list()
        .unwrap()
        .into_iter()
        .map(|state| (state.id.clone(), state))
        .collect();
    for (id, kind) in &heard.ready {
        let state = listed
            .get(id)
            .unwrap_or_else(|| panic!("round {round}: {kind} {id} not listed"));
        let expected: &[Status] = match *kind {
            "created" => &[Status::Created],
            "paused" => &[Status::Paused],
            "running" | "exec" | "plain" => &[Status::Running],
            // Their programs end by themselves (a hang-up, an exit).
            _ => &[Status::Running, Status::Stopped],
        };
        assert!(
            expected.contains(&state.status),
            "round {round}: {kind} {id} is {:?}",
            state.status
        );
    }
    for (id, state) in &listed {
        let kind = heard
            .ready
            .get(id)
            .copied()
            .or_else(|| {
                heard
                    .in_flight
                    .as_ref()
                    .filter(|(flying, _)| flying == id)
                    .map(|(_, kind)| *kind)
            })
            .unwrap_or_else(|| panic!("round {round}: {id} listed, never created"));
        let ready = heard.ready.contains_key(id);
        exercise(&driver, round, kind, state, ready, &out.join(id));
    }
    assert!(driver.list().unwrap().is_empty());
    drop(driver);
    // Every process the host started (its helpers, and the containers' inits but a
    // terminal's, which are session leaders of their own) is gone.
    wait_for_session_to_end(sid);
    for entry in std::fs::read_dir(out).unwrap().flatten() {
        std::fs::remove_file(entry.path()).unwrap();
    }
    format!(
        "after {after} lines + {} µs: {} ready, in flight {:?}",
        delay.as_micros(),
        heard.ready.len(),
        heard.in_flight.as_ref().map(|(_, kind)| kind)
    )
}

fn note(heard: &mut Heard, line: &str) {
    let words: Vec<&str> = line.split_whitespace().collect();
    match words.as_slice() {
        ["creating", kind, id] => heard.in_flight = Some((id.to_string(), kind_of(kind))),
        ["ready", kind, id] => {
            heard.in_flight = None;
            heard.ready.insert(id.to_string(), kind_of(kind));
        }
        _ => {}
    }
}

/// Works a recovered container from the status it is listed in to its deletion, checking its
/// exit status. `ready`: the host set it up fully (else it was in the middle of that).
fn exercise(
    driver: &LinuxDriver,
    round: u32,
    kind: &str,
    state: &ContainerState,
    ready: bool,
    out: &Path,
) {
    let id = state.id.as_str();
    let context = format!("round {round}: {kind} {id} listed {:?}", state.status);
    let said_started = || std::fs::read_to_string(out).unwrap_or_default() == "started\n";
    let mut status = state.status;
    let mut started_now = false;
    if status == Status::Created {
        if kind != "tty" {
            assert!(!said_started(), "{context}: its program ran before start");
        }
        driver
            .start(id)
            .unwrap_or_else(|e| panic!("{context}: start: {e}"));
        started_now = true;
        status = Status::Running;
    }
    if status == Status::Paused {
        driver
            .resume(id)
            .unwrap_or_else(|e| panic!("{context}: resume: {e}"));
        status = Status::Running;
    }
    if status == Status::Running && kind != "tty" && kind != "exits" {
        if kind != "tty" {
            eventually(&context, "its program says started", said_started);
        }
        let (code, ps) = common::exec_output(driver, id, "ls -d /proc/[0-9]* | wc -l");
        assert_eq!(code, ExitStatus::exited(0), "{context}: exec");
        // init, program and the exec's shell; an exec kind has its detached sleep as well.
        let processes: usize = ps.trim().parse().unwrap();
        let least = match (kind, ready) {
            ("plain", _) => 2,
            ("exec", true) => 4,
            _ => 3,
        };
        assert!(processes >= least, "{context}: {processes} processes");
        driver
            .pause(id)
            .unwrap_or_else(|e| panic!("{context}: pause: {e}"));
        assert_eq!(
            driver.state(id).unwrap().status,
            Status::Paused,
            "{context}"
        );
        driver
            .resume(id)
            .unwrap_or_else(|e| panic!("{context}: resume: {e}"));
    }
    // How it ends, and how that must read.
    let expected = match kind {
        "plain" => {
            if driver.state(id).unwrap().status != Status::Stopped {
                driver.kill(id, libc::SIGKILL, false).unwrap();
            }
            ExitStatus::signaled(libc::SIGKILL)
        }
        "exits" => ExitStatus::exited(7),
        // Its terminal hung up with the host, unless it started only now (on a terminal
        // that had hung up already, its program never hears of it).
        "tty" if !started_now => ExitStatus::signaled(libc::SIGHUP),
        _ => {
            if driver.state(id).unwrap().status != Status::Stopped {
                driver.kill(id, libc::SIGTERM, false).unwrap();
            }
            ExitStatus::signaled(libc::SIGTERM)
        }
    };
    eventually(&context, "it stops", || {
        driver.state(id).unwrap().status == Status::Stopped
    });
    assert_eq!(driver.wait(id).unwrap(), expected, "{context}");
    driver
        .delete(id, false)
        .unwrap_or_else(|e| panic!("{context}: delete: {e}"));
}

fn eventually(context: &str, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check() {
        assert!(Instant::now() < deadline, "{context}: never {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The processes of session `sid` (the dead host's: its helpers), by pid.
fn session(sid: i32) -> Vec<i32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let Some((_, rest)) = stat.rsplit_once(") ") else {
            continue;
        };
        // After the state: ppid, pgrp, session.
        if rest.split_whitespace().nth(3) == Some(&sid.to_string()) && !rest.starts_with('Z') {
            found.push(pid);
        }
    }
    found
}

/// A helper of the dead host ends once its channel does, and a container's processes with
/// it: none may linger.
fn wait_for_session_to_end(sid: i32) {
    eventually("the dead host's session", "ends", || {
        session(sid).is_empty()
    });
}

/// Every process on the machine in a cgroup under `parent`.
fn processes_in(parent: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(text) = std::fs::read_to_string(entry.path().join("cgroup")) {
            if text.contains(&format!("/{parent}/")) {
                found.push(format!("{}: {}", entry.file_name().to_string_lossy(), text));
            }
        }
    }
    found
}

/// Rounds run this many at a time, each worker on a root and cgroup parent of its own: a
/// round mostly waits (for the machine's init to reap what the dead host left, for instance).
const WORKERS: u32 = 4;

/// One worker's rounds, `first`, `first + WORKERS`, ... below `rounds`.
fn worker(first: u32, rounds: u32, seed: u64, base: &Path) {
    let name = format!("berth-test-loop-{}-{first}", std::process::id());
    let root = base.join(&name);
    let out = base.join(format!("{name}.out"));
    std::fs::create_dir_all(&root).unwrap();
    std::fs::create_dir_all(&out).unwrap();
    let mut random = Random(
        seed.wrapping_add(u64::from(first))
            .wrapping_mul(0x9e37_79b9)
            | 1,
    );
    for n in (first..rounds).step_by(WORKERS as usize) {
        let said = round(n, &mut random, &root, &name, &out);
        let mut left = std::fs::read_dir(&root)
            .unwrap()
            .flatten()
            .map(|entry| entry.path().display().to_string())
            .collect::<Vec<_>>();
        for hierarchy in linux::cgroup_roots() {
            for entry in std::fs::read_dir(hierarchy.join(&name))
                .into_iter()
                .flatten()
                .flatten()
            {
                if entry.path().is_dir() {
                    left.push(entry.path().display().to_string());
                }
            }
        }
        assert!(left.is_empty(), "round {n} ({said}) left: {left:?}");
        // An init whose host died is the machine's init's child once it ends, a zombie
        // until that reaps it: given a moment.
        let mut stray = Vec::new();
        eventually(
            &format!("round {n} ({said})"),
            "its processes are gone",
            || {
                stray = processes_in(&name);
                stray.is_empty()
            },
        );
        if n < 2 * WORKERS {
            println!("round {n}: {said}");
        }
    }
    std::fs::remove_dir(&root).unwrap();
    std::fs::remove_dir(&out).unwrap();
    let _ = runtime_linux::cgroups::CgroupManager::detect()
        .and_then(|cgroups| cgroups.remove_parent_if_empty(&name));
}

fn main() {
    if let Ok(root) = std::env::var(CHILD) {
        child(&root);
        return;
    }
    let rounds: u32 = std::env::var("BERTH_LOOP_ROUNDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100);
    let seed: u64 = std::env::var("BERTH_LOOP_SEED")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    let base = std::env::var_os("BERTH_TEST_STATE_ROOT")
        .filter(|dir| !dir.is_empty())
        .map_or_else(|| PathBuf::from("/run"), PathBuf::from);
    println!("recovery loop: {rounds} rounds, {WORKERS} at a time, BERTH_LOOP_SEED={seed}");
    // This process's own fds, children and mounts, before the rounds and after them all.
    let before = own_residue();
    let started = Instant::now();
    let workers: Vec<_> = (0..WORKERS)
        .map(|first| {
            let base = base.clone();
            std::thread::spawn(move || worker(first, rounds, seed, &base))
        })
        .collect();
    let mut failed = false;
    for worker in workers {
        failed |= worker.join().is_err();
    }
    assert!(!failed, "a worker failed (its panic is above)");
    if let Some(diff) = own_residue().diff(&before) {
        panic!("the rounds left: {diff}");
    }
    println!(
        "recovery loop: {rounds} rounds in {:.1} s, nothing left",
        started.elapsed().as_secs_f64()
    );
    // As the other binaries with their own harness say it (scripts/vm-tests.sh reads it).
    println!("recovery_loop::{rounds}_hosts_killed_at_random_points_leave_nothing ... ok");
    println!("1 passed, 0 failed");
}

/// What the rounds could leave in this process: fds, children, mounts.
fn own_residue() -> berth_conformance::Residue {
    let mut residue = linux::residue(Path::new("/nonexistent"), "/nonexistent");
    residue.0.remove("cgroups");
    residue.0.remove("state entries");
    residue
}
