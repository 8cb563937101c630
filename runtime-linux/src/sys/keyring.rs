//! The session keyring: a container's processes get one of their own, as runc gives them,
//! so that no key of the host's session (the daemon's, the shim's, a user's login) is theirs.

use std::ffi::CString;

use nix::errno::Errno;

/// `KEYCTL_JOIN_SESSION_KEYRING` (linux/keyctl.h), which libc does not name.
const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;

/// Makes a new session keyring named `name` this process's session keyring (the kernel's
/// `keyctl(KEYCTL_JOIN_SESSION_KEYRING, name)`). `Ok(false)`: this kernel has no keyrings.
pub fn join_new_session(name: &str) -> nix::Result<bool> {
    let name = CString::new(name).map_err(|_| Errno::EINVAL)?;
    // SAFETY: keyctl with this operation reads one NUL-terminated string, which `name` owns
    // for the call, and takes no other pointer.
    let rc = unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name.as_ptr()) };
    match Errno::result(rc) {
        Ok(_) => Ok(true),
        Err(Errno::ENOSYS) => Ok(false),
        Err(errno) => Err(errno),
    }
}
