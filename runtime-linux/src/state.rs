//! Each container's state on disk, under the driver's root: `<root>/<id>/state.json`, written
//! atomically (temp file, then rename) so that a crash never leaves half a file.

use std::fs;
use std::path::{Path, PathBuf};

use runtime_core::{ExitStatus, Result, Status};
use serde::{Deserialize, Serialize};

use crate::error::StepExt;

/// What is persisted about a container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersistedState {
    pub id: String,
    pub pid: i32,
    /// The init's start time in clock ticks since boot (field 22 of `/proc/<pid>/stat`), so
    /// that a reused pid is never mistaken for the container.
    pub pid_start_time: u64,
    pub status: Status,
    pub created: String,
    pub cgroup_path: String,
    pub rootfs: String,
    #[serde(default)]
    pub exit_status: Option<ExitStatus>,
    /// The `CLONE_NEW*` flags an exec joins.
    #[serde(default)]
    pub exec_namespaces: i32,
}

/// A container's state directory.
#[derive(Debug)]
pub struct StateDir {
    path: PathBuf,
}

impl StateDir {
    /// The directory of an existing container, found when recovering.
    pub fn existing(path: PathBuf) -> StateDir {
        StateDir { path }
    }

    /// Reads the state file.
    pub fn load(&self) -> std::result::Result<PersistedState, String> {
        let path = self.path.join("state.json");
        let text = fs::read_to_string(&path).map_err(|err| format!("{}: {err}", path.display()))?;
        serde_json::from_str(&text).map_err(|err| format!("{}: {err}", path.display()))
    }

    /// Creates `<root>/<id>`; `AlreadyExists` when another driver on the same root has it.
    pub fn create(root: &Path, id: &str) -> Result<StateDir> {
        let path = root.join(id);
        match fs::create_dir(&path) {
            Ok(()) => Ok(StateDir { path }),
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
                Err(runtime_core::Error::AlreadyExists { id: id.to_string() })
            }
            Err(err) => Err(err).step(|| format!("create state dir {}", path.display())),
        }
    }

    /// Writes the state atomically.
    pub fn save(&self, state: &PersistedState) -> Result<()> {
        let json = runtime_core::json::to_json(state)?;
        let temp = self.path.join("state.json.tmp");
        let target = self.path.join("state.json");
        fs::write(&temp, json).step(|| format!("write {}", temp.display()))?;
        fs::rename(&temp, &target).step(|| format!("rename {} into place", temp.display()))
    }

    /// Removes the directory and what is in it.
    pub fn remove(&self) -> Result<()> {
        match fs::remove_dir_all(&self.path) {
            Err(err) if err.kind() != std::io::ErrorKind::NotFound => {
                Err(err).step(|| format!("remove state dir {}", self.path.display()))
            }
            _ => Ok(()),
        }
    }
}

/// The start time of `pid` in clock ticks since boot, or 0 if it cannot be read.
pub fn process_start_time(pid: i32) -> u64 {
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    stat.rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().nth(19))
        .and_then(|field| field.parse().ok())
        .unwrap_or(0)
}
