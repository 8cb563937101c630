//! What berth's own container really got on this host, read from a probe container: the
//! check that the OCI configs, derived by runtime-linux's functions ([`super::Confinement`]),
//! describe what berth applies, and the device cgroup rules they copy.

use runtime_linux::security::CapabilitySet;
use serde::{Deserialize, Serialize};

use super::Confinement;

/// What berth's container got on this host: read from a probe container by the harness.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
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
    /// Why the probe failed, if it did (the configs then allow every device).
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
        let caps = |name: &str| {
            CapabilitySet::from_bits(u64::from_str_radix(&field(name), 16).unwrap_or(0)).names()
        };
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

    /// What is known when no probe could run: only why.
    pub fn failed(error: String) -> Isolation {
        Isolation {
            error: Some(error),
            ..Isolation::default()
        }
    }

    pub fn has_seccomp(&self) -> bool {
        self.seccomp_mode == 2
    }

    /// Where the probe container's confinement (a root process) differs from `confinement`,
    /// which the OCI configs get, each said in a sentence; none when the probe failed.
    pub fn disagreements(&self, confinement: &Confinement) -> Vec<String> {
        if self.error.is_some() {
            return Vec::new();
        }
        let mut out = Vec::new();
        let computed = confinement.capabilities.names();
        for (set, had) in [
            ("bounding", &self.cap_bounding),
            ("effective", &self.cap_effective),
            ("permitted", &self.cap_permitted),
        ] {
            if *had != computed {
                out.push(format!(
                    "berth's probe container had the {set} capabilities [{}], but runtime-linux \
                     computes [{}] for it, which runc and crun were given",
                    had.join(", "),
                    computed.join(", ")
                ));
            }
        }
        if self.has_seccomp() != confinement.seccomp.is_some() {
            out.push(format!(
                "berth's probe container had {} seccomp filter, but runc and crun were given {}",
                if self.has_seccomp() { "a" } else { "no" },
                if confinement.seccomp.is_some() {
                    "one"
                } else {
                    "none"
                }
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str = "CapInh:\t0000000000000000\nCapPrm:\t00000000a80425fb\n\
                          CapEff:\t00000000a80425fb\nCapBnd:\t00000000a80425fb\n\
                          CapAmb:\t0000000000000000\nNoNewPrivs:\t1\nSeccomp:\t2\n\
                          Seccomp_filters:\t1\n";

    #[test]
    fn the_status_is_read_with_the_librarys_names() {
        let iso = Isolation::from_status(STATUS);
        assert_eq!(iso.cap_effective, CapabilitySet::docker_default().names());
        assert!(iso
            .cap_effective
            .contains(&"CAP_NET_BIND_SERVICE".to_string()));
        assert!(iso.cap_inheritable.is_empty());
        assert!(iso.has_seccomp() && iso.no_new_privs);
        assert_eq!(iso.seccomp_filters, 1);
    }

    #[test]
    fn a_probe_that_differs_from_the_confinement_says_so() {
        let iso = Isolation::from_status(STATUS);
        let same = Confinement {
            capabilities: CapabilitySet::docker_default(),
            seccomp: Some(serde_json::json!({})),
        };
        assert!(iso.disagreements(&same).is_empty());
        let other = Confinement {
            capabilities: CapabilitySet::empty(),
            seccomp: None,
        };
        let said = iso.disagreements(&other);
        assert_eq!(said.len(), 4, "{said:?}");
        assert!(said[0].contains("bounding"), "{said:?}");
        assert!(Isolation::failed("no probe".into())
            .disagreements(&other)
            .is_empty());
    }
}
