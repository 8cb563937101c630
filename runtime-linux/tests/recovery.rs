//! Recovery: a new driver on the same root takes back the containers an earlier one left,
//! whether that one died or let them go (`keep_containers`), and starts the created ones.
//!
//! Every test runs once per driver kind: the native driver, and the LXC driver where
//! `/usr/bin/lxc-execute` exists (`native::NAME`, `lxc::NAME` in the output; a filter argument
//! matches either part).
//!
//! The binary has its own harness: run with `BERTH_RECOVERY_CHILD` set, it is the child
//! process that creates a container and then waits to be SIGKILLed or lets it go and exits
//! (`BERTH_RECOVERY_MODE`), with the driver of `BERTH_RECOVERY_KIND`.

mod common;
#[path = "common/conformance.rs"]
mod linux;

use std::io::{BufRead, Write};
use std::ops::Deref;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Stdio as ProcessStdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use berth_conformance::Residue;
use nix::sys::socket::{
    connect, send, setsockopt, socket, sockopt, AddressFamily, MsgFlags, SockFlag, SockType,
    UnixAddr,
};
use runtime_core::{Command, Driver, ExitStatus, NoHooks, ProcessConfig, Status, Stdio};
use runtime_linux::{DriverOptions, LinuxDriver, LxcDriver};

const CHILD: &str = "BERTH_RECOVERY_CHILD";
/// The driver kind of the child: `native` or `lxc`.
const KIND: &str = "BERTH_RECOVERY_KIND";
/// What the child does: `running` (start a container, wait for SIGKILL), `killed` (create
/// one, wait for SIGKILL) or `kept` (create one, drop its keep-mode driver, exit).
const MODE: &str = "BERTH_RECOVERY_MODE";
/// Where a created container of the child writes its output.
const OUT: &str = "BERTH_RECOVERY_OUT";
const START_SOCKET: &str = "start.sock";

/// Which driver a test runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Native,
    Lxc,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Native => "native",
            Kind::Lxc => "lxc",
        }
    }

    fn from_name(name: &str) -> Kind {
        match name {
            "native" => Kind::Native,
            "lxc" => Kind::Lxc,
            other => panic!("no driver kind {other:?}"),
        }
    }

    /// The kinds this host can run: LXC's only where LXC is installed.
    fn available() -> Vec<Kind> {
        let lxc = Path::new("/usr/bin/lxc-execute").is_file();
        [Kind::Native, Kind::Lxc]
            .into_iter()
            .filter(|kind| *kind == Kind::Native || lxc)
            .collect()
    }
}

/// A driver of either kind: the `Driver` by `Deref`, and its recovery report.
enum AnyDriver {
    Native(LinuxDriver),
    Lxc(LxcDriver),
}

impl AnyDriver {
    fn new(kind: Kind, options: DriverOptions) -> AnyDriver {
        match kind {
            Kind::Native => AnyDriver::Native(LinuxDriver::new(options).unwrap()),
            Kind::Lxc => AnyDriver::Lxc(LxcDriver::new(options).unwrap()),
        }
    }

    fn recovery_report(&self) -> &[String] {
        match self {
            AnyDriver::Native(driver) => driver.recovery_report(),
            AnyDriver::Lxc(driver) => driver.recovery_report(),
        }
    }
}

impl Deref for AnyDriver {
    type Target = dyn Driver;
    fn deref(&self) -> &(dyn Driver + 'static) {
        match self {
            AnyDriver::Native(driver) => driver,
            AnyDriver::Lxc(driver) => driver,
        }
    }
}

fn options(root: &Path, parent: &str) -> DriverOptions {
    DriverOptions {
        root: Some(root.to_path_buf()),
        helper_path: Some(PathBuf::from(env!("CARGO_BIN_EXE_berth-init"))),
        cgroup_parent: Some(parent.to_string()),
        ..DriverOptions::default()
    }
}

/// A new driver on `root`, which must take back everything it finds there.
fn recovering(kind: Kind, root: &Path, parent: &str) -> AnyDriver {
    let driver = AnyDriver::new(kind, options(root, parent));
    assert!(
        driver.recovery_report().is_empty(),
        "{:?}",
        driver.recovery_report()
    );
    driver
}

fn keeping(root: &Path, parent: &str) -> DriverOptions {
    DriverOptions {
        keep_containers: true,
        ..options(root, parent)
    }
}

/// The state root and cgroup parent of one test of `kind` (the kind is in both names).
fn names(kind: Kind, suffix: &str) -> (PathBuf, String) {
    let name = format!("{}-{suffix}", prefix(kind));
    (state_base().join(&name), name)
}

/// What every state root and cgroup parent of this process's tests of `kind` starts with.
fn prefix(kind: Kind) -> String {
    format!("berth-test-recovery-{}-{}", std::process::id(), kind.name())
}

/// Where the tests' state roots go.
fn state_base() -> PathBuf {
    std::env::var_os("BERTH_TEST_STATE_ROOT")
        .filter(|d| !d.is_empty())
        .map_or_else(|| PathBuf::from("/run"), PathBuf::from)
}

/// The child: sets a container up as `BERTH_RECOVERY_MODE` says, prints its id, and waits to
/// die or exits.
fn child(root: &str) {
    let parent = std::env::var("BERTH_RECOVERY_PARENT").unwrap();
    let mode = std::env::var(MODE).unwrap_or_else(|_| "running".into());
    let kind = Kind::from_name(&std::env::var(KIND).unwrap());
    let kept = mode == "kept";
    let options = if kept {
        keeping(Path::new(root), &parent)
    } else {
        options(Path::new(root), &parent)
    };
    let driver = AnyDriver::new(kind, options);
    if mode == "starting" {
        start_on_a_terminal_when_told(&driver);
    }
    if mode == "running" {
        let mut command = common::shell("survivor", "sleep 1000");
        command.resources.memory_limit = Some(64 << 20);
        driver
            .create(&command, &Stdio::null(), Arc::new(NoHooks))
            .unwrap();
        driver.start(&command.id).unwrap();
        println!("{}", command.id);
    } else {
        let out = std::fs::File::create(std::env::var(OUT).unwrap()).unwrap();
        let command = waiting("waiting");
        let stdio = Stdio {
            stdin: None,
            stdout: Some(out.as_raw_fd()),
            stderr: None,
            extra: Vec::new(),
        };
        driver.create(&command, &stdio, Arc::new(NoHooks)).unwrap();
        if kept {
            // Said once the driver has let the container go, as a command-line tool would
            // before it exits.
            drop(driver);
            println!("{}", command.id);
            return;
        }
        println!("{}", command.id);
    }
    std::mem::forget(driver); // a SIGKILL runs no destructor either
    loop {
        std::thread::park();
    }
}

/// The child in mode `starting`: creates a container with berth's init on a terminal, prints
/// its id and its init's pid, and once told on stdin, says `starting` and starts it. Never
/// returns: the test kills it while that start waits.
fn start_on_a_terminal_when_told(driver: &AnyDriver) -> ! {
    let mut command = common::shell("hangup", "exec sleep 1000");
    command.init = true;
    command.process.tty = true;
    driver
        .create(&command, &Stdio::null(), Arc::new(common::KeepMasters))
        .unwrap();
    println!("{} {}", command.id, driver.state(&command.id).unwrap().pid);
    let mut told = String::new();
    std::io::stdin().read_line(&mut told).unwrap();
    println!("starting");
    let _ = driver.start(&command.id);
    loop {
        std::thread::park();
    }
}

/// A container that says it started, then sleeps as its own pid 1 (so that its fds are the
/// program's alone).
fn waiting(name: &str) -> Command {
    common::shell(name, "echo started; exec sleep 1000")
}

/// Runs this binary as the child in `mode`, with its state under `root`; returns the child
/// and the id it printed.
fn spawn_child(
    kind: Kind,
    root: &Path,
    parent: &str,
    mode: &str,
    out: Option<&Path>,
) -> (std::process::Child, String) {
    let mut child = std::process::Command::new(std::env::current_exe().unwrap());
    child
        .env(CHILD, root)
        .env(KIND, kind.name())
        .env("BERTH_RECOVERY_PARENT", parent)
        .env(MODE, mode)
        .stdout(ProcessStdio::piped());
    if let Some(out) = out {
        child.env(OUT, out);
    }
    let mut child = child.spawn().unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let id = line.trim().to_string();
    assert!(!id.is_empty(), "the child printed no id");
    (child, id)
}

fn a_new_driver_takes_back_a_container_whose_host_was_killed(kind: Kind) {
    let (root, parent) = names(kind, "adopt");
    let (mut host, id) = spawn_child(kind, &root, &parent, "running", None);
    host.kill().unwrap(); // SIGKILL
    host.wait().unwrap();

    let driver = recovering(kind, &root, &parent);
    let state = driver.state(&id).unwrap();
    assert_eq!(state.status, Status::Running);
    let pid = state.pid;
    assert!(Path::new(&format!("/proc/{pid}")).exists());
    assert_eq!(driver.list().unwrap().len(), 1);

    let status = driver
        .exec(
            &id,
            &ProcessConfig::new(["/bin/sh", "-c", "exit 6"]),
            &Stdio::null(),
            Arc::new(NoHooks),
        )
        .unwrap();
    assert_eq!(status, ExitStatus::exited(6));
    assert!(driver.stats(&id).unwrap().memory.limit == Some(64 << 20));
    driver.pause(&id).unwrap();
    driver.resume(&id).unwrap();

    driver.kill(&id, libc::SIGKILL, false).unwrap();
    // Not the new driver's child: the kernel gives the status to its real parent. But the
    // native driver killed it with SIGKILL itself, and says so. (With LXC the new driver is
    // not the parent of lxc-execute either, whose exit carries the program's: unknown.)
    assert_eq!(driver.wait(&id).unwrap(), killed_by_the_driver(kind));
    driver.delete(&id, false).unwrap();

    assert!(driver.list().unwrap().is_empty());
    assert_eq!(
        std::fs::read_dir(&root).unwrap().count(),
        0,
        "state left behind"
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    while Path::new(&format!("/proc/{pid}")).exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "process left behind"
    );
    drop(driver);
    assert_no_cgroups(&parent);
    std::fs::remove_dir(&root).unwrap();
}

/// How a recovered container that the new driver killed with SIGKILL reads: the native
/// driver knows it sent the SIGKILL to a live init; LXC's monitor carried the status to the
/// dead driver.
fn killed_by_the_driver(kind: Kind) -> ExitStatus {
    match kind {
        Kind::Native => ExitStatus::signaled(libc::SIGKILL),
        Kind::Lxc => ExitStatus::unknown(),
    }
}

fn a_corrupt_or_half_written_state_file_is_reported_and_skipped(kind: Kind) {
    let (root, parent) = names(kind, "corrupt");
    std::fs::create_dir_all(root.join("broken")).unwrap();
    std::fs::write(
        root.join("broken/state.json"),
        "{\"id\": \"broken\", \"pid\": ",
    )
    .unwrap();
    std::fs::create_dir_all(root.join("halfway")).unwrap();
    std::fs::write(root.join("halfway/state.json.tmp"), "{").unwrap();

    let driver = AnyDriver::new(kind, options(&root, &parent));
    let report = driver.recovery_report().join("\n");
    assert!(report.contains("broken: unreadable state"), "{report}");
    // No state file: a create whose driver died before its first save, and whose claim on
    // the directory went with it.
    assert!(
        report.contains("halfway: its driver died while creating it; cleaned up"),
        "{report}"
    );
    assert!(!root.join("halfway").exists());
    assert!(driver.list().unwrap().is_empty());
    // Left as found, for a person to look at.
    assert!(root.join("broken/state.json").exists());
    // And the driver works.
    let status = driver
        .run(
            &common::shell("after", "exit 2"),
            &Stdio::null(),
            Arc::new(NoHooks),
        )
        .unwrap();
    assert_eq!(status.code, 2);
    drop(driver);
    std::fs::remove_dir_all(&root).unwrap();
    assert_no_cgroups(&parent);
}

fn a_reused_pid_is_treated_as_gone_and_never_signalled(kind: Kind) {
    let (root, parent) = names(kind, "reused");
    // A process that is not the container: its start time differs from the recorded one.
    let mut bystander = std::process::Command::new("sleep")
        .arg("100")
        .spawn()
        .unwrap();
    let dir = root.join("stale");
    std::fs::create_dir_all(&dir).unwrap();
    let mut state = serde_json::json!({
        "id": "stale", "pid": bystander.id(), "pid_start_time": 1, "status": "running",
        "created": "2026-01-01T00:00:00.000000000Z", "cgroup_path": format!("{parent}/stale"),
        "rootfs": common::rootfs(),
    });
    if kind == Kind::Lxc {
        // LXC's state names its monitor (lxc-execute) too: the same stranger, just as stale.
        state["monitor_pid"] = bystander.id().into();
        state["monitor_start_time"] = 1.into();
    }
    std::fs::write(dir.join("state.json"), state.to_string()).unwrap();

    let driver = recovering(kind, &root, &parent);
    // Gone as far as berth can tell: listed as stopped, with a status nobody saw.
    let state = driver.state("stale").unwrap();
    assert_eq!(state.status, Status::Stopped);
    assert_eq!(state.exit_status, Some(ExitStatus::unknown()));
    assert_eq!(driver.wait("stale").unwrap(), ExitStatus::unknown());
    driver.delete("stale", false).unwrap();
    assert!(driver.list().unwrap().is_empty());
    assert!(!dir.exists());
    assert!(
        bystander.try_wait().unwrap().is_none(),
        "the bystander was signalled"
    );
    bystander.kill().unwrap();
    bystander.wait().unwrap();
    drop(driver);
    std::fs::remove_dir(&root).unwrap();
}

fn assert_no_cgroups(parent: &str) {
    // Every hierarchy's root: on pure cgroup v2, /sys/fs/cgroup itself.
    for hierarchy in linux::cgroup_roots() {
        let dir = hierarchy.join(parent);
        if dir.exists() {
            let children: Vec<_> = std::fs::read_dir(&dir)
                .unwrap()
                .flatten()
                .filter(|e| e.path().is_dir())
                .map(|e| e.path())
                .collect();
            assert!(children.is_empty(), "cgroups left behind: {children:?}");
            let _ = std::fs::remove_dir(&dir);
        }
    }
}

/// What a driver on `root` with cgroups under `parent` could leave: its containers' cgroups
/// and state, this process's children, fds and mounts (the conformance fixture's count), and
/// its threads.
fn residue(root: &Path, parent: &str) -> Residue {
    let mut residue = linux::residue(root, parent);
    let threads = std::fs::read_dir("/proc/self/task").unwrap().flatten();
    residue.add(
        "threads",
        threads.map(|t| t.file_name().to_string_lossy().into_owned()),
    );
    residue
}

fn assert_same(now: &Residue, before: &Residue, what: &str) {
    if let Some(diff) = now.diff(before) {
        panic!("{what}: {diff}");
    }
}

/// Removes what a driver's root and cgroup parent hold once every container is gone.
fn remove_root_and_parent(root: &Path, parent: &str) {
    let _ = std::fs::remove_dir(root);
    let _ = runtime_linux::cgroups::CgroupManager::detect()
        .and_then(|cgroups| cgroups.remove_parent_if_empty(parent));
}

fn stdio(stdin: Option<&OwnedFd>, stdout: Option<&OwnedFd>) -> Stdio {
    Stdio {
        stdin: stdin.map(AsRawFd::as_raw_fd),
        stdout: stdout.map(AsRawFd::as_raw_fd),
        stderr: None,
        extra: Vec::new(),
    }
}

fn keep_mode_leaves_created_running_and_paused_containers_to_the_next_driver(kind: Kind) {
    let (root, parent) = names(kind, "keep");
    let (stdin_read, mut stdin_write) = pipe_file();
    let (stdout_read, stdout_write) = common::pipe();
    let before = residue(&root, &parent);

    let first = AnyDriver::new(kind, keeping(&root, &parent));
    let created = common::shell("created", "echo started; read code; exit $code");
    let container_stdio = stdio(Some(&stdin_read), Some(&stdout_write));
    first
        .create(&created, &container_stdio, Arc::new(NoHooks))
        .unwrap();
    let running = common::shell("running", "sleep 1000");
    let paused = common::shell("paused", "sleep 1000");
    for command in [&running, &paused] {
        first
            .create(command, &Stdio::null(), Arc::new(NoHooks))
            .unwrap();
        first.start(&command.id).unwrap();
    }
    first.pause(&paused.id).unwrap();
    let ids = [&created.id, &running.id, &paused.id];
    let pids: Vec<String> = ids
        .iter()
        .map(|id| host_child(kind, first.state(id).unwrap().pid).to_string())
        .collect();
    drop(first);

    // Nothing of the driver is left in this process but the containers themselves, which are
    // its children: no thread, no fd.
    let mut expected = before.clone();
    let mut children = before.0.get("child processes").cloned().unwrap_or_default();
    children.extend(pids.iter().cloned());
    expected.add("child processes", children);
    let mut state = before.0.get("state entries").cloned().unwrap_or_default();
    state.extend(ids.iter().map(|id| id.to_string()));
    expected.add("state entries", state);
    let mut left = residue(&root, &parent);
    assert_eq!(
        left.0.remove("cgroups").map(|c| c.len() >= 3),
        Some(true),
        "the containers keep their cgroups"
    );
    expected.0.remove("cgroups");
    assert_same(&left, &expected, "left after a keep-mode drop");
    assert_start_socket(&root.join(&created.id));

    let second = recovering(kind, &root, &parent);
    let statuses: Vec<Status> = ids
        .iter()
        .map(|id| second.state(id).unwrap().status)
        .collect();
    assert_eq!(statuses, [Status::Created, Status::Running, Status::Paused]);

    // The created one starts, with the stdio it was created with. In the same process the
    // new driver is still the inits' parent (LXC's: lxc-execute's, whose exit carries the
    // program's): the exit comes back exactly.
    second.start(&created.id).unwrap();
    let mut out = std::io::BufReader::new(std::fs::File::from(stdout_read));
    assert_eq!(common::read_line(&mut out), "started");
    stdin_write.write_all(b"7\n").unwrap();
    assert_eq!(second.wait(&created.id).unwrap(), ExitStatus::exited(7));
    second.delete(&created.id, false).unwrap();

    // The running one: exec'd into, killed, and its exit seen.
    let (status, out) = common::exec_output(&*second, &running.id, "echo in; exit 6");
    assert_eq!((status, out.as_str()), (ExitStatus::exited(6), "in\n"));
    second.kill(&running.id, libc::SIGKILL, false).unwrap();
    assert_eq!(
        second.wait(&running.id).unwrap(),
        ExitStatus::signaled(libc::SIGKILL)
    );
    second.delete(&running.id, false).unwrap();

    // The paused one: resumed, exec'd into, paused again and deleted by force.
    second.resume(&paused.id).unwrap();
    assert_eq!(second.state(&paused.id).unwrap().status, Status::Running);
    let (status, _) = common::exec_output(&*second, &paused.id, "exit 3");
    assert_eq!(status, ExitStatus::exited(3));
    second.pause(&paused.id).unwrap();
    second.delete(&paused.id, true).unwrap();
    assert!(second.list().unwrap().is_empty());
    drop(second);

    assert_same(&residue(&root, &parent), &before, "left after delete");
    drop((stdin_read, stdout_write, stdin_write, out));
    remove_root_and_parent(&root, &parent);
}

fn a_container_that_exits_while_no_driver_watches_is_reaped_by_the_next(kind: Kind) {
    let (root, parent) = names(kind, "zombie");
    let (stdin_read, mut stdin_write) = pipe_file();
    let before = residue(&root, &parent);
    let first = AnyDriver::new(kind, keeping(&root, &parent));
    let command = common::shell("zombie", "read x");
    first
        .create(&command, &stdio(Some(&stdin_read), None), Arc::new(NoHooks))
        .unwrap();
    first.start(&command.id).unwrap();
    let pid = host_child(kind, first.state(&command.id).unwrap().pid);
    drop(first);
    // It ends while no driver watches it: a zombie, this process's child (with LXC,
    // lxc-execute, which reaps its init and exits with the program's status).
    stdin_write.write_all(b"\n").unwrap();
    let stat = format!("/proc/{pid}/stat");
    let zombie = || {
        let text = std::fs::read_to_string(&stat).unwrap_or_default();
        text.rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z'))
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while !zombie() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(zombie(), "the init did not end");

    let second = recovering(kind, &root, &parent);
    assert!(!Path::new(&stat).exists(), "the zombie was not reaped");
    // Listed as stopped until deleted. Reaped by this process, its exact status (LXC's
    // monitor is this process's child, but the init the state names is not).
    let state = second.state(&command.id).unwrap();
    assert_eq!(state.status, Status::Stopped);
    let expected = match kind {
        Kind::Native => ExitStatus::exited(0),
        Kind::Lxc => ExitStatus::unknown(),
    };
    assert_eq!(second.wait(&command.id).unwrap(), expected);
    second.delete(&command.id, false).unwrap();
    drop(second);
    assert_same(&residue(&root, &parent), &before, "left after recovery");
    drop((stdin_read, stdin_write));
    remove_root_and_parent(&root, &parent);
}

/// The process of a container that is this process's child, for a container whose init is
/// `pid`: the native init itself; with LXC, its parent, the monitor (`lxc-execute`), which
/// the driver spawned and whose child LXC's init is.
fn host_child(kind: Kind, pid: i32) -> i32 {
    match kind {
        Kind::Native => pid,
        Kind::Lxc => {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
            let (_, rest) = stat.rsplit_once(") ").unwrap();
            let monitor = rest.split_whitespace().nth(1).unwrap().parse().unwrap();
            let name = std::fs::read_to_string(format!("/proc/{monitor}/comm")).unwrap();
            assert_eq!(name.trim_end(), "lxc-execute", "the parent of LXC's init");
            monitor
        }
    }
}

/// A pipe whose write end is a `File`.
fn pipe_file() -> (OwnedFd, std::fs::File) {
    let (read, write) = common::pipe();
    (read, std::fs::File::from(write))
}

/// The start socket of a created container: a socket, its owner's alone.
fn assert_start_socket(dir: &Path) {
    let meta = std::fs::metadata(dir.join(START_SOCKET)).expect("the start socket");
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o7777, 0o600);
}

/// `mode` `killed`: the child creates a container and is SIGKILLed; `kept`: it creates one in
/// keep mode, drops the driver and exits. Either way a driver here starts the container.
fn a_created_container_starts_from_another_process(kind: Kind, mode: &str) {
    let (root, parent) = names(kind, mode);
    let out = root.with_extension("out");
    let (mut host, id) = spawn_child(kind, &root, &parent, mode, Some(&out));
    if mode == "killed" {
        host.kill().unwrap(); // SIGKILL
    }
    let exit = host.wait().unwrap();
    assert!(mode == "killed" || exit.success(), "the child: {exit}");
    let before = residue(&root, &parent);

    let driver = recovering(kind, &root, &parent);
    let state = driver.state(&id).unwrap();
    assert_eq!(state.status, Status::Created);
    assert_start_socket(&root.join(&id));
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "",
        "ran before start"
    );

    driver.start(&id).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::fs::read_to_string(&out).unwrap() != "started\n" && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "started\n");
    // The program holds its stdio and nothing else: no start socket, no channel. The
    // native program is the container's pid 1; LXC's is the only child of LXC's init (an
    // exec's process is the host's child, outside the container's tree).
    let program = match kind {
        Kind::Native => "ls /proc/1/fd",
        Kind::Lxc => "set -- $(cat /proc/1/task/1/children); ls /proc/$1/fd",
    };
    let (status, fds) = common::exec_output(&*driver, &id, program);
    assert_eq!(status, ExitStatus::exited(0));
    assert_eq!(fds.split_whitespace().collect::<Vec<_>>(), ["0", "1", "2"]);

    driver.kill(&id, libc::SIGKILL, false).unwrap();
    // Not this process's child: its status went to its real parent's heir; what the native
    // driver knows is that it killed it.
    assert_eq!(driver.wait(&id).unwrap(), killed_by_the_driver(kind));
    driver.delete(&id, false).unwrap();
    drop(driver);
    let mut before = before;
    before.add("state entries", []);
    before.0.remove("cgroups");
    let mut now = residue(&root, &parent);
    assert_eq!(now.0.remove("cgroups"), Some(vec![]), "cgroups left");
    assert_same(&now, &before, "left after delete");
    std::fs::remove_file(&out).unwrap();
    remove_root_and_parent(&root, &parent);
}

fn a_created_container_starts_from_a_new_driver_after_its_host_was_killed(kind: Kind) {
    a_created_container_starts_from_another_process(kind, "killed");
}

fn a_created_container_starts_from_a_new_driver_after_a_keep_mode_tool_exited(kind: Kind) {
    a_created_container_starts_from_another_process(kind, "kept");
}

/// Connects a socket of `kind` to the start socket in `dir` (through the directory's fd: the
/// path may be longer than a socket address holds).
fn connect_start(dir: &Path, kind: SockType) -> nix::Result<OwnedFd> {
    let socket = socket(AddressFamily::Unix, kind, SockFlag::SOCK_CLOEXEC, None)?;
    let dir = nix::fcntl::open(
        dir,
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )?;
    let path = format!("/proc/self/fd/{}/{START_SOCKET}", dir.as_raw_fd());
    connect(socket.as_raw_fd(), &UnixAddr::new(path.as_str())?)?;
    let timeout = nix::sys::time::TimeVal::new(20, 0);
    setsockopt(&socket, sockopt::ReceiveTimeout, &timeout)?;
    Ok(socket)
}

/// Sends what is not a start to the start socket in `dir`, and checks that the init hangs up
/// on each. Returns connections that said nothing, still open.
fn throw_garbage(dir: &Path) -> Vec<OwnedFd> {
    let garbage: [&[u8]; 4] = [b"not json", b"\"Ready\"", b"{\"Start\": 1}", b""];
    for bytes in garbage {
        let caller = connect_start(dir, SockType::SeqPacket).unwrap();
        send(caller.as_raw_fd(), bytes, MsgFlags::MSG_NOSIGNAL).unwrap();
        let mut buffer = [0u8; 64];
        let read = nix::sys::socket::recv(caller.as_raw_fd(), &mut buffer, MsgFlags::empty());
        assert_eq!(read, Ok(0), "the init answered {bytes:?} with {read:?}");
    }
    // Gone at once.
    drop(connect_start(dir, SockType::SeqPacket).unwrap());
    // A stream socket cannot even connect.
    assert_eq!(
        connect_start(dir, SockType::Stream).unwrap_err(),
        nix::errno::Errno::EPROTOTYPE
    );
    // More silent callers than the init keeps: the oldest are dropped, none blocks a start.
    (0..10)
        .map(|_| connect_start(dir, SockType::SeqPacket).unwrap())
        .collect()
}

fn garbage_on_the_start_socket_leaves_the_init_waiting(kind: Kind) {
    // A root long enough that the start socket's path does not fit in a socket address.
    let (root, parent) = names(kind, &format!("garbage-{}", "g".repeat(60)));
    let (stdout_read, stdout_write) = common::pipe();
    let before = residue(&root, &parent);
    let first = AnyDriver::new(kind, keeping(&root, &parent));
    let mut command = waiting("garbage");
    command.id = format!("{}-{}", command.id, "i".repeat(40));
    first
        .create(
            &command,
            &stdio(None, Some(&stdout_write)),
            Arc::new(NoHooks),
        )
        .unwrap();
    let dir = root.join(&command.id);
    assert!(dir.join(START_SOCKET).as_os_str().len() > 108);
    // While the creating driver holds the container, and after it let go.
    let mut silent = throw_garbage(&dir);
    drop(first);
    silent.extend(throw_garbage(&dir));

    let second = AnyDriver::new(kind, options(&root, &parent));
    assert_eq!(second.state(&command.id).unwrap().status, Status::Created);
    second.start(&command.id).unwrap();
    let mut out = std::io::BufReader::new(std::fs::File::from(stdout_read));
    assert_eq!(common::read_line(&mut out), "started");
    // The start socket is closed with the exec: nobody listens any more.
    assert_eq!(
        connect_start(&dir, SockType::SeqPacket).unwrap_err(),
        nix::errno::Errno::ECONNREFUSED
    );
    second.kill(&command.id, libc::SIGKILL, false).unwrap();
    assert_eq!(
        second.wait(&command.id).unwrap(),
        ExitStatus::signaled(libc::SIGKILL)
    );
    second.delete(&command.id, false).unwrap();
    drop((second, silent));
    assert_same(&residue(&root, &parent), &before, "left after delete");
    drop((stdout_write, out));
    remove_root_and_parent(&root, &parent);
}

fn a_start_through_the_socket_that_cannot_exec_says_why_and_leaves_nothing(kind: Kind) {
    let (root, parent) = names(kind, "noexec");
    // A rootfs of its own, whose program goes away between create and start.
    let rootfs = root.with_extension("rootfs");
    std::fs::create_dir_all(rootfs.join("bin")).unwrap();
    let program = rootfs.join("bin/busybox");
    std::fs::copy(Path::new(common::rootfs()).join("bin/busybox"), &program).unwrap();
    let before = residue(&root, &parent);
    let first = AnyDriver::new(kind, keeping(&root, &parent));
    let command = Command::new(
        common::id("noexec"),
        rootfs.to_str().unwrap(),
        ProcessConfig::new(["/bin/busybox", "true"]),
    );
    first
        .create(&command, &Stdio::null(), Arc::new(NoHooks))
        .unwrap();
    drop(first);
    std::fs::remove_file(&program).unwrap();

    let second = AnyDriver::new(kind, options(&root, &parent));
    let error = second.start(&command.id).unwrap_err().to_string();
    assert!(
        error.contains("exec /bin/busybox") && error.contains("ENOENT"),
        "{error}"
    );
    assert_eq!(second.state(&command.id).unwrap().status, Status::Stopped);
    second.delete(&command.id, false).unwrap();
    drop(second);
    assert_same(&residue(&root, &parent), &before, "left after delete");
    std::fs::remove_dir_all(&rootfs).unwrap();
    remove_root_and_parent(&root, &parent);
}

/// A host dies just after it said start to a container with berth's init on a terminal:
/// the terminal hangs up before the init has blocked its signals (here, for certain: the
/// init is stopped until the host is dead). The program hears the hang-up all the same, and
/// ends by SIGHUP, as it would a moment later (docs/recovery.md).
fn a_host_that_dies_as_it_starts_a_terminal_container_hangs_its_program_up(kind: Kind) {
    let (root, parent) = names(kind, "hangup");
    let before = residue(&root, &parent);
    let mut host = std::process::Command::new(std::env::current_exe().unwrap())
        .env(CHILD, &root)
        .env(KIND, kind.name())
        .env("BERTH_RECOVERY_PARENT", &parent)
        .env(MODE, "starting")
        .stdin(ProcessStdio::piped())
        .stdout(ProcessStdio::piped())
        .spawn()
        .unwrap();
    let mut said = std::io::BufReader::new(host.stdout.take().unwrap());
    let mut line = String::new();
    said.read_line(&mut line).unwrap();
    let (id, init) = line.trim().split_once(' ').expect("an id and a pid");
    let (id, init) = (
        id.to_string(),
        nix::unistd::Pid::from_raw(init.parse().unwrap()),
    );
    // Stopped, the init cannot take start (nor block its signals) until the host is gone.
    nix::sys::signal::kill(init, nix::sys::signal::Signal::SIGSTOP).unwrap();
    writeln!(host.stdin.as_mut().unwrap(), "start").unwrap();
    line.clear();
    said.read_line(&mut line).unwrap();
    assert_eq!(line, "starting\n");
    // Start is said once the host's main thread waits for the init's report.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !waits_in_recvmsg(host.id()) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(waits_in_recvmsg(host.id()), "the host never said start");
    host.kill().unwrap(); // SIGKILL: the terminal's last master closes with the host.
    host.wait().unwrap();
    drop((host, said));
    nix::sys::signal::kill(init, nix::sys::signal::Signal::SIGCONT).unwrap();

    let driver = recovering(kind, &root, &parent);
    let deadline = Instant::now() + Duration::from_secs(10);
    while driver.state(&id).unwrap().status != Status::Stopped && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let state = driver.state(&id).unwrap();
    if state.status != Status::Stopped {
        let _ = driver.delete(&id, true);
        panic!("the program never heard the hang-up: {:?}", state.status);
    }
    assert_eq!(
        driver.wait(&id).unwrap(),
        ExitStatus::signaled(libc::SIGHUP)
    );
    driver.delete(&id, false).unwrap();
    drop(driver);
    let mut before = before;
    before.0.remove("cgroups");
    let mut now = residue(&root, &parent);
    assert_eq!(now.0.remove("cgroups"), Some(vec![]), "cgroups left");
    assert_same(&now, &before, "left after delete");
    remove_root_and_parent(&root, &parent);
}

/// Whether the main thread of `pid` is blocked in `recvmsg` (the syscall it is in is the
/// first field of `/proc/<pid>/syscall`).
fn waits_in_recvmsg(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/syscall"))
        .is_ok_and(|text| text.split_whitespace().next() == Some(&libc::SYS_recvmsg.to_string()))
}

/// One test, run once per driver kind.
type Test = fn(Kind);

/// The tests of berth's own init, which the LXC driver refuses (`init`: LXC runs its own):
/// run with the native driver alone.
const OF_BERTHS_INIT: [&str; 1] =
    ["a_host_that_dies_as_it_starts_a_terminal_container_hangs_its_program_up"];

fn main() {
    if let Ok(root) = std::env::var(CHILD) {
        child(&root);
        return;
    }
    let tests: [(&str, Test); 10] = [
        (
            "a_new_driver_takes_back_a_container_whose_host_was_killed",
            a_new_driver_takes_back_a_container_whose_host_was_killed,
        ),
        (
            "a_corrupt_or_half_written_state_file_is_reported_and_skipped",
            a_corrupt_or_half_written_state_file_is_reported_and_skipped,
        ),
        (
            "a_reused_pid_is_treated_as_gone_and_never_signalled",
            a_reused_pid_is_treated_as_gone_and_never_signalled,
        ),
        (
            "keep_mode_leaves_created_running_and_paused_containers_to_the_next_driver",
            keep_mode_leaves_created_running_and_paused_containers_to_the_next_driver,
        ),
        (
            "a_container_that_exits_while_no_driver_watches_is_reaped_by_the_next",
            a_container_that_exits_while_no_driver_watches_is_reaped_by_the_next,
        ),
        (
            "a_created_container_starts_from_a_new_driver_after_its_host_was_killed",
            a_created_container_starts_from_a_new_driver_after_its_host_was_killed,
        ),
        (
            "a_created_container_starts_from_a_new_driver_after_a_keep_mode_tool_exited",
            a_created_container_starts_from_a_new_driver_after_a_keep_mode_tool_exited,
        ),
        (
            "garbage_on_the_start_socket_leaves_the_init_waiting",
            garbage_on_the_start_socket_leaves_the_init_waiting,
        ),
        (
            "a_start_through_the_socket_that_cannot_exec_says_why_and_leaves_nothing",
            a_start_through_the_socket_that_cannot_exec_says_why_and_leaves_nothing,
        ),
        (
            "a_host_that_dies_as_it_starts_a_terminal_container_hangs_its_program_up",
            a_host_that_dies_as_it_starts_a_terminal_container_hangs_its_program_up,
        ),
    ];
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let (mut passed, mut failed) = (0, 0);
    let kinds = Kind::available();
    if !kinds.contains(&Kind::Lxc) {
        println!("lxc: skipped (no /usr/bin/lxc-execute; the test script installs LXC)");
    }
    for kind in kinds {
        let started = Instant::now();
        let mut ran = 0;
        for (name, test) in tests {
            if kind == Kind::Lxc && OF_BERTHS_INIT.contains(&name) {
                continue;
            }
            let name = format!("{}::{name}", kind.name());
            if !filter.is_empty() && !filter.iter().any(|f| name.contains(f.as_str())) {
                continue;
            }
            let pivots = lxc_pivots();
            let outcome = std::panic::catch_unwind(|| {
                test(kind);
                assert_nothing_left(kind, &pivots);
            });
            ran += 1;
            match outcome {
                Ok(()) => {
                    println!("test {name} ... ok");
                    passed += 1;
                }
                Err(_) => {
                    println!("test {name} ... FAILED");
                    failed += 1;
                }
            }
        }
        println!(
            "{}: {ran} tests in {:.1}s",
            kind.name(),
            started.elapsed().as_secs_f64()
        );
    }
    println!("{passed} passed, {failed} failed");
    if failed > 0 {
        std::process::exit(101);
    }
}

/// The `lxc.pivot` cgroups at the roots of the hierarchies: LXC's monitor moves into one to
/// remove the container's cgroups as it exits, and the LXC driver removes it once empty.
fn lxc_pivots() -> Vec<PathBuf> {
    linux::cgroup_roots()
        .into_iter()
        .map(|root| root.join("lxc.pivot"))
        .filter(|pivot| pivot.exists())
        .collect()
}

/// After a test of `kind`: no state root and no cgroup parent of its kind left, in any
/// hierarchy (`name=systemd` too), and no `lxc.pivot` that was not there before (`pivots`;
/// one left by another user of LXC on this host is not ours to remove).
fn assert_nothing_left(kind: Kind, pivots: &[PathBuf]) {
    let prefix = prefix(kind);
    let mut left = Vec::new();
    for dir in linux::cgroup_roots().into_iter().chain([state_base()]) {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            if entry.file_name().to_string_lossy().starts_with(&prefix) {
                left.push(entry.path());
            }
        }
    }
    left.extend(lxc_pivots().into_iter().filter(|p| !pivots.contains(p)));
    assert!(left.is_empty(), "left behind: {left:?}");
}
