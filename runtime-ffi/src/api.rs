//! The exported functions, in the order of `berth.h`.
//!
//! Each body checks its arguments through the `boundary` module (NULL, UTF-8, descriptors)
//! before it does anything, runs inside `ffi_fn` or `guard` (so a panic becomes
//! BERTH_ERROR_INTERNAL instead of unwinding into C), and writes its out-parameters only on
//! success.

use std::ffi::{c_char, CStr};
use std::sync::Arc;

use runtime_core::json::{from_json, to_json};
use runtime_core::{Command, Driver, Hooks, NoHooks, ProcessConfig, Resources, Stdio};

use crate::boundary::{
    driver_arg, driver_into_raw, driver_take, error_free, error_ref, ffi_fn, guard, opt_str_arg,
    out_arg, sized_struct_arg, stdio_from, str_arg, string_free, string_into_raw, CHooks,
    FfiResult,
};
use crate::options::new_driver;
use crate::types::{
    berth_driver, berth_error, berth_error_kind, berth_exit_status, berth_hooks, berth_stdio,
};

/// The ABI version `berth_abi_version` returns. It changes only when the ABI changes
/// incompatibly (a function, struct or constant changes shape or meaning); additions keep it.
pub const BERTH_ABI_VERSION: u32 = 2;

/// Highest signal number berth accepts (Linux's `SIGRTMAX`).
pub const BERTH_SIGNAL_MAX: i32 = 64;
const _: () = assert!(BERTH_SIGNAL_MAX == runtime_core::validate::SIGNAL_MAX);

const VERSION: &CStr =
    match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
        Ok(version) => version,
        Err(_) => panic!("the package version holds a NUL"),
    };

const NULL_ERROR_MESSAGE: &CStr = c"berth_error_message: err is NULL";

/// The body of every call that takes a driver and a container id and returns nothing else:
/// both arguments checked, then `operation`.
fn on_container(
    driver: *mut berth_driver,
    container_id: *const c_char,
    operation: impl FnOnce(&dyn Driver, &str) -> FfiResult<()>,
) -> *mut berth_error {
    ffi_fn(|| {
        let driver = driver_arg("driver", driver)?;
        let container_id = str_arg("container_id", container_id)?;
        operation(driver, container_id)
    })
}

/// The arguments every call that starts a process takes: the driver, the JSON that describes
/// the process (named `json_name`), and its streams and hooks (NULL for none), each checked.
struct Launch<'a> {
    driver: &'a dyn Driver,
    json: &'a str,
    stdio: Stdio,
    hooks: Arc<dyn Hooks>,
}

fn launch_args<'a>(
    driver: *mut berth_driver,
    json_name: &str,
    json: *const c_char,
    stdio: *const berth_stdio,
    hooks: *const berth_hooks,
) -> FfiResult<Launch<'a>> {
    let driver = driver_arg("driver", driver)?;
    let json = str_arg(json_name, json)?;
    let stdio = match sized_struct_arg("stdio", stdio)? {
        Some(stdio) => stdio_from("stdio", &stdio)?,
        None => Stdio::null(),
    };
    let hooks: Arc<dyn Hooks> = match sized_struct_arg("hooks", hooks)? {
        Some(hooks) => Arc::new(CHooks::new(hooks)),
        None => Arc::new(NoHooks),
    };
    Ok(Launch {
        driver,
        json,
        stdio,
        hooks,
    })
}

// ---- versions ----

/// The version of libberth, `MAJOR.MINOR.PATCH`: a static string, never freed.
#[no_mangle]
pub extern "C" fn berth_version() -> *const c_char {
    VERSION.as_ptr()
}

/// The ABI version of the library that is loaded: compare it with `BERTH_ABI_VERSION` from
/// the header the program was built with. It changes only on an incompatible change.
#[no_mangle]
pub extern "C" fn berth_abi_version() -> u32 {
    BERTH_ABI_VERSION
}

// ---- errors ----

/// The kind of `err`. NULL gives BERTH_ERROR_INTERNAL.
#[no_mangle]
pub extern "C" fn berth_error_kind_of(err: *const berth_error) -> berth_error_kind {
    guard(berth_error_kind::BERTH_ERROR_INTERNAL, || {
        error_ref(err).map_or(berth_error_kind::BERTH_ERROR_INTERNAL, |err| err.kind)
    })
}

/// The message of `err`: UTF-8, NUL-terminated, owned by `err` and valid until
/// `berth_error_free(err)`. NULL gives a static string.
#[no_mangle]
pub extern "C" fn berth_error_message(err: *const berth_error) -> *const c_char {
    guard(NULL_ERROR_MESSAGE.as_ptr(), || {
        error_ref(err).map_or(NULL_ERROR_MESSAGE.as_ptr(), |err| err.message.as_ptr())
    })
}

/// The OS error code behind `err` (errno on Linux: EPERM, ENOSPC, ...), or 0 when the error
/// did not come from the OS. NULL gives 0.
#[no_mangle]
pub extern "C" fn berth_error_errno(err: *const berth_error) -> i32 {
    guard(0, || error_ref(err).map_or(0, |err| err.errno))
}

/// Frees an error returned by any berth function, on any thread. NULL is a no-op.
#[no_mangle]
pub extern "C" fn berth_error_free(err: *mut berth_error) {
    guard((), || error_free(err))
}

// ---- drivers ----

/// Makes a driver and stores it in `*out`, which the caller owns and frees with
/// `berth_driver_free`.
///
/// `options_json` is NULL for the defaults, or a JSON object with the optional keys `kind`
/// (`"native"`, the default on Linux; `"lxc"`, the LXC driver, which takes the same keys and
/// gives BERTH_ERROR_UNSUPPORTED where LXC is not installed; `"windows"`, the default of a
/// Windows build and UNSUPPORTED elsewhere), `root` (state directory, default `/run/berth`),
/// `helper_path` (the `berth-init` executable), `cgroup_parent` (default `berth`),
/// `keep_containers` (default `false`: see `berth_driver_free`) and `seccomp_cache` (a
/// directory where compiled seccomp filters are kept for the next driver, created 0700;
/// used only while it is owned by the caller's effective uid and no one else can write it:
/// for a process that makes a driver per container). The Windows driver takes
/// `root` (default `%ProgramData%\berth`), `keep_containers` and `timeouts`
/// (`{"operation_ms", "shutdown_ms", "exit_grace_ms"}`), and gives UNSUPPORTED, naming what
/// is missing, where `computecore.dll` is not there.
///
/// Errors: INVALID_ARGUMENT for NULL `out`, options that are not UTF-8 or not a JSON object,
/// or an unknown key (the message names it); UNSUPPORTED for a driver kind this build lacks;
/// PERMISSION or SYSTEM when the driver cannot set itself up (no helper, no cgroups, not
/// root). `*out` is written only on success.
#[no_mangle]
pub extern "C" fn berth_driver_new(
    options_json: *const c_char,
    out: *mut *mut berth_driver,
) -> *mut berth_error {
    ffi_fn(|| {
        let options_json = opt_str_arg("options_json", options_json)?;
        let out = out_arg("out", out)?;
        let driver = new_driver(options_json)?;
        out.write(driver_into_raw(berth_driver::from_driver(driver)));
        Ok(())
    })
}

/// Frees a driver and everything it holds, leaving no thread behind. NULL is a no-op.
///
/// The containers it still holds are killed and deleted (force), ignoring their errors;
/// with the option `keep_containers`, they are left as they are instead (created, running or
/// paused, with their state under the driver's root, and no hook of theirs runs again), for a
/// later driver on the same root, in this process or another, to take back.
///
/// The caller must make sure no other call on `driver` is in progress (a thread blocked in
/// `berth_run`, `berth_exec`, `berth_wait` or `berth_wait_exec` included: kill those
/// containers and let the calls return first) and that none starts afterwards. Do not call it
/// from a hook.
#[no_mangle]
pub extern "C" fn berth_driver_free(driver: *mut berth_driver) {
    guard((), || drop(driver_take(driver)))
}

// ---- containers ----

/// Creates a container from `command_json` (see `docs/command.md`), starts it, waits for it
/// to exit, deletes it, and stores how it ended in `*status_out`. Blocks until then.
///
/// `stdio` gives the container's streams (berth duplicates them before the call returns;
/// NULL puts all three on the null device); `hooks` is copied (NULL for none; see
/// `berth_hooks`).
///
/// Errors: INVALID_ARGUMENT for a NULL `driver`, `command_json` or `status_out`, non-UTF-8
/// text, invalid JSON, an unknown or malformed field (the message gives its JSON path, as in
/// `command.process.args`), a struct whose `size` is wrong, or a bad descriptor;
/// ALREADY_EXISTS when a container with that id exists; UNSUPPORTED, PERMISSION or SYSTEM
/// when the driver cannot set the container up.
#[no_mangle]
pub extern "C" fn berth_run(
    driver: *mut berth_driver,
    command_json: *const c_char,
    stdio: *const berth_stdio,
    hooks: *const berth_hooks,
    status_out: *mut berth_exit_status,
) -> *mut berth_error {
    ffi_fn(|| {
        let call = launch_args(driver, "command_json", command_json, stdio, hooks)?;
        let status_out = out_arg("status_out", status_out)?;
        let command = Command::parse_json(call.json)?;
        let status = call.driver.run(&command, &call.stdio, call.hooks)?;
        status_out.write(status.into());
        Ok(())
    })
}

/// Runs another process, described by `process_json` (the `process` object of a command), in
/// the running container `container_id`, and stores how it ended in `*status_out`. Blocks
/// until it exits. `stdio` and `hooks` are as for `berth_run`; the hooks get the container's
/// id.
///
/// Errors: INVALID_ARGUMENT as for `berth_run`; NOT_FOUND for an unknown id; INVALID_STATE
/// when the container is not running; UNSUPPORTED when the driver has no exec.
#[no_mangle]
pub extern "C" fn berth_exec(
    driver: *mut berth_driver,
    container_id: *const c_char,
    process_json: *const c_char,
    stdio: *const berth_stdio,
    hooks: *const berth_hooks,
    status_out: *mut berth_exit_status,
) -> *mut berth_error {
    ffi_fn(|| {
        let call = launch_args(driver, "process_json", process_json, stdio, hooks)?;
        let container_id = str_arg("container_id", container_id)?;
        let status_out = out_arg("status_out", status_out)?;
        let process = ProcessConfig::parse_json(call.json)?;
        let status = call
            .driver
            .exec(container_id, &process, &call.stdio, call.hooks)?;
        status_out.write(status.into());
        Ok(())
    })
}

/// Starts another process, described by `process_json`, in the running container
/// `container_id`, stores its host pid in `*pid_out` and returns at once. How it ends goes to
/// `hooks.on_exit` (on a thread berth owns) and to `berth_wait_exec`; berth reaps it, and
/// keeps its exit until the container is deleted. `on_start` runs before this returns.
/// `stdio` and `hooks` are as for `berth_create`.
///
/// Errors: as for `berth_exec`.
#[no_mangle]
pub extern "C" fn berth_exec_detached(
    driver: *mut berth_driver,
    container_id: *const c_char,
    process_json: *const c_char,
    stdio: *const berth_stdio,
    hooks: *const berth_hooks,
    pid_out: *mut i32,
) -> *mut berth_error {
    ffi_fn(|| {
        let call = launch_args(driver, "process_json", process_json, stdio, hooks)?;
        let container_id = str_arg("container_id", container_id)?;
        let pid_out = out_arg("pid_out", pid_out)?;
        let process = ProcessConfig::parse_json(call.json)?;
        let pid = call
            .driver
            .exec_detached(container_id, &process, &call.stdio, call.hooks)?;
        pid_out.write(pid);
        Ok(())
    })
}

/// Blocks until the process `pid`, started by `berth_exec_detached` in `container_id`, has
/// exited (and its `on_exit` has returned), and stores how it ended in `*status_out`; at once
/// if it has exited already. A `berth_delete` of the container meanwhile ends the wait.
///
/// Errors: INVALID_ARGUMENT for a NULL pointer; NOT_FOUND for an unknown id, or a pid that
/// is not a detached exec of that container (or whose container was deleted while waiting
/// and had not ended); UNSUPPORTED when the driver has no detached exec.
#[no_mangle]
pub extern "C" fn berth_wait_exec(
    driver: *mut berth_driver,
    container_id: *const c_char,
    pid: i32,
    status_out: *mut berth_exit_status,
) -> *mut berth_error {
    ffi_fn(|| {
        let driver = driver_arg("driver", driver)?;
        let container_id = str_arg("container_id", container_id)?;
        let status_out = out_arg("status_out", status_out)?;
        let status = driver.wait_exec(container_id, pid)?;
        status_out.write(status.into());
        Ok(())
    })
}

/// Sends `signal` (1 to 64) to the container's init, or to every process of the container
/// when `all`.
///
/// Errors: INVALID_ARGUMENT for a NULL pointer or a signal out of range; NOT_FOUND for an
/// unknown id; INVALID_STATE when the container has stopped.
#[no_mangle]
pub extern "C" fn berth_kill(
    driver: *mut berth_driver,
    container_id: *const c_char,
    signal: i32,
    all: bool,
) -> *mut berth_error {
    on_container(driver, container_id, |driver, id| {
        Ok(driver.kill(id, signal_arg(signal)?, all)?)
    })
}

/// Sets a container up from `command_json` and leaves it waiting just before its program
/// runs; stores the host pid of its init in `*pid_out`. Does not block on the container.
/// `stdio` and `hooks` are as for `berth_run`; `hooks->user_data` must stay valid until the
/// container is deleted.
///
/// Errors: as for `berth_run`.
#[no_mangle]
pub extern "C" fn berth_create(
    driver: *mut berth_driver,
    command_json: *const c_char,
    stdio: *const berth_stdio,
    hooks: *const berth_hooks,
    pid_out: *mut i32,
) -> *mut berth_error {
    ffi_fn(|| {
        let call = launch_args(driver, "command_json", command_json, stdio, hooks)?;
        let pid_out = out_arg("pid_out", pid_out)?;
        let command = Command::parse_json(call.json)?;
        let pid = call.driver.create(&command, &call.stdio, call.hooks)?;
        pid_out.write(pid);
        Ok(())
    })
}

/// Lets a created container run its program.
///
/// Errors: INVALID_ARGUMENT for a NULL pointer; NOT_FOUND for an unknown id; INVALID_STATE
/// when the container is not in the created state.
#[no_mangle]
pub extern "C" fn berth_start(
    driver: *mut berth_driver,
    container_id: *const c_char,
) -> *mut berth_error {
    on_container(driver, container_id, |driver, id| Ok(driver.start(id)?))
}

/// Blocks until the container's init exits and stores how it ended in `*status_out`; on a
/// container that has stopped already it returns at once.
///
/// Errors: INVALID_ARGUMENT for a NULL pointer; NOT_FOUND for an unknown id.
#[no_mangle]
pub extern "C" fn berth_wait(
    driver: *mut berth_driver,
    container_id: *const c_char,
    status_out: *mut berth_exit_status,
) -> *mut berth_error {
    ffi_fn(|| {
        let driver = driver_arg("driver", driver)?;
        let container_id = str_arg("container_id", container_id)?;
        let status_out = out_arg("status_out", status_out)?;
        let status = driver.wait(container_id)?;
        status_out.write(status.into());
        Ok(())
    })
}

/// Removes a container and everything berth made for it. A created, running or paused one is
/// refused unless `force`, which kills it first.
///
/// Errors: INVALID_ARGUMENT for a NULL pointer; NOT_FOUND for an unknown id; INVALID_STATE
/// for a live container without `force`.
#[no_mangle]
pub extern "C" fn berth_delete(
    driver: *mut berth_driver,
    container_id: *const c_char,
    force: bool,
) -> *mut berth_error {
    on_container(driver, container_id, |driver, id| {
        Ok(driver.delete(id, force)?)
    })
}

/// Freezes every process of a running container.
///
/// Errors: INVALID_ARGUMENT for a NULL pointer; NOT_FOUND for an unknown id; INVALID_STATE
/// when it is not running; UNSUPPORTED when the driver cannot freeze.
#[no_mangle]
pub extern "C" fn berth_pause(
    driver: *mut berth_driver,
    container_id: *const c_char,
) -> *mut berth_error {
    on_container(driver, container_id, |driver, id| Ok(driver.pause(id)?))
}

/// Thaws a paused container.
///
/// Errors: INVALID_ARGUMENT for a NULL pointer; NOT_FOUND for an unknown id; INVALID_STATE
/// when it is not paused; UNSUPPORTED when the driver cannot freeze.
#[no_mangle]
pub extern "C" fn berth_resume(
    driver: *mut berth_driver,
    container_id: *const c_char,
) -> *mut berth_error {
    on_container(driver, container_id, |driver, id| Ok(driver.resume(id)?))
}

/// Sets the terminal size of a container whose process has a `tty`.
///
/// Errors: INVALID_ARGUMENT for a NULL pointer; NOT_FOUND for an unknown id; INVALID_STATE
/// when it has no terminal; UNSUPPORTED when the driver cannot resize.
#[no_mangle]
pub extern "C" fn berth_resize(
    driver: *mut berth_driver,
    container_id: *const c_char,
    rows: u16,
    cols: u16,
) -> *mut berth_error {
    on_container(driver, container_id, |driver, id| {
        Ok(driver.resize(id, rows, cols)?)
    })
}

/// Changes the resources of a created, running or paused container. `resources_json` is a
/// JSON object in the form of a command's `resources` (see `docs/command.md`): the fields it
/// gives are set, the others keep their values, as with `runc update`.
///
/// Errors: INVALID_ARGUMENT for a NULL pointer, invalid JSON or an invalid value (named by
/// its path, as in `resources.pids_limit`); NOT_FOUND for an unknown id; INVALID_STATE when
/// the container has stopped; UNSUPPORTED for a resource the container's cgroups lack or a
/// driver without update; SYSTEM when the kernel refuses a value (the message says which
/// were set before).
#[no_mangle]
pub extern "C" fn berth_update(
    driver: *mut berth_driver,
    container_id: *const c_char,
    resources_json: *const c_char,
) -> *mut berth_error {
    ffi_fn(|| {
        let driver = driver_arg("driver", driver)?;
        let container_id = str_arg("container_id", container_id)?;
        let resources_json = str_arg("resources_json", resources_json)?;
        let resources: Resources = from_json("resources", resources_json)?;
        Ok(driver.update(container_id, &resources)?)
    })
}

/// Stores the state of a container in `*json_out` as a JSON object: `id`, `pid` (host pid of
/// init, 0 once reaped), `status` (`"creating"`, `"created"`, `"running"`, `"paused"` or
/// `"stopped"`), `created` (RFC 3339), `cgroup_path`, `rootfs` and `exit_status` (`null`, or
/// `{"code", "signal", "oom_killed"}`). The caller frees the string with
/// `berth_string_free`.
///
/// Errors: INVALID_ARGUMENT for a NULL pointer; NOT_FOUND for an unknown id.
#[no_mangle]
pub extern "C" fn berth_state(
    driver: *mut berth_driver,
    container_id: *const c_char,
    json_out: *mut *mut c_char,
) -> *mut berth_error {
    ffi_fn(|| {
        let driver = driver_arg("driver", driver)?;
        let container_id = str_arg("container_id", container_id)?;
        let json_out = out_arg("json_out", json_out)?;
        let state = driver.state(container_id)?;
        json_out.write(string_into_raw(to_json(&state)?)?);
        Ok(())
    })
}

/// Stores the states of every container of the driver in `*json_out`, as a JSON array of the
/// objects `berth_state` gives. The caller frees the string with `berth_string_free`.
///
/// Errors: INVALID_ARGUMENT for a NULL pointer; SYSTEM when the driver cannot read its
/// state.
#[no_mangle]
pub extern "C" fn berth_list(
    driver: *mut berth_driver,
    json_out: *mut *mut c_char,
) -> *mut berth_error {
    ffi_fn(|| {
        let driver = driver_arg("driver", driver)?;
        let json_out = out_arg("json_out", json_out)?;
        let states = driver.list()?;
        json_out.write(string_into_raw(to_json(&states)?)?);
        Ok(())
    })
}

/// Stores the resource usage of a container in `*json_out`: a JSON object with `memory`
/// (`usage`, `max_usage`, `limit`, `cache`, `rss`, bytes), `cpu` (`total_ns`, `user_ns`,
/// `system_ns`, `throttled_periods`, `throttled_ns`), `pids` (`current`, `limit`) and `io`
/// (`read_bytes`, `write_bytes`); a value the kernel does not give is `null`. The caller
/// frees the string with `berth_string_free`.
///
/// Errors: INVALID_ARGUMENT for a NULL pointer; NOT_FOUND for an unknown id; UNSUPPORTED
/// when the driver has no stats.
#[no_mangle]
pub extern "C" fn berth_stats(
    driver: *mut berth_driver,
    container_id: *const c_char,
    json_out: *mut *mut c_char,
) -> *mut berth_error {
    ffi_fn(|| {
        let driver = driver_arg("driver", driver)?;
        let container_id = str_arg("container_id", container_id)?;
        let json_out = out_arg("json_out", json_out)?;
        let stats = driver.stats(container_id)?;
        json_out.write(string_into_raw(to_json(&stats)?)?);
        Ok(())
    })
}

/// Frees a string berth returned through a `char **json_out`. NULL is a no-op. Strings from
/// elsewhere (and `berth_version`, `berth_error_message`) must not be passed.
#[no_mangle]
pub extern "C" fn berth_string_free(s: *mut c_char) {
    guard((), || string_free(s))
}

// ---- argument helpers that need no unsafe ----

/// The one range check of every path (`validate_signal`), here before the driver is reached.
fn signal_arg(signal: i32) -> FfiResult<i32> {
    runtime_core::validate::validate_signal(signal)?;
    Ok(signal)
}
