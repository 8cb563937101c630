//! The seccomp profile of an OCI config: the profile berth compiles its own filter from, made
//! plain OCI by runtime-linux's own evaluation of Docker's conditional rules.

use runtime_core::{ProcessConfig, SeccompProfile, SeccompSetting};
use runtime_linux::security::seccomp::{self, Conditions};
use runtime_linux::security::CapabilitySet;
use serde_json::Value;

/// The profile berth compiles for `process`, picked as `seccomp::program_for` picks it: no
/// setting is Docker's default (none for a privileged process), `"unconfined"` is none.
pub fn profile_of(process: &ProcessConfig) -> Option<&SeccompProfile> {
    match &process.seccomp {
        None if process.privileged => None,
        None | Some(SeccompSetting::Default) => Some(seccomp::default_profile()),
        Some(SeccompSetting::Unconfined) => None,
        Some(SeccompSetting::Profile(profile)) => Some(profile),
    }
}

/// `profile` as plain OCI for a process with capabilities `caps` on a kernel `kernel`
/// (major, minor): the architectures `seccomp::compile` adds (the profile's own, and the
/// native one's `archMap` entry), and only the rules whose `includes` and `excludes` (caps,
/// arches, `minKernel`) runtime-linux's [`Conditions`] keep, without those conditions, which
/// OCI does not have.
pub fn plain(
    profile: &SeccompProfile,
    caps: CapabilitySet,
    kernel: (u32, u32),
) -> Result<Value, String> {
    let conditions = Conditions {
        caps,
        arch: seccomp::native_arch(),
        kernel,
    };
    let mut syscalls = Vec::new();
    for (i, rule) in profile.syscalls.iter().enumerate() {
        let kept = conditions
            .applies(rule, &format!("seccomp.syscalls[{i}]"))
            .map_err(|e| e.to_string())?;
        if kept {
            let mut rule = rule.clone();
            rule.includes = None;
            rule.excludes = None;
            rule.comment = None;
            syscalls.push(rule);
        }
    }
    let mut architectures = profile.architectures.clone();
    let native = seccomp::native_scmp_arch();
    for entry in profile.arch_map.iter().filter(|e| e.architecture == native) {
        architectures.push(entry.architecture.clone());
        architectures.extend(entry.sub_architectures.iter().flatten().cloned());
    }
    let plain = SeccompProfile {
        architectures,
        arch_map: Vec::new(),
        syscalls,
        ..profile.clone()
    };
    serde_json::to_value(plain).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(json: serde_json::Value) -> SeccompProfile {
        serde_json::from_value(json).unwrap()
    }

    fn names(plain: &Value) -> Vec<&str> {
        plain["syscalls"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["names"][0].as_str().unwrap())
            .collect()
    }

    fn caps(names: &[&str]) -> CapabilitySet {
        let mut set = CapabilitySet::empty();
        for name in names {
            set.insert(runtime_linux::security::caps::number_of(name).unwrap());
        }
        set
    }

    #[test]
    fn docker_rules_are_kept_for_the_capabilities_and_the_arch() {
        let profile = profile(serde_json::json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "archMap": [
                {"architecture": seccomp::native_scmp_arch(), "subArchitectures": ["SCMP_ARCH_SUB"]},
                {"architecture": "SCMP_ARCH_ELSEWHERE", "subArchitectures": ["SCMP_ARCH_NOT_HERE"]}
            ],
            "syscalls": [
                {"names": ["read"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["reboot"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_BOOT"]}},
                {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38,
                 "excludes": {"caps": ["CAP_SYS_ADMIN"]}},
                {"names": ["elsewhere"], "action": "SCMP_ACT_ALLOW",
                 "includes": {"arches": ["no-such-arch"]}},
            ]
        }));
        let plain_caps = plain(&profile, caps(&["CHOWN"]), (6, 1)).unwrap();
        assert_eq!(names(&plain_caps), ["read", "clone3"]);
        assert_eq!(
            plain_caps["architectures"],
            serde_json::json!([seccomp::native_scmp_arch(), "SCMP_ARCH_SUB"])
        );
        assert!(plain_caps.get("archMap").is_none());
        assert!(plain_caps["syscalls"][1].get("excludes").is_none());
        assert_eq!(plain_caps["syscalls"][1]["errnoRet"], 38);
        let admin = plain(&profile, caps(&["SYS_ADMIN", "SYS_BOOT"]), (6, 1)).unwrap();
        assert_eq!(names(&admin), ["read", "reboot"]);
    }

    /// The rule the old copy of this evaluation kept: `excludes.minKernel` drops a rule on a
    /// kernel at least that new, as runtime-linux's `Conditions` (and Docker) decide.
    #[test]
    fn a_rule_excluded_from_a_min_kernel_on_is_dropped_as_the_library_drops_it() {
        let profile = profile(serde_json::json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": [
                {"names": ["old_only"], "action": "SCMP_ACT_ALLOW", "excludes": {"minKernel": "5.8"}},
                {"names": ["new_only"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "5.8"}},
            ]
        }));
        let caps = CapabilitySet::docker_default();
        for (kernel, wanted) in [((5, 4), ["old_only"]), ((5, 8), ["new_only"])] {
            let library = Conditions {
                caps,
                arch: seccomp::native_arch(),
                kernel,
            };
            let by_library: Vec<&str> = profile
                .syscalls
                .iter()
                .filter(|r| library.applies(r, "seccomp").unwrap())
                .map(|r| r.names[0].as_str())
                .collect();
            let plain = plain(&profile, caps, kernel).unwrap();
            assert_eq!(names(&plain), wanted, "on {kernel:?}");
            assert_eq!(names(&plain), by_library, "on {kernel:?}");
        }
    }

    #[test]
    fn the_profile_is_the_one_berth_picks_for_the_process() {
        let mut process = ProcessConfig::new(["/bin/true"]);
        assert_eq!(profile_of(&process), Some(seccomp::default_profile()));
        process.privileged = true;
        assert_eq!(profile_of(&process), None);
        process.seccomp = Some(SeccompSetting::Default);
        assert_eq!(profile_of(&process), Some(seccomp::default_profile()));
        process.seccomp = Some(SeccompSetting::Unconfined);
        assert_eq!(profile_of(&process), None);
    }

    #[test]
    fn dockers_default_profile_is_made_plain_for_dockers_default_caps() {
        let plain = plain(
            seccomp::default_profile(),
            CapabilitySet::docker_default(),
            (6, 1),
        )
        .unwrap();
        let rules = plain["syscalls"].as_array().unwrap();
        assert!(!rules.is_empty() && rules.len() < seccomp::default_profile().syscalls.len());
        assert!(!rules
            .iter()
            .any(|r| r["names"].as_array().unwrap().contains(&"mount".into())));
        assert_eq!(plain["defaultAction"], "SCMP_ACT_ERRNO");
    }
}
