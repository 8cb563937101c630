//! Whether this host can apply a [`Resources`], found with reads only.

use std::path::Path;

use runtime_core::validate::parse_id_list;
use runtime_core::{Error, Resources, Result};

use super::fs::CgFs;
use super::layout::{CgroupMode, Controller};
use super::resources::{fields_and_controllers, unified_controller};
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

/// The fields this cgroup version has no file for, and `unified` keys of controllers berth
/// does not know: no I/O.
pub(crate) fn version(manager: &CgroupManager, r: &Resources) -> Result<()> {
    let v2 = manager.mode() == CgroupMode::Unified;
    let refuse =
        |field: &str, why: &str| Err(Error::Unsupported(format!("resources.{field} {why}")));
    if !v2 {
        if !r.unified.is_empty() {
            return refuse(
                "unified",
                "on a cgroup v1 host (its keys are cgroup v2 interface files)",
            );
        }
        return Ok(());
    }
    let v1_only = [
        (r.memory_swappiness.is_some(), "memory_swappiness"),
        (
            r.memory_disable_oom_killer == Some(true),
            "memory_disable_oom_killer",
        ),
        (r.cpu_realtime_runtime.is_some(), "cpu_realtime_runtime"),
        (r.cpu_realtime_period.is_some(), "cpu_realtime_period"),
        (r.blkio_leaf_weight.is_some(), "blkio_leaf_weight"),
        (
            r.blkio_weight_device
                .iter()
                .any(|d| d.leaf_weight.is_some()),
            "blkio_weight_device",
        ),
        (r.network_class_id.is_some(), "network_class_id"),
        (!r.network_priorities.is_empty(), "network_priorities"),
    ];
    for (set, field) in v1_only {
        if set {
            let what = if field == "blkio_weight_device" {
                "with a leaf_weight on cgroup v2 (which has no leaf weights)"
            } else {
                "on cgroup v2 (which has no such file)"
            };
            return refuse(field, what);
        }
    }
    for file in r.unified.keys() {
        let (prefix, _) = file.split_once('.').unwrap_or((file, ""));
        if prefix != "cgroup" && unified_controller(file).is_none() {
            return refuse(
                "unified",
                &format!("{file}: the {prefix} controller is not one berth can enable"),
            );
        }
    }
    Ok(())
}

/// Every set field has its controller, and this cgroup version a file for it: no I/O.
pub(crate) fn controllers(manager: &CgroupManager, resources: &Resources) -> Result<()> {
    version(manager, resources)?;
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
    files(manager, resources)?;
    hugepage_sizes(manager, resources)?;
    if resources.blkio_weight.is_some()
        || resources
            .blkio_weight_device
            .iter()
            .any(|d| d.weight.is_some())
    {
        let field = if resources.blkio_weight.is_some() {
            "blkio_weight"
        } else {
            "blkio_weight_device"
        };
        let supported = if unified && field == "blkio_weight_device" {
            // A device's weight is BFQ's alone.
            manager
                .controller_root(Controller::Io)
                .map(|root| probe_children(fs, root, "io.stat", &["io.bfq.weight"]))
                .transpose()?
                .flatten()
        } else if unified {
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
                "resources.{field} on a host without {files} (no I/O scheduler with \
                 cgroup weights: BFQ, or CFQ before Linux 5.0)"
            )));
        }
    }
    Ok(())
}

/// Whether a field is set, its name, its controller, its v1 file, and its v2 file with the v2
/// file that marks a cgroup with the controller enabled.
type FileCheck<'a> = (
    bool,
    &'a str,
    Controller,
    &'a str,
    Option<(&'a str, &'a str)>,
);

/// The files of the newer fields: on v1 the hierarchy's root has them where the kernel does;
/// on v2 a child cgroup with the controller tells (none: `create` finds out).
fn files(manager: &CgroupManager, r: &Resources) -> Result<()> {
    let fs = &manager.fs;
    let unified = manager.mode() == CgroupMode::Unified;
    use Controller::*;
    let throttled = [
        &r.blkio_throttle_read_bps_device,
        &r.blkio_throttle_write_bps_device,
        &r.blkio_throttle_read_iops_device,
        &r.blkio_throttle_write_iops_device,
    ]
    .iter()
    .any(|list| !list.is_empty());
    let wanted: [FileCheck<'_>; 9] = [
        (
            r.memory_swappiness.is_some(),
            "memory_swappiness",
            Memory,
            "memory.swappiness",
            None,
        ),
        (
            r.memory_disable_oom_killer.is_some(),
            "memory_disable_oom_killer",
            Memory,
            "memory.oom_control",
            None,
        ),
        (
            r.cpu_realtime_runtime.is_some() || r.cpu_realtime_period.is_some(),
            if r.cpu_realtime_runtime.is_some() {
                "cpu_realtime_runtime"
            } else {
                "cpu_realtime_period"
            },
            Cpu,
            "cpu.rt_runtime_us",
            None,
        ),
        (
            r.cpu_burst.is_some(),
            "cpu_burst",
            Cpu,
            "cpu.cfs_burst_us",
            Some(("cpu.max.burst", "cpu.max")),
        ),
        (
            r.cpu_idle.is_some(),
            "cpu_idle",
            Cpu,
            "cpu.idle",
            Some(("cpu.idle", "cpu.max")),
        ),
        (
            r.blkio_leaf_weight.is_some()
                || r.blkio_weight_device
                    .iter()
                    .any(|d| d.leaf_weight.is_some()),
            if r.blkio_leaf_weight.is_some() {
                "blkio_leaf_weight"
            } else {
                "blkio_weight_device"
            },
            Blkio,
            "blkio.leaf_weight",
            None,
        ),
        (
            throttled,
            "blkio_throttle_read_bps_device",
            Blkio,
            "blkio.throttle.read_bps_device",
            Some(("io.max", "io.stat")),
        ),
        (
            r.network_class_id.is_some(),
            "network_class_id",
            NetCls,
            "net_cls.classid",
            None,
        ),
        (
            !r.network_priorities.is_empty(),
            "network_priorities",
            NetPrio,
            "net_prio.ifpriomap",
            None,
        ),
    ];
    for (set, field, controller, v1_file, v2) in wanted {
        if !set {
            continue;
        }
        let controller = match (unified, controller) {
            (true, Blkio) => Io,
            (_, c) => c,
        };
        let Some(root) = manager.controller_root(controller) else {
            continue;
        };
        let (supported, file) = match (unified, v2) {
            (false, _) => (Some(fs.exists(&root.join(v1_file))), v1_file),
            (true, Some((file, marker))) => (probe_children(fs, root, marker, &[file])?, file),
            (true, None) => (None, ""),
        };
        if supported == Some(false) {
            let field = if field.starts_with("blkio_throttle") {
                throttle_field(r)
            } else {
                field
            };
            return Err(Error::Unsupported(format!(
                "resources.{field} on a host without {file} (the kernel lacks the feature)"
            )));
        }
    }
    Ok(())
}

/// The first throttle field that is set.
fn throttle_field(r: &Resources) -> &'static str {
    [
        (
            &r.blkio_throttle_read_bps_device,
            "blkio_throttle_read_bps_device",
        ),
        (
            &r.blkio_throttle_write_bps_device,
            "blkio_throttle_write_bps_device",
        ),
        (
            &r.blkio_throttle_read_iops_device,
            "blkio_throttle_read_iops_device",
        ),
        (
            &r.blkio_throttle_write_iops_device,
            "blkio_throttle_write_iops_device",
        ),
    ]
    .iter()
    .find(|(list, _)| !list.is_empty())
    .map_or("blkio_throttle_read_bps_device", |(_, name)| name)
}

/// Each `hugepage_limits` size must be one this host has (`/sys/kernel/mm/hugepages`).
fn hugepage_sizes(manager: &CgroupManager, r: &Resources) -> Result<()> {
    if r.hugepage_limits.is_empty() {
        return Ok(());
    }
    let sizes = host_page_sizes(&manager.fs, &manager.hugepages)?;
    for (i, limit) in r.hugepage_limits.iter().enumerate() {
        if !sizes.contains(&limit.page_size) {
            return Err(Error::invalid(
                format!("resources.hugepage_limits[{i}].page_size"),
                format!(
                    "{}: this host has huge pages of {}",
                    limit.page_size,
                    if sizes.is_empty() {
                        "no size".to_string()
                    } else {
                        sizes.join(", ")
                    }
                ),
            ));
        }
    }
    Ok(())
}

/// The huge page sizes under `dir` (`hugepages-2048kB`), named as the hugetlb controller's
/// files name them (`2MB`).
pub(crate) fn host_page_sizes(fs: &CgFs, dir: &Path) -> Result<Vec<String>> {
    let mut sizes = Vec::new();
    for sub in fs.subdirs(dir)? {
        let name = sub.file_name().unwrap_or_default().to_string_lossy();
        let Some(kb) = name
            .strip_prefix("hugepages-")
            .and_then(|rest| rest.strip_suffix("kB"))
            .and_then(|n| n.parse::<u64>().ok())
        else {
            continue;
        };
        sizes.push(kb);
    }
    sizes.sort_unstable();
    Ok(sizes
        .into_iter()
        .map(|kb| page_size_name(kb * 1024))
        .collect())
}

/// The kernel's name of a page size in the hugetlb files (`mem_fmt`: whole GB, MB or KB).
pub(crate) fn page_size_name(bytes: u64) -> String {
    const KB: u64 = 1 << 10;
    const MB: u64 = 1 << 20;
    const GB: u64 = 1 << 30;
    if bytes >= GB {
        format!("{}GB", bytes / GB)
    } else if bytes >= MB {
        format!("{}MB", bytes / MB)
    } else {
        format!("{}KB", bytes / KB)
    }
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
    fn page_sizes_are_named_as_the_kernel_names_them() {
        assert_eq!(page_size_name(2048 * 1024), "2MB");
        assert_eq!(page_size_name(1 << 30), "1GB");
        assert_eq!(page_size_name(64 << 10), "64KB");
        assert_eq!(page_size_name(32 << 20), "32MB");
    }

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
