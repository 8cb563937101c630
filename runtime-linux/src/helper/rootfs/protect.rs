//! After `pivot_root`: the checks that berth's mounts are where they must be, the sysctls,
//! the masks and read-only paths, and the read-only rootfs, all through the fds in
//! [`Mounted`].
//!
//! A masked or read-only path under `/proc` or `/sys` is resolved beneath berth's own procfs
//! or sysfs, through no symlink and onto no other mount. Where the kernel has no such entry
//! it is skipped (several of Docker's defaults do not exist on every kernel); where the path
//! leaves berth's mount, it is an error, never a silent skip.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use runtime_core::{Command, Error, Result};

use super::resolve::{components, is_under, same_place, Base, Kind, Lookup};
use super::standard::{attach, new_filesystem};
use super::Mounted;
use crate::error::StepExt;
use crate::sys::mount_api::{self, MountAttrs};

impl Mounted {
    /// Checks that the container's `/proc` is the procfs berth mounted, and its `/sys` the
    /// sysfs, where masks or read-only paths are to go under it: a mount over either would
    /// leave them on a mount nobody sees.
    pub(super) fn check_in_place(&self, command: &Command) -> Result<()> {
        let protected = protected_paths(command);
        let sys_needed = protected.iter().any(|path| is_under(path, "/sys"));
        let root = Base {
            fd: self.root.as_fd(),
            lookup: Lookup::Strict { cross_mounts: true },
            shown: "the container",
        };
        for (name, held, needed) in [("proc", &self.proc, true), ("sys", &self.sys, sys_needed)] {
            if !needed {
                continue;
            }
            let seen = root
                .open(name, OFlag::O_PATH | OFlag::O_DIRECTORY)
                .step(|| format!("open /{name} of the container"))?;
            if !same_place(seen.as_fd(), held.as_fd()).step(|| format!("stat /{name}"))? {
                return Err(Error::invalid(
                    "mounts",
                    format!("a mount covers /{name}, where berth's masks and read-only paths go"),
                ));
            }
        }
        Ok(())
    }

    /// Writes a namespaced kernel parameter through berth's procfs.
    pub fn write_sysctl(&self, key: &str, value: &str) -> Result<()> {
        let path = format!("sys/{}", key.replace('.', "/"));
        let fd = self
            .proc_base()
            .open(&path, OFlag::O_WRONLY)
            .step(|| format!("open /proc/{path} to set sysctl {key}"))?;
        nix::unistd::write(&fd, value.as_bytes())
            .step(|| format!("set sysctl {key} (/proc/{path})"))
            .map(drop)
    }

    /// Masks, read-only paths, and the read-only rootfs. A path under one already masked or
    /// made read-only is covered by it.
    pub fn protect(&self, command: &Command) -> Result<()> {
        let mut covered: Vec<String> = Vec::new();
        for path in command.effective_masked_paths() {
            if covered.iter().any(|done| is_under(&path, done)) {
                continue;
            }
            if let Some(target) = self.resolve_protected(&path, "masked_paths")? {
                self.mask(&path, target.as_fd())?;
                covered.push(path);
            }
        }
        for path in command.effective_readonly_paths() {
            if covered.iter().any(|done| is_under(&path, done)) {
                continue;
            }
            if let Some(target) = self.resolve_protected(&path, "readonly_paths")? {
                make_readonly(&path, target.as_fd())?;
                covered.push(path);
            }
        }
        if command.readonly_rootfs {
            // Only the rootfs's own top: what came along was made read-only when it was
            // attached, and berth's mounts and the user's keep their own flags.
            mount_api::set_attrs(
                self.root.as_fd(),
                MountAttrs::set(libc::MOUNT_ATTR_RDONLY),
                false,
            )
            .step(|| "make the rootfs read-only")?;
        }
        Ok(())
    }

    fn proc_base(&self) -> Base<'_> {
        Base {
            fd: self.proc.as_fd(),
            lookup: Lookup::Strict {
                cross_mounts: false,
            },
            shown: "berth's /proc",
        }
    }

    /// The target of a masked or read-only `path` (`field` names the list), or `None` where
    /// there is nothing to protect.
    fn resolve_protected(&self, path: &str, field: &str) -> Result<Option<OwnedFd>> {
        let parts = components(path);
        let (base, rest) = match parts.first() {
            Some(&"proc") => (self.proc_base(), &parts[1..]),
            Some(&"sys") => (
                Base {
                    fd: self.sys.as_fd(),
                    lookup: Lookup::Strict {
                        cross_mounts: false,
                    },
                    shown: "berth's /sys",
                },
                &parts[1..],
            ),
            _ => (
                Base {
                    fd: self.root.as_fd(),
                    lookup: Lookup::InRoot,
                    shown: "the container",
                },
                &parts[..],
            ),
        };
        match base.find(&rest.join("/")) {
            Ok(fd) => Ok(Some(fd)),
            // The kernel (or the image) has no such entry.
            Err(Errno::ENOENT | Errno::ENOTDIR) => Ok(None),
            Err(errno @ (Errno::ELOOP | Errno::EXDEV)) => Err(Error::invalid(
                field,
                format!(
                    "{path} leaves {} through {} ({errno})",
                    base.shown,
                    if errno == Errno::ELOOP {
                        "a symlink"
                    } else {
                        "another mount"
                    }
                ),
            )),
            Err(errno) => Err(errno).step(|| base.describe("resolve", path)),
        }
    }

    /// Covers `target` so that nothing under it can be read: the container's `/dev/null`
    /// over a file, an empty read-only tmpfs over a directory.
    fn mask(&self, path: &str, target: BorrowedFd<'_>) -> Result<()> {
        let cover = match Kind::of(target).step(|| format!("stat masked path {path}"))? {
            Kind::Directory => new_filesystem(
                "tmpfs",
                "tmpfs",
                &[("mode", Some("0555")), ("size", Some("4k"))],
                libc::MOUNT_ATTR_RDONLY
                    | libc::MOUNT_ATTR_NOSUID
                    | libc::MOUNT_ATTR_NODEV
                    | libc::MOUNT_ATTR_NOEXEC,
                path,
            )?,
            Kind::File => mount_api::clone_tree(self.null.as_fd(), "", false)
                .step(|| format!("copy /dev/null to mask {path}"))?,
        };
        attach(cover.as_fd(), target, &format!("the mask of {path}"))
    }
}

/// Binds `target` onto itself read-only, recursively.
fn make_readonly(path: &str, target: BorrowedFd<'_>) -> Result<()> {
    let tree = mount_api::clone_tree(target, "", true)
        .step(|| format!("copy {path} to make it read-only (open_tree)"))?;
    mount_api::set_attrs(tree.as_fd(), MountAttrs::set(libc::MOUNT_ATTR_RDONLY), true)
        .step(|| format!("make {path} read-only, recursively"))?;
    attach(
        tree.as_fd(),
        target,
        &format!("the read-only copy of {path}"),
    )
}

/// Every masked and read-only path of the command.
fn protected_paths(command: &Command) -> Vec<String> {
    let mut paths = command.effective_masked_paths();
    paths.extend(command.effective_readonly_paths());
    paths
}
