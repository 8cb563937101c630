//! Whether this host can apply a [`Resources`], found with reads only.

use std::path::Path;

use runtime_core::validate::parse_id_list;
use runtime_core::{Error, Resources, Result};

use super::fs::CgFs;
use super::layout::{CgroupMode, Controller};
use super::resources::fields_and_controllers;
use super::CgroupManager;

/// How many children of a v2 root to look at to learn what non-root cgroups offer.
const PROBE_LIMIT: usize = 32;

/// The error for a resource whose controller the host lacks; `create` gives it too.
pub(crate) fn missing_controller(field: &str, controller: Controller) -> Error {
    Error::Unsupported(format!(
        "resources.{field} on a host without the {} cgroup controller",
        controller.name()
    ))
}

/// Every set field has its controller: no I/O.
pub(crate) fn controllers(manager: &CgroupManager, resources: &Resources) -> Result<()> {
    let v2 = manager.mode() == CgroupMode::Unified;
    for (field, controller) in fields_and_controllers(resources, v2) {
        if !manager.has_controller(controller) {
            return Err(missing_controller(field, controller));
        }
    }
    Ok(())
}

pub(crate) fn check(manager: &CgroupManager, resources: &Resources) -> Result<()> {
    controllers(manager, resources)?;
    let fs = &manager.fs;
    let unified = manager.mode() == CgroupMode::Unified;
    if resources.cpuset_cpus.is_some() || resources.cpuset_mems.is_some() {
        let root = manager
            .controller_root(Controller::Cpuset)
            .ok_or_else(|| Error::Internal("cpuset checked but not mounted".into()))?;
        for (field, requested, v2_file, v1_files, what) in [
            (
                "cpuset_cpus",
                &resources.cpuset_cpus,
                "cpuset.cpus.effective",
                ["cpuset.effective_cpus", "cpuset.cpus"],
                "CPUs",
            ),
            (
                "cpuset_mems",
                &resources.cpuset_mems,
                "cpuset.mems.effective",
                ["cpuset.effective_mems", "cpuset.mems"],
                "memory nodes",
            ),
        ] {
            let Some(requested) = requested else {
                continue;
            };
            let files: &[&str] = if unified { &[v2_file] } else { &v1_files };
            let host = read_first(fs, root, files)?;
            within(field, requested, &host, what)?;
        }
    }
    if resources.memory_swap.is_some() {
        let root = manager.controller_root(Controller::Memory);
        let supported = match (unified, root) {
            (false, Some(root)) => Some(fs.exists(&root.join("memory.memsw.limit_in_bytes"))),
            // memory.swap.max exists on non-root cgroups only: ask one that has memory.
            (true, Some(root)) => probe_children(fs, root, "memory.max", &["memory.swap.max"])?,
            (_, None) => None,
        };
        if supported == Some(false) {
            let file = if unified {
                "memory.swap.max"
            } else {
                "memory.memsw.limit_in_bytes"
            };
            return Err(Error::Unsupported(format!(
                "resources.memory_swap on a host without swap accounting (no {file}; the \
                 kernel needs swapaccount=1)"
            )));
        }
    }
    if resources.blkio_weight.is_some() {
        let supported = if unified {
            let root = manager.controller_root(Controller::Io);
            match root {
                // iocost's root-only file: its io.weight is in every child.
                Some(root) if fs.exists(&root.join("io.cost.qos")) => Some(true),
                Some(root) => probe_children(fs, root, "io.stat", &["io.bfq.weight", "io.weight"])?,
                None => None,
            }
        } else {
            // blkio.bfq.weight is not on the root, but BFQ's statistics files are.
            manager.controller_root(Controller::Blkio).map(|root| {
                fs.exists(&root.join("blkio.weight"))
                    || fs.exists(&root.join("blkio.bfq.io_service_bytes"))
            })
        };
        if supported == Some(false) {
            let files = if unified {
                "io.bfq.weight or io.weight"
            } else {
                "blkio.weight or blkio.bfq.weight"
            };
            return Err(Error::Unsupported(format!(
                "resources.blkio_weight on a host without {files} (no I/O scheduler with \
                 cgroup weights: BFQ, or CFQ before Linux 5.0)"
            )));
        }
    }
    Ok(())
}

/// `requested` (a kernel list) must be inside `host`: `7: this host has CPUs 0-1`.
fn within(field: &str, requested: &str, host: &str, what: &str) -> Result<()> {
    let field = format!("resources.{field}");
    let wanted = parse_id_list(requested).map_err(|why| Error::invalid(&field, why))?;
    let host = host.trim();
    let present = if host.is_empty() {
        Vec::new()
    } else {
        parse_id_list(host)
            .map_err(|why| Error::Internal(format!("the host's list of {what} {host:?}: {why}")))?
    };
    if wanted.iter().all(|id| present.binary_search(id).is_ok()) {
        Ok(())
    } else {
        Err(Error::invalid(
            field,
            format!("{requested}: this host has {what} {host}"),
        ))
    }
}

fn read_first(fs: &CgFs, dir: &Path, files: &[&str]) -> Result<String> {
    for file in files {
        if let Some(text) = fs.read_opt(&dir.join(file))? {
            return Ok(text);
        }
    }
    Err(Error::Unsupported(format!(
        "cpuset on a host without {} in {}",
        files.join(" or "),
        dir.display()
    )))
}

/// What non-root cgroups offer, learned from the first child of `root` that has `marker`
/// (the controller is enabled there): whether it has any of `wanted`. `None` if no child
/// tells; `create` then finds out.
fn probe_children(fs: &CgFs, root: &Path, marker: &str, wanted: &[&str]) -> Result<Option<bool>> {
    for child in fs.subdirs(root)?.into_iter().take(PROBE_LIMIT) {
        if fs.exists(&child.join(marker)) {
            return Ok(Some(wanted.iter().any(|f| fs.exists(&child.join(f)))));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists() {
        assert!(within("cpuset_cpus", "0-1", "0-1\n", "CPUs").is_ok());
        assert!(within("cpuset_cpus", "1", "0-3,8-11\n", "CPUs").is_ok());
        let err = within("cpuset_cpus", "7", "0-1\n", "CPUs").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid resources.cpuset_cpus: 7: this host has CPUs 0-1"
        );
        let err = within("cpuset_mems", "0-1", "0\n", "memory nodes").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid resources.cpuset_mems: 0-1: this host has memory nodes 0"
        );
        assert!(within("cpuset_cpus", "x", "0", "CPUs").is_err());
    }
}
