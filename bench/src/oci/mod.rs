//! An OCI runtime `config.json` (for runc and crun) made from the same [`Command`] that berth
//! runs, so that every runtime gets the same container: the program, its environment and
//! identity, the namespaces, the standard mounts and the user's, the cgroup limits, the masked
//! and read-only paths, the hostname and sysctls.
//!
//! The confinement is derived as berth derives its own, by runtime-linux's functions
//! ([`Confinement`]): the capability set of `CapabilitySet::for_process`, the user and groups
//! of the init's passwd and group lookups ([`mod@process`]), and the seccomp profile berth
//! compiles, each of Docker's conditional rules kept or dropped by runtime-linux's own
//! evaluation ([`seccomp`]). The device cgroup rules are copied from a probe container
//! ([`Isolation`]), which also checks that berth applied what the configs describe. So neither
//! side pays for confinement the other skips.

mod isolation;
mod process;
mod seccomp;

use runtime_core::{Command, Mount, NamespaceKind, NamespaceMode, ProcessConfig, Resources};
use runtime_linux::security::CapabilitySet;
use serde_json::{json, Map, Value};

pub use isolation::Isolation;
pub use process::process;

/// What berth confines a process with, computed by runtime-linux's own functions, as its
/// preflight computes it (`preflight::confinement`).
#[derive(Debug, Clone, Default)]
pub struct Confinement {
    /// `CapabilitySet::for_process`: the bounding set, and root's permitted and effective.
    pub capabilities: CapabilitySet,
    /// The OCI form of the profile berth compiles its filter from; `None`: no filter.
    pub seccomp: Option<Value>,
}

impl Confinement {
    /// The confinement of `process` on this host and kernel.
    pub fn for_process(process: &ProcessConfig) -> Result<Confinement, String> {
        let capabilities =
            CapabilitySet::for_process(process, "process").map_err(|e| e.to_string())?;
        let seccomp = match seccomp::profile_of(process) {
            Some(profile) => {
                let kernel = runtime_linux::security::seccomp::kernel_version()
                    .map_err(|e| e.to_string())?;
                Some(seccomp::plain(profile, capabilities, kernel)?)
            }
            None => None,
        };
        Ok(Confinement {
            capabilities,
            seccomp,
        })
    }

    /// How many rules the OCI profile has (0 without one), for the report.
    pub fn seccomp_rules(&self) -> usize {
        self.seccomp
            .as_ref()
            .and_then(|p| p["syscalls"].as_array())
            .map_or(0, Vec::len)
    }
}

/// The `config.json` of a bundle for `command`, whose cgroup is `cgroups_path`, confined by
/// `confinement` (computed for `command.process`) and the device cgroup `device_rules` (v1
/// `devices.list` lines; none: every device).
pub fn config(
    command: &Command,
    cgroups_path: &str,
    confinement: &Confinement,
    device_rules: &[String],
) -> Result<Value, String> {
    let rootfs = std::path::Path::new(&command.rootfs);
    let mut linux = Map::new();
    linux.insert("namespaces".into(), Value::Array(namespaces(command)?));
    linux.insert("cgroupsPath".into(), json!(cgroups_path));
    linux.insert(
        "resources".into(),
        resources(&command.resources, device_rules),
    );
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
    for mount in &command.mounts {
        mounts.push(user_mount(mount));
    }
    Ok(json!({
        "ociVersion": "1.0.2",
        "process": process(&command.process, rootfs, confinement.capabilities)?,
        "root": {"path": command.rootfs, "readonly": command.readonly_rootfs},
        "hostname": command.effective_hostname(),
        "mounts": mounts,
        "linux": Value::Object(linux),
    }))
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
        let confinement = Confinement {
            capabilities: CapabilitySet::docker_default(),
            seccomp: Some(json!({"defaultAction": "SCMP_ACT_ERRNO"})),
        };
        let config = config(&command, "/berth-bench-oci/c1", &confinement, &[]).unwrap();
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
        assert_eq!(
            config["linux"]["seccomp"],
            json!({"defaultAction": "SCMP_ACT_ERRNO"})
        );
        assert_eq!(
            config["process"]["capabilities"]["effective"]
                .as_array()
                .unwrap()
                .len(),
            14
        );
        assert_eq!(
            config["linux"]["resources"]["devices"],
            json!([{"allow": true, "access": "rwm"}])
        );
    }

    #[test]
    fn device_rules_are_read() {
        let rules = devices(&["c 1:3 rwm".into(), "c *:* m".into()]);
        assert_eq!(rules[0], json!({"allow": false, "access": "rwm"}));
        assert_eq!(
            rules[1],
            json!({"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"})
        );
        assert_eq!(rules[2], json!({"allow": true, "type": "c", "access": "m"}));
    }

    /// The confinement is what runtime-linux computes for the process on this host: its
    /// capability set and its evaluation of Docker's profile for those and this kernel.
    #[test]
    fn the_confinement_is_runtime_linuxs() {
        let process = ProcessConfig::new(["/bin/true"]);
        let confinement = Confinement::for_process(&process).unwrap();
        let caps = CapabilitySet::for_process(&process, "process").unwrap();
        assert_eq!(confinement.capabilities, caps);
        assert_eq!(caps, CapabilitySet::docker_default());
        let kernel = runtime_linux::security::seccomp::kernel_version().unwrap();
        let default = runtime_linux::security::seccomp::default_profile();
        assert_eq!(
            confinement.seccomp,
            Some(seccomp::plain(default, caps, kernel).unwrap())
        );
        assert!(confinement.seccomp_rules() > 0);
        let mut unconfined = process;
        unconfined.seccomp = Some(runtime_core::SeccompSetting::Unconfined);
        assert_eq!(Confinement::for_process(&unconfined).unwrap().seccomp, None);
    }
}
