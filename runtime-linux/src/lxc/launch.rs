//! The host's half of an LXC container's start: spawn `lxc-execute` (LXC's monitor, which
//! stays for the container's life) on the config in the state directory, then wait for
//! berth's start-host hook to hand over LXC's init.
//!
//! Nothing runs between fork and exec here either: `lxc-execute` is spawned with
//! `posix_spawn`, in a process group of its own, with the caller's stdio and no other fd
//! (whatever it inherits, it passes on to the program), and an environment of `PATH` alone.

use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use runtime_core::{Error, ExitStatus, Result, Stdio};

use crate::channel::{Channel, Listener};
use crate::error::{os_error, StepExt};
use crate::helper::lxc_hook::{HOOK_FAILURE, LAUNCH_SOCKET};
use crate::launcher::{dup_stdio, REPORT_TIMEOUT};
use crate::protocol::{Failure, Report};
use crate::sys;

/// The config file the driver writes in the state directory.
pub const CONFIG_FILE: &str = "lxc.conf";
/// LXC's log, in the state directory: the errors of a failed start come from it.
pub const LOG_FILE: &str = "lxc.log";

/// The environment `lxc-execute` runs with: nothing of the host's.
const TOOL_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// An LXC container whose init waits in berth's start-host hook.
pub struct Started {
    /// `lxc-execute`: its exit is the container's, with the program's exit code.
    pub monitor_pid: i32,
    pub monitor: OwnedFd,
    /// LXC's init, the container's pid 1.
    pub init_pid: i32,
    pub init: OwnedFd,
    /// The hook's channel: start goes through it.
    pub channel: Channel,
}

/// Runs `lxc-execute` at `tool` on the config in `state_dir` for the container `id` with the
/// program `args`, and waits until the start-host hook reports. On failure nothing of it is
/// left running (its cgroups are the caller's to remove).
pub fn launch(
    tool: &Path,
    state_dir: &Path,
    id: &str,
    args: &[String],
    stdio: &Stdio,
) -> Result<Started> {
    let listener = Listener::bind_to(state_dir, LAUNCH_SOCKET)
        .step(|| format!("make {}", state_dir.join(LAUNCH_SOCKET).display()))?;
    let stdio = dup_stdio(stdio)?;
    let argv = tool_argv(state_dir, id, args)?;
    let env = [CString::new(TOOL_PATH).expect("no NUL")];
    let path = c_path(tool)?;
    let monitor_pid = sys::spawn::spawn_tool(
        &path,
        &argv,
        &env,
        [
            stdio[0].as_raw_fd(),
            stdio[1].as_raw_fd(),
            stdio[2].as_raw_fd(),
        ],
    )
    .step(|| format!("spawn {}", tool.display()))?
    .as_raw();
    drop(stdio);
    // Our unreaped child: its pid is not reused before the pidfd exists.
    let monitor = sys::pidfd::open(monitor_pid).step(|| "open a pidfd for lxc-execute")?;
    let outcome = wait_for_hook(&listener, &monitor);
    drop(listener);
    let _ = std::fs::remove_file(state_dir.join(LAUNCH_SOCKET));
    match outcome {
        Ok((init_pid, init, channel)) => Ok(Started {
            monitor_pid,
            monitor,
            init_pid,
            init,
            channel,
        }),
        Err(error) => {
            // The hook failed or never came: LXC tears its container down when its init
            // dies, and only then (a SIGKILL of lxc-execute would leave its cgroups).
            let status = stop_monitor(&monitor, None);
            Err(error.unwrap_or_else(|| failure_of(state_dir, status)))
        }
    }
}

/// What `lxc-execute`'s exit code means: the program's exit code, or 128 + the signal that
/// killed it (so a program's own `exit 137` reads as SIGKILL: LXC's init makes no
/// difference).
pub fn container_exit(monitor: ExitStatus) -> ExitStatus {
    match (monitor.signal, monitor.code) {
        (None, code @ 129..=192) => ExitStatus::signaled((code - 128) as i32),
        (None, code) => ExitStatus::exited(code),
        // lxc-execute itself was killed: the program's status is lost.
        (Some(_), _) => ExitStatus::unknown(),
    }
}

/// Ends a monitor whose container must not live on: SIGKILLs LXC's init (if known), which
/// makes LXC stop the container and exit, then reaps the monitor, SIGKILLing it only if it has
/// not gone within a few seconds. Returns its status.
pub fn stop_monitor(monitor: &OwnedFd, init: Option<&OwnedFd>) -> Option<ExitStatus> {
    if let Some(init) = init {
        let _ = sys::pidfd::send_signal(init.as_fd(), libc::SIGKILL);
    } else {
        // Before the hook reported, LXC's monitor tears down what it made on SIGTERM.
        let _ = sys::pidfd::send_signal(monitor.as_fd(), libc::SIGTERM);
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut fds = [PollFd::new(monitor.as_fd(), PollFlags::POLLIN)];
        let left = deadline.saturating_duration_since(Instant::now());
        let millis = u16::try_from(left.as_millis()).unwrap_or(u16::MAX);
        match poll(&mut fds, PollTimeout::from(millis)) {
            Err(Errno::EINTR) => continue,
            Ok(0) => {
                let _ = sys::pidfd::send_signal(monitor.as_fd(), libc::SIGKILL);
                break;
            }
            _ => break,
        }
    }
    sys::pidfd::wait(monitor.as_fd(), false).ok().flatten()
}

fn tool_argv(state_dir: &Path, id: &str, args: &[String]) -> Result<Vec<CString>> {
    let lxcpath = state_dir.display().to_string();
    let config = state_dir.join(CONFIG_FILE).display().to_string();
    let argv = vec!["lxc-execute", "-P", &lxcpath, "-n", id, "-f", &config, "--"]
        .into_iter()
        .map(str::to_string)
        .chain(args.iter().cloned())
        .map(CString::new)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|_| Error::invalid("process.args", "contains a NUL byte"))?;
    Ok(argv)
}

fn c_path(path: &Path) -> Result<CString> {
    CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| Error::Internal(format!("{} contains a NUL byte", path.display())))
}

/// Waits until the start-host hook connects and reports LXC's init, or the monitor exits.
/// `Err(None)` when the monitor ended first, or the hook hung up without a report: the
/// reason is in the hook's failure file or LXC's log.
fn wait_for_hook(
    listener: &Listener,
    monitor: &OwnedFd,
) -> std::result::Result<(i32, OwnedFd, Channel), Option<Error>> {
    let deadline = Instant::now() + REPORT_TIMEOUT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Some(Error::Internal(format!(
                "LXC's start-host hook did not report within {}s",
                REPORT_TIMEOUT.as_secs()
            ))));
        }
        let mut fds = [
            PollFd::new(listener.as_fd(), PollFlags::POLLIN),
            PollFd::new(monitor.as_fd(), PollFlags::POLLIN),
        ];
        let millis = u16::try_from(left.as_millis()).unwrap_or(u16::MAX);
        match poll(&mut fds, PollTimeout::from(millis)) {
            Ok(_) => {}
            Err(Errno::EINTR) => continue,
            Err(errno) => return Err(Some(os_error("wait for LXC's start-host hook", errno))),
        }
        let hook_ready = fds[0].revents().is_some_and(|r| !r.is_empty());
        let monitor_gone = fds[1].revents().is_some_and(|r| !r.is_empty());
        if hook_ready {
            if let Some(channel) = listener
                .accept()
                .map_err(|errno| Some(os_error("accept LXC's start-host hook", errno)))?
            {
                channel
                    .set_receive_timeout(REPORT_TIMEOUT)
                    .map_err(|errno| Some(os_error("set the hook socket's timeout", errno)))?;
                return match channel.recv::<Report>() {
                    Ok(Some((Report::Spawned { pid }, mut fds))) if fds.len() == 1 => {
                        Ok((pid, fds.remove(0), channel))
                    }
                    Ok(Some((Report::Failed(failure), _))) => Err(Some(failure.into())),
                    Ok(Some((other, _))) => Err(Some(Error::Internal(format!(
                        "unexpected report from LXC's start-host hook: {other:?}"
                    )))),
                    Ok(None) => Err(None),
                    Err(errno) => Err(Some(os_error("read LXC's start-host hook", errno))),
                };
            }
        }
        if monitor_gone {
            return Err(None);
        }
    }
}

/// Why a start failed: the hook's own report if it wrote one, else the end of LXC's log.
fn failure_of(state_dir: &Path, status: Option<ExitStatus>) -> Error {
    let hook_failure = std::fs::read(state_dir.join(HOOK_FAILURE))
        .ok()
        .and_then(|text| serde_json::from_slice::<Failure>(&text).ok());
    if let Some(failure) = hook_failure {
        return failure.into();
    }
    let log = log_tail(&state_dir.join(LOG_FILE));
    let status = match status {
        Some(ExitStatus {
            signal: Some(signal),
            ..
        }) => format!("killed by signal {signal}"),
        Some(status) => format!("exit code {}", status.code),
        None => "status unknown".into(),
    };
    Error::Internal(format!("lxc-execute failed ({status}): {log}"))
}

/// The last lines of LXC's log, for an error message.
fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    match lines.len() {
        0 => "LXC logged nothing".into(),
        n => lines[n.saturating_sub(3)..].join(" / "),
    }
}
