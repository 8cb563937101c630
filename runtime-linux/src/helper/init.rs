//! The container's init: from the clone to the `execve` of the user's program.
//!
//! It runs in the container's new namespaces as a copy of the single-threaded helper. Order
//! matters and follows what a container user expects: rootfs and mounts, `pivot_root`, the
//! kernel settings that need the container's `/proc`, then identity, and last the wait for
//! the go and the exec. The go comes from the host or, once the host has let the container
//! go (or died), from a later driver through the container's start socket.

use std::collections::VecDeque;
use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::process::exit;

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::stat::{umask, Mode};
use runtime_core::{NamespaceKind, ProcessConfig, Result};

use super::identity::{Prepared, Program};
use super::pid1::{BuiltIn, StartSaidBy};
use super::report_failure;
use super::rootfs::{self, IdmappedTrees, Mounted};
use super::terminal::Terminal;
use crate::channel::{Channel, Listener};
use crate::error::StepExt;
use crate::protocol::{CreatePlan, ExecPlan, HookProgramPlan, Report, Request};
use crate::sys;
use crate::sys::clone::SingleThreaded;

/// Builds the container, reports ready, waits for start (from the host, or from a later
/// driver through the start socket's `listener`) and execs. Never returns.
/// `idmapped` holds the idmapped trees (rootfs, bind sources) to use instead of plain binds.
/// `builtin`: berth's own init ([`super::pid1`]) stays pid 1, with the program as its child.
pub fn run(
    channel: Channel,
    single: &SingleThreaded,
    listener: Listener,
    plan: &CreatePlan,
    idmapped: IdmappedTrees,
    extra: Vec<OwnedFd>,
    builtin: Option<BuiltIn>,
) -> ! {
    let ready = set_up(plan, idmapped);
    let then = match builtin {
        Some(builtin) => Then::Supervise(single, builtin),
        None => Then::Exec,
    };
    go_when_told(channel, Some(listener), ready, extra, then)
}

/// What the process does once started: exec the program, or fork it under berth's init.
enum Then<'a> {
    Exec,
    Supervise(&'a SingleThreaded, BuiltIn),
}

/// A process ready to exec, and the master of its terminal if it has one.
type Ready = (Prepared, Option<OwnedFd>);

/// With `tty`, a terminal from the container's devpts becomes the process's stdio and
/// controlling terminal; its master goes to the host. An init that built its rootfs opens
/// it through berth's `/dev` and binds it onto `/dev/console`.
fn terminal_for(process: &ProcessConfig, mounted: Option<&Mounted>) -> Result<Option<OwnedFd>> {
    if !process.tty {
        return Ok(None);
    }
    let ptmx = match mounted {
        Some(mounted) => mounted.open_ptmx()?,
        None => Terminal::open_ptmx()?,
    };
    let terminal = Terminal::new(ptmx, process.console_size)?;
    if let Some(mounted) = mounted {
        mounted.bind_console(terminal.slave())?;
    }
    let master = terminal
        .master
        .try_clone()
        .step(|| "dup the terminal master")?;
    terminal.attach()?;
    Ok(Some(master))
}

/// The exec'd process, already inside the container's namespaces and cgroups: it takes on
/// its identity and execs like the init does. Never returns.
/// `groups_locked`: the container's user namespace denies `setgroups`. `extra`: the
/// program's fds 3, 4, ..., already at those numbers. A hook's (`plan.hook`) program is
/// `program` when the host opened it.
pub fn run_exec(
    channel: Channel,
    plan: &ExecPlan,
    groups_locked: bool,
    extra: Vec<OwnedFd>,
    program: Option<OwnedFd>,
) -> ! {
    let prepared = match (&plan.hook, program) {
        (None, _) => Prepared::new(&plan.process, &plan.confinement, groups_locked),
        (Some(HookProgramPlan::Attached { script }), Some(fd)) => Prepared::hook(
            &plan.process,
            Program::Fd {
                fd,
                script: *script,
            },
            &plan.confinement,
            groups_locked,
        ),
        (Some(HookProgramPlan::Path(path)), _) => CString::new(path.as_str())
            .map_err(|_| runtime_core::Error::invalid("hook.program", "contains NUL"))
            .and_then(|path| {
                Prepared::hook(
                    &plan.process,
                    Program::Path(path),
                    &plan.confinement,
                    groups_locked,
                )
            }),
        (Some(HookProgramPlan::Attached { .. }), None) => Err(runtime_core::Error::Internal(
            "no fd for the hook's program".into(),
        )),
    };
    let prepared = prepared.and_then(|prepared| match &plan.session_keyring {
        Some(id) => join_session_keyring(id).map(|()| prepared),
        None => Ok(prepared),
    });
    let prepared = prepared.and_then(|prepared| {
        let console = terminal_for(&plan.process, None)?;
        prepared.become_user()?;
        sys::fds::cloexec_from(3).step(|| "mark inherited fds close-on-exec")?;
        Ok((prepared, console))
    });
    go_when_told(channel, None, prepared, extra, Then::Exec)
}

/// Reports ready (or the failure) on the host's channel, waits for start and execs (or forks
/// the program under berth's init, as `then` says). An init with a start socket's `listener`
/// outlives the host's channel: see [`wait_for_start`]. `extra` are the program's fds 3, 4,
/// ... (see `helper::make_room`), the only ones above 2 that are not close-on-exec when it
/// runs.
fn go_when_told(
    channel: Channel,
    listener: Option<Listener>,
    prepared: Result<Ready>,
    extra: Vec<OwnedFd>,
    then: Then<'_>,
) -> ! {
    let (prepared, console) = match prepared {
        Ok(prepared) => prepared,
        Err(error) => {
            report_failure(&channel, &error);
            exit(1)
        }
    };
    let attached: Vec<_> = console.iter().map(AsFd::as_fd).collect();
    // A host that is gone before the init is ready has no state naming it: nobody could
    // start it, so it ends here.
    if channel.send(&Report::Ready, &attached).is_err() {
        exit(1);
    }
    // The master belongs to the host now; the container must not hold it.
    drop(console);
    let caller = match wait_for_start(&channel, listener, None) {
        None => exit(1),
        Some(StartedBy::Host) => None,
        Some(StartedBy::Caller(caller)) => Some(caller),
    };
    let said_by = match caller {
        None => StartSaidBy::Creator,
        Some(_) => StartSaidBy::LaterDriver,
    };
    // Who said start hears how the exec went; the other channel (if any) closes here.
    let report_to = match caller {
        Some(caller) => {
            drop(channel);
            caller
        }
        None => channel,
    };
    match then {
        Then::Supervise(single, builtin) => {
            super::pid1::run(single, builtin, said_by, prepared, extra, report_to)
        }
        Then::Exec => {
            let error = match release_extra(&extra) {
                Ok(()) => prepared.exec(),
                Err(error) => error,
            };
            report_failure(&report_to, &error);
            exit(127)
        }
    }
}

/// Clears close-on-exec on the program's extra fds, which everything else above 2 keeps:
/// the last step before the exec (and the seccomp filter, which may forbid `fcntl`).
pub(crate) fn release_extra(extra: &[OwnedFd]) -> Result<()> {
    for fd in extra {
        nix::fcntl::fcntl(
            fd,
            nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty()),
        )
        .step(|| format!("keep fd {} open across the exec", fd.as_raw_fd()))?;
    }
    Ok(())
}

/// Waits as the init does for start, from `host` or through the start socket's `listener`,
/// until `abort` is readable: for berth's LXC start hook, which lets LXC's init go. Whether
/// start came.
pub(crate) fn wait_for_start_until(
    host: &Channel,
    listener: Listener,
    abort: std::os::fd::BorrowedFd<'_>,
) -> bool {
    wait_for_start(host, Some(listener), Some(abort)).is_some()
}

/// Who said start, on whose channel the exec's outcome goes back: the host that created the
/// container, or a later driver connected to the start socket.
enum StartedBy {
    Host,
    Caller(Channel),
}

/// Connections to the start socket held at once, waiting for their first message; one more
/// drops the oldest.
const MAX_CALLERS: usize = 8;

/// Waits for [`Request::Start`] on the host's channel and, with a `listener`, on every
/// connection to the start socket. A channel that ends or says anything else is dropped: the
/// host's end-of-file (the driver let the container go, or died) leaves the listener, and a
/// caller that sends garbage leaves the init waiting as before. `None` when nothing is left
/// to wait on. Everything here is close-on-exec, and the listener and the other callers are
/// closed before this returns: the program gets none of it. `None` too once `abort` (a
/// pidfd, say) is readable.
fn wait_for_start(
    host: &Channel,
    mut listener: Option<Listener>,
    mut abort: Option<std::os::fd::BorrowedFd<'_>>,
) -> Option<StartedBy> {
    let mut host = Some(host);
    let mut callers: VecDeque<Channel> = VecDeque::new();
    loop {
        if listener.is_none() && callers.is_empty() && abort.is_none() {
            // The host's channel alone, as for an exec: a plain blocking read.
            return host
                .filter(|host| says_start(host))
                .map(|_| StartedBy::Host);
        }
        let mut fds: Vec<PollFd<'_>> = host
            .iter()
            .map(|channel| channel.as_fd())
            .chain(listener.iter().map(AsFd::as_fd))
            .chain(callers.iter().map(AsFd::as_fd))
            .chain(abort)
            .map(|fd| PollFd::new(fd, PollFlags::POLLIN))
            .collect();
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) => {}
            Err(Errno::EINTR) => continue,
            // poll denied (a custom seccomp profile in force without no_new_privileges): the
            // host's channel alone.
            Err(_) => {
                drop(fds);
                (listener, callers, abort) = (None, VecDeque::new(), None);
                continue;
            }
        }
        let mut ready: VecDeque<bool> = fds
            .iter()
            .map(|fd| fd.revents().is_some_and(|events| !events.is_empty()))
            .collect();
        drop(fds);
        if abort.is_some() && ready.pop_back() == Some(true) {
            return None;
        }
        if let Some(channel) = host {
            if ready.pop_front() == Some(true) {
                if says_start(channel) {
                    return Some(StartedBy::Host);
                }
                host = None;
            }
        }
        let listener_ready = listener.is_some() && ready.pop_front() == Some(true);
        // Back to front, so that removing one leaves the indices of the others.
        for index in (0..callers.len()).rev() {
            if ready[index] {
                let caller = callers.remove(index).expect("a caller at the index");
                if says_start(&caller) {
                    return Some(StartedBy::Caller(caller));
                }
            }
        }
        if let Some(socket) = listener.as_ref().filter(|_| listener_ready) {
            match socket.accept() {
                Ok(Some(caller)) => {
                    if callers.len() == MAX_CALLERS {
                        callers.pop_front();
                    }
                    callers.push_back(caller);
                }
                Ok(None) => {}
                // Out of fds (a tight RLIMIT_NOFILE) or memory: listening on would spin.
                Err(_) => listener = None,
            }
        }
    }
}

/// Reads one message: whether it is [`Request::Start`]. Anything else, end-of-file or an
/// error is a no.
fn says_start(channel: &Channel) -> bool {
    matches!(channel.recv::<Request>(), Ok(Some((Request::Start, _))))
}

fn set_up(plan: &CreatePlan, idmapped: IdmappedTrees) -> Result<Ready> {
    let command = &plan.command;
    // Modes of the nodes and directories made here must be exactly the ones asked for.
    umask(Mode::empty());
    let mounted = if command.namespaces.is_new(NamespaceKind::Mount) {
        Some(rootfs::build(command, &plan.devices, idmapped)?)
    } else {
        None
    };
    if command.namespaces.is_new(NamespaceKind::Uts) {
        nix::unistd::sethostname(command.effective_hostname())
            .step(|| format!("set hostname {:?}", command.effective_hostname()))?;
    }
    if let Some(domainname) = &command.domainname {
        // The UTS namespace's own value (validated: a private one), as setdomainname sets it.
        match &mounted {
            Some(mounted) => mounted.write_sysctl("kernel.domainname", domainname)?,
            None => std::fs::write("/proc/sys/kernel/domainname", domainname)
                .step(|| format!("set the domain name {domainname:?}"))?,
        }
    }
    if command.namespaces.is_new(NamespaceKind::Net) {
        sys::net::loopback_up().step(|| "bring up lo")?;
    }
    for (key, value) in &command.sysctls {
        match &mounted {
            Some(mounted) => mounted.write_sysctl(key, value)?,
            // A mount namespace of the host or another container: its own /proc.
            None => {
                let path = format!("/proc/sys/{}", key.replace('.', "/"));
                std::fs::write(&path, value).step(|| format!("set sysctl {key} ({path})"))?;
            }
        }
    }
    if !command.share_session_keyring {
        join_session_keyring(&command.id)?;
    }
    if let Some(mounted) = &mounted {
        mounted.protect(command)?;
        mounted.finish_propagation(command)?;
    }
    if let Some(personality) = &command.personality {
        set_personality(&personality.domain)?;
    }
    let (_, gids) = command.effective_id_mappings();
    let groups_locked = command.namespaces.is_new(NamespaceKind::User) && gids.is_empty();
    let prepared = Prepared::new(&command.process, &plan.confinement, groups_locked)?;
    let console = terminal_for(&command.process, mounted.as_ref())?;
    // berth's fds of the container's mounts are not the program's.
    drop(mounted);
    prepared.become_user()?;
    sys::fds::cloexec_from(3).step(|| "mark inherited fds close-on-exec")?;
    Ok((prepared, console))
}

/// A new session keyring for the container's processes, `_ses.<id>`, so that none of the
/// host's session keys are theirs (a kernel without keyrings has nothing to share).
pub(crate) fn join_session_keyring(id: &str) -> Result<()> {
    sys::keyring::join_new_session(&format!("_ses.{id}"))
        .map(drop)
        .step(|| "join a new session keyring")
}

/// `personality(2)` with the domain (validated: `LINUX` or `LINUX32`), keeping the flags the
/// process has; the exec keeps it.
fn set_personality(domain: &str) -> Result<()> {
    use nix::sys::personality::{self, Persona};
    const PER_MASK: i32 = 0xff;
    const PER_LINUX32: i32 = 0x0008;
    let current = personality::get().step(|| "read the personality")?;
    let value = match domain {
        "LINUX32" => PER_LINUX32,
        _ => 0,
    };
    let persona = Persona::from_bits_retain((current.bits() & !PER_MASK) | value);
    personality::set(persona)
        .map(drop)
        .step(|| format!("set the personality {domain}"))
}
