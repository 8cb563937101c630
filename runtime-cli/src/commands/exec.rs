//! `exec`: a process in a running container, given as an OCI `process` object
//! (`--process FILE`, as shims give it) or by flags and arguments over the container's own
//! process (as runc takes the config's process for a template). In the foreground the exit
//! code is the process's; `--detach` returns once it runs, and its caller reaps it.

use std::os::fd::AsRawFd;

use runtime_core::{Driver, ProcessConfig, Status, Stdio};

use super::lifecycle::{exit_code, extra_fds, preserve_fds};
use super::parse;
use crate::args::{switch, value, Flag, Parsed};
use crate::console::{ConsoleHooks, ConsoleTarget, Relay};
use crate::context::{one_id, Context};
use crate::error::{CliError, CliResult, Step};
use crate::store::Meta;
use crate::{signals, state};

const EXEC_FLAGS: &[Flag] = &[
    value(&["process", "p"]),
    value(&["console-socket"]),
    value(&["pid-file"]),
    value(&["cwd"]),
    value(&["env", "e"]),
    value(&["user", "u"]),
    value(&["additional-gids", "g"]),
    value(&["cap", "c"]),
    value(&["preserve-fds"]),
    value(&["process-label"]),
    value(&["apparmor"]),
    value(&["cgroup"]),
    switch(&["tty", "t"]),
    switch(&["detach", "d"]),
    switch(&["no-new-privs"]),
    switch(&["ignore-paused"]),
];

pub fn exec(ctx: &Context, args: &[String]) -> CliResult<i32> {
    let parsed = parse("exec", args, EXEC_FLAGS)?;
    let id = one_id("exec", &parsed.positional)?;
    let detach = parsed.is_set("detach");
    for (flag, what) in [("process-label", "SELinux"), ("apparmor", "AppArmor")] {
        if parsed.get(flag).is_some_and(|v| !v.is_empty()) {
            return Err(CliError::new(format!(
                "exec: --{flag} is not supported: this host has no {what}"
            )));
        }
    }
    if parsed.get("cgroup").is_some_and(|v| !v.is_empty()) {
        return Err(CliError::new(
            "exec: --cgroup is not supported: an exec'd process joins the container's cgroup",
        ));
    }
    let extra = preserve_fds(&parsed)?;
    let forwarded = (!detach).then(signals::block);
    let locked = ctx.root.open_container(id)?;
    let meta = locked.meta()?;
    let process = process(&parsed, &meta)?;
    let socket = parsed.get("console-socket").filter(|s| !s.is_empty());
    let console = match (process.tty, socket) {
        (true, Some(path)) => ConsoleTarget::Socket(path.to_string()),
        (true, None) if !detach => ConsoleTarget::Keep,
        (true, None) => {
            return Err(CliError::new(
                "exec: a detached process with a terminal needs --console-socket",
            ))
        }
        (false, Some(_)) => {
            return Err(CliError::new(
                "exec: --console-socket given but the process has no terminal (--tty)",
            ))
        }
        (false, None) => ConsoleTarget::None,
    };
    let (status, _) = state::current(&locked.driver_root(), id)?;
    match status {
        Status::Running => {}
        Status::Paused if parsed.is_set("ignore-paused") => {}
        other => {
            return Err(CliError::new(format!(
                "cannot exec in container {id}: it is {}",
                state::status_word(other)
            )))
        }
    }
    let driver = if detach {
        ctx.spawning_driver(&locked)?
    } else {
        ctx.reaping_driver(&locked)?
    };
    let hooks = ConsoleHooks::new(console);
    let stdio = Stdio {
        stdin: Some(std::io::stdin().as_raw_fd()),
        stdout: Some(std::io::stdout().as_raw_fd()),
        stderr: Some(std::io::stderr().as_raw_fd()),
        extra: extra_fds(extra),
    };
    super::warn_skipped_capabilities(&process);
    let pid = driver
        .exec_detached(id, &process, &stdio, hooks.clone())
        .map_err(|e| CliError::new(format!("exec in container {id}: {e}")))?;
    hooks.take_failure()?;
    if let Some(path) = parsed.get("pid-file").filter(|p| !p.is_empty()) {
        let temp = format!("{path}.tmp");
        std::fs::write(&temp, pid.to_string()).step(|| format!("write the pid file {temp}"))?;
        std::fs::rename(&temp, path).step(|| format!("rename the pid file into {path}"))?;
    }
    if detach {
        return Ok(0);
    }
    // The lock is for the container's state: a long foreground exec must not hold it.
    drop(locked);
    let _relay = match hooks.kept.lock().take() {
        Some(master) => Some(Relay::start(master)?),
        None => None,
    };
    if let Some(set) = forwarded {
        signals::forward(set, move |signal| {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::try_from(signal).ok(),
            );
        });
    }
    let exit = driver
        .wait_exec(id, pid)
        .map_err(|e| CliError::new(format!("wait for the exec'd process {pid}: {e}")))?;
    Ok(exit_code(&exit))
}

/// The process to run: `--process FILE`, or the container's own process with the flags and
/// arguments over it.
fn process(parsed: &Parsed, meta: &Meta) -> CliResult<ProcessConfig> {
    let args: Vec<String> = parsed.positional[1..].to_vec();
    if let Some(path) = parsed.get("process").filter(|p| !p.is_empty()) {
        if !args.is_empty() {
            return Err(CliError::new(
                "exec: give either --process or a command, not both",
            ));
        }
        let text = std::fs::read_to_string(path).step(|| format!("exec: read {path}"))?;
        let mut process = runtime_oci::process_from_json(&text)
            .and_then(|process| runtime_oci::process_from_oci(&process))
            .map_err(|e| CliError::new(format!("exec: {path}: {e}")))?;
        // As runc: an exec'd process gets the container's seccomp filter.
        process.seccomp = meta.process.seccomp.clone();
        return Ok(process);
    }
    if args.is_empty() {
        return Err(CliError::new(
            "exec: requires a command after the container id (or --process FILE)",
        ));
    }
    let mut process = meta.process.clone();
    process.args = args;
    process.tty = parsed.is_set("tty");
    process.console_size = None;
    for kv in parsed.all("env") {
        let key = kv.split('=').next().unwrap_or_default().to_string();
        process
            .env
            .retain(|old| old.split('=').next() != Some(key.as_str()));
        process.env.push(kv);
    }
    if let Some(cwd) = parsed.get("cwd") {
        process.cwd = cwd.to_string();
    }
    if let Some(user) = parsed.get("user") {
        process.user = user.to_string();
    }
    for gids in parsed.all("additional-gids") {
        for gid in gids.split(',') {
            let gid = gid.trim().parse().map_err(|_| {
                CliError::new(format!("exec: --additional-gids {gid:?}: not a gid"))
            })?;
            process.additional_gids.push(gid);
        }
    }
    process.cap_add.extend(parsed.all("cap"));
    if parsed.is_set("no-new-privs") {
        process.no_new_privileges = true;
    }
    Ok(process)
}
