//! Seccomp: a profile (Docker's default, or one in the OCI format) compiled to a classic BPF
//! program **on the host** with libseccomp, sent to the helper as bytes, and loaded there
//! with a bare `seccomp(2)` just before `execve` (the helper links no libseccomp code path).
//!
//! Docker's default profile is `default-seccomp.json` beside this file: moby's
//! `profiles/seccomp/default.json` (Apache-2.0), kept as data. Its rules are conditional on the
//! process's capabilities (`CAP_SYS_ADMIN` allows `mount`, `unshare`, ...), the native
//! architecture and the kernel version; [`compile`] evaluates them as Docker's
//! `setupSeccomp` does, against the bounding set ([`CapabilitySet`]).
//!
//! Compiling is the expensive part (about 10 ms for Docker's default profile);
//! [`SeccompCache`] keeps the default profile's program per capability set, and, when the
//! driver is given a cache directory, every compiled program on disk for the next process
//! ([`super::seccomp_disk`]).

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::sync::{Arc, OnceLock};

use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
};
use parking_lot::Mutex;
use runtime_core::{Error, Result};
use serde::{Deserialize, Serialize};

use super::caps::CapabilitySet;
use super::sys;
pub use super::wire::{
    ArchMap, RuleFilter, SeccompProfile, SeccompProfile as Profile, SeccompSetting, SyscallArg,
    SyscallRule,
};
use crate::error::StepExt;

/// Docker's default profile, as moby ships it.
pub const DEFAULT_PROFILE_JSON: &str = include_str!("default-seccomp.json");

/// Docker's default profile, parsed once.
pub fn default_profile() -> &'static SeccompProfile {
    static PROFILE: OnceLock<SeccompProfile> = OnceLock::new();
    PROFILE.get_or_init(|| {
        serde_json::from_str(DEFAULT_PROFILE_JSON).expect("default-seccomp.json is a profile")
    })
}

/// A compiled filter: classic BPF instructions (`struct sock_filter`, one per `u64`, in the
/// host's byte order) and the `SECCOMP_FILTER_FLAG_*` bits to load it with.
///
/// It crosses the host → helper socket as `{"flags": 0, "filter": "<hex of the bytes>"}`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "WireProgram", into = "WireProgram")]
pub struct SeccompProgram {
    insns: Vec<u64>,
    flags: u32,
}

impl std::fmt::Debug for SeccompProgram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SeccompProgram")
            .field("instructions", &self.insns.len())
            .field("flags", &self.flags)
            .finish()
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireProgram {
    flags: u32,
    filter: String,
}

impl From<SeccompProgram> for WireProgram {
    fn from(program: SeccompProgram) -> Self {
        // By hand: a `format!` per byte was most of a CLI `create`'s time in this function
        // (Docker's default profile is a few thousand bytes of filter, sent and cached).
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut filter = String::with_capacity(program.insns.len() * 16);
        for insn in &program.insns {
            for byte in insn.to_ne_bytes() {
                filter.push(char::from(DIGITS[usize::from(byte >> 4)]));
                filter.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
            }
        }
        WireProgram {
            flags: program.flags,
            filter,
        }
    }
}

impl TryFrom<WireProgram> for SeccompProgram {
    type Error = String;

    fn try_from(wire: WireProgram) -> std::result::Result<Self, String> {
        let text = wire.filter.as_bytes();
        if !text.chunks_exact(16).remainder().is_empty() {
            return Err("a seccomp filter is a whole number of 8-byte instructions".into());
        }
        let nibble = |c: u8| match c {
            b'0'..=b'9' => Ok(c - b'0'),
            b'a'..=b'f' => Ok(c - b'a' + 10),
            _ => Err(format!("{:?} is not a lowercase hex digit", c as char)),
        };
        let mut bytes = Vec::with_capacity(text.len() / 2);
        for pair in text.chunks(2) {
            bytes.push(nibble(pair[0])? << 4 | nibble(pair[1])?);
        }
        SeccompProgram::from_bytes(&bytes, wire.flags)
    }
}

/// The most instructions a seccomp program may have (`BPF_MAXINSNS`).
const MAX_INSTRUCTIONS: usize = 4096;

impl SeccompProgram {
    /// A program from the bytes of `struct sock_filter`s, as `seccomp_export_bpf` writes them.
    pub fn from_bytes(bytes: &[u8], flags: u32) -> std::result::Result<Self, String> {
        let whole = bytes.chunks_exact(8).remainder().is_empty();
        if bytes.is_empty() || !whole || bytes.len() / 8 > MAX_INSTRUCTIONS {
            return Err(format!(
                "a seccomp filter has 1 to {MAX_INSTRUCTIONS} 8-byte instructions, not {} bytes",
                bytes.len()
            ));
        }
        let insns = bytes
            .chunks_exact(8)
            .map(|chunk| u64::from_ne_bytes(chunk.try_into().expect("8 bytes")))
            .collect();
        Ok(SeccompProgram { insns, flags })
    }

    /// The number of BPF instructions.
    pub fn len(&self) -> usize {
        self.insns.len()
    }

    /// Never true: a program has at least one instruction.
    pub fn is_empty(&self) -> bool {
        self.insns.is_empty()
    }

    /// The `SECCOMP_FILTER_FLAG_*` bits it is loaded with.
    pub fn flags(&self) -> u32 {
        self.flags
    }

    /// The instructions as bytes, as `seccomp_export_bpf` wrote them.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.insns.iter().flat_map(|i| i.to_ne_bytes()).collect()
    }

    /// Helper side: installs the filter on the calling thread with
    /// `seccomp(SECCOMP_SET_MODE_FILTER)`. It allocates nothing on success. The thread must
    /// have `no_new_privs` set or `CAP_SYS_ADMIN` in its effective set, or this fails with
    /// `EACCES`.
    pub fn load(&self) -> Result<()> {
        sys::seccomp_set_filter(&self.insns, self.flags.into()).step(|| {
            format!(
                "load the seccomp filter ({} instructions, flags {:#x})",
                self.insns.len(),
                self.flags
            )
        })
    }
}

/// Host side: the program for a process, by its setting: `None` (no setting) is the default
/// profile, or unconfined for a privileged process; `"unconfined"` is no program.
pub fn program_for(
    setting: Option<&SeccompSetting>,
    privileged: bool,
    caps: CapabilitySet,
    cache: &SeccompCache,
    field: &str,
) -> Result<Option<Arc<SeccompProgram>>> {
    match setting {
        None if privileged => Ok(None),
        None | Some(SeccompSetting::Default) => cache.default_program(caps, field),
        Some(SeccompSetting::Unconfined) => Ok(None),
        Some(SeccompSetting::Profile(profile)) => cache.program(profile, caps, field),
    }
}

/// The default profile's programs, compiled once per capability set and shared; and, with
/// a directory, every program kept on disk for the next driver ([`super::seccomp_disk`]).
#[derive(Debug, Default)]
pub struct SeccompCache {
    default: Mutex<HashMap<CapabilitySet, Option<Arc<SeccompProgram>>>>,
    disk: Option<super::seccomp_disk::DiskCache>,
}

impl SeccompCache {
    /// A cache in memory only.
    pub fn new() -> Self {
        Self::default()
    }

    /// A cache in memory and, with `dir`, on disk there (see [`super::seccomp_disk`] for
    /// what is trusted).
    pub fn with_disk(dir: Option<std::path::PathBuf>) -> Self {
        SeccompCache {
            default: Mutex::default(),
            disk: dir.map(super::seccomp_disk::DiskCache::new),
        }
    }

    /// The program of `profile` for `caps`: from the disk cache when it holds it, compiled
    /// otherwise.
    pub fn program(
        &self,
        profile: &SeccompProfile,
        caps: CapabilitySet,
        field: &str,
    ) -> Result<Option<Arc<SeccompProgram>>> {
        let (program, _) =
            super::seccomp_disk::compile_cached(self.disk.as_ref(), profile, caps, field)?;
        Ok(program.map(Arc::new))
    }

    /// Docker's default profile for a process with capabilities `caps`.
    pub fn default_program(
        &self,
        caps: CapabilitySet,
        field: &str,
    ) -> Result<Option<Arc<SeccompProgram>>> {
        if let Some(program) = self.default.lock().get(&caps) {
            return Ok(program.clone());
        }
        // Compiled outside the lock: two racing compiles of one set give the same program.
        let program = self.program(default_profile(), caps, field)?;
        Ok(self.default.lock().entry(caps).or_insert(program).clone())
    }

    /// How many capability sets have a compiled default program.
    pub fn len(&self) -> usize {
        self.default.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The native architecture in Go's names, which Docker's `includes`/`excludes` use.
pub fn native_arch() -> &'static str {
    if cfg!(target_arch = "x86_64") {
        "amd64"
    } else if cfg!(target_arch = "x86") {
        "x86"
    } else if cfg!(target_arch = "aarch64") {
        "arm64"
    } else if cfg!(target_arch = "arm") {
        "arm"
    } else if cfg!(target_arch = "s390x") {
        "s390x"
    } else if cfg!(all(target_arch = "powerpc64", target_endian = "little")) {
        "ppc64le"
    } else if cfg!(target_arch = "powerpc64") {
        "ppc64"
    } else if cfg!(target_arch = "riscv64") {
        "riscv64"
    } else if cfg!(target_arch = "loongarch64") {
        "loong64"
    } else {
        "unknown"
    }
}

/// The native architecture in libseccomp's names (`SCMP_ARCH_X86_64`), to pick `archMap`.
pub fn native_scmp_arch() -> &'static str {
    match native_arch() {
        "amd64" => "SCMP_ARCH_X86_64",
        "x86" => "SCMP_ARCH_X86",
        "arm64" => "SCMP_ARCH_AARCH64",
        "arm" => "SCMP_ARCH_ARM",
        "s390x" => "SCMP_ARCH_S390X",
        "ppc64le" => "SCMP_ARCH_PPC64LE",
        "ppc64" => "SCMP_ARCH_PPC64",
        "riscv64" => "SCMP_ARCH_RISCV64",
        "loong64" => "SCMP_ARCH_LOONGARCH64",
        _ => "SCMP_ARCH_NATIVE",
    }
}

/// The running kernel's `(major, minor)`, from `/proc/sys/kernel/osrelease`.
pub fn kernel_version() -> Result<(u32, u32)> {
    static VERSION: OnceLock<std::result::Result<(u32, u32), String>> = OnceLock::new();
    VERSION
        .get_or_init(|| {
            let path = "/proc/sys/kernel/osrelease";
            let text = std::fs::read_to_string(path).map_err(|e| format!("read {path}: {e}"))?;
            parse_version(text.trim()).ok_or_else(|| format!("{path} holds {:?}", text.trim()))
        })
        .clone()
        .map_err(Error::Internal)
}

/// `6.1.0-18-amd64` → `(6, 1)`; `4.8` → `(4, 8)`.
fn parse_version(text: &str) -> Option<(u32, u32)> {
    let mut parts = text.split(|c: char| !c.is_ascii_digit());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next().map_or(Some(0), |m| m.parse().ok())?;
    Some((major, minor))
}

/// Where the rule's conditions leave it for this process (Docker's `setupSeccomp`).
pub struct Conditions<'a> {
    pub caps: CapabilitySet,
    pub arch: &'a str,
    pub kernel: (u32, u32),
}

impl Conditions<'_> {
    pub fn applies(&self, rule: &SyscallRule, field: &str) -> Result<bool> {
        let at_least = |version: &str, which: &str| {
            parse_version(version)
                .map(|wanted| self.kernel >= wanted)
                .ok_or_else(|| {
                    Error::invalid(
                        format!("{field}.{which}.minKernel"),
                        format!("{version:?} is not a kernel version (major.minor)"),
                    )
                })
        };
        if let Some(excludes) = &rule.excludes {
            if excludes.arches.iter().any(|a| a == self.arch)
                || excludes.caps.iter().any(|c| self.caps.contains_name(c))
            {
                return Ok(false);
            }
            if let Some(version) = &excludes.min_kernel {
                if at_least(version, "excludes")? {
                    return Ok(false);
                }
            }
        }
        if let Some(includes) = &rule.includes {
            if !includes.arches.is_empty() && !includes.arches.iter().any(|a| a == self.arch) {
                return Ok(false);
            }
            if !includes.caps.iter().all(|c| self.caps.contains_name(c)) {
                return Ok(false);
            }
            if let Some(version) = &includes.min_kernel {
                if !at_least(version, "includes")? {
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }
}

/// An action by name; `errno` is `errnoRet` (default `EPERM` for `SCMP_ACT_ERRNO`).
fn parse_action(name: &str, errno: Option<u32>, field: &str) -> Result<ScmpAction> {
    let errno_value = || -> Result<i32> {
        let value = errno.unwrap_or(libc::EPERM as u32);
        i32::try_from(value)
            .ok()
            .filter(|v| *v <= 0xffff)
            .ok_or_else(|| Error::invalid(field, format!("errnoRet {value} is out of range")))
    };
    let action = match name {
        "SCMP_ACT_ALLOW" => ScmpAction::Allow,
        "SCMP_ACT_ERRNO" => ScmpAction::Errno(errno_value()?),
        "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" => ScmpAction::KillThread,
        "SCMP_ACT_KILL_PROCESS" => ScmpAction::KillProcess,
        "SCMP_ACT_TRAP" => ScmpAction::Trap,
        "SCMP_ACT_LOG" => ScmpAction::Log,
        "SCMP_ACT_TRACE" => ScmpAction::Trace(errno_value()? as u16),
        "SCMP_ACT_NOTIFY" => {
            return Err(Error::Unsupported(format!(
                "{field} SCMP_ACT_NOTIFY (seccomp user notification)"
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
    if errno.is_some() && !matches!(name, "SCMP_ACT_ERRNO" | "SCMP_ACT_TRACE") {
        return Err(Error::invalid(
            field,
            format!("errnoRet goes with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not {name}"),
        ));
    }
    Ok(action)
}

fn parse_arg(arg: &SyscallArg, field: &str) -> Result<ScmpArgCompare> {
    if arg.index > 5 {
        return Err(Error::invalid(
            format!("{field}.index"),
            format!("{} is not an argument index (0 to 5)", arg.index),
        ));
    }
    let op = match arg.op.as_str() {
        "SCMP_CMP_NE" => ScmpCompareOp::NotEqual,
        "SCMP_CMP_LT" => ScmpCompareOp::Less,
        "SCMP_CMP_LE" => ScmpCompareOp::LessOrEqual,
        "SCMP_CMP_EQ" => ScmpCompareOp::Equal,
        "SCMP_CMP_GE" => ScmpCompareOp::GreaterEqual,
        "SCMP_CMP_GT" => ScmpCompareOp::Greater,
        // OCI: `value` is the mask, `valueTwo` what the masked argument must equal.
        "SCMP_CMP_MASKED_EQ" => {
            return Ok(ScmpArgCompare::new(
                arg.index,
                ScmpCompareOp::MaskedEqual(arg.value),
                arg.value_two,
            ))
        }
        other => {
            return Err(Error::invalid(
                format!("{field}.op"),
                format!(
                    "unknown comparison {other:?} (SCMP_CMP_NE, SCMP_CMP_LT, SCMP_CMP_LE, \
                     SCMP_CMP_EQ, SCMP_CMP_GE, SCMP_CMP_GT, SCMP_CMP_MASKED_EQ)"
                ),
            ))
        }
    };
    Ok(ScmpArgCompare::new(arg.index, op, arg.value))
}

fn parse_flags(flags: &[String], field: &str) -> Result<u32> {
    let mut bits = 0;
    for (i, flag) in flags.iter().enumerate() {
        bits |= match flag.as_str() {
            "SECCOMP_FILTER_FLAG_TSYNC" => libc::SECCOMP_FILTER_FLAG_TSYNC,
            "SECCOMP_FILTER_FLAG_LOG" => libc::SECCOMP_FILTER_FLAG_LOG,
            "SECCOMP_FILTER_FLAG_SPEC_ALLOW" => libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW,
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
        } as u32;
    }
    Ok(bits)
}

fn libseccomp_error(step: String) -> impl FnOnce(libseccomp::error::SeccompError) -> Error {
    move |err| Error::Internal(format!("{step}: libseccomp: {err}"))
}

/// Host side: compiles `profile` for a process with capabilities `caps` into a BPF program,
/// or `None` when it would filter nothing (default action allow and no rule left). `field`
/// is the profile's JSON path, used in errors (`seccomp.syscalls[3].action: ...`).
///
/// The architectures a profile filters, by name and parsed: `architectures`, or the `archMap`
/// entry of the native architecture with its sub-architectures (the native one is added by
/// libseccomp, and by LXC). Both given, or a name libseccomp does not know: invalid.
pub fn architectures<'a>(
    profile: &'a SeccompProfile,
    field: &str,
) -> Result<Vec<(&'a str, ScmpArch)>> {
    if !profile.architectures.is_empty() && !profile.arch_map.is_empty() {
        return Err(Error::invalid(
            field,
            "give either architectures or archMap, not both",
        ));
    }
    let native = native_scmp_arch();
    let mut named: Vec<(String, &str)> = profile
        .architectures
        .iter()
        .enumerate()
        .map(|(i, a)| (format!("{field}.architectures[{i}]"), a.as_str()))
        .collect();
    for (i, entry) in profile.arch_map.iter().enumerate() {
        if entry.architecture == native {
            named.push((
                format!("{field}.archMap[{i}].architecture"),
                &entry.architecture,
            ));
            for (j, sub) in entry.sub_architectures.iter().flatten().enumerate() {
                named.push((
                    format!("{field}.archMap[{i}].subArchitectures[{j}]"),
                    sub.as_str(),
                ));
            }
        }
    }
    named
        .into_iter()
        .map(|(at, name)| {
            let arch = name.parse().map_err(|_| {
                Error::invalid(
                    at,
                    format!("unknown architecture {name:?} (SCMP_ARCH_X86_64, ...)"),
                )
            })?;
            Ok((name, arch))
        })
        .collect()
}

/// A rule of a profile that applies on this host, checked: its index in `syscalls`, the rule,
/// its action and its conditions as the caller parses them, and whether two conditions name
/// one argument (then each goes into a rule of its own, as runc does).
pub struct Effective<'a, A, C> {
    pub index: usize,
    pub rule: &'a SyscallRule,
    pub action: A,
    pub args: Vec<C>,
    pub split: bool,
}

/// Every rule of `profile`, checked whether it applies or not (so that a bad profile is an
/// error whatever this host is), and those that apply under `conditions` with an action
/// other than `default`: what the native compile and the LXC driver's translation both
/// filter, each with its own `action` and `arg` parsers.
pub fn effective_rules<'a, A: PartialEq, C>(
    profile: &'a SeccompProfile,
    conditions: &Conditions<'_>,
    field: &str,
    default: &A,
    action: impl Fn(&str, Option<u32>, &str) -> Result<A>,
    arg: impl Fn(&SyscallArg, &str) -> Result<C>,
) -> Result<Vec<Effective<'a, A, C>>> {
    let mut rules = Vec::new();
    for (index, rule) in profile.syscalls.iter().enumerate() {
        let at = format!("{field}.syscalls[{index}]");
        if rule.names.is_empty() {
            return Err(Error::invalid(format!("{at}.names"), "names no syscall"));
        }
        let parsed = action(&rule.action, rule.errno_ret, &format!("{at}.action"))?;
        let args = rule
            .args
            .iter()
            .enumerate()
            .map(|(j, a)| arg(a, &format!("{at}.args[{j}]")))
            .collect::<Result<Vec<_>>>()?;
        if conditions.applies(rule, &at)? && parsed != *default {
            let mut per_index = [0u8; 6];
            for a in &rule.args {
                per_index[a.index as usize] += 1;
            }
            rules.push(Effective {
                index,
                rule,
                action: parsed,
                args,
                split: per_index.iter().any(|&n| n > 1),
            });
        }
    }
    Ok(rules)
}

/// As runc: syscall names this host's libseccomp does not know are skipped; a rule whose
/// action is the default action is skipped; a rule with two conditions on one argument
/// becomes one rule per condition.
pub fn compile(
    profile: &SeccompProfile,
    caps: CapabilitySet,
    field: &str,
) -> Result<Option<SeccompProgram>> {
    if profile.listener_path.is_some() || profile.listener_metadata.is_some() {
        return Err(Error::Unsupported(format!(
            "{field}.listenerPath (seccomp user notification)"
        )));
    }
    let flags = parse_flags(&profile.flags, field)?;
    let default_action = parse_action(
        &profile.default_action,
        profile.default_errno_ret,
        &format!("{field}.defaultAction"),
    )?;

    let parsed_arches: Vec<ScmpArch> = architectures(profile, field)?
        .into_iter()
        .map(|(_, arch)| arch)
        .collect();

    let conditions = Conditions {
        caps,
        arch: native_arch(),
        kernel: kernel_version()?,
    };
    let rules = effective_rules(
        profile,
        &conditions,
        field,
        &default_action,
        parse_action,
        parse_arg,
    )?;
    if rules.is_empty() && default_action == ScmpAction::Allow {
        return Ok(None);
    }

    let mut filter = ScmpFilterContext::new(default_action)
        .map_err(libseccomp_error("create a seccomp filter".into()))?;
    for arch in parsed_arches {
        filter
            .add_arch(arch)
            .map_err(libseccomp_error(format!("add architecture {arch:?}")))?;
    }
    for Effective {
        index: i,
        rule,
        action,
        args,
        split,
    } in &rules
    {
        let split = *split;
        for name in &rule.names {
            let Ok(syscall) = ScmpSyscall::from_name(name) else {
                continue;
            };
            let added = if args.is_empty() {
                filter.add_rule(*action, syscall).map(drop)
            } else if split {
                args.iter().try_for_each(|arg| {
                    filter
                        .add_rule_conditional(*action, syscall, std::slice::from_ref(arg))
                        .map(drop)
                })
            } else {
                filter
                    .add_rule_conditional(*action, syscall, args)
                    .map(drop)
            };
            added.map_err(|err| {
                Error::invalid(
                    format!("{field}.syscalls[{i}]"),
                    format!("libseccomp refused the rule for {name}: {err}"),
                )
            })?;
        }
    }
    // A binary tree of syscall numbers instead of a list, as runc does for long profiles.
    if rules.len() > 32
        || profile
            .syscalls
            .iter()
            .map(|r| r.names.len())
            .sum::<usize>()
            > 32
    {
        filter.set_ctl_optimize(2).map_err(libseccomp_error(
            "set the filter's optimization level".into(),
        ))?;
    }
    let bytes = export(&filter)?;
    SeccompProgram::from_bytes(&bytes, flags)
        .map(Some)
        .map_err(|why| Error::Internal(format!("libseccomp exported a bad filter: {why}")))
}

/// `seccomp_export_bpf` into a memfd (libseccomp 2.5 has no export to memory).
fn export(filter: &ScmpFilterContext) -> Result<Vec<u8>> {
    let fd =
        nix::sys::memfd::memfd_create(c"berth-seccomp", nix::sys::memfd::MFdFlags::MFD_CLOEXEC)
            .step(|| "create a memfd for the seccomp filter")?;
    let mut file = std::fs::File::from(fd);
    filter
        .export_bpf(&file)
        .map_err(libseccomp_error("export the seccomp filter".into()))?;
    let mut bytes = Vec::new();
    file.seek(SeekFrom::Start(0))
        .and_then(|_| file.read_to_end(&mut bytes))
        .step(|| "read the exported seccomp filter")?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(json: &str) -> SeccompProfile {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn the_default_profile_parses_and_is_dockers() {
        let profile = default_profile();
        assert_eq!(profile.default_action, "SCMP_ACT_ERRNO");
        assert_eq!(profile.default_errno_ret, Some(1));
        assert!(profile.syscalls[0].names.len() > 300);
        assert!(profile.syscalls.iter().any(|r| r
            .includes
            .as_ref()
            .is_some_and(|i| i.caps.contains(&"CAP_SYS_ADMIN".to_string()))));
    }

    #[test]
    fn rules_are_conditional_on_caps_arch_and_kernel() {
        let default = default_profile();
        let applies = |caps: CapabilitySet, names: &[&str]| -> bool {
            let conditions = Conditions {
                caps,
                arch: "amd64",
                kernel: (6, 1),
            };
            default
                .syscalls
                .iter()
                .filter(|r| conditions.applies(r, "seccomp").unwrap())
                .any(|r| names.iter().all(|n| r.names.iter().any(|m| m == n)))
        };
        let plain = CapabilitySet::docker_default();
        let mut admin = plain;
        admin.insert(21);
        assert!(!applies(plain, &["mount", "unshare"]));
        assert!(applies(admin, &["mount", "unshare"]));
        assert!(applies(plain, &["arch_prctl"]));
        assert!(!applies(plain, &["s390_runtime_instr"]));
        assert!(applies(plain, &["ptrace"]), "minKernel 4.8 holds on 6.1");
        // clone3 gets ENOSYS without CAP_SYS_ADMIN, so that glibc falls back to clone.
        assert!(applies(plain, &["clone3"]) && applies(admin, &["clone3"]));
    }

    #[test]
    fn the_default_profile_compiles_for_the_default_caps_and_for_sys_admin() {
        let plain = CapabilitySet::docker_default();
        let mut admin = plain;
        admin.insert(21);
        let a = compile(default_profile(), plain, "seccomp")
            .unwrap()
            .unwrap();
        let b = compile(default_profile(), admin, "seccomp")
            .unwrap()
            .unwrap();
        assert!(a.len() > 100 && a.len() <= MAX_INSTRUCTIONS, "{a:?}");
        assert_ne!(a, b);
        assert_eq!(a.flags(), 0);
        // The program crosses the socket and comes back the same.
        let json = serde_json::to_string(&a).unwrap();
        assert!(json.len() < 64 * 1024, "{} bytes", json.len());
        assert_eq!(serde_json::from_str::<SeccompProgram>(&json).unwrap(), a);
    }

    #[test]
    fn the_cache_compiles_once_per_capability_set() {
        let cache = SeccompCache::new();
        let caps = CapabilitySet::docker_default();
        let first = cache.default_program(caps, "seccomp").unwrap().unwrap();
        let again = cache.default_program(caps, "seccomp").unwrap().unwrap();
        assert!(Arc::ptr_eq(&first, &again));
        assert_eq!(cache.len(), 1);
        let none = program_for(None, true, caps, &cache, "seccomp").unwrap();
        assert!(none.is_none(), "privileged is unconfined by default");
        let set = SeccompSetting::Default;
        assert!(program_for(Some(&set), true, caps, &cache, "seccomp")
            .unwrap()
            .is_some());
        let unconfined = SeccompSetting::Unconfined;
        assert!(
            program_for(Some(&unconfined), false, caps, &cache, "seccomp")
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn a_custom_profile_compiles() {
        let custom = profile(
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
                "flags": ["SECCOMP_FILTER_FLAG_LOG"],
                "syscalls": [
                  {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
                  {"names": ["no_such_syscall"], "action": "SCMP_ACT_KILL"},
                  {"names": ["personality"], "action": "SCMP_ACT_ERRNO",
                   "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"},
                            {"index": 0, "value": 2, "op": "SCMP_CMP_EQ"}]},
                  {"names": ["getpid"], "action": "SCMP_ACT_ALLOW"}
                ]}"#,
        );
        let program = compile(&custom, CapabilitySet::empty(), "seccomp")
            .unwrap()
            .unwrap();
        assert_eq!(program.flags(), libc::SECCOMP_FILTER_FLAG_LOG as u32);
        let nothing = profile(r#"{"defaultAction": "SCMP_ACT_ALLOW"}"#);
        assert!(compile(&nothing, CapabilitySet::empty(), "seccomp")
            .unwrap()
            .is_none());
    }

    #[test]
    fn bad_profiles_are_invalid_arguments_naming_the_field() {
        let check = |json: &str, wanted: &str| {
            let err = compile(&profile(json), CapabilitySet::empty(), "seccomp").unwrap_err();
            assert!(err.to_string().contains(wanted), "{err} lacks {wanted}");
        };
        check(
            r#"{"defaultAction": "SCMP_ACT_NOPE"}"#,
            "seccomp.defaultAction",
        );
        check(
            r#"{"defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO"},
                             {"names": ["write"], "action": "ALLOW"}]}"#,
            "seccomp.syscalls[1].action: unknown seccomp action \"ALLOW\"",
        );
        check(
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"],
                "action": "SCMP_ACT_ERRNO", "args": [{"index": 6, "value": 0, "op": "SCMP_CMP_EQ"}]}]}"#,
            "seccomp.syscalls[0].args[0].index",
        );
        check(
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"],
                "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 0, "op": "EQ"}]}]}"#,
            "seccomp.syscalls[0].args[0].op",
        );
        check(
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_VAX"]}"#,
            "seccomp.architectures[0]: unknown architecture",
        );
        check(
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"],
                "action": "SCMP_ACT_KILL", "errnoRet": 3}]}"#,
            "errnoRet goes with SCMP_ACT_ERRNO",
        );
        check(
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_NEW_LISTENER"]}"#,
            "seccomp.flags[0]",
        );
        let err = compile(
            &profile(r#"{"defaultAction": "SCMP_ACT_NOTIFY"}"#),
            CapabilitySet::empty(),
            "seccomp",
        )
        .unwrap_err();
        assert_eq!(err.kind(), runtime_core::ErrorKind::Unsupported);
        // Unknown fields are refused when the JSON is read.
        let err = serde_json::from_str::<SeccompProfile>(
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscall": []}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("unknown field `syscall`"), "{err}");
    }

    #[test]
    fn the_setting_is_a_word_or_a_profile() {
        let parse = |json: &str| serde_json::from_str::<SeccompSetting>(json);
        assert_eq!(
            parse(r#""unconfined""#).unwrap(),
            SeccompSetting::Unconfined
        );
        assert_eq!(parse(r#""default""#).unwrap(), SeccompSetting::Default);
        let SeccompSetting::Profile(p) = parse(r#"{"defaultAction": "SCMP_ACT_LOG"}"#).unwrap()
        else {
            panic!("a profile");
        };
        assert_eq!(p.default_action, "SCMP_ACT_LOG");
        let err = parse(r#""strict""#).unwrap_err().to_string();
        assert!(err.contains("\"unconfined\", \"default\""), "{err}");
        assert_eq!(
            serde_json::to_string(&SeccompSetting::Unconfined).unwrap(),
            r#""unconfined""#
        );
    }

    #[test]
    fn versions_parse() {
        assert_eq!(parse_version("6.18.44-fc-v782"), Some((6, 18)));
        assert_eq!(parse_version("4.8"), Some((4, 8)));
        assert_eq!(parse_version("5"), Some((5, 0)));
        assert_eq!(parse_version("x"), None);
    }

    #[test]
    fn a_program_on_the_wire_is_checked() {
        let bad = r#"{"flags": 0, "filter": "0011"}"#;
        assert!(serde_json::from_str::<SeccompProgram>(bad).is_err());
        let bad = r#"{"flags": 0, "filter": "zz00000000000000"}"#;
        assert!(serde_json::from_str::<SeccompProgram>(bad).is_err());
        let one = r#"{"flags": 0, "filter": "0600000000000000"}"#;
        let program: SeccompProgram = serde_json::from_str(one).unwrap();
        assert_eq!(program.len(), 1);
        assert_eq!(program.to_bytes(), [6, 0, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn a_program_goes_on_the_wire_as_the_lowercase_hex_of_its_bytes() {
        // Every nibble, high and low, in both instructions.
        let wire = r#"{"flags":1,"filter":"0123456789abcdeffedcba9876543210"}"#;
        let program: SeccompProgram = serde_json::from_str(wire).unwrap();
        assert_eq!(
            program.to_bytes(),
            [
                0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54,
                0x32, 0x10
            ]
        );
        assert_eq!(serde_json::to_string(&program).unwrap(), wire);
    }
}
