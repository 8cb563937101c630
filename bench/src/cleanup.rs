//! Removes everything a benchmark run may leave: runc's, crun's and the berth CLI's containers and state
//! roots, berth's state roots (native and LXC), the bare LXC containers' directories, the
//! bundles, and every cgroup under the benchmark's parents in
//! every hierarchy (processes still in them are killed first). Run before and after every
//! benchmark, and by `berth-bench cleanup` (scripts/bench.sh calls it on exit, even after a
//! failure).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::lxc::{BARE_CGROUP_PARENT, BARE_ROOT, LXC_CGROUP_PARENT, LXC_ROOT};
use crate::runners::{Env, Oci, BERTH_ROOT, CGROUP_PARENT, OCI_CGROUP_PARENT, WORK};

/// Cleans up; returns what it could not remove.
pub fn cleanup(env: &Env) -> Vec<String> {
    let mut left = Vec::new();
    for oci in [Oci::Crun, Oci::Runc, Oci::Berth] {
        let root = PathBuf::from(oci.root());
        if let Ok(entries) = std::fs::read_dir(&root) {
            for entry in entries.flatten() {
                let id = entry.file_name().to_string_lossy().into_owned();
                env.oci_delete(oci, &id, None);
            }
        }
        remove_tree(&root, &mut left);
    }
    // Killing what runs in the LXC parents ends the LXC containers and their monitors
    // (`lxc-execute` runs in a cgroup of its own beside its container's).
    for parent in [
        CGROUP_PARENT,
        OCI_CGROUP_PARENT,
        LXC_CGROUP_PARENT,
        BARE_CGROUP_PARENT,
    ] {
        for hierarchy in cgroup_mounts() {
            let dir = hierarchy.join(parent);
            if dir.is_dir() {
                kill_and_remove(&dir, &mut left);
            }
        }
    }
    for root in [BERTH_ROOT, LXC_ROOT, BARE_ROOT] {
        remove_tree(Path::new(root), &mut left);
    }
    remove_tree(Path::new(WORK), &mut left);
    left
}

fn remove_tree(path: &Path, left: &mut Vec<String>) {
    if path.exists() {
        if let Err(e) = std::fs::remove_dir_all(path) {
            left.push(format!("{}: {e}", path.display()));
        }
    }
}

/// Every mounted cgroup hierarchy (v1, named v1, and cgroup2).
pub fn cgroup_mounts() -> Vec<PathBuf> {
    std::fs::read_to_string("/proc/self/mounts")
        .unwrap_or_default()
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            (fields.len() > 2 && (fields[2] == "cgroup" || fields[2] == "cgroup2"))
                .then(|| PathBuf::from(fields[1]))
        })
        .collect()
}

/// Kills what runs in `dir` and below, then removes the directories, deepest first.
fn kill_and_remove(dir: &Path, left: &mut Vec<String>) {
    let mut dirs = Vec::new();
    collect_dirs(dir, &mut dirs);
    let deadline = Instant::now() + Duration::from_secs(5);
    for d in dirs.iter().rev() {
        loop {
            for pid in procs(d) {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
            match std::fs::remove_dir(d) {
                Ok(()) => break,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
                Err(e) => {
                    if Instant::now() >= deadline {
                        left.push(format!("{}: {e}", d.display()));
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }
    }
}

fn collect_dirs(dir: &Path, out: &mut Vec<PathBuf>) {
    out.push(dir.to_path_buf());
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                collect_dirs(&entry.path(), out);
            }
        }
    }
}

fn procs(dir: &Path) -> Vec<i32> {
    std::fs::read_to_string(dir.join("cgroup.procs"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}
