//! cgroup v2: controller delegation down `cgroup.subtree_control`, `cgroup.freeze` and
//! `cgroup.kill` (Documentation/admin-guide/cgroup-v2.rst).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use runtime_core::Result;

use super::fs::{errno_of, CgFs};
use super::layout::Controller;
use super::resources::Setting;
use super::stats::flat_key;
use super::{apply, mkdir_own};
use crate::error::{io_error, os_error};

/// Creates `<root>/<parent>/<id>` with `controllers` enabled for it and writes `settings`.
///
/// A controller is usable in a cgroup only if every ancestor from the root down lists it in
/// `cgroup.subtree_control`, so each level is enabled before the next one is created. Only
/// the parent chain gets `subtree_control` writes, never the container's own cgroup, and no
/// process is ever put in the parent: the no-internal-process rule forbids both.
pub(crate) fn create(
    fs: &CgFs,
    root: &Path,
    parent: &[&str],
    id: &str,
    controllers: &[Controller],
    settings: &[Setting],
    created: &mut Vec<PathBuf>,
) -> Result<PathBuf> {
    let mut level = root.to_path_buf();
    enable(fs, &level, controllers)?;
    for component in parent {
        level.push(component);
        match fs.try_mkdir(&level) {
            Ok(()) => created.push(level.clone()),
            Err(err) if errno_of(&err) == Errno::EEXIST => {}
            Err(err) => return Err(io_error(format!("create cgroup {}", level.display()), &err)),
        }
        enable(fs, &level, controllers)?;
    }
    let dir = level.join(id);
    mkdir_own(fs, &dir, created)
        .map_err(|err| io_error(format!("create cgroup {}", dir.display()), &err))?;
    for setting in settings {
        apply(fs, &dir, setting)?;
    }
    Ok(dir)
}

/// Makes `controllers` usable in `dir`, an existing cgroup below `root`: enables them in the
/// `cgroup.subtree_control` of each of its ancestors, from the root down, as `create` does.
pub(crate) fn enable_for(
    fs: &CgFs,
    root: &Path,
    dir: &Path,
    controllers: &[Controller],
) -> Result<()> {
    let mut level = root.to_path_buf();
    enable(fs, &level, controllers)?;
    let parent = dir.strip_prefix(root).ok().and_then(Path::parent);
    for component in parent.into_iter().flat_map(Path::components) {
        level.push(component);
        enable(fs, &level, controllers)?;
    }
    Ok(())
}

/// Enables in `dir`'s children those of `controllers` not enabled yet; no write if none.
fn enable(fs: &CgFs, dir: &Path, controllers: &[Controller]) -> Result<()> {
    if controllers.is_empty() {
        return Ok(());
    }
    let path = dir.join("cgroup.subtree_control");
    let current = fs.read(&path)?;
    let Some(line) = enable_line(controllers, &current) else {
        return Ok(());
    };
    match fs.try_write(&path, &line) {
        Ok(()) => Ok(()),
        Err(err) => {
            let errno = errno_of(&err);
            // The no-internal-process rule: below the root, a cgroup with processes cannot
            // enable controllers for its children. Typically the mount's root is a container's
            // own cgroup namespace root, where the host process itself runs.
            let procs = match errno {
                Errno::EBUSY => fs.procs(dir).unwrap_or_default(),
                _ => Vec::new(),
            };
            if procs.is_empty() {
                return Err(io_error(
                    format!("write {line} to {}", path.display()),
                    &err,
                ));
            }
            let shown: Vec<String> = procs.iter().take(5).map(i32::to_string).collect();
            let more = if procs.len() > 5 { ", ..." } else { "" };
            Err(os_error(
                format!(
                    "write {line} to {}: {} holds processes ({}{more}), and cgroup v2 enables \
                     controllers for the children of a cgroup without processes only (the \
                     root aside); move them into a child cgroup first (in a container with \
                     its own cgroup namespace: out of its root cgroup, e.g. into {})",
                    path.display(),
                    dir.display(),
                    shown.join(", "),
                    dir.join("init").display()
                ),
                errno,
            ))
        }
    }
}

/// The `cgroup.subtree_control` write that enables what `current` lacks: `+cpu +memory`.
pub(crate) fn enable_line(controllers: &[Controller], current: &str) -> Option<String> {
    let missing: Vec<String> = controllers
        .iter()
        .filter(|c| !current.split_whitespace().any(|name| name == c.name()))
        .map(|c| format!("+{}", c.name()))
        .collect();
    if missing.is_empty() {
        None
    } else {
        Some(missing.join(" "))
    }
}

/// The controllers named in a `cgroup.controllers` text that berth uses.
pub(crate) fn parse_controllers(text: &str) -> Vec<Controller> {
    let mut controllers: Vec<Controller> = text
        .split_whitespace()
        .filter_map(Controller::from_v2_name)
        .collect();
    controllers.sort();
    controllers
}

/// Freezes the cgroup and waits for `cgroup.events` to say `frozen 1`.
pub(crate) fn freeze(fs: &CgFs, dir: &Path, timeout: Duration) -> Result<()> {
    fs.write(&dir.join("cgroup.freeze"), "1")?;
    let start = Instant::now();
    let mut delay = Duration::from_micros(100);
    loop {
        if is_frozen(fs, dir)? {
            return Ok(());
        }
        if start.elapsed() >= timeout {
            // Half-frozen is no state to leave a container in.
            let _ = fs.write(&dir.join("cgroup.freeze"), "0");
            return Err(os_error(
                format!(
                    "freeze {}: cgroup.events not frozen after {timeout:?}, thawed it again",
                    dir.display()
                ),
                Errno::ETIMEDOUT,
            ));
        }
        std::thread::sleep(delay);
        delay = (delay * 2).min(Duration::from_millis(10));
    }
}

pub(crate) fn thaw(fs: &CgFs, dir: &Path) -> Result<()> {
    fs.write(&dir.join("cgroup.freeze"), "0")
}

/// Whether a freeze was asked for (`cgroup.freeze` is 1), done or not.
pub(crate) fn freeze_asked(fs: &CgFs, dir: &Path) -> Result<bool> {
    Ok(fs.read(&dir.join("cgroup.freeze"))?.trim() == "1")
}

pub(crate) fn is_frozen(fs: &CgFs, dir: &Path) -> Result<bool> {
    let events = fs.read(&dir.join("cgroup.events"))?;
    Ok(flat_key(&events, "frozen") == Some(1))
}

/// SIGKILLs every process of the cgroup and its descendants with one write (Linux 5.14+).
/// `Ok(false)` if the kernel has no `cgroup.kill` or the cgroup is gone.
pub(crate) fn kill(fs: &CgFs, dir: &Path) -> Result<bool> {
    let path = dir.join("cgroup.kill");
    match fs.try_write(&path, "1") {
        Ok(()) => Ok(true),
        Err(err) if errno_of(&err) == Errno::ENOENT => Ok(false),
        Err(err) => Err(io_error(format!("write 1 to {}", path.display()), &err)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Controller::*;

    #[test]
    fn enable_line_adds_only_what_is_missing() {
        assert_eq!(
            enable_line(&[Cpu, Io, Memory, Pids], "").as_deref(),
            Some("+cpu +io +memory +pids")
        );
        assert_eq!(
            enable_line(&[Cpu, Io, Memory, Pids], "cpuset cpu io memory pids\n"),
            None
        );
        assert_eq!(
            enable_line(&[Cpuset, Cpu, Memory], "cpu memory\n").as_deref(),
            Some("+cpuset")
        );
        assert_eq!(enable_line(&[], ""), None);
    }

    #[test]
    fn controllers_list() {
        assert_eq!(
            parse_controllers("cpuset cpu io memory hugetlb pids rdma misc dmem\n"),
            vec![Cpuset, Cpu, Io, Memory, Pids, Hugetlb, Rdma, Misc]
        );
        assert!(parse_controllers("\n").is_empty());
    }
}
