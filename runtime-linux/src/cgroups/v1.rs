//! cgroup v1: one directory per mounted hierarchy, the cpuset copy-down, and the freezer.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use runtime_core::{Resources, Result};

use super::fs::{errno_of, CgFs};
use super::layout::{Controller, V1Hierarchy};
use super::resources::Setting;
use super::{apply, mkdir_chain, mkdir_own};
use crate::error::{io_error, os_error};

/// Creates `<mount>/<parent>/<id>` in one hierarchy and writes its settings. Every directory
/// created is pushed onto `created` as soon as it exists, so the caller can undo.
pub(crate) fn create(
    fs: &CgFs,
    hierarchy: &V1Hierarchy,
    parent: &[&str],
    id: &str,
    settings: &[Setting],
    resources: &Resources,
    created: &mut Vec<PathBuf>,
) -> Result<PathBuf> {
    let mut dir = hierarchy.mount.clone();
    dir.extend(parent);
    dir.push(id);
    // The parent usually exists: one mkdir on the hot path, the chain only when it fails.
    match mkdir_own(fs, &dir, created) {
        Ok(()) => {}
        Err(err) if err.raw_os_error() == Some(libc::ENOENT) => {
            mkdir_chain(fs, &hierarchy.mount, parent, created)?;
            mkdir_own(fs, &dir, created)
                .map_err(|err| io_error(format!("create cgroup {}", dir.display()), &err))?;
        }
        Err(err) => return Err(io_error(format!("create cgroup {}", dir.display()), &err)),
    }
    if hierarchy.controllers.contains(&Controller::Cpuset) {
        setup_cpuset(fs, &hierarchy.mount, &dir, resources)?;
    }
    for setting in settings {
        // cpuset values were written by setup_cpuset, with the copy-down they need.
        if setting.controller != Controller::Cpuset
            && hierarchy.controllers.contains(&setting.controller)
        {
            apply(fs, &dir, setting)?;
        }
    }
    Ok(dir)
}

/// A new v1 cpuset cgroup starts with empty `cpuset.cpus` and `cpuset.mems`, and no process
/// can join it until both are set: write the requested values, or copy the parent's.
fn setup_cpuset(fs: &CgFs, mount: &Path, dir: &Path, resources: &Resources) -> Result<()> {
    for (file, requested) in [
        ("cpuset.cpus", &resources.cpuset_cpus),
        ("cpuset.mems", &resources.cpuset_mems),
    ] {
        let parent = dir.parent().unwrap_or(mount);
        // Even with a requested value the parent must be filled: the kernel checks that the
        // child's set is inside the parent's.
        let inherited = inherited_cpuset(fs, mount, parent, file)?;
        let value = requested.clone().unwrap_or(inherited);
        fs.write(&dir.join(file), &value)?;
    }
    Ok(())
}

/// The value of `file` in `dir`, first copied down from the nearest ancestor that has one if
/// it is empty (a parent created by berth, or left half set up by a crash).
fn inherited_cpuset(fs: &CgFs, mount: &Path, dir: &Path, file: &str) -> Result<String> {
    let path = dir.join(file);
    let value = fs.read(&path)?.trim().to_string();
    if !value.is_empty() || dir == mount {
        return Ok(value);
    }
    let above = inherited_cpuset(fs, mount, dir.parent().unwrap_or(mount), file)?;
    fs.write(&path, &above)?;
    Ok(above)
}

/// Freezes the cgroup and waits until the kernel reports every task frozen.
pub(crate) fn freeze(fs: &CgFs, dir: &Path, timeout: Duration) -> Result<()> {
    let state = dir.join("freezer.state");
    fs.write(&state, "FROZEN")?;
    let start = Instant::now();
    let mut last_request = start;
    let mut delay = Duration::from_micros(100);
    loop {
        let now_state = fs.read(&state)?;
        let now_state = now_state.trim();
        if now_state == "FROZEN" {
            return Ok(());
        }
        if start.elapsed() >= timeout {
            // Left FREEZING, the cgroup would half-run; thawing gives a clean state back.
            let _ = fs.write(&state, "THAWED");
            return Err(os_error(
                format!(
                    "freeze {}: freezer.state still {now_state} after {timeout:?}, thawed it again",
                    dir.display()
                ),
                Errno::ETIMEDOUT,
            ));
        }
        // Writing FROZEN again catches the tasks forked while the freeze was under way.
        if last_request.elapsed() >= Duration::from_millis(50) {
            fs.write(&state, "FROZEN")?;
            last_request = Instant::now();
        }
        std::thread::sleep(delay);
        delay = (delay * 2).min(Duration::from_millis(10));
    }
}

pub(crate) fn thaw(fs: &CgFs, dir: &Path) -> Result<()> {
    fs.write(&dir.join("freezer.state"), "THAWED")
}

/// Thaws if the freezer is still there; a cgroup already gone is fine.
pub(crate) fn thaw_if_present(fs: &CgFs, dir: &Path) -> Result<()> {
    let path = dir.join("freezer.state");
    match fs.try_write(&path, "THAWED") {
        Ok(()) => Ok(()),
        Err(err) if errno_of(&err) == Errno::ENOENT => Ok(()),
        Err(err) => Err(io_error(
            format!("write THAWED to {}", path.display()),
            &err,
        )),
    }
}

pub(crate) fn is_frozen(fs: &CgFs, dir: &Path) -> Result<bool> {
    Ok(fs.read(&dir.join("freezer.state"))?.trim() == "FROZEN")
}

/// Whether a freeze was asked for: FROZEN, or FREEZING until every task is.
pub(crate) fn freeze_asked(fs: &CgFs, dir: &Path) -> Result<bool> {
    Ok(fs.read(&dir.join("freezer.state"))?.trim() != "THAWED")
}
