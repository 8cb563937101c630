//! The LXC driver against bare LXC: berth's [`LxcDriver`] (the shared lifecycle over
//! `lxc-execute`) beside `lxc-execute` and `lxc-attach` run as processes on the same config
//! without berth's hooks.
//!
//! The bare config is not written by hand: it is the LXC driver's own `lxc.conf` of a probe
//! container, read from its state directory, less its `lxc.hook.*` lines, with its own
//! directory, id and cgroup dirs (under [`BARE_CGROUP_PARENT`]), plus the memory limit and
//! device rules that the driver writes into the cgroup itself (runc and crun are given the
//! same). So the two differ only by what berth adds around LXC, and stay equivalent when the
//! driver's config renderer changes. [`LxcSetup`] keeps both configs for the report.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio as ProcStdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use runtime_core::{Command, Driver, ErrorKind, NoHooks, Stdio};
use runtime_linux::{DriverOptions, LxcDriver};
use serde::{Deserialize, Serialize};

use crate::runners::{Env, MEMORY_LIMIT};
use crate::util::new_id;

/// The LXC driver's state root.
pub const LXC_ROOT: &str = "/run/berth-bench-lxc";
/// The cgroup parent of the LXC driver's containers.
pub const LXC_CGROUP_PARENT: &str = "berth-bench-lxc";
/// The directories (`-P`) of the bare LXC containers, one per container.
pub const BARE_ROOT: &str = "/run/berth-bench-lxc-bare";
/// The cgroup parent of the bare LXC containers.
pub const BARE_CGROUP_PARENT: &str = "berth-bench-lxc-bare";
/// What the LXC series say without LXC.
pub const NOT_INSTALLED: &str = "not measured: LXC not installed";
/// The file the LXC driver writes its config to, in a container's state directory.
const CONFIG_FILE: &str = "lxc.conf";
/// Where `lxc-execute` and `lxc-attach` are looked for (as the driver looks for the first).
const TOOL_DIRS: [&str; 4] = ["/usr/bin", "/usr/local/bin", "/usr/sbin", "/bin"];
/// Stand for a bare container's directory and id in the template.
const DIR_MARK: &str = "@BARE-DIR@";
const ID_MARK: &str = "@BARE-ID@";

/// What the report shows of the two configs.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LxcSetup {
    /// The LXC driver's `lxc.conf` of the probe container, as it wrote it.
    pub driver_config: String,
    /// The bare config of one container.
    pub bare_config: String,
    /// The driver's lines the bare config leaves out.
    pub dropped: Vec<String>,
    /// The lines the bare config adds (what the driver writes into the cgroup itself).
    pub added: Vec<String>,
}

/// An LXC driver, and the bare config of the same container.
pub struct Lxc {
    pub driver: LxcDriver,
    /// `lxc-execute` and `lxc-attach`.
    execute: PathBuf,
    attach: PathBuf,
    /// The bare config, with [`DIR_MARK`] and [`ID_MARK`].
    template: String,
    /// Files of the driver's state directory that its config names (a seccomp profile),
    /// written beside each bare config: name and contents.
    files: Vec<(String, Vec<u8>)>,
    pub setup: LxcSetup,
}

/// `lxc-execute -P DIR -n ID -f DIR/lxc.conf -- /bin/true`, its config written; its
/// directory is removed when it is dropped.
pub struct BareRun {
    dir: PathBuf,
    command: std::process::Command,
}

impl BareRun {
    /// Spawns `lxc-execute` and waits for its end.
    pub fn run(&mut self) -> Result<(), String> {
        finish("lxc-execute", self.command.output(), &self.dir)
    }
}

impl Drop for BareRun {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A bare LXC container left running (`lxc-execute` of `sleep`).
pub struct BareContainer {
    pub id: String,
    dir: PathBuf,
    monitor: Option<Child>,
}

fn find_tool(name: &str) -> Option<PathBuf> {
    TOOL_DIRS
        .iter()
        .map(|dir| Path::new(dir).join(name))
        .find(|path| path.is_file())
}

/// The benchmark's container for the LXC driver: [`Env::command`] under the LXC parent.
pub fn command<S: Into<String>>(env: &Env, id: &str, args: impl IntoIterator<Item = S>) -> Command {
    let mut command = env.command(id, args);
    command.cgroup_parent = Some(LXC_CGROUP_PARENT.into());
    command
}

impl Lxc {
    /// Makes the LXC driver and reads its config of a probe container (created, not started,
    /// then deleted). `Err` is the note for the LXC series: [`NOT_INSTALLED`] without LXC.
    pub fn new(env: &Env) -> Result<Lxc, String> {
        let (Some(execute), Some(attach)) = (find_tool("lxc-execute"), find_tool("lxc-attach"))
        else {
            return Err(NOT_INSTALLED.into());
        };
        let driver = LxcDriver::new(DriverOptions {
            root: Some(LXC_ROOT.into()),
            helper_path: env.helper.clone(),
            cgroup_parent: Some(LXC_CGROUP_PARENT.into()),
            ..DriverOptions::default()
        })
        .map_err(|e| match e.kind() {
            ErrorKind::Unsupported => format!("{NOT_INSTALLED} ({e})"),
            _ => format!("failed: LxcDriver::new: {e}"),
        })?;
        let id = new_id("lxcprobe");
        let probe = command(env, &id, ["/bin/true"]);
        driver
            .create(&probe, &Stdio::null(), Arc::new(NoHooks))
            .map_err(|e| format!("failed: the LXC driver's probe container: {e}"))?;
        let state_dir = driver.root().join(&id);
        let read = (|| {
            let config_path = state_dir.join(CONFIG_FILE);
            let config = std::fs::read_to_string(&config_path)
                .map_err(|e| format!("failed: read {}: {e}", config_path.display()))?;
            Ok::<_, String>(bare_template(env, &config, &state_dir, &id))
        })();
        let _ = driver.delete(&id, true);
        let (template, files, mut setup) = read?;
        setup.bare_config = fill(&template, Path::new(BARE_ROOT).join("ID").as_path(), "ID");
        Ok(Lxc {
            driver,
            execute,
            attach,
            template,
            files,
            setup,
        })
    }

    /// Writes the bare config of container `id` in its own directory; returns the directory.
    fn write_config(&self, id: &str) -> Result<PathBuf, String> {
        let dir = Path::new(BARE_ROOT).join(id);
        std::fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
        for (name, contents) in &self.files {
            std::fs::write(dir.join(name), contents)
                .map_err(|e| format!("write {}: {e}", dir.join(name).display()))?;
        }
        let path = dir.join(CONFIG_FILE);
        std::fs::write(&path, fill(&self.template, &dir, id))
            .map_err(|e| format!("write {}: {e}", path.display()))?;
        Ok(dir)
    }

    fn execute(&self, dir: &Path, id: &str, args: &[&str]) -> std::process::Command {
        let mut command = std::process::Command::new(&self.execute);
        command
            .arg("-P")
            .arg(dir)
            .args(["-n", id, "-f"])
            .arg(dir.join(CONFIG_FILE))
            .arg("--")
            .args(args)
            .stdin(ProcStdio::null())
            .stdout(ProcStdio::null())
            .stderr(ProcStdio::piped());
        command
    }

    /// A bare run of `/bin/true` in container `id`, ready: its config written.
    pub fn bare_run(&self, id: &str) -> Result<BareRun, String> {
        let dir = self.write_config(id)?;
        let command = self.execute(&dir, id, &["/bin/true"]);
        Ok(BareRun { dir, command })
    }

    /// Starts a bare container running `args` and waits until LXC says it runs.
    pub fn bare_start(&self, id: &str, args: &[&str]) -> Result<BareContainer, String> {
        let dir = self.write_config(id)?;
        let mut command = self.execute(&dir, id, args);
        // The container inherits lxc-execute's streams: none may be a pipe nobody reads.
        command.stderr(ProcStdio::null());
        let monitor = command.spawn().map_err(|e| format!("lxc-execute: {e}"))?;
        let container = BareContainer {
            id: id.into(),
            dir,
            monitor: Some(monitor),
        };
        let waited = std::process::Command::new("lxc-wait")
            .arg("-P")
            .arg(&container.dir)
            .args(["-n", id, "-s", "RUNNING", "-t", "10"])
            .stdin(ProcStdio::null())
            .stdout(ProcStdio::null())
            .stderr(ProcStdio::piped())
            .output();
        match finish("lxc-wait", waited, &container.dir) {
            Ok(()) => Ok(container),
            Err(e) => {
                self.bare_stop(container);
                Err(e)
            }
        }
    }

    /// `lxc-attach -P DIR -n ID --clear-env -- /bin/true`, to its end.
    pub fn bare_attach(&self, container: &BareContainer) -> Result<(), String> {
        let output = std::process::Command::new(&self.attach)
            .arg("-P")
            .arg(&container.dir)
            .args(["-n", &container.id, "--clear-env", "--", "/bin/true"])
            .stdin(ProcStdio::null())
            .stdout(ProcStdio::null())
            .stderr(ProcStdio::piped())
            .output();
        finish("lxc-attach", output, &container.dir)
    }

    /// Stops a bare container (`lxc-stop -k`), reaps its `lxc-execute` (killing it if it has
    /// not gone within 5 s) and removes its directory.
    pub fn bare_stop(&self, mut container: BareContainer) {
        let _ = std::process::Command::new("lxc-stop")
            .arg("-P")
            .arg(&container.dir)
            .args(["-n", &container.id, "-k"])
            .stdin(ProcStdio::null())
            .stdout(ProcStdio::null())
            .stderr(ProcStdio::null())
            .status();
        if let Some(mut monitor) = container.monitor.take() {
            let deadline = Instant::now() + Duration::from_secs(5);
            while matches!(monitor.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            if matches!(monitor.try_wait(), Ok(None)) {
                let _ = monitor.kill();
            }
            let _ = monitor.wait();
        }
        let _ = std::fs::remove_dir_all(&container.dir);
    }
}

/// The template with a container's directory and id in.
fn fill(template: &str, dir: &Path, id: &str) -> String {
    template
        .replace(DIR_MARK, &dir.display().to_string())
        .replace(ID_MARK, id)
}

/// The bare template of the driver's `config` of container `id` in `state_dir`: the hooks
/// left out, the cgroup dirs under [`BARE_CGROUP_PARENT`], paths in the state directory and
/// the id made the bare container's, the memory limit and device rules added. Returns the
/// template, the files of the state directory it names, and the setup for the report.
fn bare_template(
    env: &Env,
    config: &str,
    state_dir: &Path,
    id: &str,
) -> (String, Vec<(String, Vec<u8>)>, LxcSetup) {
    let dir = state_dir.display().to_string();
    let mut lines = Vec::new();
    let mut files = Vec::new();
    let mut dropped = Vec::new();
    for line in config.lines() {
        let Some((key, value)) = line.split_once('=') else {
            lines.push(line.to_string());
            continue;
        };
        let (key, value) = (key.trim(), value.trim());
        if key.starts_with("lxc.hook.") {
            dropped.push(line.to_string());
            continue;
        }
        let value = match key {
            "lxc.cgroup.dir.container" | "lxc.cgroup.dir" => {
                format!("{BARE_CGROUP_PARENT}/{ID_MARK}")
            }
            "lxc.cgroup.dir.monitor" => format!("{BARE_CGROUP_PARENT}/{ID_MARK}.lxc-monitor"),
            _ => {
                // A file of the state directory (the seccomp profile) goes beside the config;
                // LXC's log is LXC's own.
                if let Some(name) = value.strip_prefix(&format!("{dir}/")) {
                    if key != "lxc.log.file" {
                        if let Ok(contents) = std::fs::read(state_dir.join(name)) {
                            files.push((name.to_string(), contents));
                        }
                    }
                }
                value.replace(&dir, DIR_MARK).replace(id, ID_MARK)
            }
        };
        lines.push(format!("{key} = {value}"));
    }
    let added = cgroup_lines(env);
    lines.extend(added.iter().cloned());
    let mut template = lines.join("\n");
    template.push('\n');
    let setup = LxcSetup {
        driver_config: config.to_string(),
        bare_config: String::new(),
        dropped,
        added,
    };
    (template, files, setup)
}

/// What the LXC driver writes into the container's cgroup itself, as LXC config lines: the
/// memory limit, and the device rules berth's native container had (as runc and crun get).
fn cgroup_lines(env: &Env) -> Vec<String> {
    let v1: Vec<String> = runtime_linux::cgroups::CgroupManager::detect()
        .map(|m| m.v1_mounts().into_iter().map(|(names, _)| names).collect())
        .unwrap_or_default();
    let in_v1 = |controller: &str| v1.iter().any(|n| n.split(',').any(|c| c == controller));
    let mut lines = vec![if in_v1("memory") {
        format!("lxc.cgroup.memory.limit_in_bytes = {MEMORY_LIMIT}")
    } else {
        format!("lxc.cgroup2.memory.max = {MEMORY_LIMIT}")
    }];
    let rules = &env.isolation.device_rules;
    if !rules.is_empty() && rules.iter().any(|r| r != "a *:* rwm") {
        let prefix = if in_v1("devices") {
            "lxc.cgroup"
        } else {
            "lxc.cgroup2"
        };
        lines.push(format!("{prefix}.devices.deny = a"));
        lines.extend(
            rules
                .iter()
                .map(|rule| format!("{prefix}.devices.allow = {rule}")),
        );
    }
    lines
}

fn finish(
    program: &str,
    output: std::io::Result<std::process::Output>,
    dir: &Path,
) -> Result<(), String> {
    let output = output.map_err(|e| format!("{program}: {e}"))?;
    if output.status.success() {
        return Ok(());
    }
    let log = std::fs::read_to_string(dir.join("lxc.log")).unwrap_or_default();
    let tail: Vec<&str> = log.lines().rev().take(3).collect();
    Err(format!(
        "{program}: {}: {} {}",
        output.status,
        String::from_utf8_lossy(&output.stderr).trim(),
        tail.into_iter().rev().collect::<Vec<_>>().join(" / ")
    ))
}
