//! berth's benchmark harness: berth against runc and crun on the same containers, with a
//! generated report (`REPORT.md`), charts (PNG) and the raw numbers (`results.json`).
//!
//! ```text
//! berth-bench [--smoke] [--out DIR] [--rootfs DIR]
//!             [--only run,exec,lxc,throughput,idle,oom,init,profile] [--idle-sizes 1,100,1000]
//! berth-bench report [DIR]                  REPORT.md and the charts again from DIR/results.json
//!                                           (default bench/results), without measuring
//! berth-bench cleanup                       remove whatever a run left (containers, cgroups, state)
//! berth-bench profile-loop N ROOTFS [M]     N berth runs beside M sleeping containers (what
//!                                           `perf record` profiles)
//! ```
//!
//! `run` and `exec` measure every runtime, berth's LXC driver and bare LXC among them; `lxc`
//! alone runs the two measures with only the LXC driver and bare LXC (`--only lxc`). `init`
//! is berth's run with its built-in init against the same run without it.
//!
//! `scripts/bench.sh` installs what is needed, builds this, and runs it. See
//! `bench/results/REPORT.md` for the method.
//!
//! The only `unsafe` is in `sys` (see `docs/architecture.md`, "Where unsafe code lives").

#![deny(unsafe_code)]
#![warn(clippy::undocumented_unsafe_blocks)]

mod chart;
mod cleanup;
mod lxc;
mod machine;
mod measure;
mod oci;
mod report;
mod runners;
// The two calls that have no safe wrapper: mallinfo2, and reading the C ABI's error text.
#[allow(unsafe_code)]
mod sys;
mod util;

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use measure::run::Runners;
use measure::throughput::Throughput;
use measure::{
    exec::ExecLatency, idle::Idle, init::InitCost, oom::Oom, profile::Profile, run::RunLatency,
};
use runners::Env;

/// How big a run is.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Sizes {
    pub smoke: bool,
    pub run_iterations: usize,
    pub exec_iterations: usize,
    pub warmup: usize,
    pub throughput_containers: usize,
    pub throughput_callers: Vec<usize>,
    pub throughput_repetitions: usize,
    pub idle_sizes: Vec<usize>,
    pub idle_samples: usize,
    pub oom_iterations: usize,
    /// Rounds of the init's cost (absent from the results of harnesses before it).
    #[serde(default)]
    pub init_iterations: usize,
    pub profile_iterations: usize,
    pub perf_runs: usize,
    pub trace_runs: usize,
}

impl Sizes {
    fn full() -> Sizes {
        Sizes {
            smoke: false,
            run_iterations: 200,
            exec_iterations: 200,
            warmup: 5,
            throughput_containers: 100,
            throughput_callers: vec![1, 2, 8],
            throughput_repetitions: 3,
            idle_sizes: vec![1, 100, 1000],
            idle_samples: 10,
            oom_iterations: 20,
            init_iterations: 200,
            profile_iterations: 100,
            perf_runs: 200,
            trace_runs: 50,
        }
    }

    fn smoke() -> Sizes {
        Sizes {
            smoke: true,
            run_iterations: 20,
            exec_iterations: 20,
            warmup: 2,
            throughput_containers: 20,
            throughput_callers: vec![1, 2, 8],
            throughput_repetitions: 1,
            idle_sizes: vec![1, 20, 50],
            idle_samples: 5,
            oom_iterations: 5,
            // Two runs of about 5 ms a round: a second or two, and enough rounds that the
            // medians are steady.
            init_iterations: 100,
            profile_iterations: 20,
            perf_runs: 40,
            trace_runs: 20,
        }
    }
}

/// A measure's outcome: its numbers, or why there are none.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Outcome<T> {
    Done(T),
    Failed(String),
    Skipped,
}

impl<T> Outcome<T> {
    /// Skipped: what results from before a measure existed say of it.
    pub fn skipped() -> Outcome<T> {
        Outcome::Skipped
    }

    pub fn done(&self) -> Option<&T> {
        match self {
            Outcome::Done(t) => Some(t),
            _ => None,
        }
    }
}

/// Everything one benchmark run found.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Results {
    pub sizes: Sizes,
    pub machine: machine::Machine,
    /// What berth's container got (and runc's and crun's were given).
    pub isolation: oci::Isolation,
    pub seccomp_source: String,
    /// Where the probe container's confinement differed from what runc and crun were given
    /// (absent from the results of harnesses before it checked).
    #[serde(default)]
    pub confinement_notes: Vec<String>,
    pub wrapper: String,
    pub started: String,
    pub duration_s: f64,
    pub load_after: String,
    pub run: Outcome<RunLatency>,
    pub exec: Outcome<ExecLatency>,
    pub throughput: Outcome<Throughput>,
    pub idle: Outcome<Idle>,
    pub oom: Outcome<Oom>,
    /// The cost of berth's built-in init (skipped in the results of harnesses before it).
    #[serde(default = "Outcome::skipped")]
    pub init: Outcome<InitCost>,
    pub profile: Outcome<Profile>,
    pub left_behind: Vec<String>,
    /// Failed `LinuxDriver::new` calls (each tried again), and how many drivers were made.
    pub driver_failures: Vec<String>,
}

struct Args {
    smoke: bool,
    out: Option<PathBuf>,
    rootfs: Option<PathBuf>,
    only: Option<Vec<String>>,
    idle_sizes: Option<Vec<usize>>,
}

const USAGE: &str = "usage: berth-bench [--smoke] [--out DIR] [--rootfs DIR] \
                     [--only run,exec,lxc,throughput,idle,oom,init,profile] [--idle-sizes 1,100,1000]\n       \
                     berth-bench report [DIR]\n       berth-bench cleanup\n       \
                     berth-bench profile-loop N ROOTFS [M]";

fn parse_args(args: &[String]) -> Result<Args, String> {
    let mut parsed = Args {
        smoke: false,
        out: None,
        rootfs: None,
        only: None,
        idle_sizes: None,
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match arg.as_str() {
            "--smoke" => parsed.smoke = true,
            "--out" => parsed.out = Some(PathBuf::from(value("--out")?)),
            "--rootfs" => parsed.rootfs = Some(PathBuf::from(value("--rootfs")?)),
            "--only" => {
                parsed.only = Some(value("--only")?.split(',').map(str::to_string).collect())
            }
            "--idle-sizes" => {
                parsed.idle_sizes = Some(
                    value("--idle-sizes")?
                        .split(',')
                        .map(|n| n.parse().map_err(|_| format!("bad size {n:?}")))
                        .collect::<Result<_, _>>()?,
                )
            }
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    Ok(parsed)
}

/// The repository's top directory (bench/ is one of its members).
fn repo_top() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("bench/ has a parent")
        .to_path_buf()
}

fn make_env(rootfs: &Path) -> Result<Env, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let dir = exe
        .parent()
        .expect("an executable has a directory")
        .to_path_buf();
    let helper = dir.join("berth-init");
    let manager = runtime_linux::cgroups::CgroupManager::detect().map_err(|e| e.to_string())?;
    let unified = match manager.mode() {
        runtime_linux::cgroups::CgroupMode::Hybrid => manager
            .unified_mount()
            .map(|p| p.to_string_lossy().into_owned()),
        _ => None,
    };
    let rootfs = std::fs::canonicalize(rootfs).map_err(|e| {
        format!(
            "rootfs {}: {e} (run scripts/build-rootfs.sh)",
            rootfs.display()
        )
    })?;
    Ok(Env {
        rootfs: rootfs.to_string_lossy().into_owned(),
        berth_cli: dir.join("berth"),
        helper: helper.exists().then_some(helper),
        unified,
        isolation: oci::Isolation::default(),
        confinement: oci::Confinement::default(),
    })
}

/// Where Docker's default seccomp profile (berth's default, compiled into runtime-linux) is
/// kept in the repository, for the report.
const SECCOMP_PROFILE: &str = "runtime-linux/src/security/default-seccomp.json";

/// Computes what berth confines the benchmark's process with, which runc and crun are given,
/// and probes what berth's container really gets. Returns where the seccomp profile came
/// from, and where the probe disagrees with what runc and crun get, for the report.
fn match_isolation(env: &mut Env) -> Result<(String, Vec<String>), String> {
    let process = env.command("confinement", ["/bin/true"]).process;
    env.confinement = oci::Confinement::for_process(&process)
        .map_err(|e| format!("berth's confinement of the benchmark's process: {e}"))?;
    env.isolation = runners::probe_isolation(env);
    let source = match env.confinement.seccomp {
        Some(_) => format!(
            "`{SECCOMP_PROFILE}`, {} rules after evaluation",
            env.confinement.seccomp_rules()
        ),
        None => "none: berth gives the benchmark's process no filter".into(),
    };
    Ok((source, env.isolation.disagreements(&env.confinement)))
}

/// Runs one measure, turning an error or a panic into its outcome, and says how long it took.
fn run_measure<T>(name: &str, wanted: bool, f: impl FnOnce() -> Result<T, String>) -> Outcome<T> {
    if !wanted {
        return Outcome::Skipped;
    }
    eprintln!("berth-bench: {name} ...");
    let start = Instant::now();
    let outcome = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(Ok(t)) => Outcome::Done(t),
        Ok(Err(e)) => Outcome::Failed(e),
        Err(panic) => Outcome::Failed(format!(
            "panicked: {}",
            panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default()
        )),
    };
    let status = match &outcome {
        Outcome::Done(_) => "done".to_string(),
        Outcome::Failed(e) => format!("FAILED: {e}"),
        Outcome::Skipped => "skipped".into(),
    };
    eprintln!(
        "berth-bench: {name}: {status} ({:.1} s)",
        start.elapsed().as_secs_f64()
    );
    outcome
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = match args.first().map(String::as_str) {
        Some("report") => {
            let dir = args
                .get(1)
                .map_or_else(|| repo_top().join("bench/results"), PathBuf::from);
            match report::write(&dir) {
                Ok(path) => {
                    eprintln!("berth-bench report: {}", path.display());
                    0
                }
                Err(e) => {
                    eprintln!("berth-bench report: {e}");
                    1
                }
            }
        }
        Some("cleanup") => {
            match make_env(&repo_top().join("build/rootfs")).or_else(|_| make_env(Path::new("/"))) {
                Ok(env) => {
                    let left = cleanup::cleanup(&env);
                    util::reap_all_exited();
                    for l in &left {
                        eprintln!("berth-bench cleanup: left {l}");
                    }
                    i32::from(!left.is_empty())
                }
                Err(e) => {
                    eprintln!("berth-bench cleanup: {e}");
                    1
                }
            }
        }
        Some("profile-loop") => {
            let runs: usize = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(100);
            let rootfs = args
                .get(2)
                .map_or_else(|| repo_top().join("build/rootfs"), PathBuf::from);
            let background: usize = args.get(3).and_then(|n| n.parse().ok()).unwrap_or(0);
            util::raise_nofile();
            match make_env(&rootfs)
                .and_then(|env| measure::profile::profile_loop(&env, runs, background))
            {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("berth-bench profile-loop: {e}");
                    1
                }
            }
        }
        _ => match parse_args(&args).and_then(bench) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("berth-bench: {e}");
                1
            }
        },
    };
    std::process::exit(code);
}

fn bench(args: Args) -> Result<(), String> {
    if !nix::unistd::geteuid().is_root() {
        return Err("run as root (containers need it)".into());
    }
    let mut sizes = if args.smoke {
        Sizes::smoke()
    } else {
        Sizes::full()
    };
    if let Some(idle_sizes) = args.idle_sizes {
        sizes.idle_sizes = idle_sizes;
    }
    let out = args.out.unwrap_or_else(|| {
        let results = repo_top().join("bench/results");
        if args.smoke {
            results.join("smoke")
        } else {
            results
        }
    });
    let rootfs = args
        .rootfs
        .unwrap_or_else(|| repo_top().join("build/rootfs"));
    let mut env = make_env(&rootfs)?;
    let wanted = |name: &str| match &args.only {
        None => true,
        Some(only) => only.iter().any(|x| x == name),
    };
    std::fs::create_dir_all(&out).map_err(|e| format!("create {}: {e}", out.display()))?;

    util::raise_nofile();
    util::become_subreaper();
    let stale = cleanup::cleanup(&env);
    if !stale.is_empty() {
        return Err(format!(
            "could not clean up an earlier run: {}",
            stale.join("; ")
        ));
    }
    let (seccomp_source, confinement_notes) = match_isolation(&mut env)?;
    let env = env;
    let machine = machine::Machine::read(&rootfs);
    eprintln!(
        "berth-bench: {} run, load average {}, results in {}",
        if sizes.smoke { "smoke" } else { "full" },
        machine.load_before,
        out.display()
    );
    let started = Instant::now();
    // `lxc` alone: the run and exec measures of the LXC driver and bare LXC only.
    let runners = |name: &str| {
        if wanted(name) {
            Runners::All
        } else {
            Runners::Lxc
        }
    };
    let run = run_measure("run latency", wanted("run") || wanted("lxc"), || {
        measure::run::measure(&env, sizes.run_iterations, sizes.warmup, runners("run"))
    });
    let init = run_measure("cost of berth's init", wanted("init"), || {
        measure::init::measure(&env, sizes.init_iterations, sizes.warmup)
    });
    let exec = run_measure("exec latency", wanted("exec") || wanted("lxc"), || {
        measure::exec::measure(&env, sizes.exec_iterations, sizes.warmup, runners("exec"))
    });
    let throughput = run_measure("throughput", wanted("throughput"), || {
        measure::throughput::measure(
            &env,
            sizes.throughput_containers,
            &sizes.throughput_callers,
            sizes.throughput_repetitions,
        )
    });
    let idle = run_measure("idle cost at scale", wanted("idle"), || {
        measure::idle::measure(&env, &sizes.idle_sizes, sizes.idle_samples)
    });
    let oom = run_measure("OOM notification", wanted("oom"), || {
        measure::oom::measure(&env, sizes.oom_iterations)
    });
    let rootfs_s = env.rootfs.clone();
    let profile = run_measure("profile of berth's run", wanted("profile"), || {
        let largest = sizes.idle_sizes.iter().copied().max().unwrap_or(0);
        measure::profile::measure(
            &env,
            sizes.profile_iterations,
            sizes.perf_runs,
            sizes.trace_runs,
            &if largest > 0 {
                vec![0, largest]
            } else {
                vec![0]
            },
            &rootfs_s,
        )
    });
    let duration_s = started.elapsed().as_secs_f64();
    let left_behind = cleanup::cleanup(&env);
    util::reap_all_exited();

    let results = Results {
        isolation: env.isolation.clone(),
        seccomp_source,
        confinement_notes,
        wrapper: env.wrapper_text(),
        started: machine.date.clone(),
        load_after: machine::load_average(),
        machine,
        sizes,
        duration_s,
        run,
        exec,
        throughput,
        idle,
        oom,
        init,
        profile,
        left_behind,
        driver_failures: runners::DRIVER_FAILURES.lock().unwrap().clone(),
    };
    let json = serde_json::to_vec_pretty(&results).map_err(|e| e.to_string())?;
    std::fs::write(out.join("results.json"), json)
        .map_err(|e| format!("write results.json: {e}"))?;
    // The report is rendered from the file, as `berth-bench report` renders it again.
    let report = report::write(&out)?;
    eprintln!(
        "berth-bench: done in {duration_s:.0} s: {}",
        report.display()
    );
    Ok(())
}
