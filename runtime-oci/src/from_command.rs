//! [`Command`] → `config.json`, for the benchmark's runc and crun: the same container berth
//! runs, with the confinement berth computes for it (which the bench computes with
//! runtime-linux's own functions and passes in [`Confinement`]).

use runtime_core::{Command, Mount, NamespaceKind, NamespaceMode, ProcessConfig, Resources};
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
        let list = |maps: Vec<runtime_core::IdMapping>| -> Value {
            maps.iter()
                .map(
                    |m| json!({"containerID": m.container_id, "hostID": m.host_id, "size": m.size}),
                )
                .collect()
        };
        linux.insert("uidMappings".into(), list(uids));
        linux.insert("gidMappings".into(), list(gids));
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
/// shares the host's network (a new sysfs shows the devices of its network namespace).
fn standard_mounts(command: &Command) -> Vec<Value> {
    let plain = ["nosuid", "noexec", "nodev"];
    let sys = if command.namespaces.is_new(NamespaceKind::Net) {
        json!({"destination": "/sys", "type": "sysfs", "source": "sysfs",
               "options": ["nosuid", "noexec", "nodev", "ro"]})
    } else {
        json!({"destination": "/sys", "type": "bind", "source": "/sys",
               "options": ["rbind", "ro"]})
    };
    vec![
        json!({"destination": "/proc", "type": "proc", "source": "proc", "options": plain}),
        json!({"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
               "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}),
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
    json!({
        "destination": mount.destination,
        "type": kind,
        "source": mount.source.clone().unwrap_or_else(|| mount.kind.clone()),
        "options": options,
    })
}

/// berth's limits as OCI's `linux.resources` (without `devices`).
pub fn resources_to_oci(resources: &Resources) -> Map<String, Value> {
    let mut out = Map::new();
    let mut memory = Map::new();
    for (name, value) in [
        ("limit", resources.memory_limit),
        ("reservation", resources.memory_reservation),
        ("swap", resources.memory_swap),
    ] {
        if let Some(value) = value {
            memory.insert(name.into(), json!(value));
        }
    }
    if !memory.is_empty() {
        out.insert("memory".into(), Value::Object(memory));
    }
    let mut cpu = Map::new();
    if let Some(shares) = resources.cpu_shares {
        cpu.insert("shares".into(), json!(shares));
    }
    if let Some(quota) = resources.cpu_quota {
        cpu.insert("quota".into(), json!(quota));
    }
    if let Some(period) = resources.cpu_period {
        cpu.insert("period".into(), json!(period));
    }
    if let Some(cpus) = &resources.cpuset_cpus {
        cpu.insert("cpus".into(), json!(cpus));
    }
    if let Some(mems) = &resources.cpuset_mems {
        cpu.insert("mems".into(), json!(mems));
    }
    if !cpu.is_empty() {
        out.insert("cpu".into(), Value::Object(cpu));
    }
    if let Some(pids) = resources.pids_limit {
        out.insert("pids".into(), json!({"limit": pids}));
    }
    if let Some(weight) = resources.blkio_weight {
        out.insert("blockIO".into(), json!({"weight": weight}));
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
