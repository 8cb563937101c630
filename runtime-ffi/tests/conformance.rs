//! The conformance suite (`berth-conformance`) against the native driver through the C ABI:
//! `CDriver` implements `runtime_core::Driver` with the exported `berth_*` functions only
//! (JSON in and out, `berth_hooks` callbacks, `berth_stdio`, `berth_error`), and the same
//! suite as `runtime-linux/tests/conformance.rs` runs through it.
//!
//! The helper is `$BERTH_HELPER`, or `berth-init` of this target directory, which the test
//! builds with cargo first (it is runtime-linux's binary, which this package's tests do not
//! build on their own). The rootfs is `$BERTH_TEST_ROOTFS`, or `build/rootfs` made by
//! `scripts/build-rootfs.sh`.

// The test plays the C caller: it hands raw pointers to the exported functions and reads the
// strings and callbacks they give back (see "Where unsafe code lives").
#![allow(unsafe_code)]

#[path = "../../runtime-linux/tests/common/conformance.rs"]
mod linux;

use std::collections::HashMap;
use std::ffi::{c_char, c_void, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::ptr;
use std::sync::{Arc, Mutex, MutexGuard};

use berth::*;

use linux::{Busybox, Fds};
use runtime_core::{
    Command, ContainerState, Driver, Error, ExitStatus, Hooks, OsFailure, ProcessConfig, Resources,
    Result, Stats, Stdio,
};

// ---- the adapter ----

/// The hooks of one call, behind the `user_data` pointer berth hands back to the callbacks.
type HookBox = Box<Arc<dyn Hooks>>;

/// A `runtime_core::Driver` made of the C ABI.
struct CDriver {
    raw: *mut berth_driver,
    /// The hooks of each created container, alive until it is deleted.
    hooks: Mutex<HashMap<String, HookBox>>,
    /// Hooks whose container is gone. Kept until the driver is freed, so that a driver that
    /// called a hook late would be seen by the suite instead of reading freed memory.
    retired: Mutex<Vec<HookBox>>,
}

// SAFETY: a `berth_driver` may be used from many threads at once (berth.h); the rest is
// behind mutexes.
unsafe impl Send for CDriver {}
// SAFETY: as for Send.
unsafe impl Sync for CDriver {}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The `berth_error` as a `runtime_core::Error` of the same kind, freeing it.
fn check(err: *mut berth_error) -> Result<()> {
    if err.is_null() {
        return Ok(());
    }
    let kind = berth_error_kind_of(err);
    // SAFETY: berth_error_message gives a NUL-terminated string owned by `err`, valid until
    // it is freed below.
    let message = unsafe { CStr::from_ptr(berth_error_message(err)) }
        .to_string_lossy()
        .into_owned();
    let errno = berth_error_errno(err);
    berth_error_free(err);
    let os = |message: String| OsFailure {
        step: message,
        code: errno,
        name: "(through the C ABI)".into(),
    };
    Err(match kind {
        berth_error_kind::BERTH_ERROR_INVALID_ARGUMENT => Error::InvalidArgument {
            field: "(C ABI)".into(),
            reason: message,
        },
        berth_error_kind::BERTH_ERROR_NOT_FOUND => Error::NotFound {
            what: "(C ABI)",
            name: message,
            hint: String::new(),
        },
        berth_error_kind::BERTH_ERROR_ALREADY_EXISTS => Error::AlreadyExists { id: message },
        berth_error_kind::BERTH_ERROR_INVALID_STATE => Error::InvalidState {
            id: message,
            state: "(C ABI)".into(),
            operation: "(C ABI)",
        },
        berth_error_kind::BERTH_ERROR_UNSUPPORTED => Error::Unsupported(message),
        berth_error_kind::BERTH_ERROR_PERMISSION => Error::Permission(os(message)),
        berth_error_kind::BERTH_ERROR_SYSTEM => Error::System(os(message)),
        berth_error_kind::BERTH_ERROR_INTERNAL => Error::Internal(message),
    })
}

fn c_string(what: &str, text: &str) -> Result<CString> {
    CString::new(text).map_err(|_| Error::invalid(what, "holds a NUL byte"))
}

fn c_json<T: serde::Serialize>(what: &str, value: &T) -> Result<CString> {
    c_string(what, &runtime_core::json::to_json(value)?)
}

fn c_stdio(stdio: &Stdio) -> berth_stdio {
    let handle = |stream: Option<i32>| stream.map_or(BERTH_NULL_HANDLE, |fd| fd as berth_handle);
    berth_stdio {
        size: std::mem::size_of::<berth_stdio>(),
        stdin_handle: handle(stdio.stdin),
        stdout_handle: handle(stdio.stdout),
        stderr_handle: handle(stdio.stderr),
    }
}

/// A string berth returned, freed with `berth_string_free`, parsed as JSON.
fn from_c_json<T: serde::de::DeserializeOwned>(what: &str, text: *mut c_char) -> Result<T> {
    // SAFETY: berth wrote a NUL-terminated string it owns until berth_string_free.
    let owned = unsafe { CStr::from_ptr(text) }
        .to_string_lossy()
        .into_owned();
    berth_string_free(text);
    runtime_core::json::from_json(what, &owned)
}

/// The hooks behind `user_data`, for one callback; a panic stops here instead of unwinding
/// into berth.
fn with_hooks(user_data: *mut c_void, id: *const c_char, call: impl FnOnce(&dyn Hooks, &str)) {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: `user_data` is the `HookBox` of this container, alive until the driver is
        // freed (see `CDriver::retired`); `id` is valid for the callback (berth.h).
        let (hooks, id) = unsafe {
            (
                &*(user_data as *const Arc<dyn Hooks>),
                CStr::from_ptr(id).to_string_lossy(),
            )
        };
        call(hooks.as_ref(), &id)
    }));
}

unsafe extern "C" fn c_on_start(user_data: *mut c_void, id: *const c_char, pid: i32) {
    with_hooks(user_data, id, |hooks, id| hooks.on_start(id, pid));
}

unsafe extern "C" fn c_on_oom(user_data: *mut c_void, id: *const c_char) {
    with_hooks(user_data, id, |hooks, id| hooks.on_oom(id));
}

unsafe extern "C" fn c_on_exit(
    user_data: *mut c_void,
    id: *const c_char,
    status: *const berth_exit_status,
) {
    // SAFETY: `status` is valid during the callback (berth.h).
    let status = ExitStatus::from(unsafe { &*status });
    with_hooks(user_data, id, |hooks, id| hooks.on_exit(id, &status));
}

unsafe extern "C" fn c_on_console(user_data: *mut c_void, id: *const c_char, master: berth_handle) {
    // A descriptor on Linux, so it fits.
    let master = master as i32;
    with_hooks(user_data, id, |hooks, id| hooks.on_console(id, master));
}

fn c_hooks(hooks: &HookBox) -> berth_hooks {
    berth_hooks {
        size: std::mem::size_of::<berth_hooks>(),
        user_data: &**hooks as *const Arc<dyn Hooks> as *mut c_void,
        on_start: Some(c_on_start),
        on_oom: Some(c_on_oom),
        on_exit: Some(c_on_exit),
        on_console: Some(c_on_console),
    }
}

impl CDriver {
    fn new(options: &serde_json::Value) -> Result<CDriver> {
        let options = c_string("options", &options.to_string())?;
        let mut raw = ptr::null_mut();
        check(berth_driver_new(options.as_ptr(), &mut raw))?;
        Ok(CDriver {
            raw,
            hooks: Mutex::new(HashMap::new()),
            retired: Mutex::new(Vec::new()),
        })
    }

    fn retire(&self, hooks: HookBox) {
        lock(&self.retired).push(hooks);
    }

    /// A call on one container that returns nothing else.
    fn on(
        &self,
        id: &str,
        call: impl FnOnce(*mut berth_driver, *const c_char) -> *mut berth_error,
    ) -> Result<()> {
        let id = c_string("id", id)?;
        check(call(self.raw, id.as_ptr()))
    }
}

impl Drop for CDriver {
    fn drop(&mut self) {
        berth_driver_free(self.raw);
    }
}

impl Driver for CDriver {
    fn run(&self, command: &Command, stdio: &Stdio, hooks: Arc<dyn Hooks>) -> Result<ExitStatus> {
        let json = c_json("command", command)?;
        let hooks: HookBox = Box::new(hooks);
        let mut status = berth_exit_status::default();
        let result = check(berth_run(
            self.raw,
            json.as_ptr(),
            &c_stdio(stdio),
            &c_hooks(&hooks),
            &mut status,
        ));
        self.retire(hooks);
        result.map(|()| ExitStatus::from(&status))
    }

    fn create(&self, command: &Command, stdio: &Stdio, hooks: Arc<dyn Hooks>) -> Result<i32> {
        let json = c_json("command", command)?;
        let hooks: HookBox = Box::new(hooks);
        let mut pid = 0;
        let result = check(berth_create(
            self.raw,
            json.as_ptr(),
            &c_stdio(stdio),
            &c_hooks(&hooks),
            &mut pid,
        ));
        match result {
            Ok(()) => {
                lock(&self.hooks).insert(command.id.clone(), hooks);
                Ok(pid)
            }
            Err(err) => {
                self.retire(hooks);
                Err(err)
            }
        }
    }

    fn start(&self, id: &str) -> Result<()> {
        self.on(id, |d, id| berth_start(d, id))
    }

    fn wait(&self, id: &str) -> Result<ExitStatus> {
        let mut status = berth_exit_status::default();
        self.on(id, |d, id| berth_wait(d, id, &mut status))?;
        Ok(ExitStatus::from(&status))
    }

    fn delete(&self, id: &str, force: bool) -> Result<()> {
        self.on(id, |d, c_id| berth_delete(d, c_id, force))?;
        if let Some(hooks) = lock(&self.hooks).remove(id) {
            self.retire(hooks);
        }
        Ok(())
    }

    fn exec(
        &self,
        id: &str,
        process: &ProcessConfig,
        stdio: &Stdio,
        hooks: Arc<dyn Hooks>,
    ) -> Result<ExitStatus> {
        let json = c_json("process", process)?;
        let hooks: HookBox = Box::new(hooks);
        let mut status = berth_exit_status::default();
        let result = self.on(id, |d, id| {
            berth_exec(
                d,
                id,
                json.as_ptr(),
                &c_stdio(stdio),
                &c_hooks(&hooks),
                &mut status,
            )
        });
        self.retire(hooks);
        result.map(|()| ExitStatus::from(&status))
    }

    fn exec_detached(
        &self,
        id: &str,
        process: &ProcessConfig,
        stdio: &Stdio,
        hooks: Arc<dyn Hooks>,
    ) -> Result<i32> {
        let json = c_json("process", process)?;
        let hooks: HookBox = Box::new(hooks);
        let mut pid = 0;
        let result = self.on(id, |d, id| {
            berth_exec_detached(
                d,
                id,
                json.as_ptr(),
                &c_stdio(stdio),
                &c_hooks(&hooks),
                &mut pid,
            )
        });
        // Its on_exit comes later: the hooks live until the driver is freed.
        self.retire(hooks);
        result.map(|()| pid)
    }

    fn wait_exec(&self, id: &str, pid: i32) -> Result<ExitStatus> {
        let mut status = berth_exit_status::default();
        self.on(id, |d, id| berth_wait_exec(d, id, pid, &mut status))?;
        Ok(ExitStatus::from(&status))
    }

    fn update(&self, id: &str, resources: &Resources) -> Result<()> {
        let json = c_json("resources", resources)?;
        self.on(id, |d, id| berth_update(d, id, json.as_ptr()))
    }

    fn kill(&self, id: &str, signal: i32, all: bool) -> Result<()> {
        self.on(id, |d, id| berth_kill(d, id, signal, all))
    }

    fn pause(&self, id: &str) -> Result<()> {
        self.on(id, |d, id| berth_pause(d, id))
    }

    fn resume(&self, id: &str) -> Result<()> {
        self.on(id, |d, id| berth_resume(d, id))
    }

    fn resize(&self, id: &str, rows: u16, cols: u16) -> Result<()> {
        self.on(id, |d, id| berth_resize(d, id, rows, cols))
    }

    fn state(&self, id: &str) -> Result<ContainerState> {
        let mut json = ptr::null_mut();
        self.on(id, |d, id| berth_state(d, id, &mut json))?;
        from_c_json("berth_state", json)
    }

    fn list(&self) -> Result<Vec<ContainerState>> {
        let mut json = ptr::null_mut();
        check(berth_list(self.raw, &mut json))?;
        from_c_json("berth_list", json)
    }

    fn stats(&self, id: &str) -> Result<Stats> {
        let mut json = ptr::null_mut();
        self.on(id, |d, id| berth_stats(d, id, &mut json))?;
        from_c_json("berth_stats", json)
    }
}

fn workspace() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

/// `$BERTH_TEST_ROOTFS`, or the busybox rootfs scripts/build-rootfs.sh makes (as the native
/// tests find it).
fn rootfs() -> String {
    if let Some(dir) = std::env::var_os("BERTH_TEST_ROOTFS").filter(|d| !d.is_empty()) {
        let dir = PathBuf::from(dir);
        assert!(
            dir.join("bin/busybox").is_file(),
            "BERTH_TEST_ROOTFS={} has no bin/busybox",
            dir.display()
        );
        return dir.to_str().unwrap().to_string();
    }
    let dir = workspace().join("build/rootfs");
    let status = std::process::Command::new(workspace().join("scripts/build-rootfs.sh"))
        .arg(&dir)
        .status()
        .expect("run scripts/build-rootfs.sh");
    assert!(status.success(), "scripts/build-rootfs.sh failed");
    dir.to_str().unwrap().to_string()
}

/// `$BERTH_HELPER`, or `berth-init` of this target directory, built now so that it matches
/// the library under test.
fn helper() -> PathBuf {
    if let Some(path) = std::env::var_os("BERTH_HELPER").filter(|p| !p.is_empty()) {
        return PathBuf::from(path);
    }
    // This test is <target>/<profile>/deps/conformance-<hash>.
    let exe = std::env::current_exe().expect("current_exe");
    let profile_dir = exe.parent().and_then(Path::parent).expect("target dir");
    let target_dir = profile_dir.parent().expect("target dir");
    let mut build = std::process::Command::new(env!("CARGO"));
    build
        .current_dir(workspace())
        .args([
            "build",
            "--quiet",
            "-p",
            "runtime-linux",
            "--bin",
            "berth-init",
        ])
        .arg("--target-dir")
        .arg(target_dir);
    if profile_dir.file_name().is_some_and(|p| p == "release") {
        build.arg("--release");
    }
    let status = build.status().expect("run cargo build for berth-init");
    assert!(status.success(), "cargo build of berth-init failed");
    let path = profile_dir.join("berth-init");
    assert!(path.is_file(), "{} was not built", path.display());
    path
}

fn main() {
    let mut failures = Vec::new();
    for kind in ["native", "lxc"] {
        if kind == "lxc" && !std::path::Path::new("/usr/bin/lxc-execute").exists() {
            eprintln!("lxc (C ABI): skipped, LXC is not installed (the test script installs it)");
            continue;
        }
        if let Err(failure) = std::panic::catch_unwind(|| run_kind(kind)) {
            failures.push((kind, failure));
        }
    }
    if let Some((_, failure)) = failures.pop() {
        std::panic::resume_unwind(failure);
    }
}

/// The suite against a driver of `kind` made through `berth_driver_new`.
fn run_kind(kind: &'static str) {
    let name = format!("berth-ffi-conformance-{kind}-{}", std::process::id());
    let root = std::env::var_os("BERTH_TEST_STATE_ROOT")
        .filter(|dir| !dir.is_empty())
        .map_or_else(|| PathBuf::from("/run"), PathBuf::from)
        .join(&name);
    let options = serde_json::json!({
        "kind": kind,
        "root": root,
        "helper_path": helper(),
        "cgroup_parent": name,
    });
    let driver = CDriver::new(&options).expect("berth_driver_new");
    let fixture = Arc::new(Busybox {
        name: if kind == "lxc" {
            "lxc (C ABI)"
        } else {
            "native (C ABI)"
        },
        driver,
        as_driver: |driver| driver,
        rootfs: rootfs(),
        root: root.clone(),
        cgroup_parent: name.clone(),
        fds: Fds::default(),
        lxc: kind == "lxc",
    });
    let report = berth_conformance::run_all(fixture.clone());
    // berth_driver_free before the verdict, so that a failure still cleans up.
    match Arc::try_unwrap(fixture) {
        Ok(fixture) => drop(fixture),
        Err(_) => eprintln!("warning: a hung case still holds the driver"),
    }
    let _ = std::fs::remove_dir(&root);
    let _ = runtime_linux::cgroups::CgroupManager::detect()
        .and_then(|cgroups| cgroups.remove_parent_if_empty(&name));
    let left = linux::left_after_driver(&root, &name);
    if !left.is_empty() {
        eprintln!("left behind by the driver: {left:?}");
    }
    report.assert_passed();
    assert!(left.is_empty(), "left behind by the driver: {left:?}");
}
