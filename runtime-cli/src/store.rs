//! The CLI's state root (`--root`, default `/run/berth-oci`): one directory per container,
//!
//! ```text
//! <root>/<id>/lock            flock(2)ed by every invocation on the container, for its whole run
//! <root>/<id>/container.json  what the CLI knows that the library does not (`Meta`)
//! <root>/<id>/driver/         the library's root for this one container (`driver/<id>/state.json`)
//! ```
//!
//! A library root per container is what keeps one invocation to one container: a driver
//! opened on it recovers this container and can never see, kill or clean up another.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::ErrorKind;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};
use runtime_core::{Command, ProcessConfig};
use serde::{Deserialize, Serialize};

use crate::error::{CliError, CliResult, Step};
use crate::hooks::HookSpec;

/// The root a CLI keeps its containers under when `--root` is not given: its own, never the
/// library's `/run/berth`, so that a daemon's driver and the CLI never share containers.
pub const DEFAULT_ROOT: &str = "/run/berth-oci";

/// What the CLI records about a container at `create`, for the invocations after it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Meta {
    pub id: String,
    /// The bundle, absolute.
    pub bundle: PathBuf,
    /// The rootfs, absolute.
    pub rootfs: String,
    pub created: String,
    pub annotations: std::collections::BTreeMap<String, String>,
    /// The hooks that run after `create`: startContainer, poststart, poststop.
    pub start_container: Vec<HookSpec>,
    pub poststart: Vec<HookSpec>,
    pub poststop: Vec<HookSpec>,
    /// The init's process, the template of an `exec` given by flags (as runc takes the
    /// config's process for one).
    pub process: ProcessConfig,
}

impl Meta {
    pub fn new(command: &Command, bundle: &Path, created: String) -> Meta {
        Meta {
            id: command.id.clone(),
            bundle: bundle.to_path_buf(),
            rootfs: command.rootfs.clone(),
            created,
            annotations: Default::default(),
            start_container: Vec::new(),
            poststart: Vec::new(),
            poststop: Vec::new(),
            process: command.process.clone(),
        }
    }
}

/// The state root.
pub struct Root {
    path: PathBuf,
}

impl Root {
    /// The root at `path`, made (mode 0700) if missing.
    pub fn open(path: &Path) -> CliResult<Root> {
        if !path.is_absolute() {
            return Err(CliError::new(format!(
                "--root {}: give an absolute path",
                path.display()
            )));
        }
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(path)
            .step(|| format!("create the state root {}", path.display()))?;
        Ok(Root {
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Makes the directory of a new container and locks it. Another container with the id
    /// (or a `create` of it that runs now) is an error.
    pub fn create(&self, id: &str) -> CliResult<Locked> {
        let dir = self.path.join(id);
        match DirBuilder::new().mode(0o711).create(&dir) {
            Ok(()) => {}
            Err(err) if err.kind() == ErrorKind::AlreadyExists => {
                return Err(CliError::new(format!("container with id exists: {id}")))
            }
            Err(err) => {
                return Err(CliError::new(format!(
                    "create the state directory {}: {err}",
                    dir.display()
                )))
            }
        }
        Locked::take(id, dir).inspect_err(|_| {
            let _ = fs::remove_dir_all(self.path.join(id));
        })
    }

    /// Opens and locks an existing container's directory, waiting for an invocation that
    /// holds it to finish.
    pub fn open_container(&self, id: &str) -> CliResult<Locked> {
        let dir = self.path.join(id);
        if !dir.join("lock").exists() {
            return Err(not_exist(id));
        }
        Locked::take(id, dir)
    }

    /// The ids of the containers under the root, sorted.
    pub fn ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = fs::read_dir(&self.path)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|entry| entry.path().join("container.json").is_file())
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .collect();
        ids.sort();
        ids
    }

    /// What is recorded about `id`, read without the lock (for `list`).
    pub fn peek_meta(&self, id: &str) -> CliResult<Meta> {
        read_meta(&self.path.join(id))
    }
}

pub fn not_exist(id: &str) -> CliError {
    CliError::new(format!("container {id} does not exist"))
}

/// A container's directory, locked for this invocation (until drop).
pub struct Locked {
    pub id: String,
    dir: PathBuf,
    _lock: Flock<File>,
}

impl Locked {
    fn take(id: &str, dir: PathBuf) -> CliResult<Locked> {
        let path = dir.join("lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .step(|| format!("open the lock {}", path.display()))?;
        let lock = Flock::lock(file, FlockArg::LockExclusive)
            .map_err(|(_, errno)| CliError::new(format!("lock {}: {errno}", path.display())))?;
        // A `delete` that held the lock before us removed the directory: the file we hold is
        // no longer the one at the path.
        let held = lock.metadata().map(|m| (m.dev(), m.ino())).ok();
        let current = fs::metadata(&path).map(|m| (m.dev(), m.ino())).ok();
        if held.is_none() || held != current {
            return Err(not_exist(id));
        }
        Ok(Locked {
            id: id.to_string(),
            dir,
            _lock: lock,
        })
    }

    /// The library's root for this container.
    pub fn driver_root(&self) -> PathBuf {
        self.dir.join("driver")
    }

    pub fn meta(&self) -> CliResult<Meta> {
        read_meta(&self.dir).map_err(|_| not_exist(&self.id))
    }

    /// Writes `container.json` atomically.
    pub fn save_meta(&self, meta: &Meta) -> CliResult<()> {
        let temp = self.dir.join("container.json.tmp");
        let json = serde_json::to_vec_pretty(meta).step(|| "encode container.json".to_string())?;
        fs::write(&temp, json).step(|| format!("write {}", temp.display()))?;
        fs::rename(&temp, self.dir.join("container.json"))
            .step(|| format!("rename {} into place", temp.display()))
    }

    /// Removes the container's directory (the lock goes with it; holders after us see it
    /// gone).
    pub fn remove(self) -> CliResult<()> {
        match fs::remove_dir_all(&self.dir) {
            Err(err) if err.kind() != ErrorKind::NotFound => Err(CliError::new(format!(
                "remove {}: {err}",
                self.dir.display()
            ))),
            _ => Ok(()),
        }
    }
}

fn read_meta(dir: &Path) -> CliResult<Meta> {
    let path = dir.join("container.json");
    let text = fs::read_to_string(&path).step(|| format!("read {}", path.display()))?;
    serde_json::from_str(&text).step(|| format!("parse {}", path.display()))
}
