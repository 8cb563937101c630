//! The host's procfs, opened by the helper before it joins any namespace.
//!
//! Once the helper has joined another container's mount namespace, `/proc` is that
//! container's procfs, whose numbers belong to another pid namespace: `/proc/<pid>` there
//! names some other process, or nothing. And a pid alone may have been reused. So the
//! helper reaches a process only through the host's procfs, and only after checking that the
//! number still belongs to the process's pidfd.

use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};

use nix::errno::Errno;
use nix::fcntl::{openat, OFlag};
use nix::sys::stat::Mode;
use runtime_core::{Error, Result};

use crate::error::{os_error, StepExt};

/// An fd of the host's `/proc`.
pub struct HostProc(OwnedFd);

/// An fd of `/proc/<pid>` of one process, checked against its pidfd: whatever is opened
/// through it belongs to that process (or fails once it is gone).
pub struct ProcessDir {
    fd: OwnedFd,
    pid: i32,
}

impl HostProc {
    /// Opens `/proc` as the helper sees it before any `setns`: the host's.
    pub fn open() -> Result<HostProc> {
        let fd = nix::fcntl::open(
            "/proc",
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .step(|| "open the host's /proc")?;
        let kind = nix::sys::statfs::fstatfs(&fd)
            .step(|| "statfs the host's /proc")?
            .filesystem_type();
        if kind != nix::sys::statfs::PROC_SUPER_MAGIC {
            return Err(Error::Internal("the host's /proc is not a procfs".into()));
        }
        Ok(HostProc(fd))
    }

    /// `/proc/<pid>` of the process behind `pidfd`. Opened first and checked after: if the
    /// pidfd's process still has the number `pid` now, it had it when the directory was
    /// opened, since a number is not reused while its process lives.
    pub fn process(&self, pid: i32, pidfd: BorrowedFd<'_>) -> Result<ProcessDir> {
        let fd = openat(
            &self.0,
            pid.to_string().as_str(),
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .step(|| format!("open /proc/{pid} of the host"))?;
        let fdinfo = format!("{}/fdinfo/{}", nix::unistd::getpid(), pidfd.as_raw_fd());
        let info = read_at(&self.0, &fdinfo)?;
        let holder = info
            .lines()
            .find_map(|line| line.strip_prefix("Pid:"))
            .and_then(|n| n.trim().parse::<i32>().ok());
        if holder != Some(pid) {
            return Err(os_error(
                format!(
                    "check that pid {pid} is still the process of its pidfd (it is {holder:?})"
                ),
                Errno::ESRCH,
            ));
        }
        Ok(ProcessDir { fd, pid })
    }
}

impl HostProc {
    /// Writes the calling process's own `/proc/self/oom_score_adj`, before any `setns`:
    /// with the host's privileges, which lowering it needs (`CAP_SYS_RESOURCE` in the
    /// initial user namespace), and inherited by the process the helper clones.
    pub fn set_own_oom_score_adj(&self, value: i32) -> Result<()> {
        let step = || format!("write {value} to /proc/self/oom_score_adj");
        let fd = openat(
            &self.0,
            "self/oom_score_adj",
            OFlag::O_WRONLY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .step(step)?;
        nix::unistd::write(&fd, value.to_string().as_bytes()).step(step)?;
        Ok(())
    }
}

impl ProcessDir {
    /// Opens `name` (`ns/net`, `uid_map`) of the process.
    pub fn open(&self, name: &str, flags: OFlag) -> Result<OwnedFd> {
        openat(&self.fd, name, flags | OFlag::O_CLOEXEC, Mode::empty())
            .step(|| format!("open /proc/{}/{name}", self.pid))
    }

    /// Reads `name` of the process.
    pub fn read(&self, name: &str) -> Result<String> {
        read_at(&self.fd, name)
            .map_err(|_| os_error(format!("read /proc/{}/{name}", self.pid), Errno::EIO))
    }

    /// Writes `text` to `name` of the process, in one write (as id maps must be).
    pub fn write(&self, name: &str, text: &str) -> Result<()> {
        let fd = self.open(name, OFlag::O_WRONLY)?;
        let written = nix::unistd::write(&fd, text.as_bytes())
            .step(|| format!("write /proc/{}/{name}", self.pid))?;
        if written != text.len() {
            return Err(os_error(
                format!("write /proc/{}/{name} in one go", self.pid),
                Errno::EIO,
            ));
        }
        Ok(())
    }
}

fn read_at(dir: &OwnedFd, name: &str) -> Result<String> {
    let fd = openat(dir, name, OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty())
        .step(|| format!("open /proc/{name}"))?;
    let mut text = String::new();
    std::io::Read::read_to_string(&mut std::fs::File::from(fd), &mut text)
        .step(|| format!("read /proc/{name}"))?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    fn sleeper() -> std::process::Child {
        std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("spawn sleep")
    }

    #[test]
    fn a_pid_is_trusted_only_while_it_belongs_to_the_pidfd() {
        let proc = HostProc::open().unwrap();
        let mut target = sleeper();
        let mut other = sleeper();
        let pid = target.id() as i32;
        let pidfd = crate::sys::pidfd::open(pid).unwrap();
        // The pidfd's own process: its namespaces can be opened through the directory.
        let dir = proc.process(pid, pidfd.as_fd()).unwrap();
        dir.open("ns/net", OFlag::O_RDONLY).unwrap();
        // Another process's number, as after a reuse: refused.
        let err = proc
            .process(other.id() as i32, pidfd.as_fd())
            .err()
            .expect("another process's pid was taken for the pidfd's");
        assert!(
            err.to_string().contains("still the process of its pidfd"),
            "{err}"
        );
        // Gone and reaped: the number is free for anyone, and refused.
        target.kill().unwrap();
        target.wait().unwrap();
        assert!(proc.process(pid, pidfd.as_fd()).is_err());
        // A directory opened while it lived names it still, and nothing else.
        assert!(dir.open("ns/net", OFlag::O_RDONLY).is_err());
        other.kill().unwrap();
        other.wait().unwrap();
    }
}
