//! The cgroup manager against this host's real kernel. Needs root and a writable cgroupfs;
//! skips (with a note) otherwise. Every test works under its own parent
//! `berth-test-cg-<pid>-<name>` and removes it, even when it fails.

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use runtime_core::{ErrorKind, Resources};
use runtime_linux::cgroups::{CgroupManager, CgroupMode};

/// Kills the test's processes and removes its parent from every hierarchy on drop.
struct Guard {
    roots: Vec<PathBuf>,
    parent: String,
    children: Vec<Child>,
}

impl Guard {
    fn new(manager: &CgroupManager, name: &str) -> Guard {
        let mut roots: Vec<PathBuf> = manager.v1_mounts().into_iter().map(|(_, m)| m).collect();
        roots.extend(manager.unified_mount().map(Path::to_path_buf));
        Guard {
            roots,
            parent: format!("berth-test-cg-{}-{name}", std::process::id()),
            children: Vec::new(),
        }
    }

    fn sleeper(&mut self) -> i32 {
        let child = Command::new("sleep")
            .arg("100")
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn sleep");
        let pid = child.id() as i32;
        self.children.push(child);
        pid
    }

    /// Waits for the child `pid` and returns the signal that ended it.
    fn reap(&mut self, pid: i32) -> Option<i32> {
        let at = self
            .children
            .iter()
            .position(|c| c.id() as i32 == pid)
            .expect("a child of this test");
        let mut child = self.children.remove(at);
        child.wait().expect("wait").signal()
    }

    /// The parent's directory in every hierarchy.
    fn parent_dirs(&self) -> Vec<PathBuf> {
        self.roots.iter().map(|r| r.join(&self.parent)).collect()
    }
}

fn remove_tree(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                remove_tree(&entry.path());
            }
        }
    }
    let _ = std::fs::remove_dir(dir);
}

impl Drop for Guard {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        for dir in self.parent_dirs() {
            remove_tree(&dir);
        }
    }
}

/// The host's manager, or `None` (test skipped) where cgroups cannot be managed here.
fn manager() -> Option<CgroupManager> {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("skipped: cgroup host tests need root");
        return None;
    }
    match CgroupManager::detect() {
        Ok(manager) => Some(manager),
        Err(err) => {
            eprintln!("skipped: {err}");
            None
        }
    }
}

fn read(path: impl AsRef<Path>) -> String {
    let path = path.as_ref();
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
        .trim()
        .to_string()
}

fn join(files: &[PathBuf], pid: i32) {
    for file in files {
        std::fs::write(file, pid.to_string())
            .unwrap_or_else(|e| panic!("write {pid} to {}: {e}", file.display()));
    }
}

#[test]
fn limits_processes_freeze_kill_and_destroy() {
    let Some(manager) = manager() else { return };
    let mut guard = Guard::new(&manager, "main");
    let mut resources = Resources {
        memory_limit: Some(64 << 20),
        memory_reservation: Some(32 << 20),
        memory_swap: Some(128 << 20),
        cpu_shares: Some(512),
        cpu_quota: Some(50_000),
        cpu_period: Some(100_000),
        pids_limit: Some(32),
        ..Default::default()
    };
    if manager.check(&resources).is_err() {
        // Swap accounting is a boot option; everything else is on any kernel berth supports.
        resources.memory_swap = None;
    }
    manager.check(&resources).unwrap();
    let cg = manager.create(&guard.parent, "c1", &resources).unwrap();
    assert_eq!(cg.relative_path(), format!("{}/c1", guard.parent));
    for dir in cg.dirs() {
        assert!(dir.is_dir(), "{} exists", dir.display());
    }

    // The kernel took the values.
    let dir_with = |file: &str| {
        cg.dirs()
            .into_iter()
            .find(|d| d.join(file).exists())
            .unwrap_or_else(|| panic!("no hierarchy has {file}"))
            .join(file)
    };
    if manager.mode() == CgroupMode::Unified {
        assert_eq!(read(dir_with("memory.max")), "67108864");
        assert_eq!(read(dir_with("memory.low")), "33554432");
        assert_eq!(read(dir_with("pids.max")), "32");
        assert_eq!(read(dir_with("cpu.weight")), "20");
        assert_eq!(read(dir_with("cpu.max")), "50000 100000");
        if resources.memory_swap.is_some() {
            assert_eq!(read(dir_with("memory.swap.max")), "67108864");
        }
    } else {
        assert_eq!(read(dir_with("memory.limit_in_bytes")), "67108864");
        assert_eq!(read(dir_with("memory.soft_limit_in_bytes")), "33554432");
        assert_eq!(read(dir_with("pids.max")), "32");
        assert_eq!(read(dir_with("cpu.shares")), "512");
        assert_eq!(read(dir_with("cpu.cfs_quota_us")), "50000");
        assert_eq!(read(dir_with("cpu.cfs_period_us")), "100000");
        if resources.memory_swap.is_some() {
            assert_eq!(read(dir_with("memory.memsw.limit_in_bytes")), "134217728");
        }
        // The cpuset was copied down, or no process could join.
        assert!(!read(dir_with("cpuset.cpus")).is_empty());
        assert!(!read(dir_with("cpuset.mems")).is_empty());
    }

    // A process joins through procs_files.
    let pid = guard.sleeper();
    join(&cg.procs_files(), pid);
    assert_eq!(cg.pids().unwrap(), vec![pid]);
    let stats = cg.stats().unwrap();
    assert_eq!(stats.pids.current, Some(1));
    assert_eq!(stats.pids.limit, Some(32));
    assert_eq!(stats.memory.limit, Some(64 << 20));
    assert!(stats.memory.usage.is_some());
    assert!(stats.cpu.total_ns.is_some());
    assert_eq!(cg.oom_kill_count().unwrap(), 0);
    assert!(cg.oom_watch_path().unwrap().exists());

    // Freeze for real; the kernel's own state file says so.
    cg.freeze().unwrap();
    assert!(cg.is_frozen().unwrap());
    if manager.mode() != CgroupMode::Unified {
        assert_eq!(read(dir_with("freezer.state")), "FROZEN");
    }
    cg.thaw().unwrap();
    assert!(!cg.is_frozen().unwrap());

    // Signals other than SIGKILL go to each process.
    cg.kill_all(libc::SIGTERM).unwrap();
    assert_eq!(guard.reap(pid), Some(libc::SIGTERM));
    assert!(!cg.is_frozen().unwrap(), "kill_all thawed what it froze");

    let pid = guard.sleeper();
    join(&cg.procs_files(), pid);
    cg.kill_all(libc::SIGKILL).unwrap();
    assert_eq!(guard.reap(pid), Some(libc::SIGKILL));

    // destroy kills what is left and removes every directory.
    let pid = guard.sleeper();
    join(&cg.procs_files(), pid);
    cg.destroy().unwrap();
    assert_eq!(guard.reap(pid), Some(libc::SIGKILL));
    for dir in cg.dirs() {
        assert!(!dir.exists(), "{} removed", dir.display());
    }
    cg.destroy().unwrap();

    // The parent stays for other containers until removed explicitly.
    assert!(guard.parent_dirs().iter().all(|d| d.is_dir()));
    manager.remove_parent_if_empty(&guard.parent).unwrap();
    for dir in guard.parent_dirs() {
        assert!(!dir.exists(), "{} removed", dir.display());
    }
}

#[test]
fn destroy_removes_a_frozen_cgroup_with_children() {
    let Some(manager) = manager() else { return };
    let mut guard = Guard::new(&manager, "frozen");
    let cg = manager
        .create(
            &format!("{}/nested", guard.parent),
            "c1",
            &Resources::default(),
        )
        .unwrap();
    let pid = guard.sleeper();
    join(&cg.procs_files(), pid);
    // A child cgroup the container made itself.
    for dir in cg.dirs() {
        std::fs::create_dir(dir.join("inner")).unwrap();
    }
    cg.freeze().unwrap();
    cg.destroy().unwrap();
    assert_eq!(guard.reap(pid), Some(libc::SIGKILL));
    assert!(cg.dirs().iter().all(|d| !d.exists()));
    manager
        .remove_parent_if_empty(&format!("{}/nested", guard.parent))
        .unwrap();
    assert!(guard.parent_dirs().iter().all(|d| !d.exists()));
}

#[test]
fn check_rejects_cpus_this_host_lacks_and_creates_nothing() {
    let Some(manager) = manager() else { return };
    let guard = Guard::new(&manager, "check");
    let online = read("/sys/devices/system/cpu/online");
    let last: u32 = online.rsplit(['-', ',']).next().unwrap().parse().unwrap();
    let absent = (last + 1).max(7).to_string();
    let resources = Resources {
        cpuset_cpus: Some(absent.clone()),
        ..Default::default()
    };
    let err = manager.check(&resources).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert_eq!(
        err.to_string(),
        format!("invalid resources.cpuset_cpus: {absent}: this host has CPUs {online}")
    );
    assert!(guard.parent_dirs().iter().all(|d| !d.exists()));

    // Straight to create, the kernel refuses it, and nothing is left behind.
    let err = manager.create(&guard.parent, "c1", &resources).unwrap_err();
    let message = err.to_string();
    assert!(
        message.starts_with(&format!("write {absent} to ")) && message.contains("cpuset.cpus"),
        "{message}"
    );
    assert!(guard.parent_dirs().iter().all(|d| !d.exists()));
}

/// The cgroup2 side for real: on this hybrid host, a manager that sees only the unified
/// mount; on a pure v2 host, the detected one.
#[test]
fn unified_hierarchy_freeze_and_kill() {
    let Some(host) = manager() else { return };
    let Some(root) = host.unified_mount() else {
        eprintln!("skipped: no cgroup2 mount");
        return;
    };
    let manager = CgroupManager::from_mountinfo(&format!(
        "41 31 0:38 / {} rw,relatime - cgroup2 cgroup2 rw\n",
        root.display()
    ))
    .unwrap();
    assert_eq!(manager.mode(), CgroupMode::Unified);
    let mut guard = Guard::new(&manager, "unified");
    let cg = manager
        .create(&guard.parent, "c1", &Resources::default())
        .unwrap();
    assert_eq!(
        cg.procs_files(),
        vec![root.join(&guard.parent).join("c1/cgroup.procs")]
    );

    let pid = guard.sleeper();
    join(&cg.procs_files(), pid);
    assert_eq!(cg.pids().unwrap(), vec![pid]);
    cg.freeze().unwrap();
    let dir = cg.dirs().remove(0);
    assert_eq!(read(dir.join("cgroup.freeze")), "1");
    assert!(read(dir.join("cgroup.events")).contains("frozen 1"));
    cg.thaw().unwrap();
    assert!(read(dir.join("cgroup.events")).contains("frozen 0"));

    // SIGKILL through cgroup.kill, of the whole subtree.
    std::fs::create_dir(dir.join("inner")).unwrap();
    let inner = guard.sleeper();
    std::fs::write(dir.join("inner/cgroup.procs"), inner.to_string()).unwrap();
    let mut pids = cg.pids().unwrap();
    pids.sort();
    let mut expected = vec![pid, inner];
    expected.sort();
    assert_eq!(pids, expected);
    cg.kill_all(libc::SIGKILL).unwrap();
    assert_eq!(guard.reap(pid), Some(libc::SIGKILL));
    assert_eq!(guard.reap(inner), Some(libc::SIGKILL));

    // Other signals: freeze, signal each, thaw.
    let pid = guard.sleeper();
    join(&cg.procs_files(), pid);
    cg.kill_all(libc::SIGTERM).unwrap();
    assert_eq!(guard.reap(pid), Some(libc::SIGTERM));
    assert!(read(dir.join("cgroup.events")).contains("frozen 0"));

    cg.destroy().unwrap();
    assert!(!dir.exists());
    manager.remove_parent_if_empty(&guard.parent).unwrap();
    assert!(guard.parent_dirs().iter().all(|d| !d.exists()));
}
