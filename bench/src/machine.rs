//! Facts about the machine a run was made on.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::util::output_of;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Machine {
    pub date: String,
    pub kernel: String,
    pub os: String,
    pub cpu: String,
    pub cores: usize,
    pub memory_gib: f64,
    /// As berth detects it, with the hierarchies.
    pub cgroups: String,
    pub runc: String,
    pub crun: String,
    pub util_linux: String,
    pub busybox: String,
    pub perf: String,
    /// The filesystem /run is on (the runtimes' state directories).
    pub run_fs: String,
    pub berth_commit: String,
    pub rustc: String,
    pub load_before: String,
}

impl Machine {
    pub fn read(rootfs: &Path) -> Machine {
        let first_line = |text: Option<String>| {
            text.and_then(|t| t.lines().next().map(str::to_string))
                .unwrap_or_else(|| "not found".into())
        };
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let mem_kib: f64 = meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0.0);
        let cgroups = match runtime_linux::cgroups::CgroupManager::detect() {
            Ok(m) => {
                let v1: Vec<String> = m.v1_mounts().into_iter().map(|(c, _)| c).collect();
                format!(
                    "{:?}: v1 {} ; cgroup2 at {}",
                    m.mode(),
                    if v1.is_empty() {
                        "none".into()
                    } else {
                        v1.join(" ")
                    },
                    m.unified_mount()
                        .map_or("none".into(), |p| p.display().to_string())
                )
            }
            Err(e) => format!("unknown ({e})"),
        };
        let top = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let top_s = top.to_string_lossy();
        let commit = output_of("git", &["-C", &top_s, "rev-parse", "--short", "HEAD"])
            .map(|c| {
                let dirty = output_of(
                    "git",
                    &[
                        "-C",
                        &top_s,
                        "status",
                        "--porcelain",
                        "--untracked-files=no",
                    ],
                )
                .is_some_and(|s| !s.is_empty());
                if dirty {
                    format!("{c} (with uncommitted changes)")
                } else {
                    c
                }
            })
            .unwrap_or_else(|| "unknown".into());
        Machine {
            date: output_of("date", &["-u", "+%Y-%m-%d %H:%M UTC"]).unwrap_or_default(),
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .unwrap_or_default()
                .trim()
                .to_string(),
            os: std::fs::read_to_string("/etc/os-release")
                .unwrap_or_default()
                .lines()
                .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                .unwrap_or("unknown")
                .trim_matches('"')
                .to_string(),
            cpu: cpuinfo
                .lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
                .unwrap_or_else(|| "unknown".into()),
            cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
            memory_gib: mem_kib / 1024.0 / 1024.0,
            cgroups,
            runc: first_line(output_of("runc", &["--version"])),
            crun: first_line(output_of("crun", &["--version"])),
            util_linux: first_line(output_of("unshare", &["--version"])),
            busybox: std::fs::read_to_string(rootfs.join(".berth-rootfs"))
                .map(|v| format!("busybox-static {}", v.trim()))
                .unwrap_or_else(|_| "unknown".into()),
            perf: first_line(output_of("perf", &["--version"])),
            run_fs: first_line(output_of("findmnt", &["-n", "-o", "FSTYPE", "-T", "/run"])),
            berth_commit: commit,
            rustc: first_line(output_of("rustc", &["--version"])),
            load_before: load_average(),
        }
    }
}

/// The 1, 5 and 15 minute load averages.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}
