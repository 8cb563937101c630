//! The new mount API, which nix does not wrap: filesystems configured and mounted as file
//! descriptors (`fsopen`, `fsconfig`, `fsmount`), trees cloned (`open_tree`), their flags
//! changed, recursively if need be (`mount_setattr`), and attached onto a target that is itself
//! a file descriptor (`move_mount`).
//!
//! With these, the rootfs is built without looking a path up twice: a target is resolved once
//! into an fd, and the mount goes exactly there. Linux 5.2 for the mount calls, 5.12 for
//! `mount_setattr`.

use std::ffi::{CStr, CString};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use nix::errno::Errno;

/// Mount flags as `mount_setattr` and `fsmount` take them (`MOUNT_ATTR_*`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MountAttrs {
    /// Attributes to set.
    pub set: u64,
    /// Attributes to clear. For the access-time mode, clear [`libc::MOUNT_ATTR__ATIME`] and
    /// set the one wanted.
    pub clear: u64,
    /// A propagation type (`MS_PRIVATE`, `MS_SHARED`, `MS_SLAVE`, `MS_UNBINDABLE`), or 0.
    pub propagation: u64,
}

impl MountAttrs {
    /// Only these attributes set.
    pub fn set(set: u64) -> MountAttrs {
        MountAttrs {
            set,
            ..MountAttrs::default()
        }
    }
}

/// A filesystem being configured (`fsopen`): options go in one by one, then
/// [`FsContext::mount`] makes a detached mount of it.
pub struct FsContext {
    fd: OwnedFd,
}

impl FsContext {
    /// Starts configuring a new instance of the filesystem type `fstype`.
    pub fn open(fstype: &str) -> nix::Result<FsContext> {
        let fstype = CString::new(fstype).map_err(|_| Errno::EINVAL)?;
        // SAFETY: fsopen reads a NUL-terminated name and returns a new fd or -1.
        let fd = unsafe { libc::syscall(libc::SYS_fsopen, fstype.as_ptr(), libc::FSOPEN_CLOEXEC) };
        Ok(FsContext { fd: owned(fd)? })
    }

    /// Sets a flag option (`newinstance`, `ro`).
    pub fn flag(&self, key: &str) -> nix::Result<()> {
        self.config(libc::FSCONFIG_SET_FLAG, key, None)
    }

    /// Sets an option with a value (`mode` = `755`, `source` = `tmpfs`).
    pub fn string(&self, key: &str, value: &str) -> nix::Result<()> {
        self.config(libc::FSCONFIG_SET_STRING, key, Some(value))
    }

    fn config(&self, command: libc::c_uint, key: &str, value: Option<&str>) -> nix::Result<()> {
        let key = CString::new(key).map_err(|_| Errno::EINVAL)?;
        let value = value
            .map(|v| CString::new(v).map_err(|_| Errno::EINVAL))
            .transpose()?;
        let value_ptr = value.as_ref().map_or(std::ptr::null(), |v| v.as_ptr());
        // SAFETY: fsconfig reads the NUL-terminated key and value (or NULL for a flag), which
        // live for the call.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_fsconfig,
                self.fd.as_raw_fd(),
                command,
                key.as_ptr(),
                value_ptr,
                0,
            )
        };
        Errno::result(rc).map(drop)
    }

    /// Creates the filesystem instance and a detached mount of it with `attrs` set
    /// (`MOUNT_ATTR_*`). The fd names the mount's root; attach it with [`attach_at`].
    pub fn mount(&self, attrs: u64) -> nix::Result<OwnedFd> {
        // SAFETY: FSCONFIG_CMD_CREATE takes no key, value or aux.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_fsconfig,
                self.fd.as_raw_fd(),
                libc::FSCONFIG_CMD_CREATE,
                std::ptr::null::<libc::c_char>(),
                std::ptr::null::<libc::c_void>(),
                0,
            )
        };
        Errno::result(rc)?;
        // SAFETY: fsmount takes the context fd and two flag words, and returns a new fd or -1.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_fsmount,
                self.fd.as_raw_fd(),
                libc::FSMOUNT_CLOEXEC,
                attrs,
            )
        };
        owned(fd)
    }

    /// What the filesystem said about a failure (its `e ...` messages), if anything.
    pub fn messages(&self) -> String {
        let mut said = Vec::new();
        let mut buffer = [0u8; 512];
        // Each read returns one message; ENODATA when there are no more.
        while let Ok(n) = nix::unistd::read(self.fd.as_fd(), &mut buffer) {
            if n == 0 {
                break;
            }
            let text = String::from_utf8_lossy(&buffer[..n]);
            said.push(text.trim_start_matches("e ").trim().to_string());
        }
        said.join("; ")
    }
}

/// A detached copy of the tree at `path` relative to `dir` (or of `dir` itself when `path` is
/// empty): a bind mount not yet attached anywhere. `recursive` takes the submounts along.
/// Symlinks in `path` are followed; callers pass what they resolved themselves.
pub fn clone_tree(dir: BorrowedFd<'_>, path: &str, recursive: bool) -> nix::Result<OwnedFd> {
    let path = CString::new(path).map_err(|_| Errno::EINVAL)?;
    let mut flags = libc::OPEN_TREE_CLONE | libc::OPEN_TREE_CLOEXEC;
    if recursive {
        flags |= libc::AT_RECURSIVE as libc::c_uint;
    }
    if path.is_empty() {
        flags |= libc::AT_EMPTY_PATH as libc::c_uint;
    }
    // SAFETY: open_tree reads a NUL-terminated path and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_open_tree, dir.as_raw_fd(), path.as_ptr(), flags) };
    owned(fd)
}

/// The same for a path of the process's own view (a host path, before `pivot_root`).
pub fn clone_path(path: &str, recursive: bool) -> nix::Result<OwnedFd> {
    // SAFETY: AT_FDCWD is not an fd but the *at calls' name for the working directory: it is
    // never closed, it is not -1 (the one number BorrowedFd may not hold), and the borrow is
    // only passed to such a call.
    let cwd = unsafe { BorrowedFd::borrow_raw(libc::AT_FDCWD) };
    clone_tree(cwd, path, recursive)
}

/// Changes the attributes of the mount `tree` names (and of every mount under it with
/// `recursive`), attached or not.
pub fn set_attrs(tree: BorrowedFd<'_>, attrs: MountAttrs, recursive: bool) -> nix::Result<()> {
    set_attrs_with(tree, attrs, recursive, None)
}

fn set_attrs_with(
    tree: BorrowedFd<'_>,
    attrs: MountAttrs,
    recursive: bool,
    userns: Option<BorrowedFd<'_>>,
) -> nix::Result<()> {
    let attr = libc::mount_attr {
        attr_set: attrs.set,
        attr_clr: attrs.clear,
        propagation: attrs.propagation,
        userns_fd: userns.map_or(0, |fd| fd.as_raw_fd() as u64),
    };
    let mut flags = libc::AT_EMPTY_PATH as libc::c_uint;
    if recursive {
        flags |= libc::AT_RECURSIVE as libc::c_uint;
    }
    // SAFETY: mount_setattr reads a mount_attr of the given size, which lives for the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            tree.as_raw_fd(),
            c"".as_ptr(),
            flags,
            &attr as *const libc::mount_attr,
            std::mem::size_of::<libc::mount_attr>(),
        )
    };
    Errno::result(rc).map(drop)
}

/// Attaches the detached `tree` onto `target`, the fd of a resolved directory or file: the
/// mount lands exactly there, wherever a path to it would lead now.
pub fn attach_at(tree: BorrowedFd<'_>, target: BorrowedFd<'_>) -> nix::Result<()> {
    move_mount(
        tree,
        target,
        c"",
        libc::MOVE_MOUNT_F_EMPTY_PATH | libc::MOVE_MOUNT_T_EMPTY_PATH,
    )
}

/// Attaches the detached `tree` at `target`, a path of the process's own view (a host path).
pub fn attach(tree: BorrowedFd<'_>, target: &str) -> nix::Result<()> {
    let target = CString::new(target).map_err(|_| Errno::EINVAL)?;
    // SAFETY: AT_FDCWD is not an fd but the *at calls' name for the working directory: it is
    // never closed, it is not -1 (the one number BorrowedFd may not hold), and the borrow is
    // only passed to such a call.
    let cwd = unsafe { BorrowedFd::borrow_raw(libc::AT_FDCWD) };
    move_mount(tree, cwd, &target, libc::MOVE_MOUNT_F_EMPTY_PATH)
}

fn move_mount(
    tree: BorrowedFd<'_>,
    to_dir: BorrowedFd<'_>,
    to_path: &CStr,
    flags: libc::c_uint,
) -> nix::Result<()> {
    // SAFETY: move_mount reads two NUL-terminated paths; the source is the tree fd itself.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            tree.as_raw_fd(),
            c"".as_ptr(),
            to_dir.as_raw_fd(),
            to_path.as_ptr(),
            flags,
        )
    };
    Errno::result(rc).map(drop)
}

/// A detached recursive copy of the tree at `path`, whose ids are mapped through the user
/// namespace `userns` (an idmapped mount, Linux 5.12 and a filesystem that allows it).
pub fn idmapped_clone(path: &str, userns: BorrowedFd<'_>) -> nix::Result<OwnedFd> {
    let tree = clone_path(path, true)?;
    set_attrs_with(
        tree.as_fd(),
        MountAttrs::set(libc::MOUNT_ATTR_IDMAP),
        true,
        Some(userns),
    )?;
    Ok(tree)
}

/// A detached copy of the tree at `path` (its submounts too with `recursive`), private, and
/// idmapped through the user namespace `userns`: its top alone, or every mount of it with
/// `idmap_all` (`ridmap`).
pub fn idmapped_bind(
    path: &str,
    recursive: bool,
    idmap_all: bool,
    userns: BorrowedFd<'_>,
) -> nix::Result<OwnedFd> {
    let tree = clone_path(path, recursive)?;
    // A copy of a shared mount would join its peer group: nothing of it may reach the host.
    let private = MountAttrs {
        propagation: libc::MS_PRIVATE,
        ..MountAttrs::default()
    };
    set_attrs(tree.as_fd(), private, true)?;
    set_attrs_with(
        tree.as_fd(),
        MountAttrs::set(libc::MOUNT_ATTR_IDMAP),
        idmap_all,
        Some(userns),
    )?;
    Ok(tree)
}

/// The kernel's id of the mount `fd` is on (`statx`'s `STATX_MNT_ID`, Linux 5.8), or `None`
/// where the kernel does not say.
pub fn mount_id(fd: BorrowedFd<'_>) -> nix::Result<Option<u64>> {
    // SAFETY: an all-zero statx is a valid value of the plain-data struct.
    let mut info: libc::statx = unsafe { std::mem::zeroed() };
    // SAFETY: statx writes at most one statx into `info`, which outlives the call.
    let rc = unsafe {
        libc::statx(
            fd.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH,
            libc::STATX_MNT_ID,
            &mut info,
        )
    };
    Errno::result(rc)?;
    Ok((info.stx_mask & libc::STATX_MNT_ID != 0).then_some(info.stx_mnt_id))
}

/// The result of a system call that returns a new fd (fsopen, fsmount, open_tree): only for
/// those.
fn owned(fd: libc::c_long) -> nix::Result<OwnedFd> {
    if fd < 0 {
        return Err(Errno::last());
    }
    // SAFETY: every caller passes the return value of a call that made a new fd, which
    // nothing else in the process knows of; it is not negative, so it is that fd.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}
