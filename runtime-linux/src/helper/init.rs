//! The container's init: from the clone to the `execve` of the user's program.
//!
//! It runs in the container's new namespaces as a copy of the single-threaded helper. Order
//! matters and follows what a container user expects: rootfs and mounts, `pivot_root`, the
//! kernel settings that need the container's `/proc`, then identity, and last the wait for
//! the host's go and the exec.

use std::process::exit;

use std::os::fd::{AsFd, OwnedFd};

use nix::sys::stat::{umask, Mode};
use runtime_core::{NamespaceKind, ProcessConfig, Result};

use super::identity::Prepared;
use super::report_failure;
use super::rootfs::{self, Mounted};
use super::terminal::Terminal;
use crate::channel::Channel;
use crate::error::StepExt;
use crate::protocol::{CreatePlan, ExecPlan, Report, Request};
use crate::sys;

/// Builds the container, reports ready, waits for start and execs. Never returns.
/// `rootfs_tree` is an idmapped copy of the rootfs to use instead of a plain bind.
pub fn run(channel: &Channel, plan: &CreatePlan, rootfs_tree: Option<OwnedFd>) -> ! {
    go_when_told(channel, set_up(plan, rootfs_tree))
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
/// `groups_locked`: the container's user namespace denies `setgroups`.
pub fn run_exec(channel: &Channel, plan: &ExecPlan, groups_locked: bool) -> ! {
    let prepared =
        Prepared::new(&plan.process, &plan.confinement, groups_locked).and_then(|prepared| {
            let console = terminal_for(&plan.process, None)?;
            umask(Mode::from_bits_truncate(0o022));
            prepared.become_user()?;
            sys::fds::cloexec_from(3).step(|| "mark inherited fds close-on-exec")?;
            Ok((prepared, console))
        });
    go_when_told(channel, prepared)
}

fn go_when_told(channel: &Channel, prepared: Result<Ready>) -> ! {
    let (prepared, console) = match prepared {
        Ok(prepared) => prepared,
        Err(error) => {
            report_failure(channel, &error);
            exit(1)
        }
    };
    let attached: Vec<_> = console.iter().map(AsFd::as_fd).collect();
    if channel.send(&Report::Ready, &attached).is_err() {
        exit(1);
    }
    // The master belongs to the host now; the container must not hold it.
    drop(console);
    match channel.recv::<Request>() {
        Ok(Some((Request::Start, _))) => {}
        // The host deleted the container before starting it, or is gone.
        _ => exit(1),
    }
    let error = prepared.exec();
    report_failure(channel, &error);
    exit(127)
}

fn set_up(plan: &CreatePlan, rootfs_tree: Option<OwnedFd>) -> Result<Ready> {
    let command = &plan.command;
    // Modes of the nodes and directories made here must be exactly the ones asked for.
    umask(Mode::empty());
    let mounted = if command.namespaces.is_new(NamespaceKind::Mount) {
        Some(rootfs::build(command, &plan.devices, rootfs_tree)?)
    } else {
        None
    };
    if command.namespaces.is_new(NamespaceKind::Uts) {
        nix::unistd::sethostname(command.effective_hostname())
            .step(|| format!("set hostname {:?}", command.effective_hostname()))?;
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
    if let Some(mounted) = &mounted {
        mounted.protect(command)?;
    }
    let (_, gids) = command.effective_id_mappings();
    let groups_locked = command.namespaces.is_new(NamespaceKind::User) && gids.is_empty();
    let prepared = Prepared::new(&command.process, &plan.confinement, groups_locked)?;
    let console = terminal_for(&command.process, mounted.as_ref())?;
    // berth's fds of the container's mounts are not the program's.
    drop(mounted);
    umask(Mode::from_bits_truncate(0o022));
    prepared.become_user()?;
    sys::fds::cloexec_from(3).step(|| "mark inherited fds close-on-exec")?;
    Ok((prepared, console))
}
