//! A simulated cgroupfs for unit tests: enough of the kernel's rules (which files a new
//! cgroup gets, subtree_control delegation, the v1 cpuset subset rule, busy rmdir) to test
//! create, rollback, freeze and kill without a host of the right layout.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use runtime_core::validate::parse_id_list;

use super::fs::{Backend, CgFs};
use super::CgroupManager;

#[derive(Debug, Clone)]
enum Kind {
    V1(Vec<&'static str>),
    V2,
}

#[derive(Debug, Default)]
struct State {
    dirs: BTreeSet<PathBuf>,
    files: BTreeMap<PathBuf, String>,
    mounts: Vec<(PathBuf, Kind)>,
    /// File names a new cgroup does not get (a kernel feature turned off).
    omit: BTreeSet<String>,
    failures: Vec<(PathBuf, i32)>,
    /// Like `failures`, for the next write only.
    failures_once: Vec<(PathBuf, i32)>,
    /// Files whose writes are taken but change nothing (a freeze that never completes).
    sticky: BTreeSet<PathBuf>,
    log: Vec<String>,
}

#[derive(Debug, Default)]
pub(crate) struct Fake {
    state: Mutex<State>,
}

fn err(errno: i32) -> io::Error {
    io::Error::from_raw_os_error(errno)
}

const UNLIMITED: &str = "9223372036854771712\n";

fn v1_files(controller: &str) -> &'static [(&'static str, &'static str)] {
    match controller {
        "memory" => &[
            ("memory.limit_in_bytes", UNLIMITED),
            ("memory.soft_limit_in_bytes", UNLIMITED),
            ("memory.memsw.limit_in_bytes", UNLIMITED),
            ("memory.usage_in_bytes", "0\n"),
            ("memory.memsw.usage_in_bytes", "0\n"),
            ("memory.swappiness", "60\n"),
            ("memory.max_usage_in_bytes", "0\n"),
            ("memory.stat", "cache 0\nrss 0\n"),
            (
                "memory.oom_control",
                "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n",
            ),
        ],
        "cpu" => &[
            ("cpu.shares", "1024\n"),
            ("cpu.cfs_period_us", "100000\n"),
            ("cpu.cfs_quota_us", "-1\n"),
            ("cpu.cfs_burst_us", "0\n"),
            ("cpu.rt_period_us", "1000000\n"),
            ("cpu.rt_runtime_us", "0\n"),
            ("cpu.idle", "0\n"),
            (
                "cpu.stat",
                "nr_periods 0\nnr_throttled 0\nthrottled_time 0\n",
            ),
        ],
        "cpuacct" => &[
            ("cpuacct.usage", "0\n"),
            ("cpuacct.usage_user", "0\n"),
            ("cpuacct.usage_sys", "0\n"),
        ],
        "cpuset" => &[("cpuset.cpus", "\n"), ("cpuset.mems", "\n")],
        "pids" => &[("pids.max", "max\n"), ("pids.current", "0\n")],
        "blkio" => &[
            ("blkio.bfq.weight", "100\n"),
            ("blkio.bfq.weight_device", ""),
            ("blkio.throttle.io_service_bytes", "Total 0\n"),
            ("blkio.throttle.read_bps_device", ""),
            ("blkio.throttle.write_bps_device", ""),
            ("blkio.throttle.read_iops_device", ""),
            ("blkio.throttle.write_iops_device", ""),
        ],
        "hugetlb" => &[
            ("hugetlb.2MB.limit_in_bytes", UNLIMITED),
            ("hugetlb.1GB.limit_in_bytes", UNLIMITED),
        ],
        "net_cls" => &[("net_cls.classid", "0\n")],
        "net_prio" => &[("net_prio.ifpriomap", "lo 0\n")],
        "devices" => &[("devices.list", "a *:* rwm\n")],
        "freezer" => &[("freezer.state", "THAWED\n")],
        _ => &[],
    }
}

fn v2_files(controller: &str) -> &'static [(&'static str, &'static str)] {
    match controller {
        "memory" => &[
            ("memory.max", "max\n"),
            ("memory.low", "0\n"),
            ("memory.swap.max", "max\n"),
            ("memory.current", "0\n"),
            ("memory.swap.current", "0\n"),
            ("memory.high", "max\n"),
            ("memory.peak", "0\n"),
            ("memory.stat", "anon 0\nfile 0\n"),
            (
                "memory.events",
                "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n",
            ),
        ],
        "cpu" => &[
            ("cpu.weight", "100\n"),
            ("cpu.max", "max 100000\n"),
            ("cpu.max.burst", "0\n"),
            ("cpu.idle", "0\n"),
        ],
        "cpuset" => &[("cpuset.cpus", "\n"), ("cpuset.mems", "\n")],
        "pids" => &[("pids.max", "max\n"), ("pids.current", "0\n")],
        "io" => &[
            ("io.stat", ""),
            ("io.weight", "default 100\n"),
            ("io.max", ""),
        ],
        "hugetlb" => &[("hugetlb.2MB.max", "max\n"), ("hugetlb.1GB.max", "max\n")],
        _ => &[],
    }
}

const V2_ORDER: [&str; 8] = [
    "cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma", "misc",
];

impl State {
    fn mount_of(&self, path: &Path) -> Option<(PathBuf, Kind)> {
        self.mounts
            .iter()
            .filter(|(root, _)| path.starts_with(root))
            .max_by_key(|(root, _)| root.as_os_str().len())
            .cloned()
    }

    fn add_file(&mut self, dir: &Path, name: &str, content: &str) {
        if !self.omit.contains(name) {
            self.files.insert(dir.join(name), content.to_string());
        }
    }

    fn file(&self, path: &Path) -> String {
        self.files.get(path).cloned().unwrap_or_default()
    }

    fn populate(&mut self, dir: &Path, kind: &Kind) {
        self.add_file(dir, "cgroup.procs", "");
        match kind {
            Kind::V1(controllers) => {
                for controller in controllers {
                    for (name, content) in v1_files(controller) {
                        self.add_file(dir, name, content);
                    }
                }
            }
            Kind::V2 => {
                let enabled = self.file(&dir.parent().unwrap().join("cgroup.subtree_control"));
                self.add_file(dir, "cgroup.controllers", &enabled);
                self.add_file(dir, "cgroup.subtree_control", "");
                self.add_file(dir, "cgroup.events", "populated 0\nfrozen 0\n");
                self.add_file(dir, "cgroup.freeze", "0\n");
                self.add_file(dir, "cgroup.kill", "");
                self.add_file(dir, "cgroup.max.depth", "max\n");
                self.add_file(
                    dir,
                    "cpu.stat",
                    "usage_usec 0\nuser_usec 0\nsystem_usec 0\n",
                );
                for controller in enabled.split_whitespace() {
                    for (name, content) in v2_files(controller) {
                        self.add_file(dir, name, content);
                    }
                }
            }
        }
    }

    /// A process that exits leaves every cgroup.
    fn die(&mut self, pid: i32) {
        for (path, content) in self.files.iter_mut() {
            if path.ends_with("cgroup.procs") {
                *content = content
                    .lines()
                    .filter(|l| l.trim() != pid.to_string())
                    .map(|l| format!("{l}\n"))
                    .collect();
            }
        }
    }

    fn write(&mut self, path: &Path, value: &str) -> io::Result<()> {
        if self.sticky.contains(path) {
            return Ok(());
        }
        if let Some((_, errno)) = self.failures.iter().find(|(p, _)| p == path) {
            return Err(err(*errno));
        }
        if let Some(at) = self.failures_once.iter().position(|(p, _)| p == path) {
            return Err(err(self.failures_once.remove(at).1));
        }
        if !self.files.contains_key(path) {
            return Err(err(libc::ENOENT));
        }
        let dir = path.parent().unwrap().to_path_buf();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let kind = self.mount_of(path).map(|(_, kind)| kind);
        let is_root = self.mounts.iter().any(|(root, _)| *root == dir);
        match name.as_str() {
            "cgroup.subtree_control" => {
                let available = self.file(&dir.join("cgroup.controllers"));
                let mut enabled: BTreeSet<String> = self
                    .file(path)
                    .split_whitespace()
                    .map(String::from)
                    .collect();
                if !is_root && !self.file(&dir.join("cgroup.procs")).trim().is_empty() {
                    return Err(err(libc::EBUSY));
                }
                for token in value.split_whitespace() {
                    let (op, name) = token.split_at(1);
                    if !available.split_whitespace().any(|c| c == name) {
                        return Err(err(libc::ENOENT));
                    }
                    match op {
                        "+" => enabled.insert(name.to_string()),
                        "-" => enabled.remove(name),
                        _ => return Err(err(libc::EINVAL)),
                    };
                }
                let line: Vec<&str> = V2_ORDER
                    .iter()
                    .copied()
                    .filter(|c| enabled.contains(*c))
                    .collect();
                let line = line.join(" ") + "\n";
                self.files.insert(path.to_path_buf(), line.clone());
                // The children get the files of what was enabled for them.
                let children: Vec<PathBuf> = self
                    .dirs
                    .iter()
                    .filter(|d| d.parent() == Some(dir.as_path()))
                    .cloned()
                    .collect();
                for child in children {
                    let had = self.file(&child.join("cgroup.controllers"));
                    for controller in line.split_whitespace() {
                        if !had.split_whitespace().any(|c| c == controller) {
                            for (name, content) in v2_files(controller) {
                                self.add_file(&child, name, content);
                            }
                        }
                    }
                    self.files
                        .insert(child.join("cgroup.controllers"), line.clone());
                }
            }
            "cgroup.freeze" => {
                let frozen = value.trim();
                self.files.insert(
                    dir.join("cgroup.events"),
                    format!("populated 0\nfrozen {frozen}\n"),
                );
                self.files.insert(path.to_path_buf(), format!("{frozen}\n"));
            }
            "cgroup.kill" => {
                let pids: Vec<i32> = self
                    .files
                    .iter()
                    .filter(|(p, _)| p.starts_with(&dir) && p.ends_with("cgroup.procs"))
                    .flat_map(|(_, c)| c.split_whitespace().map(|w| w.parse().unwrap()))
                    .collect();
                for pid in pids {
                    self.die(pid);
                }
            }
            "cgroup.procs" => {
                if matches!(&kind, Some(Kind::V1(c)) if c.contains(&"cpuset")) {
                    let empty = |f: &str| self.file(&dir.join(f)).trim().is_empty();
                    if empty("cpuset.cpus") || empty("cpuset.mems") {
                        return Err(err(libc::ENOSPC));
                    }
                }
                let mut procs = self.file(path);
                procs.push_str(&format!("{}\n", value.trim()));
                self.files.insert(path.to_path_buf(), procs);
            }
            // v1 keeps the memory limit at or below memory+swap at every write.
            "memory.limit_in_bytes" | "memory.memsw.limit_in_bytes"
                if matches!(kind, Some(Kind::V1(_))) =>
            {
                let bytes = |text: &str| match text.trim() {
                    "-1" => Some(UNLIMITED.trim().parse::<i64>().unwrap()),
                    number => number.parse::<i64>().ok(),
                };
                let new = bytes(value).ok_or_else(|| err(libc::EINVAL))?;
                let other = if name == "memory.limit_in_bytes" {
                    "memory.memsw.limit_in_bytes"
                } else {
                    "memory.limit_in_bytes"
                };
                if let Some(other_value) = self.files.get(&dir.join(other)).and_then(|t| bytes(t)) {
                    let (limit, memsw) = if name == "memory.limit_in_bytes" {
                        (new, other_value)
                    } else {
                        (other_value, new)
                    };
                    if limit > memsw {
                        return Err(err(libc::EINVAL));
                    }
                }
                self.files.insert(path.to_path_buf(), format!("{new}\n"));
            }
            // One number sets the quota and keeps the period.
            "cpu.max" if value.split_whitespace().count() == 1 => {
                let old = self.file(path);
                let period = old
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or("100000")
                    .to_string();
                self.files
                    .insert(path.to_path_buf(), format!("{} {period}\n", value.trim()));
            }
            "cpuset.cpus" | "cpuset.mems" if matches!(kind, Some(Kind::V1(_))) && !is_root => {
                let parent = self.file(&dir.parent().unwrap().join(&name));
                let within = parse_id_list(parent.trim()).unwrap_or_default();
                if !value.trim().is_empty() {
                    let wanted = parse_id_list(value.trim()).map_err(|_| err(libc::EINVAL))?;
                    if !wanted.iter().all(|id| within.contains(id)) {
                        return Err(err(libc::EINVAL));
                    }
                }
                self.files
                    .insert(path.to_path_buf(), format!("{}\n", value.trim()));
            }
            _ => {
                self.files
                    .insert(path.to_path_buf(), format!("{}\n", value.trim()));
            }
        }
        Ok(())
    }
}

impl Fake {
    pub fn new() -> Arc<Fake> {
        Arc::new(Fake::default())
    }

    /// A v1 hierarchy at `root`; its root cpuset holds CPUs 0-1 and node 0.
    pub fn mount_v1(&self, root: &str, controllers: &[&'static str]) {
        let mut s = self.state.lock().unwrap();
        let root = PathBuf::from(root);
        let kind = Kind::V1(controllers.to_vec());
        s.dirs.insert(root.clone());
        s.populate(&root, &kind);
        if controllers.contains(&"cpuset") {
            s.files.insert(root.join("cpuset.cpus"), "0-1\n".into());
            s.files.insert(root.join("cpuset.mems"), "0\n".into());
            s.files
                .insert(root.join("cpuset.effective_cpus"), "0-1\n".into());
            s.files
                .insert(root.join("cpuset.effective_mems"), "0\n".into());
        }
        if controllers.contains(&"blkio") {
            // Like the kernel: BFQ's weight is not on the root, its statistics are.
            s.files.remove(&root.join("blkio.bfq.weight"));
            s.files
                .insert(root.join("blkio.bfq.io_service_bytes"), "Total 0\n".into());
        }
        s.mounts.push((root, kind));
    }

    /// A cgroup2 hierarchy at `root` offering `controllers` (`"cpu io memory pids"`).
    pub fn mount_v2(&self, root: &str, controllers: &str) {
        let mut s = self.state.lock().unwrap();
        let root = PathBuf::from(root);
        s.dirs.insert(root.clone());
        for (name, content) in [
            ("cgroup.procs", "1\n".to_string()),
            ("cgroup.controllers", format!("{controllers}\n")),
            ("cgroup.subtree_control", "\n".to_string()),
            ("cpuset.cpus.effective", "0-1\n".to_string()),
            ("cpuset.mems.effective", "0\n".to_string()),
        ] {
            s.files.insert(root.join(name), content);
        }
        s.mounts.push((root, Kind::V2));
    }

    /// The kernel has huge pages of these sizes (`2048kB`) under /sys/kernel/mm/hugepages.
    pub fn hugepages(&self, sizes: &[&str]) {
        let mut s = self.state.lock().unwrap();
        let dir = PathBuf::from("/sys/kernel/mm/hugepages");
        s.dirs.insert(dir.clone());
        for size in sizes {
            s.dirs.insert(dir.join(format!("hugepages-{size}")));
        }
    }

    /// New cgroups will lack `file`.
    pub fn omit(&self, file: &str) {
        self.state.lock().unwrap().omit.insert(file.to_string());
    }

    pub fn fail(&self, path: &str, errno: i32) {
        self.state
            .lock()
            .unwrap()
            .failures
            .push((PathBuf::from(path), errno));
    }

    /// The next write to `path` fails with `errno`.
    pub fn fail_once(&self, path: &str, errno: i32) {
        self.state
            .lock()
            .unwrap()
            .failures_once
            .push((PathBuf::from(path), errno));
    }

    pub fn sticky(&self, path: &str) {
        self.state
            .lock()
            .unwrap()
            .sticky
            .insert(PathBuf::from(path));
    }

    pub fn set(&self, path: &str, content: &str) {
        self.state
            .lock()
            .unwrap()
            .files
            .insert(PathBuf::from(path), content.to_string());
    }

    pub fn remove(&self, path: &str) {
        self.state.lock().unwrap().files.remove(Path::new(path));
    }

    pub fn get(&self, path: &str) -> Option<String> {
        self.state
            .lock()
            .unwrap()
            .files
            .get(Path::new(path))
            .map(|c| c.trim().to_string())
    }

    pub fn is_dir(&self, path: &str) -> bool {
        self.state.lock().unwrap().dirs.contains(Path::new(path))
    }

    /// Every directory below the mounts.
    pub fn cgroups(&self) -> Vec<String> {
        let s = self.state.lock().unwrap();
        s.dirs
            .iter()
            .filter(|d| !s.mounts.iter().any(|(root, _)| root == *d))
            .map(|d| d.display().to_string())
            .collect()
    }

    /// The mutating operations so far, `mkdir P`, `write P V`, `rmdir P`, `kill PID SIG`.
    pub fn log(&self) -> Vec<String> {
        self.state.lock().unwrap().log.clone()
    }

    pub fn clear_log(&self) {
        self.state.lock().unwrap().log.clear();
    }

    pub fn mountinfo(&self) -> String {
        let s = self.state.lock().unwrap();
        let mut text = String::new();
        for (i, (root, kind)) in s.mounts.iter().enumerate() {
            let (fstype, options) = match kind {
                Kind::V1(c) => ("cgroup", format!("rw,{}", c.join(","))),
                Kind::V2 => ("cgroup2", "rw".to_string()),
            };
            text.push_str(&format!(
                "{} 1 0:{} / {} rw,relatime shared:{} - {fstype} {fstype} {options}\n",
                30 + i,
                40 + i,
                root.display(),
                i
            ));
        }
        text
    }

    pub fn manager(self: &Arc<Self>) -> CgroupManager {
        CgroupManager::with_fs(&self.mountinfo(), CgFs::new(self.clone())).unwrap()
    }
}

impl Backend for Fake {
    fn read(&self, path: &Path) -> io::Result<String> {
        let s = self.state.lock().unwrap();
        match s.files.get(path) {
            Some(content) => Ok(content.clone()),
            None if s.dirs.contains(path) => Err(err(libc::EISDIR)),
            None => Err(err(libc::ENOENT)),
        }
    }

    fn write(&self, path: &Path, value: &str) -> io::Result<()> {
        let mut s = self.state.lock().unwrap();
        s.log.push(format!("write {} {value}", path.display()));
        s.write(path, value)
    }

    fn mkdir(&self, path: &Path) -> io::Result<()> {
        let mut s = self.state.lock().unwrap();
        if let Some((_, errno)) = s.failures.iter().find(|(p, _)| p == path) {
            return Err(err(*errno));
        }
        if s.dirs.contains(path) || s.files.contains_key(path) {
            return Err(err(libc::EEXIST));
        }
        if !path.parent().is_some_and(|p| s.dirs.contains(p)) {
            return Err(err(libc::ENOENT));
        }
        let Some((_, kind)) = s.mount_of(path) else {
            return Err(err(libc::EPERM));
        };
        s.log.push(format!("mkdir {}", path.display()));
        s.dirs.insert(path.to_path_buf());
        s.populate(path, &kind);
        Ok(())
    }

    fn rmdir(&self, path: &Path) -> io::Result<()> {
        let mut s = self.state.lock().unwrap();
        if !s.dirs.contains(path) {
            return Err(err(libc::ENOENT));
        }
        let has_children = s.dirs.iter().any(|d| d.parent() == Some(path));
        if has_children || !s.file(&path.join("cgroup.procs")).trim().is_empty() {
            return Err(err(libc::EBUSY));
        }
        s.log.push(format!("rmdir {}", path.display()));
        s.dirs.remove(path);
        s.files.retain(|f, _| f.parent() != Some(path));
        Ok(())
    }

    fn exists(&self, path: &Path) -> bool {
        let s = self.state.lock().unwrap();
        s.dirs.contains(path) || s.files.contains_key(path)
    }

    fn subdirs(&self, path: &Path) -> io::Result<Vec<PathBuf>> {
        let s = self.state.lock().unwrap();
        if !s.dirs.contains(path) {
            return Err(err(libc::ENOENT));
        }
        Ok(s.dirs
            .iter()
            .filter(|d| d.parent() == Some(path))
            .cloned()
            .collect())
    }

    fn kill(&self, pid: i32, signal: i32) -> io::Result<()> {
        let mut s = self.state.lock().unwrap();
        s.log.push(format!("kill {pid} {signal}"));
        if signal == libc::SIGKILL {
            s.die(pid);
        }
        Ok(())
    }
}
