//! What the host and `berth-init` say to each other over the [`crate::channel::Channel`].
//!
//! host → helper: [`Request::Create`] with the namespace fds to join, berth's init's exit
//!                record (with `Command::init`) and the listener of the container's start
//!                socket attached, or [`Request::Exec`] with the container
//!                init's pidfd attached (and, for a hook whose program is the host's, that
//!                program's fd); either with the process's extra fds last.
//! helper → host: [`Report::Spawned`] with the init's pidfd attached, then the helper exits.
//! init → host:   [`Report::Ready`] once the container is set up, or [`Report::Failed`].
//! host → init:   [`Request::Start`]; the init execs and the host reads end-of-file, or it
//!                reports [`Report::Failed`] if the exec failed. A container's init also
//!                takes [`Request::Start`] on a connection to its start socket (a later
//!                driver's way in, see [`crate::channel::Listener`]), and answers there.

use runtime_core::{Command, Error, NamespaceKind, ProcessConfig};
use serde::{Deserialize, Serialize};

use crate::error::os_error;
pub use crate::namespaces::NamespaceSet;
use crate::security::caps::ProcessCapabilities;
use crate::security::devices::ResolvedDevice;
use crate::security::SeccompProgram;

/// A request from the host.
#[derive(Debug, Serialize, Deserialize)]
pub enum Request {
    /// Set up a new container.
    Create(Box<CreatePlan>),
    /// Start another process in a running container.
    Exec(Box<ExecPlan>),
    /// Exec the container's program.
    Start,
}

/// The confinement of one process, computed (and its seccomp filter compiled) on the host,
/// so that the helper only applies it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Confinement {
    pub capabilities: ProcessCapabilities,
    pub seccomp: Option<SeccompProgram>,
}

/// Everything the helper needs to create a container's init.
#[derive(Debug, Serialize, Deserialize)]
pub struct CreatePlan {
    /// The validated command.
    pub command: Command,
    /// The init's confinement.
    pub confinement: Confinement,
    /// Host devices to make nodes for in the container's `/dev`.
    pub devices: Vec<ResolvedDevice>,
    /// Namespaces to join, in order; the n-th attached fd is the n-th entry's. After them
    /// come the exit record's fd when `command.init` (see `crate::exit_record`), then the
    /// listener of the container's start socket, and the [`CreatePlan::extra_fds`] last.
    pub join: Vec<NamespaceKind>,
    /// The files the helper writes `0` into before it clones the init, so that the init is
    /// born inside the container's cgroups (`ContainerCgroup::join_files`: v1 `tasks`, the
    /// cgroup2 `cgroup.procs`).
    pub cgroup_procs: Vec<String>,
    /// How many of the attached fds, the last ones, are the program's fds 3, 4, ...
    /// (`Stdio::extra`).
    pub extra_fds: usize,
}

/// Everything the helper needs to start a process in a running container. The container
/// init's pidfd is attached: the helper joins its namespaces through it.
#[derive(Debug, Serialize, Deserialize)]
pub struct ExecPlan {
    /// The validated process.
    pub process: ProcessConfig,
    /// Its confinement.
    pub confinement: Confinement,
    /// The init's pid: the helper opens the init's `/proc/<pid>` on the host's procfs with it
    /// (checked against the pidfd) to read its `setgroups`, and to join through `ns/*` on
    /// kernels whose `setns` takes no pidfd.
    pub init_pid: i32,
    /// The namespaces to join (those the container does not share with the host).
    pub namespaces: NamespaceSet,
    /// The files that join the container's cgroups (as [`CreatePlan::cgroup_procs`]).
    pub cgroup_procs: Vec<String>,
    /// How many of the attached fds, the last ones, are the program's fds 3, 4, ...
    /// (`Stdio::extra`).
    pub extra_fds: usize,
    /// The process is a hook of the container's (`LinuxDriver::run_hook`): its `args` and
    /// `env` are taken exactly as they are (no `PATH` added, no lookup, no `HOME`), and its
    /// program is this.
    pub hook: Option<HookProgramPlan>,
    /// The container's id when the process gets a new session keyring of its own
    /// (`_ses.<id>`, as the init's); `None`: it keeps the helper's.
    pub session_keyring: Option<String>,
}

/// Where a hook's program is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum HookProgramPlan {
    /// A host file the host opened: the fd attached after the init's pidfd, executed by fd
    /// (`execveat(fd, "", AT_EMPTY_PATH)`). `script`: it starts with `#!`, so the fd must
    /// stay open across the exec for the interpreter to read it (as `/dev/fd/N`).
    Attached { script: bool },
    /// An absolute path inside the container.
    Path(String),
}

/// A report to the host.
#[derive(Debug, Serialize, Deserialize)]
pub enum Report {
    /// The init exists; its pidfd is attached.
    Spawned { pid: i32 },
    /// The init is set up and waits for [`Request::Start`].
    Ready,
    /// A step failed.
    Failed(Failure),
}

/// A failure in the helper or the init, as it crosses the socket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Failure {
    /// A system call failed.
    Os { step: String, errno: i32 },
    /// Something in the command that could only be checked inside the container (a user
    /// missing from its `/etc/passwd`).
    Invalid { field: String, reason: String },
    /// Anything else.
    Other(String),
}

impl From<&Error> for Failure {
    fn from(error: &Error) -> Self {
        match error {
            Error::System(failure) | Error::Permission(failure) => Failure::Os {
                step: failure.step.clone(),
                errno: failure.code,
            },
            Error::InvalidArgument { field, reason } => Failure::Invalid {
                field: field.clone(),
                reason: reason.clone(),
            },
            other => Failure::Other(other.to_string()),
        }
    }
}

impl From<Failure> for Error {
    fn from(failure: Failure) -> Self {
        match failure {
            Failure::Os { step, errno } => os_error(step, nix::errno::Errno::from_raw(errno)),
            Failure::Invalid { field, reason } => Error::InvalidArgument { field, reason },
            Failure::Other(message) => Error::Internal(message),
        }
    }
}
