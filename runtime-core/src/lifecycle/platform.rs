//! What a driver supplies: its platform. Everything else (the table, the status machine, the
//! state files, exit keeping, the hooks) is the lifecycle's, the same for every driver.

use std::path::Path;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::record::{ExecSink, ExitSink, Record};
use super::store::Saved;
use super::table::Table;
use crate::command::{Command, Resources};
use crate::error::{Error, Result};
use crate::hooks::Hooks;
use crate::process::ProcessConfig;
use crate::status::{ExitStatus, Stats, Status};
use crate::stdio::Stdio;
use crate::validated::Validated;

/// A container platform: how to start an init, let it run, signal, freeze and thaw it, read
/// its stats, run more processes in it, clean up after it and take it back after a restart.
///
/// The lifecycle calls these only in a status that allows them (see
/// [`crate::Status::allows`]), never with a lock of its own held that a hook could need, and
/// it keeps every hook call to itself: a platform never calls a container's hooks, except
/// `on_console` while it launches.
pub trait Platform: Send + Sync + Sized + 'static {
    /// What [`Platform::prepare`] computed, handed to [`Platform::launch`].
    type Prepared: Send;
    /// One container, as the platform knows it (its init's handle, its cgroup, ...).
    type Instance: Send + Sync + 'static;
    /// A process started in a container by [`Platform::exec`].
    type Process: Send;
    /// The platform's part of the state file: what it needs to take the container back.
    type Saved: Serialize + DeserializeOwned + Send + Sync + 'static;

    /// Everything that can be checked before a side effect: options the platform lacks
    /// (`Unsupported`), host paths and devices, namespaces to join (`peers` are the other
    /// containers of this driver).
    fn prepare(
        &self,
        command: &Validated<Command>,
        peers: &Peers<'_, Self>,
    ) -> Result<Self::Prepared>;

    /// Puts a state file's new version (`temp`) in the place of the old one (`target`),
    /// atomically: a reader sees the old file or the new. `std::fs::rename` unless the
    /// platform knows a cheaper way for its file systems.
    fn replace_file(temp: &Path, target: &Path) -> std::io::Result<()> {
        std::fs::rename(temp, target)
    }

    /// Sets the container up and leaves its init waiting for [`Platform::start`]. On failure
    /// it leaves nothing behind. Hands a terminal master to `hooks.on_console`. `state_dir`
    /// is the container's own state directory, for files the platform keeps beside the state
    /// (it is removed with the container).
    fn launch(
        &self,
        command: &Validated<Command>,
        prepared: Self::Prepared,
        stdio: &Stdio,
        hooks: &Arc<dyn Hooks>,
        state_dir: &Path,
    ) -> Result<Launched<Self::Instance>>;

    /// Starts noticing the init's exit (and OOM kills), and reports them to `sink`, from any
    /// thread.
    fn watch(&self, instance: &Self::Instance, sink: ExitSink<Self>) -> Result<()>;

    /// Stops what [`Platform::watch`] started. Once it returns, `sink` is not called again.
    fn unwatch(&self, instance: &Self::Instance);

    /// Lets the init run the user's program: also the init of a `created` container taken
    /// back from an earlier driver, which must stay startable. Returns the init's host pid
    /// when it is known only now (a platform that cannot create a process suspended creates it
    /// here, and its [`Launched::pid`] was 0), `None` when the pid from the launch stands.
    fn start(&self, instance: &Self::Instance) -> Result<Option<i32>>;

    /// Sends `signal` (checked to be in range) to the init, or to every process of the
    /// container when `all`. `Ok(false)` when the init is gone.
    fn signal(&self, instance: &Self::Instance, signal: i32, all: bool) -> Result<bool>;

    /// Kills the container's init (thawing the container first if it is `paused`), and
    /// forgets a start that never came. Its exit is then reported to the sink as any other.
    fn kill(&self, instance: &Self::Instance, paused: bool) -> Result<()>;

    /// Kills and, where it can, reaps the init of a container whose exit nobody watches (a
    /// failed create), and removes what it made.
    fn destroy(&self, instance: &Self::Instance);

    /// After the init has exited and been reaped: removes what is left of the container.
    fn clean_up(&self, instance: &Self::Instance);

    /// Whether the init has exited, reaped or not.
    fn has_exited(&self, instance: &Self::Instance) -> bool;

    /// Freezes every process of the container.
    fn freeze(&self, _instance: &Self::Instance) -> Result<()> {
        Err(Error::Unsupported("pause".into()))
    }

    /// Thaws a frozen container.
    fn thaw(&self, _instance: &Self::Instance) -> Result<()> {
        Err(Error::Unsupported("resume".into()))
    }

    /// Resource usage.
    fn stats(&self, _instance: &Self::Instance) -> Result<Stats> {
        Err(Error::Unsupported("stats".into()))
    }

    /// How many OOM kills the container has seen in all (0 where the platform cannot tell).
    fn oom_kills(&self, _instance: &Self::Instance) -> u64 {
        0
    }

    /// Resizes every terminal of the container; `Ok(false)` if it has none.
    fn resize(&self, _instance: &Self::Instance, _rows: u16, _cols: u16) -> Result<bool> {
        Err(Error::Unsupported("resize".into()))
    }

    /// Starts another process in a running container; returns it and its host pid. Hands a
    /// terminal master to `hooks.on_console`.
    fn exec(
        &self,
        _instance: &Self::Instance,
        _process: &Validated<ProcessConfig>,
        _stdio: &Stdio,
        _hooks: &Arc<dyn Hooks>,
    ) -> Result<(Self::Process, i32)> {
        Err(Error::Unsupported("exec".into()))
    }

    /// Starts noticing the exit of a process from [`Platform::exec`] that nobody waits for (a
    /// detached exec), and reports it to `sink`, from any thread. On failure the process is
    /// killed and reaped.
    ///
    /// There is no default: the process is running when this is called, and only the platform
    /// knows how to end it. A platform without exec sets `Process` to
    /// [`std::convert::Infallible`] and answers `match process {}`.
    fn watch_exec(
        &self,
        instance: &Self::Instance,
        process: Self::Process,
        sink: ExecSink<Self>,
    ) -> Result<()>;

    /// Blocks until a process from [`Platform::exec`] exits.
    fn exec_wait(&self, _instance: &Self::Instance, _process: Self::Process) -> Result<ExitStatus> {
        Err(Error::Unsupported("exec".into()))
    }

    /// Sets the resources given in `resources` (checked already), leaving the others as they
    /// are.
    fn update(&self, _instance: &Self::Instance, _resources: &Validated<Resources>) -> Result<()> {
        Err(Error::Unsupported("update".into()))
    }

    /// The platform's part of the state file.
    fn saved(&self, instance: &Self::Instance) -> Self::Saved;

    /// The container's cgroup relative to the hierarchy's root (empty where there is none).
    fn cgroup_path(&self, _instance: &Self::Instance) -> String {
        String::new()
    }

    /// Takes back a container an earlier driver left, from its state file (in `state_dir`). A
    /// `created` one must stay startable. One that is stopped or gone (or whose pid now names
    /// another process, which is left alone) is [`Adopted::Ended`], with what was left of it
    /// removed and the best exit status the platform can give (`saved.exit_status` for one
    /// that stopped while watched).
    fn adopt(&self, saved: &Saved<Self::Saved>, state_dir: &Path) -> Adopted<Self::Instance>;

    /// Removes what a launch into `state_dir` left when its driver died before the
    /// container's state was first saved (the lifecycle removes the directory after): a
    /// recovering driver calls it for a state directory without a state file whose creator
    /// is gone. The default: nothing (a platform whose launch leaves nothing outside
    /// `state_dir`).
    fn abandon(&self, _state_dir: &Path) {}
}

/// What became of a container an earlier driver left ([`Platform::adopt`]).
pub enum Adopted<I> {
    /// It lives, and this driver takes it back, in the status the platform found it in:
    /// created, running or paused, which may differ from the state file's when the earlier
    /// driver died in the middle of a start, pause or resume.
    Alive(I, Status),
    /// It had stopped, or ended while no driver watched it: what was left of it is removed,
    /// and it stays listed as stopped with this exit status until it is deleted.
    Ended(ExitStatus),
}

/// A container the platform has set up: its instance, and its init's host pid (0 on a
/// platform that creates the init only at [`Platform::start`]).
pub struct Launched<I> {
    pub instance: I,
    pub pid: i32,
}

/// The other containers of a driver, for a platform that joins one's namespaces.
pub struct Peers<'a, P: Platform>(pub(crate) &'a Table<P>);

impl<P: Platform> Peers<'_, P> {
    /// The container `id`, if the driver has one by that name.
    pub fn get(&self, id: &str) -> Option<Arc<Record<P>>> {
        self.0.get(id).ok()
    }
}
