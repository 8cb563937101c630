//! OCI hooks that run in the runtime's namespace (prestart, createRuntime, poststart,
//! poststop): a program on the host, given the container's state on stdin, its own `args`
//! (with argv0) and exactly its `env`, and killed when its `timeout` runs out.
//!
//! createContainer and startContainer hooks run in the container's namespaces: the library
//! runs those (`LinuxDriver::run_hook`).

use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::error::{CliError, CliResult};

/// The most of a hook's stderr an error quotes.
const STDERR_QUOTED: usize = 4096;

/// One hook, as recorded between invocations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookSpec {
    pub path: PathBuf,
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub env: Vec<String>,
    /// Seconds.
    #[serde(default)]
    pub timeout: Option<u64>,
}

impl From<&runtime_oci::Hook> for HookSpec {
    fn from(hook: &runtime_oci::Hook) -> HookSpec {
        HookSpec {
            path: hook.path.clone(),
            args: hook.args.clone(),
            env: hook.env.clone(),
            timeout: hook.timeout.map(|t| t.as_secs().max(1)),
        }
    }
}

pub fn specs(hooks: &[runtime_oci::Hook]) -> Vec<HookSpec> {
    hooks.iter().map(HookSpec::from).collect()
}

/// Runs `hooks` in the container's namespaces through the library, in order, each with
/// `state` on stdin; the first that fails ends the run. `in_container`: the path resolves in
/// the container (startContainer), else on the host (createContainer).
pub fn run_in_container(
    driver: &runtime_linux::LinuxDriver,
    id: &str,
    stage: &str,
    hooks: &[HookSpec],
    in_container: bool,
    state: &[u8],
) -> CliResult<()> {
    for (index, hook) in hooks.iter().enumerate() {
        let program = if in_container {
            runtime_linux::HookProgram::Container(hook.path.display().to_string())
        } else {
            runtime_linux::HookProgram::Host(hook.path.clone())
        };
        let hook = runtime_linux::ContainerHook {
            program,
            args: hook.args.clone(),
            env: hook.env.clone(),
            timeout: hook.timeout.map(Duration::from_secs),
        };
        driver
            .run_hook(id, &hook, state)
            .map_err(|error| CliError::new(format!("{stage} hook #{index}: {error}")))?;
    }
    Ok(())
}

/// Runs `hooks` in order, each with `state` on stdin; the first that fails ends the run with
/// an error naming the stage, the hook, how it ended and what it wrote to stderr.
pub fn run_all(stage: &str, hooks: &[HookSpec], state: &[u8]) -> CliResult<()> {
    for (index, hook) in hooks.iter().enumerate() {
        run_one(hook, state).map_err(|why| {
            CliError::new(format!(
                "{stage} hook #{index} ({}): {why}",
                hook.path.display()
            ))
        })?;
    }
    Ok(())
}

/// Runs `hooks` in order and logs a warning for each that fails (poststart, poststop: the
/// spec lets nothing stop there).
pub fn run_all_warning(stage: &str, hooks: &[HookSpec], state: &[u8]) {
    for (index, hook) in hooks.iter().enumerate() {
        if let Err(why) = run_one(hook, state) {
            crate::log::warn(&format!(
                "{stage} hook #{index} ({}): {why}",
                hook.path.display()
            ));
        }
    }
}

fn run_one(hook: &HookSpec, state: &[u8]) -> Result<(), String> {
    let mut command = Command::new(&hook.path);
    if let Some((argv0, rest)) = hook.args.split_first() {
        command.arg0(argv0).args(rest);
    }
    command
        .env_clear()
        .envs(hook.env.iter().filter_map(|kv| kv.split_once('=')))
        .current_dir("/")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        // Its own process group, so that a timeout kills what it started too.
        .process_group(0);
    let mut child = command.spawn().map_err(|err| format!("start it: {err}"))?;
    // A hook that does not read its stdin must not block us: a broken pipe is fine.
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(state);
    }
    let stderr = child.stderr.take();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut text = Vec::new();
        if let Some(stderr) = stderr {
            let _ = stderr.take(1 << 16).read_to_end(&mut text);
        }
        let _ = sender.send(text);
    });
    let timeout = hook.timeout.map(Duration::from_secs);
    let status = wait_with_timeout(&mut child, timeout)?;
    // A process the hook left behind may hold its stderr open: what it wrote by now is enough.
    let stderr = receiver
        .recv_timeout(Duration::from_millis(500))
        .unwrap_or_default();
    let quoted = String::from_utf8_lossy(&stderr[stderr.len().saturating_sub(STDERR_QUOTED)..])
        .trim()
        .to_string();
    match status {
        Some(status) if status.success() => Ok(()),
        Some(status) => Err(format!(
            "{status}{}",
            if quoted.is_empty() {
                String::new()
            } else {
                format!(", stderr: {quoted}")
            }
        )),
        None => Err(format!(
            "timed out after {} s; killed",
            timeout.map_or(0, |t| t.as_secs())
        )),
    }
}

/// Waits for this one child (never "any child"); `None` when the timeout ran out and it was
/// killed and reaped.
fn wait_with_timeout(
    child: &mut Child,
    timeout: Option<Duration>,
) -> Result<Option<std::process::ExitStatus>, String> {
    let Some(timeout) = timeout else {
        return child.wait().map(Some).map_err(|e| format!("wait: {e}"));
    };
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(1);
    loop {
        if let Some(status) = child.try_wait().map_err(|e| format!("wait: {e}"))? {
            return Ok(Some(status));
        }
        if Instant::now() >= deadline {
            let group = nix::unistd::Pid::from_raw(child.id() as i32);
            let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
            let _ = child.kill();
            let _ = child.wait();
            return Ok(None);
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}
