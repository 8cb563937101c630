//! `clone3` with `CLONE_PARENT | CLONE_PIDFD`: the helper creates the container's init as a
//! sibling of itself, so that the host is the init's real parent and can reap it.

use std::os::fd::{FromRawFd, OwnedFd};

use nix::errno::Errno;

/// Which side of a [`clone_sibling`] this is.
pub enum Cloned {
    /// In the new process.
    Child,
    /// In the caller: the new process's pid (in the caller's pid namespace) and a pidfd.
    Parent { pid: i32, pidfd: OwnedFd },
}

/// Creates a process that is a child of the caller's parent, in new namespaces for every
/// `CLONE_NEW*` bit of `namespace_flags`, like `fork` otherwise.
///
/// The kernel requires `exit_signal` to be 0 with `CLONE_PARENT`: the child inherits the
/// caller's own exit signal, which `posix_spawn` set to `SIGCHLD`.
///
/// # Safety
/// As for `fork`: the caller must be single-threaded, because the child gets a copy of the
/// address space in which only the calling thread exists. berth calls it only from the
/// `berth-init` helper, which never starts a thread.
pub unsafe fn clone_sibling(namespace_flags: u64) -> nix::Result<Cloned> {
    let mut pidfd: libc::c_int = -1;
    // SAFETY: clone_args is plain data; zero is "unset" for every field we do not fill.
    let mut args: libc::clone_args = unsafe { std::mem::zeroed() };
    args.flags = namespace_flags | libc::CLONE_PARENT as u64 | libc::CLONE_PIDFD as u64;
    args.pidfd = &mut pidfd as *mut libc::c_int as u64;
    // SAFETY: `args` is a valid clone_args of the size given; with no stack given the child
    // continues on a copy of our stack, as with fork. The caller guarantees a single thread.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &mut args as *mut libc::clone_args,
            std::mem::size_of::<libc::clone_args>(),
        )
    };
    match rc {
        -1 => Err(Errno::last()),
        0 => Ok(Cloned::Child),
        pid => Ok(Cloned::Parent {
            pid: pid as i32,
            // SAFETY: the kernel stored a new pidfd that nothing else owns.
            pidfd: unsafe { OwnedFd::from_raw_fd(pidfd) },
        }),
    }
}
