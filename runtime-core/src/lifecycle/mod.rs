//! The lifecycle every driver shares: the container table, the status machine with its
//! transitions (each saved as it happens), exit keeping, hooks and recovery. A driver brings
//! only its [`Platform`]; [`Lifecycle`] turns it into a [`Driver`].
//!
//! The path of one `run` through it: [`Driver::run`] calls `create`, which validates the
//! command (making the [`Validated`] the platform takes), lets the platform check the rest
//! ([`Platform::prepare`]), reserves the id in the [`Table`], creates the state file and has
//! the platform [`launch`](Platform::launch) the init and [`watch`](Platform::watch) it. Then
//! `start` ([`Platform::start`], then `on_start`), `wait` (until the platform reports the exit
//! to the [`ExitSink`] and the record has finished) and `delete`.

pub mod events;
mod platform;
mod record;
mod store;
mod table;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use platform::{Adopted, Launched, Peers, Platform};
pub use record::{ExecSink, ExitSink, Record};
pub use store::{CreateClaim, ReplaceFile, Saved, StateFile, StateRoot};
pub use table::Table;

use crate::command::{Command, Resources};
use crate::driver::Driver;
use crate::error::{Error, Result};
use crate::hooks::{Hooks, NoHooks};
use crate::process::ProcessConfig;
use crate::status::{ContainerState, ExitStatus, Stats, Status};
use crate::stdio::Stdio;
use crate::validate::{validate_id, validate_signal};
use crate::validated::Validated;
use events::EventPool;
use record::Parts;

/// What dropping a [`Lifecycle`] does to the containers it still holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OnDrop {
    /// Kill and delete them: a driver leaves nothing behind (the default).
    #[default]
    Delete,
    /// Leave them as they are (created, running or paused), with their state, for a later
    /// driver on the same root to take back. No hook of theirs runs again.
    Keep,
}

/// A driver made of a platform and the shared lifecycle.
pub struct Lifecycle<P: Platform> {
    on_drop: OnDrop,
    platform: Arc<P>,
    table: Table<P>,
    store: StateRoot,
    events: Arc<EventPool>,
    /// What recovery at start-up found wrong: one line per state directory it skipped or
    /// cleaned up.
    recovery_report: Vec<String>,
}

impl<P: Platform> Lifecycle<P> {
    /// The lifecycle over `platform`, with its state under `root`, after taking back the
    /// containers an earlier driver on the same root left. `on_drop` says what becomes of the
    /// containers still held when it is dropped.
    pub fn new(platform: P, root: PathBuf, on_drop: OnDrop) -> Result<Self> {
        let mut lifecycle = Lifecycle {
            on_drop,
            platform: Arc::new(platform),
            table: Table::new(),
            store: StateRoot::open(root, P::replace_file)?,
            events: EventPool::new(),
            recovery_report: Vec::new(),
        };
        lifecycle.recovery_report = lifecycle.recover();
        Ok(lifecycle)
    }

    pub fn platform(&self) -> &P {
        &self.platform
    }

    /// The state directory.
    pub fn root(&self) -> &Path {
        self.store.path()
    }

    /// What recovery found wrong when this driver started: a line per state directory it
    /// skipped (unreadable or corrupt state) or cleaned up (a container that is gone).
    pub fn recovery_report(&self) -> &[String] {
        &self.recovery_report
    }

    /// Lets the platform act on the instance of container `id` while its status is one of
    /// `allowed`: for a driver's own operations beyond the [`Driver`] trait (the native
    /// driver's `run_hook`). `NotFound` for an unknown id; `InvalidState` naming `operation`
    /// (a verb phrase: "run a hook in") for a container in another status, or being created.
    /// The status is checked once, before `act`, which runs on the caller's thread with no
    /// lock held: the container may exit meanwhile, and `act` must cope with that as the
    /// platform's own operations do (the record, and so the instance, lives until `act`
    /// returns, even if the container is deleted).
    pub fn with_instance<R>(
        &self,
        id: &str,
        allowed: &[Status],
        operation: &'static str,
        act: impl FnOnce(&P, &P::Instance) -> Result<R>,
    ) -> Result<R> {
        let record = self.table.get(id)?;
        let status = record.status();
        if !allowed.contains(&status) {
            return Err(Error::InvalidState {
                id: id.to_string(),
                state: status.to_string(),
                operation,
            });
        }
        act(&self.platform, record.instance())
    }

    /// Threads running hooks now.
    pub fn event_workers(&self) -> usize {
        self.events.workers()
    }

    /// Takes back what an earlier driver on the same root left: a container the platform
    /// finds alive is adopted in the status it had (its hooks are gone with the old driver; a
    /// created one can still be started); one that stopped or ended meanwhile is listed as
    /// stopped with its exit status until deleted; a create whose driver died before its
    /// first save is cleaned up.
    fn recover(&self) -> Vec<String> {
        let mut report = Vec::new();
        for (name, file) in self.store.entries() {
            if validate_id("id", &name).is_err() {
                continue;
            }
            if !file.has_state() {
                // A create under way in another driver holds its claim: left alone.
                if let Some(claim) = file.claim_abandoned() {
                    self.platform.abandon(file.dir());
                    // Removed while claimed, so that no create can take it meanwhile; where
                    // an open file cannot be removed (Windows), once let go.
                    if file.remove().is_err() {
                        drop(claim);
                        let _ = file.remove();
                    }
                    report.push(format!(
                        "{name}: its driver died while creating it; cleaned up"
                    ));
                }
                continue;
            }
            let saved: Saved<P::Saved> = match file.load() {
                Ok(saved) => saved,
                Err(why) => {
                    report.push(format!("{name}: unreadable state ({why}); skipped"));
                    continue;
                }
            };
            if saved.id != name {
                report.push(format!("{name}: its state names {:?}; skipped", saved.id));
                continue;
            }
            let (instance, status) = match self.platform.adopt(&saved, file.dir()) {
                Adopted::Alive(instance, status) => (instance, status),
                Adopted::Ended(exit) => {
                    self.keep_ended(saved, exit, file);
                    continue;
                }
            };
            let oom_reported = self.platform.oom_kills(&instance);
            let record = Record::new(Parts {
                id: saved.id,
                pid: saved.pid,
                created: saved.created,
                rootfs: saved.rootfs,
                status,
                platform: self.platform.clone(),
                instance,
                hooks: Arc::new(NoHooks),
                file,
                pool: self.events.clone(),
                oom_reported,
            });
            if status != saved.status {
                let _ = record.save();
            }
            self.table.insert(record.clone());
            if let Err(error) = self
                .platform
                .watch(record.instance(), ExitSink::new(&record))
            {
                report.push(format!("{name}: cannot supervise it ({error}); killed"));
                record.abandon();
            }
        }
        report.sort();
        report
    }

    /// Lists a container that recovery found ended as stopped with `exit`, and saves that, so
    /// that a later driver finds the same.
    fn keep_ended(&self, saved: Saved<P::Saved>, exit: ExitStatus, file: StateFile) {
        let state = ContainerState {
            id: saved.id.clone(),
            pid: 0,
            status: Status::Stopped,
            created: saved.created.clone(),
            cgroup_path: String::new(),
            rootfs: saved.rootfs.clone(),
            exit_status: Some(exit),
        };
        if saved.status != Status::Stopped || saved.exit_status != Some(exit) {
            let _ = file.save(&Saved {
                status: Status::Stopped,
                exit_status: Some(exit),
                ..saved
            });
        }
        self.table.insert_ended(state, file);
    }

    fn create_valid(
        &self,
        command: Validated<Command>,
        stdio: &Stdio,
        hooks: Arc<dyn Hooks>,
    ) -> Result<i32> {
        let prepared = self.platform.prepare(&command, &Peers(&self.table))?;
        let created = crate::time::now_rfc3339();
        let reservation = self.table.reserve(ContainerState {
            id: command.id.clone(),
            pid: 0,
            status: Status::Creating,
            created: created.clone(),
            cgroup_path: String::new(),
            rootfs: command.rootfs.clone(),
            exit_status: None,
        })?;
        let (file, claim) = self.store.create(&command.id)?;
        let launched = match self
            .platform
            .launch(&command, prepared, stdio, &hooks, file.dir())
        {
            Ok(launched) => launched,
            Err(error) => {
                let _ = file.remove();
                return Err(error);
            }
        };
        let Launched { instance, pid } = launched;
        let command = command.into_inner();
        let record = Record::new(Parts {
            id: command.id,
            pid,
            created,
            rootfs: command.rootfs,
            status: Status::Created,
            platform: self.platform.clone(),
            instance,
            hooks,
            file,
            pool: self.events.clone(),
            oom_reported: 0,
        });
        if let Err(error) = self
            .platform
            .watch(record.instance(), ExitSink::new(&record))
        {
            record.discard(false);
            return Err(error);
        }
        if let Err(error) = record.save() {
            record.discard(true);
            return Err(error);
        }
        // Saved: a recovering driver takes it back from its state from now on.
        drop(claim);
        reservation.fulfil(record);
        Ok(pid)
    }
}

impl<P: Platform> Drop for Lifecycle<P> {
    /// Containers still held are killed and cleaned up ([`OnDrop::Delete`]), or left as they
    /// are for a later driver ([`OnDrop::Keep`]).
    fn drop(&mut self) {
        if self.on_drop == OnDrop::Delete {
            for file in self.table.take_all_ended() {
                let _ = file.remove();
            }
        }
        for record in self.table.live() {
            match self.on_drop {
                OnDrop::Delete => {
                    let _ = self.delete(record.id(), true);
                }
                OnDrop::Keep => record.release(),
            }
        }
        self.events.shutdown();
    }
}

impl<P: Platform> Driver for Lifecycle<P> {
    fn create(&self, command: &Command, stdio: &Stdio, hooks: Arc<dyn Hooks>) -> Result<i32> {
        let command = command.clone().validated()?;
        stdio.validate()?;
        self.create_valid(command, stdio, hooks)
    }

    fn start(&self, id: &str) -> Result<()> {
        self.table.get(id)?.start()
    }

    fn wait(&self, id: &str) -> Result<ExitStatus> {
        if let Some(exit) = self.table.ended_exit(id) {
            return Ok(exit);
        }
        self.table.get(id)?.wait()
    }

    fn delete(&self, id: &str, force: bool) -> Result<()> {
        if let Some(file) = self.table.take_ended(id) {
            return file.remove();
        }
        let record = self.table.get(id)?;
        record.delete(force)?;
        self.table.remove(&record);
        Ok(())
    }

    fn exec(
        &self,
        id: &str,
        process: &ProcessConfig,
        stdio: &Stdio,
        hooks: Arc<dyn Hooks>,
    ) -> Result<ExitStatus> {
        let process = process.clone().validated("process")?;
        stdio.validate()?;
        self.table.get(id)?.exec(&process, stdio, hooks)
    }

    fn exec_detached(
        &self,
        id: &str,
        process: &ProcessConfig,
        stdio: &Stdio,
        hooks: Arc<dyn Hooks>,
    ) -> Result<i32> {
        let process = process.clone().validated("process")?;
        stdio.validate()?;
        self.table.get(id)?.exec_detached(&process, stdio, hooks)
    }

    fn wait_exec(&self, id: &str, pid: i32) -> Result<ExitStatus> {
        self.table.get(id)?.wait_exec(pid)
    }

    fn update(&self, id: &str, resources: &Resources) -> Result<()> {
        let resources = resources.clone().validated("resources")?;
        self.table.get(id)?.update(&resources)
    }

    fn kill(&self, id: &str, signal: i32, all: bool) -> Result<()> {
        validate_signal(signal)?;
        self.table.get(id)?.signal(signal, all)
    }

    fn pause(&self, id: &str) -> Result<()> {
        self.table.get(id)?.pause()
    }

    fn resume(&self, id: &str) -> Result<()> {
        self.table.get(id)?.resume()
    }

    fn resize(&self, id: &str, rows: u16, cols: u16) -> Result<()> {
        if rows == 0 || cols == 0 {
            return Err(Error::invalid("size", "rows and cols must be at least 1"));
        }
        self.table.get(id)?.resize(rows, cols)
    }

    fn state(&self, id: &str) -> Result<ContainerState> {
        self.table.state(id)
    }

    fn list(&self) -> Result<Vec<ContainerState>> {
        Ok(self.table.states())
    }

    fn stats(&self, id: &str) -> Result<Stats> {
        self.table.get(id)?.stats()
    }
}
