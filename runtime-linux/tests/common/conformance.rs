//! What the two conformance fixtures of the native driver share (the Rust API one in
//! `runtime-linux/tests/conformance.rs` and the C ABI one in `runtime-ffi/tests/conformance.rs`,
//! which includes this file by path): the fixture itself over either driver, the busybox
//! programs of each behaviour, pipes as fds, and the count of what a container could leave
//! behind on this host.
#![allow(dead_code)]

use std::collections::HashMap;
use std::fs;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use berth_conformance::{Fixture, Program, Residue};
use runtime_core::{Driver, ProcessConfig};

/// The native driver's fixture: `driver` (a `LinuxDriver`, or the C ABI over one) with its
/// state under `root` and its cgroups under `cgroup_parent`, running busybox programs.
pub struct Busybox<D> {
    pub name: &'static str,
    pub driver: D,
    /// How to see `driver` as the `Driver` under test.
    pub as_driver: fn(&D) -> &dyn Driver,
    pub rootfs: String,
    pub root: PathBuf,
    pub cgroup_parent: String,
    pub fds: Fds,
    /// A driver over LXC, whose exit codes above 128 read as signals.
    pub lxc: bool,
}

impl<D: Send + Sync + 'static> Fixture for Busybox<D> {
    fn name(&self) -> String {
        self.name.into()
    }
    fn driver(&self) -> &dyn Driver {
        (self.as_driver)(&self.driver)
    }
    fn rootfs(&self) -> String {
        self.rootfs.clone()
    }
    fn work_dir(&self) -> String {
        WORK_DIR.into()
    }
    fn process(&self, program: &Program) -> ProcessConfig {
        process(program)
    }
    fn pipe(&self) -> std::io::Result<(RawFd, RawFd)> {
        self.fds.pipe()
    }
    fn reader(&self, fd: RawFd) -> Box<dyn Read + Send> {
        self.fds.reader(fd)
    }
    fn writer(&self, fd: RawFd) -> Box<dyn Write + Send> {
        self.fds.writer(fd)
    }
    fn close(&self, fd: RawFd) {
        self.fds.close(fd)
    }
    fn residue(&self) -> Residue {
        residue(&self.root, &self.cgroup_parent)
    }
    fn exit_codes_above_128_are_signals(&self) -> bool {
        self.lxc
    }
}

/// A directory of the busybox image other than its root.
pub const WORK_DIR: &str = "/tmp";

/// Quotes `text` for `sh` inside single quotes.
fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

/// The busybox process that shows `program`.
pub fn process(program: &Program) -> ProcessConfig {
    let sh = |script: String| ProcessConfig::new(["/bin/sh".to_string(), "-c".into(), script]);
    match program {
        Program::Exit(code) => sh(format!("exit {code}")),
        Program::Print { stdout, stderr } => sh(format!(
            "printf '%s' {}; printf '%s' {} >&2",
            quote(stdout),
            quote(stderr)
        )),
        Program::Cat => ProcessConfig::new(["/bin/cat"]),
        Program::PrintEnv(name) => sh(format!("printf '%s\\n' \"${name}\"")),
        Program::PrintCwd => sh("pwd".into()),
        Program::PrintIds => sh("id -u; id -g; id -G".into()),
        Program::PrintHostname => ProcessConfig::new(["/bin/hostname"]),
        Program::IsTerminal => sh("test -t 0 && test -t 1".into()),
        Program::Sleep => ProcessConfig::new(["/bin/sleep", "1000"]),
        // The handler runs between two short sleeps.
        Program::ExitOnSignal { signal, code } => sh(format!(
            "trap 'exit {code}' {signal}; echo ready; while :; do sleep 0.05; done"
        )),
        // The child is forked before the trap, so it keeps the default action.
        Program::ParentIgnoring { signal } => sh(format!(
            "sleep 1000 & trap '' {signal}; echo ready; wait $!; exit $?"
        )),
        Program::Counter => sh("i=0; while :; do i=$((i+1)); echo $i; sleep 0.01; done".into()),
        // Builtins only: the shell is the one process that grows, so it is the one killed.
        Program::Hog => sh("a=x; while :; do a=$a$a; done".into()),
        Program::Missing => ProcessConfig::new(["/no/such/program"]),
    }
}

/// The fds the suite owns, by number.
#[derive(Default)]
pub struct Fds(Mutex<HashMap<RawFd, OwnedFd>>);

impl Fds {
    pub fn pipe(&self) -> std::io::Result<(RawFd, RawFd)> {
        let (read, write) = std::io::pipe()?;
        let ends = (OwnedFd::from(read), OwnedFd::from(write));
        let numbers = (ends.0.as_raw_fd(), ends.1.as_raw_fd());
        let mut fds = self.0.lock().unwrap_or_else(|e| e.into_inner());
        fds.insert(numbers.0, ends.0);
        fds.insert(numbers.1, ends.1);
        Ok(numbers)
    }

    /// Takes `fd` over: one of ours, or one the driver handed over (a terminal master).
    // `Hooks::on_console` hands the master over as a number (see "Where unsafe code lives").
    #[allow(unsafe_code)]
    pub fn take(&self, fd: RawFd) -> OwnedFd {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&fd)
            .unwrap_or_else(|| {
                // SAFETY: the suite gives back only fds it owns: ours, or a terminal master the
                // driver handed to its hooks (which the callee owns).
                unsafe { OwnedFd::from_raw_fd(fd) }
            })
    }

    pub fn reader(&self, fd: RawFd) -> Box<dyn Read + Send> {
        Box::new(fs::File::from(self.take(fd)))
    }

    pub fn writer(&self, fd: RawFd) -> Box<dyn Write + Send> {
        Box::new(fs::File::from(self.take(fd)))
    }

    pub fn close(&self, fd: RawFd) {
        drop(self.take(fd));
    }
}

/// The root of every cgroup hierarchy of this host: berth's, and the named ones (such as
/// `name=systemd`) that LXC uses too.
pub fn cgroup_roots() -> Vec<PathBuf> {
    let manager = runtime_linux::cgroups::CgroupManager::detect().expect("detect cgroups");
    let mut roots: Vec<PathBuf> = manager.v1_mounts().into_iter().map(|(_, m)| m).collect();
    roots.extend(manager.unified_mount().map(Path::to_path_buf));
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    for line in mountinfo.lines() {
        let Some((before, after)) = line.split_once(" - ") else {
            continue;
        };
        let cgroup = matches!(after.split_whitespace().next(), Some("cgroup" | "cgroup2"));
        if let Some(mount) = before.split_whitespace().nth(4).filter(|_| cgroup) {
            let mount = PathBuf::from(mount);
            if !roots.contains(&mount) {
                roots.push(mount);
            }
        }
    }
    roots
}

fn entries(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// What a container of a driver with state under `root` and cgroups under `cgroup_parent`
/// could leave behind: its cgroups, state entries, this process's children, fds and mounts.
pub fn residue(root: &Path, cgroup_parent: &str) -> Residue {
    let mut residue = Residue::default();
    let mut cgroups = Vec::new();
    for hierarchy in cgroup_roots() {
        let dir = hierarchy.join(cgroup_parent);
        for entry in fs::read_dir(&dir).into_iter().flatten().flatten() {
            if entry.path().is_dir() {
                cgroups.push(entry.path().display().to_string());
            }
        }
    }
    residue.add("cgroups", cgroups);
    residue.add("state entries", entries(root));
    let mut children = Vec::new();
    for task in fs::read_dir("/proc/self/task")
        .into_iter()
        .flatten()
        .flatten()
    {
        if let Ok(text) = fs::read_to_string(task.path().join("children")) {
            children.extend(text.split_whitespace().map(str::to_string));
        }
    }
    residue.add("child processes", children);
    residue.add("fds", entries(Path::new("/proc/self/fd")));
    let mounts = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    residue.add("mounts", mounts.lines().map(str::to_string));
    residue
}

/// What is left of a driver's state root and cgroup parent once it is gone: empty when it
/// cleaned up.
pub fn left_after_driver(root: &Path, cgroup_parent: &str) -> Vec<String> {
    let mut left = Vec::new();
    if root.exists() {
        left.push(format!("{} ({:?})", root.display(), entries(root)));
    }
    for hierarchy in cgroup_roots() {
        let dir = hierarchy.join(cgroup_parent);
        if dir.exists() {
            left.push(dir.display().to_string());
        }
    }
    left
}
