//! Spawning the helper: `posix_spawn`, so that the host runs no code of ours between fork and
//! exec (glibc's posix_spawn uses `clone(CLONE_VM|CLONE_VFORK)` and runs only its own
//! async-signal-safe file actions in the child).

use std::ffi::CStr;
use std::os::fd::RawFd;
use std::ptr;

use nix::errno::Errno;
use nix::unistd::Pid;

/// What to execute.
#[derive(Clone, Copy)]
pub enum Program<'a> {
    /// A file by its path.
    Path(&'a CStr),
    /// An open executable image (a sealed memfd): it becomes the child's fd 4 for the exec,
    /// through `/proc/self/fd/4`, and the child closes it.
    Image(RawFd),
}

/// Where an [`Program::Image`] is executed from in the child.
const IMAGE_PATH: &CStr = c"/proc/self/fd/4";

/// Spawns `program` with an empty environment and `argv = [program]`, with `stdio` as its fds
/// 0, 1 and 2 and `channel` as its fd 3. No other fd of the host reaches it, and its signal
/// mask and dispositions are reset to the defaults whatever the host had.
///
/// Every fd passed must be 5 or above, so that no `dup2` clobbers the source of a later one.
pub fn spawn_with_fds(program: Program<'_>, stdio: [RawFd; 3], channel: RawFd) -> nix::Result<Pid> {
    let image = match program {
        Program::Image(fd) => Some(fd),
        Program::Path(_) => None,
    };
    if stdio
        .iter()
        .chain([&channel])
        .chain(image.as_ref())
        .any(|&fd| fd < 5)
    {
        return Err(Errno::EINVAL);
    }
    let mut actions = FileActions::new()?;
    for (target, &source) in stdio.iter().enumerate() {
        actions.dup2(source, target as RawFd)?;
    }
    actions.dup2(channel, 3)?;
    let path = match program {
        Program::Path(path) => {
            actions.close_from(4)?;
            path
        }
        Program::Image(fd) => {
            actions.dup2(fd, 4)?;
            actions.close_from(5)?;
            IMAGE_PATH
        }
    };
    let program = path;
    let attributes = Attributes::new_with_default_signals(0)?;

    // ps shows the helper by name whether it runs from a path or from an image.
    let argv = [c"berth-init".as_ptr() as *mut libc::c_char, ptr::null_mut()];
    let envp = [ptr::null_mut::<libc::c_char>()];
    let mut pid: libc::pid_t = 0;
    // SAFETY: every pointer is valid for the call: `pid` is writable, `program` is
    // NUL-terminated, argv and envp are NULL-terminated arrays of NUL-terminated strings that
    // outlive the call (posix_spawn copies them before it returns), and the actions and
    // attributes were initialised by their constructors. The fds named in the actions are
    // only numbers to the child: one that is not open fails the spawn, it cannot touch ours.
    let rc = unsafe {
        libc::posix_spawn(
            &mut pid,
            program.as_ptr(),
            &actions.0,
            &attributes.0,
            argv.as_ptr(),
            envp.as_ptr(),
        )
    };
    if rc != 0 {
        return Err(Errno::from_raw(rc));
    }
    Ok(Pid::from_raw(pid))
}

/// Spawns the tool at `path` with `argv` (its first element the name shown) and `env`, with
/// `stdio` as its fds 0, 1 and 2 and no other fd of the host, default signals, and in a
/// process group of its own (LXC's tools signal their whole group on some paths). Every fd
/// of `stdio` must be 3 or above.
pub fn spawn_tool(
    path: &CStr,
    argv: &[std::ffi::CString],
    env: &[std::ffi::CString],
    stdio: [RawFd; 3],
) -> nix::Result<Pid> {
    if stdio.iter().any(|&fd| fd < 3) || argv.is_empty() {
        return Err(Errno::EINVAL);
    }
    let mut actions = FileActions::new()?;
    for (target, &source) in stdio.iter().enumerate() {
        actions.dup2(source, target as RawFd)?;
    }
    actions.close_from(3)?;
    let attributes = Attributes::new_with_default_signals(libc::POSIX_SPAWN_SETPGROUP)?;
    let argv: Vec<*mut libc::c_char> = argv
        .iter()
        .map(|arg| arg.as_ptr() as *mut libc::c_char)
        .chain([ptr::null_mut()])
        .collect();
    let envp: Vec<*mut libc::c_char> = env
        .iter()
        .map(|var| var.as_ptr() as *mut libc::c_char)
        .chain([ptr::null_mut()])
        .collect();
    let mut pid: libc::pid_t = 0;
    // SAFETY: as in `spawn_with_fds`: `pid` is writable, `path` is NUL-terminated, argv and
    // envp are NULL-terminated arrays of pointers into CStrings that outlive the call, and the
    // actions and attributes were initialised by their constructors.
    let rc = unsafe {
        libc::posix_spawn(
            &mut pid,
            path.as_ptr(),
            &actions.0,
            &attributes.0,
            argv.as_ptr(),
            envp.as_ptr(),
        )
    };
    check(rc).map(|()| Pid::from_raw(pid))
}

struct FileActions(libc::posix_spawn_file_actions_t);

impl FileActions {
    fn new() -> nix::Result<Self> {
        // SAFETY: posix_spawn_file_actions_t is plain data (counters and a heap pointer), for
        // which all-zero is a valid value; init overwrites it anyway.
        let mut raw = unsafe { std::mem::zeroed() };
        // SAFETY: `raw` is a writable posix_spawn_file_actions_t. Moving it into `FileActions`
        // afterwards is fine: glibc's holds no pointer into itself, only to its heap array.
        Errno::result(unsafe { libc::posix_spawn_file_actions_init(&mut raw) })
            .map_err(|_| Errno::ENOMEM)?;
        Ok(FileActions(raw))
    }

    fn dup2(&mut self, fd: RawFd, target: RawFd) -> nix::Result<()> {
        // SAFETY: self.0 was initialised by posix_spawn_file_actions_init (the only way to
        // make a FileActions) and not yet destroyed; the call only appends to its array.
        check(unsafe { libc::posix_spawn_file_actions_adddup2(&mut self.0, fd, target) })
    }

    fn close_from(&mut self, lowest: RawFd) -> nix::Result<()> {
        // SAFETY: as in `dup2`.
        check(unsafe { libc::posix_spawn_file_actions_addclosefrom_np(&mut self.0, lowest) })
    }
}

impl Drop for FileActions {
    fn drop(&mut self) {
        // SAFETY: self.0 was initialised (a FileActions exists only after a successful init)
        // and is destroyed here, once, with nothing using it afterwards.
        unsafe { libc::posix_spawn_file_actions_destroy(&mut self.0) };
    }
}

struct Attributes(libc::posix_spawnattr_t);

impl Attributes {
    /// Empty signal mask, and every signal at its default disposition: a host that blocks or
    /// ignores signals (Go ignores none, but C daemons often ignore SIGPIPE) must not pass that
    /// on to containers.
    /// `extra_flags` are more `POSIX_SPAWN_*` flags (with a process group of 0 set, as
    /// `POSIX_SPAWN_SETPGROUP` needs).
    fn new_with_default_signals(extra_flags: libc::c_int) -> nix::Result<Self> {
        // SAFETY: posix_spawnattr_t is plain data (flags, signal sets, integers), for which
        // all-zero is a valid value; init overwrites it anyway.
        let mut raw = unsafe { std::mem::zeroed() };
        // SAFETY: `raw` is a writable posix_spawnattr_t; it holds no pointer, so it may be
        // moved into `Attributes` afterwards.
        check(unsafe { libc::posix_spawnattr_init(&mut raw) })?;
        let mut attributes = Attributes(raw);
        // SAFETY: sigset_t is a plain bit array, for which all-zero is a valid value (the
        // empty set); sigemptyset and sigfillset below set it properly.
        let (mut empty, mut all) = unsafe { (std::mem::zeroed(), std::mem::zeroed()) };
        // SAFETY: the two sets are writable locals, and the attributes were initialised above
        // and not destroyed; the setters copy the sets, so their lifetime does not matter.
        unsafe {
            libc::sigemptyset(&mut empty);
            libc::sigfillset(&mut all);
            check(libc::posix_spawnattr_setsigmask(&mut attributes.0, &empty))?;
            check(libc::posix_spawnattr_setsigdefault(&mut attributes.0, &all))?;
            check(libc::posix_spawnattr_setpgroup(&mut attributes.0, 0))?;
            check(libc::posix_spawnattr_setflags(
                &mut attributes.0,
                (libc::POSIX_SPAWN_SETSIGMASK | libc::POSIX_SPAWN_SETSIGDEF | extra_flags)
                    as libc::c_short,
            ))?;
        }
        Ok(attributes)
    }
}

impl Drop for Attributes {
    fn drop(&mut self) {
        // SAFETY: self.0 was initialised (an Attributes exists only after a successful init)
        // and is destroyed here, once, with nothing using it afterwards.
        unsafe { libc::posix_spawnattr_destroy(&mut self.0) };
    }
}

fn check(rc: libc::c_int) -> nix::Result<()> {
    if rc == 0 {
        Ok(())
    } else {
        Err(Errno::from_raw(rc))
    }
}
