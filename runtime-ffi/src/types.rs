//! The types of the C ABI. Their C names are their Rust names, hence the snake case.
#![allow(non_camel_case_types)]

use std::ffi::{c_char, c_void, CString};

use runtime_core::{Driver, Error, ErrorKind, ExitStatus};

/// A driver: the handle every container operation goes through.
///
/// Opaque. Made by `berth_driver_new`, released by `berth_driver_free`. It may be used from
/// many threads at once.
pub struct berth_driver {
    pub(crate) inner: Box<dyn Driver>,
}

impl berth_driver {
    /// Wraps any driver. Internal: the C ABI makes drivers only with `berth_driver_new`; the
    /// tests wrap fake ones.
    pub(crate) fn from_driver(inner: Box<dyn Driver>) -> Box<berth_driver> {
        Box::new(berth_driver { inner })
    }
}

/// An error: a kind and a message.
///
/// Opaque. Every fallible function returns NULL on success or a new error, which the caller
/// owns and releases with `berth_error_free`. Errors are values, never thread-local state: an
/// error may be read and freed on any thread.
pub struct berth_error {
    pub(crate) kind: berth_error_kind,
    pub(crate) message: CString,
}

impl berth_error {
    /// A message with a NUL in it keeps what comes before the NUL.
    pub(crate) fn new(kind: berth_error_kind, message: String) -> berth_error {
        let message = CString::new(message).unwrap_or_else(|err| {
            let end = err.nul_position();
            let mut bytes = err.into_vec();
            bytes.truncate(end);
            CString::new(bytes).unwrap_or_default()
        });
        berth_error { kind, message }
    }
}

impl From<Error> for berth_error {
    fn from(err: Error) -> berth_error {
        berth_error::new(err.kind().into(), err.to_string())
    }
}

/// The kind of a `berth_error`. The numbers are stable: a number never changes meaning and is
/// never reused. New kinds may be added, so handle unknown values.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum berth_error_kind {
    /// The caller passed something malformed or out of range: a NULL pointer, a string that
    /// is not UTF-8, invalid JSON, an unknown field, a bad signal number.
    BERTH_ERROR_INVALID_ARGUMENT = 1,
    /// No container with that id exists.
    BERTH_ERROR_NOT_FOUND = 2,
    /// A container with that id exists already.
    BERTH_ERROR_ALREADY_EXISTS = 3,
    /// The container is not in a state that allows the operation.
    BERTH_ERROR_INVALID_STATE = 4,
    /// The driver or platform does not implement the operation or option.
    BERTH_ERROR_UNSUPPORTED = 5,
    /// The operating system refused for lack of privilege.
    BERTH_ERROR_PERMISSION = 6,
    /// A system call or OS service failed.
    BERTH_ERROR_SYSTEM = 7,
    /// A bug in berth: a broken invariant or a caught panic.
    BERTH_ERROR_INTERNAL = 8,
}

impl From<ErrorKind> for berth_error_kind {
    fn from(kind: ErrorKind) -> berth_error_kind {
        use berth_error_kind::*;
        match kind {
            ErrorKind::InvalidArgument => BERTH_ERROR_INVALID_ARGUMENT,
            ErrorKind::NotFound => BERTH_ERROR_NOT_FOUND,
            ErrorKind::AlreadyExists => BERTH_ERROR_ALREADY_EXISTS,
            ErrorKind::InvalidState => BERTH_ERROR_INVALID_STATE,
            ErrorKind::Unsupported => BERTH_ERROR_UNSUPPORTED,
            ErrorKind::Permission => BERTH_ERROR_PERMISSION,
            ErrorKind::System => BERTH_ERROR_SYSTEM,
            ErrorKind::Internal => BERTH_ERROR_INTERNAL,
        }
    }
}

/// How a process ended.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct berth_exit_status {
    /// The exit code; `128 + signal` when a signal ended the process, as a shell reports it.
    pub exit_code: i64,
    /// The signal that ended the process, or 0 when it exited.
    pub signal: i32,
    /// Whether the kernel's OOM killer killed a process of the container during its life.
    pub oom_killed: bool,
}

impl From<ExitStatus> for berth_exit_status {
    fn from(status: ExitStatus) -> berth_exit_status {
        berth_exit_status {
            exit_code: status.code,
            signal: status.signal.unwrap_or(0),
            oom_killed: status.oom_killed,
        }
    }
}

impl From<&berth_exit_status> for ExitStatus {
    fn from(status: &berth_exit_status) -> ExitStatus {
        ExitStatus {
            code: status.exit_code,
            signal: (status.signal != 0).then_some(status.signal),
            oom_killed: status.oom_killed,
        }
    }
}

/// The standard streams of a container process, as file descriptors of the caller.
///
/// -1 means `/dev/null`; any other negative number, or a descriptor that is not open, is
/// BERTH_ERROR_INVALID_ARGUMENT. berth duplicates the descriptors before the call returns:
/// the caller keeps its own and may close them afterwards.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct berth_stdio {
    /// The process's standard input, or -1 for `/dev/null`.
    pub stdin_fd: i32,
    /// The process's standard output, or -1 for `/dev/null`.
    pub stdout_fd: i32,
    /// The process's standard error, or -1 for `/dev/null`.
    pub stderr_fd: i32,
}

/// Callbacks on the events of one container (or one exec). Any function pointer may be NULL.
///
/// berth copies the struct when the call that takes it begins, so the struct itself may go
/// away afterwards. `user_data` is passed to every callback unchanged and must stay valid
/// until the container is deleted (for `berth_run` and `berth_exec`: until the call returns).
/// `container_id` is a NUL-terminated string valid only during the callback.
///
/// Threads (native driver): `on_start` and `on_console` run on the thread of the call that
/// causes them (`berth_start`, `berth_run`, `berth_exec`, `berth_create`) before it returns;
/// a container's `on_oom` and `on_exit` run on a thread berth owns, except that the hooks
/// given to `berth_exec` run all on the thread of that call (its `on_exit` before it
/// returns). The callbacks of one container run one at a time and in order; those of
/// different containers may run at the same time, so the callbacks must be thread-safe. A callback should return quickly; it must not unwind (C++
/// exceptions, longjmp) into berth, must not call `berth_driver_free`, and must not wait for
/// its own container (`berth_wait`, `berth_delete`): those wait for its hooks to finish.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct berth_hooks {
    /// Passed unchanged as the first argument of every callback.
    pub user_data: *mut c_void,
    /// The program runs; `pid` is its pid on the host.
    pub on_start:
        Option<unsafe extern "C" fn(user_data: *mut c_void, container_id: *const c_char, pid: i32)>,
    /// The kernel's OOM killer killed a process of the container.
    pub on_oom: Option<unsafe extern "C" fn(user_data: *mut c_void, container_id: *const c_char)>,
    /// The process has exited and been reaped; `status` is valid during the call.
    pub on_exit: Option<
        unsafe extern "C" fn(
            user_data: *mut c_void,
            container_id: *const c_char,
            status: *const berth_exit_status,
        ),
    >,
    /// The terminal master of a `tty` process; the callee owns `master_fd` and must close it.
    pub on_console: Option<
        unsafe extern "C" fn(user_data: *mut c_void, container_id: *const c_char, master_fd: i32),
    >,
}
