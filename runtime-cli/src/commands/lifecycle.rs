//! `create`, `start`, `run` and `delete`.
//!
//! `create` leaves the init waiting on its start socket and exits: the caller (a shim that
//! made itself a child subreaper) becomes the init's parent when the CLI is gone, and reaps
//! it. `start` is a later process: it opens the container's own library root, which takes the
//! created container back, and lets it go.

use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use runtime_core::{Driver, Status, Stdio};
use runtime_linux::LinuxDriver;
use runtime_oci::Bundle;

use super::parse;
use crate::args::{switch, value, Flag};
use crate::console::{ConsoleHooks, ConsoleTarget, Relay};
use crate::context::{one_id, Context};
use crate::error::{CliError, CliResult, Step};
use crate::hooks::{self, specs};
use crate::state::{self, OciState};
use crate::store::{Locked, Meta};
use crate::{log, signals};

const CREATE_FLAGS: &[Flag] = &[
    value(&["bundle", "b"]),
    value(&["pid-file"]),
    value(&["console-socket"]),
    value(&["preserve-fds"]),
    switch(&["no-pivot"]),
    switch(&["no-new-keyring"]),
];

/// `run` takes `create`'s flags and these.
const RUN_ONLY_FLAGS: &[Flag] = &[
    switch(&["detach", "d"]),
    switch(&["keep"]),
    switch(&["no-subreaper"]),
];

/// A container to create, checked before anything is made.
struct Request {
    bundle: Bundle,
    console: ConsoleTarget,
    preserve_fds: u32,
    pid_file: Option<PathBuf>,
}

/// Reads and checks everything a create needs, with no side effect.
fn request(command: &str, parsed: &crate::args::Parsed, foreground: bool) -> CliResult<Request> {
    let id = one_id(command, &parsed.positional)?;
    let cwd = std::env::current_dir().step(|| "read the current directory".to_string())?;
    let bundle_dir = match parsed.get("bundle") {
        Some(dir) if !dir.is_empty() => cwd.join(dir),
        _ => cwd.clone(),
    };
    let bundle = runtime_oci::load(&bundle_dir, id)
        .map_err(|e| CliError::new(format!("bundle {}: {e}", bundle_dir.display())))?;
    let tty = bundle.command.process.tty;
    let socket = parsed.get("console-socket").filter(|s| !s.is_empty());
    let console = match (tty, socket) {
        (true, Some(path)) => ConsoleTarget::Socket(cwd.join(path).display().to_string()),
        (true, None) if foreground => ConsoleTarget::Keep,
        (true, None) => {
            return Err(CliError::new(
                "process.terminal is true: a detached container needs --console-socket to \
                 receive its terminal",
            ))
        }
        (false, Some(_)) => {
            return Err(CliError::new(
                "--console-socket given but process.terminal is false: there is no terminal \
                 to send",
            ))
        }
        (false, None) => ConsoleTarget::None,
    };
    let preserve_fds = preserve_fds(parsed)?;
    let mut bundle = bundle;
    // runc's default: the container's own session keyring, unless --no-new-keyring.
    bundle.command.share_session_keyring = parsed.is_set("no-new-keyring");
    Ok(Request {
        bundle,
        console,
        preserve_fds,
        pid_file: parsed
            .get("pid-file")
            .filter(|p| !p.is_empty())
            .map(|p| cwd.join(p)),
    })
}

/// `--preserve-fds N`: the caller's fds 3 to 3+N-1, each checked to be open.
pub fn preserve_fds(parsed: &crate::args::Parsed) -> CliResult<u32> {
    let Some(text) = parsed.get("preserve-fds") else {
        return Ok(0);
    };
    let count: u32 = text
        .parse()
        .map_err(|_| CliError::new(format!("--preserve-fds {text:?}: not a number")))?;
    if count > 1024 {
        return Err(CliError::new(format!(
            "--preserve-fds {count}: at most 1024"
        )));
    }
    for fd in 3..3 + count as i32 {
        if !crate::fd::is_open(fd) {
            return Err(CliError::new(format!(
                "--preserve-fds {count}: fd {fd} is not open in this process"
            )));
        }
    }
    Ok(count)
}

/// The extra fds of a process: the caller's 3.. for `--preserve-fds`.
pub fn extra_fds(count: u32) -> Vec<i32> {
    (3..3 + count as i32).collect()
}

/// A created container, still held by this invocation.
struct Created {
    locked: Locked,
    driver: Arc<LinuxDriver>,
    meta: Meta,
    pid: i32,
    hooks: Arc<ConsoleHooks>,
}

/// Makes the container and runs the create-time hooks. On failure nothing is left: no
/// process, cgroup or directory.
fn create_container(ctx: &Context, request: Request, foreground: bool) -> CliResult<Created> {
    let Request {
        bundle,
        console,
        preserve_fds,
        pid_file,
    } = request;
    let command = &bundle.command;
    let locked = ctx.root.create(&command.id)?;
    let opened = if foreground {
        ctx.reaping_driver(&locked)
    } else {
        ctx.spawning_driver(&locked)
    };
    let driver = match opened {
        Ok(driver) => Arc::new(driver),
        Err(error) => {
            let _ = locked.remove();
            return Err(error);
        }
    };
    let hooks = ConsoleHooks::new(console);
    let made = (|| {
        let stdio = Stdio {
            stdin: Some(std::io::stdin().as_raw_fd()),
            stdout: Some(std::io::stdout().as_raw_fd()),
            stderr: Some(std::io::stderr().as_raw_fd()),
            extra: extra_fds(preserve_fds),
        };
        super::warn_skipped_capabilities(&command.process);
        let pid = driver
            .create(command, &stdio, hooks.clone())
            .map_err(|e| CliError::new(format!("create container {}: {e}", command.id)))?;
        hooks.take_failure()?;
        let mut meta = Meta::new(command, &bundle.dir, runtime_core::time::now_rfc3339());
        meta.annotations = bundle.annotations.clone();
        meta.start_container = specs(&bundle.hooks.start_container);
        meta.poststart = specs(&bundle.hooks.poststart);
        meta.poststop = specs(&bundle.hooks.poststop);
        locked.save_meta(&meta)?;
        let creating = OciState {
            status: "creating".into(),
            ..OciState::new(&meta, Status::Created, pid)
        }
        .for_hook();
        hooks::run_all("prestart", &specs(&bundle.hooks.prestart), &creating)?;
        hooks::run_all(
            "createRuntime",
            &specs(&bundle.hooks.create_runtime),
            &creating,
        )?;
        hooks::run_in_container(
            &driver,
            &command.id,
            "createContainer",
            &specs(&bundle.hooks.create_container),
            false,
            &creating,
        )?;
        if let Some(path) = &pid_file {
            write_pid_file(path, pid)?;
        }
        Ok((meta, pid))
    })();
    match made {
        Ok((meta, pid)) => Ok(Created {
            locked,
            driver,
            meta,
            pid,
            hooks,
        }),
        Err(error) => {
            let _ = driver.delete(&command.id, true);
            drop(driver);
            let _ = locked.remove();
            Err(error)
        }
    }
}

/// Writes the pid file as runc does: a temporary file beside it, renamed into place, so a
/// reader never sees half a number.
fn write_pid_file(path: &Path, pid: i32) -> CliResult<()> {
    let temp = path.with_file_name(format!(
        ".{}.tmp",
        path.file_name()
            .map_or("pid".into(), |n| n.to_string_lossy())
    ));
    std::fs::write(&temp, pid.to_string())
        .step(|| format!("write the pid file {}", temp.display()))?;
    std::fs::rename(&temp, path).step(|| format!("rename the pid file into {}", path.display()))
}

pub fn create(ctx: &Context, args: &[String]) -> CliResult<()> {
    let parsed = parse("create", args, CREATE_FLAGS)?;
    let request = request("create", &parsed, false)?;
    create_container(ctx, request, false).map(drop)
}

/// Lets a created container's program run: startContainer hooks, the start, then poststart.
fn start_created(driver: &LinuxDriver, meta: &Meta, pid: i32) -> CliResult<()> {
    let created = OciState::new(meta, Status::Created, pid).for_hook();
    hooks::run_in_container(
        driver,
        &meta.id,
        "startContainer",
        &meta.start_container,
        true,
        &created,
    )?;
    driver
        .start(&meta.id)
        .map_err(|e| CliError::new(format!("start container {}: {e}", meta.id)))?;
    let running = OciState::new(meta, Status::Running, pid).for_hook();
    hooks::run_all_warning("poststart", &meta.poststart, &running);
    Ok(())
}

pub fn start(ctx: &Context, args: &[String]) -> CliResult<()> {
    let parsed = parse("start", args, &[])?;
    let id = one_id("start", &parsed.positional)?;
    let locked = ctx.root.open_container(id)?;
    let meta = locked.meta()?;
    let (status, pid) = state::current(&locked.driver_root(), id)?;
    match status {
        Status::Created => {}
        Status::Stopped => {
            return Err(CliError::new(format!(
                "cannot start container {id}: it has stopped"
            )))
        }
        _ => {
            return Err(CliError::new(format!(
                "cannot start container {id}: it is already {}",
                state::status_word(status)
            )))
        }
    }
    let driver = ctx.driver(&locked)?;
    start_created(&driver, &meta, pid)
}

pub fn run(ctx: &Context, args: &[String]) -> CliResult<i32> {
    let flags: Vec<Flag> = CREATE_FLAGS.iter().chain(RUN_ONLY_FLAGS).copied().collect();
    let parsed = parse("run", args, &flags)?;
    let detach = parsed.is_set("detach");
    // Before any thread exists, so that the driver's threads have them blocked too.
    let forwarded = (!detach).then(signals::block);
    let request = request("run", &parsed, !detach)?;
    let created = create_container(ctx, request, !detach)?;
    let id = created.meta.id.clone();
    if let Err(error) = start_created(&created.driver, &created.meta, created.pid) {
        let _ = created.driver.delete(&id, true);
        let _ = created.locked.remove();
        return Err(error);
    }
    if detach {
        return Ok(0);
    }
    let Created {
        locked,
        driver,
        meta,
        hooks: console,
        ..
    } = created;
    let _relay = match console.kept.lock().take() {
        Some(master) => Some(Relay::start(master)?),
        None => None,
    };
    if let Some(set) = forwarded {
        let target = driver.clone();
        let id = id.clone();
        signals::forward(set, move |signal| {
            let _ = target.kill(&id, signal, false);
        });
    }
    let exit = driver
        .wait(&id)
        .map_err(|e| CliError::new(format!("wait for container {id}: {e}")))?;
    if !parsed.is_set("keep") {
        let _ = driver.delete(&id, true);
        let stopped = OciState::new(&meta, Status::Stopped, 0).for_hook();
        hooks::run_all_warning("poststop", &meta.poststop, &stopped);
        let _ = locked.remove();
    }
    Ok(exit_code(&exit))
}

/// The exit code a shell reports for `status`: the code, or 128 + the signal.
pub fn exit_code(status: &runtime_core::ExitStatus) -> i32 {
    match status.signal {
        Some(signal) => 128 + signal,
        None => i32::try_from(status.code).unwrap_or(255),
    }
}

const DELETE_FLAGS: &[Flag] = &[switch(&["force", "f"])];

pub fn delete(ctx: &Context, args: &[String]) -> CliResult<()> {
    let parsed = parse("delete", args, DELETE_FLAGS)?;
    let id = one_id("delete", &parsed.positional)?;
    let force = parsed.is_set("force");
    let locked = match ctx.root.open_container(id) {
        Ok(locked) => locked,
        // As runc: deleting what is already gone is fine when forced.
        Err(_) if force => return Ok(()),
        Err(error) => return Err(error),
    };
    let meta = locked.meta().ok();
    let (status, _) = state::current(&locked.driver_root(), id)?;
    if matches!(status, Status::Running | Status::Paused) && !force {
        return Err(CliError::new(format!(
            "cannot delete container {id} that is not stopped: {} (use --force)",
            state::status_word(status)
        )));
    }
    if locked.driver_root().join(id).exists() {
        let driver = ctx.driver(&locked)?;
        // A created container is killed without --force, as runc does.
        match driver.delete(id, true) {
            Ok(()) | Err(runtime_core::Error::NotFound { .. }) => {}
            Err(error) => return Err(CliError::new(format!("delete container {id}: {error}"))),
        }
    }
    if let Some(meta) = &meta {
        let stopped = OciState::new(meta, Status::Stopped, 0).for_hook();
        hooks::run_all_warning("poststop", &meta.poststop, &stopped);
    }
    log::debug(&format!("deleted {id}"));
    locked.remove()
}
