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

/// The driver's state root.
#[derive(Debug)]
pub struct StateRoot {
    path: PathBuf,
}

impl StateRoot {
    /// Creates the root if it is missing. It must be absolute.
    pub fn open(path: PathBuf) -> Result<StateRoot> {
        if !path.is_absolute() {
            return Err(Error::invalid(
                "root",
                format!("{} is relative; give an absolute path", path.display()),
            ));
        }
        fs::create_dir_all(&path)
            .map_err(|err| Error::io(format!("create state root {}", path.display()), &err))?;
        Ok(StateRoot { path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Creates `<root>/<id>`; `AlreadyExists` when another driver on the same root has it.
    pub fn create(&self, id: &str) -> Result<StateFile> {
        let dir = self.path.join(id);
        match fs::create_dir(&dir) {
            Ok(()) => Ok(StateFile { dir }),
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
                Err(Error::AlreadyExists { id: id.to_string() })
            }
            Err(err) => Err(Error::io(
                format!("create state dir {}", dir.display()),
                &err,
            )),
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
                (name, StateFile { dir: entry.path() })
            })
            .collect()
    }
}

/// One container's state directory and its `state.json`.
#[derive(Debug)]
pub struct StateFile {
    dir: PathBuf,
}

impl StateFile {
    /// The container's state directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Reads the state file.
    pub fn load<T: DeserializeOwned>(&self) -> std::result::Result<T, String> {
        let path = self.dir.join("state.json");
        let text = fs::read_to_string(&path).map_err(|err| format!("{}: {err}", path.display()))?;
        serde_json::from_str(&text).map_err(|err| format!("{}: {err}", path.display()))
    }

    /// Writes the state atomically.
    pub fn save<T: Serialize>(&self, state: &T) -> Result<()> {
        let json = crate::json::to_json(state)?;
        let temp = self.dir.join("state.json.tmp");
        let target = self.dir.join("state.json");
        fs::write(&temp, json)
            .map_err(|err| Error::io(format!("write {}", temp.display()), &err))?;
        replace(&temp, &target)
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

/// Puts `temp` in the place of `target`, atomically: a reader sees the old file or the new.
///
/// On Linux an existing `target` is exchanged with `temp` (`RENAME_EXCHANGE`), then the old
/// one, now at `temp`, is unlinked. A plain rename over an existing file makes ext4 (whose
/// `auto_da_alloc` takes it for an application's replace-by-rename) allocate and start
/// writing the new file's blocks at once, and the unlink of a written file then discards
/// them: on a state root on ext4 (`/run` is not always a tmpfs) that was disk I/O on every
/// status change and every delete. A file that is exchanged stays in the page cache until
/// the kernel's own writeback, which a container's state rarely lives to see.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn replace(temp: &Path, target: &Path) -> std::io::Result<()> {
    use nix::errno::Errno;
    use nix::fcntl::{renameat2, RenameFlags, AT_FDCWD};
    match renameat2(
        AT_FDCWD,
        temp,
        AT_FDCWD,
        target,
        RenameFlags::RENAME_EXCHANGE,
    ) {
        Ok(()) => match fs::remove_file(temp) {
            Err(err) if err.kind() != std::io::ErrorKind::NotFound => Err(err),
            _ => Ok(()),
        },
        // No target yet (the first save), or a file system that cannot exchange.
        Err(Errno::ENOENT | Errno::EINVAL | Errno::ENOSYS) => fs::rename(temp, target),
        Err(errno) => Err(std::io::Error::from(errno)),
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn replace(temp: &Path, target: &Path) -> std::io::Result<()> {
    fs::rename(temp, target)
}

#[cfg(test)]
mod replace_tests {
    use super::*;

    #[test]
    fn a_state_file_saved_again_holds_the_last_state_and_nothing_else_is_left() {
        let dir = std::env::temp_dir().join(format!("berth-store-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir(&dir).unwrap();
        let file = StateFile { dir: dir.clone() };
        for n in 0..3 {
            file.save(&serde_json::json!({ "n": n })).unwrap();
            let saved: serde_json::Value = file.load().unwrap();
            assert_eq!(saved["n"], n);
            let mut names: Vec<String> = fs::read_dir(&dir)
                .unwrap()
                .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            assert_eq!(names, ["state.json"], "after save {n}");
        }
        file.remove().unwrap();
        assert!(!dir.exists());
    }
}
