//! Where C meets Rust: every `unsafe` block of libberth is in this module (the `#[no_mangle]`
//! exports are in `api`).
//!
//! The exported functions hand their raw arguments to these helpers, which trust the caller's
//! side of the contract written in `berth.h` (a non-NULL pointer points to what its type says
//! and stays valid for the call; a `berth_driver*` came from `berth_driver_new` and was not
//! freed) and check everything else: NULL, UTF-8, descriptor numbers. Every exported call runs
//! inside [`ffi_fn`] or [`guard`], which turn a panic into a value instead of unwinding into C.

use std::any::Any;
use std::ffi::{c_char, CStr, CString};
use std::marker::PhantomData;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr::{self, NonNull};

use runtime_core::{Driver, ExitStatus, Hooks, RawStdio, Stdio};

use crate::types::{
    berth_driver, berth_error, berth_error_kind, berth_exit_status, berth_handle, berth_hooks,
    berth_stdio, SizedStruct, BERTH_NULL_HANDLE,
};

/// What an exported function's body returns: `berth_error` is the C error value itself, and a
/// `runtime_core::Error` converts into it with `?`.
pub(crate) type FfiResult<T> = Result<T, berth_error>;

/// Runs the body of a fallible exported function: NULL on success, else a new heap error the
/// caller owns. A panic becomes BERTH_ERROR_INTERNAL.
pub(crate) fn ffi_fn(body: impl FnOnce() -> FfiResult<()>) -> *mut berth_error {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => ptr::null_mut(),
        Ok(Err(err)) => Box::into_raw(Box::new(err)),
        Err(payload) => Box::into_raw(Box::new(panic_error(payload.as_ref()))),
    }
}

/// Runs the body of an exported function that cannot report an error, giving `fallback` if
/// it panics.
pub(crate) fn guard<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(fallback)
}

fn panic_error(payload: &(dyn Any + Send)) -> berth_error {
    let what = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a panic without a message");
    berth_error::new(
        berth_error_kind::BERTH_ERROR_INTERNAL,
        format!("internal error: panic in berth: {what}"),
    )
}

fn invalid(message: String) -> berth_error {
    berth_error::new(berth_error_kind::BERTH_ERROR_INVALID_ARGUMENT, message)
}

// ---- errors ----

/// The error behind a pointer the caller got from berth, or `None` for NULL.
pub(crate) fn error_ref<'a>(err: *const berth_error) -> Option<&'a berth_error> {
    // SAFETY: a non-NULL `err` was returned by berth (Box::into_raw in `ffi_fn`) and not yet
    // freed: the header's contract for every `berth_error*` argument.
    unsafe { err.as_ref() }
}

/// Releases an error berth returned; NULL is a no-op.
pub(crate) fn error_free(err: *mut berth_error) {
    if !err.is_null() {
        // SAFETY: `err` came from Box::into_raw in `ffi_fn` and the caller frees it once.
        drop(unsafe { Box::from_raw(err) });
    }
}

// ---- drivers ----

/// Hands a driver to C.
pub(crate) fn driver_into_raw(driver: Box<berth_driver>) -> *mut berth_driver {
    Box::into_raw(driver)
}

/// The driver behind a `berth_driver*` argument named `name`.
pub(crate) fn driver_arg<'a>(name: &str, driver: *mut berth_driver) -> FfiResult<&'a dyn Driver> {
    // SAFETY: a non-NULL `driver` came from `berth_driver_new` (or the tests' internal
    // constructor) and is not freed while calls on it run: the header's contract. Only shared
    // access is made; `Driver` is `Sync`.
    match unsafe { driver.as_ref() } {
        Some(driver) => Ok(driver.inner.as_ref()),
        None => Err(invalid(format!("{name} is NULL"))),
    }
}

/// Takes a driver back from C to drop it; `None` for NULL.
pub(crate) fn driver_take(driver: *mut berth_driver) -> Option<Box<berth_driver>> {
    // SAFETY: a non-NULL `driver` came from `driver_into_raw`, and the caller gives it up
    // here: no call on it runs now or later (the contract of `berth_driver_free`).
    (!driver.is_null()).then(|| unsafe { Box::from_raw(driver) })
}

// ---- strings ----

/// A required NUL-terminated UTF-8 string argument.
pub(crate) fn str_arg<'a>(name: &str, text: *const c_char) -> FfiResult<&'a str> {
    opt_str_arg(name, text)?.ok_or_else(|| invalid(format!("{name} is NULL")))
}

/// An optional NUL-terminated UTF-8 string argument: NULL is `None`.
pub(crate) fn opt_str_arg<'a>(name: &str, text: *const c_char) -> FfiResult<Option<&'a str>> {
    if text.is_null() {
        return Ok(None);
    }
    // SAFETY: a non-NULL string argument points to a NUL-terminated string that stays valid
    // and unchanged for the call: the header's contract.
    let bytes = unsafe { CStr::from_ptr(text) };
    match bytes.to_str() {
        Ok(text) => Ok(Some(text)),
        Err(err) => Err(invalid(format!(
            "{name} is not valid UTF-8 (bad byte at offset {})",
            err.valid_up_to()
        ))),
    }
}

/// Hands a string to C; the caller frees it with `berth_string_free`.
pub(crate) fn string_into_raw(text: String) -> FfiResult<*mut c_char> {
    match CString::new(text) {
        Ok(text) => Ok(text.into_raw()),
        Err(_) => Err(berth_error::new(
            berth_error_kind::BERTH_ERROR_INTERNAL,
            "internal error: a returned string holds a NUL byte".into(),
        )),
    }
}

/// Releases a string from [`string_into_raw`]; NULL is a no-op.
pub(crate) fn string_free(text: *mut c_char) {
    if !text.is_null() {
        // SAFETY: `text` came from CString::into_raw in `string_into_raw`, unchanged in
        // length, and the caller frees it once.
        drop(unsafe { CString::from_raw(text) });
    }
}

// ---- structs in, values out ----

/// Copies a struct that starts with its size (`berth_stdio`, `berth_hooks`); NULL is `None`.
///
/// A `size` below this version's struct is refused (a zeroed struct is a mistake, not a
/// request). A larger one comes from a newer header: it is accepted when every byte this
/// libberth does not know is zero, as Linux's `copy_struct_from_user` does, so that a field
/// a caller sets is never silently ignored.
pub(crate) fn sized_struct_arg<T: SizedStruct + Copy>(
    name: &str,
    value: *const T,
) -> FfiResult<Option<T>> {
    if value.is_null() {
        return Ok(None);
    }
    // SAFETY: a non-NULL struct argument points to an initialized, aligned struct that starts
    // with its `size_t size` and stays valid for the call: the header's contract.
    let size = unsafe { value.cast::<usize>().read() };
    let ours = std::mem::size_of::<T>();
    let type_name = std::any::type_name::<T>()
        .rsplit("::")
        .next()
        .unwrap_or(name);
    if size < T::MIN_SIZE {
        return Err(invalid(format!(
            "{name}->size is {size}: set it to sizeof({type_name}) ({ours} in this libberth)"
        )));
    }
    if size > ours {
        // SAFETY: the caller says the struct is `size` bytes long (its header's sizeof), so
        // the bytes up to `size` are readable for the call.
        let tail = unsafe { std::slice::from_raw_parts(value.cast::<u8>().add(ours), size - ours) };
        if tail.iter().any(|&byte| byte != 0) {
            return Err(berth_error::new(
                berth_error_kind::BERTH_ERROR_UNSUPPORTED,
                format!(
                    "{name} sets fields this libberth does not know ({name}->size is {size}, \
                     {ours} here): use a newer libberth, or leave them zero"
                ),
            ));
        }
    }
    // SAFETY: as above; the first `size_of::<T>()` bytes are this version's fields. The
    // struct is copied, so berth keeps no pointer into the caller's memory.
    Ok(Some(unsafe { value.read() }))
}

/// An out-parameter: checked for NULL up front, written only once the call has succeeded.
pub(crate) struct Out<'a, T> {
    target: NonNull<T>,
    _borrow: PhantomData<&'a mut T>,
}

/// A required out-parameter named `name`.
pub(crate) fn out_arg<'a, T>(name: &str, target: *mut T) -> FfiResult<Out<'a, T>> {
    match NonNull::new(target) {
        Some(target) => Ok(Out {
            target,
            _borrow: PhantomData,
        }),
        None => Err(invalid(format!("{name} is NULL"))),
    }
}

impl<T> Out<'_, T> {
    /// Stores the result. What was there before is overwritten without being read or dropped.
    pub(crate) fn write(self, value: T) {
        // SAFETY: a non-NULL out-parameter points to writable, aligned memory for a `T`
        // (possibly uninitialized): the header's contract. `ptr::write` reads nothing.
        unsafe { ptr::write(self.target.as_ptr(), value) }
    }
}

// ---- stdio ----

/// The streams of a `berth_stdio`: `BERTH_NULL_HANDLE` is the null device; on Unix anything
/// else must be an open descriptor.
pub(crate) fn stdio_from(name: &str, stdio: &berth_stdio) -> FfiResult<Stdio> {
    Ok(Stdio {
        stdin: stream(name, "stdin_handle", stdio.stdin_handle)?,
        stdout: stream(name, "stdout_handle", stdio.stdout_handle)?,
        stderr: stream(name, "stderr_handle", stdio.stderr_handle)?,
        extra: Vec::new(),
    })
}

#[cfg(unix)]
fn stream(name: &str, field: &str, handle: berth_handle) -> FfiResult<Option<RawStdio>> {
    if handle == BERTH_NULL_HANDLE {
        return Ok(None);
    }
    let fd = match RawStdio::try_from(handle) {
        Ok(fd) if fd >= 0 => fd,
        _ => {
            return Err(invalid(format!(
                "{name}->{field} is {handle}: use BERTH_NULL_HANDLE (-1) for /dev/null or an \
                 open descriptor"
            )))
        }
    };
    // SAFETY: F_GETFD only reads the descriptor's flags; any number is allowed and a closed
    // one gives EBADF.
    if unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1 {
        Err(invalid(format!(
            "{name}->{field} is {fd}, which is not an open file descriptor"
        )))
    } else {
        Ok(Some(fd))
    }
}

/// On Windows a handle is passed on as it is; the driver's duplication finds a bad one.
#[cfg(windows)]
fn stream(name: &str, field: &str, handle: berth_handle) -> FfiResult<Option<RawStdio>> {
    match handle {
        BERTH_NULL_HANDLE => Ok(None),
        0 => Err(invalid(format!(
            "{name}->{field} is 0, which is no handle: use BERTH_NULL_HANDLE (-1) for NUL"
        ))),
        handle => Ok(Some(handle)),
    }
}

// ---- hooks ----

/// The C callbacks as [`Hooks`]: a copy of the caller's `berth_hooks`.
#[derive(Clone, Copy)]
pub(crate) struct CHooks(berth_hooks);

// SAFETY: `berth_hooks` holds raw pointers, which Rust does not let cross threads on its own.
// The caller accepts, in the header's documentation of `berth_hooks`, that the callbacks may
// run on any thread, concurrently for different containers, and that `user_data` stays valid
// until the container is deleted; so using the copy from any thread is what was promised.
unsafe impl Send for CHooks {}
// SAFETY: as for Send: the callbacks are thread-safe by the same documented contract, and the
// copy itself is never mutated.
unsafe impl Sync for CHooks {}

impl CHooks {
    pub(crate) fn new(hooks: berth_hooks) -> CHooks {
        CHooks(hooks)
    }
}

/// Nobody takes the terminal: close it rather than leak it.
#[cfg(unix)]
fn close_console(master: RawStdio) {
    // SAFETY: the driver handed `master` over to the hooks, so it is ours to close.
    unsafe {
        libc::close(master);
    }
}

/// The Windows driver hands no console master: a console's input and output are the
/// process's stdin and stdout.
#[cfg(windows)]
fn close_console(_master: RawStdio) {}

/// The id as a C string for the length of a callback. Ids are validated (no NUL), so the
/// fallback of an empty string is for a broken driver only.
fn c_id(id: &str) -> CString {
    CString::new(id).unwrap_or_default()
}

impl Hooks for CHooks {
    fn on_start(&self, id: &str, pid: i32) {
        if let Some(callback) = self.0.on_start {
            let id = c_id(id);
            // SAFETY: the caller gave this function pointer for this signature; `id` outlives
            // the call; `user_data` is passed through unchanged, as promised.
            unsafe { callback(self.0.user_data, id.as_ptr(), pid) }
        }
    }

    fn on_oom(&self, id: &str) {
        if let Some(callback) = self.0.on_oom {
            let id = c_id(id);
            // SAFETY: as in `on_start`.
            unsafe { callback(self.0.user_data, id.as_ptr()) }
        }
    }

    fn on_exit(&self, id: &str, status: &ExitStatus) {
        if let Some(callback) = self.0.on_exit {
            let id = c_id(id);
            let status = berth_exit_status::from(*status);
            // SAFETY: as in `on_start`; `status` lives on this stack frame for the call.
            unsafe { callback(self.0.user_data, id.as_ptr(), &status) }
        }
    }

    fn on_console(&self, id: &str, master: RawStdio) {
        match self.0.on_console {
            Some(callback) => {
                let id = c_id(id);
                // SAFETY: as in `on_start`; the callee takes ownership of `master`.
                unsafe { callback(self.0.user_data, id.as_ptr(), master as berth_handle) }
            }
            None => close_console(master),
        }
    }
}
