//! The process that runs inside a container: its arguments, environment, identity and limits.

use serde::{Deserialize, Serialize};

use crate::security::SeccompSetting;

/// One process to run in a container: the init process of [`crate::Command`], or an exec.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessConfig {
    /// The program and its arguments. `args[0]` is looked up in the container's `PATH` when it
    /// has no `/`.
    pub args: Vec<String>,
    /// `KEY=VALUE` pairs. A default `PATH` is added when none is given.
    #[serde(default)]
    pub env: Vec<String>,
    /// Absolute working directory inside the container (default `/`).
    #[serde(default = "default_cwd")]
    pub cwd: String,
    /// `uid[:gid]` or `name[:group]`, resolved in the container's own `/etc/passwd` and
    /// `/etc/group` (default `0:0`).
    #[serde(default = "default_user")]
    pub user: String,
    /// Supplementary groups added to those of the user's `/etc/group` membership.
    #[serde(default)]
    pub additional_gids: Vec<u32>,
    /// The exact supplementary groups (OCI's `user.additionalGids`), instead of berth's
    /// computation (the primary group, the groups that list the user, `additional_gids`).
    /// `Some(vec![])` leaves the process in no supplementary group. Exclusive with
    /// `additional_gids`.
    #[serde(default)]
    pub groups: Option<Vec<u32>>,
    /// The process's umask, 0 to 0o777 (OCI's `user.umask`); `None`: 0o022.
    #[serde(default)]
    pub umask: Option<u32>,
    /// Allocate a terminal for the process.
    #[serde(default)]
    pub tty: bool,
    /// Initial size of the terminal when `tty` is set.
    #[serde(default)]
    pub console_size: Option<ConsoleSize>,
    /// Grant every capability and lift the default confinement.
    #[serde(default)]
    pub privileged: bool,
    /// Capabilities added to the default set (`NET_ADMIN` or `CAP_NET_ADMIN`, or `ALL`).
    #[serde(default)]
    pub cap_add: Vec<String>,
    /// Capabilities removed from the default set.
    #[serde(default)]
    pub cap_drop: Vec<String>,
    /// OCI's five capability sets, applied exactly as given instead of berth's default set.
    /// Exclusive with `privileged`, `cap_add` and `cap_drop`.
    #[serde(default)]
    pub capabilities: Option<CapabilitySets>,
    /// The process's `oom_score_adj`, -1000 to 1000 (OCI's `oomScoreAdj`); `None`: inherited
    /// from the host process.
    #[serde(default)]
    pub oom_score_adj: Option<i32>,
    /// Set `no_new_privs` so that setuid binaries gain nothing (default true).
    #[serde(default = "default_true")]
    pub no_new_privileges: bool,
    /// Resource limits applied with `setrlimit`.
    #[serde(default)]
    pub rlimits: Vec<Rlimit>,
    /// The seccomp filter: `"default"` (Docker's profile; also when missing, unless
    /// privileged), `"unconfined"`, or an OCI profile.
    #[serde(default)]
    pub seccomp: Option<SeccompSetting>,
}

/// The capability sets of a process, as OCI's `process.capabilities` gives them: each a list
/// of names (`CAP_SYS_ADMIN` or `SYS_ADMIN`, in any case). A missing list is an empty set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapabilitySets {
    /// The bounding set: what the process and its children can ever hold.
    #[serde(default)]
    pub bounding: Vec<String>,
    /// The effective set: a subset of `permitted`.
    #[serde(default)]
    pub effective: Vec<String>,
    /// The inheritable set: a subset of `bounding`.
    #[serde(default)]
    pub inheritable: Vec<String>,
    /// The permitted set.
    #[serde(default)]
    pub permitted: Vec<String>,
    /// The ambient set: those also in `permitted` and `inheritable` are raised, the others
    /// skipped (as runc does).
    #[serde(default)]
    pub ambient: Vec<String>,
}

impl CapabilitySets {
    /// The five lists with their field names, in the order OCI lists them.
    pub fn lists(&self) -> [(&'static str, &[String]); 5] {
        [
            ("bounding", &self.bounding),
            ("effective", &self.effective),
            ("inheritable", &self.inheritable),
            ("permitted", &self.permitted),
            ("ambient", &self.ambient),
        ]
    }
}

/// The umask a process gets when it names none (runc's too).
pub const DEFAULT_UMASK: u32 = 0o022;

/// A terminal size in character cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleSize {
    pub rows: u16,
    pub cols: u16,
}

/// One POSIX resource limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rlimit {
    /// The limit's name, `RLIMIT_NOFILE` or `nofile`.
    #[serde(rename = "type")]
    pub kind: String,
    pub soft: u64,
    pub hard: u64,
}

/// The resource limits berth knows, by their canonical `RLIMIT_` names.
pub const RLIMIT_NAMES: &[&str] = &[
    "RLIMIT_AS",
    "RLIMIT_CORE",
    "RLIMIT_CPU",
    "RLIMIT_DATA",
    "RLIMIT_FSIZE",
    "RLIMIT_LOCKS",
    "RLIMIT_MEMLOCK",
    "RLIMIT_MSGQUEUE",
    "RLIMIT_NICE",
    "RLIMIT_NOFILE",
    "RLIMIT_NPROC",
    "RLIMIT_RSS",
    "RLIMIT_RTPRIO",
    "RLIMIT_RTTIME",
    "RLIMIT_SIGPENDING",
    "RLIMIT_STACK",
];

impl Rlimit {
    /// The canonical `RLIMIT_*` name, or `None` when the name is unknown.
    pub fn canonical_name(&self) -> Option<&'static str> {
        let upper = self.kind.to_ascii_uppercase();
        let wanted = upper.strip_prefix("RLIMIT_").unwrap_or(&upper);
        RLIMIT_NAMES
            .iter()
            .copied()
            .find(|name| &name["RLIMIT_".len()..] == wanted)
    }
}

/// The `PATH` a process gets when its environment names none.
pub const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

fn default_cwd() -> String {
    "/".to_string()
}

fn default_user() -> String {
    "0:0".to_string()
}

fn default_true() -> bool {
    true
}

impl ProcessConfig {
    /// A process running `args` with every other field at its default.
    pub fn new<S: Into<String>>(args: impl IntoIterator<Item = S>) -> Self {
        ProcessConfig {
            args: args.into_iter().map(Into::into).collect(),
            env: Vec::new(),
            cwd: default_cwd(),
            user: default_user(),
            additional_gids: Vec::new(),
            groups: None,
            umask: None,
            tty: false,
            console_size: None,
            privileged: false,
            cap_add: Vec::new(),
            cap_drop: Vec::new(),
            capabilities: None,
            oom_score_adj: None,
            no_new_privileges: true,
            rlimits: Vec::new(),
            seccomp: None,
        }
    }

    /// The environment the process really gets: `env`, plus the default `PATH` if it has none.
    pub fn effective_env(&self) -> Vec<String> {
        let mut env = self.env.clone();
        if !env.iter().any(|kv| kv.starts_with("PATH=")) {
            env.push(DEFAULT_PATH.to_string());
        }
        env
    }

    /// The umask the process gets: `umask`, else [`DEFAULT_UMASK`].
    pub fn effective_umask(&self) -> u32 {
        self.umask.unwrap_or(DEFAULT_UMASK)
    }

    /// The value of `PATH` in [`Self::effective_env`].
    pub fn search_path(&self) -> String {
        self.env
            .iter()
            .rev()
            .find_map(|kv| kv.strip_prefix("PATH="))
            .unwrap_or(&DEFAULT_PATH["PATH=".len()..])
            .to_string()
    }
}

/// A user or group, by number or by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdOrName {
    Id(u32),
    Name(String),
}

/// A parsed `user` field: `uid[:gid]` or `name[:group]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSpec {
    pub user: IdOrName,
    /// `None`: the user's primary group from `/etc/passwd`.
    pub group: Option<IdOrName>,
}

impl UserSpec {
    /// Parses `uid[:gid]` or `name[:group]`; the error says what is wrong.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut parts = text.split(':');
        let user = parse_id_or_name(parts.next().unwrap_or(""), "user")?;
        let group = match parts.next() {
            None => None,
            Some(group) => Some(parse_id_or_name(group, "group")?),
        };
        if parts.next().is_some() {
            return Err(format!(
                "{text:?} has more than one ':'; expected uid[:gid] or name[:group]"
            ));
        }
        Ok(UserSpec { user, group })
    }
}

fn parse_id_or_name(text: &str, what: &str) -> Result<IdOrName, String> {
    if text.is_empty() {
        return Err(format!(
            "the {what} part is empty; expected uid[:gid] or name[:group]"
        ));
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return match text.parse::<u32>() {
            Ok(id) if id != u32::MAX => Ok(IdOrName::Id(id)),
            _ => Err(format!(
                "{what} id {text} is out of range (0 to 4294967294)"
            )),
        };
    }
    let valid_name = text.len() <= 32
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'$'))
        && !text.starts_with('-');
    if valid_name {
        Ok(IdOrName::Name(text.to_string()))
    } else {
        Err(format!(
            "{what} name {text:?} is not a valid name (letters, digits, '_', '-', '.', at most 32)"
        ))
    }
}
