//! THE ONE PLACE for the fields of `config.json` that runc honours and that other parts of
//! berth are adding to the model right now (process capabilities in five sets, umask,
//! oomScoreAdj; the rest of the cgroup resources and `cgroupsPath`; device nodes, rootfs
//! propagation, personality, domainname and the mount extensions; the hooks run inside the
//! container). Each is refused here, naming it, while it is set; once the model has it, its
//! check below becomes one or two lines of mapping in `to_command.rs`.

use oci_spec::runtime::{LinuxResources, Mount, Process, Spec};

use crate::OciError;

/// The reason every refusal here gives.
pub const NOT_YET: &str = "not yet supported by berth";

fn pending(field: impl Into<String>) -> OciError {
    OciError::unsupported(field, NOT_YET)
}

/// Refuses a field of the process that berth's `ProcessConfig` does not have yet.
/// (`process.capabilities` is decided in `to_command::capabilities`: today's model takes the
/// sets it can express, and refuses the others with [`NOT_YET`].)
pub fn process(process: &Process, at: &str) -> Result<(), OciError> {
    let _ = (process, at);
    Ok(())
}

/// Refuses a cgroup resource that berth's `Resources` does not have yet. `at` is the JSON
/// path of the resources object (`linux.resources`).
pub fn resources(resources: &LinuxResources, at: &str) -> Result<(), OciError> {
    if let Some(memory) = resources.memory() {
        #[allow(deprecated)]
        let kernel = memory.kernel();
        let set = [
            ("swappiness", memory.swappiness().is_some()),
            ("kernel", kernel.is_some()),
            ("kernelTCP", memory.kernel_tcp().is_some()),
            ("disableOOMKiller", memory.disable_oom_killer().is_some()),
            ("useHierarchy", memory.use_hierarchy().is_some()),
            ("checkBeforeUpdate", memory.check_before_update().is_some()),
        ];
        if let Some((name, _)) = set.iter().find(|(_, set)| *set) {
            return Err(pending(format!("{at}.memory.{name}")));
        }
    }
    if let Some(cpu) = resources.cpu() {
        let set = [
            ("realtimeRuntime", cpu.realtime_runtime().is_some()),
            ("realtimePeriod", cpu.realtime_period().is_some()),
            ("idle", cpu.idle().is_some()),
            ("burst", cpu.burst().is_some()),
        ];
        if let Some((name, _)) = set.iter().find(|(_, set)| *set) {
            return Err(pending(format!("{at}.cpu.{name}")));
        }
    }
    if let Some(io) = resources.block_io() {
        let set = [
            ("leafWeight", io.leaf_weight().is_some()),
            ("weightDevice", io.weight_device().is_some()),
            (
                "throttleReadBpsDevice",
                io.throttle_read_bps_device().is_some(),
            ),
            (
                "throttleWriteBpsDevice",
                io.throttle_write_bps_device().is_some(),
            ),
            (
                "throttleReadIOPSDevice",
                io.throttle_read_iops_device().is_some(),
            ),
            (
                "throttleWriteIOPSDevice",
                io.throttle_write_iops_device().is_some(),
            ),
        ];
        if let Some((name, _)) = set.iter().find(|(_, set)| *set) {
            return Err(pending(format!("{at}.blockIO.{name}")));
        }
    }
    if resources.hugepage_limits().is_some() {
        return Err(pending(format!("{at}.hugepageLimits")));
    }
    if resources.network().is_some() {
        return Err(pending(format!("{at}.network")));
    }
    if resources.unified().as_ref().is_some_and(|u| !u.is_empty()) {
        return Err(pending(format!("{at}.unified")));
    }
    if resources.rdma().as_ref().is_some_and(|r| !r.is_empty()) {
        return Err(pending(format!("{at}.rdma")));
    }
    Ok(())
}

/// `linux.cgroupsPath` that is not `/<parent>/<id>` (berth's own layout, which
/// `cgroup_parent` expresses).
pub fn cgroups_path(at: &str, path: &str, id: &str) -> OciError {
    OciError::unsupported(
        at,
        format!("{NOT_YET}: {path:?} (only an absolute path ending in the container's id, /<parent>/{id}, maps to berth's cgroup_parent today)"),
    )
}

/// The fields of the whole spec outside the process and resources.
pub fn spec(spec: &Spec) -> Result<(), OciError> {
    if spec.domainname().as_ref().is_some_and(|d| !d.is_empty()) {
        return Err(pending("domainname"));
    }
    if let Some(linux) = spec.linux() {
        if linux.devices().as_ref().is_some_and(|d| !d.is_empty()) {
            return Err(pending("linux.devices"));
        }
        if linux
            .rootfs_propagation()
            .as_ref()
            .is_some_and(|p| !p.is_empty())
        {
            return Err(pending("linux.rootfsPropagation"));
        }
        if linux.personality().is_some() {
            return Err(pending("linux.personality"));
        }
    }
    Ok(())
}

/// The mount options and fields of the mount extensions (idmapped mounts, recursive flags,
/// `tmpcopyup`).
pub fn mount(mount: &Mount, at: &str) -> Result<(), OciError> {
    if mount.uid_mappings().is_some() {
        return Err(pending(format!("{at}.uidMappings")));
    }
    if mount.gid_mappings().is_some() {
        return Err(pending(format!("{at}.gidMappings")));
    }
    for (i, option) in mount.options().iter().flatten().enumerate() {
        if PENDING_MOUNT_OPTIONS.contains(&option.as_str()) {
            return Err(OciError::unsupported(
                format!("{at}.options[{i}]"),
                format!("{NOT_YET}: {option:?}"),
            ));
        }
    }
    Ok(())
}

/// The mount options of runc that wait for the mounts helper: id mapping, the recursive
/// (`mount_setattr`) flags and `tmpcopyup`.
pub const PENDING_MOUNT_OPTIONS: &[&str] = &[
    "idmap",
    "ridmap",
    "tmpcopyup",
    "rro",
    "rrw",
    "rnosuid",
    "rsuid",
    "rnodev",
    "rdev",
    "rnoexec",
    "rexec",
    "rnodiratime",
    "rdiratime",
    "rrelatime",
    "rnorelatime",
    "rnoatime",
    "ratime",
    "rstrictatime",
    "rnostrictatime",
    "rnosymfollow",
    "rsymfollow",
];
