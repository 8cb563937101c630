//! The native driver: the shared lifecycle (`runtime_core::lifecycle`) over the native
//! platform ([`crate::platform`]).
//!
//! The path of a `run`: the lifecycle's `create` validates the command and calls
//! `preflight::check` for everything else that can be checked before a side effect,
//! reserves the id and creates the state file. The platform's `launch` creates the cgroup and
//! hands a `CreatePlan` to `launcher::launch`, which spawns `berth-init` (see
//! [`crate::helper`]), and the supervisor watches the init. `start` lets the init exec the
//! program; `wait` returns once the supervisor has reaped it and the lifecycle has cleaned up;
//! `delete` forgets it.

use std::path::{Path, PathBuf};

use runtime_core::{Command, Lifecycle, OnDrop, ProcessConfig, Result, Status};
use serde::{Deserialize, Serialize};

use crate::cgroups::{CgroupManager, CgroupMode};
use crate::hook::{ContainerHook, HookOutput};
use crate::launcher::Helper;
pub use crate::launcher::HelperSeal;
use crate::locate::find_helper;
use crate::platform::NativePlatform;
use crate::security::SeccompCache;
use crate::supervisor::oom::OomWatches;
use crate::supervisor::watch::Reaping;
use crate::supervisor::Supervisor;

/// The default state directory.
pub const DEFAULT_ROOT: &str = "/run/berth";

/// How a [`LinuxDriver`] is set up. Every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DriverOptions {
    /// Directory for the driver's state (default `/run/berth`).
    #[serde(default)]
    pub root: Option<PathBuf>,
    /// The `berth-init` helper executable (see [`crate::locate`] for the search otherwise).
    #[serde(default)]
    pub helper_path: Option<PathBuf>,
    /// Cgroup parent for containers whose command names none (default `berth`).
    #[serde(default)]
    pub cgroup_parent: Option<String>,
    /// Leave the containers as they are when the driver is dropped (or freed), for a later
    /// driver on the same root to take back, instead of killing and deleting them. A
    /// short-lived process, such as a command-line tool, wants this.
    #[serde(default)]
    pub keep_containers: bool,
    /// Read the status of an exited init or exec'd process but leave it unreaped, a zombie
    /// for the process that becomes its parent: a command-line tool (`berth create`) exits
    /// while the container runs, and its caller, a child subreaper such as containerd's shim,
    /// reaps the container's processes and wants their status.
    #[serde(default)]
    pub leave_zombies: bool,
    /// A directory where compiled seccomp programs are kept for the next driver (created
    /// 0700 if missing). Used only while it is owned by the caller's effective uid and no
    /// one else can write it; each entry is checked the same way and against everything that
    /// went into it before it is used (see `security::seccomp_disk`). A process that makes a
    /// driver per container, such as a command-line tool, wants this: compiling Docker's
    /// default profile takes about 10 ms.
    #[serde(default)]
    pub seccomp_cache: Option<PathBuf>,
    /// When the helper's sealed copy (a 1.2 MB memfd, about 0.5 ms) is made: at set-up (the
    /// default), by a thread of the driver's own while the caller goes on, or at the first
    /// spawn (see [`HelperSeal`]). A process that makes a driver per command, most of which
    /// spawn nothing (a command-line tool's `start`, `kill`, `delete`), wants `first_use`,
    /// and `background` for the ones that do (`create`, `exec`). With either, the copy is a
    /// new fd of the caller's from the first spawn on, and a helper that cannot be copied
    /// fails that create or exec (leaving nothing behind) instead of the set-up.
    #[serde(default)]
    pub helper_seal: HelperSeal,
}

impl DriverOptions {
    /// The state directory, and what becomes of the containers when the driver goes.
    pub(crate) fn root_and_on_drop(self) -> (PathBuf, OnDrop) {
        let root = self.root.unwrap_or_else(|| PathBuf::from(DEFAULT_ROOT));
        let on_drop = if self.keep_containers {
            OnDrop::Keep
        } else {
            OnDrop::Delete
        };
        (root, on_drop)
    }
}

/// The native platform for `options`: the helper found and sealed, the cgroup layout
/// detected, the supervisor started. The LXC driver uses it too.
pub(crate) fn native_platform(options: &DriverOptions) -> Result<NativePlatform> {
    let found = find_helper(options.helper_path.as_deref())?;
    let helper = match options.helper_seal {
        HelperSeal::SetUp => Helper::seal(found)?,
        HelperSeal::Background => Helper::seal_in_background(found)?,
        HelperSeal::FirstUse => Helper::seal_when_used(found),
    };
    if let Some(parent) = &options.cgroup_parent {
        let probe = Command::new("probe", "/probe", ProcessConfig::new(["x"]));
        Command {
            cgroup_parent: Some(parent.clone()),
            ..probe
        }
        .validate()?;
    }
    let platform = NativePlatform {
        helper,
        cgroup_parent: options.cgroup_parent.clone(),
        cgroups: CgroupManager::detect()?,
        supervisor: Supervisor::start()?,
        oom_watches: OomWatches::new(),
        seccomp: SeccompCache::with_disk(options.seccomp_cache.clone()),
        reaping: if options.leave_zombies {
            Reaping::LeaveZombies
        } else {
            Reaping::Reap
        },
    };
    if platform.cgroups.mode() == CgroupMode::Unified {
        platform.oom_watches.prepare_v2(&platform.supervisor)?;
    }
    Ok(platform)
}

/// The native Linux driver. Cheap to share between threads; see [`runtime_core::Driver`] for the rules.
pub struct LinuxDriver {
    lifecycle: Lifecycle<NativePlatform>,
}

impl LinuxDriver {
    /// Sets the driver up: finds the helper, detects the cgroup layout, creates the root, and
    /// takes back the containers an earlier driver on the same root left running.
    pub fn new(options: DriverOptions) -> Result<Self> {
        let platform = native_platform(&options)?;
        let (root, on_drop) = options.root_and_on_drop();
        Ok(LinuxDriver {
            lifecycle: Lifecycle::new(platform, root, on_drop)?,
        })
    }

    /// What recovery found wrong when this driver started: a line per state directory it
    /// skipped (unreadable or corrupt state) or cleaned up (a container that is gone).
    pub fn recovery_report(&self) -> &[String] {
        self.lifecycle.recovery_report()
    }

    /// The state directory.
    pub fn root(&self) -> &Path {
        self.lifecycle.root()
    }

    /// Threads of this driver now: the supervisor and the event workers.
    pub fn thread_count(&self) -> usize {
        1 + self.lifecycle.event_workers()
    }

    /// Runs `hook` in the container `id`, which must be `created` or `running`, and waits for
    /// it: OCI's `createContainer` and `startContainer` hooks. It runs in every namespace of
    /// the container's init that is not the host's, and in its cgroup, as the container's
    /// root, unconfined (every capability of berth's bounding set, no seccomp filter, no
    /// `no_new_privs`), in `/`, with exactly `hook.args` and `hook.env`; `stdin` is its input,
    /// then end-of-file. Exit 0 gives what it wrote ([`HookOutput`]); another exit, a signal
    /// or its timeout (it is killed and reaped) is a system error naming the program, how it
    /// ended and the end of its stderr. See [`crate::hook`] for what a host program needs.
    ///
    /// `NotFound` for an unknown id, `InvalidState` for a container in another status.
    pub fn run_hook(&self, id: &str, hook: &ContainerHook, stdin: &[u8]) -> Result<HookOutput> {
        self.lifecycle.with_instance(
            id,
            &[Status::Created, Status::Running],
            "run a hook in",
            |platform, instance| crate::hook::run(platform, instance, hook, stdin),
        )
    }

    /// Fds the supervisor watches (two per container with a memory controller).
    pub fn watched_fds(&self) -> usize {
        self.lifecycle.platform().supervisor.watch_count()
    }
}

runtime_core::driver_over_lifecycle!(LinuxDriver);
