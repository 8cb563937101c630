//! `config.json` → [`Command`]: every field runc honours is mapped, or refused naming it
//! (see `docs/oci.md` for the table). OCI's semantics, not berth's defaults: what the config
//! does not say, the container does not get (no seccomp section: no filter; no
//! capabilities: none; no masked paths: none; a namespace not listed: the host's).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use oci_spec::runtime::{
    Capabilities, LinuxDevice, LinuxDeviceCgroup, LinuxDeviceType, LinuxIdMapping,
    LinuxNamespaceType, LinuxResources, LinuxSeccomp, LinuxThrottleDevice, Mount as OciMount,
    Process, Spec,
};
use runtime_core::{
    CapabilitySets, Command, ConsoleSize, DeviceNode, DeviceRule, HugepageLimit, IdMapping, Mount,
    NamespaceMode, Namespaces, NetworkPriority, Personality, ProcessConfig, Resources, Rlimit,
    SeccompProfile, SeccompSetting, ThrottleDevice, WeightDevice,
};

use crate::defaults::MOUNT_OPTIONS;
use crate::{Hook, Hooks, OciError};

/// The reason of the fields refused for good because this host has no such LSM.
const NO_APPARMOR: &str = "this host has no AppArmor";
const NO_SELINUX: &str = "this host has no SELinux";

/// The mapping of a whole spec; `bundle_dir` is absolute (relative paths of the config are
/// taken from it), `id` becomes `command.id`.
pub fn command_from_spec(
    spec: &Spec,
    bundle_dir: &Path,
    id: &str,
) -> Result<(Command, Hooks), OciError> {
    version(spec.version())?;
    refused(spec)?;

    let root = spec
        .root()
        .as_ref()
        .ok_or_else(|| OciError::invalid("root", "required on Linux"))?;
    let rootfs = absolute_in(bundle_dir, root.path());
    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| OciError::invalid("process", "required to create a container"))?;
    let mut process_config = process_from_oci_at(process, "process")?;
    let linux = spec.linux().clone().unwrap_or_default();
    process_config.seccomp = Some(seccomp_from_oci(linux.seccomp().as_ref())?);

    let mut command = Command::new(id, path_text(&rootfs, "root.path")?, process_config);
    command.readonly_rootfs = root.readonly().unwrap_or(false);
    command.namespaces = namespaces(spec)?;
    if command.namespaces.user == NamespaceMode::Private {
        let maps = |given: &Option<Vec<oci_spec::runtime::LinuxIdMapping>>, field: &str| match given
        {
            Some(list) if !list.is_empty() || field == "linux.gidMappings" => Ok(id_mappings(list)),
            _ => Err(OciError::invalid(
                field,
                "required with a new user namespace (runc needs it too)",
            )),
        };
        command.uid_mappings = Some(maps(linux.uid_mappings(), "linux.uidMappings")?);
        command.gid_mappings = Some(maps(linux.gid_mappings(), "linux.gidMappings")?);
    } else {
        for (field, given) in [
            ("linux.uidMappings", linux.uid_mappings()),
            ("linux.gidMappings", linux.gid_mappings()),
        ] {
            if given.as_ref().is_some_and(|m| !m.is_empty()) {
                return Err(OciError::invalid(
                    field,
                    "needs a new user namespace (a \"user\" entry of linux.namespaces without a path)",
                ));
            }
        }
    }
    command.hostname = hostname(spec, &command.namespaces);
    let (mounts, mount_index, kept) = mounts(spec.mounts().as_deref().unwrap_or(&[]), bundle_dir)?;
    command.mounts = mounts;
    command.writable_sysfs = kept.writable_sysfs;
    command.dev_noexec = kept.dev_noexec;
    if let Some(resources) = linux.resources() {
        command.resources = resources_from_oci_at(resources, "linux.resources")?;
        command.device_cgroup_rules = device_rules(
            resources.devices().as_deref().unwrap_or(&[]),
            "linux.resources.devices",
        )?;
    }
    if let Some(path) = linux.cgroups_path() {
        command.cgroup_path = cgroup_path(path)?;
    }
    let (device_nodes, device_index) = device_nodes(linux.devices().as_deref().unwrap_or(&[]))?;
    command.device_nodes = device_nodes;
    command.rootfs_propagation = linux.rootfs_propagation().clone().filter(|p| !p.is_empty());
    if let (Some(at), Some(propagation)) = (&kept.private_sys, &command.rootfs_propagation) {
        // berth's /sys is private as every mount of the container is, unless the root's
        // propagation is given to them all.
        if !matches!(propagation.as_str(), "private" | "rprivate") {
            return Err(OciError::unsupported(
                format!("{at}.options"),
                format!(
                    "a private /sys with rootfsPropagation {propagation:?}: berth's /sys takes \
                     the root's propagation"
                ),
            ));
        }
    }
    command.personality = linux.personality().as_ref().map(|p| Personality {
        domain: p.domain().to_string(),
        flags: p.flags().clone().unwrap_or_default(),
    });
    command.domainname = spec.domainname().clone().filter(|d| !d.is_empty());
    command.masked_paths = Some(linux.masked_paths().clone().unwrap_or_default());
    command.readonly_paths = Some(linux.readonly_paths().clone().unwrap_or_default());
    command.sysctls = linux
        .sysctl()
        .as_ref()
        .map(|s| s.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();

    command
        .validate()
        .map_err(|e| from_berth(renumber_devices(e, &device_index), &mount_index))?;
    idmapped_mounts(&command, &mount_index)?;
    let hooks = hooks(spec)?;
    Ok((command, hooks))
}

/// `berth exec --process FILE`: the OCI `process` object as a [`ProcessConfig`]. Its
/// `seccomp` is [`SeccompSetting::Unconfined`]: an exec gets the container's filter, which
/// the caller sets from the container's `linux.seccomp` ([`seccomp_from_oci`]).
pub fn process_from_oci(process: &Process) -> Result<ProcessConfig, OciError> {
    let config = process_from_oci_at(process, "process")?;
    config.validate("process").map_err(|e| from_berth(e, &[]))?;
    Ok(config)
}

fn process_from_oci_at(process: &Process, at: &str) -> Result<ProcessConfig, OciError> {
    refused_process(process, at)?;
    let args = process.args().clone().unwrap_or_default();
    if args.is_empty() {
        return Err(OciError::invalid(
            format!("{at}.args"),
            "required, with at least the program",
        ));
    }
    let mut config = ProcessConfig::new(args);
    config.env = process.env().clone().unwrap_or_default();
    config.cwd = path_text(process.cwd(), &format!("{at}.cwd"))?;
    let user = process.user();
    config.user = format!("{}:{}", user.uid(), user.gid());
    // OCI's additionalGids are the exact supplementary groups (runc sets those alone).
    config.groups = Some(user.additional_gids().clone().unwrap_or_default());
    config.tty = process.terminal().unwrap_or(false);
    if let Some(size) = process.console_size() {
        let cells = |value: u64, name: &str| {
            u16::try_from(value).map_err(|_| {
                OciError::invalid(
                    format!("{at}.consoleSize.{name}"),
                    format!("{value} is out of range (0-65535)"),
                )
            })
        };
        config.console_size = Some(ConsoleSize {
            rows: cells(size.height(), "height")?,
            cols: cells(size.width(), "width")?,
        });
    }
    config.no_new_privileges = process.no_new_privileges().unwrap_or(false);
    config.rlimits = process
        .rlimits()
        .iter()
        .flatten()
        .map(|r| Rlimit {
            kind: serde_json::to_value(r.typ())
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            soft: r.soft(),
            hard: r.hard(),
        })
        .collect();
    capabilities(process, &mut config);
    config.umask = user.umask();
    config.oom_score_adj = process.oom_score_adj();
    config.seccomp = Some(SeccompSetting::Unconfined);
    Ok(config)
}

/// The five capability sets, exactly as given (no `capabilities`: every set empty).
fn capabilities(process: &Process, config: &mut ProcessConfig) {
    let names = |set: &Option<Capabilities>| -> Vec<String> {
        let mut names: Vec<String> = set
            .iter()
            .flatten()
            .filter_map(|c| serde_json::to_value(c).ok())
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect();
        names.sort();
        names
    };
    config.capabilities = Some(match process.capabilities() {
        Some(caps) => CapabilitySets {
            bounding: names(caps.bounding()),
            effective: names(caps.effective()),
            inheritable: names(caps.inheritable()),
            permitted: names(caps.permitted()),
            ambient: names(caps.ambient()),
        },
        None => CapabilitySets::default(),
    });
}

/// `linux.seccomp` as berth's setting: none is no filter at all.
pub fn seccomp_from_oci(seccomp: Option<&LinuxSeccomp>) -> Result<SeccompSetting, OciError> {
    let Some(seccomp) = seccomp else {
        return Ok(SeccompSetting::Unconfined);
    };
    if seccomp.listener_path().is_some() {
        return Err(OciError::unsupported(
            "linux.seccomp.listenerPath",
            "seccomp user notification (an agent's socket)",
        ));
    }
    if seccomp.listener_metadata().is_some() {
        return Err(OciError::unsupported(
            "linux.seccomp.listenerMetadata",
            "seccomp user notification (an agent's socket)",
        ));
    }
    let value = serde_json::to_value(seccomp).map_err(|e| OciError::Json {
        field: "linux.seccomp".into(),
        reason: e.to_string(),
    })?;
    let profile: SeccompProfile =
        serde_path_to_error::deserialize(&value).map_err(|e| OciError::Json {
            field: format!("linux.seccomp.{}", e.path()),
            reason: e.inner().to_string(),
        })?;
    Ok(SeccompSetting::Profile(Box::new(profile)))
}

/// `berth update --resources FILE`: the OCI `linux.resources` object as berth's
/// [`Resources`]. Its `devices` are not part of an update (runc's update ignores them too).
pub fn resources_from_oci(resources: &LinuxResources) -> Result<Resources, OciError> {
    let mapped = resources_from_oci_at(resources, "linux.resources")?;
    let mut probe = Command::new("resources", "/rootfs", ProcessConfig::new(["x"]));
    probe.resources = mapped.clone();
    probe.validate().map_err(|e| from_berth(e, &[]))?;
    Ok(mapped)
}

fn resources_from_oci_at(resources: &LinuxResources, at: &str) -> Result<Resources, OciError> {
    if resources.rdma().as_ref().is_some_and(|r| !r.is_empty()) {
        return Err(OciError::unsupported(
            format!("{at}.rdma"),
            "berth has no rdma cgroup limits",
        ));
    }
    let mut out = Resources::default();
    if let Some(memory) = resources.memory() {
        out.memory_limit = set(memory.limit());
        out.memory_reservation = set(memory.reservation());
        out.memory_swap = set(memory.swap());
        // runc: a swappiness of -1 (as a uint64) leaves it alone.
        out.memory_swappiness = memory.swappiness().filter(|s| *s != u64::MAX);
        #[allow(deprecated)]
        let kernel = memory.kernel();
        out.memory_kernel = kernel;
        out.memory_kernel_tcp = memory.kernel_tcp();
        out.memory_disable_oom_killer = memory.disable_oom_killer();
        out.memory_use_hierarchy = memory.use_hierarchy();
        out.memory_check_before_update = memory.check_before_update();
    }
    if let Some(cpu) = resources.cpu() {
        out.cpu_shares = set(cpu.shares());
        out.cpu_quota = set(cpu.quota());
        out.cpu_period = set(cpu.period());
        out.cpu_realtime_runtime = set(cpu.realtime_runtime());
        out.cpu_realtime_period = set(cpu.realtime_period());
        out.cpu_idle = cpu.idle();
        out.cpu_burst = cpu.burst();
        out.cpuset_cpus = cpu.cpus().clone().filter(|c| !c.is_empty());
        out.cpuset_mems = cpu.mems().clone().filter(|m| !m.is_empty());
    }
    if let Some(pids) = resources.pids() {
        // runc: 0 leaves the limit alone, a negative value is no limit.
        out.pids_limit = match pids.limit() {
            0 => None,
            n if n < 0 => Some(-1),
            n => Some(n),
        };
    }
    if let Some(io) = resources.block_io() {
        let at = format!("{at}.blockIO");
        out.blkio_weight = set(io.weight());
        out.blkio_leaf_weight = set(io.leaf_weight());
        for (i, device) in io.weight_device().iter().flatten().enumerate() {
            let here = format!("{at}.weightDevice[{i}]");
            out.blkio_weight_device.push(WeightDevice {
                major: device_number(device.major(), &format!("{here}.major"))?,
                minor: device_number(device.minor(), &format!("{here}.minor"))?,
                weight: device.weight(),
                leaf_weight: device.leaf_weight(),
            });
        }
        out.blkio_throttle_read_bps_device = throttles(
            io.throttle_read_bps_device(),
            &format!("{at}.throttleReadBpsDevice"),
        )?;
        out.blkio_throttle_write_bps_device = throttles(
            io.throttle_write_bps_device(),
            &format!("{at}.throttleWriteBpsDevice"),
        )?;
        out.blkio_throttle_read_iops_device = throttles(
            io.throttle_read_iops_device(),
            &format!("{at}.throttleReadIOPSDevice"),
        )?;
        out.blkio_throttle_write_iops_device = throttles(
            io.throttle_write_iops_device(),
            &format!("{at}.throttleWriteIOPSDevice"),
        )?;
    }
    for (i, limit) in resources.hugepage_limits().iter().flatten().enumerate() {
        let bytes = u64::try_from(limit.limit()).map_err(|_| {
            OciError::invalid(
                format!("{at}.hugepageLimits[{i}].limit"),
                format!("{}: must be 0 or more bytes", limit.limit()),
            )
        })?;
        out.hugepage_limits.push(HugepageLimit {
            page_size: limit.page_size().clone(),
            limit: bytes,
        });
    }
    if let Some(network) = resources.network() {
        out.network_class_id = network.class_id();
        out.network_priorities = network
            .priorities()
            .iter()
            .flatten()
            .map(|p| NetworkPriority {
                name: p.name().clone(),
                priority: p.priority(),
            })
            .collect();
    }
    out.unified = resources
        .unified()
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Ok(out)
}

/// A limit whose 0 means "not set", as runc reads it (its cgroup code writes only what is not
/// 0): Docker sends `cpu.shares: 0` and `blockIO.weight: 0` for the limits it was not given.
/// So for `memory.limit`, `reservation`, `swap`, `cpu.shares`, `quota`, `period`,
/// `realtimeRuntime`, `realtimePeriod` and `blockIO.weight`, `leafWeight`.
fn set<T: Default + PartialEq>(value: Option<T>) -> Option<T> {
    value.filter(|v| *v != T::default())
}

/// A device's major or minor number, which berth holds in 32 bits.
fn device_number(n: i64, field: &str) -> Result<u32, OciError> {
    u32::try_from(n).map_err(|_| OciError::invalid(field, format!("{n} is out of range")))
}

fn throttles(
    list: &Option<Vec<LinuxThrottleDevice>>,
    at: &str,
) -> Result<Vec<ThrottleDevice>, OciError> {
    list.iter()
        .flatten()
        .enumerate()
        .map(|(i, device)| {
            Ok(ThrottleDevice {
                major: device_number(device.major(), &format!("{at}[{i}].major"))?,
                minor: device_number(device.minor(), &format!("{at}[{i}].minor"))?,
                rate: device.rate(),
            })
        })
        .collect()
}

fn id_mappings(list: &[LinuxIdMapping]) -> Vec<IdMapping> {
    list.iter()
        .map(|m| IdMapping {
            container_id: m.container_id(),
            host_id: m.host_id(),
            size: m.size(),
        })
        .collect()
}

/// `linux.devices`: nodes made from their numbers, in order (a FIFO's zero numbers are
/// none), and the config's index of each. `/dev/ptmx` is left out, as runc's createDevices
/// leaves it: the container's `/dev/ptmx` is the link to its own `pts/ptmx` (a privileged
/// container's config lists every device node of the host's `/dev`, this one too).
fn device_nodes(list: &[LinuxDevice]) -> Result<(Vec<DeviceNode>, Vec<usize>), OciError> {
    let mut out = Vec::new();
    let mut index = Vec::new();
    for (i, device) in list.iter().enumerate() {
        let at = format!("linux.devices[{i}]");
        if normal_path(&device.path().to_string_lossy()) == "/dev/ptmx" {
            continue;
        }
        index.push(i);
        let fifo = device.typ() == LinuxDeviceType::P;
        let number = |n: i64, name: &str| -> Result<Option<u32>, OciError> {
            if fifo && n == 0 {
                return Ok(None);
            }
            device_number(n, &format!("{at}.{name}")).map(Some)
        };
        out.push(DeviceNode {
            path: path_text(device.path(), &format!("{at}.path"))?,
            kind: device.typ().as_str().chars().next().unwrap_or('a'),
            major: number(device.major(), "major")?,
            minor: number(device.minor(), "minor")?,
            file_mode: device
                .file_mode()
                .map(|mode| own_type_bits_cleared(mode, device.typ())),
            uid: device.uid(),
            gid: device.gid(),
        });
    }
    Ok((out, index))
}

/// An error naming berth's `device_nodes[n]`, renamed for the config's index of that node.
fn renumber_devices(error: runtime_core::Error, index: &[usize]) -> runtime_core::Error {
    match error {
        runtime_core::Error::InvalidArgument { field, reason } => {
            let field = field
                .strip_prefix("device_nodes[")
                .and_then(|rest| rest.split_once(']'))
                .and_then(|(n, tail)| {
                    let i = index.get(n.parse::<usize>().ok()?)?;
                    Some(format!("device_nodes[{i}]{tail}"))
                })
                .unwrap_or(field);
            runtime_core::Error::InvalidArgument { field, reason }
        }
        other => other,
    }
}

/// A device's `fileMode` without the file type bits of its own type: podman writes them
/// (`S_IFCHR | 0600` for a character device), and runc ORs the type in anyway. Other bits are
/// left for berth to refuse.
fn own_type_bits_cleared(mode: u32, kind: LinuxDeviceType) -> u32 {
    // Linux's S_IFMT, S_IFCHR, S_IFBLK and S_IFIFO (this crate builds for Windows too).
    const FORMAT: u32 = 0o170000;
    let own = match kind {
        LinuxDeviceType::C | LinuxDeviceType::U => 0o020000,
        LinuxDeviceType::B => 0o060000,
        LinuxDeviceType::P => 0o010000,
        _ => return mode,
    };
    if mode & FORMAT == own {
        mode & !FORMAT
    } else {
        mode
    }
}

fn device_rules(rules: &[LinuxDeviceCgroup], at: &str) -> Result<Vec<DeviceRule>, OciError> {
    let mut out = Vec::new();
    for (i, rule) in rules.iter().enumerate() {
        let here = format!("{at}[{i}]");
        let kind = match rule.typ() {
            None | Some(oci_spec::runtime::LinuxDeviceType::A) => 'a',
            Some(oci_spec::runtime::LinuxDeviceType::C) => 'c',
            Some(oci_spec::runtime::LinuxDeviceType::B) => 'b',
            Some(other) => {
                return Err(OciError::invalid(
                    format!("{here}.type"),
                    format!("{other:?}: a device rule's type is a, b or c"),
                ))
            }
        };
        let access = rule.access().clone().unwrap_or_else(|| "rwm".to_string());
        let access = if access.is_empty() {
            "rwm".to_string()
        } else {
            access
        };
        if access.chars().any(|c| !matches!(c, 'r' | 'w' | 'm')) {
            return Err(OciError::invalid(
                format!("{here}.access"),
                format!("{access:?}: some of r, w and m"),
            ));
        }
        let number = |n: Option<i64>, name: &str| -> Result<Option<u32>, OciError> {
            match n {
                None | Some(-1) => Ok(None),
                Some(n) => u32::try_from(n).map(Some).map_err(|_| {
                    OciError::invalid(format!("{here}.{name}"), format!("{n} is out of range"))
                }),
            }
        };
        let major = number(rule.major(), "major")?;
        let minor = number(rule.minor(), "minor")?;
        // In order, denies included: berth reads the list from "deny all", then adds its
        // standard nodes after it, as runc does.
        out.push(DeviceRule {
            kind,
            major,
            minor,
            access,
            allow: rule.allow(),
        });
    }
    Ok(out)
}

/// `linux.cgroupsPath`: the container's cgroup, absolute or not, from each hierarchy's root
/// (`cgroup_path`); empty is none. systemd's `slice:prefix:name` is refused: berth has no
/// systemd cgroup driver.
fn cgroup_path(path: &Path) -> Result<Option<String>, OciError> {
    let at = "linux.cgroupsPath";
    let text = path_text(path, at)?;
    if text.is_empty() {
        return Ok(None);
    }
    if !text.contains('/') && text.split(':').count() == 3 {
        return Err(OciError::unsupported(
            at,
            format!(
                "{text:?} is systemd's slice:prefix:name form: berth has no systemd cgroup \
                 driver (give a cgroup path)"
            ),
        ));
    }
    Ok(Some(text.trim_start_matches('/').to_string()))
}

fn namespaces(spec: &Spec) -> Result<Namespaces, OciError> {
    let mut out = Namespaces {
        pid: NamespaceMode::Host,
        ipc: NamespaceMode::Host,
        uts: NamespaceMode::Host,
        mount: NamespaceMode::Host,
        net: NamespaceMode::Host,
        cgroup: NamespaceMode::Host,
        user: NamespaceMode::Host,
    };
    let listed = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default();
    let mut seen = Vec::new();
    for (i, ns) in listed.iter().enumerate() {
        let at = format!("linux.namespaces[{i}]");
        let kind = ns.typ();
        if seen.contains(&kind) {
            return Err(OciError::invalid(
                format!("{at}.type"),
                format!("{kind:?} is listed twice"),
            ));
        }
        seen.push(kind);
        let mode = match ns.path() {
            Some(path) => NamespaceMode::Path(path_text(path, &format!("{at}.path"))?),
            // A new network namespace gets lo up, as with runc: berth's "none".
            None if kind == LinuxNamespaceType::Network => NamespaceMode::None,
            None => NamespaceMode::Private,
        };
        let slot = match kind {
            LinuxNamespaceType::Pid => &mut out.pid,
            LinuxNamespaceType::Ipc => &mut out.ipc,
            LinuxNamespaceType::Uts => &mut out.uts,
            LinuxNamespaceType::Mount => &mut out.mount,
            LinuxNamespaceType::Network => &mut out.net,
            LinuxNamespaceType::Cgroup => &mut out.cgroup,
            LinuxNamespaceType::User => &mut out.user,
            LinuxNamespaceType::Time => {
                return Err(OciError::unsupported(
                    format!("{at}.type"),
                    "time namespaces are not supported by berth",
                ))
            }
        };
        *slot = mode;
    }
    if out.mount == NamespaceMode::Host {
        return Err(OciError::unsupported(
            "linux.namespaces",
            "no \"mount\" namespace: berth always builds the rootfs in a mount namespace of the container's own",
        ));
    }
    Ok(out)
}

/// The hostname: the config's, else (in a new uts namespace) the host's, which a new uts
/// namespace starts with and runc leaves alone. `None` when berth has nothing to set.
fn hostname(spec: &Spec, namespaces: &Namespaces) -> Option<String> {
    match spec.hostname().as_deref() {
        Some(name) if !name.is_empty() => Some(name.to_string()),
        _ if namespaces.uts == NamespaceMode::Private => host_hostname(),
        _ => None,
    }
}

/// The host's name, read from `/proc/sys/kernel/hostname`; none on a platform without it, or
/// when berth would not take it as a hostname (berth then names the container by its id).
fn host_hostname() -> Option<String> {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").ok()?;
    let name = name.trim();
    let valid = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with(['-', '.'])
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    valid.then(|| name.to_string())
}

/// The config's mounts as berth's `mounts`, and for each of them the index of the config's
/// mount it came from. berth mounts `/proc`, `/dev`, `/dev/pts`, `/dev/shm`, `/dev/mqueue` and
/// `/sys` itself, first: a config mount of one of those that berth's standard mount already
/// is, is left to it; a different `/dev/shm` or `/dev/mqueue` is mounted on top of berth's;
/// a different `/proc`, `/dev`, `/dev/pts` or `/sys` is refused, but for a writable sysfs at
/// `/sys` (a privileged container's), which is berth's own made writable. Returns the mounts
/// of the command, their indexes in the config, and what of the config's standard mounts
/// berth's keep.
fn mounts(
    list: &[OciMount],
    bundle_dir: &Path,
) -> Result<(Vec<Mount>, Vec<usize>, StandardKept), OciError> {
    let mut out = Vec::new();
    let mut index = Vec::new();
    let mut kept = StandardKept::default();
    for (i, mount) in list.iter().enumerate() {
        let at = format!("mounts[{i}]");
        let destination = normal_path(&path_text(
            mount.destination(),
            &format!("{at}.destination"),
        )?);
        // As given (`defaults` too, which berth's mounts take and ignore), so that berth's
        // errors name the config's option by its index.
        let options: Vec<String> = mount.options().clone().unwrap_or_default();
        let bind_option = options.iter().any(|o| o == "bind" || o == "rbind");
        let kind = match mount.typ().as_deref() {
            Some("") | None if bind_option => "bind".to_string(),
            Some("") | None => {
                return Err(OciError::invalid(
                    format!("{at}.type"),
                    "required unless the options hold bind or rbind",
                ))
            }
            // runc's "none" (or any type) with a bind option is a bind.
            Some(_) if bind_option => "bind".to_string(),
            Some(kind) => kind.to_string(),
        };
        let source = match mount.source() {
            None => None,
            Some(source) => {
                let text = path_text(source, &format!("{at}.source"))?;
                let is_bind = kind == "bind" || bind_option;
                if is_bind && !text.starts_with('/') {
                    // runc takes a relative bind source from the bundle.
                    Some(path_text(
                        &bundle_dir.join(source),
                        &format!("{at}.source"),
                    )?)
                } else {
                    Some(text)
                }
            }
        };
        let maps = |given: &Option<Vec<LinuxIdMapping>>| {
            given
                .as_deref()
                .filter(|list| !list.is_empty())
                .map(id_mappings)
        };
        let mapped = Mount {
            source,
            destination: destination.clone(),
            kind,
            options,
            uid_mappings: maps(mount.uid_mappings()),
            gid_mappings: maps(mount.gid_mappings()),
        };
        mount_options(&mapped, &at)?;
        match standard(&mapped, &at)? {
            Standard::Covered => {
                if mapped.destination == "/dev" {
                    kept.dev_noexec = mapped.options.iter().any(|o| o == "noexec");
                }
            }
            Standard::WritableSys => kept.writable_sysfs = true,
            Standard::Other => {
                out.push(mapped);
                index.push(i);
                continue;
            }
        }
        if mapped.destination == "/sys"
            && mapped
                .options
                .iter()
                .any(|o| o == "private" || o == "rprivate")
        {
            kept.private_sys = Some(at);
        }
    }
    Ok((out, index, kept))
}

/// What of the config's own standard mounts berth's standard mounts keep.
#[derive(Default)]
struct StandardKept {
    /// `/sys` read-write (a privileged container's).
    writable_sysfs: bool,
    /// `/dev` `noexec` (podman's).
    dev_noexec: bool,
    /// `/sys` `private` or `rprivate` (podman's privileged one): the mount's field.
    private_sys: Option<String>,
}

/// berth maps an idmapped bind through the container's own user namespace: mappings of a
/// mount's own are taken only when they are the container's (runc would make a user
/// namespace for others). berth's driver refuses the others too, with its own mount index.
fn idmapped_mounts(command: &Command, mount_index: &[usize]) -> Result<(), OciError> {
    let (uids, gids) = command.effective_id_mappings();
    let private = command.namespaces.user == NamespaceMode::Private;
    for (n, mount) in command.mounts.iter().enumerate() {
        for (name, given, container) in [
            ("uidMappings", &mount.uid_mappings, &uids),
            ("gidMappings", &mount.gid_mappings, &gids),
        ] {
            let Some(given) = given else { continue };
            if !private || given != container {
                let i = mount_index.get(n).copied().unwrap_or(n);
                return Err(OciError::unsupported(
                    format!("mounts[{i}].{name}"),
                    "mappings other than the container's own user namespace's (berth maps an \
                     idmapped mount through the container's user namespace)",
                ));
            }
        }
    }
    Ok(())
}

/// runc's `acl` and `noacl` (`MS_POSIXACL`), which berth's mounts do not set: the library
/// would take them for the filesystem's data.
const POSIX_ACL_OPTIONS: &[&str] = &["acl", "noacl"];

/// The options berth's mounts refuse (runtime-linux `mount_options.rs`), with its reasons,
/// checked here to name the config's option; and the mistakes its mounts find later: data on
/// a bind, `tmpcopyup` off a tmpfs.
fn mount_options(mount: &Mount, at: &str) -> Result<(), OciError> {
    for (j, option) in mount.options.iter().enumerate() {
        let here = format!("{at}.options[{j}]");
        let refused = match option.as_str() {
            "remount" => Some("remounting is not a mount a container is made of"),
            "iversion" | "noiversion" => {
                Some("i_version is a superblock flag the new mount API does not set")
            }
            "silent" | "loud" => Some("MS_SILENT is not a flag of the new mount API"),
            o if o.starts_with("X-") || o.starts_with("x-") => {
                Some("X-* options are for mount(8) and its helpers, not the kernel")
            }
            o if POSIX_ACL_OPTIONS.contains(&o) => {
                Some("MS_POSIXACL is not a flag berth's mounts set")
            }
            _ => None,
        };
        if let Some(why) = refused {
            return Err(OciError::unsupported(
                here,
                format!("the mount option {option:?} ({why})"),
            ));
        }
        let flag = MOUNT_OPTIONS.contains(&option.as_str());
        if mount.is_bind() && !flag {
            return Err(OciError::invalid(
                here,
                format!("unknown option {option:?}; a bind mount takes only mount flags"),
            ));
        }
        if option == "tmpcopyup" && (mount.is_bind() || mount.kind != "tmpfs") {
            return Err(OciError::invalid(
                here,
                "tmpcopyup is for a tmpfs mount only",
            ));
        }
    }
    Ok(())
}

enum Standard {
    /// berth's own standard mount is this one.
    Covered,
    /// berth's own `/sys`, read-write: `Command::writable_sysfs`.
    WritableSys,
    /// Not one of berth's: a mount of the command (for `/dev/shm` and `/dev/mqueue`, on top
    /// of berth's).
    Other,
}

/// Flags that change nothing on one of berth's standard mounts: each one's own, and those
/// that say what it is anyway (`rw`, and `relatime`, the kernel's default, where berth sets
/// no access-time mode).
fn standard(mount: &Mount, at: &str) -> Result<Standard, OciError> {
    let plain = ["nosuid", "noexec", "nodev", "rw", "relatime"];
    let (kinds, allowed, describe): (&[&str], Vec<&str>, &str) = match mount.destination.as_str() {
        "/proc" => (
            &["proc"],
            plain.to_vec(),
            "a proc of its pid namespace, nosuid,noexec,nodev",
        ),
        // `noexec` is honoured (`dev_noexec`): podman's /dev has it.
        "/dev" => (
            &["tmpfs"],
            vec![
                "nosuid",
                "noexec",
                "strictatime",
                "mode=755",
                "size=65536k",
                "rw",
            ],
            "a tmpfs, nosuid,strictatime,mode=755,size=65536k (and noexec if asked), with the \
             standard nodes",
        ),
        "/dev/pts" => (
            &["devpts"],
            vec![
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
                "rw",
                "relatime",
            ],
            "a new devpts instance, nosuid,noexec,newinstance,ptmxmode=0666,mode=0620",
        ),
        "/dev/shm" => (
            &["tmpfs"],
            vec![
                "nosuid",
                "noexec",
                "nodev",
                "mode=1777",
                "size=65536k",
                "rw",
                "relatime",
            ],
            "",
        ),
        "/dev/mqueue" => (&["mqueue"], plain.to_vec(), ""),
        "/sys" => (
            &["sysfs"],
            // `private`/`rprivate` (podman's privileged /sys): berth's is private anyway,
            // unless a rootfsPropagation says otherwise (checked with it).
            vec![
                "nosuid", "noexec", "nodev", "ro", "relatime", "private", "rprivate",
            ],
            "a read-only sysfs (or a read-only copy of the host's /sys), nosuid,noexec,nodev",
        ),
        _ => return Ok(Standard::Other),
    };
    let options: Vec<&str> = mount
        .options
        .iter()
        .map(String::as_str)
        .filter(|o| *o != "defaults")
        // devpts's gid=5 (the tty group): berth's pty slaves keep the process's group.
        .filter(|o| !(mount.destination == "/dev/pts" && o.starts_with("gid=")))
        .collect();
    let ro_sys_copy = mount.destination == "/sys"
        && mount.is_bind()
        && mount.source.as_deref() == Some("/sys")
        && options.contains(&"ro")
        && options.iter().all(|o| {
            matches!(
                *o,
                "bind" | "rbind" | "ro" | "nosuid" | "noexec" | "nodev" | "relatime"
            )
        });
    let same = kinds.contains(&mount.kind.as_str())
        && options.iter().all(|o| allowed.contains(o))
        && (mount.destination != "/sys" || options.contains(&"ro"));
    if same || ro_sys_copy {
        return Ok(Standard::Covered);
    }
    // A privileged container's /sys (Docker's, containerd's): a sysfs without ro.
    if mount.destination == "/sys"
        && mount.kind == "sysfs"
        && options
            .iter()
            .all(|o| *o == "rw" || (allowed.contains(o) && *o != "ro"))
    {
        return Ok(Standard::WritableSys);
    }
    if describe.is_empty() {
        // /dev/shm and /dev/mqueue: the config's own, on top of berth's.
        return Ok(Standard::Other);
    }
    Err(OciError::unsupported(
        at,
        format!(
            "{} ({} {:?}): berth always mounts its own {}: {describe}",
            mount.destination, mount.kind, mount.options, mount.destination
        ),
    ))
}

/// `/a//b/` → `/a/b`.
fn normal_path(path: &str) -> String {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    if path.starts_with('/') {
        format!("/{}", parts.join("/"))
    } else {
        parts.join("/")
    }
}

fn hooks(spec: &Spec) -> Result<Hooks, OciError> {
    let Some(hooks) = spec.hooks() else {
        return Ok(Hooks::default());
    };
    #[allow(deprecated)]
    let prestart = hooks.prestart();
    let list = |given: &Option<Vec<oci_spec::runtime::Hook>>, name: &str| {
        given
            .iter()
            .flatten()
            .enumerate()
            .map(|(i, hook)| {
                let at = format!("hooks.{name}[{i}]");
                if !hook.path().is_absolute() {
                    return Err(OciError::invalid(
                        format!("{at}.path"),
                        format!(
                            "{:?} is relative; an absolute path is required",
                            hook.path()
                        ),
                    ));
                }
                let timeout = match hook.timeout() {
                    None => None,
                    Some(secs) if secs > 0 => Some(Duration::from_secs(secs as u64)),
                    Some(secs) => {
                        return Err(OciError::invalid(
                            format!("{at}.timeout"),
                            format!("{secs}: must be greater than zero"),
                        ))
                    }
                };
                Ok(Hook {
                    path: hook.path().clone(),
                    args: hook.args().clone().unwrap_or_default(),
                    env: hook.env().clone().unwrap_or_default(),
                    timeout,
                })
            })
            .collect::<Result<Vec<_>, _>>()
    };
    Ok(Hooks {
        prestart: list(prestart, "prestart")?,
        create_runtime: list(hooks.create_runtime(), "createRuntime")?,
        create_container: list(hooks.create_container(), "createContainer")?,
        start_container: list(hooks.start_container(), "startContainer")?,
        poststart: list(hooks.poststart(), "poststart")?,
        poststop: list(hooks.poststop(), "poststop")?,
    })
}

/// `ociVersion`: any 1.x (fields of a later minor version than berth knows are refused one
/// by one when the file is read).
fn version(version: &str) -> Result<(), OciError> {
    let major = version.split('.').next().unwrap_or("");
    if major == "1" {
        Ok(())
    } else {
        Err(OciError::unsupported(
            "ociVersion",
            format!("{version:?}: berth reads runtime-spec 1.x"),
        ))
    }
}

/// The fields refused for good.
fn refused(spec: &Spec) -> Result<(), OciError> {
    if spec.solaris().is_some() {
        return Err(OciError::unsupported(
            "solaris",
            "berth runs Linux containers",
        ));
    }
    if spec.vm().is_some() {
        return Err(OciError::unsupported(
            "vm",
            "berth runs containers, not virtual machines",
        ));
    }
    if spec.zos().is_some() {
        return Err(OciError::unsupported("zos", "berth runs Linux containers"));
    }
    if spec.windows().is_some() {
        return Err(OciError::unsupported(
            "windows",
            "a Windows container (berth's Windows driver takes berth's own command, not an OCI bundle)",
        ));
    }
    let Some(linux) = spec.linux() else {
        return Ok(());
    };
    if linux.mount_label().as_ref().is_some_and(|l| !l.is_empty()) {
        return Err(OciError::unsupported("linux.mountLabel", NO_SELINUX));
    }
    if linux.intel_rdt().is_some() {
        return Err(OciError::unsupported(
            "linux.intelRdt",
            "Intel RDT (resctrl) is not supported by berth",
        ));
    }
    if linux.time_offsets().as_ref().is_some_and(|t| !t.is_empty()) {
        return Err(OciError::unsupported(
            "linux.timeOffsets",
            "time namespaces are not supported by berth",
        ));
    }
    if linux.memory_policy().is_some() {
        return Err(OciError::unsupported(
            "linux.memoryPolicy",
            "NUMA memory policies are not supported by berth",
        ));
    }
    if linux.net_devices().as_ref().is_some_and(|d| !d.is_empty()) {
        return Err(OciError::unsupported(
            "linux.netDevices",
            "moving host network devices into the container is not supported by berth",
        ));
    }
    Ok(())
}

fn refused_process(process: &Process, at: &str) -> Result<(), OciError> {
    if process
        .apparmor_profile()
        .as_ref()
        .is_some_and(|p| !p.is_empty())
    {
        return Err(OciError::unsupported(
            format!("{at}.apparmorProfile"),
            NO_APPARMOR,
        ));
    }
    if process
        .selinux_label()
        .as_ref()
        .is_some_and(|l| !l.is_empty())
    {
        return Err(OciError::unsupported(
            format!("{at}.selinuxLabel"),
            NO_SELINUX,
        ));
    }
    let never = [
        (
            "scheduler",
            process.scheduler().is_some(),
            "scheduling policies",
        ),
        (
            "ioPriority",
            process.io_priority().is_some(),
            "I/O priorities",
        ),
        (
            "execCPUAffinity",
            process.exec_cpu_affinity().is_some(),
            "the CPU affinity of exec",
        ),
        (
            "commandLine",
            process.command_line().is_some(),
            "a Windows command line",
        ),
        (
            "user.username",
            process.user().username().is_some(),
            "a Windows user name",
        ),
    ];
    if let Some((name, _, what)) = never.iter().find(|(_, set, _)| *set) {
        return Err(OciError::unsupported(
            format!("{at}.{name}"),
            format!("{what} are not supported by berth"),
        ));
    }
    Ok(())
}

/// `path` taken from `base` when relative.
fn absolute_in(base: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        base.join(path)
    }
}

fn path_text(path: &Path, field: &str) -> Result<String, OciError> {
    path.to_str()
        .map(str::to_string)
        .ok_or_else(|| OciError::invalid(field, format!("{path:?} is not UTF-8")))
}

/// berth's validation error, with the field named as `config.json` names it. `mount_index`
/// gives, for each of the command's mounts, the index of the config's mount it came from.
pub(crate) fn from_berth(error: runtime_core::Error, mount_index: &[usize]) -> OciError {
    let (field, reason) = match &error {
        runtime_core::Error::InvalidArgument { field, reason } => (field.clone(), reason.clone()),
        other => return OciError::invalid("(berth)", other.to_string()),
    };
    OciError::invalid(oci_field(&field, mount_index), reason)
}

/// berth's JSON path of a field → `config.json`'s.
fn oci_field(field: &str, mount_index: &[usize]) -> String {
    if let Some(rest) = field.strip_prefix("mounts[") {
        if let Some((n, tail)) = rest.split_once(']') {
            if let Ok(n) = n.parse::<usize>() {
                let i = mount_index.get(n).copied().unwrap_or(n);
                return format!("mounts[{i}]{}", camel_tail(tail));
            }
        }
    }
    const TABLE: &[(&str, &str)] = &[
        ("rootfs", "root.path"),
        ("process.additional_gids", "process.user.additionalGids"),
        ("process.console_size", "process.consoleSize"),
        ("process.cap_add", "process.capabilities"),
        ("process.cap_drop", "process.capabilities"),
        ("process.no_new_privileges", "process.noNewPrivileges"),
        ("process.seccomp", "linux.seccomp"),
        ("namespaces", "linux.namespaces"),
        ("resources.memory_limit", "linux.resources.memory.limit"),
        (
            "resources.memory_reservation",
            "linux.resources.memory.reservation",
        ),
        ("resources.memory_swap", "linux.resources.memory.swap"),
        ("resources.cpu_shares", "linux.resources.cpu.shares"),
        ("resources.cpu_quota", "linux.resources.cpu.quota"),
        ("resources.cpu_period", "linux.resources.cpu.period"),
        ("resources.cpuset_cpus", "linux.resources.cpu.cpus"),
        ("resources.cpuset_mems", "linux.resources.cpu.mems"),
        ("resources.pids_limit", "linux.resources.pids.limit"),
        ("resources.blkio_weight", "linux.resources.blockIO.weight"),
        (
            "resources.memory_swappiness",
            "linux.resources.memory.swappiness",
        ),
        (
            "resources.memory_disable_oom_killer",
            "linux.resources.memory.disableOOMKiller",
        ),
        ("resources.memory_kernel", "linux.resources.memory.kernel"),
        (
            "resources.memory_kernel_tcp",
            "linux.resources.memory.kernelTCP",
        ),
        (
            "resources.memory_use_hierarchy",
            "linux.resources.memory.useHierarchy",
        ),
        (
            "resources.memory_check_before_update",
            "linux.resources.memory.checkBeforeUpdate",
        ),
        (
            "resources.cpu_realtime_runtime",
            "linux.resources.cpu.realtimeRuntime",
        ),
        (
            "resources.cpu_realtime_period",
            "linux.resources.cpu.realtimePeriod",
        ),
        ("resources.cpu_idle", "linux.resources.cpu.idle"),
        ("resources.cpu_burst", "linux.resources.cpu.burst"),
        (
            "resources.blkio_leaf_weight",
            "linux.resources.blockIO.leafWeight",
        ),
        (
            "resources.blkio_weight_device",
            "linux.resources.blockIO.weightDevice",
        ),
        (
            "resources.blkio_throttle_read_bps_device",
            "linux.resources.blockIO.throttleReadBpsDevice",
        ),
        (
            "resources.blkio_throttle_write_bps_device",
            "linux.resources.blockIO.throttleWriteBpsDevice",
        ),
        (
            "resources.blkio_throttle_read_iops_device",
            "linux.resources.blockIO.throttleReadIOPSDevice",
        ),
        (
            "resources.blkio_throttle_write_iops_device",
            "linux.resources.blockIO.throttleWriteIOPSDevice",
        ),
        (
            "resources.hugepage_limits",
            "linux.resources.hugepageLimits",
        ),
        (
            "resources.network_class_id",
            "linux.resources.network.classID",
        ),
        (
            "resources.network_priorities",
            "linux.resources.network.priorities",
        ),
        ("resources.unified", "linux.resources.unified"),
        ("device_cgroup_rules", "linux.resources.devices"),
        ("cgroup_parent", "linux.cgroupsPath"),
        ("cgroup_path", "linux.cgroupsPath"),
        ("device_nodes", "linux.devices"),
        ("rootfs_propagation", "linux.rootfsPropagation"),
        ("personality", "linux.personality"),
        ("domainname", "domainname"),
        ("masked_paths", "linux.maskedPaths"),
        ("readonly_paths", "linux.readonlyPaths"),
        ("sysctls", "linux.sysctl"),
        ("uid_mappings", "linux.uidMappings"),
        ("gid_mappings", "linux.gidMappings"),
    ];
    for (berth, oci) in TABLE {
        if let Some(tail) = field.strip_prefix(berth) {
            if tail.is_empty() || tail.starts_with(['.', '[']) {
                // A namespace's mode names its kind: linux.namespaces (type ...).
                if *berth == "namespaces" {
                    let tail = tail.trim_start_matches('.');
                    let (kind, rest) = tail.split_once('.').unwrap_or((tail, ""));
                    let kind = if kind == "net" { "network" } else { kind };
                    let rest = if rest.is_empty() {
                        String::new()
                    } else {
                        format!(".{rest}")
                    };
                    return format!("linux.namespaces ({kind}){rest}");
                }
                return format!("{oci}{}", camel_tail(tail));
            }
        }
    }
    field.to_string()
}

/// The members of berth's objects inside a field (`[0].leaf_weight`) as `config.json` names
/// them (`[0].leafWeight`).
fn camel_tail(tail: &str) -> String {
    const MEMBERS: &[(&str, &str)] = &[
        (".leaf_weight", ".leafWeight"),
        (".page_size", ".pageSize"),
        (".file_mode", ".fileMode"),
        (".uid_mappings", ".uidMappings"),
        (".gid_mappings", ".gidMappings"),
    ];
    let mut out = tail.to_string();
    for (berth, oci) in MEMBERS {
        if let Some(at) = out.find(berth) {
            let end = at + berth.len();
            if out[end..].is_empty() || out[end..].starts_with(['.', '[']) {
                out.replace_range(at..end, oci);
            }
        }
    }
    out
}

/// The annotations, in order.
pub(crate) fn annotations(spec: &Spec) -> BTreeMap<String, String> {
    spec.annotations()
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}
