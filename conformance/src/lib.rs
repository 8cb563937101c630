//! berth's conformance suite: one set of behavioural tests, written once against the
//! [`runtime_core::Driver`] trait, that every driver passes.
//!
//! A driver's test supplies a [`Fixture`]: the driver under test, the image to run, the program
//! that shows each [`Program`] behaviour on its platform, pipes, and a count of what a container
//! could leave behind ([`Residue`]). [`run_all`] runs every [`Case`] against it and returns a
//! [`Report`]; [`Report::assert_passed`] prints the table and panics naming the failures.
//!
//! The assertions live here, not in the fixture: the fixture only translates a behaviour the
//! suite asks for ("exit with code 3", "print the value of `CONF_GREETING`") into a process of
//! its platform. What a driver cannot do on its platform it lists in
//! [`Fixture::unsupported`], with a reason; for those cases the suite checks that the driver
//! refuses the operation with [`runtime_core::ErrorKind::Unsupported`] instead of passing or
//! failing otherwise. Nothing is skipped silently.
//!
//! ```no_run
//! # fn fixture() -> std::sync::Arc<dyn berth_conformance::Fixture> { unimplemented!() }
//! let report = berth_conformance::run_all(fixture());
//! report.assert_passed();
//! ```

#[macro_use]
mod support;
mod calls;
mod cases;

use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, Read, Write};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use runtime_core::{Command, Driver, ProcessConfig, RawStdio};

/// The signal numbers the suite sends: those of the C ABI (Linux's).
pub const SIGKILL: i32 = 9;
/// See [`SIGKILL`].
pub const SIGTERM: i32 = 15;

/// What the suite needs from a driver's test: the driver, its image, and what is
/// platform-specific.
///
/// Every method may be called from several threads at once.
pub trait Fixture: Send + Sync + 'static {
    /// A short name for the report (`native`, `c-abi`).
    fn name(&self) -> String;

    /// The driver under test.
    fn driver(&self) -> &dyn Driver;

    /// The root filesystem every container of the suite uses.
    fn rootfs(&self) -> String;

    /// An absolute directory of the image other than its root, for the working-directory
    /// cases.
    fn work_dir(&self) -> String;

    /// The process that shows `program` on this platform. The suite sets `env`, `cwd`, `user`,
    /// `additional_gids` and `tty` on what it gets back, so leave them at their defaults.
    fn process(&self, program: &Program) -> ProcessConfig;

    /// Adjusts a command the suite built (for instance a resource the platform needs). The
    /// default leaves it alone.
    fn prepare(&self, _command: &mut Command) {}

    /// A new pipe: `(read end, write end)`. The suite owns both and gives each back through
    /// [`Fixture::reader`], [`Fixture::writer`] or [`Fixture::close`].
    fn pipe(&self) -> io::Result<(RawStdio, RawStdio)>;

    /// Takes ownership of a readable handle (a pipe's read end, or a terminal master).
    fn reader(&self, handle: RawStdio) -> Box<dyn Read + Send>;

    /// Takes ownership of a writable handle (a pipe's write end).
    fn writer(&self, handle: RawStdio) -> Box<dyn Write + Send>;

    /// Closes a handle the suite owns.
    fn close(&self, handle: RawStdio);

    /// Everything a container could leave behind on the host, by category (on Linux: the
    /// driver's cgroups and state entries, the host's child processes, open fds and mounts).
    /// The bad-input cases compare it before and after. The suite runs those cases alone.
    fn residue(&self) -> Residue;

    /// The cases this driver cannot do on its platform, each with the reason. For these the
    /// suite expects the driver to refuse the case's operation with `ErrorKind::Unsupported`.
    fn unsupported(&self) -> Vec<(Case, String)> {
        Vec::new()
    }

    /// The cases that mean nothing on this platform, each with the reason (and where the
    /// behaviour is tested instead). They are not run; the report shows them as `n/a` with
    /// the reason. Unlike [`Fixture::unsupported`], there is no operation to refuse: Windows
    /// has no OOM killer, so a memory limit there fails allocations instead of killing.
    fn not_applicable(&self) -> Vec<(Case, String)> {
        Vec::new()
    }

    /// How a program that `kill` ended with `signal` reads. The default: as a shell reports
    /// a death by that signal, `128 + signal` with `signal` set. A platform without signals
    /// (Windows) gives its own exit code for the process it terminated, with `signal` set by
    /// the driver that ended it.
    fn killed_status(&self, signal: i32) -> runtime_core::ExitStatus {
        runtime_core::ExitStatus::signaled(signal)
    }

    /// Whether `create` gives the init's pid (the default). A platform that cannot create a
    /// process suspended (HCS) creates the init at `start`: `create` gives 0, and the pid
    /// comes with `on_start` and `state` from the start on.
    fn pid_at_create(&self) -> bool {
        true
    }

    /// Whether a `tty` process's terminal master goes to `on_console` (the default). Where
    /// a console has no single master handle (Windows), its input and output are the
    /// process's stdin and stdout, and `on_console` is not called.
    fn hands_console_master(&self) -> bool {
        true
    }

    /// Whether the platform cannot tell a program's `exit 128+S` from its death by signal S,
    /// and reports both as the signal (LXC: its init passes on only an exit code). The cases
    /// whose program exits with such a code then expect the signal. The default: it can.
    fn exit_codes_above_128_are_signals(&self) -> bool {
        false
    }

    /// How long one case may take before it counts as hung.
    fn case_timeout(&self) -> Duration {
        Duration::from_secs(60)
    }
}

/// A behaviour the suite asks the fixture's program to show. The suite chooses every value
/// it then checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Program {
    /// Exits with this code at once.
    Exit(i32),
    /// Writes exactly `stdout` to its standard output and `stderr` to its standard error
    /// (printable ASCII, no quote characters), then exits 0.
    Print { stdout: String, stderr: String },
    /// Copies its standard input to its standard output until end of file, then exits 0.
    Cat,
    /// Prints the value of this environment variable and a newline (just a newline when it is
    /// unset). The name is `[A-Z_]+`.
    PrintEnv(String),
    /// Prints its working directory and a newline.
    PrintCwd,
    /// Prints three lines: its uid, its gid, and every group id it has, separated by spaces.
    PrintIds,
    /// Prints its host name and a newline.
    PrintHostname,
    /// Exits 0 when its standard input and output are a terminal, non-zero otherwise.
    IsTerminal,
    /// Does nothing until it is killed. It has no handler for any signal.
    Sleep,
    /// Handles `signal` by exiting with `code`; prints `ready` and a newline once the handler
    /// is in place, then waits.
    ExitOnSignal { signal: i32, code: i32 },
    /// Starts one child that has no handler for `signal`, then ignores `signal` itself, prints
    /// `ready` and a newline, waits for the child and exits with the child's status as a shell
    /// gives it (`128 + signal` when the signal killed the child).
    ParentIgnoring { signal: i32 },
    /// Prints 1, 2, 3, ... one line about every 10 ms, forever.
    Counter,
    /// Allocates memory without bound.
    Hog,
    /// A program that does not exist in the image.
    Missing,
}

/// What a container could leave behind, by category: each category's items, compared as
/// sets. Build it with [`Residue::add`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Residue(pub BTreeMap<String, Vec<String>>);

impl Residue {
    /// Records `items` under `category`.
    pub fn add(&mut self, category: &str, items: impl IntoIterator<Item = String>) {
        let mut items: Vec<String> = items.into_iter().collect();
        items.sort();
        self.0.insert(category.to_string(), items);
    }

    /// What differs from `before`: `None` when nothing does.
    pub fn diff(&self, before: &Residue) -> Option<String> {
        let mut out = Vec::new();
        let empty = Vec::new();
        let categories: std::collections::BTreeSet<&String> =
            self.0.keys().chain(before.0.keys()).collect();
        for category in categories {
            let now = self.0.get(category).unwrap_or(&empty);
            let was = before.0.get(category).unwrap_or(&empty);
            let added: Vec<&String> = now.iter().filter(|i| !was.contains(i)).collect();
            let removed: Vec<&String> = was.iter().filter(|i| !now.contains(i)).collect();
            if !added.is_empty() || !removed.is_empty() {
                out.push(format!("{category}: added {added:?}, removed {removed:?}"));
            }
        }
        (!out.is_empty()).then(|| out.join("; "))
    }
}

macro_rules! cases {
    ($($variant:ident => $name:literal, $what:literal;)*) => {
        /// One case of the suite.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Case {
            $(#[doc = $what] $variant,)*
        }

        impl Case {
            /// Every case, in the order the suite runs them.
            pub const ALL: &'static [Case] = &[$(Case::$variant,)*];

            /// The case's name in the report.
            pub fn name(self) -> &'static str {
                match self {
                    $(Case::$variant => $name,)*
                }
            }

            /// What the case checks.
            pub fn description(self) -> &'static str {
                match self {
                    $(Case::$variant => $what,)*
                }
            }
        }
    };
}

cases! {
    Run => "run", "run returns the program's exit code (0, 3, 255)";
    Signal => "signal", "a program killed by a signal ends with code 128 + signal and `signal` set";
    Stdout => "stdout-stderr", "stdout and stderr reach their own pipes, exactly";
    Stdin => "stdin", "what is fed into stdin reaches the program, before and after start";
    Env => "env", "the program sees the environment it was given";
    Cwd => "cwd", "the program runs in the working directory it was given (and / by default)";
    User => "user", "the program runs as the uid, gid and additional gids it was given";
    Hostname => "hostname", "the program sees the host name it was given (the id by default)";
    Terminal => "terminal", "with tty the program's stdio is a terminal and on_console gets its master";
    Exec => "exec", "exec runs a process in a running container: exit code, env, cwd, user, tty, hooks";
    ExecDetached => "exec-detached", "a detached exec returns its pid at once; its status comes to wait_exec (again and again) and to on_exit";
    Kill => "kill", "kill sends one signal to the init, which handles it";
    KillAll => "kill-all", "kill with `all` reaches every process, without it only the init";
    Pause => "pause-resume", "pause freezes the container (no progress, status paused), resume thaws it";
    Stats => "stats", "stats reports memory usage and processes of a running container";
    State => "state-list", "state and list: id, status through the life cycle, pid, exit status";
    Delete => "delete", "delete refuses a live container without force, force kills it, then it is gone";
    DeleteRace => "delete-race", "4 threads force-delete one container while its id is created again: each delete Ok or NotFound, the create Ok or AlreadyExists, nothing left";
    WaitMany => "wait-many", "8 threads waiting for one container all get the same exit status";
    Hooks => "hooks", "on_start then on_exit, once each; none for an unstarted container or after delete";
    HooksNoLock => "hooks-no-lock", "a hook may call the driver (state, list) without deadlock";
    Oom => "oom", "a program over its memory limit is OOM-killed: on_oom, then oom_killed";
    UnknownId => "unknown-id", "every operation on an unknown id is NotFound";
    DuplicateId => "duplicate-id", "creating an id that exists is AlreadyExists, with no side effect";
    WrongState => "wrong-state", "operations in the wrong state are InvalidState";
    MissingProgram => "missing-program", "a program that does not exist fails create or start and leaves nothing";
    InvalidCommand => "invalid-command", "malformed commands are InvalidArgument before any side effect";
    Concurrent => "concurrent-32", "32 threads each run a container of their own and get its exit code";
    Update => "update", "update changes a running container's memory limit; a stopped one is InvalidState, an invalid value InvalidArgument, an unknown id NotFound";
}

impl fmt::Display for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How one case ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every assertion held.
    Pass,
    /// An assertion failed, an operation failed, the case panicked or hung.
    Fail(String),
    /// The fixture lists the case as unsupported and the driver said so
    /// (`ErrorKind::Unsupported`): the reason, and the driver's message.
    Unsupported(String),
    /// The fixture lists the case as meaning nothing on its platform: the reason.
    NotApplicable(String),
    /// Left out by `BERTH_CONFORMANCE_CASES`.
    NotSelected,
}

/// One row of the report.
#[derive(Debug, Clone)]
pub struct CaseResult {
    pub case: Case,
    pub outcome: Outcome,
    pub duration: Duration,
}

/// What [`run_all`] found.
#[derive(Debug, Clone)]
pub struct Report {
    /// The fixture's name.
    pub fixture: String,
    pub results: Vec<CaseResult>,
    /// The whole run, warm-up included.
    pub duration: Duration,
}

impl Report {
    /// The cases that failed.
    pub fn failures(&self) -> Vec<&CaseResult> {
        self.results
            .iter()
            .filter(|r| matches!(r.outcome, Outcome::Fail(_)))
            .collect()
    }

    /// The table: one line per case with its result, time and detail.
    pub fn table(&self) -> String {
        let mut out = format!(
            "conformance of the {} driver: {} cases in {:.2} s\n",
            self.fixture,
            self.results.len(),
            self.duration.as_secs_f64()
        );
        out += &format!("{:<17} {:<12} {:>8}  detail\n", "case", "result", "time");
        for r in &self.results {
            let (result, detail) = match &r.outcome {
                Outcome::Pass => ("pass", String::new()),
                Outcome::Fail(why) => ("FAIL", why.clone()),
                Outcome::Unsupported(why) => ("unsupported", why.clone()),
                Outcome::NotApplicable(why) => ("n/a", why.clone()),
                Outcome::NotSelected => ("not selected", "BERTH_CONFORMANCE_CASES".to_string()),
            };
            out += &format!(
                "{:<17} {:<12} {:>6}ms  {}\n",
                r.case.name(),
                result,
                r.duration.as_millis(),
                detail
            );
        }
        let count = |f: fn(&Outcome) -> bool| self.results.iter().filter(|r| f(&r.outcome)).count();
        out += &format!(
            "{} passed, {} failed, {} unsupported, {} n/a, {} not selected\n",
            count(|o| *o == Outcome::Pass),
            count(|o| matches!(o, Outcome::Fail(_))),
            count(|o| matches!(o, Outcome::Unsupported(_))),
            count(|o| matches!(o, Outcome::NotApplicable(_))),
            count(|o| *o == Outcome::NotSelected),
        );
        out
    }

    /// Prints the table, and panics listing the failed cases if any failed.
    pub fn assert_passed(&self) {
        println!("{}", self.table());
        let failures = self.failures();
        if !failures.is_empty() {
            let list: Vec<String> = failures
                .iter()
                .map(|r| match &r.outcome {
                    Outcome::Fail(why) => format!("  {}: {why}", r.case.name()),
                    _ => unreachable!(),
                })
                .collect();
            panic!(
                "{} of {} conformance cases failed for the {} driver:\n{}",
                failures.len(),
                self.results.len(),
                self.fixture,
                list.join("\n")
            );
        }
    }
}

/// Runs every case (those `BERTH_CONFORMANCE_CASES`, a comma-separated list of case names,
/// selects, when it is set) against the fixture's driver, one after another.
pub fn run_all(fixture: Arc<dyn Fixture>) -> Report {
    let selected: Option<Vec<String>> = std::env::var("BERTH_CONFORMANCE_CASES")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.split(',').map(|n| n.trim().to_string()).collect());
    let cases: Vec<Case> = Case::ALL
        .iter()
        .copied()
        .filter(|case| match &selected {
            None => true,
            Some(names) => names.iter().any(|n| n == case.name()),
        })
        .collect();
    let mut report = run_cases(fixture, &cases);
    for &case in Case::ALL {
        if !cases.contains(&case) {
            report.results.push(CaseResult {
                case,
                outcome: Outcome::NotSelected,
                duration: Duration::ZERO,
            });
        }
    }
    report.results.sort_by_key(|r| r.case);
    report
}

/// Runs the given cases, one after another, each on a thread of its own with the fixture's
/// timeout.
pub fn run_cases(fixture: Arc<dyn Fixture>, cases: &[Case]) -> Report {
    let began = Instant::now();
    // The first container of a driver may set up what the driver keeps for its life (threads,
    // a copy of its helper): do it before any case counts what is left behind.
    let _ = support::warm_up(fixture.as_ref());
    let unsupported = fixture.unsupported();
    let not_applicable = fixture.not_applicable();
    let mut results = Vec::new();
    for &case in cases {
        if let Some((_, why)) = not_applicable.iter().find(|(c, _)| *c == case) {
            results.push(CaseResult {
                case,
                outcome: Outcome::NotApplicable(why.clone()),
                duration: Duration::ZERO,
            });
            continue;
        }
        let reason = unsupported
            .iter()
            .find(|(c, _)| *c == case)
            .map(|(_, why)| why.clone());
        let started = Instant::now();
        let outcome = run_one(&fixture, case, reason);
        results.push(CaseResult {
            case,
            outcome,
            duration: started.elapsed(),
        });
    }
    Report {
        fixture: fixture.name(),
        results,
        duration: began.elapsed(),
    }
}

fn run_one(fixture: &Arc<dyn Fixture>, case: Case, unsupported: Option<String>) -> Outcome {
    let (send, receive) = mpsc::channel();
    let shared = fixture.clone();
    // The cases other cases must not rely on: those refused and those meaningless here.
    let mut supported_list = fixture.unsupported();
    supported_list.extend(fixture.not_applicable());
    let spawned = std::thread::Builder::new()
        .name(format!("conformance-{}", case.name()))
        .spawn(move || {
            let ctx = support::Ctx::new(shared, case, supported_list);
            let result =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| cases::run(&ctx, case)));
            drop(ctx);
            let _ = send.send(result);
        });
    if let Err(err) = spawned {
        return Outcome::Fail(format!("cannot start the case's thread: {err}"));
    }
    let timeout = fixture.case_timeout();
    let result = match receive.recv_timeout(timeout) {
        Ok(result) => result,
        Err(_) => {
            return Outcome::Fail(format!(
                "hung: no result after {} s (the case's thread is left behind)",
                timeout.as_secs()
            ))
        }
    };
    let result = match result {
        Ok(result) => result,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic without a message".into());
            return Outcome::Fail(format!("panicked: {what}"));
        }
    };
    match (result, unsupported) {
        (Ok(()), None) => Outcome::Pass,
        (Err(err), None) => Outcome::Fail(err.to_string()),
        (Ok(()), Some(reason)) => Outcome::Fail(format!(
            "listed as unsupported ({reason}) but it passed: take it off the list"
        )),
        (Err(support::CaseError::Driver { op, error }), Some(reason))
            if error.kind() == runtime_core::ErrorKind::Unsupported =>
        {
            Outcome::Unsupported(format!("{reason}; {op}: {error}"))
        }
        (Err(err), Some(reason)) => Outcome::Fail(format!(
            "listed as unsupported ({reason}), so the driver must refuse it with \
             ErrorKind::Unsupported, but: {err}"
        )),
    }
}
