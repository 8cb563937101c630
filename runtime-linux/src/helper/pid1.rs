//! berth's own init (`Command::init`): the container's pid 1 stays this process, confined as
//! the program is, and the program runs as its child. It reaps every zombie of the container,
//! forwards every signal it can catch to the program (or to the program's process group), and
//! when the program ends it records the status in the exit record the host opened for it
//! ([`crate::exit_record`]) and exits with it: the code, or 128 + the signal.
//!
//! Why a container wants one: a program that is pid 1 of its pid namespace gets no signal it
//! has no handler for (`kill -TERM 1` from inside does nothing to most programs), and no one
//! reaps the orphans it leaves. And a driver that took the container back after its host died
//! is not the init's parent, so the kernel gives it no status: the record does.
//!
//! All of it is a loop over `sigwaitinfo` with every signal blocked, as tini does: no signal
//! handler runs, and nothing here allocates after the fork.

use std::os::fd::{AsFd, OwnedFd};
use std::process::exit;

use nix::sys::signal::{sigprocmask, SigSet, SigmaskHow};
use nix::unistd::Pid;
use runtime_core::ExitStatus;

use super::identity::Prepared;
use super::init::release_extra;
use super::report_failure;
use super::terminal;
use crate::channel::Channel;
use crate::exit_record;
use crate::sys;
use crate::sys::clone::SingleThreaded;

/// What the init needs beyond the program's: the exit record, and how to forward.
pub struct BuiltIn {
    /// The record's write-only fd, which the host opened (`exit_record::create_for_init`).
    pub exit_record: OwnedFd,
    /// Forward signals to the program's process group, not to the program alone.
    pub signal_group: bool,
    /// The program's stdin is the container's terminal: its process group is made the
    /// terminal's foreground group, so that it reads and gets the terminal's signals.
    pub tty: bool,
}

/// Who said start: it tells whether the program hears a hang-up of its terminal that came
/// before the init blocked its signals (docs/recovery.md).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum StartSaidBy {
    /// The host that created the container, which holds the terminal's master: the terminal
    /// can hang up only by its death, after start was said. The program hears that.
    Creator,
    /// A later driver, through the start socket: the terminal hung up (if it did) when the
    /// creator died, before start; the program starts on a terminal that is gone, unaware.
    LaterDriver,
}

/// Forks the program (which execs as `prepared` says, and reports a failed exec on
/// `report_to`, as an init without berth's would) and serves as its init until it ends.
/// Never returns.
pub fn run(
    single: &SingleThreaded,
    init: BuiltIn,
    said_by: StartSaidBy,
    prepared: Prepared,
    extra: Vec<OwnedFd>,
    report_to: Channel,
) -> ! {
    // Blocked before the fork, so none is lost in between; the program unblocks them.
    let previous = match block_all() {
        Ok(previous) => previous,
        Err(error) => {
            report_failure(&report_to, &error);
            exit(127)
        }
    };
    // A creator that died just after it said start hung the terminal up before the signals
    // were blocked here, and the init's SIGHUP was lost (pid 1 gets no signal it has no
    // handler for). From here on a hang-up stays pending; one before is read off the terminal.
    let missed_hangup =
        init.tty && said_by == StartSaidBy::Creator && terminal::hung_up(std::io::stdin().as_fd());
    // Orphans of the program come to the init (it is pid 1 with a pid namespace of its own;
    // without one, this makes it their reaper all the same).
    let _ = nix::sys::prctl::set_child_subreaper(true);
    let program = match sys::clone::fork(single) {
        Ok(None) => exec_program(&init, &prepared, &extra, &report_to, &previous),
        Ok(Some(pid)) => pid,
        Err(errno) => {
            let error = crate::error::os_error("fork the program under berth's init", errno);
            report_failure(&report_to, &error);
            exit(127)
        }
    };
    // The init holds nothing of the host's but the record: the starter reads end-of-file
    // once the program has exec'd (its copy is close-on-exec), and the extra fds are the
    // program's.
    drop((report_to, extra));
    // Also set here, as the program sets it: a signal forwarded to its group before the
    // program got so far must not miss it.
    if init.signal_group {
        let _ = nix::unistd::setpgid(Pid::from_raw(program), Pid::from_raw(program));
    }
    // Confined as the program is: with no_new_privileges the seccomp filter goes on last. An
    // init that cannot be confined must not stay pid 1 of the container: the program goes
    // with it (a death by SIGKILL, as the driver reads it).
    if prepared.confine_self().is_err() {
        let _ = sys::signals::send(program, libc::SIGKILL);
        exit(128 + libc::SIGKILL)
    }
    let target = if init.signal_group { -program } else { program };
    if missed_hangup {
        forward(target, libc::SIGHUP);
    }
    let status = serve(program, target);
    exit_record::write(init.exit_record.as_fd(), &status);
    exit(i32::try_from(status.code).unwrap_or(255))
}

/// Blocks every signal; returns the mask before.
fn block_all() -> runtime_core::Result<SigSet> {
    let mut previous = SigSet::empty();
    sigprocmask(
        SigmaskHow::SIG_SETMASK,
        Some(&SigSet::all()),
        Some(&mut previous),
    )
    .map_err(|errno| crate::error::os_error("block signals in berth's init", errno))?;
    Ok(previous)
}

/// The program's side of the fork: its own process group (in the foreground of a terminal),
/// the signal mask it would have had, nothing of the init's, then the exec. Never returns.
fn exec_program(
    init: &BuiltIn,
    prepared: &Prepared,
    extra: &[OwnedFd],
    report_to: &Channel,
    mask: &SigSet,
) -> ! {
    // A group of its own, so that a terminal's signals and a forward to the group reach the
    // program and what it starts, never the init. While every signal is blocked, taking the
    // terminal's foreground raises no SIGTTOU.
    let _ = nix::unistd::setpgid(Pid::from_raw(0), Pid::from_raw(0));
    if init.tty {
        let _ = nix::unistd::tcsetpgrp(std::io::stdin(), nix::unistd::getpid());
    }
    let error = match sigprocmask(SigmaskHow::SIG_SETMASK, Some(mask), None) {
        Err(errno) => crate::error::os_error("restore the program's signal mask", errno),
        Ok(()) => match release_extra(extra) {
            Ok(()) => prepared.exec(),
            Err(error) => error,
        },
    };
    report_failure(report_to, &error);
    exit(127)
}

/// Signals that the init never forwards: the one it reaps on.
const NOT_FORWARDED: [i32; 1] = [libc::SIGCHLD];

/// Forwards signals to `target` (the program, or its group) and reaps until the program has
/// ended; returns how it ended.
fn serve(program: i32, target: i32) -> ExitStatus {
    let all = SigSet::all();
    loop {
        match sys::signals::wait_any(&all) {
            Ok(libc::SIGCHLD) => {
                if let Some(status) = reap(program) {
                    return status;
                }
            }
            Ok(number) if !NOT_FORWARDED.contains(&number) => forward(target, number),
            Ok(_) => {}
            // A seccomp profile that denies sigwaitinfo: no more forwarding, only the wait.
            Err(_) => return wait_blocking(program),
        }
    }
}

/// Sends signal `number` to `target`. A program (or group) already gone is no matter: its
/// SIGCHLD comes next.
fn forward(target: i32, number: i32) {
    let _ = sys::signals::send(target, number);
}

/// Reaps every child that has ended; the program's status once it is among them.
fn reap(program: i32) -> Option<ExitStatus> {
    let mut ended = None;
    while let Some((pid, status)) = sys::signals::reap_any() {
        if pid == program {
            ended = Some(status);
        }
    }
    ended
}

/// Waits for the program alone, for an init that can no longer wait for signals.
fn wait_blocking(program: i32) -> ExitStatus {
    sys::signals::wait_for(program).unwrap_or_else(|_| ExitStatus::unknown())
}
