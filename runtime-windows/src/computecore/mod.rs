//! The real [`Hcs`]: the Host Compute Service through `computecore.dll`, loaded at run time.
//!
//! [`ComputeCore::load`] loads the DLL from System32 only and finds every function the driver
//! calls, so that a Windows without HCS (older than 10 1809 / Server 2019, or without the
//! Containers feature) gets [`runtime_core::Error::Unsupported`] naming what is missing rather
//! than a binary that does not start. `vmcompute.dll`, only for `NameToGuid`
//! ([`Hcs::layer_id`]), is loaded on first use.
//!
//! Every call is one HCS operation: created, passed to the call, waited for with the call's
//! timeout (cancelled with `HcsCancelOperation` when it runs out, which fails with
//! [`HCS_E_OPERATION_TIMEOUT`]) and closed. Result documents are read and freed with
//! `LocalFree`. Documents and ids go in as NUL-terminated UTF-16; one with a NUL inside is
//! refused with `E_INVALIDARG` before any call.
//!
//! A callback set on a handle lives, boxed, until the handle is closed: HCS calls an
//! `extern "system"` trampoline with it as the context, which turns the `HCS_EVENT` into an
//! [`HcsEvent`] and never lets a panic unwind into HCS. Closing a handle (`close_*`, or
//! dropping it) closes it with HCS, which waits for its callbacks in flight, and only then
//! frees the callbacks: so it must not happen from inside one of them.

mod dll;
mod io;
mod text;

use std::ffi::c_void;
use std::fmt;
use std::fs::File;
use std::os::windows::io::{FromRawHandle, OwnedHandle};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use windows_sys::core::GUID;
use windows_sys::Win32::Foundation::HANDLE;
use windows_sys::Win32::System::HostComputeSystem::{
    HcsEventOptionNone, HCS_EVENT, HCS_OPERATION, HCS_PROCESS_INFORMATION,
};

use crate::hcs::{
    normalize, Hcs, HcsCallback, HcsError, HcsEvent, ProcessInfo, E_INVALIDARG,
    HCS_E_OPERATION_TIMEOUT,
};
use dll::{Api, Location, NameToGuid};
pub use io::cancel_blocking_read;
use text::{read_wide, wide, LocalString};

/// `GENERIC_ALL`, the access `HcsOpenComputeSystem` and `HcsOpenProcess` are asked for.
const GENERIC_ALL: u32 = 0x1000_0000;
/// `E_OUTOFMEMORY`: what a failed `HcsCreateOperation` means.
const E_OUTOFMEMORY: u32 = 0x8007_000E;

/// The Host Compute Service over `computecore.dll` (see the module's docs).
pub struct ComputeCore {
    api: Api,
    location: Location,
    name_to_guid: OnceLock<Result<NameToGuid, (u32, String)>>,
}

impl fmt::Debug for ComputeCore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ComputeCore")
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

impl ComputeCore {
    /// Loads `computecore.dll` from System32, and nowhere else, and finds its functions.
    /// [`runtime_core::Error::Unsupported`] names the DLL or the function that is missing.
    pub fn load() -> Result<ComputeCore, runtime_core::Error> {
        ComputeCore::load_at(Location::System32)
    }

    /// For tests only: loads `computecore.dll` (and later `vmcompute.dll`) from `dir` instead
    /// of System32, to run against a fake of them. Never use it in production: a DLL from
    /// anywhere but System32 is whatever was put there.
    pub fn load_from(dir: impl AsRef<Path>) -> Result<ComputeCore, runtime_core::Error> {
        ComputeCore::load_at(Location::Directory(dir.as_ref().to_path_buf()))
    }

    fn load_at(location: Location) -> Result<ComputeCore, runtime_core::Error> {
        let module = dll::load_library("computecore.dll", &location)
            .map_err(|(_, message)| runtime_core::Error::Unsupported(message))?;
        let api = Api::find(module)?;
        Ok(ComputeCore {
            api,
            location,
            name_to_guid: OnceLock::new(),
        })
    }

    /// Runs one operation: `call` starts it with the operation's handle, then this waits for
    /// its result with `timeout` (cancelling it when that runs out). With `process`, the wait
    /// is `HcsWaitForOperationResultAndProcessInfo` and fills it.
    fn operation(
        &self,
        call: &'static str,
        timeout: Duration,
        process: Option<&mut HCS_PROCESS_INFORMATION>,
        start: impl FnOnce(HCS_OPERATION) -> i32,
    ) -> Result<Option<String>, HcsError> {
        let operation = Operation::new(&self.api, call)?;
        let hr = start(operation.0) as u32;
        if failed(hr) {
            return Err(HcsError::new(call, hr, None));
        }
        let mut document = LocalString::null();
        let millis = timeout_millis(timeout);
        let hr = match process {
            // SAFETY: the operation is open; `info` and `document` are valid places for the
            // results, which this function owns from here (the document is freed by
            // `LocalString`, the handles by the caller).
            Some(info) => unsafe {
                (self.api.wait_for_operation_result_and_process_info)(
                    operation.0,
                    millis,
                    info,
                    &mut document.0,
                )
            },
            // SAFETY: as above, without the process information.
            None => unsafe {
                (self.api.wait_for_operation_result)(operation.0, millis, &mut document.0)
            },
        } as u32;
        if normalize(hr) == HCS_E_OPERATION_TIMEOUT {
            // SAFETY: the operation is open and still running.
            unsafe { (self.api.cancel_operation)(operation.0) };
            let message = format!("{call} did not finish in {timeout:?} and was cancelled");
            return Err(HcsError::new(
                call,
                HCS_E_OPERATION_TIMEOUT,
                document.text().or(Some(message)),
            ));
        }
        if failed(hr) {
            return Err(HcsError::new(call, hr, document.text()));
        }
        Ok(document.text())
    }

    /// One call on a system or process handle that takes an optional document.
    fn simple(
        &self,
        call: &'static str,
        function: unsafe extern "system" fn(*mut c_void, HCS_OPERATION, *const u16) -> i32,
        handle: &Handle,
        document: Option<&str>,
        timeout: Duration,
    ) -> Result<Option<String>, HcsError> {
        let document = document.map(|d| to_wide(call, d)).transpose()?;
        let pointer = document.as_ref().map_or(std::ptr::null(), |d| d.as_ptr());
        self.operation(call, timeout, None, |operation| {
            // SAFETY: the handle is open (borrowed from its owner), the operation is open,
            // and the document is null or a NUL-terminated string alive for the call.
            unsafe { function(handle.raw, operation, pointer) }
        })
    }

    fn set_callback(
        &self,
        call: &'static str,
        function: unsafe extern "system" fn(
            *mut c_void,
            i32,
            *const c_void,
            windows_sys::Win32::System::HostComputeSystem::HCS_EVENT_CALLBACK,
        ) -> i32,
        handle: &Handle,
        callback: HcsCallback,
    ) -> Result<(), HcsError> {
        let context = Box::into_raw(Box::new(callback));
        let mut contexts = handle.contexts.lock().unwrap_or_else(|e| e.into_inner());
        // SAFETY: the handle is open; `context` points to a boxed callback that lives until
        // the handle is closed (it is kept in `contexts`, freed after the close returns), and
        // `trampoline` is the matching `HCS_EVENT_CALLBACK`.
        let hr = unsafe {
            function(
                handle.raw,
                HcsEventOptionNone,
                context.cast_const().cast(),
                Some(trampoline),
            )
        } as u32;
        if failed(hr) {
            // SAFETY: HCS refused the callback, so it never received the context: this is
            // the only pointer to the box.
            drop(unsafe { Box::from_raw(context) });
            return Err(HcsError::new(call, hr, None));
        }
        contexts.push(Context(context));
        Ok(())
    }

    fn name_to_guid(&self) -> Result<NameToGuid, HcsError> {
        self.name_to_guid
            .get_or_init(|| dll::load_name_to_guid(&self.location))
            .clone()
            .map_err(|(hr, message)| HcsError::new("NameToGuid", hr, Some(message)))
    }
}

/// Whether an HRESULT is a failure (its top bit set).
fn failed(hr: u32) -> bool {
    hr & 0x8000_0000 != 0
}

/// The milliseconds of `timeout` for `HcsWaitForOperationResult`: at least 1 for a non-zero
/// one, and `INFINITE` for one too long for a `DWORD`.
fn timeout_millis(timeout: Duration) -> u32 {
    let millis = timeout.as_millis();
    if millis == 0 && !timeout.is_zero() {
        1
    } else {
        u32::try_from(millis).unwrap_or(u32::MAX)
    }
}

fn to_wide(call: &'static str, text: &str) -> Result<Vec<u16>, HcsError> {
    wide(text).map_err(|message| HcsError::new(call, E_INVALIDARG, Some(message)))
}

/// An `HCS_OPERATION`, closed when dropped.
struct Operation<'a>(HCS_OPERATION, &'a Api);

impl<'a> Operation<'a> {
    fn new(api: &'a Api, call: &'static str) -> Result<Operation<'a>, HcsError> {
        // SAFETY: no callback and no context: the operation is waited for.
        let operation = unsafe { (api.create_operation)(std::ptr::null(), None) };
        if operation.is_null() {
            return Err(HcsError::new(
                call,
                E_OUTOFMEMORY,
                Some("HcsCreateOperation failed".into()),
            ));
        }
        Ok(Operation(operation, api))
    }
}

impl Drop for Operation<'_> {
    fn drop(&mut self) {
        // SAFETY: the operation is open and closed once, here; it has finished or was
        // cancelled.
        unsafe { (self.1.close_operation)(self.0) };
    }
}

/// A callback given to HCS as a context: a `Box<HcsCallback>` turned into a pointer.
struct Context(*mut HcsCallback);

// SAFETY: the box holds an `HcsCallback`, which is `Send + Sync`; the pointer is only turned
// back into the box, once, after HCS stopped using it.
unsafe impl Send for Context {}

/// The trampoline HCS calls with an event and the context of [`ComputeCore::set_callback`].
unsafe extern "system" fn trampoline(event: *const HCS_EVENT, context: *const c_void) {
    // Nothing may unwind into HCS: a panic of the callback is dropped here.
    let _ = catch_unwind(AssertUnwindSafe(|| {
        if event.is_null() || context.is_null() {
            return;
        }
        // SAFETY: HCS passes a valid HCS_EVENT for the duration of the call, and the context
        // set with the callback, a live `Box<HcsCallback>` until the handle is closed (which
        // waits for this call to return).
        let (kind, data, callback) = unsafe {
            let event = &*event;
            (
                event.Type as u32,
                read_wide(event.EventData),
                &*context.cast::<HcsCallback>(),
            )
        };
        callback(HcsEvent::from_raw(kind, data));
    }));
}

/// An open HCS handle, closed when dropped, then its callbacks freed.
struct Handle {
    raw: *mut c_void,
    close: unsafe extern "system" fn(*mut c_void),
    contexts: Mutex<Vec<Context>>,
}

// SAFETY: HCS handles may be used from any thread (HCS serializes the calls on one handle);
// the contexts are behind a mutex.
unsafe impl Send for Handle {}
// SAFETY: as above: every call through `&Handle` is an HCS call, which is thread-safe.
unsafe impl Sync for Handle {}

impl Handle {
    fn new(raw: *mut c_void, close: unsafe extern "system" fn(*mut c_void)) -> Handle {
        Handle {
            raw,
            close,
            contexts: Mutex::new(Vec::new()),
        }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: the handle is open and closed once, here. HCS returns when no callback of
        // it runs any more, and calls none after.
        unsafe { (self.close)(self.raw) };
        let contexts = std::mem::take(self.contexts.get_mut().unwrap_or_else(|e| e.into_inner()));
        for Context(pointer) in contexts {
            // SAFETY: the box was given to HCS for this handle, which is closed: nothing else
            // uses the pointer.
            drop(unsafe { Box::from_raw(pointer) });
        }
    }
}

/// An open compute system (`HCS_SYSTEM`): closed by [`Hcs::close_system`] or when dropped.
pub struct SystemHandle(Handle);

/// An open process (`HCS_PROCESS`): closed by [`Hcs::close_process`] or when dropped.
pub struct ProcessHandle(Handle);

impl fmt::Debug for SystemHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SystemHandle({:p})", self.0.raw)
    }
}

impl fmt::Debug for ProcessHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProcessHandle({:p})", self.0.raw)
    }
}

/// The pipe `handle` from `HCS_PROCESS_INFORMATION`, owned; `None` when HCS made none.
fn pipe(handle: HANDLE) -> Option<File> {
    if handle.is_null() || handle as isize == -1 {
        return None;
    }
    // SAFETY: HCS handed this open pipe handle to the caller, which owns it from now on.
    Some(File::from(unsafe { OwnedHandle::from_raw_handle(handle) }))
}

/// `GUID` as `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, lower case and without braces.
fn guid_string(guid: &GUID) -> String {
    let d = &guid.data4;
    format!(
        "{:08x}-{:04x}-{:04x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
        guid.data1, guid.data2, guid.data3, d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]
    )
}

impl Hcs for ComputeCore {
    type System = SystemHandle;
    type Process = ProcessHandle;

    fn create_system(
        &self,
        id: &str,
        configuration: &str,
        timeout: Duration,
    ) -> Result<SystemHandle, HcsError> {
        const CALL: &str = "HcsCreateComputeSystem";
        let id = to_wide(CALL, id)?;
        let configuration = to_wide(CALL, configuration)?;
        let mut raw: *mut c_void = std::ptr::null_mut();
        let result = self.operation(CALL, timeout, None, |operation| {
            // SAFETY: the strings are NUL-terminated and alive, the operation is open, no
            // security descriptor, and `raw` receives the handle.
            unsafe {
                (self.api.create_compute_system)(
                    id.as_ptr(),
                    configuration.as_ptr(),
                    operation,
                    std::ptr::null(),
                    &mut raw,
                )
            }
        });
        // The handle (given as soon as the call returns) is owned whatever the operation's
        // result: a failed creation closes it.
        let handle = (!raw.is_null()).then(|| Handle::new(raw, self.api.close_compute_system));
        result?;
        handle
            .map(SystemHandle)
            .ok_or_else(|| HcsError::new(CALL, E_INVALIDARG, Some("HCS gave no handle".into())))
    }

    fn open_system(&self, id: &str) -> Result<SystemHandle, HcsError> {
        const CALL: &str = "HcsOpenComputeSystem";
        let id = to_wide(CALL, id)?;
        let mut raw: *mut c_void = std::ptr::null_mut();
        // SAFETY: `id` is NUL-terminated and alive; `raw` receives the handle.
        let hr =
            unsafe { (self.api.open_compute_system)(id.as_ptr(), GENERIC_ALL, &mut raw) } as u32;
        if failed(hr) {
            return Err(HcsError::new(CALL, hr, None));
        }
        if raw.is_null() {
            return Err(HcsError::new(
                CALL,
                E_INVALIDARG,
                Some("HCS gave no handle".into()),
            ));
        }
        Ok(SystemHandle(Handle::new(
            raw,
            self.api.close_compute_system,
        )))
    }

    fn set_system_callback(
        &self,
        system: &SystemHandle,
        callback: HcsCallback,
    ) -> Result<(), HcsError> {
        self.set_callback(
            "HcsSetComputeSystemCallback",
            self.api.set_compute_system_callback,
            &system.0,
            callback,
        )
    }

    fn start_system(&self, system: &SystemHandle, timeout: Duration) -> Result<(), HcsError> {
        let call = self.api.start_compute_system;
        self.simple("HcsStartComputeSystem", call, &system.0, None, timeout)
            .map(drop)
    }

    fn shut_down_system(&self, system: &SystemHandle, timeout: Duration) -> Result<(), HcsError> {
        let call = self.api.shut_down_compute_system;
        self.simple("HcsShutDownComputeSystem", call, &system.0, None, timeout)
            .map(drop)
    }

    fn terminate_system(&self, system: &SystemHandle, timeout: Duration) -> Result<(), HcsError> {
        let call = self.api.terminate_compute_system;
        self.simple("HcsTerminateComputeSystem", call, &system.0, None, timeout)
            .map(drop)
    }

    fn pause_system(&self, system: &SystemHandle, timeout: Duration) -> Result<(), HcsError> {
        let call = self.api.pause_compute_system;
        self.simple("HcsPauseComputeSystem", call, &system.0, None, timeout)
            .map(drop)
    }

    fn resume_system(&self, system: &SystemHandle, timeout: Duration) -> Result<(), HcsError> {
        let call = self.api.resume_compute_system;
        self.simple("HcsResumeComputeSystem", call, &system.0, None, timeout)
            .map(drop)
    }

    fn system_properties(
        &self,
        system: &SystemHandle,
        query: &str,
        timeout: Duration,
    ) -> Result<String, HcsError> {
        const CALL: &str = "HcsGetComputeSystemProperties";
        let call = self.api.get_compute_system_properties;
        self.simple(CALL, call, &system.0, Some(query), timeout)?
            .ok_or_else(|| HcsError::new(CALL, E_INVALIDARG, Some("no properties".into())))
    }

    fn modify_system(
        &self,
        system: &SystemHandle,
        request: &str,
        timeout: Duration,
    ) -> Result<(), HcsError> {
        const CALL: &str = "HcsModifyComputeSystem";
        let request = to_wide(CALL, request)?;
        self.operation(CALL, timeout, None, |operation| {
            // SAFETY: the handle and the operation are open, the request is NUL-terminated
            // and alive, and no identity token is passed.
            unsafe {
                (self.api.modify_compute_system)(
                    system.0.raw,
                    operation,
                    request.as_ptr(),
                    std::ptr::null_mut(),
                )
            }
        })
        .map(drop)
    }

    fn close_system(&self, system: SystemHandle) {
        drop(system);
    }

    fn create_process(
        &self,
        system: &SystemHandle,
        parameters: &str,
        timeout: Duration,
    ) -> Result<(ProcessHandle, ProcessInfo), HcsError> {
        const CALL: &str = "HcsCreateProcess";
        let parameters = to_wide(CALL, parameters)?;
        let mut raw: *mut c_void = std::ptr::null_mut();
        let mut info = HCS_PROCESS_INFORMATION {
            ProcessId: 0,
            Reserved: 0,
            StdInput: std::ptr::null_mut(),
            StdOutput: std::ptr::null_mut(),
            StdError: std::ptr::null_mut(),
        };
        let result = self.operation(CALL, timeout, Some(&mut info), |operation| {
            // SAFETY: the system and the operation are open, the parameters NUL-terminated
            // and alive, no security descriptor, and `raw` receives the handle.
            unsafe {
                (self.api.create_process)(
                    system.0.raw,
                    parameters.as_ptr(),
                    operation,
                    std::ptr::null(),
                    &mut raw,
                )
            }
        });
        let handle = (!raw.is_null()).then(|| Handle::new(raw, self.api.close_process));
        // The pipes are owned as soon as HCS gave them, and closed on a failure.
        let stdin = pipe(info.StdInput);
        let stdout = pipe(info.StdOutput);
        let stderr = pipe(info.StdError);
        result?;
        let handle = handle
            .ok_or_else(|| HcsError::new(CALL, E_INVALIDARG, Some("HCS gave no handle".into())))?;
        let info = ProcessInfo {
            pid: info.ProcessId,
            stdin: stdin.map(|f| Box::new(f) as Box<dyn std::io::Write + Send>),
            stdout: stdout.map(|f| Box::new(f) as Box<dyn std::io::Read + Send>),
            stderr: stderr.map(|f| Box::new(f) as Box<dyn std::io::Read + Send>),
        };
        Ok((ProcessHandle(handle), info))
    }

    fn open_process(&self, system: &SystemHandle, pid: u32) -> Result<ProcessHandle, HcsError> {
        const CALL: &str = "HcsOpenProcess";
        let mut raw: *mut c_void = std::ptr::null_mut();
        // SAFETY: the system is open; `raw` receives the handle.
        let hr =
            unsafe { (self.api.open_process)(system.0.raw, pid, GENERIC_ALL, &mut raw) } as u32;
        if failed(hr) {
            return Err(HcsError::new(CALL, hr, None));
        }
        if raw.is_null() {
            return Err(HcsError::new(
                CALL,
                E_INVALIDARG,
                Some("HCS gave no handle".into()),
            ));
        }
        Ok(ProcessHandle(Handle::new(raw, self.api.close_process)))
    }

    fn set_process_callback(
        &self,
        process: &ProcessHandle,
        callback: HcsCallback,
    ) -> Result<(), HcsError> {
        self.set_callback(
            "HcsSetProcessCallback",
            self.api.set_process_callback,
            &process.0,
            callback,
        )
    }

    fn signal_process(
        &self,
        process: &ProcessHandle,
        options: &str,
        timeout: Duration,
    ) -> Result<(), HcsError> {
        let call = self.api.signal_process;
        self.simple("HcsSignalProcess", call, &process.0, Some(options), timeout)
            .map(drop)
    }

    fn terminate_process(
        &self,
        process: &ProcessHandle,
        timeout: Duration,
    ) -> Result<(), HcsError> {
        let call = self.api.terminate_process;
        self.simple("HcsTerminateProcess", call, &process.0, None, timeout)
            .map(drop)
    }

    fn modify_process(
        &self,
        process: &ProcessHandle,
        request: &str,
        timeout: Duration,
    ) -> Result<(), HcsError> {
        let call = self.api.modify_process;
        self.simple("HcsModifyProcess", call, &process.0, Some(request), timeout)
            .map(drop)
    }

    fn process_properties(
        &self,
        process: &ProcessHandle,
        timeout: Duration,
    ) -> Result<String, HcsError> {
        const CALL: &str = "HcsGetProcessProperties";
        let call = self.api.get_process_properties;
        self.simple(CALL, call, &process.0, None, timeout)?
            .ok_or_else(|| HcsError::new(CALL, E_INVALIDARG, Some("no properties".into())))
    }

    fn close_process(&self, process: ProcessHandle) {
        drop(process);
    }

    fn layer_id(&self, folder: &str) -> Result<String, HcsError> {
        const CALL: &str = "NameToGuid";
        let name = folder
            .trim_end_matches(['\\', '/'])
            .rsplit(['\\', '/'])
            .next()
            .unwrap_or_default();
        if name.is_empty() {
            return Err(HcsError::new(
                CALL,
                E_INVALIDARG,
                Some(format!("{folder:?} names no layer folder")),
            ));
        }
        let name_to_guid = self.name_to_guid()?;
        let name = to_wide(CALL, name)?;
        let mut guid = GUID {
            data1: 0,
            data2: 0,
            data3: 0,
            data4: [0; 8],
        };
        // SAFETY: `name` is NUL-terminated and alive; `guid` receives the result.
        let hr = unsafe { name_to_guid(name.as_ptr(), &mut guid) } as u32;
        if failed(hr) {
            return Err(HcsError::new(CALL, hr, None));
        }
        Ok(guid_string(&guid))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_in_milliseconds() {
        assert_eq!(timeout_millis(Duration::ZERO), 0);
        assert_eq!(timeout_millis(Duration::from_micros(10)), 1);
        assert_eq!(timeout_millis(Duration::from_secs(2)), 2000);
        assert_eq!(timeout_millis(Duration::MAX), u32::MAX);
    }

    #[test]
    fn guids_print_braceless_in_lower_case() {
        let guid = GUID {
            data1: 0x0123_ABCD,
            data2: 0x4567,
            data3: 0x89AB,
            data4: [0xCD, 0xEF, 0, 1, 2, 3, 4, 0xFF],
        };
        assert_eq!(guid_string(&guid), "0123abcd-4567-89ab-cdef-0001020304ff");
    }
}
