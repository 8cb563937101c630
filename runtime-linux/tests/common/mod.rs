//! Shared by the integration tests: a driver with its own state root and cgroup parent (the
//! native one, or for the suites that run against every driver, either kind behind
//! `dyn Driver`), the busybox rootfs, output capture, and counters of everything a container
//! could leave behind.
#![allow(dead_code)]

pub mod image;

use std::collections::BTreeSet;
use std::fs;
use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use runtime_core::{Command, Driver, ExitStatus, Hooks, NoHooks, ProcessConfig, Result, Stdio};
use runtime_linux::{DriverOptions, LinuxDriver, LxcDriver};

/// The busybox rootfs, built by scripts/build-rootfs.sh on first use; or a copy of it at
/// `$BERTH_TEST_ROOTFS` (the VM lane puts one on a tmpfs: on the guest's 9p share, memory.max
/// can drop busybox's pages and fault them back in for a long time before it OOM-kills).
pub fn rootfs() -> &'static str {
    static ROOTFS: OnceLock<String> = OnceLock::new();
    ROOTFS.get_or_init(|| {
        if let Some(dir) = std::env::var_os("BERTH_TEST_ROOTFS").filter(|d| !d.is_empty()) {
            let dir = PathBuf::from(dir);
            assert!(
                dir.join("bin/busybox").is_file(),
                "BERTH_TEST_ROOTFS={} has no bin/busybox",
                dir.display()
            );
            return dir.to_str().unwrap().to_string();
        }
        let top = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let dir = top.join("build/rootfs");
        let status = std::process::Command::new(top.join("scripts/build-rootfs.sh"))
            .arg(&dir)
            .status()
            .expect("run scripts/build-rootfs.sh");
        assert!(status.success(), "scripts/build-rootfs.sh failed");
        dir.to_str().unwrap().to_string()
    })
}

/// A driver of its own: state under /run/berth-test-<pid>-<n> (or under
/// `$BERTH_TEST_STATE_ROOT` where /run is not writable, as in the VM lane), cgroups under
/// berth-test-<pid>-<n>, both removed when it is dropped.
pub struct TestDriver {
    pub driver: LinuxDriver,
    pub root: PathBuf,
    pub cgroup_parent: String,
}

impl std::ops::Deref for TestDriver {
    type Target = LinuxDriver;
    fn deref(&self) -> &LinuxDriver {
        &self.driver
    }
}

impl Drop for TestDriver {
    fn drop(&mut self) {
        let _ = fs::remove_dir(&self.root);
        let _ = runtime_linux::cgroups::CgroupManager::detect()
            .and_then(|cgroups| cgroups.remove_parent_if_empty(&self.cgroup_parent));
    }
}

pub fn driver() -> TestDriver {
    let (options, root, name) = test_options("berth-test");
    let driver = LinuxDriver::new(options).expect("driver");
    TestDriver {
        driver,
        root,
        cgroup_parent: name,
    }
}

/// The options of a test driver: state under `<base>/<prefix>-<pid>-<n>`, cgroups under the
/// same name, this build's `berth-init`. Returns the root and the name too.
fn test_options(prefix: &str) -> (DriverOptions, PathBuf, String) {
    static COUNT: AtomicUsize = AtomicUsize::new(0);
    let n = COUNT.fetch_add(1, Ordering::Relaxed);
    let name = format!("{prefix}-{}-{n}", std::process::id());
    let base = std::env::var_os("BERTH_TEST_STATE_ROOT")
        .filter(|dir| !dir.is_empty())
        .map_or_else(|| PathBuf::from("/run"), PathBuf::from);
    let root = base.join(&name);
    let options = DriverOptions {
        root: Some(root.clone()),
        helper_path: Some(PathBuf::from(env!("CARGO_BIN_EXE_berth-init"))),
        cgroup_parent: Some(name.clone()),
        ..DriverOptions::default()
    };
    (options, root, name)
}

/// The drivers the attack suites (escapes, images) run their cases against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// [`LinuxDriver`].
    Native,
    /// [`LxcDriver`], where LXC is installed.
    Lxc,
}

impl Kind {
    /// In the order the suites run them.
    pub const ALL: [Kind; 2] = [Kind::Native, Kind::Lxc];

    /// How the suites' lines name it.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Native => "native",
            Kind::Lxc => "lxc",
        }
    }

    /// Whether `$BERTH_TEST_DRIVERS` (a comma-separated list of names; unset or empty: every
    /// kind) selects this kind.
    pub fn selected(self) -> bool {
        match std::env::var("BERTH_TEST_DRIVERS") {
            Ok(list) if !list.trim().is_empty() => list
                .split(',')
                .any(|name| name.trim().eq_ignore_ascii_case(self.name())),
            _ => true,
        }
    }
}

/// A driver of either [`Kind`] behind `dyn Driver`, with its own state root and cgroup parent
/// as [`driver`] makes them (`berth-test-*` for the native one, `berth-lxc-test-*` for LXC),
/// both removed when it is dropped.
pub struct SuiteDriver {
    pub kind: Kind,
    /// `None` only while it is dropped.
    driver: Option<Box<dyn Driver>>,
    pub root: PathBuf,
    pub cgroup_parent: String,
}

impl std::ops::Deref for SuiteDriver {
    type Target = dyn Driver;
    fn deref(&self) -> &(dyn Driver + 'static) {
        self.driver.as_deref().expect("the driver")
    }
}

impl Drop for SuiteDriver {
    fn drop(&mut self) {
        // The driver first: it kills and deletes what it still holds.
        drop(self.driver.take());
        let _ = fs::remove_dir(&self.root);
        let _ = runtime_linux::cgroups::CgroupManager::detect()
            .and_then(|cgroups| cgroups.remove_parent_if_empty(&self.cgroup_parent));
        // What is left in a hierarchy berth does not manage (LXC makes the parent in every
        // one, name=systemd included): said, and removed if empty.
        for mount in all_cgroup_mounts() {
            let dir = mount.join(&self.cgroup_parent);
            if dir.exists() {
                let removed = fs::remove_dir(&dir).is_ok();
                eprintln!(
                    "warning: the {} driver left the cgroup {}{}",
                    self.kind.name(),
                    dir.display(),
                    if removed { " (removed)" } else { "" }
                );
            }
        }
    }
}

/// Where every cgroup hierarchy is mounted, v1 (named ones too) and v2, from mountinfo.
pub fn all_cgroup_mounts() -> Vec<PathBuf> {
    let info = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    info.lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let fstype = right.split_whitespace().next()?;
            let at = left.split_whitespace().nth(4)?;
            matches!(fstype, "cgroup" | "cgroup2").then(|| PathBuf::from(at))
        })
        .collect()
}

/// A driver of `kind` for the attack suites; `Err` says why this host has none (LXC not
/// installed: the driver's own Unsupported error).
pub fn suite_driver(kind: Kind) -> std::result::Result<SuiteDriver, String> {
    let (options, root, cgroup_parent) = match kind {
        Kind::Native => test_options("berth-test"),
        Kind::Lxc => test_options("berth-lxc-test"),
    };
    let driver: Box<dyn Driver> = match kind {
        Kind::Native => Box::new(LinuxDriver::new(options).expect("the native driver")),
        Kind::Lxc => match LxcDriver::new(options) {
            Ok(driver) => Box::new(driver),
            Err(error) if error.kind() == runtime_core::ErrorKind::Unsupported => {
                return Err(error.to_string())
            }
            Err(error) => panic!("LxcDriver::new: {error}"),
        },
    };
    Ok(SuiteDriver {
        kind,
        driver: Some(driver),
        root,
        cgroup_parent,
    })
}

/// What the helpers below take: any driver, or a test fixture holding one.
pub trait AsDriver {
    fn as_driver(&self) -> &dyn Driver;
}

impl AsDriver for LinuxDriver {
    fn as_driver(&self) -> &dyn Driver {
        self
    }
}

impl AsDriver for LxcDriver {
    fn as_driver(&self) -> &dyn Driver {
        self
    }
}

impl AsDriver for TestDriver {
    fn as_driver(&self) -> &dyn Driver {
        &self.driver
    }
}

impl AsDriver for SuiteDriver {
    fn as_driver(&self) -> &dyn Driver {
        &**self
    }
}

impl AsDriver for dyn Driver {
    fn as_driver(&self) -> &dyn Driver {
        self
    }
}

impl<T: AsDriver + ?Sized> AsDriver for Arc<T> {
    fn as_driver(&self) -> &dyn Driver {
        (**self).as_driver()
    }
}

/// A unique container id.
pub fn id(name: &str) -> String {
    static COUNT: AtomicUsize = AtomicUsize::new(0);
    format!("{name}-{}", COUNT.fetch_add(1, Ordering::Relaxed))
}

/// A command running `sh -c script` in the busybox rootfs.
pub fn shell(name: &str, script: &str) -> Command {
    Command::new(
        id(name),
        rootfs(),
        ProcessConfig::new(["/bin/sh", "-c", script]),
    )
}

/// What a container printed and how it ended.
#[derive(Debug)]
pub struct Output {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `command` with pipes on stdout and stderr and collects both.
pub fn run_output(driver: &(impl AsDriver + ?Sized), command: &Command) -> Result<Output> {
    run_output_with(driver, command, Arc::new(NoHooks))
}

pub fn run_output_with(
    driver: &(impl AsDriver + ?Sized),
    command: &Command,
    hooks: Arc<dyn Hooks>,
) -> Result<Output> {
    let (out_read, out_write) = pipe();
    let (err_read, err_write) = pipe();
    let stdio = Stdio {
        stdin: None,
        stdout: Some(out_write.as_raw_fd()),
        stderr: Some(err_write.as_raw_fd()),
        extra: Vec::new(),
    };
    let readers = [out_read, err_read].map(|fd| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = fs::File::from(fd).read_to_string(&mut text);
            text
        })
    });
    let result = driver.as_driver().run(command, &stdio, hooks);
    drop((out_write, err_write));
    let [stdout, stderr] = readers.map(|r| r.join().unwrap());
    result.map(|status| Output {
        status,
        stdout,
        stderr,
    })
}

/// Runs `script` and returns its stdout, asserting it exited 0.
pub fn sh(driver: &(impl AsDriver + ?Sized), script: &str) -> String {
    let out = run_output(driver, &shell("sh", script)).expect("run");
    assert_eq!(out.status.code, 0, "{script}: {out:?}");
    out.stdout
}

/// Runs `sh -c script` in the running container `id`; returns how it ended and its stdout.
pub fn exec_output(driver: &dyn Driver, id: &str, script: &str) -> (ExitStatus, String) {
    let (read, write) = pipe();
    let stdio = Stdio {
        stdin: None,
        stdout: Some(write.as_raw_fd()),
        stderr: None,
        extra: Vec::new(),
    };
    let status = driver
        .exec(
            id,
            &ProcessConfig::new(["/bin/sh", "-c", script]),
            &stdio,
            Arc::new(NoHooks),
        )
        .unwrap();
    drop(write);
    let mut out = String::new();
    fs::File::from(read).read_to_string(&mut out).unwrap();
    (status, out)
}

pub fn pipe() -> (OwnedFd, OwnedFd) {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap()
}

/// Everything a container might leave behind on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leftovers {
    pub cgroups: BTreeSet<String>,
    pub state_entries: BTreeSet<String>,
    pub children: BTreeSet<String>,
    pub fds: BTreeSet<String>,
    pub mountinfo: String,
}

/// Counts what the test process and the driver could leak. Tests that compare two counts
/// must not run beside other container tests in the same process: see `serial`.
pub fn leftovers(driver: &TestDriver) -> Leftovers {
    let parent = &driver.cgroup_parent;
    let mut cgroups = BTreeSet::new();
    for root in cgroup_roots() {
        let dir = root.join(parent);
        if let Ok(entries) = fs::read_dir(&dir) {
            for entry in entries.flatten() {
                if entry.path().is_dir() {
                    cgroups.insert(entry.path().display().to_string());
                }
            }
        }
    }
    let state_entries = fs::read_dir(&driver.root)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    let mut children = BTreeSet::new();
    for task in fs::read_dir("/proc/self/task").unwrap().flatten() {
        if let Ok(text) = fs::read_to_string(task.path().join("children")) {
            children.extend(text.split_whitespace().map(str::to_string));
        }
    }
    let fds = fs::read_dir("/proc/self/fd")
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap();
    Leftovers {
        cgroups,
        state_entries,
        children,
        fds,
        mountinfo,
    }
}

/// The root of every cgroup hierarchy mounted here: each v1 one and the cgroup2 one. (On a
/// pure v2 host `/sys/fs/cgroup` is itself the hierarchy, and its entries are cgroups and
/// interface files, not hierarchies.)
pub fn cgroup_roots() -> Vec<PathBuf> {
    let manager = runtime_linux::cgroups::CgroupManager::detect().expect("detect cgroups");
    let mut roots: Vec<PathBuf> = manager.v1_mounts().into_iter().map(|(_, m)| m).collect();
    roots.extend(manager.unified_mount().map(Path::to_path_buf));
    assert!(!roots.is_empty(), "no cgroup hierarchy mounted");
    roots
}

/// Serialises the tests of one binary that count process-wide things (fds, children).
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Records what the hooks saw, and in which order.
#[derive(Default)]
pub struct Recorder {
    pub started: Mutex<Vec<(String, i32)>>,
    pub exited: Mutex<Vec<(String, ExitStatus)>>,
    pub ooms: Mutex<Vec<String>>,
    /// "start", "oom" and "exit", in the order they came.
    pub log: Mutex<Vec<&'static str>>,
}

impl Hooks for Recorder {
    fn on_start(&self, id: &str, pid: i32) {
        self.started.lock().unwrap().push((id.to_string(), pid));
        self.log.lock().unwrap().push("start");
    }
    fn on_exit(&self, id: &str, status: &ExitStatus) {
        self.exited.lock().unwrap().push((id.to_string(), *status));
        self.log.lock().unwrap().push("exit");
    }
    fn on_oom(&self, id: &str) {
        self.ooms.lock().unwrap().push(id.to_string());
        self.log.lock().unwrap().push("oom");
    }
}

/// Keeps every terminal master it is given open for the life of the process: a host that
/// dies closes them all at once (the recovery tests' hosts).
pub struct KeepMasters;

impl Hooks for KeepMasters {
    fn on_console(&self, _id: &str, _master: i32) {
        // Never closed: the fd is this process's until it dies.
    }
}

/// Creates and starts `command` with stdout on a pipe; returns the read end.
pub fn start_with_stdout(
    driver: &(impl AsDriver + ?Sized),
    command: &Command,
    hooks: Arc<dyn Hooks>,
) -> std::io::BufReader<fs::File> {
    let (read, write) = pipe();
    let stdio = Stdio {
        stdin: None,
        stdout: Some(write.as_raw_fd()),
        stderr: None,
        extra: Vec::new(),
    };
    let driver = driver.as_driver();
    driver.create(command, &stdio, hooks).expect("create");
    driver.start(&command.id).expect("start");
    std::io::BufReader::new(fs::File::from(read))
}

/// Reads one line (without its newline).
pub fn read_line(reader: &mut std::io::BufReader<fs::File>) -> String {
    use std::io::BufRead;
    let mut line = String::new();
    reader.read_line(&mut line).expect("read a line");
    line.trim_end().to_string()
}

/// A loop device of the host over a 1 MiB file: a block device the host can read, for tests
/// of the device cgroup (this machine's own disk cannot be opened, even by root). Detached
/// when dropped.
pub struct LoopDevice {
    pub path: String,
    pub major: u32,
    pub minor: u32,
    backing: PathBuf,
}

impl LoopDevice {
    pub fn new() -> LoopDevice {
        use std::os::unix::fs::MetadataExt;
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let backing = std::env::temp_dir().join(format!(
            "berth-loop-{}-{}.img",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::Relaxed)
        ));
        fs::write(&backing, vec![b'B'; 1 << 20]).unwrap();
        let out = std::process::Command::new("losetup")
            .args(["--find", "--show"])
            .arg(&backing)
            .output()
            .expect("run losetup");
        assert!(out.status.success(), "losetup: {out:?}");
        let path = String::from_utf8(out.stdout).unwrap().trim().to_string();
        let rdev = fs::metadata(&path).unwrap().rdev();
        // The point of the device: the host can read it.
        assert_eq!(
            fs::read(&path).unwrap().len(),
            1 << 20,
            "the host reads {path}"
        );
        LoopDevice {
            major: libc::major(rdev),
            minor: libc::minor(rdev),
            path,
            backing,
        }
    }
}

impl Drop for LoopDevice {
    fn drop(&mut self) {
        let _ = std::process::Command::new("losetup")
            .args(["--detach", &self.path])
            .status();
        let _ = fs::remove_file(&self.backing);
    }
}
