//! Cgroup management for the native driver: v2 (unified), v1 (legacy) and hybrid hosts.
//!
//! A [`CgroupManager`] is detected once per driver. For each container it creates
//! `<hierarchy root>/<parent>/<id>` in every hierarchy in use ([`ContainerCgroup`]), applies
//! the [`Resources`], and later changes them ([`CgroupManager::update`]), freezes, kills,
//! reads statistics and removes it.
//!
//! Which hierarchies a container gets:
//! - unified: one directory in the cgroup2 hierarchy, with the controllers berth reads or
//!   limits enabled down the parent chain;
//! - legacy: one directory in each mounted v1 hierarchy among memory, pids, cpu, cpuacct,
//!   cpuset, blkio, devices and freezer (co-mounted controllers share one);
//! - hybrid: the v1 directories, plus one in the cgroup2 hierarchy without controllers, for
//!   `cgroup.kill` and as the one place that lists every process.

mod check;
mod fs;
mod layout;
mod resources;
mod stats;
mod update;
mod v1;
mod v2;

#[cfg(test)]
mod fake;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod testutil;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use runtime_core::{DeviceRule, Error, Resources, Result, Stats};

use crate::error::{io_error, os_error, StepExt};
use crate::security::devices;
use fs::{errno_of, CgFs};
pub(crate) use layout::Layout;
use resources::Setting;

pub use layout::{CgroupMode, Controller};

/// How long [`ContainerCgroup::freeze`] waits for every process to be frozen.
pub const FREEZE_TIMEOUT: Duration = Duration::from_secs(5);

/// How long [`ContainerCgroup::destroy`] waits for killed processes to leave the cgroup.
pub const DESTROY_TIMEOUT: Duration = Duration::from_secs(5);

/// The host's cgroup layout and the operations that create container cgroups in it.
#[derive(Debug)]
pub struct CgroupManager {
    layout: Layout,
    mode: CgroupMode,
    /// Controllers the cgroup2 root offers (unified mode only: in hybrid mode berth uses no
    /// v2 controller).
    v2_controllers: Vec<Controller>,
    /// Where the kernel lists the huge page sizes it has.
    hugepages: PathBuf,
    fs: CgFs,
}

impl CgroupManager {
    /// Detects the layout from `/proc/self/mountinfo`.
    pub fn detect() -> Result<Self> {
        let path = "/proc/self/mountinfo";
        let text = std::fs::read_to_string(path).step(|| format!("read {path}"))?;
        Self::from_mountinfo(&text)
    }

    /// The layout described by a mountinfo text; the mount points may be any directory. In
    /// unified mode, reads the root's `cgroup.controllers`.
    pub fn from_mountinfo(mountinfo: &str) -> Result<Self> {
        Self::with_fs(mountinfo, CgFs::real())
    }

    pub(crate) fn with_fs(mountinfo: &str, fs: CgFs) -> Result<Self> {
        let layout = Layout::parse(mountinfo)?;
        let mode = layout.mode()?;
        let v2_controllers = match (&layout.unified, mode) {
            (Some(root), CgroupMode::Unified) => {
                v2::parse_controllers(&fs.read(&root.join("cgroup.controllers"))?)
            }
            _ => Vec::new(),
        };
        Ok(CgroupManager {
            layout,
            mode,
            v2_controllers,
            hugepages: PathBuf::from("/sys/kernel/mm/hugepages"),
            fs,
        })
    }

    pub fn mode(&self) -> CgroupMode {
        self.mode
    }

    /// The cgroup2 mount point, if one is mounted (unified and hybrid modes).
    pub fn unified_mount(&self) -> Option<&Path> {
        self.layout.unified.as_deref()
    }

    /// The v1 hierarchies in use: their controllers as in mount options (`cpu,cpuacct`) and
    /// mount points.
    pub fn v1_mounts(&self) -> Vec<(String, PathBuf)> {
        self.layout
            .v1
            .iter()
            .map(|h| {
                let names: Vec<&str> = h.controllers.iter().map(|c| c.name()).collect();
                (names.join(","), h.mount.clone())
            })
            .collect()
    }

    /// Whether this host offers `controller` to containers (`Io` on v2, `Blkio` on v1).
    pub fn has_controller(&self, controller: Controller) -> bool {
        self.controller_root(controller).is_some()
    }

    /// The root directory of the hierarchy that holds `controller`.
    fn controller_root(&self, controller: Controller) -> Option<&Path> {
        match self.mode {
            CgroupMode::Unified => self
                .v2_controllers
                .contains(&controller)
                .then_some(self.layout.unified.as_deref())
                .flatten(),
            _ => self
                .layout
                .v1_hierarchy(controller)
                .map(|h| h.mount.as_path()),
        }
    }

    /// Checks `resources` against this host with no side effect: a controller that is
    /// missing, CPUs or memory nodes this host does not have (`cpuset_cpus 7: this host has
    /// CPUs 0-1`), a weight without an I/O scheduler that has weights, swap without swap
    /// accounting.
    pub fn check(&self, resources: &Resources) -> Result<()> {
        check::check(self, resources)
    }

    /// Lets the container's processes use only the device nodes `rules` allow: through the v1
    /// devices controller, or an eBPF program attached to its cgroup on a cgroup2-only host.
    pub fn restrict_devices(&self, cgroup: &ContainerCgroup, rules: &[DeviceRule]) -> Result<()> {
        let relative = cgroup.relative_path();
        if self.mode == CgroupMode::Unified {
            if let Some(mount) = self.unified_mount() {
                devices::apply_v2(&mount.join(&relative), rules)?;
            }
            return Ok(());
        }
        for (controllers, mount) in self.v1_mounts() {
            if controllers.split(',').any(|c| c == "devices") {
                devices::apply_v1(&mount.join(&relative), rules)?;
            }
        }
        Ok(())
    }

    /// Creates `<parent>/<id>` (and `<parent>` if missing) in every hierarchy in use and
    /// applies `resources`. On failure, removes whatever it created before returning the
    /// error.
    pub fn create(&self, parent: &str, id: &str, resources: &Resources) -> Result<ContainerCgroup> {
        path_components(parent, id)?;
        self.create_at(&format!("{}/{id}", parent.trim_matches('/')), resources)
    }

    /// Creates the cgroup `path` (relative to each hierarchy's root; its parents too if
    /// missing) in every hierarchy in use and applies `resources`. A cgroup that exists
    /// already is used if it holds no process, as runc does, and is then not removed on
    /// failure; one with processes is refused. On failure, removes whatever it created
    /// before returning the error.
    pub fn create_at(&self, path: &str, resources: &Resources) -> Result<ContainerCgroup> {
        let all = cgroup_path_components(path)?;
        let (id, parent) = all.split_last().expect("at least one component");
        check::controllers(self, resources)?;
        let cgroup = self.open_at(path);
        if cgroup.exists() {
            let pids = cgroup.pids()?;
            if !pids.is_empty() {
                return Err(Error::invalid(
                    "cgroup_path",
                    format!(
                        "the cgroup {} exists and holds processes {pids:?}: a container's \
                         cgroup must be new or empty",
                        cgroup.primary().display()
                    ),
                ));
            }
        }
        let mut created = Vec::new();
        match self.create_dirs(parent, id, resources, &mut created) {
            Ok(()) => Ok(cgroup),
            Err(err) => {
                for dir in created.iter().rev() {
                    let _ = self.fs.try_rmdir(dir);
                }
                Err(err)
            }
        }
    }

    /// Changes the resources of an existing container cgroup, as `runc update` does: the
    /// fields given in `resources` are written (with the files and values `create` uses),
    /// the others are left alone. `resources` is checked as for `create` first (a missing
    /// controller is the same error). Nothing is undone when a write fails: the error names
    /// the fields written before it, which stay, and those not written.
    pub fn update(&self, cgroup: &ContainerCgroup, resources: &Resources) -> Result<()> {
        update::update(self, cgroup, resources)
    }

    fn create_dirs(
        &self,
        parent: &[&str],
        id: &str,
        resources: &Resources,
        created: &mut Vec<PathBuf>,
    ) -> Result<()> {
        match self.mode {
            CgroupMode::Unified => {
                let root = self.unified_root()?;
                let controllers: Vec<Controller> = resources::v2_wanted(resources)
                    .into_iter()
                    .filter(|c| self.v2_controllers.contains(c))
                    .collect();
                let settings = resources::v2_settings(resources);
                v2::create(&self.fs, root, parent, id, &controllers, &settings, created)?;
            }
            CgroupMode::Legacy | CgroupMode::Hybrid => {
                let settings = resources::v1_settings(resources);
                for hierarchy in &self.layout.v1 {
                    v1::create(
                        &self.fs, hierarchy, parent, id, &settings, resources, created,
                    )?;
                }
                if let Some(root) = &self.layout.unified {
                    v2::create(&self.fs, root, parent, id, &[], &[], created)?;
                }
            }
        }
        Ok(())
    }

    fn unified_root(&self) -> Result<&Path> {
        self.layout
            .unified
            .as_deref()
            .ok_or_else(|| Error::Internal("unified mode without a cgroup2 mount".into()))
    }

    /// The container cgroup `<parent>/<id>`, which may or may not exist; no I/O.
    pub fn open(&self, parent: &str, id: &str) -> ContainerCgroup {
        self.open_at(&format!("{}/{id}", parent.trim_matches('/')))
    }

    /// The container cgroup at `path` below each hierarchy's root, which may or may not
    /// exist; no I/O.
    pub fn open_at(&self, path: &str) -> ContainerCgroup {
        let relative = PathBuf::from(path.trim_matches('/'));
        let v1 = match self.mode {
            CgroupMode::Unified => Vec::new(),
            _ => self
                .layout
                .v1
                .iter()
                .map(|h| (h.controllers.clone(), h.mount.join(&relative)))
                .collect(),
        };
        ContainerCgroup {
            relative: relative.to_string_lossy().into_owned(),
            mode: self.mode,
            v1,
            unified: self
                .layout
                .unified
                .as_ref()
                .map(|root| root.join(&relative)),
            v2_memory: self.mode == CgroupMode::Unified
                && self.v2_controllers.contains(&Controller::Memory),
            fs: self.fs.clone(),
        }
    }

    /// Removes `<parent>` (deepest component first) from every hierarchy where it is empty.
    /// A parent still used by a container, or already gone, is left alone without error.
    pub fn remove_parent_if_empty(&self, parent: &str) -> Result<()> {
        let components: Vec<&str> = parent.split('/').filter(|c| !c.is_empty()).collect();
        let roots = self
            .layout
            .v1
            .iter()
            .map(|h| &h.mount)
            .chain(self.layout.unified.iter());
        for root in roots {
            for depth in (1..=components.len()).rev() {
                let mut dir = root.clone();
                dir.extend(&components[..depth]);
                match self.fs.try_rmdir(&dir) {
                    Ok(()) => {}
                    Err(err) if errno_of(&err) == Errno::ENOENT => {}
                    Err(err) if matches!(errno_of(&err), Errno::EBUSY | Errno::ENOTEMPTY) => break,
                    Err(err) => {
                        return Err(io_error(format!("remove cgroup {}", dir.display()), &err))
                    }
                }
            }
        }
        Ok(())
    }
}

/// The components of `parent`, after checking that `parent` and `id` stay inside the
/// hierarchy (the runtime-core validation should have caught it; this is the last line).
fn path_components<'a>(parent: &'a str, id: &str) -> Result<Vec<&'a str>> {
    let components: Vec<&str> = parent.split('/').filter(|c| !c.is_empty()).collect();
    if components.is_empty() || components.iter().any(|c| *c == "." || *c == "..") {
        return Err(Error::invalid(
            "cgroup_parent",
            format!("{parent:?}: must name a cgroup below the root, without '.' or '..'"),
        ));
    }
    if id.is_empty() || id.contains('/') || id == "." || id == ".." {
        return Err(Error::invalid("id", format!("{id:?} is no cgroup name")));
    }
    Ok(components)
}

/// The components of a container's cgroup path, after checking that it stays inside the
/// hierarchy (the runtime-core validation should have caught it; this is the last line).
fn cgroup_path_components(path: &str) -> Result<Vec<&str>> {
    let components: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
    if components.is_empty() || components.iter().any(|c| *c == "." || *c == "..") {
        return Err(Error::invalid(
            "cgroup_path",
            format!("{path:?}: must name a cgroup below the root, without '.' or '..'"),
        ));
    }
    Ok(components)
}

/// Makes the container's own directory `dir`: one that exists already is used (`create_at`
/// checked it holds no process) and is not `created`.
fn mkdir_own(fs: &CgFs, dir: &Path, created: &mut Vec<PathBuf>) -> std::io::Result<()> {
    match fs.try_mkdir(dir) {
        Ok(()) => {
            created.push(dir.to_path_buf());
            Ok(())
        }
        Err(err) if errno_of(&err) == Errno::EEXIST => Ok(()),
        Err(err) => Err(err),
    }
}

/// Creates `<root>/<components...>` level by level; levels that exist are fine.
fn mkdir_chain(
    fs: &CgFs,
    root: &Path,
    components: &[&str],
    created: &mut Vec<PathBuf>,
) -> Result<()> {
    let mut level = root.to_path_buf();
    for component in components {
        level.push(component);
        match fs.try_mkdir(&level) {
            Ok(()) => created.push(level.clone()),
            Err(err) if errno_of(&err) == Errno::EEXIST => {}
            Err(err) => return Err(io_error(format!("create cgroup {}", level.display()), &err)),
        }
    }
    Ok(())
}

/// Writes one setting into `dir`, picking the first of its files that exists when it has a
/// choice.
fn apply(fs: &CgFs, dir: &Path, setting: &Setting) -> Result<()> {
    let (file, value) = match setting.choices.as_slice() {
        [only] => only,
        choices => choices
            .iter()
            .find(|(file, _)| fs.exists(&dir.join(file)))
            .ok_or_else(|| {
                let files: Vec<&str> = choices.iter().map(|(f, _)| f.as_str()).collect();
                Error::Unsupported(format!(
                    "resources.{} on a host without {} in {}",
                    setting.field,
                    files.join(" or "),
                    dir.display()
                ))
            })?,
    };
    let path = dir.join(file);
    match fs.try_write(&path, value) {
        Ok(()) => Ok(()),
        // The directory was just made: a missing file is a missing kernel feature.
        Err(err) if errno_of(&err) == Errno::ENOENT => Err(Error::Unsupported(format!(
            "resources.{} on a host without {}{}",
            setting.field,
            path.display(),
            if setting.field == "memory_swap" {
                " (swap accounting is off)"
            } else {
                ""
            }
        ))),
        Err(err) => Err(io_error(
            format!("write {value} to {}", path.display()),
            &err,
        )),
    }
}

/// One container's cgroup, in every hierarchy in use.
#[derive(Debug, Clone)]
pub struct ContainerCgroup {
    relative: String,
    mode: CgroupMode,
    /// One directory per v1 hierarchy, with its controllers.
    v1: Vec<(Vec<Controller>, PathBuf)>,
    /// The directory in the cgroup2 hierarchy (unified and hybrid modes).
    unified: Option<PathBuf>,
    /// Unified mode with the memory controller: memory.events exists.
    v2_memory: bool,
    fs: CgFs,
}

enum Freezer<'a> {
    V1(&'a Path),
    V2(&'a Path),
}

impl ContainerCgroup {
    /// The path below each hierarchy root: `berth/c1`.
    pub fn relative_path(&self) -> String {
        self.relative.clone()
    }

    /// The `cgroup.procs` files, one per hierarchy (the cgroup2 one included in hybrid mode),
    /// that a process writes `0` into to join the container's cgroups.
    pub fn procs_files(&self) -> Vec<PathBuf> {
        self.v1
            .iter()
            .map(|(_, dir)| dir)
            .chain(self.unified.iter())
            .map(|dir| dir.join("cgroup.procs"))
            .collect()
    }

    /// The files a single-threaded process writes `0` into to join the container's cgroups:
    /// `tasks` in each v1 hierarchy, `cgroup.procs` in the cgroup2 one (hybrid mode too).
    ///
    /// Why not `cgroup.procs` everywhere: moving a thread group takes the kernel's global
    /// `cgroup_threadgroup_rwsem` for writing, which waits for an RCU grace period whenever no
    /// other migration happened just before (2 to 10 ms here, the largest single cost of a
    /// container started by a short-lived process). Moving only the calling thread through
    /// v1's `tasks` skips that lock (Linux 6.0, "cgroup: Optimize single thread migration"),
    /// and for a process with one thread it moves the whole process: the caller must have
    /// no other thread (the helper holds a `SingleThreaded` proof). cgroup2 has no such file
    /// for a domain cgroup.
    pub fn join_files(&self) -> Vec<PathBuf> {
        self.v1
            .iter()
            .map(|(_, dir)| dir.join("tasks"))
            .chain(self.unified.iter().map(|dir| dir.join("cgroup.procs")))
            .collect()
    }

    /// The directories of this cgroup, one per hierarchy.
    pub fn dirs(&self) -> Vec<PathBuf> {
        self.v1
            .iter()
            .map(|(_, dir)| dir.clone())
            .chain(self.unified.iter().cloned())
            .collect()
    }

    /// Whether the cgroup exists (in the hierarchy that lists its processes).
    pub fn exists(&self) -> bool {
        self.fs.exists(self.primary())
    }

    fn require_exists(&self) -> Result<()> {
        if self.exists() {
            return Ok(());
        }
        Err(Error::NotFound {
            what: "cgroup",
            name: self.primary().display().to_string(),
            hint: String::new(),
        })
    }

    /// The directory whose `cgroup.procs` lists every process of the container: the cgroup2
    /// one where there is one, since the helper joins it along with the v1 ones.
    fn primary(&self) -> &Path {
        self.unified
            .as_deref()
            .or_else(|| self.v1_dir(Controller::Freezer))
            .or_else(|| self.v1.first().map(|(_, dir)| dir.as_path()))
            .unwrap_or_else(|| Path::new("/nonexistent"))
    }

    fn v1_dir(&self, controller: Controller) -> Option<&Path> {
        self.v1
            .iter()
            .find(|(controllers, _)| controllers.contains(&controller))
            .map(|(_, dir)| dir.as_path())
    }

    fn freezer(&self) -> Option<Freezer<'_>> {
        match (self.v1_dir(Controller::Freezer), &self.unified) {
            (Some(dir), _) => Some(Freezer::V1(dir)),
            (None, Some(dir)) => Some(Freezer::V2(dir)),
            (None, None) => None,
        }
    }

    /// The processes in the cgroup and its descendants; none if it is gone.
    pub fn pids(&self) -> Result<Vec<i32>> {
        let mut pids = Vec::new();
        collect_pids(&self.fs, self.primary(), &mut pids)?;
        Ok(pids)
    }

    /// Sends `signal` to every process in the cgroup. SIGKILL goes through `cgroup.kill`
    /// where the kernel has it; otherwise the cgroup is frozen so that no process forks one
    /// that would be missed, each process is signalled, and the cgroup is thawed, unless it
    /// was frozen before (a paused container stays paused; SIGKILL waits for the thaw).
    pub fn kill_all(&self, signal: i32) -> Result<()> {
        if signal == libc::SIGKILL {
            if let Some(dir) = &self.unified {
                if v2::kill(&self.fs, dir)? {
                    return Ok(());
                }
            }
        }
        let freezer = self.freezer();
        let was_frozen = match &freezer {
            Some(_) if !self.exists() => return Ok(()),
            Some(f) => self.is_frozen_by(f)?,
            None => false,
        };
        let froze = match &freezer {
            Some(f) if !was_frozen => self.freeze_by(f).is_ok(),
            _ => false,
        };
        let result = self.signal_each(signal, froze || was_frozen);
        if froze {
            if let Some(f) = &freezer {
                self.thaw_by(f)?;
            }
        }
        result
    }

    /// Signals each process once; when not frozen, rounds repeat to catch children forked
    /// meanwhile, until a round finds no new one.
    fn signal_each(&self, signal: i32, frozen: bool) -> Result<()> {
        let mut signalled = Vec::new();
        for _ in 0..if frozen { 1 } else { 10 } {
            let fresh: Vec<i32> = self
                .pids()?
                .into_iter()
                .filter(|pid| !signalled.contains(pid))
                .collect();
            if fresh.is_empty() {
                break;
            }
            for pid in fresh {
                self.fs.kill(pid, signal, self.primary())?;
                signalled.push(pid);
            }
        }
        Ok(())
    }

    /// Freezes every process and waits until the kernel says they are all frozen (v1
    /// `freezer.state` FROZEN, v2 `cgroup.events` frozen 1), up to [`FREEZE_TIMEOUT`].
    pub fn freeze(&self) -> Result<()> {
        self.freeze_by(&self.require_freezer()?)
    }

    /// Lets a frozen cgroup run again.
    pub fn thaw(&self) -> Result<()> {
        self.thaw_by(&self.require_freezer()?)
    }

    /// Whether the cgroup is frozen.
    pub fn is_frozen(&self) -> Result<bool> {
        self.is_frozen_by(&self.require_freezer()?)
    }

    /// Whether a freeze was asked for, done or still under way: a driver that died in the
    /// middle of a pause asked for one.
    pub fn freeze_asked(&self) -> Result<bool> {
        match self.require_freezer()? {
            Freezer::V1(dir) => v1::freeze_asked(&self.fs, dir),
            Freezer::V2(dir) => v2::freeze_asked(&self.fs, dir),
        }
    }

    fn require_freezer(&self) -> Result<Freezer<'_>> {
        self.freezer().ok_or_else(|| {
            Error::Unsupported("pausing on a host without the freezer cgroup controller".into())
        })
    }

    fn freeze_by(&self, freezer: &Freezer<'_>) -> Result<()> {
        match freezer {
            Freezer::V1(dir) => v1::freeze(&self.fs, dir, FREEZE_TIMEOUT),
            Freezer::V2(dir) => v2::freeze(&self.fs, dir, FREEZE_TIMEOUT),
        }
    }

    fn thaw_by(&self, freezer: &Freezer<'_>) -> Result<()> {
        match freezer {
            Freezer::V1(dir) => v1::thaw(&self.fs, dir),
            Freezer::V2(dir) => v2::thaw(&self.fs, dir),
        }
    }

    fn is_frozen_by(&self, freezer: &Freezer<'_>) -> Result<bool> {
        match freezer {
            Freezer::V1(dir) => v1::is_frozen(&self.fs, dir),
            Freezer::V2(dir) => v2::is_frozen(&self.fs, dir),
        }
    }

    /// Resource usage, from the cgroup version in use.
    pub fn stats(&self) -> Result<Stats> {
        self.require_exists()?;
        match (self.mode, &self.unified) {
            (CgroupMode::Unified, Some(dir)) => stats::v2(&self.fs, dir),
            _ => stats::v1(
                &self.fs,
                &stats::V1Dirs {
                    memory: self.v1_dir(Controller::Memory),
                    cpu: self.v1_dir(Controller::Cpu),
                    cpuacct: self.v1_dir(Controller::Cpuacct),
                    pids: self.v1_dir(Controller::Pids),
                    blkio: self.v1_dir(Controller::Blkio),
                },
            ),
        }
    }

    /// How many processes the kernel's OOM killer has killed in this cgroup: v2
    /// `memory.events` `oom_kill`, v1 `memory.oom_control` `oom_kill` (Linux 4.13+).
    pub fn oom_kill_count(&self) -> Result<u64> {
        let path = self.oom_watch_path().ok_or_else(|| {
            Error::Unsupported(
                "counting OOM kills on a host without the memory cgroup controller".into(),
            )
        })?;
        Ok(stats::flat_key(&self.fs.read(&path)?, "oom_kill").unwrap_or(0))
    }

    /// The file that changes when the OOM killer acts in this cgroup: v2 `memory.events`
    /// (inotify/poll), v1 `memory.oom_control` (eventfd via `cgroup.event_control`).
    pub fn oom_watch_path(&self) -> Option<PathBuf> {
        match self.mode {
            CgroupMode::Unified => self
                .unified
                .as_ref()
                .filter(|_| self.v2_memory)
                .map(|dir| dir.join("memory.events")),
            _ => self
                .v1_dir(Controller::Memory)
                .map(|dir| dir.join("memory.oom_control")),
        }
    }

    /// SIGKILLs everything left, waits until the cgroup is empty (up to [`DESTROY_TIMEOUT`]),
    /// then removes it, child cgroups first, from every hierarchy. A cgroup already gone is
    /// fine. The parent stays: other containers share it.
    pub fn destroy(&self) -> Result<()> {
        let deadline = Instant::now() + DESTROY_TIMEOUT;
        let mut killed = false;
        if let Some(dir) = &self.unified {
            killed = v2::kill(&self.fs, dir)?;
        }
        if !killed {
            for pid in self.pids()? {
                self.fs.kill(pid, libc::SIGKILL, self.primary())?;
            }
        }
        // A task frozen by the v1 freezer dies of SIGKILL only once thawed.
        if let Some(dir) = self.v1_dir(Controller::Freezer) {
            v1::thaw_if_present(&self.fs, dir)?;
        }
        let mut first_error = None;
        for dir in self.dirs() {
            if let Err(err) = remove_tree(&self.fs, &dir, deadline) {
                first_error.get_or_insert(err);
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

fn collect_pids(fs: &CgFs, dir: &Path, pids: &mut Vec<i32>) -> Result<()> {
    pids.extend(fs.procs(dir)?);
    for child in fs.subdirs(dir)? {
        collect_pids(fs, &child, pids)?;
    }
    Ok(())
}

/// Removes `dir` and its child cgroups, SIGKILLing what is still inside until `deadline`.
fn remove_tree(fs: &CgFs, dir: &Path, deadline: Instant) -> Result<()> {
    let mut delay = Duration::from_micros(200);
    loop {
        let err = match fs.try_rmdir(dir) {
            Ok(()) => return Ok(()),
            Err(err) => err,
        };
        match errno_of(&err) {
            Errno::ENOENT => return Ok(()),
            Errno::EBUSY | Errno::ENOTEMPTY => {}
            _ => return Err(io_error(format!("remove cgroup {}", dir.display()), &err)),
        }
        for child in fs.subdirs(dir)? {
            remove_tree(fs, &child, deadline)?;
        }
        let left = fs.procs(dir)?;
        for pid in &left {
            fs.kill(*pid, libc::SIGKILL, dir)?;
        }
        if Instant::now() >= deadline {
            let why = if left.is_empty() {
                "still busy".to_string()
            } else {
                format!("processes {left:?} still in it {DESTROY_TIMEOUT:?} after SIGKILL")
            };
            return Err(os_error(
                format!("remove cgroup {}: {why}", dir.display()),
                errno_of(&err),
            ));
        }
        std::thread::sleep(delay);
        delay = (delay * 2).min(Duration::from_millis(20));
    }
}
