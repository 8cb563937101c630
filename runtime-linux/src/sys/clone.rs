//! `clone3` with `CLONE_PARENT | CLONE_PIDFD`: the helper creates the container's init as a
//! sibling of itself, so that the host is the init's real parent and can reap it.

use std::marker::PhantomData;
use std::os::fd::{FromRawFd, OwnedFd};

use nix::errno::Errno;

/// Which side of a [`clone_sibling`] this is.
pub enum Cloned {
    /// In the new process.
    Child,
    /// In the caller: the new process's pid (in the caller's pid namespace) and a pidfd.
    Parent { pid: i32, pidfd: OwnedFd },
}

/// The promise that this process has one thread and starts no other: what makes a
/// [`clone_sibling`] sound. Not `Send`, so it stays on the thread it was made on.
pub struct SingleThreaded(PhantomData<*const ()>);

impl SingleThreaded {
    /// Makes the promise.
    ///
    /// # Safety
    /// The process must have exactly one thread (the caller's), and none may start while the
    /// value lives. berth makes it only at the start of the `berth-init` helper, which never
    /// starts a thread.
    pub unsafe fn promise() -> SingleThreaded {
        SingleThreaded(PhantomData)
    }
}

/// Creates a process that is a child of the caller's parent, in new namespaces for every
/// `CLONE_NEW*` bit of `namespace_flags`, like `fork` otherwise.
///
/// The kernel requires `exit_signal` to be 0 with `CLONE_PARENT`: the child inherits the
/// caller's own exit signal, which `posix_spawn` set to `SIGCHLD`.
///
/// As for `fork`, only the calling thread lives on in the child, with a copy of the address
/// space: in a many-threaded process a lock another thread held would stay locked there
/// forever. The [`SingleThreaded`] argument is the proof that there is no other thread.
pub fn clone_sibling(single: &SingleThreaded, namespace_flags: u64) -> nix::Result<Cloned> {
    clone3(single, namespace_flags | libc::CLONE_PARENT as u64)
}

/// A plain `fork` of the caller: for berth's init, whose child is the container's program.
/// `None` in the child, the child's pid in the caller. The child's exit signal is SIGCHLD.
///
/// It is `clone(2)`, not `clone3`: the init may be under the container's seccomp filter
/// already, and Docker's default profile answers `clone3` with ENOSYS (so that a libc falls
/// back to `clone`).
pub fn fork(_: &SingleThreaded) -> nix::Result<Option<i32>> {
    // SAFETY: clone with only SIGCHLD and no new stack (0) is fork: the child continues on a
    // copy of our stack and address space, and no pointer is passed. The `SingleThreaded`
    // promises that no other thread's state (a held lock, a half-done allocation) is copied
    // along with it.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_clone,
            libc::SIGCHLD as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        )
    };
    match rc {
        -1 => Err(Errno::last()),
        0 => Ok(None),
        pid => Ok(Some(pid as i32)),
    }
}

/// `clone3` with `flags | CLONE_PIDFD`, continuing on a copy of the caller's stack.
fn clone3(_: &SingleThreaded, flags: u64) -> nix::Result<Cloned> {
    let mut pidfd: libc::c_int = -1;
    // SAFETY: clone_args is plain data (integers only); zero is "unset" for every field we do
    // not fill.
    let mut args: libc::clone_args = unsafe { std::mem::zeroed() };
    args.flags = flags | libc::CLONE_PIDFD as u64;
    args.pidfd = &mut pidfd as *mut libc::c_int as u64;
    // SAFETY: `args` is a valid clone_args of the size given, and `pidfd`, which the kernel
    // writes, outlives the call. With no stack given the child continues on a copy of our
    // stack, as with fork; the `SingleThreaded` promises that no other thread's state (a held lock, a
    // half-done allocation) is copied along with it.
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
            // SAFETY: with CLONE_PIDFD a successful clone3 stored a new pidfd, which nothing
            // else owns, in `pidfd`.
            pidfd: unsafe { OwnedFd::from_raw_fd(pidfd) },
        }),
    }
}
