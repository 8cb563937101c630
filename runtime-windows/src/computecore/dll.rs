//! Loading `computecore.dll` and `vmcompute.dll` at run time and finding their functions.
//!
//! Nothing here links against either DLL: a binary that never calls [`super::ComputeCore::load`]
//! starts on a Windows without HCS, and one that does gets [`Error::Unsupported`] naming what
//! is missing. A loaded DLL is never freed: HCS calls back into this process from threads of
//! its own, which must not outlive the code they run.

use std::ffi::c_void;
use std::path::Path;

use runtime_core::Error;
use windows_sys::core::{GUID, HRESULT, PCWSTR, PWSTR};
use windows_sys::Win32::Foundation::{GetLastError, HANDLE, HMODULE};
use windows_sys::Win32::System::HostComputeSystem::{
    HCS_EVENT_CALLBACK, HCS_EVENT_OPTIONS, HCS_OPERATION, HCS_OPERATION_COMPLETION, HCS_PROCESS,
    HCS_PROCESS_INFORMATION, HCS_SYSTEM,
};
use windows_sys::Win32::System::LibraryLoader::{
    GetProcAddress, LoadLibraryExW, LOAD_LIBRARY_SEARCH_DLL_LOAD_DIR, LOAD_LIBRARY_SEARCH_SYSTEM32,
};

use super::text::wide;

/// Where the DLLs come from.
#[derive(Debug, Clone)]
pub(super) enum Location {
    /// `%SystemRoot%\System32`, and nowhere else (production).
    System32,
    /// `DIR\NAME.dll`, the DLLs it depends on from that directory or System32 (tests).
    Directory(std::path::PathBuf),
}

impl Location {
    fn describe(&self) -> String {
        match self {
            Location::System32 => "System32".to_string(),
            Location::Directory(dir) => dir.display().to_string(),
        }
    }
}

/// The `HRESULT` of a Win32 error code (`HRESULT_FROM_WIN32`).
pub(super) fn hresult_from_win32(code: u32) -> u32 {
    if code == 0 {
        0
    } else {
        (code & 0xFFFF) | 0x8007_0000
    }
}

/// Loads the DLL `name` from `location`; the message of the error says which and where.
pub(super) fn load_library(name: &str, location: &Location) -> Result<HMODULE, (u32, String)> {
    let (path, flags) = match location {
        Location::System32 => (name.to_string(), LOAD_LIBRARY_SEARCH_SYSTEM32),
        Location::Directory(dir) => (
            Path::new(dir).join(name).display().to_string(),
            LOAD_LIBRARY_SEARCH_DLL_LOAD_DIR | LOAD_LIBRARY_SEARCH_SYSTEM32,
        ),
    };
    let path16 = wide(&path).map_err(|e| (0x8007_0057, format!("{name}: {e}")))?;
    // SAFETY: `path16` is a NUL-terminated UTF-16 string that outlives the call; the file
    // handle must be null; the flags are documented ones. The module, if any, is never freed.
    let module = unsafe { LoadLibraryExW(path16.as_ptr(), std::ptr::null_mut(), flags) };
    if module.is_null() {
        // SAFETY: no precondition; it reads this thread's last error, set by the call above.
        let code = unsafe { GetLastError() };
        let mut message = format!("{name}: not found in {}", location.describe());
        if matches!(location, Location::System32) && name == "computecore.dll" {
            message.push_str(" (HCS needs Windows 10 1809 / Server 2019 or later)");
        } else if matches!(location, Location::System32) {
            message.push_str(" (is the Containers feature installed?)");
        }
        if code != 126 && code != 2 && code != 0 {
            message.push_str(&format!(" (error {code})"));
        }
        return Err((hresult_from_win32(code), message));
    }
    Ok(module)
}

/// The address of the function `name` of `module` (loaded as `dll`).
pub(super) fn function(
    module: HMODULE,
    dll: &str,
    name: &'static str,
) -> Result<unsafe extern "system" fn() -> isize, (u32, String)> {
    let mut c_name = name.as_bytes().to_vec();
    c_name.push(0);
    // SAFETY: `module` is a module this process loaded and never frees; `c_name` is a
    // NUL-terminated ANSI string that outlives the call.
    let address = unsafe { GetProcAddress(module, c_name.as_ptr()) };
    address.ok_or_else(|| {
        // SAFETY: no precondition; it reads this thread's last error, set by the call above.
        let code = unsafe { GetLastError() };
        (
            hresult_from_win32(code),
            format!("{dll}: has no function {name} (this Windows's HCS is too old)"),
        )
    })
}

/// The table of the functions of `computecore.dll` the driver calls: each field the function
/// of that name, with the signature of computecore.h.
macro_rules! api {
    ($( $field:ident = $name:literal : fn($($arg:ty),* $(,)?) $(-> $ret:ty)?; )*) => {
        /// The functions of `computecore.dll`, found by name when it was loaded.
        #[derive(Clone, Copy)]
        pub(super) struct Api {
            $( pub $field: unsafe extern "system" fn($($arg),*) $(-> $ret)?, )*
        }

        impl Api {
            /// Finds every function in `module`, the first missing one an error.
            pub(super) fn find(module: HMODULE) -> Result<Api, Error> {
                Ok(Api {
                    $( $field: {
                        let address = function(module, "computecore.dll", $name)
                            .map_err(|(_, message)| Error::Unsupported(message))?;
                        // SAFETY: the function of that name in computecore.dll has this
                        // signature (computecore.h); both are `extern "system"` function
                        // pointers of the same size.
                        unsafe {
                            std::mem::transmute::<
                                unsafe extern "system" fn() -> isize,
                                unsafe extern "system" fn($($arg),*) $(-> $ret)?,
                            >(address)
                        }
                    }, )*
                })
            }
        }
    };
}

api! {
    create_operation = "HcsCreateOperation":
        fn(*const c_void, HCS_OPERATION_COMPLETION) -> HCS_OPERATION;
    close_operation = "HcsCloseOperation": fn(HCS_OPERATION);
    wait_for_operation_result = "HcsWaitForOperationResult":
        fn(HCS_OPERATION, u32, *mut PWSTR) -> HRESULT;
    wait_for_operation_result_and_process_info = "HcsWaitForOperationResultAndProcessInfo":
        fn(HCS_OPERATION, u32, *mut HCS_PROCESS_INFORMATION, *mut PWSTR) -> HRESULT;
    cancel_operation = "HcsCancelOperation": fn(HCS_OPERATION) -> HRESULT;
    create_compute_system = "HcsCreateComputeSystem":
        fn(PCWSTR, PCWSTR, HCS_OPERATION, *const c_void, *mut HCS_SYSTEM) -> HRESULT;
    open_compute_system = "HcsOpenComputeSystem": fn(PCWSTR, u32, *mut HCS_SYSTEM) -> HRESULT;
    start_compute_system = "HcsStartComputeSystem":
        fn(HCS_SYSTEM, HCS_OPERATION, PCWSTR) -> HRESULT;
    shut_down_compute_system = "HcsShutDownComputeSystem":
        fn(HCS_SYSTEM, HCS_OPERATION, PCWSTR) -> HRESULT;
    terminate_compute_system = "HcsTerminateComputeSystem":
        fn(HCS_SYSTEM, HCS_OPERATION, PCWSTR) -> HRESULT;
    pause_compute_system = "HcsPauseComputeSystem":
        fn(HCS_SYSTEM, HCS_OPERATION, PCWSTR) -> HRESULT;
    resume_compute_system = "HcsResumeComputeSystem":
        fn(HCS_SYSTEM, HCS_OPERATION, PCWSTR) -> HRESULT;
    get_compute_system_properties = "HcsGetComputeSystemProperties":
        fn(HCS_SYSTEM, HCS_OPERATION, PCWSTR) -> HRESULT;
    modify_compute_system = "HcsModifyComputeSystem":
        fn(HCS_SYSTEM, HCS_OPERATION, PCWSTR, HANDLE) -> HRESULT;
    set_compute_system_callback = "HcsSetComputeSystemCallback":
        fn(HCS_SYSTEM, HCS_EVENT_OPTIONS, *const c_void, HCS_EVENT_CALLBACK) -> HRESULT;
    close_compute_system = "HcsCloseComputeSystem": fn(HCS_SYSTEM);
    create_process = "HcsCreateProcess":
        fn(HCS_SYSTEM, PCWSTR, HCS_OPERATION, *const c_void, *mut HCS_PROCESS) -> HRESULT;
    open_process = "HcsOpenProcess": fn(HCS_SYSTEM, u32, u32, *mut HCS_PROCESS) -> HRESULT;
    signal_process = "HcsSignalProcess": fn(HCS_PROCESS, HCS_OPERATION, PCWSTR) -> HRESULT;
    terminate_process = "HcsTerminateProcess": fn(HCS_PROCESS, HCS_OPERATION, PCWSTR) -> HRESULT;
    modify_process = "HcsModifyProcess": fn(HCS_PROCESS, HCS_OPERATION, PCWSTR) -> HRESULT;
    get_process_properties = "HcsGetProcessProperties":
        fn(HCS_PROCESS, HCS_OPERATION, PCWSTR) -> HRESULT;
    set_process_callback = "HcsSetProcessCallback":
        fn(HCS_PROCESS, HCS_EVENT_OPTIONS, *const c_void, HCS_EVENT_CALLBACK) -> HRESULT;
    close_process = "HcsCloseProcess": fn(HCS_PROCESS);
}

/// vmcompute's `NameToGuid(PCWSTR name, GUID *guid)`.
pub(super) type NameToGuid = unsafe extern "system" fn(PCWSTR, *mut GUID) -> HRESULT;

/// Loads `vmcompute.dll` from `location` and finds its `NameToGuid`.
pub(super) fn load_name_to_guid(location: &Location) -> Result<NameToGuid, (u32, String)> {
    let module = load_library("vmcompute.dll", location)?;
    let address = function(module, "vmcompute.dll", "NameToGuid")?;
    // SAFETY: vmcompute's NameToGuid has this signature (hcsshim's declaration of it); both
    // are `extern "system"` function pointers of the same size.
    Ok(unsafe { std::mem::transmute::<unsafe extern "system" fn() -> isize, NameToGuid>(address) })
}
