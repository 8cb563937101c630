//! Changing the resources of a container's cgroup after it was created, as `runc update`
//! does: the fields given are written, with the same files and values as at creation
//! ([`resources::v1_settings`], [`resources::v2_settings_keeping`]), the others are left
//! alone.
//!
//! What differs from a fresh cgroup is that the kernel checks each write against the values
//! already there:
//! - v1 keeps `memory.limit_in_bytes` ≤ `memory.memsw.limit_in_bytes` at every write, so
//!   memory+swap goes first when it rises above the current limit, last otherwise;
//! - v1 may refuse a shorter `cpu.cfs_period_us` against the quota in force (the parent's
//!   bandwidth): with a quota coming too, the period is tried again after it;
//! - v2's `cpu.max` holds quota and period together: a period alone keeps the current quota;
//! - v2's `memory.swap.max` counts swap alone: swap alone is counted from the current limit;
//! - v2 enables a controller the container's cgroup lacks (cpuset, which `create` enables
//!   only when asked for) in its ancestors' `cgroup.subtree_control`.
//!
//! Nothing is undone when a write fails (runc does not either): the error names the fields
//! written before it, which stay, and those not written.

use std::path::{Path, PathBuf};

use runtime_core::{Error, Resources, Result};

use super::check::missing_controller;
use super::fs::CgFs;
use super::layout::{CgroupMode, Controller};
use super::resources::{self, fields_and_controllers, Current, Setting};
use super::{apply, v2, CgroupManager, ContainerCgroup};

/// One write of an update: the directory and the setting.
type Write = (PathBuf, Setting);

pub(crate) fn update(
    manager: &CgroupManager,
    cgroup: &ContainerCgroup,
    resources: &Resources,
) -> Result<()> {
    manager.check(resources)?;
    cgroup.require_exists()?;
    if resources.memory_check_before_update == Some(true) {
        check_usage(cgroup, resources)?;
    }
    let plan = match cgroup.mode {
        CgroupMode::Unified => v2_plan(manager, cgroup, resources)?,
        CgroupMode::Legacy | CgroupMode::Hybrid => v1_plan(cgroup, resources)?,
    };
    // A container that exits meanwhile takes its cgroup along: its files are missing then
    // because it is gone, not for want of a kernel feature.
    write_all(&cgroup.fs, &plan).map_err(|err| cgroup.require_exists().err().unwrap_or(err))
}

/// `memory_check_before_update`: a memory (or memory+swap) limit at or below what the
/// container uses now is refused before any write, as runc refuses it.
fn check_usage(cgroup: &ContainerCgroup, r: &Resources) -> Result<()> {
    let fs = &cgroup.fs;
    let (memory, memsw) = match cgroup.mode {
        CgroupMode::Unified => {
            let Some(dir) = cgroup.unified.as_deref() else {
                return Ok(());
            };
            let memory = usage(fs, &dir.join("memory.current"))?;
            let swap = usage(fs, &dir.join("memory.swap.current"))?;
            (memory, memory.zip(swap).map(|(m, s)| m + s))
        }
        _ => {
            let Some(dir) = cgroup.v1_dir(Controller::Memory) else {
                return Ok(());
            };
            (
                usage(fs, &dir.join("memory.usage_in_bytes"))?,
                usage(fs, &dir.join("memory.memsw.usage_in_bytes"))?,
            )
        }
    };
    for (field, limit, used) in [
        ("memory_limit", r.memory_limit, memory),
        ("memory_swap", r.memory_swap.filter(|s| *s > 0), memsw),
    ] {
        if let (Some(limit), Some(used)) = (limit, used) {
            if u64::try_from(limit).unwrap_or(0) <= used {
                return Err(Error::invalid(
                    format!("resources.{field}"),
                    format!(
                        "{limit} is not above what the container uses now, {used} bytes \
                         (memory_check_before_update)"
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// A usage counter in bytes; `None` if the kernel has no such file (no swap accounting).
fn usage(fs: &CgFs, path: &Path) -> Result<Option<u64>> {
    let Some(text) = fs.read_opt(path)? else {
        return Ok(None);
    };
    text.trim()
        .parse::<u64>()
        .map(Some)
        .map_err(|_| Error::Internal(format!("{}: {text:?} is not a number", path.display())))
}

fn v2_plan(manager: &CgroupManager, cgroup: &ContainerCgroup, r: &Resources) -> Result<Vec<Write>> {
    let fs = &cgroup.fs;
    let dir = cgroup
        .unified
        .as_deref()
        .ok_or_else(|| Error::Internal("unified mode without a cgroup2 directory".into()))?;
    let have = v2::parse_controllers(&fs.read(&dir.join("cgroup.controllers"))?);
    let mut missing: Vec<Controller> = fields_and_controllers(r, true)
        .into_iter()
        .map(|(_, controller)| controller)
        .filter(|controller| !have.contains(controller))
        .collect();
    missing.dedup();
    if !missing.is_empty() {
        v2::enable_for(fs, manager.unified_root()?, dir, &missing)?;
    }
    let mut current = Current::default();
    if r.memory_swap.is_some_and(|swap| swap >= 0) && r.memory_limit.is_none() {
        current.memory_limit = max_or_number(fs, &dir.join("memory.max"))?;
        if current.memory_limit.is_none() {
            return Err(Error::invalid(
                "resources.memory_swap",
                "needs memory_limit: the container has no memory limit",
            ));
        }
    }
    if r.cpu_period.is_some() && r.cpu_quota.is_none() {
        let path = dir.join("cpu.max");
        let text = fs.read(&path)?;
        let quota = text.split_whitespace().next().unwrap_or("max");
        current.cpu_quota = Some(parse_or_unlimited(quota, &path, "max", -1)?);
    }
    Ok(resources::v2_settings_keeping(r, current)
        .into_iter()
        .map(|setting| (dir.to_path_buf(), setting))
        .collect())
}

fn v1_plan(cgroup: &ContainerCgroup, r: &Resources) -> Result<Vec<Write>> {
    let mut settings = resources::v1_settings(r);
    if let Some(dir) = cgroup.v1_dir(Controller::Memory) {
        order_v1_memory(&cgroup.fs, dir, r, &mut settings)?;
    }
    settings
        .into_iter()
        .map(|setting| {
            let dir = cgroup
                .v1_dir(setting.controller)
                .ok_or_else(|| missing_controller(setting.field, setting.controller))?;
            Ok((dir.to_path_buf(), setting))
        })
        .collect()
}

/// Puts the memory writes of `settings` in an order the v1 kernel takes from the values in
/// `dir`, or refuses, before any write, a limit the current values make impossible.
fn order_v1_memory(
    fs: &CgFs,
    dir: &Path,
    r: &Resources,
    settings: &mut Vec<Setting>,
) -> Result<()> {
    if r.memory_limit.is_none() && r.memory_swap.is_none() {
        return Ok(());
    }
    let limit_now = bytes(fs, &dir.join("memory.limit_in_bytes"))?;
    let memsw_path = dir.join("memory.memsw.limit_in_bytes");
    let memsw_now = match fs.read_opt(&memsw_path)? {
        Some(text) => Some(parse_or_unlimited(
            text.trim(),
            &memsw_path,
            "-1",
            i64::MAX,
        )?),
        None => None,
    };
    match (r.memory_limit, r.memory_swap) {
        (Some(limit), None) => match memsw_now {
            Some(memsw) if limit > memsw => Err(Error::invalid(
                "resources.memory_limit",
                format!(
                    "{limit} is above the container's memory+swap limit {memsw}: give \
                     memory_swap as well"
                ),
            )),
            _ => Ok(()),
        },
        (None, Some(swap)) if swap >= 0 && swap < limit_now => Err(Error::invalid(
            "resources.memory_swap",
            format!("{swap} is below the container's memory limit {limit_now}"),
        )),
        (Some(_), Some(swap)) if swap < 0 || swap > limit_now => {
            // Rising above the current limit: memory+swap first, then the limit under it.
            let field = |name: &str| settings.iter().position(|s| s.field == name);
            if let (Some(at_limit), Some(at_swap)) = (field("memory_limit"), field("memory_swap")) {
                let swap_setting = settings.remove(at_swap);
                settings.insert(at_limit, swap_setting);
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Writes the plan in order; a v1 period the kernel refuses before the quota that comes with
/// it is written again after that quota.
fn write_all(fs: &CgFs, plan: &[Write]) -> Result<()> {
    let mut done: Vec<&'static str> = Vec::new();
    let mut deferred: Option<&Write> = None;
    for (at, write) in plan.iter().enumerate() {
        let (dir, setting) = write;
        match apply(fs, dir, setting) {
            Ok(()) => done.push(setting.field),
            Err(err)
                if setting.field == "cpu_period"
                    && is_einval(&err)
                    && plan[at + 1..].iter().any(|(_, s)| s.field == "cpu_quota") =>
            {
                deferred = Some(write);
            }
            Err(err) => return Err(with_progress(err, setting.field, &done, plan)),
        }
        if setting.field == "cpu_quota" {
            if let Some((dir, period)) = deferred.take() {
                apply(fs, dir, period)
                    .map_err(|err| with_progress(err, period.field, &done, plan))?;
                done.push(period.field);
            }
        }
    }
    Ok(())
}

fn is_einval(err: &Error) -> bool {
    matches!(err, Error::System(failure) if failure.code == libc::EINVAL)
}

/// `err` of the write of `failed`, saying which fields of the plan were written before it
/// (and kept) and which were not.
fn with_progress(err: Error, failed: &str, done: &[&str], plan: &[Write]) -> Error {
    let mut left: Vec<&str> = Vec::new();
    for (_, setting) in plan {
        let field = setting.field;
        if field != failed && !done.contains(&field) && !left.contains(&field) {
            left.push(field);
        }
    }
    let mut written: Vec<&str> = Vec::new();
    for field in done {
        if !written.contains(field) {
            written.push(field);
        }
    }
    let done = written.as_slice();
    if done.is_empty() && left.is_empty() {
        return err;
    }
    let list = |fields: &[&str]| {
        if fields.is_empty() {
            "none".to_string()
        } else {
            fields.join(", ")
        }
    };
    let note = format!(
        "(resources written before it, and kept: {}; not written: {})",
        list(done),
        list(&left)
    );
    match err {
        Error::System(mut failure) => {
            failure.step = format!("{} {note}", failure.step);
            Error::System(failure)
        }
        Error::Permission(mut failure) => {
            failure.step = format!("{} {note}", failure.step);
            Error::Permission(failure)
        }
        Error::Unsupported(what) => Error::Unsupported(format!("{what} {note}")),
        other => other,
    }
}

/// A v1 byte count (the kernel shows "no limit" as the largest page-aligned `i64`).
fn bytes(fs: &CgFs, path: &Path) -> Result<i64> {
    parse_or_unlimited(fs.read(path)?.trim(), path, "-1", i64::MAX)
}

/// `memory.max`: `None` for `max`.
fn max_or_number(fs: &CgFs, path: &Path) -> Result<Option<i64>> {
    let value = parse_or_unlimited(fs.read(path)?.trim(), path, "max", -1)?;
    Ok((value >= 0).then_some(value))
}

/// A number of a cgroup file, or `unlimited` as `as_unlimited`.
fn parse_or_unlimited(text: &str, path: &Path, unlimited: &str, as_unlimited: i64) -> Result<i64> {
    if text == unlimited {
        return Ok(as_unlimited);
    }
    text.parse::<i64>()
        .map_err(|_| Error::Internal(format!("{}: {text:?} is not a number", path.display())))
}
