//! How a process ended, and what a container looks like from outside.

use serde::{Deserialize, Serialize};

/// How a container's init process or an exec'd process ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExitStatus {
    /// The exit code, wide enough for every platform: on Linux 0 to 255, or `128 + signal`
    /// when a signal ended the process, as a shell reports it; on Windows the process's
    /// 32-bit exit code taken as unsigned (0xC000013A is 3221225786); -1 when berth could not
    /// observe the exit ([`ExitStatus::unknown`]).
    pub code: i64,
    /// The signal that ended the process, if one did.
    #[serde(default)]
    pub signal: Option<i32>,
    /// Whether the kernel's OOM killer killed a process in the container's cgroup during its
    /// life, whichever process that was.
    #[serde(default)]
    pub oom_killed: bool,
}

impl ExitStatus {
    /// The process called `exit(code)`.
    pub fn exited(code: i64) -> Self {
        ExitStatus {
            code,
            signal: None,
            oom_killed: false,
        }
    }

    /// The process was killed by `signal`.
    pub fn signaled(signal: i32) -> Self {
        ExitStatus {
            code: 128 + i64::from(signal),
            signal: Some(signal),
            oom_killed: false,
        }
    }

    /// An exit berth could not observe: code -1, no signal. This is what a driver reports for
    /// a container it recovered from an earlier driver, which it can watch end but cannot
    /// reap (the kernel gives the status to the process's real parent).
    pub fn unknown() -> Self {
        ExitStatus {
            code: -1,
            signal: None,
            oom_killed: false,
        }
    }

    /// Whether the process ended with code 0.
    pub fn success(&self) -> bool {
        self.code == 0 && self.signal.is_none()
    }
}

/// The life-cycle state of a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Its id is taken and `create` is setting it up.
    Creating,
    /// Its init is set up and waits for `start`.
    Created,
    /// Its program runs.
    Running,
    /// It is frozen.
    Paused,
    /// Its init has exited.
    Stopped,
}

impl Status {
    /// The lowercase name, as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }

    /// Whether a container in this status allows `operation`: the one place that says so, for
    /// every driver.
    pub fn allows(self, operation: Operation) -> bool {
        use Operation::*;
        use Status::*;
        match operation {
            Start => self == Created,
            Exec | Pause => self == Running,
            Resume => self == Paused,
            Kill | Stats | Resize | Update | ForceDelete => {
                matches!(self, Created | Running | Paused)
            }
            Delete => self == Stopped,
            Wait | State => self != Creating,
        }
    }
}

/// What a caller can ask of a container; [`Status::allows`] says when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Start,
    Exec,
    Kill,
    Pause,
    Resume,
    Stats,
    Resize,
    /// Change the container's resources.
    Update,
    /// `delete` without `force`: only a stopped container.
    Delete,
    /// `delete` with `force` of a container that still lives (a stopped one is a plain delete).
    ForceDelete,
    Wait,
    State,
}

impl Operation {
    /// How an error message says it: "container "a" is paused: cannot exec into".
    pub fn verb(self) -> &'static str {
        match self {
            Operation::Start => "start",
            Operation::Exec => "exec into",
            Operation::Kill => "kill",
            Operation::Pause => "pause",
            Operation::Resume => "resume",
            Operation::Stats => "read stats of",
            Operation::Resize => "resize",
            Operation::Update => "update the resources of",
            Operation::Delete => "delete without force",
            Operation::ForceDelete => "delete",
            Operation::Wait => "wait for",
            Operation::State => "read the state of",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What `state` and `list` report about a container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerState {
    pub id: String,
    /// Host pid of the init process (0 once it is reaped).
    pub pid: i32,
    pub status: Status,
    /// Creation time, RFC 3339 in UTC.
    pub created: String,
    /// The container's cgroup, relative to the hierarchy root.
    pub cgroup_path: String,
    pub rootfs: String,
    /// Set once the container has stopped.
    #[serde(default)]
    pub exit_status: Option<ExitStatus>,
}

/// Resource usage of a container, read from its cgroup. Fields the kernel does not give are
/// `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    pub memory: MemoryStats,
    pub cpu: CpuStats,
    pub pids: PidsStats,
    pub io: IoStats,
}

/// Memory usage in bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryStats {
    pub usage: Option<u64>,
    pub max_usage: Option<u64>,
    pub limit: Option<u64>,
    /// Page cache (v1 `cache`, v2 `file`).
    pub cache: Option<u64>,
    /// Anonymous memory (v1 `rss`, v2 `anon`).
    pub rss: Option<u64>,
}

/// CPU usage.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpuStats {
    pub total_ns: Option<u64>,
    pub user_ns: Option<u64>,
    pub system_ns: Option<u64>,
    pub throttled_periods: Option<u64>,
    pub throttled_ns: Option<u64>,
}

/// Process counts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PidsStats {
    pub current: Option<u64>,
    pub limit: Option<u64>,
}

/// Block I/O in bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IoStats {
    pub read_bytes: Option<u64>,
    pub write_bytes: Option<u64>,
}

impl Status {
    /// The error for `operation` refused in this status.
    pub fn refuses(self, id: &str, operation: Operation) -> crate::Error {
        crate::Error::InvalidState {
            id: id.to_string(),
            state: self.to_string(),
            operation: operation.verb(),
        }
    }
}
