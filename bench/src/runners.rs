//! The runtimes under test and how each is called: berth in-process (Rust API and C ABI),
//! the berth CLI (`berth`, a runtime of its own beside runc and crun, on the same bundles),
//! runc and crun, and the floors (a bare `unshare`, the wrapper
//! alone, `nsenter`).

use std::ffi::{CStr, CString};
use std::path::{Path, PathBuf};
use std::process::Stdio as ProcStdio;
use std::sync::Arc;
use std::time::Duration;

use berth::{berth_driver, berth_error, berth_exit_status};
use runtime_core::{Command, Driver, ExitStatus, Hooks, ProcessConfig, Stdio};
use runtime_linux::{DriverOptions, LinuxDriver};
use serde::Serialize;

use crate::oci;
use crate::util;

/// berth's state root for the benchmark.
pub const BERTH_ROOT: &str = "/run/berth-bench";
/// The cgroup parent of berth's containers.
pub const CGROUP_PARENT: &str = "berth-bench";
/// The cgroup parent of runc's and crun's containers.
pub const OCI_CGROUP_PARENT: &str = "berth-bench-oci";
/// Bundles, command files and profiles.
pub const WORK: &str = "/run/berth-bench-work";
/// The seccomp cache of berth's drivers (the driver option `seccomp_cache`, which the berth
/// CLI sets on its own root too): a new driver reads its compiled programs from there.
pub const SECCOMP_CACHE: &str = "/run/berth-bench-work/seccomp";
/// The errors of every failed `LinuxDriver::new` of this process (each was tried again).
pub static DRIVER_FAILURES: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// The memory limit every container gets.
pub const MEMORY_LIMIT: i64 = 64 << 20;

/// The OCI runtimes run as processes: crun, runc, and berth's own CLI (`berth`), which
/// takes the same bundles and the same runc-compatible commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Oci {
    Crun,
    Runc,
    Berth,
}

impl Oci {
    pub fn name(self) -> &'static str {
        match self {
            Oci::Crun => "crun",
            Oci::Runc => "runc",
            Oci::Berth => "berth",
        }
    }

    /// Its state root (`--root`), ours alone.
    pub fn root(self) -> String {
        format!("/run/berth-bench-{}", self.name())
    }

    fn global_args(self) -> Vec<String> {
        vec!["--root".into(), self.root()]
    }
}

/// What every runner needs: the rootfs, the programs, and the wrapper.
#[derive(Debug, Clone)]
pub struct Env {
    pub rootfs: String,
    /// The berth CLI (`berth`, runtime-cli's binary), beside this program.
    pub berth_cli: PathBuf,
    /// The `berth-init` helper, when it sits beside this program.
    pub helper: Option<PathBuf>,
    /// The cgroup2 mount the wrapper unmounts (hybrid hosts), if any.
    pub unified: Option<String>,
    /// What berth's own container got, read from a probe container: the device cgroup rules
    /// the OCI configs copy, and the check of [`Env::confinement`].
    pub isolation: oci::Isolation,
    /// What berth confines the benchmark's process with (its commands differ only in their
    /// args), computed by runtime-linux: the OCI configs' capabilities and seccomp profile.
    pub confinement: oci::Confinement,
}

impl Env {
    /// The benchmark's container: `args` in the busybox rootfs, every namespace new (pid, ipc,
    /// uts, mount, cgroup, and net with only `lo`), the standard mounts, a memory limit.
    pub fn command<S: Into<String>>(&self, id: &str, args: impl IntoIterator<Item = S>) -> Command {
        let mut command = Command::new(id, self.rootfs.clone(), ProcessConfig::new(args));
        command.hostname = Some("bench".into());
        command.resources.memory_limit = Some(MEMORY_LIMIT);
        command.cgroup_parent = Some(CGROUP_PARENT.into());
        command
    }

    /// The shell text of the wrapper every process-based runtime runs under: a private mount
    /// namespace without the cgroup2 mount, which crun refuses on hybrid hosts.
    pub fn wrapper_text(&self) -> String {
        match &self.unified {
            Some(path) => format!(
                "unshare -m --propagation private sh -c 'umount {path} && exec \"$0\" \"$@\"' PROGRAM ARGS..."
            ),
            None => "unshare -m --propagation private sh -c 'exec \"$0\" \"$@\"' PROGRAM ARGS...".into(),
        }
    }

    /// `program args` under the wrapper, with the standard streams on /dev/null except
    /// stderr, which is piped for the error message.
    pub fn wrapped<S: AsRef<str>>(&self, program: &str, args: &[S]) -> std::process::Command {
        let script = match &self.unified {
            Some(path) => format!("umount {path} && exec \"$0\" \"$@\""),
            None => "exec \"$0\" \"$@\"".to_string(),
        };
        let mut command = std::process::Command::new("unshare");
        command
            .args([
                "-m",
                "--propagation",
                "private",
                "sh",
                "-c",
                &script,
                program,
            ])
            .args(args.iter().map(|a| a.as_ref()))
            .stdin(ProcStdio::null())
            .stdout(ProcStdio::null())
            .stderr(ProcStdio::piped());
        command
    }

    /// Writes a bundle for `command` (its `config.json`; the rootfs is referred to by its
    /// absolute path) and returns its directory.
    pub fn bundle(&self, command: &Command) -> Result<PathBuf, String> {
        let dir = Path::new(WORK).join("bundles").join(&command.id);
        std::fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
        let cgroups_path = format!("/{OCI_CGROUP_PARENT}/{}", command.id);
        let config = oci::config(
            command,
            &cgroups_path,
            &self.confinement,
            &self.isolation.device_rules,
        )?;
        let path = dir.join("config.json");
        std::fs::write(&path, serde_json::to_vec_pretty(&config).unwrap())
            .map_err(|e| format!("write {}: {e}", path.display()))?;
        Ok(dir)
    }

    /// Writes the `process.json` of an exec and returns its path.
    pub fn process_file(&self, name: &str, process: &ProcessConfig) -> Result<PathBuf, String> {
        let dir = Path::new(WORK);
        std::fs::create_dir_all(dir).map_err(|e| format!("create {WORK}: {e}"))?;
        let caps = runtime_linux::security::CapabilitySet::for_process(process, "process")
            .map_err(|e| e.to_string())?;
        let value = oci::process(process, Path::new(&self.rootfs), caps)?;
        let path = dir.join(format!("{name}.process.json"));
        std::fs::write(&path, serde_json::to_vec_pretty(&value).unwrap())
            .map_err(|e| format!("write {}: {e}", path.display()))?;
        Ok(path)
    }

    /// The program that runs `oci`: crun and runc from `PATH`, berth's CLI by its path.
    pub fn program(&self, oci: Oci) -> String {
        match oci {
            Oci::Berth => path_str(&self.berth_cli),
            other => other.name().into(),
        }
    }

    /// Runs a wrapped process to its end; an error if it fails.
    pub fn run_wrapped<S: AsRef<str>>(&self, program: &str, args: &[S]) -> Result<(), String> {
        finish(program, self.wrapped(program, args).output())
    }

    /// `runc run` / `crun run` of a bundle, in the foreground: returns when the container has
    /// exited (and the runtime has destroyed it).
    pub fn oci_run(&self, oci: Oci, id: &str, bundle: &Path) -> Result<(), String> {
        let mut args = oci.global_args();
        args.extend(["run".into(), "--bundle".into(), path_str(bundle), id.into()]);
        self.run_wrapped(&self.program(oci), &args)
    }

    /// `create`, `start`, then `delete --force` of a bundle, each a process under the wrapper:
    /// what an engine's shim calls for a container. The container's streams are /dev/null
    /// (none may be a pipe `create` would wait on); `create`'s stderr goes to a file, read
    /// for the error.
    pub fn oci_create_start_delete(&self, oci: Oci, id: &str, bundle: &Path) -> Result<(), String> {
        let program = self.program(oci);
        let mut args = oci.global_args();
        args.extend([
            "create".into(),
            "--bundle".into(),
            path_str(bundle),
            id.into(),
        ]);
        let log = bundle.join("create.stderr");
        let file =
            std::fs::File::create(&log).map_err(|e| format!("create {}: {e}", log.display()))?;
        let status = self
            .wrapped(&program, &args)
            .stderr(file)
            .status()
            .map_err(|e| format!("{program}: {e}"))?;
        if !status.success() {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            return Err(format!(
                "{} create {id}: {status}: {}",
                oci.name(),
                text.trim()
            ));
        }
        for step in [vec!["start"], vec!["delete", "--force"]] {
            let mut args = oci.global_args();
            args.extend(step.iter().map(|s| s.to_string()));
            args.push(id.into());
            self.run_wrapped(&program, &args)?;
        }
        Ok(())
    }

    /// `run --detach`: the container keeps running; returns its init's pid.
    pub fn oci_run_detached(&self, oci: Oci, id: &str, bundle: &Path) -> Result<i32, String> {
        let pid_file = bundle.join("pid");
        let mut args = oci.global_args();
        args.extend([
            "run".into(),
            "--detach".into(),
            "--pid-file".into(),
            path_str(&pid_file),
            "--bundle".into(),
            path_str(bundle),
            id.into(),
        ]);
        // The container inherits the runtime's streams: none may be a pipe we wait on.
        let mut command = self.wrapped(&self.program(oci), &args);
        command.stderr(ProcStdio::null());
        let status = command
            .status()
            .map_err(|e| format!("{}: {e}", oci.name()))?;
        if !status.success() {
            return Err(format!("{} run --detach {id}: {status}", oci.name()));
        }
        let pid = std::fs::read_to_string(&pid_file)
            .map_err(|e| format!("read {}: {e}", pid_file.display()))?;
        pid.trim()
            .parse()
            .map_err(|_| format!("{}: bad pid {pid:?}", pid_file.display()))
    }

    /// `exec --process FILE ID`, to its end.
    pub fn oci_exec(&self, oci: Oci, id: &str, process_file: &Path) -> Result<(), String> {
        let mut args = oci.global_args();
        args.extend([
            "exec".into(),
            "--process".into(),
            path_str(process_file),
            id.into(),
        ]);
        self.run_wrapped(&self.program(oci), &args)
    }

    /// `delete --force`, then collects the init if it was re-parented here.
    pub fn oci_delete(&self, oci: Oci, id: &str, pid: Option<i32>) {
        if Path::new(&oci.root()).join(id).exists() {
            let mut args = oci.global_args();
            args.extend(["delete".into(), "--force".into(), id.into()]);
            let _ = self.wrapped(&self.program(oci), &args).output();
        }
        if let Some(pid) = pid {
            util::reap(pid, Duration::from_secs(2));
        }
        let _ = std::fs::remove_dir_all(Path::new(WORK).join("bundles").join(id));
    }

    /// The floor: the same namespaces, a fresh /proc, and `true`, with util-linux's unshare.
    pub fn floor(&self) -> Result<(), String> {
        finish(
            "unshare",
            std::process::Command::new("unshare")
                .args(["-pfmuinC", "--mount-proc", "true"])
                .stdin(ProcStdio::null())
                .stdout(ProcStdio::null())
                .stderr(ProcStdio::piped())
                .output(),
        )
    }

    /// The wrapper alone around `true`.
    pub fn wrapper_only(&self) -> Result<(), String> {
        self.run_wrapped::<&str>("true", &[])
    }

    /// The exec floor: `nsenter` into every namespace of a running process, and `true`.
    pub fn nsenter(&self, pid: i32) -> Result<(), String> {
        finish(
            "nsenter",
            std::process::Command::new("nsenter")
                .args([
                    "-t",
                    &pid.to_string(),
                    "-p",
                    "-m",
                    "-u",
                    "-i",
                    "-n",
                    "-C",
                    "-r",
                    "-w",
                ])
                .arg("/bin/true")
                .stdin(ProcStdio::null())
                .stdout(ProcStdio::null())
                .stderr(ProcStdio::piped())
                .output(),
        )
    }

    /// A berth driver through the Rust API, with the benchmark's root and cgroup parent. A
    /// failed `LinuxDriver::new` is tried again (twice at most) and counted in
    /// [`DRIVER_FAILURES`], which the report shows.
    pub fn berth_driver(&self) -> Result<LinuxDriver, String> {
        // The seccomp cache's parent (the cache itself is made by the driver).
        let _ = std::fs::create_dir_all(WORK);
        let mut attempt = 0;
        loop {
            let made = LinuxDriver::new(DriverOptions {
                root: Some(BERTH_ROOT.into()),
                helper_path: self.helper.clone(),
                cgroup_parent: Some(CGROUP_PARENT.into()),
                seccomp_cache: Some(SECCOMP_CACHE.into()),
                ..DriverOptions::default()
            })
            .map_err(|e| format!("LinuxDriver::new: {e}"));
            match made {
                Ok(driver) => return Ok(driver),
                Err(e) => {
                    DRIVER_FAILURES.lock().unwrap().push(e.clone());
                    attempt += 1;
                    if attempt == 3 {
                        return Err(e);
                    }
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
            }
        }
    }

    /// A berth driver through the C ABI.
    pub fn ffi_driver(&self) -> Result<FfiDriver, String> {
        let _ = std::fs::create_dir_all(WORK);
        let mut options = serde_json::json!({
            "root": BERTH_ROOT,
            "cgroup_parent": CGROUP_PARENT,
            "seccomp_cache": SECCOMP_CACHE,
        });
        if let Some(helper) = &self.helper {
            options["helper_path"] = serde_json::json!(helper);
        }
        FfiDriver::new(&options.to_string())
    }
}

fn path_str(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

fn finish(program: &str, output: std::io::Result<std::process::Output>) -> Result<(), String> {
    let output = output.map_err(|e| format!("{program}: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{program}: {}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// A successful exit, or an error naming how it ended.
pub fn expect_success(what: &str, status: ExitStatus) -> Result<(), String> {
    if status.success() {
        Ok(())
    } else {
        Err(format!("{what}: exited {status:?}"))
    }
}

/// What berth's container really gets on this host: a probe container's capabilities,
/// seccomp mode and `no_new_privs` (its `/proc/PID/status`, read from the host) and its device
/// cgroup rules.
pub fn probe_isolation(env: &Env) -> oci::Isolation {
    let probe = || -> Result<oci::Isolation, String> {
        let driver = env.berth_driver()?;
        let id = util::new_id("probe");
        let command = env.command(&id, crate::measure::exec::SLEEP);
        let pid = berth_start(&driver, &command, Arc::new(runtime_core::NoHooks))?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"));
        let devices = runtime_linux::cgroups::CgroupManager::detect()
            .ok()
            .and_then(|m| {
                m.v1_mounts()
                    .into_iter()
                    .find(|(names, _)| names.split(',').any(|n| n == "devices"))
            })
            .and_then(|(_, mount)| {
                std::fs::read_to_string(mount.join(CGROUP_PARENT).join(&id).join("devices.list"))
                    .ok()
            });
        let _ = driver.delete(&id, true);
        let mut iso = oci::Isolation::from_status(
            &status.map_err(|e| format!("read /proc/{pid}/status: {e}"))?,
        );
        iso.device_rules = devices
            .unwrap_or_default()
            .lines()
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty())
            .collect();
        Ok(iso)
    };
    probe().unwrap_or_else(oci::Isolation::failed)
}

/// Runs one container through the Rust API: `Driver::run` (of the native or the LXC driver).
pub fn berth_run(driver: &impl Driver, command: &Command) -> Result<(), String> {
    let status = driver
        .run(command, &Stdio::null(), Arc::new(runtime_core::NoHooks))
        .map_err(|e| format!("berth run: {e}"))?;
    expect_success("berth run", status)
}

/// Starts a container through the Rust API and leaves it running: create, then start.
pub fn berth_start(
    driver: &impl Driver,
    command: &Command,
    hooks: Arc<dyn Hooks>,
) -> Result<i32, String> {
    let pid = driver
        .create(command, &Stdio::null(), hooks)
        .map_err(|e| format!("berth create: {e}"))?;
    if let Err(e) = driver.start(&command.id) {
        let _ = driver.delete(&command.id, true);
        return Err(format!("berth start: {e}"));
    }
    Ok(pid)
}

/// The outcome of an exec call: a time, or why there is none.
pub enum ExecOutcome {
    Ok,
    /// The driver says it has no exec (`ErrorKind::Unsupported`).
    Unsupported(String),
    Failed(String),
}

/// `Driver::exec` of `process` in container `id`.
pub fn berth_exec(driver: &impl Driver, id: &str, process: &ProcessConfig) -> ExecOutcome {
    match driver.exec(id, process, &Stdio::null(), Arc::new(runtime_core::NoHooks)) {
        Ok(status) if status.success() => ExecOutcome::Ok,
        Ok(status) => ExecOutcome::Failed(format!("berth exec: exited {status:?}")),
        Err(e) if e.kind() == runtime_core::ErrorKind::Unsupported => {
            ExecOutcome::Unsupported(e.to_string())
        }
        Err(e) => ExecOutcome::Failed(format!("berth exec: {e}")),
    }
}

/// A driver made and used through the C ABI (`berth_driver_new`, `berth_run`, ...), called
/// from Rust as a C program would call it.
pub struct FfiDriver {
    driver: *mut berth_driver,
}

/// The error a C ABI call returned, freed.
fn take_error(err: *mut berth_error) -> Result<(), (berth::berth_error_kind, String)> {
    if err.is_null() {
        return Ok(());
    }
    let kind = berth::berth_error_kind_of(err);
    let text = crate::sys::error_message(err);
    berth::berth_error_free(err);
    Err((kind, text))
}

impl FfiDriver {
    pub fn new(options_json: &str) -> Result<FfiDriver, String> {
        let options = CString::new(options_json).map_err(|e| e.to_string())?;
        let mut driver: *mut berth_driver = std::ptr::null_mut();
        take_error(berth::berth_driver_new(options.as_ptr(), &mut driver))
            .map_err(|(_, m)| format!("berth_driver_new: {m}"))?;
        Ok(FfiDriver { driver })
    }

    /// `berth_run` of a command given as JSON.
    pub fn run(&self, command_json: &CStr) -> Result<(), String> {
        let mut status = berth_exit_status::default();
        take_error(berth::berth_run(
            self.driver,
            command_json.as_ptr(),
            // NULL: every stream on /dev/null, no hooks.
            std::ptr::null(),
            std::ptr::null(),
            &mut status,
        ))
        .map_err(|(_, m)| format!("berth_run: {m}"))?;
        ffi_success("berth_run", status)
    }

    /// `berth_create` then `berth_start`: the container keeps running.
    pub fn start(&self, command_json: &CStr, id: &CStr) -> Result<i32, String> {
        let mut pid = 0;
        take_error(berth::berth_create(
            self.driver,
            command_json.as_ptr(),
            // NULL: every stream on /dev/null, no hooks.
            std::ptr::null(),
            std::ptr::null(),
            &mut pid,
        ))
        .map_err(|(_, m)| format!("berth_create: {m}"))?;
        take_error(berth::berth_start(self.driver, id.as_ptr()))
            .map_err(|(_, m)| format!("berth_start: {m}"))?;
        Ok(pid)
    }

    /// `berth_exec` of a process given as JSON.
    pub fn exec(&self, id: &CStr, process_json: &CStr) -> ExecOutcome {
        let mut status = berth_exit_status::default();
        match take_error(berth::berth_exec(
            self.driver,
            id.as_ptr(),
            process_json.as_ptr(),
            // NULL: every stream on /dev/null, no hooks.
            std::ptr::null(),
            std::ptr::null(),
            &mut status,
        )) {
            Ok(()) => match ffi_success("berth_exec", status) {
                Ok(()) => ExecOutcome::Ok,
                Err(e) => ExecOutcome::Failed(e),
            },
            Err((berth::berth_error_kind::BERTH_ERROR_UNSUPPORTED, m)) => {
                ExecOutcome::Unsupported(m)
            }
            Err((_, m)) => ExecOutcome::Failed(format!("berth_exec: {m}")),
        }
    }

    /// `berth_delete` with force.
    pub fn delete(&self, id: &CStr) {
        let _ = take_error(berth::berth_delete(self.driver, id.as_ptr(), true));
    }
}

fn ffi_success(what: &str, status: berth_exit_status) -> Result<(), String> {
    if status.exit_code == 0 && status.signal == 0 {
        Ok(())
    } else {
        Err(format!("{what}: exited {status:?}"))
    }
}

impl Drop for FfiDriver {
    fn drop(&mut self) {
        berth::berth_driver_free(self.driver);
    }
}
