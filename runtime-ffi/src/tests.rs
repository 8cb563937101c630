//! The C ABI driven through fake drivers: argument checking, error values, panics, hooks and
//! string ownership. The real driver is exercised by `tests/c/test_berth.c`.

use std::collections::BTreeMap;
use std::ffi::{c_char, c_void, CString};
use std::ptr;
use std::sync::{Arc, Mutex};

use runtime_core::{
    Command, ContainerState, Driver, Error, ErrorKind, ExitStatus, Hooks, OsFailure, ProcessConfig,
    Resources, Result, Stats, Status, Stdio,
};

use crate::api::*;
use crate::boundary::driver_into_raw;
use crate::types::berth_error_kind::*;
use crate::types::*;

// ---- fakes ----

/// What a fake driver saw, shared with the test so that it outlives the driver.
#[derive(Default)]
struct Log {
    containers: BTreeMap<String, (Status, Arc<dyn Hooks>)>,
    deleted: Vec<(String, bool)>,
    killed: Vec<(String, i32, bool)>,
    stdio: Option<Stdio>,
    updated: Vec<(String, Resources)>,
    /// Whether the driver was dropped.
    dropped: bool,
}

/// A driver that keeps containers in a map and fires every hook.
struct Fake(Arc<Mutex<Log>>);

const FAKE_PID: i32 = 4242;
const FAKE_EXEC_PID: i32 = 5151;
const FAKE_CONSOLE_FD: i32 = 77;
/// What a Windows process killed by Ctrl+C exits with: 0xC000013A, above `i32::MAX`.
const WINDOWS_CTRL_C_EXIT: i64 = 0xC000_013A;
/// A command whose create fails the way a full disk does.
const NO_SPACE_PROGRAM: &str = "/no-space";

impl Fake {
    fn hooks(&self, id: &str) -> Result<Arc<dyn Hooks>> {
        let log = self.0.lock().unwrap();
        match log.containers.get(id) {
            Some((_, hooks)) => Ok(hooks.clone()),
            None => Err(Error::no_container(id)),
        }
    }

    fn set_status(&self, id: &str, status: Status) -> Result<()> {
        let mut log = self.0.lock().unwrap();
        match log.containers.get_mut(id) {
            Some(entry) => {
                entry.0 = status;
                Ok(())
            }
            None => Err(Error::no_container(id)),
        }
    }
}

impl Driver for Fake {
    fn create(&self, command: &Command, stdio: &Stdio, hooks: Arc<dyn Hooks>) -> Result<i32> {
        // As every driver does (the lifecycle validates once, for the platform).
        command.validate()?;
        if command.process.args[0] == NO_SPACE_PROGRAM {
            return Err(Error::System(OsFailure {
                step: "write the state file".into(),
                code: libc::ENOSPC,
                name: "ENOSPC: No space left on device".into(),
            }));
        }
        let mut log = self.0.lock().unwrap();
        if log.containers.contains_key(&command.id) {
            return Err(Error::AlreadyExists {
                id: command.id.clone(),
            });
        }
        log.stdio = Some(stdio.clone());
        log.containers
            .insert(command.id.clone(), (Status::Created, hooks));
        Ok(FAKE_PID)
    }

    fn start(&self, id: &str) -> Result<()> {
        let hooks = self.hooks(id)?;
        self.set_status(id, Status::Running)?;
        hooks.on_start(id, FAKE_PID);
        hooks.on_console(id, FAKE_CONSOLE_FD);
        Ok(())
    }

    fn wait(&self, id: &str) -> Result<ExitStatus> {
        let hooks = self.hooks(id)?;
        self.set_status(id, Status::Stopped)?;
        let status = ExitStatus {
            code: 137,
            signal: Some(9),
            oom_killed: true,
        };
        hooks.on_oom(id);
        hooks.on_exit(id, &status);
        Ok(status)
    }

    fn delete(&self, id: &str, force: bool) -> Result<()> {
        let mut log = self.0.lock().unwrap();
        match log.containers.get(id) {
            None => return Err(Error::no_container(id)),
            Some((status, _)) if *status != Status::Stopped && !force => {
                return Err(Error::InvalidState {
                    id: id.into(),
                    state: status.to_string(),
                    operation: "delete",
                })
            }
            Some(_) => {}
        }
        log.containers.remove(id);
        log.deleted.push((id.into(), force));
        Ok(())
    }

    fn exec(
        &self,
        id: &str,
        process: &ProcessConfig,
        _stdio: &Stdio,
        hooks: Arc<dyn Hooks>,
    ) -> Result<ExitStatus> {
        process.validate("process")?;
        self.hooks(id)?;
        let status = ExitStatus::exited(process.args.len() as i64);
        hooks.on_start(id, FAKE_EXEC_PID);
        hooks.on_exit(id, &status);
        Ok(status)
    }

    fn exec_detached(
        &self,
        id: &str,
        process: &ProcessConfig,
        _stdio: &Stdio,
        hooks: Arc<dyn Hooks>,
    ) -> Result<i32> {
        process.validate("process")?;
        self.hooks(id)?;
        hooks.on_start(id, FAKE_EXEC_PID);
        hooks.on_exit(id, &ExitStatus::exited(WINDOWS_CTRL_C_EXIT));
        Ok(FAKE_EXEC_PID)
    }

    fn wait_exec(&self, id: &str, pid: i32) -> Result<ExitStatus> {
        self.hooks(id)?;
        if pid != FAKE_EXEC_PID {
            return Err(Error::NotFound {
                what: "exec'd process",
                name: pid.to_string(),
                hint: String::new(),
            });
        }
        Ok(ExitStatus::exited(WINDOWS_CTRL_C_EXIT))
    }

    fn update(&self, id: &str, resources: &Resources) -> Result<()> {
        self.hooks(id)?;
        self.0
            .lock()
            .unwrap()
            .updated
            .push((id.into(), resources.clone()));
        Ok(())
    }

    fn kill(&self, id: &str, signal: i32, all: bool) -> Result<()> {
        self.hooks(id)?;
        self.0.lock().unwrap().killed.push((id.into(), signal, all));
        Ok(())
    }

    fn pause(&self, id: &str) -> Result<()> {
        self.set_status(id, Status::Paused)
    }

    fn state(&self, id: &str) -> Result<ContainerState> {
        let log = self.0.lock().unwrap();
        let (status, _) = log
            .containers
            .get(id)
            .ok_or_else(|| Error::no_container(id))?;
        Ok(ContainerState {
            id: id.into(),
            pid: FAKE_PID,
            status: *status,
            created: "2026-11-23T00:00:00.000000000Z".into(),
            cgroup_path: format!("berth/{id}"),
            rootfs: "/r".into(),
            exit_status: None,
        })
    }

    fn list(&self) -> Result<Vec<ContainerState>> {
        let ids: Vec<String> = self.0.lock().unwrap().containers.keys().cloned().collect();
        ids.iter().map(|id| self.state(id)).collect()
    }

    fn stats(&self, id: &str) -> Result<Stats> {
        self.hooks(id)?;
        let mut stats = Stats::default();
        stats.memory.usage = Some(1 << 20);
        stats.pids.current = Some(3);
        Ok(stats)
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.0.lock().unwrap().dropped = true;
    }
}

/// A driver whose every method panics.
struct Panicky;

impl Driver for Panicky {
    fn create(&self, _: &Command, _: &Stdio, _: Arc<dyn Hooks>) -> Result<i32> {
        panic!("create exploded")
    }
    fn start(&self, _: &str) -> Result<()> {
        panic!("start exploded")
    }
    fn wait(&self, _: &str) -> Result<ExitStatus> {
        panic!("wait exploded")
    }
    fn delete(&self, _: &str, _: bool) -> Result<()> {
        panic!("delete exploded")
    }
    fn exec(&self, _: &str, _: &ProcessConfig, _: &Stdio, _: Arc<dyn Hooks>) -> Result<ExitStatus> {
        panic!("{}", String::from("exec exploded"))
    }
    fn kill(&self, _: &str, _: i32, _: bool) -> Result<()> {
        panic!("kill exploded")
    }
    fn pause(&self, _: &str) -> Result<()> {
        panic!("pause exploded")
    }
    fn resume(&self, _: &str) -> Result<()> {
        panic!("resume exploded")
    }
    fn resize(&self, _: &str, _: u16, _: u16) -> Result<()> {
        panic!("resize exploded")
    }
    fn state(&self, _: &str) -> Result<ContainerState> {
        panic!("state exploded")
    }
    fn list(&self) -> Result<Vec<ContainerState>> {
        panic!("list exploded")
    }
    fn stats(&self, _: &str) -> Result<Stats> {
        panic!("stats exploded")
    }
}

// ---- helpers ----

/// A driver handle around a fake, the way `berth_driver_new` would hand one out.
struct Handle {
    raw: *mut berth_driver,
    log: Arc<Mutex<Log>>,
}

impl Handle {
    fn fake() -> Handle {
        let log = Arc::new(Mutex::new(Log::default()));
        let raw = driver_into_raw(berth_driver::from_driver(Box::new(Fake(log.clone()))));
        Handle { raw, log }
    }

    fn panicky() -> Handle {
        let raw = driver_into_raw(berth_driver::from_driver(Box::new(Panicky)));
        Handle {
            raw,
            log: Arc::default(),
        }
    }

    fn ids(&self) -> Vec<String> {
        self.log
            .lock()
            .unwrap()
            .containers
            .keys()
            .cloned()
            .collect()
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        berth_driver_free(self.raw);
    }
}

fn cstr(text: &str) -> CString {
    CString::new(text).unwrap()
}

fn command(id: &str) -> CString {
    cstr(&format!(
        r#"{{"id": "{id}", "rootfs": "/r", "process": {{"args": ["/bin/sh", "-c", "exit 7"]}}}}"#
    ))
}

const PROCESS: &str = r#"{"args": ["/bin/true", "a", "b"]}"#;
const NULL_STDIO: berth_stdio = berth_stdio {
    size: std::mem::size_of::<berth_stdio>(),
    stdin_handle: BERTH_NULL_HANDLE,
    stdout_handle: BERTH_NULL_HANDLE,
    stderr_handle: BERTH_NULL_HANDLE,
};
const NO_HOOKS: berth_hooks = berth_hooks {
    size: std::mem::size_of::<berth_hooks>(),
    user_data: ptr::null_mut(),
    on_start: None,
    on_oom: None,
    on_exit: None,
    on_console: None,
};
const SENTINEL: berth_exit_status = berth_exit_status {
    exit_code: -12345,
    signal: -6789,
    oom_killed: true,
};

/// Expects `err` to be an error of `kind`, frees it, and returns its message.
#[track_caller]
fn expect_err(err: *mut berth_error, kind: berth_error_kind) -> String {
    assert!(!err.is_null(), "expected a {kind:?} error, got success");
    let message = message_of(err);
    let got = berth_error_kind_of(err);
    berth_error_free(err);
    assert_eq!(got, kind, "wrong kind; message: {message}");
    message
}

#[track_caller]
fn expect_ok(err: *mut berth_error) {
    if !err.is_null() {
        let message = message_of(err);
        berth_error_free(err);
        panic!("expected success, got: {message}");
    }
}

fn message_of(err: *const berth_error) -> String {
    let message = berth_error_message(err);
    assert!(!message.is_null());
    c_caller::text(message)
}

/// Takes a string berth returned, and frees it with berth_string_free.
fn take_string(text: *mut c_char) -> String {
    assert!(!text.is_null());
    let owned = c_caller::text(text);
    berth_string_free(text);
    owned
}

/// Creates and starts container `id` on the handle.
fn started(handle: &Handle, id: &str) {
    let mut pid = 0;
    let cmd = command(id);
    expect_ok(berth_create(
        handle.raw,
        cmd.as_ptr(),
        &NULL_STDIO,
        &NO_HOOKS,
        &mut pid,
    ));
    expect_ok(berth_start(handle.raw, cstr(id).as_ptr()));
}

// ---- versions and error values ----

#[test]
fn versions() {
    assert_eq!(c_caller::text(berth_version()), env!("CARGO_PKG_VERSION"));
    assert_eq!(berth_abi_version(), 2);
    assert_eq!(BERTH_ABI_VERSION, 2);
}

#[test]
fn error_kinds_have_the_numbers_of_runtime_core() {
    let pairs = [
        (ErrorKind::InvalidArgument, BERTH_ERROR_INVALID_ARGUMENT, 1),
        (ErrorKind::NotFound, BERTH_ERROR_NOT_FOUND, 2),
        (ErrorKind::AlreadyExists, BERTH_ERROR_ALREADY_EXISTS, 3),
        (ErrorKind::InvalidState, BERTH_ERROR_INVALID_STATE, 4),
        (ErrorKind::Unsupported, BERTH_ERROR_UNSUPPORTED, 5),
        (ErrorKind::Permission, BERTH_ERROR_PERMISSION, 6),
        (ErrorKind::System, BERTH_ERROR_SYSTEM, 7),
        (ErrorKind::Internal, BERTH_ERROR_INTERNAL, 8),
    ];
    for (core, c, number) in pairs {
        assert_eq!(berth_error_kind::from(core), c);
        assert_eq!(core as u32, number);
        assert_eq!(c as u32, number);
    }
}

#[test]
fn null_error_is_harmless() {
    assert_eq!(berth_error_kind_of(ptr::null()), BERTH_ERROR_INTERNAL);
    let message = berth_error_message(ptr::null());
    assert!(!message.is_null());
    assert!(!c_caller::text(message).is_empty());
    berth_error_free(ptr::null_mut());
    berth_string_free(ptr::null_mut());
    berth_driver_free(ptr::null_mut());
}

#[test]
fn error_messages_come_from_runtime_core() {
    let err = berth_error::from(Error::no_container("x"));
    assert_eq!(err.kind, BERTH_ERROR_NOT_FOUND);
    assert_eq!(err.message.to_str().unwrap(), "container \"x\" not found");
    let err = berth_error::new(BERTH_ERROR_SYSTEM, "before\0after".into());
    assert_eq!(err.message.to_str().unwrap(), "before");
}

// ---- NULL pointers ----

#[test]
fn every_null_pointer_is_invalid_argument_naming_its_parameter() {
    let handle = Handle::fake();
    let d = handle.raw;
    let null_d: *mut berth_driver = ptr::null_mut();
    let cmd = command("c-null");
    let cmd = cmd.as_ptr();
    let id = cstr("c-null");
    let id = id.as_ptr();
    let process = cstr(PROCESS);
    let process = process.as_ptr();
    let null_s: *const c_char = ptr::null();
    let stdio: *const berth_stdio = &NULL_STDIO;
    let hooks: *const berth_hooks = &NO_HOOKS;
    let mut status = SENTINEL;
    let status_p: *mut berth_exit_status = &mut status;
    let mut pid = -1;
    let pid_p: *mut i32 = &mut pid;
    let mut json: *mut c_char = ptr::null_mut();
    let json_p: *mut *mut c_char = &mut json;

    let cases: Vec<(&str, *mut berth_error)> = vec![
        ("out", berth_driver_new(ptr::null(), ptr::null_mut())),
        ("driver", berth_run(null_d, cmd, stdio, hooks, status_p)),
        ("command_json", berth_run(d, null_s, stdio, hooks, status_p)),
        (
            "status_out",
            berth_run(d, cmd, stdio, hooks, ptr::null_mut()),
        ),
        (
            "driver",
            berth_exec(null_d, id, process, stdio, hooks, status_p),
        ),
        (
            "container_id",
            berth_exec(d, null_s, process, stdio, hooks, status_p),
        ),
        (
            "process_json",
            berth_exec(d, id, null_s, stdio, hooks, status_p),
        ),
        (
            "status_out",
            berth_exec(d, id, process, stdio, hooks, ptr::null_mut()),
        ),
        (
            "driver",
            berth_exec_detached(null_d, id, process, stdio, hooks, pid_p),
        ),
        (
            "container_id",
            berth_exec_detached(d, null_s, process, stdio, hooks, pid_p),
        ),
        (
            "process_json",
            berth_exec_detached(d, id, null_s, stdio, hooks, pid_p),
        ),
        (
            "pid_out",
            berth_exec_detached(d, id, process, stdio, hooks, ptr::null_mut()),
        ),
        ("driver", berth_wait_exec(null_d, id, 1, status_p)),
        ("container_id", berth_wait_exec(d, null_s, 1, status_p)),
        ("status_out", berth_wait_exec(d, id, 1, ptr::null_mut())),
        ("driver", berth_update(null_d, id, process)),
        ("container_id", berth_update(d, null_s, process)),
        ("resources_json", berth_update(d, id, null_s)),
        ("driver", berth_kill(null_d, id, 9, false)),
        ("container_id", berth_kill(d, null_s, 9, false)),
        ("driver", berth_create(null_d, cmd, stdio, hooks, pid_p)),
        ("command_json", berth_create(d, null_s, stdio, hooks, pid_p)),
        (
            "pid_out",
            berth_create(d, cmd, stdio, hooks, ptr::null_mut()),
        ),
        ("driver", berth_start(null_d, id)),
        ("container_id", berth_start(d, null_s)),
        ("driver", berth_wait(null_d, id, status_p)),
        ("container_id", berth_wait(d, null_s, status_p)),
        ("status_out", berth_wait(d, id, ptr::null_mut())),
        ("driver", berth_delete(null_d, id, true)),
        ("container_id", berth_delete(d, null_s, true)),
        ("driver", berth_pause(null_d, id)),
        ("container_id", berth_pause(d, null_s)),
        ("driver", berth_resume(null_d, id)),
        ("container_id", berth_resume(d, null_s)),
        ("driver", berth_resize(null_d, id, 24, 80)),
        ("container_id", berth_resize(d, null_s, 24, 80)),
        ("driver", berth_state(null_d, id, json_p)),
        ("container_id", berth_state(d, null_s, json_p)),
        ("json_out", berth_state(d, id, ptr::null_mut())),
        ("driver", berth_list(null_d, json_p)),
        ("json_out", berth_list(d, ptr::null_mut())),
        ("driver", berth_stats(null_d, id, json_p)),
        ("container_id", berth_stats(d, null_s, json_p)),
        ("json_out", berth_stats(d, id, ptr::null_mut())),
    ];
    for (i, (name, err)) in cases.into_iter().enumerate() {
        let message = expect_err(err, BERTH_ERROR_INVALID_ARGUMENT);
        assert_eq!(message, format!("{name} is NULL"), "case {i}");
    }
    // Nothing was created, and no out-parameter was touched.
    assert!(handle.ids().is_empty());
    assert_eq!(status, SENTINEL);
    assert_eq!(pid, -1);
    assert!(json.is_null());
}

// ---- strings and JSON ----

#[test]
fn invalid_utf8_is_invalid_argument_naming_its_parameter() {
    let handle = Handle::fake();
    let bad = c"{\"id\": \"\xff\"}".as_ptr();
    let mut status = SENTINEL;
    let mut out: *mut berth_driver = ptr::null_mut();

    let message = expect_err(
        berth_driver_new(bad, &mut out),
        BERTH_ERROR_INVALID_ARGUMENT,
    );
    assert!(
        message.starts_with("options_json is not valid UTF-8"),
        "{message}"
    );
    assert!(out.is_null());

    let message = expect_err(
        berth_run(handle.raw, bad, &NULL_STDIO, &NO_HOOKS, &mut status),
        BERTH_ERROR_INVALID_ARGUMENT,
    );
    assert_eq!(
        message,
        "command_json is not valid UTF-8 (bad byte at offset 8)"
    );

    let message = expect_err(berth_start(handle.raw, bad), BERTH_ERROR_INVALID_ARGUMENT);
    assert!(
        message.starts_with("container_id is not valid UTF-8"),
        "{message}"
    );

    let id = cstr("c1");
    let message = expect_err(
        berth_exec(
            handle.raw,
            id.as_ptr(),
            bad,
            &NULL_STDIO,
            &NO_HOOKS,
            &mut status,
        ),
        BERTH_ERROR_INVALID_ARGUMENT,
    );
    assert!(
        message.starts_with("process_json is not valid UTF-8"),
        "{message}"
    );
    assert_eq!(status, SENTINEL);
}

#[test]
fn invalid_json_is_invalid_argument() {
    let handle = Handle::fake();
    let mut status = SENTINEL;
    let mut pid = -1;
    for text in ["", "{", "[]", "null", r#"{"id": 3}"#, "{} trailing"] {
        let text = cstr(text);
        let message = expect_err(
            berth_run(
                handle.raw,
                text.as_ptr(),
                &NULL_STDIO,
                &NO_HOOKS,
                &mut status,
            ),
            BERTH_ERROR_INVALID_ARGUMENT,
        );
        assert!(message.starts_with("invalid command"), "{message}");
        expect_err(
            berth_create(handle.raw, text.as_ptr(), &NULL_STDIO, &NO_HOOKS, &mut pid),
            BERTH_ERROR_INVALID_ARGUMENT,
        );
    }
    let id = cstr("c1");
    let text = cstr(r#"{"args": []}"#);
    let message = expect_err(
        berth_exec(
            handle.raw,
            id.as_ptr(),
            text.as_ptr(),
            &NULL_STDIO,
            &NO_HOOKS,
            &mut status,
        ),
        BERTH_ERROR_INVALID_ARGUMENT,
    );
    assert!(message.starts_with("invalid process.args"), "{message}");
    assert_eq!(status, SENTINEL);
    assert_eq!(pid, -1);
    assert!(handle.ids().is_empty());
}

#[test]
fn unknown_field_is_named_by_its_path() {
    let handle = Handle::fake();
    let mut status = SENTINEL;
    let text = cstr(
        r#"{"id": "c1", "rootfs": "/r", "process": {"args": ["/bin/true"], "bogus_field": 1}}"#,
    );
    let message = expect_err(
        berth_run(
            handle.raw,
            text.as_ptr(),
            &NULL_STDIO,
            &NO_HOOKS,
            &mut status,
        ),
        BERTH_ERROR_INVALID_ARGUMENT,
    );
    assert!(message.contains("command.process"), "{message}");
    assert!(message.contains("bogus_field"), "{message}");
    assert_eq!(status, SENTINEL);
}

#[test]
fn driver_options_are_checked_before_any_driver_is_made() {
    let cases = [
        (
            r#"{"bogus_key": 1}"#,
            BERTH_ERROR_INVALID_ARGUMENT,
            "bogus_key",
        ),
        (
            r#"{"kind": "native", "root": 7}"#,
            BERTH_ERROR_INVALID_ARGUMENT,
            "options.root",
        ),
        (
            r#"{"kind": "lxc", "root": 7}"#,
            BERTH_ERROR_INVALID_ARGUMENT,
            "options.root",
        ),
        (
            r#"{"kind": "windows"}"#,
            BERTH_ERROR_UNSUPPORTED,
            "\"windows\"",
        ),
        (
            r#"{"kind": "qemu"}"#,
            BERTH_ERROR_INVALID_ARGUMENT,
            "\"qemu\"",
        ),
        (
            r#"{"kind": 3}"#,
            BERTH_ERROR_INVALID_ARGUMENT,
            "options.kind",
        ),
        ("[]", BERTH_ERROR_INVALID_ARGUMENT, "invalid options"),
        ("{", BERTH_ERROR_INVALID_ARGUMENT, "invalid options"),
    ];
    for (text, kind, needle) in cases {
        let text = cstr(text);
        let mut out: *mut berth_driver = ptr::null_mut();
        let message = expect_err(berth_driver_new(text.as_ptr(), &mut out), kind);
        assert!(message.contains(needle), "{needle:?} not in {message:?}");
        assert!(out.is_null());
    }
}

// ---- numbers and descriptors ----

#[test]
fn signals_outside_1_to_64_are_invalid_argument() {
    let handle = Handle::fake();
    started(&handle, "c-sig");
    let id = cstr("c-sig");
    for signal in [0, -1, 65, i32::MIN, i32::MAX] {
        let message = expect_err(
            berth_kill(handle.raw, id.as_ptr(), signal, false),
            BERTH_ERROR_INVALID_ARGUMENT,
        );
        assert_eq!(
            message,
            format!("invalid signal: signal {signal} is out of range (1 to 64)")
        );
    }
    expect_ok(berth_kill(handle.raw, id.as_ptr(), 1, false));
    expect_ok(berth_kill(handle.raw, id.as_ptr(), 64, true));
    assert_eq!(
        handle.log.lock().unwrap().killed,
        [
            ("c-sig".to_string(), 1, false),
            ("c-sig".to_string(), 64, true)
        ]
    );
}

#[test]
fn stdio_descriptors_are_checked() {
    let handle = Handle::fake();
    let cmd = command("c-fd");
    let mut pid = -1;
    // Far above any open descriptor (and any RLIMIT_NOFILE in use).
    let closed = 1 << 30;
    for (stdio, needle) in [
        (
            berth_stdio {
                stdin_handle: -2,
                ..NULL_STDIO
            },
            "stdio->stdin_handle is -2",
        ),
        (
            berth_stdio {
                stdout_handle: closed,
                ..NULL_STDIO
            },
            "stdio->stdout_handle is 1073741824, which is not an open",
        ),
        (
            berth_stdio {
                stderr_handle: isize::MIN,
                ..NULL_STDIO
            },
            "stdio->stderr_handle is",
        ),
        (
            // Wider than a descriptor: not fd 1 by truncation.
            berth_stdio {
                stdout_handle: (1 << 32) + 1,
                ..NULL_STDIO
            },
            "stdio->stdout_handle is 4294967297",
        ),
    ] {
        let message = expect_err(
            berth_create(handle.raw, cmd.as_ptr(), &stdio, &NO_HOOKS, &mut pid),
            BERTH_ERROR_INVALID_ARGUMENT,
        );
        assert!(message.starts_with(needle), "{message}");
    }
    assert_eq!(pid, -1);

    let stdio = berth_stdio {
        stdout_handle: 1,
        stderr_handle: 2,
        ..NULL_STDIO
    };
    expect_ok(berth_create(
        handle.raw,
        cmd.as_ptr(),
        &stdio,
        &NO_HOOKS,
        &mut pid,
    ));
    assert_eq!(pid, FAKE_PID);
    let seen = handle.log.lock().unwrap().stdio.clone().unwrap();
    assert_eq!(seen.as_array(), [None, Some(1), Some(2)]);
}

// ---- NULL and sized structs ----

#[test]
fn null_stdio_means_the_null_device_and_null_hooks_mean_none() {
    let handle = Handle::fake();
    let cmd = command("c-nulls");
    let mut pid = -1;
    expect_ok(berth_create(
        handle.raw,
        cmd.as_ptr(),
        ptr::null(),
        ptr::null(),
        &mut pid,
    ));
    assert_eq!(pid, FAKE_PID);
    assert_eq!(handle.log.lock().unwrap().stdio, Some(Stdio::null()));
    let id = cstr("c-nulls");
    // The fake fires every hook; with none given, nothing is called.
    expect_ok(berth_start(handle.raw, id.as_ptr()));
    let mut status = SENTINEL;
    expect_ok(berth_wait(handle.raw, id.as_ptr(), &mut status));
    assert_eq!(status.exit_code, 137);

    let process = cstr(PROCESS);
    expect_ok(berth_exec(
        handle.raw,
        id.as_ptr(),
        process.as_ptr(),
        ptr::null(),
        ptr::null(),
        &mut status,
    ));
    assert_eq!(status.exit_code, 3);
    let run = command("c-nulls-run");
    expect_ok(berth_run(
        handle.raw,
        run.as_ptr(),
        ptr::null(),
        ptr::null(),
        &mut status,
    ));
    assert_eq!(status.exit_code, 137);
}

#[test]
fn a_struct_with_a_wrong_size_is_refused_before_anything_happens() {
    let handle = Handle::fake();
    let cmd = command("c-size");
    let mut pid = -1;
    let zeroed_stdio = berth_stdio {
        size: 0,
        stdin_handle: 0,
        stdout_handle: 0,
        stderr_handle: 0,
    };
    let message = expect_err(
        berth_create(handle.raw, cmd.as_ptr(), &zeroed_stdio, &NO_HOOKS, &mut pid),
        BERTH_ERROR_INVALID_ARGUMENT,
    );
    assert!(
        message.starts_with("stdio->size is 0: set it to sizeof(berth_stdio)"),
        "{message}"
    );
    let small_hooks = berth_hooks {
        size: std::mem::size_of::<berth_hooks>() - 8,
        ..NO_HOOKS
    };
    let message = expect_err(
        berth_create(
            handle.raw,
            cmd.as_ptr(),
            &NULL_STDIO,
            &small_hooks,
            &mut pid,
        ),
        BERTH_ERROR_INVALID_ARGUMENT,
    );
    assert!(message.starts_with("hooks->size is"), "{message}");
    assert_eq!(pid, -1);
    assert!(handle.ids().is_empty());
}

/// A `berth_stdio` as a newer header might define it: one more field.
#[repr(C)]
struct NewerStdio {
    known: berth_stdio,
    added: usize,
}

#[test]
fn a_larger_struct_from_a_newer_header_is_accepted_only_with_its_new_fields_zero() {
    let handle = Handle::fake();
    let mut pid = -1;
    let newer = |added| NewerStdio {
        known: berth_stdio {
            size: std::mem::size_of::<NewerStdio>(),
            ..NULL_STDIO
        },
        added,
    };
    let set = newer(1);
    let cmd = command("c-newer");
    let message = expect_err(
        berth_create(
            handle.raw,
            cmd.as_ptr(),
            (&set as *const NewerStdio).cast(),
            &NO_HOOKS,
            &mut pid,
        ),
        BERTH_ERROR_UNSUPPORTED,
    );
    assert!(
        message.contains("fields this libberth does not know"),
        "{message}"
    );
    assert!(handle.ids().is_empty());
    let unset = newer(0);
    expect_ok(berth_create(
        handle.raw,
        cmd.as_ptr(),
        (&unset as *const NewerStdio).cast(),
        &NO_HOOKS,
        &mut pid,
    ));
    assert_eq!(pid, FAKE_PID);
}

// ---- errno ----

#[test]
fn the_errno_behind_an_error_is_kept() {
    let handle = Handle::fake();
    let cmd = cstr(&format!(
        r#"{{"id": "c-nospc", "rootfs": "/r", "process": {{"args": ["{NO_SPACE_PROGRAM}"]}}}}"#
    ));
    let mut pid = -1;
    let err = berth_create(handle.raw, cmd.as_ptr(), ptr::null(), ptr::null(), &mut pid);
    assert_eq!(berth_error_errno(err), libc::ENOSPC);
    assert_eq!(berth_error_kind_of(err), BERTH_ERROR_SYSTEM);
    berth_error_free(err);
    // An error that is not the OS's has none.
    let err = berth_start(handle.raw, cmd.as_ptr());
    assert_eq!(berth_error_kind_of(err), BERTH_ERROR_NOT_FOUND);
    assert_eq!(berth_error_errno(err), 0);
    berth_error_free(err);
    assert_eq!(berth_error_errno(ptr::null()), 0);
}

// ---- detached exec, update, wide exit codes ----

#[test]
fn a_detached_exec_returns_its_pid_and_its_wide_status_comes_through_wait_exec() {
    let handle = Handle::fake();
    started(&handle, "c-detach");
    let id = cstr("c-detach");
    let process = cstr(PROCESS);
    let seen = Seen::default();
    let hooks = recording_hooks(&seen);
    let mut pid = -1;
    expect_ok(berth_exec_detached(
        handle.raw,
        id.as_ptr(),
        process.as_ptr(),
        ptr::null(),
        &hooks,
        &mut pid,
    ));
    assert_eq!(pid, FAKE_EXEC_PID);
    let mut status = SENTINEL;
    expect_ok(berth_wait_exec(handle.raw, id.as_ptr(), pid, &mut status));
    // 0xC000013A, exactly: no sign, no truncation.
    assert_eq!(status.exit_code, 3_221_225_786);
    assert_eq!(status.signal, 0);
    assert_eq!(
        *seen.events.lock().unwrap(),
        ["c-detach: start 5151", "c-detach: exit 3221225786 0 false"]
    );
    let mut untouched = SENTINEL;
    expect_err(
        berth_wait_exec(handle.raw, id.as_ptr(), 1, &mut untouched),
        BERTH_ERROR_NOT_FOUND,
    );
    assert_eq!(untouched, SENTINEL);
    let bad = cstr(r#"{"args": []}"#);
    expect_err(
        berth_exec_detached(
            handle.raw,
            id.as_ptr(),
            bad.as_ptr(),
            ptr::null(),
            ptr::null(),
            &mut pid,
        ),
        BERTH_ERROR_INVALID_ARGUMENT,
    );
}

#[test]
fn update_parses_the_resources_and_names_a_bad_field() {
    let handle = Handle::fake();
    started(&handle, "c-update");
    let id = cstr("c-update");
    let resources = cstr(r#"{"memory_limit": 67108864, "pids_limit": 20}"#);
    expect_ok(berth_update(handle.raw, id.as_ptr(), resources.as_ptr()));
    let updated = handle.log.lock().unwrap().updated.clone();
    assert_eq!(updated.len(), 1);
    assert_eq!(updated[0].1.memory_limit, Some(64 << 20));
    assert_eq!(updated[0].1.pids_limit, Some(20));
    assert_eq!(updated[0].1.cpu_shares, None);
    for (text, needle) in [
        (r#"{"memory_limit": "lots"}"#, "resources.memory_limit"),
        (r#"{"bogus": 1}"#, "bogus"),
        ("[", "invalid resources"),
    ] {
        let text = cstr(text);
        let message = expect_err(
            berth_update(handle.raw, id.as_ptr(), text.as_ptr()),
            BERTH_ERROR_INVALID_ARGUMENT,
        );
        assert!(message.contains(needle), "{needle:?} not in {message:?}");
    }
    assert_eq!(handle.log.lock().unwrap().updated.len(), 1);
}

// ---- driver errors and panics ----

#[test]
fn driver_errors_keep_their_kind_and_leave_out_params_alone() {
    let handle = Handle::fake();
    let unknown = cstr("nope");
    let mut status = SENTINEL;
    let mut json: *mut c_char = ptr::null_mut();
    expect_err(
        berth_start(handle.raw, unknown.as_ptr()),
        BERTH_ERROR_NOT_FOUND,
    );
    expect_err(
        berth_wait(handle.raw, unknown.as_ptr(), &mut status),
        BERTH_ERROR_NOT_FOUND,
    );
    expect_err(
        berth_state(handle.raw, unknown.as_ptr(), &mut json),
        BERTH_ERROR_NOT_FOUND,
    );
    expect_err(
        berth_stats(handle.raw, unknown.as_ptr(), &mut json),
        BERTH_ERROR_NOT_FOUND,
    );
    assert_eq!(status, SENTINEL);
    assert!(json.is_null());

    started(&handle, "c-dup");
    let cmd = command("c-dup");
    let mut pid = -1;
    expect_err(
        berth_create(handle.raw, cmd.as_ptr(), &NULL_STDIO, &NO_HOOKS, &mut pid),
        BERTH_ERROR_ALREADY_EXISTS,
    );
    assert_eq!(pid, -1);
    let id = cstr("c-dup");
    expect_err(
        berth_delete(handle.raw, id.as_ptr(), false),
        BERTH_ERROR_INVALID_STATE,
    );
    let message = expect_err(
        berth_resume(handle.raw, id.as_ptr()),
        BERTH_ERROR_UNSUPPORTED,
    );
    assert_eq!(message, "resume is not supported by this driver");
    expect_err(
        berth_resize(handle.raw, id.as_ptr(), 24, 80),
        BERTH_ERROR_UNSUPPORTED,
    );
    expect_ok(berth_pause(handle.raw, id.as_ptr()));
    expect_ok(berth_delete(handle.raw, id.as_ptr(), true));
}

#[test]
fn a_panicking_driver_gives_internal_errors() {
    let handle = Handle::panicky();
    let d = handle.raw;
    let cmd = command("c-panic");
    let id = cstr("c-panic");
    let process = cstr(PROCESS);
    let mut status = SENTINEL;
    let mut pid = -1;
    let mut json: *mut c_char = ptr::null_mut();
    let errors = [
        berth_run(d, cmd.as_ptr(), &NULL_STDIO, &NO_HOOKS, &mut status),
        berth_exec(
            d,
            id.as_ptr(),
            process.as_ptr(),
            &NULL_STDIO,
            &NO_HOOKS,
            &mut status,
        ),
        berth_kill(d, id.as_ptr(), 9, true),
        berth_create(d, cmd.as_ptr(), &NULL_STDIO, &NO_HOOKS, &mut pid),
        berth_start(d, id.as_ptr()),
        berth_wait(d, id.as_ptr(), &mut status),
        berth_delete(d, id.as_ptr(), true),
        berth_pause(d, id.as_ptr()),
        berth_resume(d, id.as_ptr()),
        berth_resize(d, id.as_ptr(), 1, 1),
        berth_state(d, id.as_ptr(), &mut json),
        berth_list(d, &mut json),
        berth_stats(d, id.as_ptr(), &mut json),
    ];
    for err in errors {
        let message = expect_err(err, BERTH_ERROR_INTERNAL);
        assert!(message.contains("panic"), "{message}");
        assert!(message.contains("exploded"), "{message}");
    }
    assert_eq!(status, SENTINEL);
    assert_eq!(pid, -1);
    assert!(json.is_null());
    // Dropping the handle frees the driver, whose list() panics too: no crash.
}

// ---- hooks ----

/// What the C callbacks recorded; `user_data` points at one of these.
#[derive(Default)]
struct Seen {
    events: Mutex<Vec<String>>,
}

/// What a C caller does with the pointers berth hands it: copying the strings it returns, and
/// the callbacks, which read their arguments. The only `unsafe` of these tests, as in C it is
/// all of it.
#[allow(unsafe_code)]
mod c_caller {
    use std::ffi::{c_char, c_void, CStr};

    use super::Seen;
    use crate::types::{berth_exit_status, berth_handle};

    /// A copy of a NUL-terminated UTF-8 string berth returned and has not freed (a message,
    /// a JSON text, the version): only for such pointers.
    pub(super) fn text(text: *const c_char) -> String {
        assert!(!text.is_null());
        // SAFETY: the tests pass only strings berth returned, which are NUL-terminated and
        // stay valid until freed (by the caller, after this copy) or forever (the version and
        // the NULL error's message).
        let text = unsafe { CStr::from_ptr(text) };
        text.to_str().unwrap().to_string()
    }

    pub(super) extern "C" fn record_start(user_data: *mut c_void, id: *const c_char, pid: i32) {
        record(user_data, id, format!("start {pid}"));
    }

    pub(super) extern "C" fn record_oom(user_data: *mut c_void, id: *const c_char) {
        record(user_data, id, "oom".into());
    }

    pub(super) extern "C" fn record_exit(
        user_data: *mut c_void,
        id: *const c_char,
        status: *const berth_exit_status,
    ) {
        // SAFETY: berth passes a pointer to an initialized status that lives on its stack for
        // the length of the callback; it is copied here.
        let status = unsafe { *status };
        let text = format!(
            "exit {} {} {}",
            status.exit_code, status.signal, status.oom_killed
        );
        record(user_data, id, text);
    }

    pub(super) extern "C" fn record_console(
        user_data: *mut c_void,
        id: *const c_char,
        master: berth_handle,
    ) {
        record(user_data, id, format!("console {master}"));
    }

    fn record(user_data: *mut c_void, id: *const c_char, event: String) {
        // SAFETY: the tests set as user_data a `*const Seen` that outlives the container (and
        // so every callback of it), and berth passes a NUL-terminated id that stays valid for
        // the length of the callback; both are only read.
        let (seen, id) = unsafe { (&*(user_data as *const Seen), CStr::from_ptr(id)) };
        let id = id.to_str().unwrap();
        seen.events.lock().unwrap().push(format!("{id}: {event}"));
    }
}

fn recording_hooks(seen: &Seen) -> berth_hooks {
    berth_hooks {
        size: std::mem::size_of::<berth_hooks>(),
        user_data: seen as *const Seen as *mut c_void,
        on_start: Some(c_caller::record_start),
        on_oom: Some(c_caller::record_oom),
        on_exit: Some(c_caller::record_exit),
        on_console: Some(c_caller::record_console),
    }
}

#[test]
fn hooks_get_user_data_unchanged_and_the_container_id() {
    let handle = Handle::fake();
    let seen = Seen::default();
    let cmd = command("c-hooks");
    let mut status = SENTINEL;
    {
        // The struct is copied: it may go away before the callbacks run.
        let hooks = recording_hooks(&seen);
        let mut pid = 0;
        expect_ok(berth_create(
            handle.raw,
            cmd.as_ptr(),
            &NULL_STDIO,
            &hooks,
            &mut pid,
        ));
    }
    let id = cstr("c-hooks");
    expect_ok(berth_start(handle.raw, id.as_ptr()));
    expect_ok(berth_wait(handle.raw, id.as_ptr(), &mut status));
    assert_eq!(
        status,
        berth_exit_status {
            exit_code: 137,
            signal: 9,
            oom_killed: true
        }
    );

    let hooks = recording_hooks(&seen);
    let process = cstr(PROCESS);
    expect_ok(berth_exec(
        handle.raw,
        id.as_ptr(),
        process.as_ptr(),
        &NULL_STDIO,
        &hooks,
        &mut status,
    ));
    assert_eq!(status, berth_exit_status::default().with_code(3));
    expect_ok(berth_delete(handle.raw, id.as_ptr(), false));

    assert_eq!(
        *seen.events.lock().unwrap(),
        [
            "c-hooks: start 4242",
            "c-hooks: console 77",
            "c-hooks: oom",
            "c-hooks: exit 137 9 true",
            "c-hooks: start 5151",
            "c-hooks: exit 3 0 false",
        ]
    );
}

#[test]
fn run_with_partial_hooks() {
    let handle = Handle::fake();
    let seen = Seen::default();
    let hooks = berth_hooks {
        on_start: None,
        on_console: None,
        ..recording_hooks(&seen)
    };
    let cmd = command("c-run");
    let mut status = SENTINEL;
    expect_ok(berth_run(
        handle.raw,
        cmd.as_ptr(),
        &NULL_STDIO,
        &hooks,
        &mut status,
    ));
    assert_eq!(status.exit_code, 137);
    assert_eq!(
        *seen.events.lock().unwrap(),
        ["c-run: oom", "c-run: exit 137 9 true"]
    );
    // run deletes the container.
    assert!(handle.ids().is_empty());
    assert_eq!(
        handle.log.lock().unwrap().deleted,
        [("c-run".to_string(), true)]
    );
}

impl berth_exit_status {
    fn with_code(self, exit_code: i64) -> Self {
        berth_exit_status { exit_code, ..self }
    }
}

// ---- strings returned to C ----

#[test]
fn json_strings_round_trip_through_berth_string_free() {
    let handle = Handle::fake();
    started(&handle, "c-a");
    started(&handle, "c-b");
    let id = cstr("c-a");

    let mut json: *mut c_char = ptr::null_mut();
    expect_ok(berth_state(handle.raw, id.as_ptr(), &mut json));
    let state: ContainerState = serde_json::from_str(&take_string(json)).unwrap();
    assert_eq!(state.id, "c-a");
    assert_eq!(state.status, Status::Running);

    let mut json: *mut c_char = ptr::null_mut();
    expect_ok(berth_list(handle.raw, &mut json));
    let states: Vec<ContainerState> = serde_json::from_str(&take_string(json)).unwrap();
    let ids: Vec<&str> = states.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["c-a", "c-b"]);

    let mut json: *mut c_char = ptr::null_mut();
    expect_ok(berth_stats(handle.raw, id.as_ptr(), &mut json));
    let stats: Stats = serde_json::from_str(&take_string(json)).unwrap();
    assert_eq!(stats.memory.usage, Some(1 << 20));
    assert_eq!(stats.pids.current, Some(3));
}

// ---- freeing a driver ----

#[test]
fn freeing_a_driver_drops_it_which_decides_what_becomes_of_its_containers() {
    // The driver's own Drop kills and deletes its containers, or keeps them
    // (`keep_containers`): the real driver's behaviour is tested in tests/c.
    let handle = Handle::fake();
    started(&handle, "c-1");
    let log = handle.log.clone();
    drop(handle);
    let log = log.lock().unwrap();
    assert!(log.dropped);
    assert!(log.deleted.is_empty(), "free itself deletes nothing");
}
