//! File access to cgroupfs, with every error naming the step and the path.
//!
//! All access goes through [`Backend`] so that unit tests can run the create, freeze and kill
//! logic against a simulated kernel (`fake.rs`) instead of a host that has the right layout.

use std::fmt;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use nix::errno::Errno;
use runtime_core::Result;

use crate::error::{io_error, StepExt};

/// The OS operations the cgroup code needs.
pub(crate) trait Backend: Send + Sync + fmt::Debug {
    fn read(&self, path: &Path) -> io::Result<String>;
    /// Writes `value` in one `write(2)`: cgroupfs takes each write as one whole value.
    fn write(&self, path: &Path, value: &str) -> io::Result<()>;
    fn mkdir(&self, path: &Path) -> io::Result<()>;
    fn rmdir(&self, path: &Path) -> io::Result<()>;
    fn exists(&self, path: &Path) -> bool;
    /// The child cgroups of `path`.
    fn subdirs(&self, path: &Path) -> io::Result<Vec<PathBuf>>;
    fn kill(&self, pid: i32, signal: i32) -> io::Result<()>;
}

/// The real kernel.
#[derive(Debug)]
pub(crate) struct RealBackend;

impl Backend for RealBackend {
    fn read(&self, path: &Path) -> io::Result<String> {
        std::fs::read_to_string(path)
    }

    fn write(&self, path: &Path, value: &str) -> io::Result<()> {
        // No O_CREAT: a missing interface file means a missing controller or feature, and
        // ENOENT says so where O_CREAT would give a misleading EPERM.
        let mut file = std::fs::OpenOptions::new().write(true).open(path)?;
        loop {
            match file.write(value.as_bytes()) {
                Ok(n) if n == value.len() => return Ok(()),
                Ok(_) => return Err(io::Error::from_raw_os_error(libc::EIO)),
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(err),
            }
        }
    }

    fn mkdir(&self, path: &Path) -> io::Result<()> {
        std::fs::create_dir(path)
    }

    fn rmdir(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_dir(path)
    }

    fn exists(&self, path: &Path) -> bool {
        path.exists()
    }

    fn subdirs(&self, path: &Path) -> io::Result<Vec<PathBuf>> {
        let mut dirs = Vec::new();
        for entry in std::fs::read_dir(path)? {
            let entry = entry?;
            if entry.file_type()?.is_dir() {
                dirs.push(entry.path());
            }
        }
        Ok(dirs)
    }

    fn kill(&self, pid: i32, signal: i32) -> io::Result<()> {
        let signal = nix::sys::signal::Signal::try_from(signal)
            .map_err(|errno| io::Error::from_raw_os_error(errno as i32))?;
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), signal)
            .map_err(|errno| io::Error::from_raw_os_error(errno as i32))
    }
}

/// A [`Backend`] with berth's errors.
#[derive(Debug, Clone)]
pub(crate) struct CgFs {
    backend: Arc<dyn Backend>,
}

impl CgFs {
    pub fn new(backend: Arc<dyn Backend>) -> Self {
        CgFs { backend }
    }

    pub fn real() -> Self {
        CgFs::new(Arc::new(RealBackend))
    }

    pub fn read(&self, path: &Path) -> Result<String> {
        self.backend
            .read(path)
            .step(|| format!("read {}", path.display()))
    }

    /// `None` if the file does not exist: the controller or kernel feature behind it is absent.
    pub fn read_opt(&self, path: &Path) -> Result<Option<String>> {
        match self.backend.read(path) {
            Ok(text) => Ok(Some(text)),
            Err(err) if is_enoent(&err) => Ok(None),
            Err(err) => Err(io_error(format!("read {}", path.display()), &err)),
        }
    }

    pub fn write(&self, path: &Path, value: &str) -> Result<()> {
        self.backend
            .write(path, value)
            .step(|| format!("write {} to {}", value.trim_end(), path.display()))
    }

    /// The raw result, for callers that fall back on a particular errno.
    pub fn try_write(&self, path: &Path, value: &str) -> io::Result<()> {
        self.backend.write(path, value)
    }

    pub fn try_mkdir(&self, path: &Path) -> io::Result<()> {
        self.backend.mkdir(path)
    }

    pub fn try_rmdir(&self, path: &Path) -> io::Result<()> {
        self.backend.rmdir(path)
    }

    pub fn exists(&self, path: &Path) -> bool {
        self.backend.exists(path)
    }

    /// Child cgroups; none if `path` is gone.
    pub fn subdirs(&self, path: &Path) -> Result<Vec<PathBuf>> {
        match self.backend.subdirs(path) {
            Ok(dirs) => Ok(dirs),
            Err(err) if is_enoent(&err) => Ok(Vec::new()),
            Err(err) => Err(io_error(format!("list {}", path.display()), &err)),
        }
    }

    /// Sends `signal` to `pid`; a process that is already gone is fine.
    pub fn kill(&self, pid: i32, signal: i32, cgroup: &Path) -> Result<()> {
        match self.backend.kill(pid, signal) {
            Ok(()) => Ok(()),
            Err(err) if err.raw_os_error() == Some(libc::ESRCH) => Ok(()),
            Err(err) => Err(io_error(
                format!(
                    "send signal {signal} to pid {pid} of cgroup {}",
                    cgroup.display()
                ),
                &err,
            )),
        }
    }

    /// The pids in `dir/cgroup.procs`; none if the cgroup is gone.
    pub fn procs(&self, dir: &Path) -> Result<Vec<i32>> {
        let path = dir.join("cgroup.procs");
        let Some(text) = self.read_opt(&path)? else {
            return Ok(Vec::new());
        };
        text.split_whitespace()
            .map(|word| {
                word.parse::<i32>().map_err(|_| {
                    runtime_core::Error::Internal(format!(
                        "{}: {word:?} is not a pid",
                        path.display()
                    ))
                })
            })
            .collect()
    }
}

pub(crate) fn is_enoent(err: &io::Error) -> bool {
    err.raw_os_error() == Some(libc::ENOENT)
}

pub(crate) fn errno_of(err: &io::Error) -> Errno {
    Errno::from_raw(err.raw_os_error().unwrap_or(libc::EIO))
}
