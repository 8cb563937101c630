//! [`Command`] → `config.json`, for the benchmark's runc and crun: the same container berth
//! runs, with the confinement berth computes for it (which the bench computes with
//! runtime-linux's own functions and passes in [`Confinement`]).

use runtime_core::{
    Command, DeviceNode, IdMapping, Mount, NamespaceKind, NamespaceMode, ProcessConfig, Resources,
    ThrottleDevice,
};
use serde_json::{json, Map, Value};

use crate::OciError;

/// The user and groups berth's init takes for a process (from the image's `/etc/passwd` and
/// `/etc/group`), as runtime-linux computes them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    pub uid: u32,
    pub gid: u32,
    /// Every supplementary group, sorted.
    pub groups: Vec<u32>,
    /// The user's home, for `HOME` when the environment has none.
    pub home: String,
}

/// What berth confines the container with, computed by runtime-linux.
#[derive(Debug, Clone, Default)]
pub struct Confinement {
    /// `linux.cgroupsPath`.
    pub cgroups_path: String,
    /// The init's identity.
    pub identity: Identity,
    /// The capability set (`CapabilitySet::for_process`), by name: the bounding set, and
    /// root's permitted and effective sets.
    pub capabilities: Vec<String>,
    /// The OCI form of the seccomp profile berth compiles; `None`: no filter.
    pub seccomp: Option<Value>,
    /// The device cgroup's rules as v1 `devices.list` lines (`c 1:3 rwm`); none (or an
    /// `a *:* rwm`): every device.
    pub device_rules: Vec<String>,
}

/// The `config.json` of a bundle for `command` confined by `confinement`: the program, its
/// environment and identity, the namespaces, berth's standard mounts and the command's, the
/// cgroup limits, the masked and read-only paths, the hostname and sysctls.
pub fn spec_from_command(command: &Command, confinement: &Confinement) -> Result<Value, OciError> {
    let mut linux = Map::new();
    linux.insert("namespaces".into(), Value::Array(namespaces(command)?));
    if command.namespaces.user == NamespaceMode::Private {
        let (uids, gids) = command.effective_id_mappings();
        linux.insert("uidMappings".into(), id_mappings(&uids));
        linux.insert("gidMappings".into(), id_mappings(&gids));
    }
    linux.insert("cgroupsPath".into(), json!(confinement.cgroups_path));
    let mut resources = resources_to_oci(&command.resources);
    resources.insert(
        "devices".into(),
        Value::Array(devices(&confinement.device_rules)),
    );
    linux.insert("resources".into(), Value::Object(resources));
    if let Some(profile) = &confinement.seccomp {
        linux.insert("seccomp".into(), profile.clone());
    }
    linux.insert(
        "maskedPaths".into(),
        json!(command.effective_masked_paths()),
    );
    linux.insert(
        "readonlyPaths".into(),
        json!(command.effective_readonly_paths()),
    );
    if !command.sysctls.is_empty() {
        linux.insert("sysctl".into(), json!(command.sysctls));
    }
    if !command.device_nodes.is_empty() {
        let nodes: Vec<Value> = command.device_nodes.iter().map(device_node).collect();
        linux.insert("devices".into(), Value::Array(nodes));
    }
    if let Some(propagation) = &command.rootfs_propagation {
        linux.insert("rootfsPropagation".into(), json!(propagation));
    }
    if let Some(personality) = &command.personality {
        let mut value = json!({"domain": personality.domain});
        if !personality.flags.is_empty() {
            value["flags"] = json!(personality.flags);
        }
        linux.insert("personality".into(), value);
    }
    let mut mounts = standard_mounts(command);
    mounts.extend(command.mounts.iter().map(user_mount));
    let mut spec = json!({
        "ociVersion": "1.0.2",
        "process": process_to_oci(&command.process, &confinement.identity, &confinement.capabilities),
        "root": {"path": command.rootfs, "readonly": command.readonly_rootfs},
        "mounts": mounts,
        "linux": Value::Object(linux),
    });
    if command.namespaces.is_new(NamespaceKind::Uts) {
        spec["hostname"] = json!(command.effective_hostname());
    }
    if let Some(domainname) = &command.domainname {
        spec["domainname"] = json!(domainname);
    }
    Ok(spec)
}

/// The `process` object (also what `runc exec --process` and `crun exec --process` take) for
/// a process with the user and groups `identity` and the capability set `capabilities`: as
/// berth gives them, the bounding set for anyone, permitted and effective for root only,
/// inheritable and ambient empty; or the process's own exact sets and groups when it has them.
pub fn process_to_oci(
    process: &ProcessConfig,
    identity: &Identity,
    capabilities: &[String],
) -> Value {
    let mut env = process.effective_env();
    if !env.iter().any(|kv| kv.starts_with("HOME=")) {
        env.push(format!("HOME={}", identity.home));
    }
    let granted: &[String] = if identity.uid == 0 { capabilities } else { &[] };
    // A process with exact sets (or exact groups) gets them as they are.
    let caps = match &process.capabilities {
        Some(sets) => json!({
            "bounding": sets.bounding,
            "effective": sets.effective,
            "permitted": sets.permitted,
            "inheritable": sets.inheritable,
            "ambient": sets.ambient,
        }),
        None => json!({
            "bounding": capabilities,
            "effective": granted,
            "permitted": granted,
            "inheritable": [],
            "ambient": [],
        }),
    };
    let groups = process.groups.as_ref().unwrap_or(&identity.groups);
    let rlimits: Vec<Value> = process
        .rlimits
        .iter()
        .map(|r| json!({"type": r.canonical_name().unwrap_or(&r.kind), "soft": r.soft, "hard": r.hard}))
        .collect();
    let mut value = json!({
        "terminal": process.tty,
        "user": {"uid": identity.uid, "gid": identity.gid, "additionalGids": groups},
        "args": process.args,
        "env": env,
        "cwd": process.cwd,
        "capabilities": caps,
        "rlimits": rlimits,
        "noNewPrivileges": process.no_new_privileges,
    });
    if let Some(umask) = process.umask {
        value["user"]["umask"] = json!(umask);
    }
    if let Some(adj) = process.oom_score_adj {
        value["oomScoreAdj"] = json!(adj);
    }
    if let Some(size) = process.console_size {
        value["consoleSize"] = json!({"height": size.rows, "width": size.cols});
    }
    value
}

fn namespaces(command: &Command) -> Result<Vec<Value>, OciError> {
    let mut out = Vec::new();
    for kind in NamespaceKind::ALL {
        let oci = match kind {
            NamespaceKind::Net => "network",
            NamespaceKind::Mount => "mount",
            other => other.name(),
        };
        match command.namespaces.get(kind) {
            NamespaceMode::Private | NamespaceMode::None => out.push(json!({"type": oci})),
            NamespaceMode::Host => {}
            NamespaceMode::Path(path) => out.push(json!({"type": oci, "path": path})),
            NamespaceMode::Container(other) => {
                return Err(OciError::unsupported(
                    format!("linux.namespaces ({oci})"),
                    format!("sharing container {other:?}'s has no OCI form without its pid"),
                ))
            }
        }
    }
    Ok(out)
}

/// berth's standard mounts, with its flags and data (runtime-linux's
/// `helper/rootfs/standard.rs`); `/sys` is a read-only copy of the host's when the container
/// shares the host's network (a new sysfs shows the devices of its network namespace), and a
/// read-write sysfs with `writable_sysfs`.
fn standard_mounts(command: &Command) -> Vec<Value> {
    let plain = ["nosuid", "noexec", "nodev"];
    let sys = if command.writable_sysfs {
        json!({"destination": "/sys", "type": "sysfs", "source": "sysfs",
               "options": ["nosuid", "noexec", "nodev", "rw"]})
    } else if command.namespaces.is_new(NamespaceKind::Net) {
        json!({"destination": "/sys", "type": "sysfs", "source": "sysfs",
               "options": ["nosuid", "noexec", "nodev", "ro"]})
    } else {
        json!({"destination": "/sys", "type": "bind", "source": "/sys",
               "options": ["rbind", "ro"]})
    };
    let dev: &[&str] = if command.dev_noexec {
        &["nosuid", "noexec", "strictatime", "mode=755", "size=65536k"]
    } else {
        &["nosuid", "strictatime", "mode=755", "size=65536k"]
    };
    vec![
        json!({"destination": "/proc", "type": "proc", "source": "proc", "options": plain}),
        json!({"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": dev}),
        json!({"destination": "/dev/pts", "type": "devpts", "source": "devpts",
               "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]}),
        json!({"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
               "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]}),
        json!({"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
               "options": plain}),
        sys,
    ]
}

fn user_mount(mount: &Mount) -> Value {
    let mut options = mount.options.clone();
    let mut kind = mount.kind.clone();
    if mount.is_bind() {
        kind = "bind".into();
        if !options.iter().any(|o| o == "bind" || o == "rbind") {
            options.push("bind".into());
        }
    }
    let mut value = json!({
        "destination": mount.destination,
        "type": kind,
        "source": mount.source.clone().unwrap_or_else(|| mount.kind.clone()),
        "options": options,
    });
    if let Some(maps) = &mount.uid_mappings {
        value["uidMappings"] = id_mappings(maps);
    }
    if let Some(maps) = &mount.gid_mappings {
        value["gidMappings"] = id_mappings(maps);
    }
    value
}

fn id_mappings(maps: &[IdMapping]) -> Value {
    maps.iter()
        .map(|m| json!({"containerID": m.container_id, "hostID": m.host_id, "size": m.size}))
        .collect()
}

/// A device node as a `linux.devices` entry (a FIFO's numbers are 0).
fn device_node(node: &DeviceNode) -> Value {
    let mut value = json!({
        "path": node.path,
        "type": node.kind.to_string(),
        "major": node.major.unwrap_or(0),
        "minor": node.minor.unwrap_or(0),
    });
    for (name, given) in [
        ("fileMode", node.file_mode),
        ("uid", node.uid),
        ("gid", node.gid),
    ] {
        if let Some(n) = given {
            value[name] = json!(n);
        }
    }
    value
}

/// berth's limits as OCI's `linux.resources` (without `devices`).
pub fn resources_to_oci(r: &Resources) -> Map<String, Value> {
    fn put(object: &mut Map<String, Value>, name: &str, value: Option<Value>) {
        if let Some(value) = value {
            object.insert(name.into(), value);
        }
    }
    fn group(out: &mut Map<String, Value>, name: &str, object: Map<String, Value>) {
        if !object.is_empty() {
            out.insert(name.into(), Value::Object(object));
        }
    }
    let mut out = Map::new();
    let mut memory = Map::new();
    put(&mut memory, "limit", r.memory_limit.map(|v| json!(v)));
    put(
        &mut memory,
        "reservation",
        r.memory_reservation.map(|v| json!(v)),
    );
    put(&mut memory, "swap", r.memory_swap.map(|v| json!(v)));
    put(&mut memory, "kernel", r.memory_kernel.map(|v| json!(v)));
    put(
        &mut memory,
        "kernelTCP",
        r.memory_kernel_tcp.map(|v| json!(v)),
    );
    put(
        &mut memory,
        "swappiness",
        r.memory_swappiness.map(|v| json!(v)),
    );
    put(
        &mut memory,
        "disableOOMKiller",
        r.memory_disable_oom_killer.map(|v| json!(v)),
    );
    put(
        &mut memory,
        "useHierarchy",
        r.memory_use_hierarchy.map(|v| json!(v)),
    );
    put(
        &mut memory,
        "checkBeforeUpdate",
        r.memory_check_before_update.map(|v| json!(v)),
    );
    group(&mut out, "memory", memory);
    let mut cpu = Map::new();
    put(&mut cpu, "shares", r.cpu_shares.map(|v| json!(v)));
    put(&mut cpu, "quota", r.cpu_quota.map(|v| json!(v)));
    put(&mut cpu, "burst", r.cpu_burst.map(|v| json!(v)));
    put(&mut cpu, "period", r.cpu_period.map(|v| json!(v)));
    put(
        &mut cpu,
        "realtimeRuntime",
        r.cpu_realtime_runtime.map(|v| json!(v)),
    );
    put(
        &mut cpu,
        "realtimePeriod",
        r.cpu_realtime_period.map(|v| json!(v)),
    );
    put(&mut cpu, "cpus", r.cpuset_cpus.as_ref().map(|v| json!(v)));
    put(&mut cpu, "mems", r.cpuset_mems.as_ref().map(|v| json!(v)));
    put(&mut cpu, "idle", r.cpu_idle.map(|v| json!(v)));
    group(&mut out, "cpu", cpu);
    if let Some(pids) = r.pids_limit {
        out.insert("pids".into(), json!({"limit": pids}));
    }
    let throttles = |list: &[ThrottleDevice]| {
        (!list.is_empty()).then(|| {
            list.iter()
                .map(|d| json!({"major": d.major, "minor": d.minor, "rate": d.rate}))
                .collect::<Value>()
        })
    };
    let mut io = Map::new();
    put(&mut io, "weight", r.blkio_weight.map(|v| json!(v)));
    put(&mut io, "leafWeight", r.blkio_leaf_weight.map(|v| json!(v)));
    put(
        &mut io,
        "weightDevice",
        (!r.blkio_weight_device.is_empty()).then(|| {
            r.blkio_weight_device
                .iter()
                .map(|d| {
                    let mut value = json!({"major": d.major, "minor": d.minor});
                    if let Some(w) = d.weight {
                        value["weight"] = json!(w);
                    }
                    if let Some(w) = d.leaf_weight {
                        value["leafWeight"] = json!(w);
                    }
                    value
                })
                .collect()
        }),
    );
    put(
        &mut io,
        "throttleReadBpsDevice",
        throttles(&r.blkio_throttle_read_bps_device),
    );
    put(
        &mut io,
        "throttleWriteBpsDevice",
        throttles(&r.blkio_throttle_write_bps_device),
    );
    put(
        &mut io,
        "throttleReadIOPSDevice",
        throttles(&r.blkio_throttle_read_iops_device),
    );
    put(
        &mut io,
        "throttleWriteIOPSDevice",
        throttles(&r.blkio_throttle_write_iops_device),
    );
    group(&mut out, "blockIO", io);
    if !r.hugepage_limits.is_empty() {
        let limits: Vec<Value> = r
            .hugepage_limits
            .iter()
            .map(|l| json!({"pageSize": l.page_size, "limit": l.limit}))
            .collect();
        out.insert("hugepageLimits".into(), Value::Array(limits));
    }
    let mut network = Map::new();
    put(
        &mut network,
        "classID",
        r.network_class_id.map(|v| json!(v)),
    );
    if !r.network_priorities.is_empty() {
        let priorities: Vec<Value> = r
            .network_priorities
            .iter()
            .map(|p| json!({"name": p.name, "priority": p.priority}))
            .collect();
        network.insert("priorities".into(), Value::Array(priorities));
    }
    group(&mut out, "network", network);
    if !r.unified.is_empty() {
        out.insert("unified".into(), json!(r.unified));
    }
    out
}

/// OCI device rules from v1 `devices.list` lines (`c 1:3 rwm`, `a *:* rwm`): everything
/// allowed when unrestricted, else deny all and allow each line.
pub fn devices(rules: &[String]) -> Vec<Value> {
    if rules.is_empty() || rules.iter().any(|r| r.starts_with("a ")) {
        return vec![json!({"allow": true, "access": "rwm"})];
    }
    let mut out = vec![json!({"allow": false, "access": "rwm"})];
    for rule in rules {
        let f: Vec<&str> = rule.split_whitespace().collect();
        if f.len() != 3 {
            continue;
        }
        let (major, minor) = f[1].split_once(':').unwrap_or(("*", "*"));
        let mut value = json!({"allow": true, "type": f[0], "access": f[2]});
        if let Ok(n) = major.parse::<i64>() {
            value["major"] = json!(n);
        }
        if let Ok(n) = minor.parse::<i64>() {
            value["minor"] = json!(n);
        }
        out.push(value);
    }
    out
}
