//! berth's seccomp profile, translated into LXC's seccomp policy text (version 2), which
//! `lxc.seccomp.profile` names and liblxc compiles with libseccomp in the container's init.
//!
//! The profile is picked as the native driver picks it (`crate::security::seccomp::program_for`):
//! none for a privileged process without a setting or for `"unconfined"`, Docker's default
//! profile for no setting or `"default"`, else the given one. Its rules are evaluated against
//! the process's capabilities, the native architecture and the kernel
//! ([`crate::security::seccomp::Conditions`]), exactly as the native compile does, and the
//! rules that remain are written one syscall per line:
//!
//! ```text
//! 2
//! allowlist errno 1
//! [all]
//! read allow
//! clone allow [0,0,SCMP_CMP_MASKED_EQ,2114060288]
//! clone3 errno 38
//! ```
//!
//! What liblxc 5.0.2 does with it (`parse_config_v2` in `src/lxc/seccomp.c`), and so what this
//! module relies on:
//! - line 2 is `allowlist` or `denylist` and the default action; every rule line here names
//!   its action, so the list's kind only says what berth meant (`denylist` for a default
//!   `allow`);
//! - actions are `allow`, `errno N`, `kill` (`SCMP_ACT_KILL`, the thread) and `trap`; there
//!   is no kill-process, log or trace action, and those are refused;
//! - a condition is `[index,value,op]`, or `[index,value,SCMP_CMP_MASKED_EQ,mask]` for
//!   `(arg & mask) == value`: OCI's `value` is the mask and `valueTwo` the value, so they
//!   swap places. All the conditions of a line hold together; as the native compile (and
//!   runc) does, a rule with two conditions on one argument becomes one line per condition;
//! - names libseccomp does not know are skipped, as the native compile skips them (they are
//!   not written at all, so no name of the profile reaches the file unless libseccomp knows
//!   it, and no LXC pseudo-name such as `reject_force_umount` can be slipped in);
//! - liblxc always filters the native architecture and its compat ones (x86_64: x86 and
//!   x32; aarch64: arm; ppc64: ppc), with the same rules: a profile whose architectures
//!   differ from that set is refused (the native filter would kill calls of an architecture
//!   it lacks, LXC's would not);
//! - a rule whose action is the default action is left out (libseccomp refuses it), as the
//!   native compile leaves it out.

use std::collections::BTreeSet;

use libseccomp::ScmpSyscall;
use runtime_core::{Error, ProcessConfig, Result};

use crate::security::seccomp::{
    architectures, default_profile, effective_rules, kernel_version, native_arch, native_scmp_arch,
    Conditions, Effective, SeccompProfile, SeccompSetting, SyscallArg,
};
use crate::security::CapabilitySet;

/// The LXC policy text for `process`, whose capabilities (bounding set) are `capabilities`,
/// or `None` when the process gets no filter. `field` is the JSON path of the process's
/// seccomp setting (`process.seccomp`), used in errors.
pub fn render(
    process: &ProcessConfig,
    capabilities: CapabilitySet,
    field: &str,
) -> Result<Option<String>> {
    let profile = match &process.seccomp {
        None if process.privileged => return Ok(None),
        Some(SeccompSetting::Unconfined) => return Ok(None),
        None | Some(SeccompSetting::Default) => default_profile(),
        Some(SeccompSetting::Profile(profile)) => profile,
    };
    let conditions = Conditions {
        caps: capabilities,
        arch: native_arch(),
        kernel: kernel_version()?,
    };
    render_profile(profile, &conditions, field)
}

/// One action as LXC writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Allow,
    Errno(u32),
    Kill,
    Trap,
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Action::Allow => f.write_str("allow"),
            Action::Errno(errno) => write!(f, "errno {errno}"),
            Action::Kill => f.write_str("kill"),
            Action::Trap => f.write_str("trap"),
        }
    }
}

fn unsupported(what: String) -> Error {
    Error::Unsupported(format!("{what} (the LXC driver)"))
}

/// An OCI action by name, with the native compile's checks (`errnoRet` in range and only
/// with an errno action).
fn parse_action(name: &str, errno: Option<u32>, field: &str) -> Result<Action> {
    let action = match name {
        "SCMP_ACT_ALLOW" => Action::Allow,
        "SCMP_ACT_ERRNO" => {
            let value = errno.unwrap_or(libc::EPERM as u32);
            if value > 0xffff {
                return Err(Error::invalid(
                    field,
                    format!("errnoRet {value} is out of range"),
                ));
            }
            Action::Errno(value)
        }
        "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" => Action::Kill,
        "SCMP_ACT_TRAP" => Action::Trap,
        "SCMP_ACT_KILL_PROCESS" | "SCMP_ACT_LOG" | "SCMP_ACT_TRACE" | "SCMP_ACT_NOTIFY" => {
            return Err(unsupported(format!(
                "{field}: {name}: LXC's seccomp policy has only allow, errno, kill (the thread) \
                 and trap"
            )))
        }
        other => {
            return Err(Error::invalid(
                field,
                format!(
                    "unknown seccomp action {other:?} (SCMP_ACT_ALLOW, SCMP_ACT_ERRNO, \
                     SCMP_ACT_KILL, SCMP_ACT_KILL_THREAD, SCMP_ACT_KILL_PROCESS, SCMP_ACT_TRAP, \
                     SCMP_ACT_LOG, SCMP_ACT_TRACE)"
                ),
            ))
        }
    };
    if errno.is_some() && name != "SCMP_ACT_ERRNO" {
        return Err(Error::invalid(
            field,
            format!("errnoRet goes with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not {name}"),
        ));
    }
    Ok(action)
}

const OPS: [&str; 7] = [
    "SCMP_CMP_NE",
    "SCMP_CMP_LT",
    "SCMP_CMP_LE",
    "SCMP_CMP_EQ",
    "SCMP_CMP_GE",
    "SCMP_CMP_GT",
    "SCMP_CMP_MASKED_EQ",
];

/// One condition as LXC reads it.
fn condition(arg: &SyscallArg, field: &str) -> Result<String> {
    if arg.index > 5 {
        return Err(Error::invalid(
            format!("{field}.index"),
            format!("{} is not an argument index (0 to 5)", arg.index),
        ));
    }
    if !OPS.contains(&arg.op.as_str()) {
        return Err(Error::invalid(
            format!("{field}.op"),
            format!(
                "unknown comparison {:?} (SCMP_CMP_NE, SCMP_CMP_LT, SCMP_CMP_LE, SCMP_CMP_EQ, \
                 SCMP_CMP_GE, SCMP_CMP_GT, SCMP_CMP_MASKED_EQ)",
                arg.op
            ),
        ));
    }
    Ok(if arg.op == "SCMP_CMP_MASKED_EQ" {
        // OCI: `value` is the mask, `valueTwo` what the masked argument equals; LXC: the value
        // second, the mask last.
        format!(
            "[{},{},SCMP_CMP_MASKED_EQ,{}]",
            arg.index, arg.value_two, arg.value
        )
    } else {
        format!("[{},{},{}]", arg.index, arg.value, arg.op)
    })
}

/// The architectures liblxc filters on this host (`parse_config_v2` adds the compat ones).
fn lxc_arches() -> BTreeSet<String> {
    let names: &[&str] = match native_scmp_arch() {
        "SCMP_ARCH_X86_64" => &["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "SCMP_ARCH_AARCH64" => &["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"],
        "SCMP_ARCH_PPC64" => &["SCMP_ARCH_PPC64", "SCMP_ARCH_PPC"],
        native => return BTreeSet::from([native.to_string()]),
    };
    names.iter().map(|n| n.to_string()).collect()
}

/// The profile's architectures, as the native compile picks them: `architectures`, or the
/// `archMap` entry of the native architecture; the native one always.
fn profile_arches(profile: &SeccompProfile, field: &str) -> Result<BTreeSet<String>> {
    let native = native_scmp_arch();
    let mut arches = BTreeSet::from([native.to_string()]);
    for (name, _) in architectures(profile, field)? {
        arches.insert(if name == "SCMP_ARCH_NATIVE" {
            native.to_string()
        } else {
            name.to_string()
        });
    }
    Ok(arches)
}

/// [`render`] for one profile and the conditions its rules are evaluated against.
pub fn render_profile(
    profile: &SeccompProfile,
    conditions: &Conditions<'_>,
    field: &str,
) -> Result<Option<String>> {
    if profile.listener_path.is_some() || profile.listener_metadata.is_some() {
        return Err(unsupported(format!(
            "{field}.listenerPath: seccomp user notification"
        )));
    }
    for (i, flag) in profile.flags.iter().enumerate() {
        match flag.as_str() {
            // liblxc loads the filter in the container's init, which has one thread: syncing
            // the other threads changes nothing.
            "SECCOMP_FILTER_FLAG_TSYNC" => {}
            "SECCOMP_FILTER_FLAG_LOG" | "SECCOMP_FILTER_FLAG_SPEC_ALLOW" => {
                return Err(unsupported(format!(
                    "{field}.flags[{i}]: {flag}: LXC loads its filters without flags"
                )))
            }
            other => {
                return Err(Error::invalid(
                    format!("{field}.flags[{i}]"),
                    format!(
                        "unknown or unsupported seccomp flag {other:?} \
                         (SECCOMP_FILTER_FLAG_TSYNC, SECCOMP_FILTER_FLAG_LOG, \
                         SECCOMP_FILTER_FLAG_SPEC_ALLOW)"
                    ),
                ))
            }
        }
    }
    let default = parse_action(
        &profile.default_action,
        profile.default_errno_ret,
        &format!("{field}.defaultAction"),
    )?;
    let arches = profile_arches(profile, field)?;
    let lxc = lxc_arches();
    if arches != lxc {
        return Err(unsupported(format!(
            "{field}.architectures: the profile filters {:?}, and LXC always filters {:?} on \
             this host",
            arches, lxc
        )));
    }

    // Everything is checked first, so that a bad profile is an error whatever applies here.
    let mut lines = Vec::new();
    let rules = effective_rules(
        profile,
        conditions,
        field,
        &default,
        parse_action,
        condition,
    )?;
    for Effective {
        rule,
        action,
        args,
        split,
        ..
    } in rules
    {
        let groups: Vec<String> = if args.is_empty() {
            vec![String::new()]
        } else if split {
            args.iter().map(|arg| format!(" {arg}")).collect()
        } else {
            vec![format!(" {}", args.concat())]
        };
        for name in &rule.names {
            // As the native compile: names this libseccomp does not know are skipped.
            if ScmpSyscall::from_name(name).is_err() {
                continue;
            }
            for conditions in &groups {
                lines.push(format!("{name} {action}{conditions}"));
            }
        }
    }
    if lines.is_empty() && default == Action::Allow {
        return Ok(None);
    }
    let kind = if default == Action::Allow {
        "denylist"
    } else {
        "allowlist"
    };
    let mut text = format!("2\n{kind} {default}\n[all]\n");
    for line in lines {
        text.push_str(&line);
        text.push('\n');
    }
    Ok(Some(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(json: &str) -> SeccompProfile {
        serde_json::from_str(json).unwrap()
    }

    fn conditions(caps: CapabilitySet) -> Conditions<'static> {
        Conditions {
            caps,
            arch: native_arch(),
            kernel: (6, 1),
        }
    }

    fn render_json(json: &str) -> Result<Option<String>> {
        render_profile(
            &profile(json),
            &conditions(CapabilitySet::empty()),
            "process.seccomp",
        )
    }

    /// `"architectures"` as LXC filters them on this host.
    fn arches_json() -> String {
        let native = native_scmp_arch();
        let subs: Vec<String> = lxc_arches()
            .into_iter()
            .filter(|a| a != native)
            .map(|a| format!("{a:?}"))
            .collect();
        format!(
            r#""archMap": [{{"architecture": "{native}", "subArchitectures": [{}]}}]"#,
            subs.join(",")
        )
    }

    #[test]
    fn the_default_profile_renders_with_its_default_action_and_conditions() {
        let plain = CapabilitySet::docker_default();
        let text = render_profile(default_profile(), &conditions(plain), "process.seccomp")
            .unwrap()
            .unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[..3], ["2", "allowlist errno 1", "[all]"]);
        assert!(lines.contains(&"read allow"));
        assert!(lines.contains(&"clone3 errno 38"));
        assert!(lines.contains(&"socket allow [0,40,SCMP_CMP_NE]"));
        // Masked-equal: the value second, the mask last.
        assert!(
            lines.contains(&"clone allow [0,0,SCMP_CMP_MASKED_EQ,2114060288]"),
            "{text}"
        );
        // Without CAP_SYS_ADMIN, no mount, unshare or setns.
        for absent in ["mount allow", "unshare allow", "setns allow"] {
            assert!(!lines.contains(&absent), "{absent}");
        }
        let mut admin = plain;
        admin.insert(21);
        let text = render_profile(default_profile(), &conditions(admin), "process.seccomp")
            .unwrap()
            .unwrap();
        assert!(text.lines().any(|l| l == "mount allow"));
        assert!(
            text.lines().any(|l| l == "clone allow"),
            "unconditional clone"
        );
        // Only names libseccomp knows, one rule per line, nothing else.
        for line in text.lines().skip(3) {
            let name = line.split(' ').next().unwrap();
            assert!(ScmpSyscall::from_name(name).is_ok(), "{line}");
        }
    }

    #[test]
    fn which_profile_a_process_gets() {
        let caps = CapabilitySet::docker_default();
        let mut process = ProcessConfig::new(["/bin/sh"]);
        assert!(render(&process, caps, "process.seccomp").unwrap().is_some());
        process.privileged = true;
        assert!(render(&process, caps, "process.seccomp").unwrap().is_none());
        process.seccomp = Some(SeccompSetting::Default);
        assert!(render(&process, caps, "process.seccomp").unwrap().is_some());
        process.seccomp = Some(SeccompSetting::Unconfined);
        process.privileged = false;
        assert!(render(&process, caps, "process.seccomp").unwrap().is_none());
    }

    #[test]
    fn a_custom_profile_renders_rule_by_rule() {
        let json = format!(
            r#"{{"defaultAction": "SCMP_ACT_ALLOW", {},
                "flags": ["SECCOMP_FILTER_FLAG_TSYNC"],
                "syscalls": [
                  {{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}},
                  {{"names": ["no_such_syscall", "reject_force_umount"], "action": "SCMP_ACT_KILL"}},
                  {{"names": ["personality"], "action": "SCMP_ACT_TRAP",
                   "args": [{{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}},
                            {{"index": 0, "value": 2, "op": "SCMP_CMP_EQ"}}]}},
                  {{"names": ["kill"], "action": "SCMP_ACT_ERRNO",
                   "args": [{{"index": 0, "value": 1, "op": "SCMP_CMP_LE"}},
                            {{"index": 1, "value": 9, "op": "SCMP_CMP_EQ"}}]}},
                  {{"names": ["getpid"], "action": "SCMP_ACT_ALLOW"}},
                  {{"names": ["chroot"], "action": "SCMP_ACT_KILL_THREAD",
                   "includes": {{"caps": ["CAP_SYS_CHROOT"]}}}}
                ]}}"#,
            arches_json()
        );
        let text = render_json(&json).unwrap().unwrap();
        assert_eq!(
            text,
            "2\ndenylist allow\n[all]\n\
             mkdir errno 13\nmkdirat errno 13\n\
             personality trap [0,1,SCMP_CMP_EQ]\npersonality trap [0,2,SCMP_CMP_EQ]\n\
             kill errno 1 [0,1,SCMP_CMP_LE][1,9,SCMP_CMP_EQ]\n"
        );
        let nothing = format!(
            r#"{{"defaultAction": "SCMP_ACT_ALLOW", {}}}"#,
            arches_json()
        );
        assert_eq!(render_json(&nothing).unwrap(), None);
        let killer = format!(r#"{{"defaultAction": "SCMP_ACT_KILL", {}}}"#, arches_json());
        assert_eq!(
            render_json(&killer).unwrap().unwrap(),
            "2\nallowlist kill\n[all]\n"
        );
    }

    #[test]
    fn what_lxc_cannot_express_is_unsupported() {
        let check = |json: String, wanted: &str| {
            let err = render_json(&json).unwrap_err();
            assert_eq!(err.kind(), runtime_core::ErrorKind::Unsupported, "{err}");
            assert!(err.to_string().contains(wanted), "{err} lacks {wanted}");
            assert!(err.to_string().contains("(the LXC driver)"), "{err}");
        };
        let arches = arches_json();
        for action in ["SCMP_ACT_KILL_PROCESS", "SCMP_ACT_LOG", "SCMP_ACT_TRACE"] {
            check(
                format!(r#"{{"defaultAction": "{action}", {arches}}}"#),
                "process.seccomp.defaultAction",
            );
            check(
                format!(
                    r#"{{"defaultAction": "SCMP_ACT_ALLOW", {arches},
                        "syscalls": [{{"names": ["read"], "action": "{action}"}}]}}"#
                ),
                "process.seccomp.syscalls[0].action",
            );
        }
        check(
            format!(r#"{{"defaultAction": "SCMP_ACT_NOTIFY", {arches}}}"#),
            "SCMP_ACT_NOTIFY",
        );
        check(
            format!(r#"{{"defaultAction": "SCMP_ACT_ALLOW", {arches}, "listenerPath": "/run/x"}}"#),
            "process.seccomp.listenerPath",
        );
        check(
            format!(
                r#"{{"defaultAction": "SCMP_ACT_ALLOW", {arches},
                    "flags": ["SECCOMP_FILTER_FLAG_LOG"]}}"#
            ),
            "process.seccomp.flags[0]",
        );
        // The native architecture alone: the native filter kills compat calls, LXC's would not.
        check(
            r#"{"defaultAction": "SCMP_ACT_ERRNO"}"#.to_string(),
            "process.seccomp.architectures",
        );
    }

    #[test]
    fn bad_profiles_are_invalid_as_in_the_native_compile() {
        let arches = arches_json();
        let check = |json: String, wanted: &str| {
            let err = render_json(&json).unwrap_err();
            assert_eq!(
                err.kind(),
                runtime_core::ErrorKind::InvalidArgument,
                "{err}"
            );
            assert!(err.to_string().contains(wanted), "{err} lacks {wanted}");
        };
        check(
            format!(r#"{{"defaultAction": "SCMP_ACT_NOPE", {arches}}}"#),
            "process.seccomp.defaultAction",
        );
        check(
            format!(
                r#"{{"defaultAction": "SCMP_ACT_ALLOW", {arches}, "syscalls": [{{"names": ["read"],
                "action": "SCMP_ACT_ERRNO", "args": [{{"index": 6, "value": 0, "op": "SCMP_CMP_EQ"}}]}}]}}"#
            ),
            "process.seccomp.syscalls[0].args[0].index",
        );
        check(
            format!(
                r#"{{"defaultAction": "SCMP_ACT_ALLOW", {arches}, "syscalls": [{{"names": ["read"],
                "action": "SCMP_ACT_ERRNO", "args": [{{"index": 0, "value": 0, "op": "EQ"}}]}}]}}"#
            ),
            "process.seccomp.syscalls[0].args[0].op",
        );
        check(
            format!(
                r#"{{"defaultAction": "SCMP_ACT_ALLOW", {arches}, "syscalls": [{{"names": ["read"],
                "action": "SCMP_ACT_KILL", "errnoRet": 3}}]}}"#
            ),
            "errnoRet goes with",
        );
        check(
            format!(
                r#"{{"defaultAction": "SCMP_ACT_ALLOW", {arches}, "syscalls": [{{"names": [],
                "action": "SCMP_ACT_KILL"}}]}}"#
            ),
            "process.seccomp.syscalls[0].names",
        );
        check(
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_VAX"]}"#.into(),
            "process.seccomp.architectures[0]: unknown architecture",
        );
        check(
            format!(
                r#"{{"defaultAction": "SCMP_ACT_ALLOW", {arches}, "flags": ["SECCOMP_FILTER_FLAG_NEW_LISTENER"]}}"#
            ),
            "process.seccomp.flags[0]",
        );
    }
}
