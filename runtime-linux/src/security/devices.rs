//! The device cgroup: which device nodes a container may open (`r`, `w`) or create (`m`).
//!
//! The default list is Docker's (moby's default spec plus the devices runc always allows):
//! creating any node, and using `/dev/null`, `zero`, `full`, `random`, `urandom`, `tty`,
//! `console`, `ptmx` and `/dev/pts/*`. Host devices given to the container add their own
//! rule; a privileged container may use every device.
//!
//! A container's list ([`rules`]) is read in order from "deny every device", as cgroup v1
//! reads what is written to `devices.allow` and `devices.deny`, and as runc's emulator does
//! for cgroup v2 ([`policy`]): a type `a` rule resets to allow (or deny) everything; another
//! rule adds an exception to the default of the moment, or takes back access from the
//! exception of exactly its type and numbers. Taking access out of a wildcard exception (deny
//! `c 1:3 r` after allow `c *:* rwm`) is refused, as runc refuses it: v1 would ignore it.
//!
//! - cgroup v1: the resulting default (`a` into `devices.deny` or `devices.allow`), then each
//!   exception into the other file, in the container's `devices` directory ([`apply_v1`]).
//! - cgroup v2: a `BPF_PROG_TYPE_CGROUP_DEVICE` program of the same policy, assembled here
//!   ([`assemble`]), loaded with `bpf(BPF_PROG_LOAD)` and attached to the container's cgroup
//!   directory with `BPF_PROG_ATTACH` and `BPF_F_ALLOW_MULTI` ([`apply_v2`]). The kernel runs
//!   every program attached on the path to the root, and also the v1 controller where it is
//!   mounted (hybrid hosts): access needs the consent of all.
//!
//! Both are host-side steps, done once the cgroup exists and before the helper joins it.

use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use nix::fcntl::{open, OFlag};
use nix::sys::stat::Mode;
use runtime_core::{Error, Result};

use super::sys;
pub use super::wire::{DeviceRule, HostDevice};
use crate::error::{os_error, StepExt};

/// `BPF_PROG_TYPE_CGROUP_DEVICE`.
pub const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
/// `BPF_CGROUP_DEVICE`, the attach type.
pub const BPF_CGROUP_DEVICE: u32 = 6;
/// `BPF_F_ALLOW_MULTI`: the program runs along with those attached to the cgroup's ancestors
/// (and other programs attached to this cgroup).
pub const BPF_F_ALLOW_MULTI: u32 = 2;

/// The rules of Docker's default device cgroup.
pub fn default_rules() -> Vec<DeviceRule> {
    let c = |major, minor| DeviceRule::char(Some(major), Some(minor), "rwm");
    vec![
        // Creating any node: it cannot be opened without a rule below.
        DeviceRule::char(None, None, "m"),
        DeviceRule::block(None, None, "m"),
        c(1, 3), // null
        c(1, 5), // zero
        c(1, 7), // full
        c(1, 8), // random
        c(1, 9), // urandom
        c(5, 0), // tty
        c(5, 1), // console
        c(5, 2), // ptmx
        // /dev/pts/*
        DeviceRule::char(Some(136), None, "rwm"),
    ]
}

/// The rule that allows every device.
pub fn allow_all() -> DeviceRule {
    DeviceRule {
        allow: true,
        kind: 'a',
        major: None,
        minor: None,
        access: "rwm".to_string(),
    }
}

/// The ordered rules of a container: the command's own `given` rules (after allow-all when
/// privileged), then the default ones, then those of its host devices. The default nodes come
/// after the command's rules, as runc appends its own: an OCI list that starts with "deny
/// everything" keeps `/dev/null` and the rest usable, and no rule takes them away. A
/// privileged container's rules can deny.
pub fn rules(privileged: bool, given: &[DeviceRule], devices: &[DeviceRule]) -> Vec<DeviceRule> {
    let mut rules = Vec::new();
    if privileged {
        rules.push(allow_all());
    }
    rules.extend(given.iter().cloned());
    if !privileged {
        rules.extend(default_rules());
    }
    for rule in devices {
        if !rules.contains(rule) {
            rules.push(rule.clone());
        }
    }
    rules
}

/// What an ordered list of rules comes to: a default and its exceptions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevicePolicy {
    /// What an access no exception matches gets.
    pub default_allow: bool,
    /// Rules of type `c` or `b`, each the opposite of the default (`allow` is
    /// `!default_allow`), in the order they were first added, their access in `rwm` order.
    pub exceptions: Vec<DeviceRule>,
}

/// Reads `rules` in order from "deny every device" (see the module's documentation).
pub fn policy(rules: &[DeviceRule]) -> Result<DevicePolicy> {
    let mut policy = DevicePolicy {
        default_allow: false,
        exceptions: Vec::new(),
    };
    for (i, rule) in rules.iter().enumerate() {
        validate(rule, &format!("devices rule {i}"))?;
        if rule.kind == 'a' {
            policy.default_allow = rule.allow;
            policy.exceptions.clear();
            continue;
        }
        let bits = access_bits(&rule.access).expect("validated");
        let same =
            |e: &DeviceRule| e.kind == rule.kind && e.major == rule.major && e.minor == rule.minor;
        if rule.allow != policy.default_allow {
            match policy.exceptions.iter_mut().find(|e| same(e)) {
                Some(existing) => {
                    let merged = access_bits(&existing.access).expect("made here") | bits;
                    existing.access = access_string(merged);
                }
                None => policy.exceptions.push(DeviceRule {
                    allow: rule.allow,
                    kind: rule.kind,
                    major: rule.major,
                    minor: rule.minor,
                    access: access_string(bits),
                }),
            }
            continue;
        }
        // Taking access back: only from the exception of exactly these numbers.
        for wider in policy.exceptions.iter().filter(|e| {
            e.kind == rule.kind
                && !same(e)
                && (e.major.is_none() || e.major == rule.major)
                && (e.minor.is_none() || e.minor == rule.minor)
        }) {
            if access_bits(&wider.access).expect("made here") & bits != 0 {
                return Err(Error::invalid(
                    "device_cgroup_rules",
                    format!(
                        "{} {:?} cannot take access out of the wider rule {} that comes \
                         before it (cgroup v1 would ignore it): give the devices one by one",
                        if rule.allow { "allow" } else { "deny" },
                        rule.to_v1_line(),
                        wider.to_v1_line()
                    ),
                ));
            }
        }
        if let Some(at) = policy.exceptions.iter().position(same) {
            let left = access_bits(&policy.exceptions[at].access).expect("made here") & !bits;
            if left == 0 {
                policy.exceptions.remove(at);
            } else {
                policy.exceptions[at].access = access_string(left);
            }
        }
    }
    Ok(policy)
}

/// The `BPF_DEVCG_ACC_*` bits as an access string, in `rwm` order.
fn access_string(bits: u32) -> String {
    [(2, 'r'), (4, 'w'), (1, 'm')]
        .iter()
        .filter(|(bit, _)| bits & bit != 0)
        .map(|(_, c)| *c)
        .collect()
}

/// Checks one rule; `field` names it in errors (`devices[2]`).
pub fn validate(rule: &DeviceRule, field: &str) -> Result<()> {
    if !matches!(rule.kind, 'a' | 'b' | 'c') {
        return Err(Error::invalid(
            format!("{field}.type"),
            format!("{:?} is not a device type (c, b or a)", rule.kind),
        ));
    }
    if rule.kind == 'a' && (rule.major.is_some() || rule.minor.is_some()) {
        return Err(Error::invalid(
            field,
            "type a (every device) takes no major or minor",
        ));
    }
    for (name, number) in [("major", rule.major), ("minor", rule.minor)] {
        if number.is_some_and(|n| n > i32::MAX as u32) {
            return Err(Error::invalid(
                format!("{field}.{name}"),
                format!("{} is out of range", number.unwrap_or_default()),
            ));
        }
    }
    access_bits(&rule.access).map_err(|why| Error::invalid(format!("{field}.access"), why))?;
    Ok(())
}

/// `rwm` → the `BPF_DEVCG_ACC_*` bits (mknod 1, read 2, write 4).
fn access_bits(access: &str) -> std::result::Result<u32, String> {
    if access.is_empty() {
        return Err("is empty; expected some of r, w, m".to_string());
    }
    let mut bits = 0;
    for c in access.chars() {
        bits |= match c {
            'm' => 1,
            'r' => 2,
            'w' => 4,
            other => {
                return Err(format!(
                    "{access:?} has {other:?}; expected some of r, w, m"
                ))
            }
        };
    }
    Ok(bits)
}

/// A host device, looked up: the rule it needs and what the init needs to make its node (it
/// crosses the host → helper socket).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ResolvedDevice {
    /// The host's node, which is bound into the container where no node may be made (a user
    /// namespace).
    pub host_path: String,
    /// Where the node goes in the container.
    pub container_path: String,
    /// `c` or `b`.
    pub kind: char,
    pub major: u32,
    pub minor: u32,
    /// The permission bits of the host's node.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// The device cgroup rule for it.
    pub rule: DeviceRule,
}

/// Host side: `stat`s the host device (following symlinks) for its type and numbers.
/// `field` names it in errors (`devices[0]`).
pub fn resolve_host_device(device: &HostDevice, field: &str) -> Result<ResolvedDevice> {
    let container_path = device.container_path.as_deref().unwrap_or(&device.path);
    for (name, path) in [
        ("path", device.path.as_str()),
        ("container_path", container_path),
    ] {
        if !path.starts_with('/') {
            return Err(Error::invalid(
                format!("{field}.{name}"),
                format!("{path:?} is not an absolute path"),
            ));
        }
    }
    access_bits(&device.access).map_err(|why| Error::invalid(format!("{field}.access"), why))?;
    let meta =
        std::fs::metadata(&device.path).step(|| format!("stat the host device {}", device.path))?;
    let kind = if meta.file_type().is_char_device() {
        'c'
    } else if meta.file_type().is_block_device() {
        'b'
    } else {
        return Err(Error::invalid(
            format!("{field}.path"),
            format!("{} is not a device node", device.path),
        ));
    };
    let rdev = meta.rdev();
    let (major, minor) = (libc::major(rdev), libc::minor(rdev));
    Ok(ResolvedDevice {
        host_path: device.path.clone(),
        container_path: container_path.to_string(),
        kind,
        major,
        minor,
        mode: meta.mode() & 0o7777,
        uid: meta.uid(),
        gid: meta.gid(),
        rule: DeviceRule {
            allow: true,
            kind,
            major: Some(major),
            minor: Some(minor),
            access: device.access.clone(),
        },
    })
}

/// The v1 writes of `rules`: the default (`a` into `devices.deny` or `devices.allow`), then
/// each exception into the other file.
pub fn v1_lines(rules: &[DeviceRule]) -> Result<Vec<(&'static str, String)>> {
    let policy = policy(rules)?;
    let (default_file, exception_file) = if policy.default_allow {
        ("devices.allow", "devices.deny")
    } else {
        ("devices.deny", "devices.allow")
    };
    let mut lines = vec![(default_file, "a".to_string())];
    lines.extend(
        policy
            .exceptions
            .iter()
            .map(|rule| (exception_file, rule.to_v1_line())),
    );
    Ok(lines)
}

/// Host side, cgroup v1: sets the cgroup `devices_dir` (which must have no child cgroup yet)
/// to the policy of `rules`.
pub fn apply_v1(devices_dir: &Path, rules: &[DeviceRule]) -> Result<()> {
    for (file, line) in v1_lines(rules)? {
        let path = devices_dir.join(file);
        std::fs::write(&path, &line).step(|| format!("write {line:?} to {}", path.display()))?;
    }
    Ok(())
}

/// Host side, cgroup v2: loads the program for `rules` and attaches it to the cgroup
/// `cgroup_dir`. The returned fd is the program's; the cgroup keeps the program attached
/// whether the fd is kept or closed, until the cgroup is removed.
pub fn apply_v2(cgroup_dir: &Path, rules: &[DeviceRule]) -> Result<OwnedFd> {
    let program = assemble(rules)?;
    let dir = open(
        cgroup_dir,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .step(|| format!("open cgroup {}", cgroup_dir.display()))?;
    let prog = sys::bpf_prog_load(
        BPF_PROG_TYPE_CGROUP_DEVICE,
        BPF_CGROUP_DEVICE,
        &program,
        "berth_devices",
    )
    .map_err(|(errno, log)| {
        let why = match log.lines().last() {
            Some(last) => format!(" (verifier: {last})"),
            None => String::new(),
        };
        os_error(
            format!(
                "load the device cgroup program ({} instructions){why}",
                program.len()
            ),
            errno,
        )
    })?;
    sys::bpf_prog_attach(
        dir.as_fd(),
        prog.as_fd(),
        BPF_CGROUP_DEVICE,
        BPF_F_ALLOW_MULTI,
    )
    .step(|| {
        format!(
            "attach the device cgroup program to {}",
            cgroup_dir.display()
        )
    })?;
    Ok(prog)
}

// eBPF instruction encoding (linux/bpf.h, linux/bpf_common.h).
const BPF_LDX_MEM_W: u8 = 0x61; // BPF_LDX | BPF_MEM | BPF_W
const BPF_ALU32_AND_K: u8 = 0x54; // BPF_ALU | BPF_AND | BPF_K
const BPF_ALU32_RSH_K: u8 = 0x74; // BPF_ALU | BPF_RSH | BPF_K
const BPF_ALU32_MOV_X: u8 = 0xbc; // BPF_ALU | BPF_MOV | BPF_X
const BPF_ALU64_MOV_K: u8 = 0xb7; // BPF_ALU64 | BPF_MOV | BPF_K
const BPF_JMP_JEQ_K: u8 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
const BPF_JMP_JNE_K: u8 = 0x55; // BPF_JMP | BPF_JNE | BPF_K
const BPF_JMP_JNE_X: u8 = 0x5d; // BPF_JMP | BPF_JNE | BPF_X
const BPF_JMP_EXIT: u8 = 0x95; // BPF_JMP | BPF_EXIT

const R0: u8 = 0;
const R1: u8 = 1;
const R2: u8 = 2;
const R3: u8 = 3;
const R4: u8 = 4;
const R5: u8 = 5;

/// `BPF_DEVCG_DEV_BLOCK`, `BPF_DEVCG_DEV_CHAR`.
const DEV_BLOCK: i32 = 1;
const DEV_CHAR: i32 = 2;

/// One `struct bpf_insn` (code, dst_reg:4, src_reg:4, off, imm) as the host lays it out.
pub fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> u64 {
    let regs = if cfg!(target_endian = "little") {
        (src << 4) | (dst & 0x0f)
    } else {
        (dst << 4) | (src & 0x0f)
    };
    let mut bytes = [0u8; 8];
    bytes[0] = code;
    bytes[1] = regs;
    bytes[2..4].copy_from_slice(&off.to_ne_bytes());
    bytes[4..8].copy_from_slice(&imm.to_ne_bytes());
    u64::from_ne_bytes(bytes)
}

/// The device program for `rules`: their [`policy`]'s exceptions in order, each returning
/// the opposite of the default when it matches, then the default.
///
/// An access matches an allowing exception when the type and numbers match and the
/// exception has every bit asked for (v1's rule in deny-by-default mode); it matches a
/// denying one when the type and numbers match and they share any bit (v1's in
/// allow-by-default mode).
///
/// The context is `struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }`,
/// `access_type` being the device type in the low 16 bits and the access in the high ones.
/// Registers: r2 type, r3 access, r4 major, r5 minor; each exception is a block of "jump to
/// the next block unless ..." tests ending in `r0 = verdict; exit`.
pub fn assemble(rules: &[DeviceRule]) -> Result<Vec<u64>> {
    let policy = policy(rules)?;
    let mut prog = vec![
        insn(BPF_LDX_MEM_W, R2, R1, 0, 0),
        insn(BPF_ALU32_AND_K, R2, 0, 0, 0xffff),
        insn(BPF_LDX_MEM_W, R3, R1, 0, 0),
        insn(BPF_ALU32_RSH_K, R3, 0, 0, 16),
        insn(BPF_LDX_MEM_W, R4, R1, 4, 0),
        insn(BPF_LDX_MEM_W, R5, R1, 8, 0),
    ];
    let verdict = i32::from(!policy.default_allow);
    for rule in &policy.exceptions {
        let access = access_bits(&rule.access).expect("made by policy");
        // Layout: the type test, the access test (2 instructions and a jump), the number
        // tests, then the verdict. Each test jumps past the block when it fails.
        let mut block: Vec<Option<u64>> = Vec::new();
        let mut jumps: Vec<(usize, u8, u8, u8, i32)> = Vec::new();
        let mut push_test = |block: &mut Vec<Option<u64>>, test: (u8, u8, u8, i32)| {
            jumps.push((block.len(), test.0, test.1, test.2, test.3));
            block.push(None);
        };
        let kind = if rule.kind == 'c' {
            DEV_CHAR
        } else {
            DEV_BLOCK
        };
        push_test(&mut block, (BPF_JMP_JNE_K, R2, 0, kind));
        if policy.default_allow {
            // Denied when any bit asked for is the exception's.
            block.push(Some(insn(BPF_ALU32_MOV_X, R1, R3, 0, 0)));
            block.push(Some(insn(BPF_ALU32_AND_K, R1, 0, 0, access as i32)));
            push_test(&mut block, (BPF_JMP_JEQ_K, R1, 0, 0));
        } else if access != 0b111 {
            // Allowed when no bit asked for is outside the exception's.
            block.push(Some(insn(BPF_ALU32_MOV_X, R1, R3, 0, 0)));
            block.push(Some(insn(BPF_ALU32_AND_K, R1, 0, 0, access as i32)));
            push_test(&mut block, (BPF_JMP_JNE_X, R1, R3, 0));
        }
        if let Some(major) = rule.major {
            push_test(&mut block, (BPF_JMP_JNE_K, R4, 0, major as i32));
        }
        if let Some(minor) = rule.minor {
            push_test(&mut block, (BPF_JMP_JNE_K, R5, 0, minor as i32));
        }
        block.push(Some(insn(BPF_ALU64_MOV_K, R0, 0, 0, verdict)));
        block.push(Some(insn(BPF_JMP_EXIT, 0, 0, 0, 0)));
        let len = block.len();
        for (at, code, dst, src, imm) in jumps {
            let off = i16::try_from(len - at - 1).expect("a block is short");
            block[at] = Some(insn(code, dst, src, off, imm));
        }
        prog.extend(block.into_iter().map(|i| i.expect("every slot filled")));
    }
    prog.push(insn(
        BPF_ALU64_MOV_K,
        R0,
        0,
        0,
        i32::from(policy.default_allow),
    ));
    prog.push(insn(BPF_JMP_EXIT, 0, 0, 0, 0));
    Ok(prog)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_rules_are_dockers() {
        let lines: Vec<String> = default_rules().iter().map(DeviceRule::to_v1_line).collect();
        assert_eq!(
            lines,
            [
                "c *:* m",
                "b *:* m",
                "c 1:3 rwm",
                "c 1:5 rwm",
                "c 1:7 rwm",
                "c 1:8 rwm",
                "c 1:9 rwm",
                "c 5:0 rwm",
                "c 5:1 rwm",
                "c 5:2 rwm",
                "c 136:* rwm"
            ]
        );
        assert_eq!(rules(true, &[], &[]), [allow_all()]);
        let fuse = DeviceRule::char(Some(10), Some(229), "rw");
        let with = rules(
            false,
            &[],
            &[fuse.clone(), fuse.clone(), default_rules()[2].clone()],
        );
        assert_eq!(with.len(), default_rules().len() + 1);
        assert_eq!(with.last(), Some(&fuse));
    }

    fn deny_all() -> DeviceRule {
        allow_all().denied()
    }

    #[test]
    fn the_command_rules_come_first_in_their_order_then_the_defaults() {
        let kvm = DeviceRule::char(Some(10), Some(232), "rwm");
        let given = [deny_all(), kvm.clone(), kvm.clone().denied()];
        let fuse = DeviceRule::char(Some(10), Some(229), "rw");
        let list = rules(false, &given, std::slice::from_ref(&fuse));
        assert_eq!(&list[..3], &given);
        assert_eq!(&list[3..list.len() - 1], default_rules().as_slice());
        assert_eq!(list.last(), Some(&fuse));
        // The kvm allow is taken back, the defaults and the host device stay.
        let p = policy(&list).unwrap();
        assert!(!p.default_allow);
        assert_eq!(p.exceptions.len(), default_rules().len() + 1);
        assert!(!p
            .exceptions
            .iter()
            .any(|e| e.major == Some(10) && e.minor == Some(232)));
        // Privileged: allow-all first, so that the command's denies count.
        let list = rules(true, &[kvm.clone().denied()], &[]);
        assert_eq!(list, [allow_all(), kvm.clone().denied()]);
        let p = policy(&list).unwrap();
        assert!(p.default_allow);
        assert_eq!(p.exceptions, [kvm.denied()]);
    }

    #[test]
    fn a_policy_reads_the_rules_as_cgroup_v1_does() {
        let null = |access| DeviceRule::char(Some(1), Some(3), access);
        // Access is merged, and taken back bit by bit from the same numbers.
        let p = policy(&[null("r"), null("wm"), null("w").denied()]).unwrap();
        assert_eq!(p.exceptions, [null("rm")]);
        // Type a resets whatever its access says.
        let p = policy(&[
            null("rwm"),
            DeviceRule {
                access: "m".into(),
                ..allow_all()
            },
        ])
        .unwrap();
        assert!(p.default_allow && p.exceptions.is_empty());
        // In allow-by-default mode a deny is the exception, an allow takes it back.
        let p = policy(&[allow_all(), null("rw").denied(), null("w")]).unwrap();
        assert_eq!(p.exceptions, [null("r").denied()]);
        // Taking a bit out of a wider exception is refused (v1 would ignore it) ...
        let err =
            policy(&[DeviceRule::char(Some(1), None, "rwm"), null("r").denied()]).unwrap_err();
        assert!(err.to_string().contains("device_cgroup_rules"), "{err}");
        assert!(err.to_string().contains("c 1:* rwm"), "{err}");
        // ... but not a bit it does not have.
        assert!(policy(&[DeviceRule::char(Some(1), None, "m"), null("r").denied()]).is_ok());
        // The v1 writes: the default, then the exceptions in the other file.
        assert_eq!(
            v1_lines(&[allow_all(), null("rw").denied()]).unwrap(),
            [
                ("devices.allow", "a".to_string()),
                ("devices.deny", "c 1:3 rw".to_string())
            ]
        );
        assert_eq!(
            v1_lines(&[null("rwm")]).unwrap(),
            [
                ("devices.deny", "a".to_string()),
                ("devices.allow", "c 1:3 rwm".to_string())
            ]
        );
    }

    #[test]
    fn a_deny_exception_matches_any_shared_bit() {
        let prog = assemble(&[
            allow_all(),
            DeviceRule::char(Some(1), Some(3), "w").denied(),
        ])
        .unwrap();
        assert_eq!(
            &prog[6..],
            &[
                insn(BPF_JMP_JNE_K, R2, 0, 7, DEV_CHAR),
                insn(BPF_ALU32_MOV_X, R1, R3, 0, 0),
                insn(BPF_ALU32_AND_K, R1, 0, 0, 4),
                insn(BPF_JMP_JEQ_K, R1, 0, 4, 0),
                insn(BPF_JMP_JNE_K, R4, 0, 3, 1),
                insn(BPF_JMP_JNE_K, R5, 0, 2, 3),
                insn(BPF_ALU64_MOV_K, R0, 0, 0, 0),
                insn(BPF_JMP_EXIT, 0, 0, 0, 0),
                insn(BPF_ALU64_MOV_K, R0, 0, 0, 1),
                insn(BPF_JMP_EXIT, 0, 0, 0, 0),
            ]
        );
    }

    #[test]
    fn bad_rules_are_invalid_arguments() {
        let check = |rule: DeviceRule, wanted: &str| {
            let err = validate(&rule, "devices[0]").unwrap_err();
            assert!(err.to_string().contains(wanted), "{err} lacks {wanted}");
        };
        check(
            DeviceRule {
                kind: 'x',
                ..allow_all()
            },
            "devices[0].type",
        );
        check(DeviceRule::char(Some(1), None, "rwx"), "devices[0].access");
        check(DeviceRule::char(Some(1), None, ""), "devices[0].access");
        check(
            DeviceRule {
                major: Some(1),
                ..allow_all()
            },
            "takes no major",
        );
        assert!(validate(&DeviceRule::block(Some(8), Some(0), "mr"), "d").is_ok());
    }

    #[test]
    fn instructions_are_encoded_as_the_kernel_reads_them() {
        // r2 = *(u32 *)(r1 + 0): code 0x61, dst 2, src 1.
        assert_eq!(
            insn(BPF_LDX_MEM_W, R2, R1, 0, 0).to_ne_bytes(),
            [0x61, 0x12, 0, 0, 0, 0, 0, 0]
        );
        // if r4 != 136 goto +2.
        assert_eq!(
            insn(BPF_JMP_JNE_K, R4, 0, 2, 136).to_ne_bytes(),
            [0x55, 0x04, 2, 0, 136, 0, 0, 0]
        );
        // r0 = 1; exit.
        assert_eq!(
            insn(BPF_ALU64_MOV_K, R0, 0, 0, 1).to_ne_bytes(),
            [0xb7, 0, 0, 0, 1, 0, 0, 0]
        );
        assert_eq!(insn(BPF_JMP_EXIT, 0, 0, 0, 0).to_ne_bytes()[0], 0x95);
    }

    #[test]
    fn a_rule_becomes_a_block_of_tests() {
        let prog = assemble(&[DeviceRule::char(Some(1), Some(3), "rwm")]).unwrap();
        assert_eq!(prog.len(), 6 + 5 + 2);
        assert_eq!(
            &prog[6..],
            &[
                insn(BPF_JMP_JNE_K, R2, 0, 4, DEV_CHAR),
                insn(BPF_JMP_JNE_K, R4, 0, 3, 1),
                insn(BPF_JMP_JNE_K, R5, 0, 2, 3),
                insn(BPF_ALU64_MOV_K, R0, 0, 0, 1),
                insn(BPF_JMP_EXIT, 0, 0, 0, 0),
                insn(BPF_ALU64_MOV_K, R0, 0, 0, 0),
                insn(BPF_JMP_EXIT, 0, 0, 0, 0),
            ]
        );
        // An access short of rwm tests it; no number: no number test.
        let prog = assemble(&[DeviceRule::block(None, None, "m")]).unwrap();
        assert_eq!(
            &prog[6..11],
            &[
                insn(BPF_JMP_JNE_K, R2, 0, 5, DEV_BLOCK),
                insn(BPF_ALU32_MOV_X, R1, R3, 0, 0),
                insn(BPF_ALU32_AND_K, R1, 0, 0, 1),
                insn(BPF_JMP_JNE_X, R1, R3, 2, 0),
                insn(BPF_ALU64_MOV_K, R0, 0, 0, 1),
            ]
        );
        // Allow-all ends the program: nothing after it could run.
        let prog = assemble(&[allow_all(), DeviceRule::char(Some(1), Some(3), "r")]).unwrap();
        assert_eq!(prog.len(), 6 + 2);
        let prog = assemble(&default_rules()).unwrap();
        assert!(prog.len() < 100, "{}", prog.len());
    }
}
