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
//!
//! **Explicit sets** (`process.capabilities`, OCI's five sets) replace all of that, with runc's
//! semantics ([`ProcessCapabilities::for_process`]): the bounding set is dropped to
//! `bounding`; permitted, effective and inheritable are set exactly with `capset` after the
//! user switch (keepcaps keeps the permitted set across it, so a non-root user holds them
//! too, until `execve` applies the kernel's rules); then each ambient capability is raised.
//! What the kernel would refuse is decided on the host, before anything is created:
//! - a name berth does not know is invalid (runc ignores it with a warning);
//! - a capability this kernel lacks (above `cap_last_cap`) is left out of every set, as runc
//!   leaves out what its kernel does not know, with a warning; one that berth itself does not
//!   hold (outside its own bounding set) is left out of `bounding` and `ambient`, and is
//!   invalid in `effective`, `permitted` or `inheritable` (runc's `capset` fails with
//!   `EPERM`: "unable to apply caps"); [`ProcessCapabilities::skipped`] says what was left
//!   out, so a caller can warn;
//! - effective not within permitted, or inheritable not within bounding, is invalid (runc's
//!   `capset` fails with `EPERM` when the container starts);
//! - an ambient capability not in both permitted and inheritable is skipped (the kernel
//!   refuses to raise it; runc warns and goes on), and listed by `skipped` too.

use std::fmt;

use runtime_core::{CapabilitySets, Error, ProcessConfig, Result};
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
    ///
    /// With explicit sets (`process.capabilities`), their bounding set
    /// ([`ProcessCapabilities::for_process`]).
    pub fn for_process(process: &ProcessConfig, field: &str) -> Result<CapabilitySet> {
        Ok(ProcessCapabilities::for_process(process, field)?.bounding)
    }

    /// What [`Self::for_process`] computes without explicit sets.
    fn adjusted_default(process: &ProcessConfig, field: &str) -> Result<CapabilitySet> {
        let last = last_cap()?;
        let wanted = Self::compute(
            process.privileged,
            &process.cap_add,
            &process.cap_drop,
            field,
            last,
        )?;
        let held = held(last);
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

    /// Helper side: [`ProcessCapabilities::apply`] by berth's rule over this bounding set.
    pub fn apply(&self) -> Result<()> {
        ProcessCapabilities::by_default_rule(*self).apply()
    }

    /// The calling thread's effective set (as `capget` reports it).
    pub fn current_effective() -> Result<CapabilitySet> {
        let sets = sys::capget().step(|| "read the process's capabilities")?;
        Ok(CapabilitySet::from_bits(sets.effective))
    }
}

/// Capabilities 0 to `last` that berth's own bounding set holds.
fn held(last: u32) -> CapabilitySet {
    CapabilitySet::from_bits(
        (0..=last)
            .filter(|&cap| sys::bounding_has(cap).unwrap_or(false))
            .fold(0, |bits, cap| bits | 1 << cap),
    )
}

/// The sets besides the bounding set, exactly as explicit sets give them (numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExactSets {
    pub effective: CapabilitySet,
    pub permitted: CapabilitySet,
    pub inheritable: CapabilitySet,
    /// Only those also in `permitted` and `inheritable`: the kernel raises no other.
    pub ambient: CapabilitySet,
}

/// Every capability a process gets: the bounding set, and the others either by berth's rule
/// (the module's doc) or exactly as `process.capabilities` gives them. It crosses the host →
/// helper socket as part of the confinement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessCapabilities {
    /// The bounding set: also the one Docker's seccomp conditions are evaluated against (as
    /// moby does, against the OCI bounding set), and LXC's `lxc.cap.keep`.
    pub bounding: CapabilitySet,
    /// `None`: berth's rule, permitted and effective the bounding set for uid 0 and empty
    /// for another uid, inheritable and ambient empty. `Some`: these.
    pub exact: Option<ExactSets>,
}

/// Explicit sets as numbers, and the names given in them that are left out.
struct Resolved {
    capabilities: ProcessCapabilities,
    skipped: Vec<String>,
}

impl ProcessCapabilities {
    /// Berth's rule over the bounding set `set`.
    pub fn by_default_rule(set: CapabilitySet) -> Self {
        ProcessCapabilities {
            bounding: set,
            exact: None,
        }
    }

    /// Host side: the capabilities of `process`, checked against this kernel and berth's own
    /// bounding set. `field` is the JSON path of the process (`process`), used in errors.
    /// Without `process.capabilities`, [`CapabilitySet::for_process`]'s set by berth's rule;
    /// with it, the explicit sets, as the module's doc says.
    pub fn for_process(process: &ProcessConfig, field: &str) -> Result<ProcessCapabilities> {
        match &process.capabilities {
            None => Ok(Self::by_default_rule(CapabilitySet::adjusted_default(
                process, field,
            )?)),
            Some(sets) => {
                let last = last_cap()?;
                Ok(resolve(sets, &format!("{field}.capabilities"), last, held(last))?.capabilities)
            }
        }
    }

    /// The names in `process.capabilities` that [`Self::for_process`] leaves out, each with
    /// its set and why (`ambient CAP_CHOWN: not in permitted and inheritable`), for a caller
    /// that warns as runc does. Empty without explicit sets; an error where `for_process`
    /// gives one.
    pub fn skipped(process: &ProcessConfig, field: &str) -> Result<Vec<String>> {
        match &process.capabilities {
            None => Ok(Vec::new()),
            Some(sets) => {
                let last = last_cap()?;
                Ok(resolve(sets, &format!("{field}.capabilities"), last, held(last))?.skipped)
            }
        }
    }

    /// What [`Self::for_process`] computes for explicit sets, with the kernel's last
    /// capability and berth's own bounding set given.
    pub fn compute_exact(
        sets: &CapabilitySets,
        field: &str,
        last_cap: u32,
        held: CapabilitySet,
    ) -> Result<ProcessCapabilities> {
        Ok(resolve(sets, field, last_cap, held)?.capabilities)
    }

    /// Helper side, after `setresuid` (and [`CapabilitySet::keep_across_setuid`] before it):
    /// removes from the bounding set every capability not in it, clears keepcaps, then sets
    /// permitted, effective and inheritable (berth's rule, or the exact sets) and the ambient
    /// set.
    pub fn apply(&self) -> Result<()> {
        let current = sys::capget().step(|| "read the process's capabilities")?;
        let mut to_drop = Vec::new();
        for cap in 0..64 {
            match sys::bounding_has(cap) {
                Ok(true) if !self.bounding.contains(cap) => to_drop.push(cap),
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
        let sets = match self.exact {
            Some(exact) => sys::CapSets {
                effective: exact.effective.bits,
                permitted: exact.permitted.bits,
                inheritable: exact.inheritable.bits,
            },
            None => {
                let granted = if nix::unistd::geteuid().is_root() {
                    self.bounding.bits
                } else {
                    0
                };
                sys::CapSets {
                    effective: granted,
                    permitted: granted,
                    inheritable: 0,
                }
            }
        };
        sys::capset(sets).step(|| {
            format!(
                "set the capabilities to effective {:?}, permitted {:?}, inheritable {:?}",
                CapabilitySet::from_bits(sets.effective),
                CapabilitySet::from_bits(sets.permitted),
                CapabilitySet::from_bits(sets.inheritable)
            )
        })?;
        sys::ambient_clear().step(|| "clear the ambient capabilities")?;
        for cap in self
            .exact
            .map_or(CapabilitySet::empty(), |e| e.ambient)
            .iter()
        {
            sys::ambient_raise(cap)
                .step(|| format!("raise {} in the ambient set", name_of(cap)))?;
        }
        Ok(())
    }
}

/// Explicit sets to numbers, as the module's doc says.
fn resolve(
    sets: &CapabilitySets,
    field: &str,
    last_cap: u32,
    held: CapabilitySet,
) -> Result<Resolved> {
    let mut skipped = Vec::new();
    let mut parsed = [CapabilitySet::empty(); 5];
    for ((list, names), set) in sets.lists().into_iter().zip(parsed.iter_mut()) {
        for (i, name) in names.iter().enumerate() {
            let cap = number_of(name).ok_or_else(|| {
                Error::invalid(
                    format!("{field}.{list}[{i}]"),
                    format!("unknown capability {name:?}"),
                )
            })?;
            if cap > last_cap {
                skipped.push(format!(
                    "{list} {}: not known to this kernel (its last is {})",
                    name_of(cap),
                    name_of(last_cap)
                ));
            } else if !held.contains(cap) {
                // As runc: one it cannot have is simply not in the bounding set it drops to,
                // and an ambient one it fails to raise is a warning; but capset refuses to
                // grant one it does not hold, and runc fails ("unable to apply caps").
                if !matches!(list, "bounding" | "ambient") {
                    return Err(Error::invalid(
                        format!("{field}.{list}[{i}]"),
                        format!(
                            "{}: not in berth's own bounding set, so it cannot be granted",
                            name_of(cap)
                        ),
                    ));
                }
                skipped.push(format!(
                    "{list} {}: not in berth's own bounding set",
                    name_of(cap)
                ));
            } else {
                set.insert(cap);
            }
        }
    }
    let [bounding, effective, inheritable, permitted, ambient] = parsed;
    let outside = |inner: CapabilitySet, outer: CapabilitySet| {
        CapabilitySet::from_bits(inner.bits & !outer.bits)
    };
    let stray = outside(effective, permitted);
    if stray != CapabilitySet::empty() {
        return Err(Error::invalid(
            format!("{field}.effective"),
            format!("{:?} not in {field}.permitted", stray.names()),
        ));
    }
    let stray = outside(inheritable, bounding);
    if stray != CapabilitySet::empty() {
        return Err(Error::invalid(
            format!("{field}.inheritable"),
            format!("{:?} not in {field}.bounding", stray.names()),
        ));
    }
    let raisable = CapabilitySet::from_bits(permitted.bits & inheritable.bits);
    for cap in outside(ambient, raisable).iter() {
        skipped.push(format!(
            "ambient {}: not in both permitted and inheritable",
            name_of(cap)
        ));
    }
    Ok(Resolved {
        capabilities: ProcessCapabilities {
            bounding,
            exact: Some(ExactSets {
                effective,
                permitted,
                inheritable,
                ambient: CapabilitySet::from_bits(ambient.bits & raisable.bits),
            }),
        },
        skipped,
    })
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

    fn sets(
        bounding: &[&str],
        effective: &[&str],
        inheritable: &[&str],
        permitted: &[&str],
        ambient: &[&str],
    ) -> CapabilitySets {
        CapabilitySets {
            bounding: strings(bounding),
            effective: strings(effective),
            inheritable: strings(inheritable),
            permitted: strings(permitted),
            ambient: strings(ambient),
        }
    }

    fn set_of(names: &[&str]) -> CapabilitySet {
        let mut set = CapabilitySet::empty();
        for name in names {
            set.insert(number_of(name).unwrap());
        }
        set
    }

    fn exact(given: &CapabilitySets, last: u32, held: CapabilitySet) -> Result<Resolved> {
        resolve(given, "process.capabilities", last, held)
    }

    #[test]
    fn explicit_sets_are_taken_exactly() {
        let given = sets(
            &["CAP_KILL", "chown", "SYSLOG"],
            &["KILL"],
            &["CHOWN", "CAP_SYSLOG"],
            &["KILL", "CHOWN"],
            &["CHOWN"],
        );
        let resolved = exact(&given, 40, CapabilitySet::all(40)).unwrap();
        assert!(resolved.skipped.is_empty(), "{:?}", resolved.skipped);
        let caps = resolved.capabilities;
        assert_eq!(caps.bounding, set_of(&["KILL", "CHOWN", "SYSLOG"]));
        let exact = caps.exact.unwrap();
        assert_eq!(exact.effective, set_of(&["KILL"]));
        assert_eq!(exact.inheritable, set_of(&["CHOWN", "SYSLOG"]));
        assert_eq!(exact.permitted, set_of(&["KILL", "CHOWN"]));
        assert_eq!(exact.ambient, set_of(&["CHOWN"]));
        // Empty lists: nothing at all.
        let none = exact_of(&CapabilitySets::default());
        assert_eq!(none.bounding, CapabilitySet::empty());
        assert_eq!(none.exact.unwrap().permitted, CapabilitySet::empty());
    }

    fn exact_of(given: &CapabilitySets) -> ProcessCapabilities {
        exact(given, 40, CapabilitySet::all(40))
            .unwrap()
            .capabilities
    }

    #[test]
    fn what_this_kernel_or_berth_lacks_is_left_out_and_said() {
        // CAP_BPF (39) on a kernel whose last is 38; SYS_ADMIN outside berth's own set.
        let held = CapabilitySet::from_bits(
            CapabilitySet::all(38).bits() & !set_of(&["SYS_ADMIN"]).bits(),
        );
        let given = sets(
            &["BPF", "SYS_ADMIN", "KILL"],
            &[],
            &[],
            &["BPF", "KILL"],
            &[],
        );
        let resolved = exact(&given, 38, held).unwrap();
        assert_eq!(resolved.capabilities.bounding, set_of(&["KILL"]));
        assert_eq!(
            resolved.capabilities.exact.unwrap().permitted,
            set_of(&["KILL"])
        );
        assert_eq!(
            resolved.skipped,
            [
                "bounding CAP_BPF: not known to this kernel (its last is CAP_PERFMON)",
                "bounding CAP_SYS_ADMIN: not in berth's own bounding set",
                "permitted CAP_BPF: not known to this kernel (its last is CAP_PERFMON)",
            ]
        );
    }

    #[test]
    fn granting_what_berth_does_not_hold_is_refused_as_runcs_capset_refuses_it() {
        // Docker's `--cap-add ALL` where berth lacks CAP_SYS_RESOURCE: runc fails with
        // "unable to apply caps: operation not permitted".
        let held = CapabilitySet::from_bits(
            CapabilitySet::all(40).bits() & !set_of(&["SYS_RESOURCE"]).bits(),
        );
        for (list, given) in [
            (
                "permitted",
                sets(&["SYS_RESOURCE"], &[], &[], &["SYS_RESOURCE"], &[]),
            ),
            ("effective", sets(&[], &["SYS_RESOURCE"], &[], &[], &[])),
            ("inheritable", sets(&[], &[], &["SYS_RESOURCE"], &[], &[])),
        ] {
            let err = exact(&given, 40, held).err().expect(list);
            assert!(
                err.to_string().contains(&format!(
                    "process.capabilities.{list}[0]: CAP_SYS_RESOURCE: not in berth's own \
                     bounding set"
                )),
                "{err}"
            );
        }
        // Only in the bounding set (or ambient): left out, and said.
        let resolved = exact(
            &sets(&["SYS_RESOURCE", "KILL"], &[], &[], &[], &["SYS_RESOURCE"]),
            40,
            held,
        )
        .unwrap();
        assert_eq!(resolved.capabilities.bounding, set_of(&["KILL"]));
        assert_eq!(
            resolved.skipped,
            [
                "bounding CAP_SYS_RESOURCE: not in berth's own bounding set",
                "ambient CAP_SYS_RESOURCE: not in berth's own bounding set",
            ]
        );
    }

    #[test]
    fn ambient_outside_permitted_and_inheritable_is_skipped() {
        let given = sets(
            &["KILL", "CHOWN"],
            &[],
            &["KILL"],
            &["KILL", "CHOWN"],
            &["KILL", "CHOWN", "NET_RAW"],
        );
        let resolved = exact(&given, 40, CapabilitySet::all(40)).unwrap();
        assert_eq!(
            resolved.capabilities.exact.unwrap().ambient,
            set_of(&["KILL"])
        );
        assert_eq!(
            resolved.skipped,
            [
                "ambient CAP_CHOWN: not in both permitted and inheritable",
                "ambient CAP_NET_RAW: not in both permitted and inheritable",
            ]
        );
    }

    #[test]
    fn sets_the_kernel_would_refuse_are_invalid_naming_the_field() {
        let unknown = sets(&["KILL", "CAP_NOPE"], &[], &[], &[], &[]);
        let err = exact(&unknown, 40, CapabilitySet::all(40)).err().unwrap();
        assert_eq!(err.kind(), runtime_core::ErrorKind::InvalidArgument);
        assert_eq!(
            err.to_string(),
            "invalid process.capabilities.bounding[1]: unknown capability \"CAP_NOPE\""
        );
        // OCI has no ALL.
        let all = sets(&[], &[], &[], &["ALL"], &[]);
        assert!(exact(&all, 40, CapabilitySet::all(40)).is_err());
        let effective = sets(&["KILL"], &["KILL", "CHOWN"], &[], &["KILL"], &[]);
        let err = exact(&effective, 40, CapabilitySet::all(40)).err().unwrap();
        assert_eq!(
            err.to_string(),
            "invalid process.capabilities.effective: [\"CAP_CHOWN\"] not in \
             process.capabilities.permitted"
        );
        let inheritable = sets(&["KILL"], &[], &["CHOWN"], &[], &[]);
        let err = exact(&inheritable, 40, CapabilitySet::all(40))
            .err()
            .unwrap();
        assert_eq!(
            err.to_string(),
            "invalid process.capabilities.inheritable: [\"CAP_CHOWN\"] not in \
             process.capabilities.bounding"
        );
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
