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

use runtime_core::{Command, ProcessConfig};
use runtime_linux::security::CapabilitySet;
use serde_json::Value;

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
/// `devices.list` lines; none: every device): runtime-oci's `spec_from_command`, the one
/// mapping of a command to OCI, given what runtime-linux computes.
pub fn config(
    command: &Command,
    cgroups_path: &str,
    confinement: &Confinement,
    device_rules: &[String],
) -> Result<Value, String> {
    let rootfs = std::path::Path::new(&command.rootfs);
    let identity = process::identity(&command.process, rootfs)?;
    let oci = runtime_oci::Confinement {
        cgroups_path: cgroups_path.to_string(),
        identity: process::oci_identity(identity),
        capabilities: confinement.capabilities.names(),
        seccomp: confinement.seccomp.clone(),
        device_rules: device_rules.to_vec(),
    };
    runtime_oci::spec_from_command(command, &oci).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    use serde_json::json;

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
