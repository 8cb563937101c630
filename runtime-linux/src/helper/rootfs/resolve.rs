//! How a path inside the container is turned into a file descriptor. Every lookup is one
//! `openat2` relative to an fd berth holds, under one of two rules:
//!
//! - [`Lookup::InRoot`] for what the user names (mount destinations, device nodes outside
//!   `/dev`, masks outside `/proc` and `/sys`): the image's symlinks are followed, but never
//!   out of the root (`RESOLVE_IN_ROOT`), and no magic link (`/proc/self/fd/N`) is.
//! - [`Lookup::Strict`] for what berth owns (its `/dev` tmpfs, its procfs and sysfs): no
//!   symlink at all, nothing above the fd (`RESOLVE_BENEATH`), and no other mount on the way
//!   unless asked (`RESOLVE_NO_XDEV`).
//!
//! The fd is what gets mounted on, so a path is never looked up a second time.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use nix::errno::Errno;
use nix::fcntl::{openat2, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{fstat, mkdirat, mknodat, Mode, SFlag};
use runtime_core::Result;

use crate::error::StepExt;

/// What a missing entry is created as.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Directory,
    File,
}

impl Kind {
    /// What the entry behind `fd` is (anything but a directory counts as a file: a mount
    /// of a file goes onto any non-directory).
    pub fn of(fd: BorrowedFd<'_>) -> nix::Result<Kind> {
        let mode = fstat(fd)?.st_mode;
        Ok(
            if SFlag::from_bits_truncate(mode & SFlag::S_IFMT.bits()) == SFlag::S_IFDIR {
                Kind::Directory
            } else {
                Kind::File
            },
        )
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Directory => "directory",
            Kind::File => "file",
        }
    }
}

/// The two ways of looking a path up.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Lookup {
    /// Symlinks followed, scoped to the root.
    InRoot,
    /// No symlinks, nothing above the base; `cross_mounts` allows stepping onto mounts that
    /// berth put there itself.
    Strict { cross_mounts: bool },
}

impl Lookup {
    fn flags(self) -> ResolveFlag {
        match self {
            Lookup::InRoot => ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS,
            Lookup::Strict { cross_mounts } => {
                let mut flags = ResolveFlag::RESOLVE_BENEATH
                    | ResolveFlag::RESOLVE_NO_SYMLINKS
                    | ResolveFlag::RESOLVE_NO_MAGICLINKS;
                if !cross_mounts {
                    flags |= ResolveFlag::RESOLVE_NO_XDEV;
                }
                flags
            }
        }
    }
}

/// A directory berth holds, and how paths below it are looked up.
pub struct Base<'a> {
    pub fd: BorrowedFd<'a>,
    pub lookup: Lookup,
    /// How the base is named in messages: `/abs/rootfs`, `/dev in the container`.
    pub shown: &'a str,
}

impl Base<'_> {
    /// Opens `path` (relative to the base; leading `/` ignored) with `flags`. A strict lookup
    /// fails with `ELOOP` on any symlink, the last component's too.
    pub fn open(&self, path: &str, flags: OFlag) -> nix::Result<OwnedFd> {
        let relative = match path.trim_start_matches('/') {
            "" => ".",
            relative => relative,
        };
        let how = OpenHow::new()
            .flags(flags | OFlag::O_CLOEXEC)
            .resolve(self.lookup.flags());
        loop {
            match openat2(self.fd, relative, how) {
                // openat2 asks for a retry when a rename raced with the lookup.
                Err(Errno::EAGAIN) => continue,
                other => return other,
            }
        }
    }

    /// An `O_PATH` fd of `path`.
    pub fn find(&self, path: &str) -> nix::Result<OwnedFd> {
        self.open(path, OFlag::O_PATH)
    }

    /// An `O_PATH` fd of `path`, creating what is missing: directories on the way, and the
    /// last component as `last`. An entry that exists is returned as it is: the caller checks
    /// its kind.
    pub fn find_or_create(&self, path: &str, last: Kind) -> Result<OwnedFd> {
        match self.find(path) {
            Err(Errno::ENOENT) => {}
            other => return other.step(|| self.describe("resolve", path)),
        }
        let components: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
        let mut parent = self.find("").step(|| self.describe("open", "/"))?;
        for (i, name) in components.iter().enumerate() {
            let prefix = format!("/{}", components[..=i].join("/"));
            match self.find(&prefix) {
                Ok(fd) => {
                    parent = fd;
                    continue;
                }
                Err(Errno::ENOENT) => {}
                Err(errno) => return Err(errno).step(|| self.describe("resolve", &prefix)),
            }
            let kind = if i + 1 == components.len() {
                last
            } else {
                Kind::Directory
            };
            match create(parent.as_fd(), name, kind) {
                Ok(()) | Err(Errno::EEXIST) => {}
                Err(errno) => return Err(errno).step(|| self.describe("create", &prefix)),
            }
            parent = self
                .find(&prefix)
                .step(|| self.describe("resolve", &prefix))?;
        }
        Ok(parent)
    }

    pub fn describe(&self, verb: &str, path: &str) -> String {
        format!("{verb} {path} in {}", self.shown)
    }
}

/// Creates `name` in `dir` as an empty directory (0755) or an empty file (0644).
pub fn create(dir: BorrowedFd<'_>, name: &str, kind: Kind) -> nix::Result<()> {
    match kind {
        Kind::Directory => mkdirat(dir, name, Mode::from_bits_truncate(0o755)),
        Kind::File => mknodat(
            dir,
            name,
            SFlag::S_IFREG,
            Mode::from_bits_truncate(0o644),
            0,
        ),
    }
}

/// Whether two fds name the same directory (or file) on the same mount: same device and
/// inode, and the same mount id where the kernel tells it (Linux 5.8).
pub fn same_place(a: BorrowedFd<'_>, b: BorrowedFd<'_>) -> nix::Result<bool> {
    let (sa, sb) = (fstat(a)?, fstat(b)?);
    if (sa.st_dev, sa.st_ino) != (sb.st_dev, sb.st_ino) {
        return Ok(false);
    }
    Ok(
        match (
            crate::sys::mount_api::mount_id(a)?,
            crate::sys::mount_api::mount_id(b)?,
        ) {
            (Some(x), Some(y)) => x == y,
            _ => true,
        },
    )
}

/// Which of `tops` (directories) `target` is at or beneath, if any, by the kernel's own
/// paths of the fds (`/proc/self/fd/N`, read before `pivot_root`, where `/proc` is the
/// host's procfs). A check only: nothing is ever mounted by these paths.
pub fn beneath_which(
    target: BorrowedFd<'_>,
    tops: &[BorrowedFd<'_>],
) -> nix::Result<Option<usize>> {
    let path = kernel_path(target)?;
    for (i, top) in tops.iter().enumerate() {
        let top = kernel_path(*top)?;
        if path == top || path.starts_with(&format!("{top}/")) {
            return Ok(Some(i));
        }
    }
    Ok(None)
}

fn kernel_path(fd: BorrowedFd<'_>) -> nix::Result<String> {
    use std::os::fd::AsRawFd;
    let link = nix::fcntl::readlink(format!("/proc/self/fd/{}", fd.as_raw_fd()).as_str())?;
    Ok(link.to_string_lossy().into_owned())
}

/// The components of an absolute path, without empty ones and `.`.
pub fn components(path: &str) -> Vec<&str> {
    path.split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect()
}

/// Whether `path` is `top` or below it, by its components (a path with `..` never is).
pub fn is_under(path: &str, top: &str) -> bool {
    let path = components(path);
    let top = components(top);
    !path.contains(&"..") && path.len() >= top.len() && path[..top.len()] == top[..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_under_a_top_by_components() {
        assert!(is_under("/proc/sys", "/proc"));
        assert!(is_under("/proc", "/proc"));
        assert!(is_under("//proc/./sys/", "/proc"));
        assert!(!is_under("/procfs", "/proc"));
        assert!(!is_under("/proc/../etc", "/proc"));
        assert!(is_under("/anything", "/"));
    }
}
