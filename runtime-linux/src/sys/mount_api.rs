//! The new mount API calls nix does not wrap: a detached, id-mapped copy of a tree, and
//! attaching it.

use std::ffi::CString;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use nix::errno::Errno;

const OPEN_TREE_CLONE: libc::c_uint = 1;
const AT_RECURSIVE: libc::c_uint = 0x8000;
const MOUNT_ATTR_IDMAP: u64 = 0x0010_0000;
const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x4;

#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// A detached recursive copy of the tree at `path`, whose ids are mapped through the user
/// namespace `userns` (an idmapped mount, Linux 5.12 and a filesystem that allows it).
pub fn idmapped_clone(path: &str, userns: BorrowedFd<'_>) -> nix::Result<OwnedFd> {
    let path = CString::new(path).map_err(|_| Errno::EINVAL)?;
    // SAFETY: open_tree reads a NUL-terminated path and returns a new fd or -1.
    let tree = unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            libc::AT_FDCWD,
            path.as_ptr(),
            OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint | AT_RECURSIVE,
        )
    };
    if tree < 0 {
        return Err(Errno::last());
    }
    // SAFETY: a new fd that nothing else owns.
    let tree = unsafe { OwnedFd::from_raw_fd(tree as i32) };
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_IDMAP,
        attr_clr: 0,
        propagation: 0,
        userns_fd: userns.as_raw_fd() as u64,
    };
    // SAFETY: mount_setattr reads a mount_attr of the given size, on the detached tree.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            tree.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH as libc::c_uint | AT_RECURSIVE,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    Errno::result(rc)?;
    Ok(tree)
}

/// Attaches a detached tree at `target`.
pub fn attach(tree: BorrowedFd<'_>, target: &str) -> nix::Result<()> {
    let target = CString::new(target).map_err(|_| Errno::EINVAL)?;
    // SAFETY: move_mount reads two NUL-terminated paths; the source is the tree fd itself.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            tree.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_FDCWD,
            target.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH,
        )
    };
    Errno::result(rc).map(drop)
}
