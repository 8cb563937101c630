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

/// An error: a kind, a message and the OS error behind it, if any.
///
/// Opaque. Every fallible function returns NULL on success or a new error, which the caller
/// owns and releases with `berth_error_free`. Errors are values, never thread-local state: an
/// error may be read and freed on any thread.
pub struct berth_error {
    pub(crate) kind: berth_error_kind,
    pub(crate) message: CString,
    /// The OS error code (errno on Linux), 0 if none.
    pub(crate) errno: i32,
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
        berth_error {
            kind,
            message,
            errno: 0,
        }
    }
}

impl From<Error> for berth_error {
    fn from(err: Error) -> berth_error {
        let errno = err.os_failure().map_or(0, |failure| failure.code.max(0));
        berth_error {
            errno,
            ..berth_error::new(err.kind().into(), err.to_string())
        }
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
    /// The exit code. On Linux 0 to 255, or `128 + signal` when a signal ended the process,
    /// as a shell reports it; on Windows the process's 32-bit exit code as an unsigned number
    /// (0xC000013A is 3221225786); -1 when berth could not observe the exit (a container
    /// taken back from an earlier driver in another process).
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

/// A stream or terminal of the caller's platform: a file descriptor on Linux, a `HANDLE` on
/// Windows. It is pointer-sized (`intptr_t`), so one header serves both.
pub type berth_handle = libc::intptr_t;

/// The `berth_handle` that means the null device (`/dev/null`, `NUL`).
pub const BERTH_NULL_HANDLE: berth_handle = -1;

/// The standard streams of a container process, as handles of the caller.
///
/// Set `size` to `sizeof(berth_stdio)` (`BERTH_STDIO_INIT` does, with every stream on the
/// null device): it lets a later libberth add fields without breaking this one. A struct
/// whose `size` is smaller than this version's is BERTH_ERROR_INVALID_ARGUMENT (a zeroed
/// struct is an error, not descriptor 0 three times); a larger one from a newer header is
/// accepted when the fields this libberth does not know are zero.
///
/// `BERTH_NULL_HANDLE` (-1) means the null device; on Linux any other negative number, a
/// number above `INT_MAX` or a descriptor that is not open is BERTH_ERROR_INVALID_ARGUMENT.
/// berth duplicates the handles before the call returns: the caller keeps its own and may
/// close them afterwards. Passing NULL instead of a `berth_stdio*` puts all three streams on
/// the null device.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct berth_stdio {
    /// `sizeof(berth_stdio)`.
    pub size: usize,
    /// The process's standard input, or `BERTH_NULL_HANDLE`.
    pub stdin_handle: berth_handle,
    /// The process's standard output, or `BERTH_NULL_HANDLE`.
    pub stdout_handle: berth_handle,
    /// The process's standard error, or `BERTH_NULL_HANDLE`.
    pub stderr_handle: berth_handle,
}

/// Callbacks on the events of one container (or one exec). Any function pointer may be NULL;
/// passing NULL instead of a `berth_hooks*` means no callbacks.
///
/// Set `size` to `sizeof(berth_hooks)` (`BERTH_HOOKS_INIT` does, with every callback NULL),
/// as for `berth_stdio`.
///
/// berth copies the struct when the call that takes it begins, so the struct itself may go
/// away afterwards. `user_data` is passed to every callback unchanged and must stay valid
/// until the container is deleted (for `berth_run` and `berth_exec`: until the call returns).
/// `container_id` is a NUL-terminated string valid only during the callback.
///
/// Threads (native driver): `on_start` and `on_console` run on the thread of the call that
/// causes them (`berth_start`, `berth_run`, `berth_exec`, `berth_exec_detached`,
/// `berth_create`) before it returns; a container's `on_oom` and `on_exit` run on a thread
/// berth owns, and so does the `on_exit` of a detached exec; the hooks given to `berth_exec`
/// run all on the thread of that call (its `on_exit` before it returns). The callbacks of one
/// container run one at a time and in order; those of different containers may run at the
/// same time, so the callbacks must be thread-safe. A callback should return quickly; it must
/// not unwind (C++ exceptions, longjmp) into berth and must not call `berth_driver_free`. It
/// may call berth, even `berth_wait` (which returns the exit at once, if there is one) and
/// `berth_delete` for its own container.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct berth_hooks {
    /// `sizeof(berth_hooks)`.
    pub size: usize,
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
    /// The terminal master of a `tty` process (a descriptor on Linux); the callee owns it and
    /// must close it.
    pub on_console: Option<
        unsafe extern "C" fn(
            user_data: *mut c_void,
            container_id: *const c_char,
            master: berth_handle,
        ),
    >,
}

/// A struct of the C ABI that starts with its own size, so that it can grow.
pub(crate) trait SizedStruct {
    /// The smallest size a caller may give: the struct as of ABI 2.
    const MIN_SIZE: usize;
}

impl SizedStruct for berth_stdio {
    const MIN_SIZE: usize = std::mem::size_of::<berth_stdio>();
}

impl SizedStruct for berth_hooks {
    const MIN_SIZE: usize = std::mem::size_of::<berth_hooks>();
}
