//! Each container's state on disk, under the driver's root: `<root>/<id>/state.json`, written
//! atomically (temp file, then rename) so that a crash never leaves half a file. A new driver
//! on the same root reads them back to take its containers over.

use std::fs;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::status::{ExitStatus, Status};

/// What is persisted about a container: the lifecycle's fields, and the platform's (`X`) in
/// the same JSON object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Saved<X> {
    pub id: String,
    /// Host pid of the init.
    pub pid: i32,
    pub status: Status,
    pub created: String,
    pub rootfs: String,
    #[serde(default)]
    pub exit_status: Option<ExitStatus>,
    /// What the platform needs to take the container back.
    #[serde(flatten)]
    pub platform: X,
}

impl<X> Saved<X> {
    /// The exit status recorded, or [`ExitStatus::unknown`]: for a platform's
    /// [`crate::lifecycle::Adopted::Ended`] when it knows nothing better.
    pub fn recorded_exit(&self) -> ExitStatus {
        self.exit_status.unwrap_or_else(ExitStatus::unknown)
    }
}

/// The state file's name in a container's state directory.
const STATE_FILE: &str = "state.json";

/// How a state file's new version is put in the place of the old one, atomically (a reader
/// sees the old file or the new): [`std::fs::rename`], or a platform's better way
/// ([`crate::lifecycle::Platform::replace_file`]).
pub type ReplaceFile = fn(&Path, &Path) -> std::io::Result<()>;

/// The driver's state root.
#[derive(Debug)]
pub struct StateRoot {
    path: PathBuf,
    replace: ReplaceFile,
}

impl StateRoot {
    /// Creates the root if it is missing. It must be absolute. Its state files are replaced
    /// with `replace`.
    pub fn open(path: PathBuf, replace: ReplaceFile) -> Result<StateRoot> {
        if !path.is_absolute() {
            return Err(Error::invalid(
                "root",
                format!("{} is relative; give an absolute path", path.display()),
            ));
        }
        fs::create_dir_all(&path)
            .map_err(|err| Error::io(format!("create state root {}", path.display()), &err))?;
        Ok(StateRoot { path, replace })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Creates `<root>/<id>`, claimed for the create until its state is first saved (see
    /// [`CreateClaim`]); `AlreadyExists` when another driver on the same root has it.
    pub fn create(&self, id: &str) -> Result<(StateFile, CreateClaim)> {
        let dir = self.path.join(id);
        match fs::create_dir(&dir) {
            Ok(()) => {}
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(Error::AlreadyExists { id: id.to_string() })
            }
            Err(err) => {
                return Err(Error::io(
                    format!("create state dir {}", dir.display()),
                    &err,
                ))
            }
        }
        let file = StateFile {
            dir,
            replace: self.replace,
        };
        match CreateClaim::take(&file.dir) {
            Ok(Some(claim)) => Ok((file, claim)),
            // A recovering driver found the directory without a state file and took it for
            // an abandoned create between our mkdir and this: it removes the directory.
            Ok(None) => Err(Error::AlreadyExists { id: id.to_string() }),
            Err(err) => {
                let _ = file.remove();
                Err(Error::io(
                    format!("lock state dir {}", file.dir.display()),
                    &err,
                ))
            }
        }
    }

    /// The state directories found under the root, by name.
    pub fn entries(&self) -> Vec<(String, StateFile)> {
        let Ok(entries) = fs::read_dir(&self.path) else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter(|entry| entry.path().is_dir())
            .map(|entry| {
                let name = entry.file_name().to_string_lossy().into_owned();
                let file = StateFile {
                    dir: entry.path(),
                    replace: self.replace,
                };
                (name, file)
            })
            .collect()
    }
}

/// One container's state directory and its `state.json`.
#[derive(Debug)]
pub struct StateFile {
    dir: PathBuf,
    replace: ReplaceFile,
}

impl StateFile {
    /// The container's state directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether the state file exists: a directory without one is a create under way, or one
    /// whose driver died before its first save.
    pub fn has_state(&self) -> bool {
        self.dir.join(STATE_FILE).exists()
    }

    /// The claim on a directory without a state file whose creator is gone (its
    /// [`CreateClaim`] went with it), for cleaning it up; `None` while a create holds it or
    /// once it has a state file.
    pub fn claim_abandoned(&self) -> Option<CreateClaim> {
        let claim = CreateClaim::take(&self.dir).ok().flatten()?;
        // Saved just before the creator let go: not abandoned.
        (!self.has_state()).then_some(claim)
    }

    /// Reads the state file.
    pub fn load<T: DeserializeOwned>(&self) -> std::result::Result<T, String> {
        let path = self.dir.join(STATE_FILE);
        let text = fs::read_to_string(&path).map_err(|err| format!("{}: {err}", path.display()))?;
        serde_json::from_str(&text).map_err(|err| format!("{}: {err}", path.display()))
    }

    /// Writes the state atomically.
    pub fn save<T: Serialize>(&self, state: &T) -> Result<()> {
        let json = crate::json::to_json(state)?;
        let temp = self.dir.join("state.json.tmp");
        let target = self.dir.join(STATE_FILE);
        fs::write(&temp, json)
            .map_err(|err| Error::io(format!("write {}", temp.display()), &err))?;
        (self.replace)(&temp, &target)
            .map_err(|err| Error::io(format!("rename {} into place", temp.display()), &err))
    }

    /// Removes the directory and what is in it.
    pub fn remove(&self) -> Result<()> {
        match fs::remove_dir_all(&self.dir) {
            Err(err) if err.kind() != std::io::ErrorKind::NotFound => Err(Error::io(
                format!("remove state dir {}", self.dir.display()),
                &err,
            )),
            _ => Ok(()),
        }
    }
}

/// An exclusive lock (`flock` on Linux, `LockFileEx` on Windows) on the file `claim` in a
/// container's state directory, held by the driver that creates the container from just after
/// the directory's creation until its state is first saved. A recovering driver that finds a
/// directory without a state file takes it for abandoned (its creator died mid-create, and its
/// lock went with it) only if it can take the lock itself, so a create under way in another
/// driver on the same root is never cleaned up; a creator that finds the lock taken (a
/// recovering driver came between its mkdir and its lock) gives up.
#[derive(Debug)]
pub struct CreateClaim {
    /// The claim file's open handle, whose close releases the lock.
    _held: fs::File,
}

/// The claim's file in a state directory. A file, not the directory itself: Windows opens
/// no directory as a `File`.
const CLAIM_FILE: &str = "claim";

impl CreateClaim {
    /// The lock on `dir`'s claim file (made if missing), or `None` if someone holds it.
    fn take(dir: &Path) -> std::io::Result<Option<CreateClaim>> {
        let handle = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(dir.join(CLAIM_FILE))?;
        match handle.try_lock() {
            Ok(()) => Ok(Some(CreateClaim { _held: handle })),
            Err(fs::TryLockError::WouldBlock) => Ok(None),
            Err(fs::TryLockError::Error(err)) => Err(err),
        }
    }
}
