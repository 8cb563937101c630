//! What the Windows driver's tests share: a driver over the fake HCS on a state root of its
//! own, the fake's programs, pipes, and the count of what a container could leave behind.

#![allow(dead_code)] // each test binary uses a part

use std::collections::HashMap;
use std::fs;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;

use berth_conformance::Residue;
use runtime_core::{Command, ProcessConfig, WindowsConfig};
use runtime_windows::fake::{FakeHcs, PROGRAM};
use runtime_windows::platform::Timeouts;
use runtime_windows::{HcsDriver, WindowsOptions};

/// Timeouts short enough for tests of what happens when they pass.
pub const TEST_TIMEOUTS: Timeouts = Timeouts {
    operation_ms: 2_000,
    shutdown_ms: 300,
    exit_grace_ms: 300,
};

/// A state root no other test uses.
pub fn fresh_root(name: &str) -> PathBuf {
    static SERIAL: AtomicU32 = AtomicU32::new(0);
    let serial = SERIAL.fetch_add(1, Ordering::AcqRel);
    std::env::temp_dir().join(format!(
        "berth-windows-{name}-{}-{serial}",
        std::process::id()
    ))
}

/// A driver over `hcs` with its state under `root`.
pub fn driver_on(hcs: &FakeHcs, root: &std::path::Path) -> HcsDriver<FakeHcs> {
    HcsDriver::with_hcs(
        hcs.clone(),
        WindowsOptions {
            root: root.to_path_buf(),
            keep_containers: false,
            timeouts: TEST_TIMEOUTS,
        },
    )
    .expect("HcsDriver::with_hcs")
}

/// The fake's program with these arguments.
pub fn program<S: Into<String>>(args: impl IntoIterator<Item = S>) -> ProcessConfig {
    let mut all = vec![PROGRAM.to_string()];
    all.extend(args.into_iter().map(Into::into));
    ProcessConfig::new(all)
}

/// The rootfs (the sandbox volume) every test container names.
pub const ROOTFS: &str = "/fake/volume";

/// A command for the fake: `process`, the image's two layers and a scratch folder.
pub fn command(id: &str, process: ProcessConfig) -> Command {
    let mut command = Command::new(id, ROOTFS, process);
    with_layers(&mut command);
    command
}

/// Adds the `windows` section: a base layer, a layer on it, and the container's scratch.
pub fn with_layers(command: &mut Command) {
    command.windows = Some(WindowsConfig {
        layer_folders: vec![
            "/layers/app".into(),
            "/layers/base".into(),
            format!("/layers/scratch-{}", command.id),
        ],
        ..WindowsConfig::default()
    });
}

/// The pipes a test owns, by fd.
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

    /// Takes one of ours back. The Windows driver hands no fd over (it has no console
    /// master), so any other number is a bug.
    pub fn take(&self, fd: RawFd) -> OwnedFd {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&fd)
            .unwrap_or_else(|| panic!("fd {fd} is not one of the test's"))
    }

    pub fn reader(&self, fd: RawFd) -> Box<dyn Read + Send> {
        Box::new(fs::File::from(self.take(fd)))
    }

    pub fn writer(&self, fd: RawFd) -> Box<dyn Write + Send> {
        Box::new(fs::File::from(self.take(fd)))
    }
}

fn entries(dir: &std::path::Path) -> Vec<String> {
    fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// What a container of the driver on `root` over `hcs` could leave behind: state entries,
/// open HCS handles and compute systems still running. The tests of one binary run side by
/// side, so this is what is the driver's alone; [`process_residue`] adds the process's.
pub fn residue(hcs: &FakeHcs, root: &std::path::Path) -> Residue {
    let mut residue = Residue::default();
    residue.add("state entries", entries(root));
    residue.add("HCS handles", hcs.open_handles());
    residue.add("compute systems", hcs.live_systems());
    residue
}

/// [`residue`], and the driver's threads and the process's fds: for a test that runs alone
/// (the conformance suite runs its residue cases alone).
pub fn process_residue(hcs: &FakeHcs, root: &std::path::Path) -> Residue {
    let mut residue = residue(hcs, root);
    let threads = entries(std::path::Path::new("/proc/self/task"))
        .into_iter()
        .filter_map(|task| fs::read_to_string(format!("/proc/self/task/{task}/comm")).ok())
        .map(|name| name.trim().to_string())
        .filter(|name| name.starts_with("berth-hcs"))
        .enumerate()
        .map(|(i, name)| format!("{name} #{i}"));
    residue.add("threads", threads);
    residue.add("fds", entries(std::path::Path::new("/proc/self/fd")));
    residue
}
