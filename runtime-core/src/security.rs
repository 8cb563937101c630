//! The plain-data wire form of the security settings: seccomp profiles (the OCI runtime-spec
//! format, plus Docker's `archMap`, `includes`, `excludes` and `comment`), device cgroup rules
//! and host devices.
//!
//! Plain data: runtime-linux's `security` module compiles and applies them.

use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Which seccomp filter a process gets.
///
/// In JSON: `"unconfined"`, `"default"` (Docker's default profile, evaluated against the
/// process's capabilities), or a profile object. A missing setting means `"default"`, or
/// `"unconfined"` for a privileged process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SeccompSetting {
    /// No filter.
    Unconfined,
    /// Docker's default profile.
    Default,
    /// A profile in the OCI format.
    Profile(Box<SeccompProfile>),
}

impl Serialize for SeccompSetting {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            SeccompSetting::Unconfined => serializer.serialize_str("unconfined"),
            SeccompSetting::Default => serializer.serialize_str("default"),
            SeccompSetting::Profile(profile) => profile.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for SeccompSetting {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SettingVisitor;

        impl<'de> Visitor<'de> for SettingVisitor {
            type Value = SeccompSetting;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("\"unconfined\", \"default\" or a seccomp profile object")
            }

            fn visit_str<E: de::Error>(self, value: &str) -> Result<SeccompSetting, E> {
                match value {
                    "unconfined" => Ok(SeccompSetting::Unconfined),
                    "default" => Ok(SeccompSetting::Default),
                    other => Err(E::invalid_value(de::Unexpected::Str(other), &self)),
                }
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<SeccompSetting, A::Error> {
                let profile =
                    SeccompProfile::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(SeccompSetting::Profile(Box::new(profile)))
            }
        }

        deserializer.deserialize_any(SettingVisitor)
    }
}

/// A seccomp profile: OCI's `linux.seccomp`, which Docker's profiles extend with `archMap`
/// and the conditional `includes`/`excludes` of each rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SeccompProfile {
    /// `SCMP_ACT_ERRNO`, `SCMP_ACT_ALLOW`, `SCMP_ACT_KILL_PROCESS`, ...
    pub default_action: String,
    /// The errno of a `SCMP_ACT_ERRNO` default action (default `EPERM`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_errno_ret: Option<u32>,
    /// `SCMP_ARCH_X86_64`, ...: the architectures the filter covers besides the native one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub architectures: Vec<String>,
    /// Docker: per native architecture, the architectures to add.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub arch_map: Vec<ArchMap>,
    /// `SECCOMP_FILTER_FLAG_LOG`, `SECCOMP_FILTER_FLAG_SPEC_ALLOW`, `SECCOMP_FILTER_FLAG_TSYNC`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<String>,
    /// OCI's seccomp-notify agent socket: not supported by berth (rejected when set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listener_path: Option<String>,
    /// OCI's seccomp-notify agent metadata: not supported by berth (rejected when set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listener_metadata: Option<String>,
    /// The rules, in order.
    #[serde(default)]
    pub syscalls: Vec<SyscallRule>,
}

/// Docker's `archMap` entry: when the native architecture is `architecture`, the filter also
/// covers `subArchitectures`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ArchMap {
    pub architecture: String,
    #[serde(default)]
    pub sub_architectures: Option<Vec<String>>,
}

/// One rule: what happens when the process makes one of `names` with `args` matching.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SyscallRule {
    /// Syscall names; those this host's libseccomp does not know are skipped, as runc does.
    pub names: Vec<String>,
    /// `SCMP_ACT_ALLOW`, `SCMP_ACT_ERRNO`, ...
    pub action: String,
    /// The errno of a `SCMP_ACT_ERRNO` action (default `EPERM`), or the message of a
    /// `SCMP_ACT_TRACE` one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errno_ret: Option<u32>,
    /// Conditions on the arguments, all of which must hold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<SyscallArg>,
    /// Docker: free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Docker: the rule applies only when all of these hold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub includes: Option<RuleFilter>,
    /// Docker: the rule does not apply when any of these holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub excludes: Option<RuleFilter>,
}

/// Docker's conditions on a rule: the process's capabilities (bounding set), the native
/// architecture (Go's names: `amd64`, `arm64`, `s390x`, ...) and the kernel version.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RuleFilter {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub caps: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub arches: Vec<String>,
    /// `major.minor`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_kernel: Option<String>,
}

/// A condition on one argument: `args[index] <op> value`, or for `SCMP_CMP_MASKED_EQ`
/// `args[index] & value == value_two`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SyscallArg {
    /// 0 to 5.
    pub index: u32,
    pub value: u64,
    #[serde(default)]
    pub value_two: u64,
    /// `SCMP_CMP_NE`, `SCMP_CMP_LT`, `SCMP_CMP_LE`, `SCMP_CMP_EQ`, `SCMP_CMP_GE`,
    /// `SCMP_CMP_GT`, `SCMP_CMP_MASKED_EQ`.
    pub op: String,
}

/// A rule of the device cgroup: allow (or, with `allow: false`, deny) access `access` (some
/// of `r`, `w`, `m`) to devices of `kind` (`c`, `b`, or `a` for every device) with this major
/// and minor (`None`: any).
///
/// A list of rules is read in order, as cgroup v1's `devices.allow` and `devices.deny` read
/// the lines written to them (and OCI's `linux.resources.devices`): type `a` resets the list
/// to allow (or deny) every device, whatever its access says; another rule adds an exception
/// to the default of the moment, or takes back (part of) the exception of exactly the same
/// type, major and minor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceRule {
    /// Allow (the default) or deny.
    #[serde(default = "default_allow", skip_serializing_if = "is_true")]
    pub allow: bool,
    #[serde(rename = "type")]
    pub kind: char,
    #[serde(default)]
    pub major: Option<u32>,
    #[serde(default)]
    pub minor: Option<u32>,
    pub access: String,
}

fn default_allow() -> bool {
    true
}

fn is_true(value: &bool) -> bool {
    *value
}

impl DeviceRule {
    /// A rule for a character device.
    pub fn char(major: Option<u32>, minor: Option<u32>, access: &str) -> DeviceRule {
        DeviceRule {
            allow: true,
            kind: 'c',
            major,
            minor,
            access: access.to_string(),
        }
    }

    /// A rule for a block device.
    pub fn block(major: Option<u32>, minor: Option<u32>, access: &str) -> DeviceRule {
        DeviceRule {
            allow: true,
            kind: 'b',
            major,
            minor,
            access: access.to_string(),
        }
    }

    /// The same rule denying what it allowed.
    pub fn denied(mut self) -> DeviceRule {
        self.allow = false;
        self
    }

    /// The v1 `devices.allow` (or `devices.deny`) line: `c 1:3 rwm`, `a *:* rwm`.
    pub fn to_v1_line(&self) -> String {
        let number = |n: Option<u32>| n.map_or_else(|| "*".to_string(), |n| n.to_string());
        format!(
            "{} {}:{} {}",
            self.kind,
            number(self.major),
            number(self.minor),
            self.access
        )
    }
}

/// A device of the host given to the container: `path` on the host (its type, major and minor
/// are read with `stat`), made at `container_path` (default: the same path) with `access`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostDevice {
    pub path: String,
    #[serde(default)]
    pub container_path: Option<String>,
    /// Some of `r`, `w`, `m` (default `rwm`).
    #[serde(default = "default_access")]
    pub access: String,
}

fn default_access() -> String {
    "rwm".to_string()
}
