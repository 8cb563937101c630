//! The Host Compute Service, as the driver sees it: a small trait over the calls of
//! `computecore.dll` it makes, so that the driver's logic is plain Rust that a fake can drive.
//!
//! `computecore::ComputeCore` (Windows only) is the real one, over `computecore.dll`
//! loaded at run time; [`crate::fake::FakeHcs`] scripts it for the tests.
//!
//! Every call takes documents in the JSON of HCS schema 2.1 ([`crate::schema`]) and gives
//! results as JSON text. An operation that takes longer than its `timeout` is cancelled and
//! fails with [`HCS_E_OPERATION_TIMEOUT`]. Errors are the HRESULT of the call with the result
//! document HCS gave, if any.
//!
//! Callbacks run on a thread of HCS's. The driver only records what they report and wakes
//! whoever waits; it never calls back into HCS from one, and never closes a handle there (a
//! close waits for the callbacks of its handle, so one from inside would deadlock).

use std::fmt;
use std::io::{Read, Write};
use std::sync::Arc;
use std::time::Duration;

/// What HCS reports to a callback of a compute system or a process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HcsEvent {
    /// The compute system has stopped (`HcsEventSystemExited`); its event data, if any.
    SystemExited(Option<String>),
    /// The process has exited (`HcsEventProcessExited`); its event data is a
    /// [`crate::schema::ProcessStatus`] document.
    ProcessExited(Option<String>),
    /// The connection to the service is lost (`HcsEventServiceDisconnect`): no other event
    /// will come for this handle.
    ServiceDisconnect,
    /// Another event: its `HCS_EVENT_TYPE` and data, ignored by the driver.
    Other(u32, Option<String>),
}

/// The numbers of `HCS_EVENT_TYPE` the driver knows.
pub mod event_type {
    pub const SYSTEM_EXITED: u32 = 0x0000_0001;
    pub const PROCESS_EXITED: u32 = 0x0001_0000;
    pub const SERVICE_DISCONNECT: u32 = 0x0200_0000;
}

impl HcsEvent {
    /// The event of `HCS_EVENT_TYPE` `kind` with its data.
    pub fn from_raw(kind: u32, data: Option<String>) -> HcsEvent {
        match kind {
            event_type::SYSTEM_EXITED => HcsEvent::SystemExited(data),
            event_type::PROCESS_EXITED => HcsEvent::ProcessExited(data),
            event_type::SERVICE_DISCONNECT => HcsEvent::ServiceDisconnect,
            other => HcsEvent::Other(other, data),
        }
    }
}

/// A callback for the events of one compute system or process. HCS may call it from any
/// thread, and until the handle it was set on is closed.
pub type HcsCallback = Arc<dyn Fn(HcsEvent) + Send + Sync>;

/// A process HCS created: its id in the container, and the host's ends of the standard
/// pipes asked for in its [`crate::schema::ProcessParameters`] (`CreateStdInPipe`, ...).
pub struct ProcessInfo {
    /// The process id inside the container's silo (a host pid too, for process isolation).
    pub pid: u32,
    pub stdin: Option<Box<dyn Write + Send>>,
    pub stdout: Option<Box<dyn Read + Send>>,
    pub stderr: Option<Box<dyn Read + Send>>,
}

impl fmt::Debug for ProcessInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProcessInfo")
            .field("pid", &self.pid)
            .field("stdin", &self.stdin.is_some())
            .field("stdout", &self.stdout.is_some())
            .field("stderr", &self.stderr.is_some())
            .finish()
    }
}

/// The calls of the Host Compute Service the driver makes (see the module's docs).
///
/// Handles are owned: `close_system` and `close_process` take them, and after they return no
/// callback set on them runs again.
pub trait Hcs: Send + Sync + 'static {
    /// An open compute system (`HCS_SYSTEM`).
    type System: Send + Sync + 'static;
    /// An open process (`HCS_PROCESS`).
    type Process: Send + Sync + 'static;

    /// `HcsCreateComputeSystem`: a new compute system `id` from a
    /// [`crate::schema::ComputeSystem`] document. It is not running yet.
    fn create_system(
        &self,
        id: &str,
        configuration: &str,
        timeout: Duration,
    ) -> Result<Self::System, HcsError>;

    /// `HcsOpenComputeSystem`: the compute system `id`, made earlier (by another driver).
    fn open_system(&self, id: &str) -> Result<Self::System, HcsError>;

    /// `HcsSetComputeSystemCallback`.
    fn set_system_callback(
        &self,
        system: &Self::System,
        callback: HcsCallback,
    ) -> Result<(), HcsError>;

    /// `HcsStartComputeSystem`.
    fn start_system(&self, system: &Self::System, timeout: Duration) -> Result<(), HcsError>;

    /// `HcsShutDownComputeSystem`: asks the system to stop (its processes get to end).
    fn shut_down_system(&self, system: &Self::System, timeout: Duration) -> Result<(), HcsError>;

    /// `HcsTerminateComputeSystem`: stops it now.
    fn terminate_system(&self, system: &Self::System, timeout: Duration) -> Result<(), HcsError>;

    /// `HcsPauseComputeSystem`.
    fn pause_system(&self, system: &Self::System, timeout: Duration) -> Result<(), HcsError>;

    /// `HcsResumeComputeSystem`.
    fn resume_system(&self, system: &Self::System, timeout: Duration) -> Result<(), HcsError>;

    /// `HcsGetComputeSystemProperties` with a [`crate::schema::PropertyQuery`] document;
    /// returns the [`crate::schema::Properties`] document.
    fn system_properties(
        &self,
        system: &Self::System,
        query: &str,
        timeout: Duration,
    ) -> Result<String, HcsError>;

    /// `HcsModifyComputeSystem` with a [`crate::schema::ModifySettingRequest`] document.
    fn modify_system(
        &self,
        system: &Self::System,
        request: &str,
        timeout: Duration,
    ) -> Result<(), HcsError>;

    /// `HcsCloseComputeSystem`. The system itself lives on if it runs.
    fn close_system(&self, system: Self::System);

    /// `HcsCreateProcess` (its pipes from `HcsWaitForOperationResultAndProcessInfo`) with a
    /// [`crate::schema::ProcessParameters`] document. The process runs when this returns:
    /// HCS cannot create one suspended.
    fn create_process(
        &self,
        system: &Self::System,
        parameters: &str,
        timeout: Duration,
    ) -> Result<(Self::Process, ProcessInfo), HcsError>;

    /// `HcsOpenProcess`: the process `pid` of the system, created earlier.
    fn open_process(&self, system: &Self::System, pid: u32) -> Result<Self::Process, HcsError>;

    /// `HcsSetProcessCallback`.
    fn set_process_callback(
        &self,
        process: &Self::Process,
        callback: HcsCallback,
    ) -> Result<(), HcsError>;

    /// `HcsSignalProcess` with a [`crate::schema::SignalProcessOptions`] document.
    fn signal_process(
        &self,
        process: &Self::Process,
        options: &str,
        timeout: Duration,
    ) -> Result<(), HcsError>;

    /// `HcsTerminateProcess`.
    fn terminate_process(&self, process: &Self::Process, timeout: Duration)
        -> Result<(), HcsError>;

    /// `HcsModifyProcess` with a [`crate::schema::ProcessModifyRequest`] document.
    fn modify_process(
        &self,
        process: &Self::Process,
        request: &str,
        timeout: Duration,
    ) -> Result<(), HcsError>;

    /// `HcsGetProcessProperties`: the [`crate::schema::ProcessStatus`] document.
    fn process_properties(
        &self,
        process: &Self::Process,
        timeout: Duration,
    ) -> Result<String, HcsError>;

    /// `HcsCloseProcess`.
    fn close_process(&self, process: Self::Process);

    /// The GUID HCS knows a layer folder by (vmcompute's `NameToGuid` of its name), in the
    /// braceless form `Storage.Layers[].Id` takes.
    fn layer_id(&self, folder: &str) -> Result<String, HcsError>;
}

// ---- HRESULTs ----

/// The operation did not finish in time and was cancelled (`HCS_E_OPERATION_TIMEOUT`).
pub const HCS_E_OPERATION_TIMEOUT: u32 = 0x8037_0118;
/// `HCS_E_SYSTEM_NOT_FOUND`.
pub const HCS_E_SYSTEM_NOT_FOUND: u32 = 0x8037_010E;
/// `HCS_E_SYSTEM_ALREADY_EXISTS`.
pub const HCS_E_SYSTEM_ALREADY_EXISTS: u32 = 0x8037_010F;
/// `HCS_E_SYSTEM_ALREADY_STOPPED`.
pub const HCS_E_SYSTEM_ALREADY_STOPPED: u32 = 0x8037_0110;
/// `HCS_E_INVALID_STATE`.
pub const HCS_E_INVALID_STATE: u32 = 0x8037_0105;
/// `HCS_E_TERMINATED`: the system was terminated while the operation ran.
pub const HCS_E_TERMINATED: u32 = 0x8037_0107;
/// `HCS_E_CONNECTION_CLOSED`.
pub const HCS_E_CONNECTION_CLOSED: u32 = 0x8037_010A;
/// `HCS_E_INVALID_JSON`.
pub const HCS_E_INVALID_JSON: u32 = 0x8037_010D;
/// `HCS_E_ACCESS_DENIED`.
pub const HCS_E_ACCESS_DENIED: u32 = 0x8037_011B;
/// `HCS_E_SERVICE_DISCONNECT`.
pub const HCS_E_SERVICE_DISCONNECT: u32 = 0x8037_011E;
/// `HCS_E_PROCESS_ALREADY_STOPPED`.
pub const HCS_E_PROCESS_ALREADY_STOPPED: u32 = 0x8037_011F;
/// `HCS_E_OPERATION_PENDING`.
pub const HCS_E_OPERATION_PENDING: u32 = 0x8037_0117;
/// `HCS_E_SERVICE_NOT_AVAILABLE`.
pub const HCS_E_SERVICE_NOT_AVAILABLE: u32 = 0x8037_0114;
/// `HRESULT_FROM_WIN32(ERROR_FILE_NOT_FOUND)`.
pub const E_FILE_NOT_FOUND: u32 = 0x8007_0002;
/// `HRESULT_FROM_WIN32(ERROR_PATH_NOT_FOUND)`.
pub const E_PATH_NOT_FOUND: u32 = 0x8007_0003;
/// `E_ACCESSDENIED`.
pub const E_ACCESSDENIED: u32 = 0x8007_0005;
/// `HRESULT_FROM_WIN32(ERROR_NOT_SUPPORTED)`.
pub const E_NOT_SUPPORTED: u32 = 0x8007_0032;
/// `E_INVALIDARG`.
pub const E_INVALIDARG: u32 = 0x8007_0057;
/// `HRESULT_FROM_WIN32(ERROR_NOT_FOUND)`: "element not found", what HCS gives for a process
/// or system that has gone.
pub const E_NOT_FOUND: u32 = 0x8007_0490;
/// `HRESULT_FROM_WIN32(ERROR_TIMEOUT)`.
pub const E_TIMEOUT: u32 = 0x8007_05B4;
/// `HRESULT_FROM_WIN32(ERROR_SHUTDOWN_IN_PROGRESS)`.
pub const E_SHUTDOWN_IN_PROGRESS: u32 = 0x8007_045B;

/// What an HRESULT means to the driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HcsErrorKind {
    /// The system or process does not exist (any more).
    NotFound,
    /// It has stopped already: for a kill, that is success.
    AlreadyStopped,
    /// It is not in a state that allows the call.
    InvalidState,
    /// The id is taken.
    AlreadyExists,
    /// The call took too long and was cancelled.
    Timeout,
    /// The service is gone or the connection to it closed.
    Disconnected,
    /// Access denied.
    Permission,
    /// The document or an argument was refused.
    Invalid,
    /// The file or path does not exist (a program, a layer).
    FileNotFound,
    /// Anything else.
    Other,
}

/// A failed HCS call: which, its HRESULT, and the result document HCS gave (JSON with an
/// `Error` and `ErrorMessage`, or plain text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HcsError {
    pub call: &'static str,
    pub hresult: u32,
    pub result: Option<String>,
}

impl HcsError {
    pub fn new(call: &'static str, hresult: u32, result: Option<String>) -> HcsError {
        HcsError {
            call,
            hresult,
            result,
        }
    }

    /// The HRESULT in its `0x8037xxxx` form. HCS gives its own codes in two forms: the
    /// `HCS_E_*` ones (`0x8037xxxx`) and, from older builds and the guest, the same code with
    /// the customer bit set (`0xC037xxxx`).
    pub fn normalized(&self) -> u32 {
        normalize(self.hresult)
    }

    /// What the code means to the driver.
    pub fn kind(&self) -> HcsErrorKind {
        match self.normalized() {
            HCS_E_SYSTEM_NOT_FOUND | E_NOT_FOUND => HcsErrorKind::NotFound,
            HCS_E_SYSTEM_ALREADY_STOPPED | HCS_E_PROCESS_ALREADY_STOPPED | HCS_E_TERMINATED => {
                HcsErrorKind::AlreadyStopped
            }
            HCS_E_INVALID_STATE | E_SHUTDOWN_IN_PROGRESS | HCS_E_OPERATION_PENDING => {
                HcsErrorKind::InvalidState
            }
            HCS_E_SYSTEM_ALREADY_EXISTS => HcsErrorKind::AlreadyExists,
            HCS_E_OPERATION_TIMEOUT | E_TIMEOUT => HcsErrorKind::Timeout,
            HCS_E_SERVICE_DISCONNECT | HCS_E_CONNECTION_CLOSED | HCS_E_SERVICE_NOT_AVAILABLE => {
                HcsErrorKind::Disconnected
            }
            HCS_E_ACCESS_DENIED | E_ACCESSDENIED => HcsErrorKind::Permission,
            HCS_E_INVALID_JSON | E_INVALIDARG | E_NOT_SUPPORTED => HcsErrorKind::Invalid,
            E_FILE_NOT_FOUND | E_PATH_NOT_FOUND => HcsErrorKind::FileNotFound,
            _ => HcsErrorKind::Other,
        }
    }

    /// The message of the result document: its `ErrorMessage` (or `Error`) field when it is
    /// JSON, the text itself otherwise.
    pub fn message(&self) -> Option<String> {
        let text = self.result.as_deref()?.trim();
        if text.is_empty() {
            return None;
        }
        match serde_json::from_str::<serde_json::Value>(text) {
            Ok(serde_json::Value::Object(map)) => ["ErrorMessage", "Error"]
                .iter()
                .find_map(|key| map.get(*key).and_then(|v| v.as_str()).map(str::to_string))
                .or_else(|| Some(text.to_string())),
            _ => Some(text.to_string()),
        }
    }
}

/// See [`HcsError::normalized`].
pub fn normalize(hresult: u32) -> u32 {
    if hresult & 0xFFFF_0000 == 0xC037_0000 {
        hresult & !0x4000_0000
    } else {
        hresult
    }
}

impl fmt::Display for HcsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} failed with HRESULT 0x{:08X}",
            self.call, self.hresult
        )?;
        if let Some(name) = hresult_name(self.normalized()) {
            write!(f, " ({name})")?;
        }
        if let Some(message) = self.message() {
            write!(f, ": {message}")?;
        }
        Ok(())
    }
}

impl std::error::Error for HcsError {}

/// The symbolic name of the HRESULTs the driver knows.
pub fn hresult_name(hresult: u32) -> Option<&'static str> {
    Some(match hresult {
        HCS_E_OPERATION_TIMEOUT => "HCS_E_OPERATION_TIMEOUT",
        HCS_E_SYSTEM_NOT_FOUND => "HCS_E_SYSTEM_NOT_FOUND",
        HCS_E_SYSTEM_ALREADY_EXISTS => "HCS_E_SYSTEM_ALREADY_EXISTS",
        HCS_E_SYSTEM_ALREADY_STOPPED => "HCS_E_SYSTEM_ALREADY_STOPPED",
        HCS_E_INVALID_STATE => "HCS_E_INVALID_STATE",
        HCS_E_TERMINATED => "HCS_E_TERMINATED",
        HCS_E_CONNECTION_CLOSED => "HCS_E_CONNECTION_CLOSED",
        HCS_E_INVALID_JSON => "HCS_E_INVALID_JSON",
        HCS_E_ACCESS_DENIED => "HCS_E_ACCESS_DENIED",
        HCS_E_SERVICE_DISCONNECT => "HCS_E_SERVICE_DISCONNECT",
        HCS_E_PROCESS_ALREADY_STOPPED => "HCS_E_PROCESS_ALREADY_STOPPED",
        HCS_E_OPERATION_PENDING => "HCS_E_OPERATION_PENDING",
        HCS_E_SERVICE_NOT_AVAILABLE => "HCS_E_SERVICE_NOT_AVAILABLE",
        E_FILE_NOT_FOUND => "ERROR_FILE_NOT_FOUND",
        E_PATH_NOT_FOUND => "ERROR_PATH_NOT_FOUND",
        E_ACCESSDENIED => "E_ACCESSDENIED",
        E_NOT_SUPPORTED => "ERROR_NOT_SUPPORTED",
        E_INVALIDARG => "E_INVALIDARG",
        E_NOT_FOUND => "ERROR_NOT_FOUND",
        E_TIMEOUT => "ERROR_TIMEOUT",
        E_SHUTDOWN_IN_PROGRESS => "ERROR_SHUTDOWN_IN_PROGRESS",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_forms_of_an_hcs_code_mean_the_same() {
        let old = HcsError::new("HcsOpenComputeSystem", 0xC037_010E, None);
        let new = HcsError::new("HcsOpenComputeSystem", 0x8037_010E, None);
        assert_eq!(old.normalized(), HCS_E_SYSTEM_NOT_FOUND);
        assert_eq!(old.kind(), HcsErrorKind::NotFound);
        assert_eq!(new.kind(), HcsErrorKind::NotFound);
        assert_eq!(
            HcsError::new("x", 0xC037_0110, None).kind(),
            HcsErrorKind::AlreadyStopped
        );
        // Win32 codes are not HCS codes: only facility 0x37 is folded.
        assert_eq!(normalize(0xC000_013A), 0xC000_013A);
    }

    #[test]
    fn the_message_comes_from_the_result_document() {
        let error = HcsError::new(
            "HcsCreateProcess",
            E_FILE_NOT_FOUND,
            Some(r#"{"Error":-2147024894,"ErrorMessage":"The system cannot find the file specified."}"#.into()),
        );
        assert_eq!(
            error.to_string(),
            "HcsCreateProcess failed with HRESULT 0x80070002 (ERROR_FILE_NOT_FOUND): \
             The system cannot find the file specified."
        );
        let plain = HcsError::new("HcsStartComputeSystem", 0x8000_4005, Some("boom".into()));
        assert_eq!(plain.message().as_deref(), Some("boom"));
        assert_eq!(plain.kind(), HcsErrorKind::Other);
    }
}
