//! The capabilities of a container's process: Docker's default set adjusted by `cap_add` and
//! `cap_drop`, or every capability for a privileged process.
//!
//! What the process gets, as Docker (moby's `oci.SetCapabilities`) asks of runc:
//! - the **bounding** set is the set, whoever the user is;
//! - for **uid 0**, permitted and effective are the set too;
//! - for **any other uid**, permitted and effective are empty: `execve` would empty them
//!   anyway for a program without file capabilities, since the ambient set is empty;
//! - **inheritable** and **ambient** are empty. Docker put the set in the inheritable set
//!   until CVE-2022-24769 (GHSA-2mm7-x5h6-5pvq): with it, a non-root user could gain the
//!   set by running a program with inheritable file capabilities. berth follows the fix.
//!
//! After the `execve`, uid 0 has the bounding set as permitted and effective (the kernel
//! treats a root's program as carrying every file capability, bounded by the bounding set);
//! another uid has none, unless a program has file capabilities within the bounding set and
//! `no_new_privileges` is off.

use std::fmt;

use runtime_core::{Error, ProcessConfig, Result};
use serde::{Deserialize, Serialize};

use super::sys;
use crate::error::{os_error, StepExt};

/// The capabilities by number, as the kernel's `CAP_*` constants (without the prefix).
pub const NAMES: [&str; 41] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
];

/// Docker's default capabilities.
pub const DOCKER_DEFAULT: [&str; 14] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "FSETID",
    "FOWNER",
    "MKNOD",
    "NET_RAW",
    "SETGID",
    "SETUID",
    "SETFCAP",
    "SETPCAP",
    "NET_BIND_SERVICE",
    "SYS_CHROOT",
    "KILL",
    "AUDIT_WRITE",
];

/// The number of a capability named with or without `CAP_`, in any case; `None` if unknown.
pub fn number_of(name: &str) -> Option<u32> {
    let upper = name.to_ascii_uppercase();
    let bare = upper.strip_prefix("CAP_").unwrap_or(&upper);
    NAMES.iter().position(|n| *n == bare).map(|n| n as u32)
}

/// `CAP_CHOWN` for 0; `CAP_63` for a number berth has no name for.
pub fn name_of(cap: u32) -> String {
    match NAMES.get(cap as usize) {
        Some(name) => format!("CAP_{name}"),
        None => format!("CAP_{cap}"),
    }
}

/// The highest capability this kernel knows, from `/proc/sys/kernel/cap_last_cap`.
pub fn last_cap() -> Result<u32> {
    let path = "/proc/sys/kernel/cap_last_cap";
    let text = std::fs::read_to_string(path).step(|| format!("read {path}"))?;
    text.trim()
        .parse::<u32>()
        .ok()
        .filter(|&n| n < 64)
        .ok_or_else(|| Error::Internal(format!("{path} holds {:?}", text.trim())))
}

/// A set of capabilities (bit `n` is capability `n`). It crosses the host → helper socket as
/// that number.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CapabilitySet {
    bits: u64,
}

impl fmt::Debug for CapabilitySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.names()).finish()
    }
}

impl CapabilitySet {
    /// No capability.
    pub const fn empty() -> Self {
        CapabilitySet { bits: 0 }
    }

    /// The set with these bits.
    pub const fn from_bits(bits: u64) -> Self {
        CapabilitySet { bits }
    }

    /// Bit `n` is capability `n`.
    pub const fn bits(self) -> u64 {
        self.bits
    }

    /// Docker's default set ([`DOCKER_DEFAULT`]).
    pub fn docker_default() -> Self {
        let mut set = CapabilitySet::empty();
        for name in DOCKER_DEFAULT {
            set.insert(number_of(name).expect("the default names are known"));
        }
        set
    }

    /// Capabilities 0 to `last_cap`.
    pub fn all(last_cap: u32) -> Self {
        let bits = if last_cap >= 63 {
            u64::MAX
        } else {
            (1u64 << (last_cap + 1)) - 1
        };
        CapabilitySet { bits }
    }

    pub fn insert(&mut self, cap: u32) {
        if cap < 64 {
            self.bits |= 1 << cap;
        }
    }

    pub fn remove(&mut self, cap: u32) {
        if cap < 64 {
            self.bits &= !(1 << cap);
        }
    }

    pub fn contains(self, cap: u32) -> bool {
        cap < 64 && self.bits & (1 << cap) != 0
    }

    /// Whether the set holds the capability named `name` (with or without `CAP_`).
    pub fn contains_name(self, name: &str) -> bool {
        number_of(name).is_some_and(|cap| self.contains(cap))
    }

    /// The capabilities in the set, in number order.
    pub fn iter(self) -> impl Iterator<Item = u32> {
        (0..64).filter(move |&cap| self.contains(cap))
    }

    /// `CAP_*` names, in number order.
    pub fn names(self) -> Vec<String> {
        self.iter().map(name_of).collect()
    }

    /// Host side: checks `process.cap_add`/`cap_drop` and computes the set of `process`,
    /// against the capabilities this kernel knows. `field` is the JSON path of the process
    /// (`process`), used in errors: `process.cap_add[1]: unknown capability "NET_ADMINN"`.
    ///
    /// No process can grant a capability it does not hold: privileged means every capability
    /// in berth's own bounding set, and asking for one outside it is an error naming it.
    pub fn for_process(process: &ProcessConfig, field: &str) -> Result<CapabilitySet> {
        let last = last_cap()?;
        let wanted = Self::compute(
            process.privileged,
            &process.cap_add,
            &process.cap_drop,
            field,
            last,
        )?;
        let held = CapabilitySet::from_bits(
            (0..=last)
                .filter(|&cap| sys::bounding_has(cap).unwrap_or(false))
                .fold(0, |bits, cap| bits | 1 << cap),
        );
        if process.privileged {
            return Ok(CapabilitySet::from_bits(wanted.bits & held.bits));
        }
        let missing = CapabilitySet::from_bits(wanted.bits & !held.bits);
        if missing.bits != 0 {
            return Err(Error::invalid(
                format!("{field}.cap_add"),
                format!("{:?} not in berth's own bounding set", missing.names()),
            ));
        }
        Ok(wanted)
    }

    /// What [`Self::for_process`] computes, with the kernel's last capability given. As
    /// Docker's `TweakCapabilities`: privileged gets every capability; `ALL` in `cap_add`
    /// gives every capability but those in `cap_drop`; `ALL` in `cap_drop` leaves only
    /// `cap_add`; otherwise the default set less `cap_drop` plus `cap_add`.
    pub fn compute(
        privileged: bool,
        cap_add: &[String],
        cap_drop: &[String],
        field: &str,
        last_cap: u32,
    ) -> Result<CapabilitySet> {
        let all = CapabilitySet::all(last_cap);
        let add = parse_list(cap_add, &format!("{field}.cap_add"), last_cap)?;
        let drop = parse_list(cap_drop, &format!("{field}.cap_drop"), last_cap)?;
        if privileged {
            return Ok(all);
        }
        let set = if add.all {
            CapabilitySet::from_bits(all.bits & !drop.set.bits)
        } else if drop.all {
            add.set
        } else {
            let base = CapabilitySet::docker_default().bits & all.bits;
            CapabilitySet::from_bits((base & !drop.set.bits) | add.set.bits)
        };
        Ok(set)
    }

    /// Helper side, before the switch to the container's user (`setresuid`): keeps the
    /// permitted set across a switch from uid 0 to another uid (`PR_SET_KEEPCAPS`), so that
    /// [`Self::apply`] still has `CAP_SETPCAP` to trim the bounding set. Cleared by `apply`
    /// (and by the kernel at `execve`).
    pub fn keep_across_setuid() -> Result<()> {
        sys::set_keepcaps(true).step(|| "keep capabilities across the user switch")
    }

    /// Helper side, after `setresuid` (and [`Self::keep_across_setuid`] before it): removes
    /// from the bounding set every capability not in the set, then sets permitted and
    /// effective to the set for uid 0 (to nothing for another uid), empties inheritable and
    /// ambient, and clears keepcaps.
    pub fn apply(&self) -> Result<()> {
        let current = sys::capget().step(|| "read the process's capabilities")?;
        let mut to_drop = Vec::new();
        for cap in 0..64 {
            match sys::bounding_has(cap) {
                Ok(true) if !self.contains(cap) => to_drop.push(cap),
                Ok(_) => {}
                // The first capability the kernel does not know.
                Err(nix::errno::Errno::EINVAL) => break,
                Err(errno) => {
                    return Err(os_error(
                        format!("read {} in the bounding set", name_of(cap)),
                        errno,
                    ))
                }
            }
        }
        if !to_drop.is_empty() {
            // After a switch to a non-root uid, the effective set is empty: CAP_SETPCAP
            // comes back from the permitted set that keepcaps kept.
            if current.effective != current.permitted {
                sys::capset(sys::CapSets {
                    effective: current.permitted,
                    ..current
                })
                .step(|| "raise the permitted capabilities to trim the bounding set")?;
            }
            for cap in to_drop {
                sys::bounding_drop(cap)
                    .step(|| format!("drop {} from the bounding set", name_of(cap)))?;
            }
        }
        sys::set_keepcaps(false).step(|| "clear keepcaps")?;
        let granted = if nix::unistd::geteuid().is_root() {
            self.bits
        } else {
            0
        };
        sys::capset(sys::CapSets {
            effective: granted,
            permitted: granted,
            inheritable: 0,
        })
        .step(|| {
            format!(
                "set the permitted and effective capabilities to {:?}",
                CapabilitySet::from_bits(granted)
            )
        })?;
        sys::ambient_clear().step(|| "clear the ambient capabilities")
    }

    /// The calling thread's effective set (as `capget` reports it).
    pub fn current_effective() -> Result<CapabilitySet> {
        let sets = sys::capget().step(|| "read the process's capabilities")?;
        Ok(CapabilitySet::from_bits(sets.effective))
    }
}

struct ParsedList {
    set: CapabilitySet,
    all: bool,
}

fn parse_list(names: &[String], field: &str, last_cap: u32) -> Result<ParsedList> {
    let mut parsed = ParsedList {
        set: CapabilitySet::empty(),
        all: false,
    };
    for (i, name) in names.iter().enumerate() {
        if name.eq_ignore_ascii_case("ALL") || name.eq_ignore_ascii_case("CAP_ALL") {
            parsed.all = true;
            continue;
        }
        let cap = number_of(name).ok_or_else(|| {
            Error::invalid(
                format!("{field}[{i}]"),
                format!("unknown capability {name:?}"),
            )
        })?;
        if cap > last_cap {
            return Err(Error::invalid(
                format!("{field}[{i}]"),
                format!(
                    "capability {} is not known to this kernel (its last is {})",
                    name_of(cap),
                    name_of(last_cap)
                ),
            ));
        }
        parsed.set.insert(cap);
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    fn compute(add: &[&str], drop: &[&str]) -> Result<CapabilitySet> {
        CapabilitySet::compute(false, &strings(add), &strings(drop), "process", 40)
    }

    #[test]
    fn the_names_are_the_kernel_numbers() {
        assert_eq!(number_of("CHOWN"), Some(0));
        assert_eq!(number_of("cap_sys_admin"), Some(21));
        assert_eq!(number_of("CAP_MKNOD"), Some(27));
        assert_eq!(number_of("Net_Admin"), Some(12));
        assert_eq!(number_of("CAP_CHECKPOINT_RESTORE"), Some(40));
        assert_eq!(number_of("NET_ADMINN"), None);
        assert_eq!(name_of(21), "CAP_SYS_ADMIN");
        assert_eq!(name_of(50), "CAP_50");
    }

    #[test]
    fn the_default_set_is_dockers() {
        let set = compute(&[], &[]).unwrap();
        assert_eq!(set, CapabilitySet::docker_default());
        assert_eq!(set.iter().count(), 14);
        // Docker's default mask as /proc/<pid>/status shows it (CapBnd of a default
        // container).
        assert_eq!(set.bits(), 0xa80425fb);
        assert!(set.contains_name("CAP_NET_BIND_SERVICE"));
        assert!(!set.contains_name("SYS_ADMIN"));
        assert_eq!(set.names()[0], "CAP_CHOWN");
    }

    #[test]
    fn add_and_drop_adjust_the_default() {
        let set = compute(&["NET_ADMIN", "cap_sys_admin"], &["CAP_CHOWN", "mknod"]).unwrap();
        assert!(set.contains_name("NET_ADMIN") && set.contains_name("SYS_ADMIN"));
        assert!(!set.contains_name("CHOWN") && !set.contains_name("MKNOD"));
        assert_eq!(set.iter().count(), 14);
    }

    #[test]
    fn all_adds_or_drops_everything() {
        let set = compute(&["ALL"], &["SYS_ADMIN"]).unwrap();
        assert_eq!(set.iter().count(), 40);
        assert!(!set.contains_name("SYS_ADMIN"));
        let set = compute(&["NET_RAW"], &["all"]).unwrap();
        assert_eq!(set.names(), ["CAP_NET_RAW"]);
        assert_eq!(compute(&[], &["ALL"]).unwrap(), CapabilitySet::empty());
    }

    #[test]
    fn privileged_gets_every_capability_the_kernel_knows() {
        let set = CapabilitySet::compute(true, &[], &strings(&["CHOWN"]), "process", 38).unwrap();
        assert_eq!(set.bits(), (1 << 39) - 1);
        assert_eq!(CapabilitySet::all(63).bits(), u64::MAX);
    }

    #[test]
    fn an_unknown_name_is_an_invalid_argument_naming_the_field() {
        let err = compute(&["CHOWN", "NET_ADMINN"], &[]).unwrap_err();
        assert_eq!(err.kind(), runtime_core::ErrorKind::InvalidArgument);
        assert_eq!(
            err.to_string(),
            "invalid process.cap_add[1]: unknown capability \"NET_ADMINN\""
        );
        let err = compute(&[], &["bogus"]).unwrap_err();
        assert!(err.to_string().contains("process.cap_drop[0]"), "{err}");
        // Known to berth, not to an older kernel.
        let err =
            CapabilitySet::compute(false, &strings(&["BPF"]), &[], "process", 38).unwrap_err();
        assert!(err.to_string().contains("CAP_BPF is not known"), "{err}");
    }

    #[test]
    fn the_set_crosses_the_socket_as_a_number() {
        let set = CapabilitySet::docker_default();
        let json = serde_json::to_string(&set).unwrap();
        assert_eq!(json, "2818844155");
        assert_eq!(serde_json::from_str::<CapabilitySet>(&json).unwrap(), set);
        assert!(format!("{set:?}").contains("CAP_KILL"));
    }
}
