//! An OCI runtime `config.json` (for runc and crun) made from the same [`Command`] that berth
//! runs, so that every runtime gets the same container: the program, its environment and
//! identity, the namespaces, the standard mounts and the user's, the cgroup limits, the masked
//! and read-only paths, the hostname and sysctls.
//!
//! The confinement follows what berth's own container really got on this host, read from a
//! probe container ([`Isolation`]): the same capabilities, `no_new_privs`, the device cgroup's
//! rules, and, when berth applied a seccomp filter, Docker's default profile evaluated as
//! Docker evaluates it for those capabilities (berth's default is that profile). So neither
//! side pays for confinement the other skips. [`differences`] says what still differs.

use std::path::Path;

use runtime_core::process::IdOrName;
use runtime_core::{
    Command, Mount, NamespaceKind, NamespaceMode, ProcessConfig, Resources, UserSpec,
};
use serde::Serialize;
use serde_json::{json, Map, Value};

/// Every capability of Linux 5.9 and later, by number (0 to 40).
pub const ALL_CAPABILITIES: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// What berth's container got on this host: read from a probe container by the harness.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Isolation {
    pub cap_bounding: Vec<String>,
    pub cap_effective: Vec<String>,
    pub cap_permitted: Vec<String>,
    pub cap_inheritable: Vec<String>,
    pub cap_ambient: Vec<String>,
    /// `Seccomp:` of /proc/PID/status: 0 none, 2 filter.
    pub seccomp_mode: u32,
    pub seccomp_filters: u32,
    pub no_new_privs: bool,
    /// The container's device cgroup rules (v1 `devices.list`); empty when not readable.
    pub device_rules: Vec<String>,
    /// Why the probe failed, if it did (the config then falls back to the caller's set, no
    /// seccomp and every device).
    pub error: Option<String>,
}

impl Isolation {
    /// Reads the capability, seccomp and no_new_privs lines of a `/proc/PID/status` text.
    pub fn from_status(status: &str) -> Isolation {
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .map(str::trim)
                .unwrap_or("")
                .to_string()
        };
        let caps = |name: &str| cap_names(u64::from_str_radix(&field(name), 16).unwrap_or(0));
        Isolation {
            cap_bounding: caps("CapBnd:"),
            cap_effective: caps("CapEff:"),
            cap_permitted: caps("CapPrm:"),
            cap_inheritable: caps("CapInh:"),
            cap_ambient: caps("CapAmb:"),
            seccomp_mode: field("Seccomp:").parse().unwrap_or(0),
            seccomp_filters: field("Seccomp_filters:").parse().unwrap_or(0),
            no_new_privs: field("NoNewPrivs:") == "1",
            device_rules: Vec::new(),
            error: None,
        }
    }

    /// The fallback when no probe could run: root with the caller's bounding set.
    pub fn fallback(error: String) -> Isolation {
        let caps: Vec<String> = caller_capabilities()
            .iter()
            .map(|c| c.to_string())
            .collect();
        Isolation {
            cap_bounding: caps.clone(),
            cap_effective: caps.clone(),
            cap_permitted: caps,
            no_new_privs: true,
            error: Some(error),
            ..Isolation::default()
        }
    }

    pub fn has_seccomp(&self) -> bool {
        self.seccomp_mode == 2
    }
}

fn cap_names(mask: u64) -> Vec<String> {
    ALL_CAPABILITIES
        .iter()
        .enumerate()
        .filter(|(bit, _)| mask & (1 << bit) != 0)
        .map(|(_, name)| name.to_string())
        .collect()
}

/// What still differs between the berth container and the one the generated config describes,
/// for the report.
pub fn differences(iso: &Isolation, seccomp_source: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let caps = if iso.cap_effective.len() >= caller_capabilities().len() {
        format!(
            "every capability of the caller's bounding set ({}): berth applies no default set of \
             its own yet",
            iso.cap_effective.len()
        )
    } else {
        format!(
            "{}: {}",
            iso.cap_effective.len(),
            iso.cap_effective.join(", ")
        )
    };
    out.push((
        "capabilities".to_string(),
        format!(
            "The same for both, as berth's probe container had them (effective and permitted; \
             bounding {}, inheritable {}, ambient {}): {caps}.",
            iso.cap_bounding.len(),
            iso.cap_inheritable.len(),
            iso.cap_ambient.len()
        ),
    ));
    out.push((
        "seccomp".into(),
        if iso.has_seccomp() {
            format!(
                "berth applied a seccomp filter ({} filter(s) on the process). runc and crun get \
                 Docker's default profile — berth's default — evaluated as Docker does for the \
                 same capabilities and this kernel ({seccomp_source}). Filters compiled by \
                 different libraries differ in size and order, so their cost per system call \
                 may differ a little.",
                iso.seccomp_filters
            )
        } else {
            "berth applied no seccomp filter in this run (it has none yet); the OCI config has \
             no `seccomp` section, so runc and crun load none either."
                .into()
        },
    ));
    out.push((
        "no_new_privileges".into(),
        format!(
            "{} in both.",
            if iso.no_new_privs { "set" } else { "not set" }
        ),
    ));
    out.push((
        "devices".into(),
        if iso.device_rules.is_empty() || iso.device_rules == ["a *:* rwm"] {
            "berth's container had no device-cgroup restriction (`a *:* rwm`); the OCI config \
             allows every device too (runc and crun add their default allow list on top)."
                .into()
        } else {
            format!(
                "the OCI config denies every device, then allows exactly the rules berth's \
                 container had ({} rules: {}).",
                iso.device_rules.len(),
                iso.device_rules.join(", ")
            )
        },
    ));
    for (what, how) in FIXED_DIFFERENCES {
        out.push((what.to_string(), how.to_string()));
    }
    if let Some(error) = &iso.error {
        out.push((
            "probe".into(),
            format!("the probe of berth's container failed ({error}); the config fell back to the caller's capabilities, no seccomp and every device."),
        ));
    }
    out
}

const FIXED_DIFFERENCES: &[(&str, &str)] = &[
    ("AppArmor / SELinux", "none in either."),
    (
        "cgroups",
        "the same limit (memory) in both. berth, in-process, sees the host as it is (hybrid: a \
         directory in each v1 hierarchy plus one in the cgroup2 hierarchy); runc, crun and the \
         berth CLI run under the wrapper with the cgroup2 mount gone, so they see a v1-only host \
         and skip the cgroup2 directory. runc/crun use the cgroupfs driver with `cgroupsPath` \
         /berth-bench-oci/<id>; berth uses the parent berth-bench.",
    ),
    (
        "standard mounts",
        "the same six (/proc, /dev tmpfs, /dev/pts, /dev/shm, /dev/mqueue, /sys read-only) with \
         berth's flags and data; runc's own default adds /sys/fs/cgroup, left out here to \
         match. Both make the standard device nodes in /dev.",
    ),
    (
        "init",
        "berth execs the program as pid 1 of the container, as runc and crun do (no init \
         injected). berth reaps from its supervisor thread; `runc run` and `crun run` wait in \
         the foreground process.",
    ),
    (
        "rlimits, oom_score_adj",
        "none set in either: both inherit the caller's.",
    ),
];

/// Docker's default seccomp profile (berth's default), made plain OCI the way Docker makes it
/// for a container: the native architecture and its sub-architectures from `archMap`, and only
/// the rules whose `includes` hold and whose `excludes` do not, for `caps` and this kernel.
pub fn docker_seccomp(profile: &Value, caps: &[String]) -> Result<Value, String> {
    let (scmp_arch, go_arch) = match std::env::consts::ARCH {
        "x86_64" => ("SCMP_ARCH_X86_64", "amd64"),
        "aarch64" => ("SCMP_ARCH_AARCH64", "arm64"),
        other => return Err(format!("no seccomp architecture for {other}")),
    };
    let kernel = kernel_version();
    let mut architectures = vec![json!(scmp_arch)];
    if let Some(map) = profile["archMap"].as_array() {
        for entry in map {
            if entry["architecture"] == json!(scmp_arch) {
                if let Some(subs) = entry["subArchitectures"].as_array() {
                    architectures.extend(subs.iter().cloned());
                }
            }
        }
    }
    let has = |list: &Value, wanted: &str| {
        list.as_array()
            .is_some_and(|l| l.iter().any(|v| v.as_str() == Some(wanted)))
    };
    let mut syscalls = Vec::new();
    for rule in profile["syscalls"]
        .as_array()
        .ok_or("no syscalls in the profile")?
    {
        let excludes = &rule["excludes"];
        if has(&excludes["arches"], go_arch) || caps.iter().any(|c| has(&excludes["caps"], c)) {
            continue;
        }
        let includes = &rule["includes"];
        if let Some(arches) = includes["arches"].as_array() {
            if !arches.is_empty() && !has(&includes["arches"], go_arch) {
                continue;
            }
        }
        if let Some(needed) = includes["caps"].as_array() {
            if !needed
                .iter()
                .all(|c| c.as_str().is_some_and(|c| caps.iter().any(|h| h == c)))
            {
                continue;
            }
        }
        if let Some(min) = includes["minKernel"].as_str() {
            let mut parts = min.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
            let min = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
            if kernel < min {
                continue;
            }
        }
        let mut plain = Map::new();
        for key in ["names", "action", "args", "errnoRet"] {
            if !rule[key].is_null() {
                plain.insert(key.into(), rule[key].clone());
            }
        }
        syscalls.push(Value::Object(plain));
    }
    let mut out = Map::new();
    out.insert("defaultAction".into(), profile["defaultAction"].clone());
    if !profile["defaultErrnoRet"].is_null() {
        out.insert("defaultErrnoRet".into(), profile["defaultErrnoRet"].clone());
    }
    out.insert("architectures".into(), Value::Array(architectures));
    out.insert("syscalls".into(), Value::Array(syscalls));
    Ok(Value::Object(out))
}

fn kernel_version() -> (u32, u32) {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut parts = release
        .trim()
        .split(|c: char| !c.is_ascii_digit())
        .map(|p| p.parse::<u32>().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}

/// The `config.json` of a bundle for `command`, whose cgroup is `cgroups_path`.
/// `iso` is what berth's container gets; `seccomp` the OCI profile to give when it has a filter.
pub fn config(
    command: &Command,
    cgroups_path: &str,
    iso: &Isolation,
    seccomp: Option<&Value>,
) -> Result<Value, String> {
    let rootfs = Path::new(&command.rootfs);
    let mut linux = Map::new();
    linux.insert("namespaces".into(), Value::Array(namespaces(command)?));
    linux.insert("cgroupsPath".into(), json!(cgroups_path));
    linux.insert(
        "resources".into(),
        resources(&command.resources, &iso.device_rules),
    );
    if let (true, Some(profile)) = (iso.has_seccomp(), seccomp) {
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
    for mount in &command.mounts {
        mounts.push(user_mount(mount));
    }
    Ok(json!({
        "ociVersion": "1.0.2",
        "process": process(&command.process, rootfs, iso)?,
        "root": {"path": command.rootfs, "readonly": command.readonly_rootfs},
        "hostname": command.effective_hostname(),
        "mounts": mounts,
        "linux": Value::Object(linux),
    }))
}

/// The `process` object (also what `runc exec --process` and `crun exec --process` take), with
/// the capabilities and `no_new_privs` of `iso`.
pub fn process(process: &ProcessConfig, rootfs: &Path, iso: &Isolation) -> Result<Value, String> {
    let spec = UserSpec::parse(&process.user)?;
    let passwd = std::fs::read_to_string(rootfs.join("etc/passwd")).unwrap_or_default();
    let group = std::fs::read_to_string(rootfs.join("etc/group")).unwrap_or_default();
    let entry = passwd_entry(&passwd, &spec.user);
    let uid = match (&spec.user, &entry) {
        (IdOrName::Id(id), _) => *id,
        (IdOrName::Name(_), Some(e)) => e.1,
        (IdOrName::Name(name), None) => return Err(format!("no user {name} in the rootfs")),
    };
    let gid = match &spec.group {
        Some(IdOrName::Id(id)) => *id,
        Some(IdOrName::Name(name)) => {
            group_id(&group, name).ok_or_else(|| format!("no group {name} in the rootfs"))?
        }
        None => entry.as_ref().map_or(0, |e| e.2),
    };
    // berth's supplementary groups: the primary one, those that list the user, and the extra.
    let user_name = entry.as_ref().map(|e| e.0.clone());
    let mut gids = vec![gid];
    if let Some(name) = &user_name {
        gids.extend(groups_listing(&group, name));
    }
    gids.extend(process.additional_gids.iter().copied());
    gids.dedup();
    let mut env = process.effective_env();
    if !env.iter().any(|kv| kv.starts_with("HOME=")) {
        let home = entry.as_ref().map_or("/".to_string(), |e| e.3.clone());
        env.push(format!("HOME={home}"));
    }
    let rlimits: Vec<Value> = process
        .rlimits
        .iter()
        .map(|r| {
            json!({
                "type": r.canonical_name().unwrap_or(&r.kind),
                "soft": r.soft,
                "hard": r.hard,
            })
        })
        .collect();
    Ok(json!({
        "terminal": process.tty,
        "user": {"uid": uid, "gid": gid, "additionalGids": gids},
        "args": process.args,
        "env": env,
        "cwd": process.cwd,
        "capabilities": {
            "bounding": iso.cap_bounding,
            "effective": iso.cap_effective,
            "permitted": iso.cap_permitted,
            "inheritable": iso.cap_inheritable,
            "ambient": iso.cap_ambient,
        },
        "rlimits": rlimits,
        "noNewPrivileges": iso.no_new_privs && process.no_new_privileges,
    }))
}

/// The capabilities in this process's bounding set: what root keeps in a berth container
/// today (a sandbox may have dropped some, and asking runc or crun for more fails).
pub fn caller_capabilities() -> Vec<&'static str> {
    let mask = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("CapBnd:"))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        })
        .unwrap_or(u64::MAX);
    ALL_CAPABILITIES
        .iter()
        .enumerate()
        .filter(|(bit, _)| mask & (1 << bit) != 0)
        .map(|(_, name)| *name)
        .collect()
}

/// (name, uid, gid, home) of the user in an `/etc/passwd` text.
fn passwd_entry(passwd: &str, user: &IdOrName) -> Option<(String, u32, u32, String)> {
    passwd.lines().find_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() < 7 {
            return None;
        }
        let uid: u32 = f[2].parse().ok()?;
        let matches = match user {
            IdOrName::Id(id) => *id == uid,
            IdOrName::Name(name) => name == f[0],
        };
        matches.then(|| {
            (
                f[0].to_string(),
                uid,
                f[3].parse().unwrap_or(0),
                f[5].to_string(),
            )
        })
    })
}

fn group_id(group: &str, name: &str) -> Option<u32> {
    group.lines().find_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        (f.len() >= 3 && f[0] == name)
            .then(|| f[2].parse().ok())
            .flatten()
    })
}

fn groups_listing(group: &str, user: &str) -> Vec<u32> {
    group
        .lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split(':').collect();
            (f.len() >= 4 && f[3].split(',').any(|m| m == user))
                .then(|| f[2].parse().ok())
                .flatten()
        })
        .collect()
}

fn namespaces(command: &Command) -> Result<Vec<Value>, String> {
    let mut out = Vec::new();
    for kind in NamespaceKind::ALL {
        let oci = match kind {
            NamespaceKind::User => "user",
            NamespaceKind::Pid => "pid",
            NamespaceKind::Ipc => "ipc",
            NamespaceKind::Uts => "uts",
            NamespaceKind::Mount => "mount",
            NamespaceKind::Net => "network",
            NamespaceKind::Cgroup => "cgroup",
        };
        match command.namespaces.get(kind) {
            NamespaceMode::Private | NamespaceMode::None => out.push(json!({"type": oci})),
            NamespaceMode::Host => {}
            NamespaceMode::Path(path) => out.push(json!({"type": oci, "path": path})),
            NamespaceMode::Container(other) => {
                return Err(format!(
                    "namespaces.{}: sharing container {other:?} has no OCI form here",
                    kind.field()
                ))
            }
        }
    }
    Ok(out)
}

/// berth's standard mounts, with its flags and data (runtime-linux/src/helper/rootfs.rs).
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
    let mut value = json!({"destination": mount.destination, "type": kind, "options": options});
    if let Some(source) = &mount.source {
        value["source"] = json!(source);
    } else {
        value["source"] = json!(mount.kind);
    }
    value
}

fn resources(resources: &Resources, device_rules: &[String]) -> Value {
    let mut out = Map::new();
    let mut memory = Map::new();
    if let Some(limit) = resources.memory_limit {
        memory.insert("limit".into(), json!(limit));
    }
    if let Some(reservation) = resources.memory_reservation {
        memory.insert("reservation".into(), json!(reservation));
    }
    if let Some(swap) = resources.memory_swap {
        memory.insert("swap".into(), json!(swap));
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
    out.insert("devices".into(), Value::Array(devices(device_rules)));
    Value::Object(out)
}

/// OCI device rules from v1 `devices.list` lines (`c 1:3 rwm`, `a *:* rwm`): everything
/// allowed when unrestricted, else deny all and allow each line.
fn devices(rules: &[String]) -> Vec<Value> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_follows_the_command() {
        let mut command = Command::new("c1", "/nonexistent", ProcessConfig::new(["/bin/true"]));
        command.resources.memory_limit = Some(64 << 20);
        command.hostname = Some("bench".into());
        let iso = Isolation::fallback("test".into());
        let config = config(&command, "/berth-bench-oci/c1", &iso, None).unwrap();
        assert_eq!(config["process"]["args"], json!(["/bin/true"]));
        assert_eq!(config["process"]["user"]["uid"], json!(0));
        assert_eq!(config["hostname"], json!("bench"));
        assert_eq!(
            config["linux"]["resources"]["memory"]["limit"],
            json!(64 << 20)
        );
        assert_eq!(config["linux"]["cgroupsPath"], json!("/berth-bench-oci/c1"));
        let kinds: Vec<&str> = config["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["type"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, ["pid", "ipc", "uts", "network", "cgroup", "mount"]);
        assert_eq!(config["mounts"].as_array().unwrap().len(), 6);
        assert_eq!(
            config["linux"]["maskedPaths"].as_array().unwrap().len(),
            runtime_core::command::DEFAULT_MASKED_PATHS.len()
        );
        assert!(config["process"]["env"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e.as_str().unwrap().starts_with("PATH=")));
    }

    #[test]
    fn status_and_device_rules_are_read() {
        let iso = Isolation::from_status(
            "CapInh:\t0000000000000000\nCapPrm:\t00000000a80425fb\nCapEff:\t00000000a80425fb\n\
             CapBnd:\t00000000a80425fb\nCapAmb:\t0000000000000000\nNoNewPrivs:\t1\n\
             Seccomp:\t2\nSeccomp_filters:\t1\n",
        );
        assert_eq!(iso.cap_effective.len(), 14);
        assert!(iso
            .cap_effective
            .contains(&"CAP_NET_BIND_SERVICE".to_string()));
        assert!(iso.has_seccomp() && iso.no_new_privs);
        let rules = devices(&["c 1:3 rwm".into(), "c *:* m".into()]);
        assert_eq!(rules[0], json!({"allow": false, "access": "rwm"}));
        assert_eq!(
            rules[1],
            json!({"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"})
        );
        assert_eq!(rules[2], json!({"allow": true, "type": "c", "access": "m"}));
    }

    #[test]
    fn docker_profile_is_evaluated_for_the_capabilities() {
        let profile = json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]}],
            "syscalls": [
                {"names": ["read"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["reboot"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_BOOT"]}},
                {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38,
                 "excludes": {"caps": ["CAP_SYS_ADMIN"]}},
                {"names": ["s390_x"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["s390x"]}},
            ]
        });
        if std::env::consts::ARCH != "x86_64" {
            return;
        }
        let plain = docker_seccomp(&profile, &["CAP_CHOWN".to_string()]).unwrap();
        let names: Vec<&str> = plain["syscalls"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["names"][0].as_str().unwrap())
            .collect();
        assert_eq!(names, ["read", "clone3"]);
        assert_eq!(
            plain["architectures"],
            json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"])
        );
        let admin =
            docker_seccomp(&profile, &["CAP_SYS_ADMIN".into(), "CAP_SYS_BOOT".into()]).unwrap();
        assert_eq!(admin["syscalls"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn user_names_are_looked_up_in_the_rootfs() {
        let dir = std::env::temp_dir().join(format!("berth-bench-oci-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("etc")).unwrap();
        std::fs::write(
            dir.join("etc/passwd"),
            "app:x:1000:1000::/home/app:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(dir.join("etc/group"), "wheel:x:10:app\napp:x:1000:\n").unwrap();
        let mut p = ProcessConfig::new(["id"]);
        p.user = "app".into();
        let value = process(&p, &dir, &Isolation::fallback("test".into())).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(value["user"]["uid"], json!(1000));
        assert_eq!(value["user"]["gid"], json!(1000));
        assert_eq!(value["user"]["additionalGids"], json!([1000, 10]));
        assert!(value["env"]
            .as_array()
            .unwrap()
            .contains(&json!("HOME=/home/app")));
    }
}
