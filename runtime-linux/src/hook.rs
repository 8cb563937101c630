//! Hooks run in a container's namespaces (OCI's `createContainer` and `startContainer`):
//! [`crate::LinuxDriver::run_hook`].
//!
//! A hook takes the exec path (`Request::Exec` with a hook's plan): `berth-init` joins the
//! container's cgroups and every namespace of its init that is not the host's, and clones the
//! hook there as the host's child. Unlike an exec, the hook is the container's root
//! unconfined (every capability of berth's bounding set, no seccomp filter, no
//! `no_new_privs`), in `/`, with exactly its `args` and `env`. The host writes `stdin` into its
//! stdin, collects its stdout and stderr, and waits for it by its pidfd, with a timeout.
//!
//! A [`HookProgram::Host`] program is opened here, on the host, and executed by fd after the
//! helper has joined the container's mount namespace. So what the program needs by path at
//! its exec resolves **in the container**: a dynamically linked executable's loader
//! (`/lib64/ld-linux-x86-64.so.2`), and a script's interpreter (its `#!` line). A host hook is
//! therefore a static executable, or a script whose interpreter the container has (the
//! script itself is read through `/dev/fd/N`).

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::stat::{fstat, Mode, SFlag};
use runtime_core::{Error, ExitStatus, OsFailure, ProcessConfig, Result, Stdio};

use crate::error::{os_error, StepExt};
use crate::instance::Instance;
use crate::launcher;
use crate::platform::{join_files, NativePlatform};
use crate::protocol::{Confinement, ExecPlan, HookProgramPlan, Request};
use crate::security::caps::ProcessCapabilities;
use crate::sys;

/// One hook to run in a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerHook {
    pub program: HookProgram,
    /// The arguments, `argv[0]` included (which may differ from the program). Empty: the
    /// program's path alone.
    pub args: Vec<String>,
    /// The environment, exactly (no `PATH` is added).
    pub env: Vec<String>,
    /// Killed (`SIGKILL`) once this has passed since it started; `None`: no limit.
    pub timeout: Option<Duration>,
}

/// Where a hook's program is found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HookProgram {
    /// An absolute path on the host (OCI `createContainer`: "the path MUST resolve in the
    /// runtime namespace"), opened by the host and executed by fd (see the module's
    /// documentation for what must resolve in the container).
    Host(PathBuf),
    /// An absolute path inside the container (OCI `startContainer`), resolved in its root as
    /// an exec's program is.
    Container(String),
}

impl HookProgram {
    fn path(&self) -> String {
        match self {
            HookProgram::Host(path) => path.display().to_string(),
            HookProgram::Container(path) => path.clone(),
        }
    }
}

/// What a hook that exited 0 wrote: the first [`OUTPUT_LIMIT`] bytes of its stdout and the
/// last [`OUTPUT_LIMIT`] of its stderr.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HookOutput {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// How much of each stream is kept.
pub const OUTPUT_LIMIT: usize = 64 * 1024;

/// How much of the end of its stderr the error of a failed hook quotes.
const STDERR_IN_ERROR: usize = 2048;

/// Runs `hook` in the container of `instance`, with `stdin` as its input, and waits for it.
pub(crate) fn run(
    platform: &NativePlatform,
    instance: &Instance,
    hook: &ContainerHook,
    stdin: &[u8],
) -> Result<HookOutput> {
    let program = hook.program.path();
    let (process, host_program) = checked(hook)?;
    let plan_program = match &host_program {
        Some(opened) => HookProgramPlan::Attached {
            script: opened.script,
        },
        None => HookProgramPlan::Path(program.clone()),
    };
    let plan = ExecPlan {
        process,
        confinement: unconfined()?,
        init_pid: instance.pid,
        namespaces: instance.exec_namespaces,
        cgroup_procs: join_files(&instance.cgroup),
        extra_fds: 0,
        hook: Some(plan_program),
        session_keyring: (!instance.share_session_keyring).then(|| instance.id.clone()),
    };

    let (stdin_read, stdin_write) = pipe("stdin")?;
    let (stdout_read, stdout_write) = pipe("stdout")?;
    let (stderr_read, stderr_write) = pipe("stderr")?;
    let stdio = Stdio {
        stdin: Some(stdin_read.as_raw_fd()),
        stdout: Some(stdout_write.as_raw_fd()),
        stderr: Some(stderr_write.as_raw_fd()),
        extra: Vec::new(),
    };
    let mut attached = vec![instance.pidfd.as_fd()];
    attached.extend(host_program.as_ref().map(|opened| opened.fd.as_fd()));
    let launched = launcher::launch(
        &platform.helper,
        &stdio,
        &Request::Exec(Box::new(plan)),
        &attached,
    )?;
    drop(attached);
    drop(host_program);
    // The hook's ends are its own now. The read end of its stdin stays open here, so that a
    // hook that exits without reading never makes a write raise SIGPIPE in the host.
    drop((stdout_write, stderr_write));
    let pidfd = launched.pidfd;
    if let Err(error) = launcher::start(launched.channel) {
        launcher::kill_and_reap(&pidfd);
        return Err(error);
    }
    let started = Instant::now();
    let outcome = supervise(
        &pidfd,
        Streams {
            stdin: Some((stdin_write, stdin)),
            stdout: Some(stdout_read),
            stderr: Some(stderr_read),
        },
        hook.timeout.map(|timeout| started + timeout),
    );
    drop(stdin_read);
    let collected = match outcome {
        Ok(collected) => collected,
        Err(error) => {
            launcher::kill_and_reap(&pidfd);
            return Err(error);
        }
    };
    let Collected { output, timed_out } = collected;
    if timed_out {
        launcher::kill_and_reap(&pidfd);
        let timeout = hook.timeout.unwrap_or_default();
        return Err(hook_failed(
            &program,
            libc::ETIMEDOUT,
            format!(
                "timed out after {} s, and was killed{}",
                seconds(timeout),
                stderr_end(&output.stderr)
            ),
        ));
    }
    let status = sys::pidfd::wait(pidfd.as_fd(), false)
        .step(|| format!("wait for the hook {program}"))?
        .ok_or_else(|| Error::Internal("waitid returned no status".into()))?;
    if status == ExitStatus::exited(0) {
        return Ok(output);
    }
    let how = match status.signal {
        Some(signal) => format!("was killed by signal {signal}"),
        None => format!("exited with code {}", status.code),
    };
    Err(hook_failed(
        &program,
        -1,
        format!("{how}{}", stderr_end(&output.stderr)),
    ))
}

/// A hook's failure, as a system error naming the program: `hook /bin/check: exited with
/// code 3; its stderr ends with: "no network"`.
fn hook_failed(program: &str, code: i32, what: String) -> Error {
    Error::System(OsFailure {
        step: format!("hook {program}"),
        code,
        name: what,
    })
}

fn stderr_end(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(&stderr[stderr.len().saturating_sub(STDERR_IN_ERROR)..]);
    let text = text.trim();
    if text.is_empty() {
        String::new()
    } else {
        format!("; its stderr ends with: {text:?}")
    }
}

fn seconds(duration: Duration) -> String {
    if duration.subsec_millis() == 0 {
        duration.as_secs().to_string()
    } else {
        format!("{:.3}", duration.as_secs_f64())
    }
}

/// A host program, opened.
struct HostProgram {
    fd: OwnedFd,
    script: bool,
}

/// Checks the hook before anything is started, and opens a host program: its process (the
/// container's root, in `/`, its args and env exactly) and the open program.
fn checked(hook: &ContainerHook) -> Result<(ProcessConfig, Option<HostProgram>)> {
    let path = hook.program.path();
    if !path.starts_with('/') {
        return Err(Error::invalid(
            "hook.program",
            format!("{path:?} is relative; an absolute path is required"),
        ));
    }
    let no_nul = |field: String, text: &str| {
        if text.contains('\0') {
            Err(Error::invalid(field, "contains NUL"))
        } else {
            Ok(())
        }
    };
    no_nul("hook.program".into(), &path)?;
    for (index, arg) in hook.args.iter().enumerate() {
        no_nul(format!("hook.args[{index}]"), arg)?;
    }
    for (index, var) in hook.env.iter().enumerate() {
        no_nul(format!("hook.env[{index}]"), var)?;
        if !var.contains('=') {
            return Err(Error::invalid(
                format!("hook.env[{index}]"),
                format!("{var:?} is not KEY=VALUE"),
            ));
        }
    }
    if hook.timeout == Some(Duration::ZERO) {
        return Err(Error::invalid("hook.timeout", "must be more than 0"));
    }
    let args = if hook.args.is_empty() {
        vec![path.clone()]
    } else {
        hook.args.clone()
    };
    let mut process = ProcessConfig::new(args);
    process.env = hook.env.clone();
    process.cwd = "/".into();
    process.user = "0:0".into();
    process.no_new_privileges = false;
    let host = match &hook.program {
        HookProgram::Host(path) => Some(open_host_program(path)?),
        HookProgram::Container(_) => None,
    };
    Ok((process, host))
}

/// Opens a host hook's program: a regular file, read-only (a script's interpreter reads it
/// through the fd), close-on-exec.
fn open_host_program(path: &Path) -> Result<HostProgram> {
    let fd = nix::fcntl::open(path, OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty())
        .step(|| format!("open the hook {}", path.display()))?;
    let stat = fstat(&fd).step(|| format!("stat the hook {}", path.display()))?;
    if SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT != SFlag::S_IFREG {
        return Err(Error::invalid(
            "hook.program",
            format!("{} is not a regular file", path.display()),
        ));
    }
    let mut start = [0u8; 2];
    let read = nix::sys::uio::pread(&fd, &mut start, 0)
        .step(|| format!("read the hook {}", path.display()))?;
    Ok(HostProgram {
        fd,
        script: read == 2 && start == *b"#!",
    })
}

/// Every capability berth holds, no seccomp filter: a hook is as privileged as the container's
/// root can be. (`no_new_privs` is off in its process.)
fn unconfined() -> Result<Confinement> {
    let mut privileged = ProcessConfig::new(["hook"]);
    privileged.privileged = true;
    Ok(Confinement {
        capabilities: ProcessCapabilities::for_process(&privileged, "hook")?,
        seccomp: None,
    })
}

/// A pipe, both ends close-on-exec.
fn pipe(name: &str) -> Result<(OwnedFd, OwnedFd)> {
    nix::unistd::pipe2(OFlag::O_CLOEXEC).step(|| format!("make the hook's {name} pipe"))
}

/// The host's ends of a hook's streams, and what is left to write.
struct Streams<'a> {
    stdin: Option<(OwnedFd, &'a [u8])>,
    stdout: Option<OwnedFd>,
    stderr: Option<OwnedFd>,
}

struct Collected {
    output: HookOutput,
    timed_out: bool,
}

/// Writes the hook's stdin and reads its output until it exits (its pidfd is readable) or
/// `deadline` passes. Never reaps it.
fn supervise(
    pidfd: &OwnedFd,
    mut streams: Streams<'_>,
    deadline: Option<Instant>,
) -> Result<Collected> {
    for fd in streams
        .stdin
        .as_ref()
        .map(|(fd, _)| fd)
        .into_iter()
        .chain(&streams.stdout)
        .chain(&streams.stderr)
    {
        set_nonblocking(fd.as_fd())?;
    }
    let mut output = HookOutput::default();
    loop {
        if streams
            .stdin
            .as_ref()
            .is_some_and(|(_, rest)| rest.is_empty())
        {
            // All written: the end of its input.
            streams.stdin = None;
        }
        let timeout = match deadline {
            None => PollTimeout::NONE,
            Some(deadline) => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    drain(&mut streams, &mut output);
                    return Ok(Collected {
                        output,
                        timed_out: true,
                    });
                }
                // Rounded up, so that the poll does not wake just before the deadline.
                let millis = left.as_millis().saturating_add(1).min(i32::MAX as u128);
                PollTimeout::try_from(millis as i32).unwrap_or(PollTimeout::MAX)
            }
        };
        let (exited, stdin_ready, stdout_ready, stderr_ready) = {
            let mut fds = vec![PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
            let stdin_at = streams.stdin.as_ref().map(|(fd, _)| {
                fds.push(PollFd::new(fd.as_fd(), PollFlags::POLLOUT));
                fds.len() - 1
            });
            let stdout_at = streams.stdout.as_ref().map(|fd| {
                fds.push(PollFd::new(fd.as_fd(), PollFlags::POLLIN));
                fds.len() - 1
            });
            let stderr_at = streams.stderr.as_ref().map(|fd| {
                fds.push(PollFd::new(fd.as_fd(), PollFlags::POLLIN));
                fds.len() - 1
            });
            match poll(&mut fds, timeout) {
                Ok(_) | Err(Errno::EINTR) => {}
                Err(errno) => return Err(os_error("poll the hook's streams", errno)),
            }
            let ready = |at: Option<usize>| {
                at.is_some_and(|at| fds[at].revents().is_some_and(|e| !e.is_empty()))
            };
            (
                ready(Some(0)),
                ready(stdin_at),
                ready(stdout_at),
                ready(stderr_at),
            )
        };
        if stdin_ready {
            write_some(&mut streams.stdin);
        }
        if stdout_ready {
            read_some(&mut streams.stdout, &mut output.stdout, Keep::First);
        }
        if stderr_ready {
            read_some(&mut streams.stderr, &mut output.stderr, Keep::Last);
        }
        if exited {
            // What it wrote before it exited is in the pipes (a child of its own may hold
            // them open and write on: that is not waited for).
            drain(&mut streams, &mut output);
            return Ok(Collected {
                output,
                timed_out: false,
            });
        }
    }
}

fn set_nonblocking(fd: BorrowedFd<'_>) -> Result<()> {
    let flags = fcntl(fd, FcntlArg::F_GETFL).step(|| "read a hook pipe's flags")?;
    let flags = OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK;
    fcntl(fd, FcntlArg::F_SETFL(flags))
        .map(drop)
        .step(|| "make a hook pipe non-blocking")
}

/// Writes what the pipe takes now; closes it once all is written, or if the hook closed its
/// end. (The host holds a read end too, so this is never `EPIPE`: see [`run`].)
fn write_some(stdin: &mut Option<(OwnedFd, &[u8])>) {
    let Some((fd, rest)) = stdin else { return };
    match nix::unistd::write(&*fd, rest) {
        Ok(written) => *rest = &rest[written..],
        Err(Errno::EAGAIN | Errno::EINTR) => {}
        Err(_) => *stdin = None,
    }
}

#[derive(Clone, Copy)]
enum Keep {
    First,
    Last,
}

/// Reads what there is now, keeping at most [`OUTPUT_LIMIT`] bytes (the first or the last);
/// closes the stream at its end.
fn read_some(stream: &mut Option<OwnedFd>, kept: &mut Vec<u8>, keep: Keep) -> bool {
    let Some(fd) = stream else { return false };
    let mut buffer = [0u8; 16 * 1024];
    match nix::unistd::read(&*fd, &mut buffer) {
        Ok(0) => {
            *stream = None;
            false
        }
        Ok(n) => {
            kept.extend_from_slice(&buffer[..n]);
            if kept.len() > OUTPUT_LIMIT {
                match keep {
                    Keep::First => kept.truncate(OUTPUT_LIMIT),
                    Keep::Last => {
                        kept.drain(..kept.len() - OUTPUT_LIMIT);
                    }
                }
            }
            true
        }
        Err(Errno::EINTR) => true,
        Err(Errno::EAGAIN) => false,
        Err(_) => {
            *stream = None;
            false
        }
    }
}

/// Reads what is left in the pipes without waiting, up to a bound: a process that keeps
/// writing is not followed.
fn drain(streams: &mut Streams<'_>, output: &mut HookOutput) {
    for _ in 0..64 {
        let more_out = read_some(&mut streams.stdout, &mut output.stdout, Keep::First);
        let more_err = read_some(&mut streams.stderr, &mut output.stderr, Keep::Last);
        if !more_out && !more_err {
            break;
        }
    }
}
