//! `berth-init`: the single-threaded helper the host spawns for every container.
//!
//! Everything here runs in a fresh process that the host spawned with `posix_spawn`, never in
//! the host itself, so it may allocate, read files and change its own namespaces freely.
//!
//! The helper joins the namespaces and cgroups it is given, then clones the container's init
//! (or, for an exec, a process inside the running container) with `CLONE_PARENT`, so that the
//! host is its parent, hands its pidfd to the host and exits. The init (`helper/init.rs`)
//! builds the container and waits for the go: from the host, or from a later driver through
//! the container's start socket.

mod host_proc;
mod identity;
mod init;
pub mod lxc_hook;
mod pid1;
pub(crate) mod rootfs;
mod terminal;
mod userns;

// The passwd and group lookups, so that the benchmark's OCI configs name the same user and
// groups as berth's own init.
pub use identity::{find_group_id, find_passwd, supplementary_groups, Identity, PasswdEntry};

use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::process::exit;

use crate::namespaces::{clone_flag, NamespaceSet};
use runtime_core::{Error, NamespaceKind, ProcessConfig, Result};

use crate::channel::{Channel, Listener};
use crate::error::StepExt;
use crate::protocol::{CreatePlan, ExecPlan, Failure, HookProgramPlan, Report, Request};
use crate::sys;
use crate::sys::clone::SingleThreaded;

/// The fd on which the host passes the channel.
pub const CHANNEL_FD: i32 = 3;

/// The entry point of the `berth-init` executable.
///
/// # Safety
/// Only as the whole `main` of a process that the host spawned for it (`launcher`): fd 3 is
/// that process's end of the channel, which nothing else in it owns, and the process has one
/// thread. The helper itself never starts a thread, which makes its `clone3`s (each a `fork`
/// into new namespaces) sound.
// The caller's promises put to use: the only `unsafe` of the helper.
#[allow(unsafe_code)]
pub unsafe fn main() -> ! {
    // A host may leak fds without close-on-exec; posix_spawn already closed them, and this
    // makes sure even if the helper was started some other way.
    // SAFETY: nothing of this process has opened an fd yet: every one above the channel is
    // a leak from whoever started it, which nothing here owns or will use.
    let _ = unsafe { sys::fds::close_from(CHANNEL_FD as u32 + 1) };
    // Until the program's exec, nothing in the container may ptrace this process or open its
    // /proc files (its exe is the sealed helper, its memory berth's). execve resets it.
    if nix::sys::prctl::set_dumpable(false).is_err() {
        exit(2);
    }
    // SAFETY: the caller promises that fd 3 is the channel and that nothing else owns it. If
    // the helper was started without it, fd 3 is not open (nothing above opened an fd), the
    // first recv fails with EBADF and we say so and exit.
    let channel = Channel::from(unsafe { OwnedFd::from_raw_fd(CHANNEL_FD) });
    // SAFETY: the caller promises one thread, and nothing in the helper starts another (no
    // `std::thread`, no library that does), so the process stays single-threaded until it
    // exits or execs.
    let single = unsafe { SingleThreaded::promise() };
    let code = match channel.recv::<Request>() {
        Ok(Some((Request::Create(plan), fds))) => match make_room(channel, fds, plan.extra_fds) {
            Ok((channel, fds, extra)) => create(channel, &single, &plan, fds, extra),
            Err(code) => code,
        },
        Ok(Some((Request::Exec(plan), fds))) => match make_room(channel, fds, plan.extra_fds) {
            Ok((channel, fds, extra)) => exec(channel, &single, &plan, fds, extra),
            Err(code) => code,
        },
        Ok(Some((Request::Start, _))) => {
            report_failure(&channel, &Error::Internal("start before create".into()));
            1
        }
        Ok(None) => 1,
        Err(errno) => {
            eprintln!(
                "berth-init: libberth starts this program with its channel on fd 3 ({errno})"
            );
            2
        }
    };
    exit(code)
}

/// Gives the program's extra fds (the last `count` of `fds`) the numbers they will have in
/// the program, 3 to 3 + `count` − 1, so that nothing opened later takes them: the channel
/// and the other fds received move above them first, when nothing else is open (`main`
/// closed every fd above the channel, and received only these). They stay close-on-exec
/// until the last moment before the exec ([`init::release_extra`]). With no extra fd,
/// nothing moves. `Err` is the helper's exit code, the failure reported.
fn make_room(
    channel: Channel,
    mut fds: Vec<OwnedFd>,
    count: usize,
) -> std::result::Result<(Channel, Vec<OwnedFd>, Vec<OwnedFd>), i32> {
    if count == 0 {
        return Ok((channel, fds, Vec::new()));
    }
    if count > fds.len() {
        report_failure(
            &channel,
            &Error::Internal(format!("{count} extra fds, {} attached", fds.len())),
        );
        return Err(1);
    }
    let floor = CHANNEL_FD + count as i32;
    let channel = match channel.duplicate_at_least(floor) {
        Ok(moved) => {
            drop(channel);
            moved
        }
        Err(errno) => {
            let error = crate::error::os_error(
                format!("move the helper's channel above the {count} extra fds"),
                errno,
            );
            report_failure(&channel, &error);
            return Err(1);
        }
    };
    let placed = (|| {
        let moved = std::mem::take(&mut fds)
            .into_iter()
            .map(|fd| sys::fds::dup_at_least(fd.as_fd(), floor))
            .collect::<nix::Result<Vec<_>>>()
            .step(|| format!("move the received fds above the {count} extra fds"))?;
        let (others, extra) = {
            let mut others = moved;
            let extra = others.split_off(others.len() - count);
            (others, extra)
        };
        // Every fd from 3 to floor is free now: each dup takes the lowest free number.
        let mut placed = Vec::with_capacity(count);
        for (index, fd) in extra.iter().enumerate() {
            let target = CHANNEL_FD + index as i32;
            let copy = sys::fds::dup_at_least(fd.as_fd(), target)
                .step(|| format!("make extra fd {index} the process's fd {target}"))?;
            if copy.as_raw_fd() != target {
                return Err(Error::Internal(format!(
                    "fd {target} is taken: extra fd {index} got fd {}",
                    copy.as_raw_fd()
                )));
            }
            placed.push(copy);
        }
        Ok((others, placed))
    })();
    match placed {
        Ok((others, placed)) => Ok((channel, others, placed)),
        Err(error) => {
            report_failure(&channel, &error);
            Err(1)
        }
    }
}

/// Keeps the process non-dumpable: the kernel resets the flag (to `fs.suid_dumpable`) on
/// every change of credentials, `setresuid` and `setns` into a user namespace among them, and
/// a dumpable berth process could be ptraced or have its `/proc` files opened from inside.
pub(crate) fn stay_undumpable() -> Result<()> {
    nix::sys::prctl::set_dumpable(false).step(|| "stay non-dumpable (PR_SET_DUMPABLE)")
}

/// Joins what the plan says, clones the init and hands it to the host. Returns the exit code
/// of the helper; the init never returns from here.
fn create(
    channel: Channel,
    single: &SingleThreaded,
    plan: &CreatePlan,
    mut fds: Vec<OwnedFd>,
    extra: Vec<OwnedFd>,
) -> i32 {
    // The last fd is the start socket's listener, for the init alone, and with berth's init
    // the one before it is the exit record; the rest are the namespaces to join (their count
    // is checked before the first join).
    let Some(listener) = fds.pop().map(Listener::from) else {
        report_failure(
            &channel,
            &Error::Internal("no start socket attached".into()),
        );
        return 1;
    };
    let builtin = if plan.command.init {
        let Some(exit_record) = fds.pop() else {
            report_failure(&channel, &Error::Internal("no exit record attached".into()));
            return 1;
        };
        Some(pid1::BuiltIn {
            exit_record,
            signal_group: plan.command.init_signal_group,
            tty: plan.command.process.tty,
        })
    } else {
        None
    };
    // Before any setns: the host's procfs, for writing the init's id maps, and the
    // oom_score_adj the init inherits.
    let host_proc = match host_proc::HostProc::open().and_then(|proc| {
        set_oom_score_adj(&proc, &plan.command.process)?;
        Ok(proc)
    }) {
        Ok(proc) => proc,
        Err(error) => {
            report_failure(&channel, &error);
            return 1;
        }
    };
    // With a new user namespace the init must wait until its maps are written from outside.
    let gate = if plan.command.namespaces.is_new(NamespaceKind::User) {
        match Channel::pair().step(|| "create the id-map gate") {
            Ok(pipe) => Some(pipe),
            Err(error) => {
                report_failure(&channel, &error);
                return 1;
            }
        }
    } else {
        None
    };
    match parent_side(enter_and_clone(single, plan, fds)) {
        None => {
            let mut idmapped = rootfs::IdmappedTrees::default();
            if let Some((open_when_mapped, writer)) = gate {
                drop(writer);
                match userns::wait_until_mapped(open_when_mapped, &plan.command) {
                    Ok(trees) => idmapped = trees,
                    Err(_) => exit(1),
                }
            }
            init::run(channel, single, listener, plan, idmapped, extra, builtin)
        }
        Some(outcome) => {
            drop((listener, extra, builtin));
            let outcome = match (outcome, gate) {
                (Ok((pid, pidfd)), Some((reader, writer))) => {
                    drop(reader);
                    let written = host_proc
                        .process(pid, pidfd.as_fd())
                        .and_then(|init| userns::write_maps(&init, &plan.command, writer));
                    match written {
                        Ok(()) => Ok((pid, pidfd)),
                        Err(error) => {
                            let _ = sys::pidfd::send_signal(pidfd.as_fd(), libc::SIGKILL);
                            Err(error)
                        }
                    }
                }
                (outcome, _) => outcome,
            };
            hand_over(&channel, outcome)
        }
    }
}

/// Joins a running container, clones the process into it and hands it to the host.
fn exec(
    channel: Channel,
    single: &SingleThreaded,
    plan: &ExecPlan,
    fds: Vec<OwnedFd>,
    extra: Vec<OwnedFd>,
) -> i32 {
    // The init's pidfd, then a hook's program when the host opened it.
    let program_attached = matches!(plan.hook, Some(HookProgramPlan::Attached { .. }));
    let mut fds = fds.into_iter();
    let (init, program) = (fds.next(), program_attached.then(|| fds.next()).flatten());
    let joined = match init {
        Some(init) if fds.next().is_none() && program.is_some() == program_attached => {
            join_container(single, plan, &init)
        }
        _ => Err(Error::Internal(
            "exec needs exactly the init's pidfd (and a hook's program)".into(),
        )),
    };
    let (outcome, groups_locked) = match joined {
        Ok((cloned, groups_locked)) => (Ok(cloned), groups_locked),
        Err(error) => (Err(error), false),
    };
    match parent_side(outcome) {
        None => init::run_exec(channel, plan, groups_locked, extra, program),
        Some(outcome) => {
            drop((extra, program));
            hand_over(&channel, outcome)
        }
    }
}

/// Joins the container of the init `init` and clones the exec'd process there. Also says
/// whether the container's user namespace denies `setgroups`.
fn join_container(
    single: &SingleThreaded,
    plan: &ExecPlan,
    init: &OwnedFd,
) -> Result<(sys::clone::Cloned, bool)> {
    // Cgroups first: their files are host paths, out of sight once in the container's mounts.
    join_cgroups(single, &plan.cgroup_procs)?;
    // And the init's /proc directory, through the host's procfs, checked against its pidfd.
    let host_proc = host_proc::HostProc::open()?;
    let init_dir = host_proc.process(plan.init_pid, init.as_fd())?;
    // Still with the host's privileges: the exec'd process inherits it.
    set_oom_score_adj(&host_proc, &plan.process)?;
    let groups_locked = init_dir.read("setgroups")?.trim() == "deny";
    let flags = plan.namespaces.clone_flags();
    if !flags.is_empty() {
        match nix::sched::setns(init, flags) {
            // Before Linux 5.8 setns takes only namespace fds.
            Err(nix::errno::Errno::EINVAL) => join_through_proc(&init_dir, plan.namespaces)?,
            other => {
                other.step(|| format!("join the namespaces ({flags:?}) of the container's init"))?
            }
        }
        stay_undumpable()?;
    }
    let cloned = sys::clone::clone_sibling(single, 0).step(|| "clone the exec'd process")?;
    Ok((cloned, groups_locked))
}

/// Joins the init's namespaces one by one through its `/proc/<pid>/ns/*`, user first. Every
/// file is opened before the first join, since joining the mount namespace hides the host's
/// /proc.
fn join_through_proc(init: &host_proc::ProcessDir, namespaces: NamespaceSet) -> Result<()> {
    let mut opened = Vec::new();
    for kind in namespaces.kinds() {
        let name = format!("ns/{}", kind.name());
        let fd = init.open(&name, nix::fcntl::OFlag::O_RDONLY)?;
        opened.push((name, clone_flag(kind), fd));
    }
    for (name, flag, fd) in opened {
        nix::sched::setns(fd, flag).step(|| format!("join the init's {name}"))?;
    }
    Ok(())
}

/// `process.oom_score_adj`, when given, on the helper itself: the process it clones inherits
/// it, and keeps it across `execve`.
fn set_oom_score_adj(host_proc: &host_proc::HostProc, process: &ProcessConfig) -> Result<()> {
    match process.oom_score_adj {
        Some(value) => host_proc.set_own_oom_score_adj(value),
        None => Ok(()),
    }
}

/// Joins the container's cgroups. `files` are v1 `tasks` files, which move the calling
/// thread alone, and the cgroup2 `cgroup.procs`: [`SingleThreaded`] is the proof that the
/// calling thread is the whole helper, so it moves with nothing left behind.
fn join_cgroups(_: &SingleThreaded, files: &[String]) -> Result<()> {
    for file in files {
        std::fs::write(file, b"0").step(|| format!("join cgroup {file}"))?;
    }
    Ok(())
}

/// The helper's side after the clone, shared by create and exec: report the child's birth
/// (with its pidfd) or the failure, and return the helper's exit code.
fn hand_over(channel: &Channel, outcome: Result<(i32, OwnedFd)>) -> i32 {
    match outcome {
        Ok((pid, pidfd)) => match channel.send(&Report::Spawned { pid }, &[pidfd.as_fd()]) {
            Ok(()) => 0,
            Err(_) => {
                // The host is gone: the child must not live on unsupervised.
                let _ = sys::pidfd::send_signal(pidfd.as_fd(), libc::SIGKILL);
                1
            }
        },
        Err(error) => {
            report_failure(channel, &error);
            1
        }
    }
}

/// Splits a clone's outcome: `None` in the child, the parent's side otherwise.
fn parent_side(outcome: Result<sys::clone::Cloned>) -> Option<Result<(i32, OwnedFd)>> {
    match outcome {
        Ok(sys::clone::Cloned::Child) => None,
        Ok(sys::clone::Cloned::Parent { pid, pidfd }) => Some(Ok((pid, pidfd))),
        Err(error) => Some(Err(error)),
    }
}

fn enter_and_clone(
    single: &SingleThreaded,
    plan: &CreatePlan,
    namespace_fds: Vec<OwnedFd>,
) -> Result<sys::clone::Cloned> {
    if namespace_fds.len() != plan.join.len() {
        return Err(Error::Internal(format!(
            "{} namespace fds for {} namespaces",
            namespace_fds.len(),
            plan.join.len()
        )));
    }
    // Cgroups first: their files are host paths, which resolve in another container once the
    // helper has joined its mount namespace.
    join_cgroups(single, &plan.cgroup_procs)?;
    for (&kind, fd) in plan.join.iter().zip(&namespace_fds) {
        nix::sched::setns(fd, clone_flag(kind))
            .step(|| format!("join the {} namespace of the container", kind.name()))?;
    }
    drop(namespace_fds);
    if !plan.join.is_empty() {
        stay_undumpable()?;
    }
    let namespaces = &plan.command.namespaces;
    let flags = NamespaceKind::ALL
        .into_iter()
        .filter(|&kind| namespaces.is_new(kind))
        .collect::<NamespaceSet>()
        .clone_flags();
    sys::clone::clone_sibling(single, flags.bits() as u64)
        .step(|| format!("clone the container's init with flags {flags:?}"))
}

fn report_failure(channel: &Channel, error: &Error) {
    let _ = channel.send(&Report::Failed(Failure::from(error)), &[]);
}
