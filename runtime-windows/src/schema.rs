//! The documents of HCS schema 2.1 that the driver writes and reads, as serde types.
//!
//! Field names are HCS's, in its PascalCase; a field berth does not set is left out of the
//! document (HCS then uses its default). The documents HCS writes (`ProcessStatus`,
//! `Properties`) are read leniently: a field missing is its default and an unknown field is
//! skipped, as newer builds add fields.
//!
//! Names and resource paths were checked against Microsoft's HCS JSON schema reference and
//! hcsshim's `internal/hcs/schema2` and `internal/hcs/resourcepaths`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `HcsCreateComputeSystem`'s document: a process-isolated Windows Server container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ComputeSystem {
    /// Who made the system (shown by `hcsdiag list`): berth.
    pub owner: String,
    /// The schema the document is written in: 2.1.
    pub schema_version: SchemaVersion,
    /// The utility VM a Hyper-V isolated container runs in; none for process isolation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hosting_system_id: Option<String>,
    /// Whether HCS ends the system when its last handle closes. Left out (false) by berth, so
    /// that a container outlives the driver process that made it and can be taken back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub should_terminate_on_last_handle_closed: Option<bool>,
    /// The container itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<Container>,
}

/// A schema version, `{"Major": 2, "Minor": 1}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SchemaVersion {
    pub major: u32,
    pub minor: u32,
}

impl SchemaVersion {
    /// Schema 2.1, which Windows Server 2019 (build 17763) and later take.
    pub const V2_1: SchemaVersion = SchemaVersion { major: 2, minor: 1 };
}

/// The configuration of a Windows Server container, read at its creation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Container {
    /// What the guest OS is told (its host name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guest_os: Option<GuestOs>,
    /// The image's layers and the volume mounted from them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<Storage>,
    /// Host directories shown in the container.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mapped_directories: Vec<MappedDirectory>,
    /// Host named pipes shown in the container.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mapped_pipes: Vec<MappedPipe>,
    /// The network namespace and DNS settings; none: no network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub networking: Option<Networking>,
    /// CPU limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processor: Option<Processor>,
    /// The memory limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<Memory>,
}

/// `GuestOs`: properties of the OS that runs in the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GuestOs {
    /// The computer name the container's processes see.
    pub host_name: String,
}

/// `Storage`: the container's file system.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Storage {
    /// The image's read-only layers, topmost first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub layers: Vec<Layer>,
    /// For process isolation, the volume the layers and the scratch folder are mounted as
    /// (`\\?\Volume{GUID}\`), which becomes the container's `C:\`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// `Layer`: one read-only image layer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Layer {
    /// The GUID HCS knows the layer by (from its folder's name), braceless.
    pub id: String,
    /// The layer's folder on the host.
    pub path: String,
}

/// `MappedDirectory`: a host directory shown inside the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MappedDirectory {
    pub host_path: String,
    pub container_path: String,
    pub read_only: bool,
}

/// `MappedPipe`: a host named pipe shown inside the container as `\\.\pipe\NAME`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MappedPipe {
    /// `NAME`, without the `\\.\pipe\` prefix.
    pub container_pipe_name: String,
    /// The host's pipe, `\\.\pipe\NAME`.
    pub host_path: String,
}

/// `Networking`: which HCN namespace the container joins, and its DNS settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Networking {
    /// Whether DNS may resolve names with no domain.
    #[serde(default)]
    pub allow_unqualified_dns_query: bool,
    /// DNS suffixes to search: one string, comma-separated, in the schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_search_list: Option<String>,
    /// The GUID of the HCN namespace whose endpoints the container gets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// `Container_Processor`: CPU limits. HCS takes one of the three: they are mutually
/// exclusive.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Processor {
    /// How many of the host's processors the container may use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    /// The share of all processors' cycles, in cycles per 10,000 (a percentage times 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum: Option<u32>,
    /// The weight against other workloads, 0 to 10000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<u32>,
}

/// `Container_Memory`: the memory limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Memory {
    /// The limit in MiB (HCS's "MB").
    #[serde(rename = "SizeInMB")]
    pub size_in_mb: u64,
}

/// `HcsCreateProcess`'s document: the process to create in the container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProcessParameters {
    /// The program and its arguments as one string (see [`crate::command_line`]).
    pub command_line: String,
    /// The user the process runs as, by name; none: the container's default
    /// (`ContainerAdministrator` in Microsoft's images).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The working directory; none: the image's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_directory: Option<String>,
    /// The environment, by name; none given: the container's default block.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub environment: BTreeMap<String, String>,
    /// Give the process a pseudo console; its output then comes on stdout alone.
    #[serde(default)]
    pub emulate_console: bool,
    #[serde(default)]
    pub create_std_in_pipe: bool,
    #[serde(default)]
    pub create_std_out_pipe: bool,
    /// Ignored by HCS with `EmulateConsole`.
    #[serde(default)]
    pub create_std_err_pipe: bool,
    /// The console's initial size, `[rows, cols]` (height, then width).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub console_size: Option<[u16; 2]>,
}

/// `ProcessStatus`: a process's state, from `HcsGetProcessProperties` and the data of its
/// `ProcessExited` event.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ProcessStatus {
    pub process_id: u32,
    /// Whether the process has exited.
    pub exited: bool,
    /// Its exit code: meaningful only when `Exited` and `LastWaitResult` is `S_OK` (0).
    pub exit_code: u32,
    /// The HRESULT of HCS's wait for the exit.
    pub last_wait_result: i32,
}

/// `PropertyQuery`: which properties `HcsGetComputeSystemProperties` returns.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PropertyQuery {
    pub property_types: Vec<PropertyType>,
}

/// A property of a compute system that a [`PropertyQuery`] asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PropertyType {
    /// [`Statistics`]: CPU, memory and storage use.
    Statistics,
}

/// `Properties`: the answer to a [`PropertyQuery`]. Only what the driver reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Properties {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statistics: Option<Statistics>,
}

/// `Statistics`: a container's resource use since it started.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Statistics {
    /// When the statistics were taken (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    /// When the container started (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_start_time: Option<String>,
    /// Time since it started, in 100 ns units.
    pub uptime100ns: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub processor: Option<ProcessorStats>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<MemoryStats>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage: Option<StorageStats>,
}

/// `ProcessorStats`: CPU time of all the container's processes, in 100 ns units.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ProcessorStats {
    pub total_runtime100ns: u64,
    pub runtime_user100ns: u64,
    pub runtime_kernel100ns: u64,
}

/// `MemoryStats`: memory use in bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct MemoryStats {
    /// Memory committed by the container's job: what its memory limit caps.
    pub memory_usage_commit_bytes: u64,
    /// The most it ever committed.
    pub memory_usage_commit_peak_bytes: u64,
    /// Its private pages resident in RAM.
    pub memory_usage_private_working_set_bytes: u64,
}

/// `StorageStats`: I/O of the container's processes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct StorageStats {
    /// Read operations, counted in units of the I/O size the job object normalizes to.
    pub read_count_normalized: u64,
    pub read_size_bytes: u64,
    pub write_count_normalized: u64,
    pub write_size_bytes: u64,
}

/// `SignalProcessOptions`: `HcsSignalProcess`'s document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SignalProcessOptions {
    pub signal: ProcessSignal,
}

/// `ProcessSignal`: the console control events HCS can send a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProcessSignal {
    /// `CTRL_C_EVENT`.
    CtrlC,
    /// `CTRL_BREAK_EVENT`.
    CtrlBreak,
    /// `CTRL_CLOSE_EVENT`: the console is closing.
    CtrlClose,
    /// `CTRL_LOGOFF_EVENT`.
    CtrlLogOff,
    /// `CTRL_SHUTDOWN_EVENT`: the system is shutting down; a service's cue to stop.
    CtrlShutdown,
}

/// `ProcessModifyRequest`: `HcsModifyProcess`'s document, one operation at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProcessModifyRequest {
    pub operation: ModifyOperation,
    /// With `Operation: "ConsoleSize"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub console_size: Option<ConsoleSize>,
    /// With `Operation: "CloseHandle"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub close_handle: Option<CloseHandle>,
}

/// What a [`ProcessModifyRequest`] does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ModifyOperation {
    /// Resize the process's pseudo console.
    ConsoleSize,
    /// Close one of HCS's ends of the process's standard pipes (for stdin: end of input).
    CloseHandle,
}

/// `ConsoleSize`: a console's size in character cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConsoleSize {
    /// Rows.
    pub height: u16,
    /// Columns.
    pub width: u16,
}

/// `CloseHandle`: which standard handle to close.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CloseHandle {
    pub handle: StdHandle,
}

/// `StdHandle`: a standard stream of a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StdHandle {
    StdIn,
    StdOut,
    StdErr,
    All,
}

/// `ModifySettingRequest`: `HcsModifyComputeSystem`'s document, which changes one resource
/// of a running system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ModifySettingRequest {
    /// Which resource: one of [`resource_paths`].
    pub resource_path: String,
    pub request_type: RequestType,
    /// The new value; its shape depends on the resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<serde_json::Value>,
}

/// What a [`ModifySettingRequest`] does to its resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RequestType {
    Add,
    Remove,
    Update,
}

/// The resource paths of a process-isolated container ("silo") that
/// [`ModifySettingRequest`] takes.
pub mod resource_paths {
    /// The memory limit; its `Settings` is the new limit in MiB, a bare number.
    pub const MEMORY_SIZE_IN_MB: &str = "Container/Memory/SizeInMB";
    /// The CPU limits; its `Settings` is a [`super::Processor`].
    pub const PROCESSOR: &str = "Container/Processor";
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_are_hcs_pascal_case() {
        let memory = serde_json::to_value(Memory { size_in_mb: 64 }).unwrap();
        assert_eq!(memory, json!({"SizeInMB": 64}));
        let networking = serde_json::to_value(Networking {
            allow_unqualified_dns_query: true,
            dns_search_list: Some("a.example,b.example".into()),
            namespace: None,
        })
        .unwrap();
        assert_eq!(
            networking,
            json!({"AllowUnqualifiedDnsQuery": true, "DnsSearchList": "a.example,b.example"})
        );
        let parameters = serde_json::to_value(ProcessParameters {
            command_line: "cmd".into(),
            console_size: Some([24, 80]),
            ..ProcessParameters::default()
        })
        .unwrap();
        assert_eq!(
            parameters,
            json!({
                "CommandLine": "cmd",
                "EmulateConsole": false,
                "CreateStdInPipe": false,
                "CreateStdOutPipe": false,
                "CreateStdErrPipe": false,
                "ConsoleSize": [24, 80],
            })
        );
    }

    #[test]
    fn hcs_documents_are_read_leniently() {
        // Omitted fields (Go's omitempty drops false and 0) and unknown ones.
        let status: ProcessStatus =
            serde_json::from_str(r#"{"ProcessId": 42, "Exited": true, "Future": 1}"#).unwrap();
        assert_eq!(
            status,
            ProcessStatus {
                process_id: 42,
                exited: true,
                exit_code: 0,
                last_wait_result: 0
            }
        );
        let properties: Properties = serde_json::from_str(
            r#"{"Id": "c1", "Statistics": {"Uptime100ns": 5, "Memory": {"MemoryUsageCommitBytes": 7}}}"#,
        )
        .unwrap();
        let statistics = properties.statistics.unwrap();
        assert_eq!(statistics.uptime100ns, 5);
        assert_eq!(statistics.memory.unwrap().memory_usage_commit_bytes, 7);
        assert_eq!(statistics.processor, None);
    }
}
