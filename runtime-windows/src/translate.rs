//! From berth's [`Command`] and [`ProcessConfig`] to the documents of HCS schema 2.1, and
//! back from HCS's documents to berth's [`Stats`] and exit codes. Every field either maps to
//! a field of HCS or is refused with [`Error::Unsupported`] naming it; none is ignored.
//! `docs/windows.md` has the whole mapping.
//!
//! Everything here is computed before any side effect, so a command is refused before a
//! compute system exists.

use std::collections::BTreeMap;

use runtime_core::process::IdOrName;
use runtime_core::{
    Command, Error, Mount, NamespaceKind, Namespaces, OsFailure, ProcessConfig, Resources, Result,
    Stats, Stdio, UserSpec, WindowsConfig,
};
use serde::Serialize;

use crate::command_line;
use crate::schema::{
    self, ComputeSystem, Container, GuestOs, Layer, MappedDirectory, MappedPipe, ModifyOperation,
    ModifySettingRequest, Networking, ProcessModifyRequest, ProcessParameters, ProcessSignal,
    ProcessStatus, Processor, Properties, PropertyQuery, PropertyType, RequestType, SchemaVersion,
    SignalProcessOptions, Storage,
};

/// The `Owner` of the compute systems berth makes.
pub const OWNER: &str = "berth";

/// The prefix of a named pipe's path, on the host and in the container.
pub const PIPE_PREFIX: &str = r"\\.\pipe\";

/// The documents of one container, computed before any side effect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The [`crate::schema::ComputeSystem`] document.
    pub system: String,
    /// The container's init process, with a pipe for every stream (as if the caller gave all
    /// three). When the caller gives only some, [`process`] with its [`Stdio`] gives the
    /// document to create; the refusals are the same.
    pub init: ProcessPlan,
}

/// One process to create: its [`crate::schema::ProcessParameters`] document, and which of its
/// standard pipes HCS creates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessPlan {
    pub parameters: String,
    /// `EmulateConsole`: output comes on stdout only.
    pub tty: bool,
    /// `CreateStdInPipe`. With `tty` it is always set, even when the caller gave no stdin:
    /// the platform then keeps the pipe open and writes nothing to it.
    pub stdin: bool,
    pub stdout: bool,
    /// Never with `tty`: the console merges stderr into stdout.
    pub stderr: bool,
}

/// How a signal of the C ABI (Linux's numbers) is delivered on Windows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// `HcsSignalProcess` with this [`crate::schema::SignalProcessOptions`] document.
    Signal(String),
    /// `HcsTerminateProcess`.
    Terminate,
}

/// The documents for `command`; `layer_id` gives the id of a layer folder.
pub fn plan(command: &Command, layer_id: &dyn Fn(&str) -> Result<String>) -> Result<Plan> {
    let windows = command.windows.as_ref().ok_or_else(|| {
        Error::invalid(
            "windows",
            "missing: the Windows driver needs the image's layer folders (windows.layer_folders)",
        )
    })?;
    refuse_linux_only(command)?;
    if windows.hyperv.is_some() {
        return Err(unsupported(
            "windows.hyperv",
            "Hyper-V isolation (it needs a utility VM, which this driver does not create; \
             containers run process-isolated)",
        ));
    }
    let every_stream = Stdio {
        stdin: Some(0),
        stdout: Some(0),
        stderr: Some(0),
        extra: Vec::new(),
    };
    let init = process(&command.process, "process", &every_stream)?;

    let container = Container {
        guest_os: Some(GuestOs {
            host_name: command.effective_hostname(),
        }),
        storage: Some(storage(command, windows, layer_id)?),
        mapped_directories: Vec::new(),
        mapped_pipes: Vec::new(),
        networking: networking(windows)?,
        processor: processor(windows, &command.resources)?,
        memory: command.resources.memory_limit.map(memory),
    };
    let container = mounts(&command.mounts, container)?;
    let system = ComputeSystem {
        owner: OWNER.to_string(),
        schema_version: SchemaVersion::V2_1,
        hosting_system_id: None,
        should_terminate_on_last_handle_closed: None,
        container: Some(container),
    };
    Ok(Plan {
        system: to_json(&system),
        init,
    })
}

/// The process document for `process` (at JSON path `field`), with the pipes `stdio` needs.
/// Extra fds (`stdio.extra`) are refused: a Windows process gets its three streams alone.
pub fn process(process: &ProcessConfig, field: &str, stdio: &Stdio) -> Result<ProcessPlan> {
    refuse_process_linux_only(process, field)?;
    stdio.refuse_extra()?;
    let command_line = command_line::try_join(&process.args)
        .map_err(|error| Error::invalid(format!("{field}.args[{}]", error.index), error.reason))?;
    let tty = process.tty;
    // A pseudo console without a stdin pipe races conhost's start-up: the process can get
    // CTRL_CLOSE and end with STATUS_CONTROL_C_EXIT (0xC000013A). So with a tty, always one.
    let stdin = tty || stdio.stdin.is_some();
    let stdout = stdio.stdout.is_some();
    let stderr = !tty && stdio.stderr.is_some();
    let parameters = ProcessParameters {
        command_line,
        user: user(&process.user, field)?,
        // "/" is berth's default, which means nothing on Windows: the image's then applies.
        working_directory: (process.cwd != "/").then(|| process.cwd.clone()),
        environment: environment(&process.env, field)?,
        emulate_console: tty,
        create_std_in_pipe: stdin,
        create_std_out_pipe: stdout,
        create_std_err_pipe: stderr,
        // As on Linux, a size means something only with a terminal.
        console_size: process
            .console_size
            .filter(|_| tty)
            .map(|size| [size.rows, size.cols]),
    };
    Ok(ProcessPlan {
        parameters: to_json(&parameters),
        tty,
        stdin,
        stdout,
        stderr,
    })
}

/// How `signal` is delivered: SIGINT as CTRL_C, SIGTERM as CTRL_SHUTDOWN (what Windows
/// services take as "stop"), SIGKILL by terminating the process. Windows has no other.
pub fn delivery(signal: i32) -> Result<Delivery> {
    let event = match signal {
        2 => ProcessSignal::CtrlC,
        15 => ProcessSignal::CtrlShutdown,
        9 => return Ok(Delivery::Terminate),
        other => {
            let name = signal_name(other).map_or(String::new(), |n| format!(" ({n})"));
            return Err(Error::Unsupported(format!(
                "signal {other}{name} (Windows delivers only SIGINT, 2, as CTRL_C; SIGTERM, \
                 15, as CTRL_SHUTDOWN; and SIGKILL, 9, by terminating the process)"
            )));
        }
    };
    Ok(Delivery::Signal(to_json(&SignalProcessOptions {
        signal: event,
    })))
}

/// The [`crate::schema::ProcessModifyRequest`] document that resizes a console.
pub fn console_size(rows: u16, cols: u16) -> String {
    to_json(&ProcessModifyRequest {
        operation: ModifyOperation::ConsoleSize,
        console_size: Some(schema::ConsoleSize {
            height: rows,
            width: cols,
        }),
        close_handle: None,
    })
}

/// The [`crate::schema::ModifySettingRequest`] documents that set `resources` on a running
/// container: the memory limit, then the CPU weight, each given. Every other field is refused
/// before any document is made, so that an update is applied whole or not at all by berth.
pub fn update(resources: &Resources) -> Result<Vec<String>> {
    refuse_resources("resources", resources)?;
    let mut requests = Vec::new();
    if let Some(limit) = resources.memory_limit {
        requests.push(ModifySettingRequest {
            resource_path: schema::resource_paths::MEMORY_SIZE_IN_MB.to_string(),
            request_type: RequestType::Update,
            settings: Some(serde_json::json!(memory(limit).size_in_mb)),
        });
    }
    if let Some(shares) = resources.cpu_shares {
        let weight = Processor {
            weight: Some(cpu_weight(shares)),
            ..Processor::default()
        };
        requests.push(ModifySettingRequest {
            resource_path: schema::resource_paths::PROCESSOR.to_string(),
            request_type: RequestType::Update,
            settings: Some(serde_json::to_value(weight).expect("a Processor is JSON")),
        });
    }
    Ok(requests.iter().map(to_json).collect())
}

/// The [`crate::schema::PropertyQuery`] document for the statistics.
pub fn statistics_query() -> String {
    to_json(&PropertyQuery {
        property_types: vec![PropertyType::Statistics],
    })
}

/// berth's stats from a [`crate::schema::Properties`] document with statistics.
///
/// `memory.usage` is the committed memory (`MemoryUsageCommitBytes`), what the memory limit
/// caps, so that usage and limit compare; `max_usage` its peak; `memory.rss` the private
/// working set (the private pages resident in RAM, the nearest to Linux's anonymous memory).
/// CPU times come in 100 ns units. HCS counts no processes: `pids` stays empty.
pub fn stats(properties: &str) -> Result<Stats> {
    let properties: Properties = from_hcs_json("the statistics", properties)?;
    let statistics = properties.statistics.ok_or_else(|| {
        hcs_document_error("the statistics", "the properties have no Statistics".into())
    })?;
    let mut stats = Stats::default();
    if let Some(memory) = statistics.memory {
        stats.memory.usage = Some(memory.memory_usage_commit_bytes);
        stats.memory.max_usage = Some(memory.memory_usage_commit_peak_bytes);
        stats.memory.rss = Some(memory.memory_usage_private_working_set_bytes);
    }
    if let Some(processor) = statistics.processor {
        let ns = |hundreds: u64| Some(hundreds.saturating_mul(100));
        stats.cpu.total_ns = ns(processor.total_runtime100ns);
        stats.cpu.user_ns = ns(processor.runtime_user100ns);
        stats.cpu.system_ns = ns(processor.runtime_kernel100ns);
    }
    if let Some(storage) = statistics.storage {
        stats.io.read_bytes = Some(storage.read_size_bytes);
        stats.io.write_bytes = Some(storage.write_size_bytes);
    }
    Ok(stats)
}

/// The exit code in a [`crate::schema::ProcessStatus`] document: `None` while the process
/// runs. When HCS could not wait for the exit (`LastWaitResult` not `S_OK`), the code means
/// nothing and the error gives that HRESULT.
pub fn exit_code(status: &str) -> Result<Option<u32>> {
    let status: ProcessStatus = from_hcs_json("the process status", status)?;
    if !status.exited {
        return Ok(None);
    }
    if status.last_wait_result != 0 {
        return Err(Error::System(OsFailure {
            step: format!("wait for the exit of process {}", status.process_id),
            code: status.last_wait_result,
            name: format!(
                "HCS's wait failed with HRESULT 0x{:08X}",
                status.last_wait_result as u32
            ),
        }));
    }
    Ok(Some(status.exit_code))
}

/// Docker's (and runc's, and berth's cgroup v2) scaling of cgroup v1 CPU shares, 2 to
/// 262144, onto 1 to 10000: HCS's `Processor.Weight` has that range, as `cpu.weight` does.
pub fn cpu_weight(shares: u64) -> u32 {
    let shares = shares.clamp(2, 262_144);
    (1 + ((shares - 2) * 9999) / 262_142) as u32
}

/// Whether `text` is a GUID in its plain form, `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`.
pub fn is_guid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(group, len)| group.len() == len && group.bytes().all(|b| b.is_ascii_hexdigit()))
}

// ---- the container ----

fn storage(
    command: &Command,
    windows: &WindowsConfig,
    layer_id: &dyn Fn(&str) -> Result<String>,
) -> Result<Storage> {
    let folders = &windows.layer_folders;
    if folders.len() < 2 {
        return Err(Error::invalid(
            "windows.layer_folders",
            format!(
                "{} folder(s); at least 2 are needed: the image's layers, topmost first, \
                 then the container's scratch folder",
                folders.len()
            ),
        ));
    }
    // The last folder is the scratch one: `rootfs` is already the volume mounted from it and
    // the layers, so HCS is given only the read-only layers.
    let layers = folders[..folders.len() - 1]
        .iter()
        .map(|folder| {
            Ok(Layer {
                id: layer_id(folder)?,
                path: folder.clone(),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let mut path = command.rootfs.clone();
    // HCS wants a volume path with its trailing backslash (hcsshim adds it too).
    if path.starts_with(r"\\?\Volume{") && !path.ends_with('\\') {
        path.push('\\');
    }
    Ok(Storage {
        layers,
        path: Some(path),
    })
}

fn mounts(mounts: &[Mount], mut container: Container) -> Result<Container> {
    for (i, mount) in mounts.iter().enumerate() {
        let at = format!("mounts[{i}]");
        if !mount.is_bind() {
            return Err(unsupported(
                &format!("{at}.type"),
                &format!(
                    "a {:?} mount (Windows containers are given host directories and named \
                     pipes only: type \"bind\")",
                    mount.kind
                ),
            ));
        }
        if mount.uid_mappings.is_some() || mount.gid_mappings.is_some() {
            return Err(unsupported(
                &format!("{at}.uid_mappings"),
                "an idmapped mount (Linux user namespaces)",
            ));
        }
        let mut read_only = false;
        let mut read_only_option = None;
        for (j, option) in mount.options.iter().enumerate() {
            match option.as_str() {
                "ro" => {
                    read_only = true;
                    read_only_option = Some(j);
                }
                "rw" => read_only = false,
                "bind" | "rbind" => {}
                other => {
                    return Err(unsupported(
                        &format!("{at}.options[{j}]"),
                        &format!(
                            "the mount option {other:?} (a Windows mapping takes only ro, rw, \
                             bind and rbind)"
                        ),
                    ))
                }
            }
        }
        let source = mount.source.clone().unwrap_or_default();
        let source_is_pipe = is_pipe(&source);
        let destination_is_pipe = is_pipe(&mount.destination);
        if source_is_pipe || destination_is_pipe {
            if !(source_is_pipe && destination_is_pipe) {
                let other = if source_is_pipe {
                    "destination"
                } else {
                    "source"
                };
                return Err(Error::invalid(
                    format!("{at}.{other}"),
                    r"a named pipe maps onto a named pipe: both source and destination must be \\.\pipe\NAME",
                ));
            }
            let name = &mount.destination[PIPE_PREFIX.len()..];
            if name.is_empty() {
                return Err(Error::invalid(
                    format!("{at}.destination"),
                    r"\\.\pipe\ names no pipe",
                ));
            }
            if let (true, Some(j)) = (read_only, read_only_option) {
                return Err(unsupported(
                    &format!("{at}.options[{j}]"),
                    "a read-only named pipe (HCS maps pipes as they are)",
                ));
            }
            container.mapped_pipes.push(MappedPipe {
                container_pipe_name: name.to_string(),
                host_path: source,
            });
        } else {
            container.mapped_directories.push(MappedDirectory {
                host_path: source,
                container_path: mount.destination.clone(),
                read_only,
            });
        }
    }
    Ok(container)
}

fn is_pipe(path: &str) -> bool {
    path.get(..PIPE_PREFIX.len())
        .is_some_and(|prefix| prefix.eq_ignore_ascii_case(PIPE_PREFIX))
}

fn networking(windows: &WindowsConfig) -> Result<Option<Networking>> {
    if let Some(namespace) = &windows.network_namespace {
        if !is_guid(namespace) {
            return Err(Error::invalid(
                "windows.network_namespace",
                format!(
                    "{namespace:?} is not a GUID (an HCN namespace id, such as \
                     8a0c4e0e-4f2d-4c8b-9a1e-2f1d6c3b5a70)"
                ),
            ));
        }
    }
    for (i, suffix) in windows.dns_search_list.iter().enumerate() {
        // The schema takes the list as one comma-separated string.
        if suffix.is_empty() || suffix.contains(',') {
            return Err(Error::invalid(
                format!("windows.dns_search_list[{i}]"),
                format!("{suffix:?} is not a DNS suffix (empty, or holds a ',')"),
            ));
        }
    }
    let any = windows.network_namespace.is_some()
        || windows.allow_unqualified_dns_query
        || !windows.dns_search_list.is_empty();
    Ok(any.then(|| Networking {
        allow_unqualified_dns_query: windows.allow_unqualified_dns_query,
        dns_search_list: (!windows.dns_search_list.is_empty())
            .then(|| windows.dns_search_list.join(",")),
        namespace: windows.network_namespace.clone(),
    }))
}

fn processor(windows: &WindowsConfig, resources: &Resources) -> Result<Option<Processor>> {
    if windows.cpu_count == Some(0) {
        return Err(Error::invalid("windows.cpu_count", "0: must be at least 1"));
    }
    if let Some(maximum) = windows.cpu_maximum {
        if !(1..=10_000).contains(&maximum) {
            return Err(Error::invalid(
                "windows.cpu_maximum",
                format!("{maximum}: must be 1 to 10000 (hundredths of a percent)"),
            ));
        }
    }
    let given: Vec<&str> = [
        ("windows.cpu_count", windows.cpu_count.is_some()),
        ("windows.cpu_maximum", windows.cpu_maximum.is_some()),
        ("resources.cpu_shares", resources.cpu_shares.is_some()),
    ]
    .iter()
    .filter(|(_, set)| *set)
    .map(|(name, _)| *name)
    .collect();
    if given.len() > 1 {
        return Err(Error::invalid(
            given[1],
            format!(
                "{} is given too: HCS takes one of windows.cpu_count, windows.cpu_maximum and \
                 resources.cpu_shares (its Count, Maximum and Weight are mutually exclusive)",
                given[0]
            ),
        ));
    }
    let processor = Processor {
        count: windows.cpu_count,
        maximum: windows.cpu_maximum,
        weight: resources.cpu_shares.map(cpu_weight),
    };
    Ok((!given.is_empty()).then_some(processor))
}

/// A limit in bytes as HCS's MiB, rounded up so that the container gets at least the limit.
fn memory(limit: i64) -> schema::Memory {
    const MIB: u64 = 1024 * 1024;
    schema::Memory {
        size_in_mb: u64::try_from(limit).unwrap_or(0).div_ceil(MIB),
    }
}

// ---- the process ----

fn user(text: &str, field: &str) -> Result<Option<String>> {
    let spec = UserSpec::parse(text).map_err(|why| Error::invalid(format!("{field}.user"), why))?;
    match spec {
        // Root, berth's default, has no meaning here: the image's default user runs.
        UserSpec {
            user: IdOrName::Id(0),
            group: None | Some(IdOrName::Id(0)),
        } => Ok(None),
        UserSpec {
            user: IdOrName::Name(name),
            group: None,
        } => Ok(Some(name)),
        _ => Err(unsupported(
            &format!("{field}.user"),
            &format!(
                "{text:?}: a uid or a group (Windows users are names, such as ContainerUser \
                 or ContainerAdministrator, with no numeric id and no group part)"
            ),
        )),
    }
}

fn environment(env: &[String], field: &str) -> Result<BTreeMap<String, String>> {
    // Windows names are case-insensitive: `Path` after `PATH` replaces it, as it would in
    // the process's own environment block.
    let mut pairs: Vec<(String, String)> = Vec::new();
    for (i, entry) in env.iter().enumerate() {
        let Some((key, value)) = entry.split_once('=').filter(|(key, _)| !key.is_empty()) else {
            return Err(Error::invalid(
                format!("{field}.env[{i}]"),
                format!("{entry:?} is not KEY=VALUE"),
            ));
        };
        pairs.retain(|(seen, _)| !seen.eq_ignore_ascii_case(key));
        pairs.push((key.to_string(), value.to_string()));
    }
    Ok(pairs.into_iter().collect())
}

// ---- refusals ----

fn unsupported(field: &str, what: &str) -> Error {
    Error::Unsupported(format!("{field}: {what}"))
}

/// What only a Linux container has, refused when set to anything but its default.
fn refuse_linux_only(command: &Command) -> Result<()> {
    let refusals = [
        (
            "readonly_rootfs",
            command.readonly_rootfs,
            "a read-only root (a Windows container's root is its writable scratch layer)",
        ),
        (
            "idmapped_rootfs",
            command.idmapped_rootfs,
            "an id-mapped root (Linux user namespaces)",
        ),
        (
            "writable_sysfs",
            command.writable_sysfs,
            "a read-write /sys (Linux's sysfs)",
        ),
        (
            "cgroup_parent",
            command.cgroup_parent.is_some(),
            "a cgroup parent (Windows containers have job objects, not cgroups)",
        ),
        (
            "cgroup_path",
            command.cgroup_path.is_some(),
            "a cgroup path (Windows containers have job objects, not cgroups)",
        ),
        (
            "masked_paths",
            command.masked_paths.is_some(),
            "masked paths (they mask Linux's /proc and /sys)",
        ),
        (
            "readonly_paths",
            command.readonly_paths.is_some(),
            "read-only paths (they protect Linux's /proc and /sys)",
        ),
        (
            "sysctls",
            !command.sysctls.is_empty(),
            "sysctls (Linux kernel parameters)",
        ),
        ("devices", !command.devices.is_empty(), "Linux device nodes"),
        (
            "device_nodes",
            !command.device_nodes.is_empty(),
            "Linux device nodes",
        ),
        (
            "rootfs_propagation",
            command.rootfs_propagation.is_some(),
            "the propagation of the root mount (Linux mount namespaces)",
        ),
        (
            "personality",
            command.personality.is_some(),
            "a personality (a Linux execution domain)",
        ),
        (
            "domainname",
            command.domainname.is_some(),
            "a NIS domain name (Linux UTS namespaces)",
        ),
        (
            "dev_noexec",
            command.dev_noexec,
            "a noexec /dev (a Linux mount)",
        ),
        (
            "init",
            command.init,
            "berth's init (a Linux pid 1 that reaps and forwards signals)",
        ),
        (
            "device_cgroup_rules",
            !command.device_cgroup_rules.is_empty(),
            "device cgroup rules (Linux cgroups)",
        ),
        (
            "uid_mappings",
            command.uid_mappings.is_some(),
            "uid mappings (Linux user namespaces)",
        ),
        (
            "gid_mappings",
            command.gid_mappings.is_some(),
            "gid mappings (Linux user namespaces)",
        ),
    ];
    for (field, set, what) in refusals {
        if set {
            return Err(unsupported(field, what));
        }
    }
    refuse_namespaces(&command.namespaces)?;
    refuse_resources("resources", &command.resources)
}

fn refuse_namespaces(namespaces: &Namespaces) -> Result<()> {
    let defaults = Namespaces::default();
    for kind in NamespaceKind::ALL {
        if namespaces.get(kind) != defaults.get(kind) {
            return Err(unsupported(
                &format!("namespaces.{}", kind.field()),
                &format!(
                    "a namespace other than the default {:?} (Linux namespaces; a Windows \
                     container is a silo of its own, on the network of windows.network_namespace)",
                    defaults.get(kind)
                ),
            ));
        }
    }
    Ok(())
}

fn refuse_resources(at: &str, r: &Resources) -> Result<()> {
    let refusals = [
        (
            "memory_reservation",
            r.memory_reservation.is_some(),
            "a soft memory limit",
        ),
        ("memory_swap", r.memory_swap.is_some(), "a swap limit"),
        (
            "cpu_quota",
            r.cpu_quota.is_some(),
            "a CFS quota (use windows.cpu_maximum)",
        ),
        (
            "cpu_period",
            r.cpu_period.is_some(),
            "a CFS period (use windows.cpu_maximum)",
        ),
        (
            "cpuset_cpus",
            r.cpuset_cpus.is_some(),
            "a cpuset (use windows.cpu_count)",
        ),
        ("cpuset_mems", r.cpuset_mems.is_some(), "memory nodes"),
        ("pids_limit", r.pids_limit.is_some(), "a process limit"),
        (
            "blkio_weight",
            r.blkio_weight.is_some(),
            "a block I/O weight",
        ),
    ];
    for (field, set, what) in refusals {
        if set {
            return Err(unsupported(
                &format!("{at}.{field}"),
                &format!("{what} (a Linux cgroup limit HCS has no counterpart for)"),
            ));
        }
    }
    // The rest of OCI's linux.resources: Linux cgroup files all.
    if let Some(field) = r
        .set_fields()
        .into_iter()
        .find(|field| !HCS_RESOURCES.contains(field) && !REFUSED_ABOVE.contains(field))
    {
        return Err(unsupported(
            &format!("{at}.{field}"),
            "a Linux cgroup setting (HCS has no counterpart for it)",
        ));
    }
    Ok(())
}

/// The `resources` fields HCS maps: memory_limit, cpu_shares.
const HCS_RESOURCES: &[&str] = &["memory_limit", "cpu_shares"];

/// The fields `refuse_resources` names with a reason of their own.
const REFUSED_ABOVE: &[&str] = &[
    "memory_reservation",
    "memory_swap",
    "cpu_quota",
    "cpu_period",
    "cpuset_cpus",
    "cpuset_mems",
    "pids_limit",
    "blkio_weight",
];

fn refuse_process_linux_only(process: &ProcessConfig, field: &str) -> Result<()> {
    let refusals = [
        (
            "seccomp",
            process.seccomp.is_some(),
            "a seccomp filter (a Linux kernel feature)",
        ),
        ("cap_add", !process.cap_add.is_empty(), "Linux capabilities"),
        (
            "cap_drop",
            !process.cap_drop.is_empty(),
            "Linux capabilities",
        ),
        (
            "privileged",
            process.privileged,
            "a privileged process (Linux capabilities and confinement)",
        ),
        (
            "no_new_privileges",
            !process.no_new_privileges,
            "turning off no_new_privs (a Linux process flag)",
        ),
        (
            "rlimits",
            !process.rlimits.is_empty(),
            "POSIX resource limits",
        ),
        (
            "additional_gids",
            !process.additional_gids.is_empty(),
            "supplementary group ids (Windows users have no numeric groups)",
        ),
        (
            "groups",
            process.groups.is_some(),
            "supplementary group ids (Windows users have no numeric groups)",
        ),
        (
            "capabilities",
            process.capabilities.is_some(),
            "Linux capabilities",
        ),
        ("umask", process.umask.is_some(), "a POSIX umask"),
        (
            "oom_score_adj",
            process.oom_score_adj.is_some(),
            "a Linux OOM killer score",
        ),
    ];
    for (name, set, what) in refusals {
        if set {
            return Err(unsupported(&format!("{field}.{name}"), what));
        }
    }
    Ok(())
}

// ---- helpers ----

fn to_json<T: Serialize>(document: &T) -> String {
    serde_json::to_string(document).expect("the schema types serialize to JSON")
}

fn from_hcs_json<T: serde::de::DeserializeOwned>(what: &str, text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| hcs_document_error(what, e.to_string()))
}

fn hcs_document_error(what: &str, why: String) -> Error {
    Error::System(OsFailure {
        step: format!("read {what} HCS gave"),
        code: -1,
        name: why,
    })
}

fn signal_name(signal: i32) -> Option<&'static str> {
    const NAMES: [&str; 31] = [
        "SIGHUP",
        "SIGINT",
        "SIGQUIT",
        "SIGILL",
        "SIGTRAP",
        "SIGABRT",
        "SIGBUS",
        "SIGFPE",
        "SIGKILL",
        "SIGUSR1",
        "SIGSEGV",
        "SIGUSR2",
        "SIGPIPE",
        "SIGALRM",
        "SIGTERM",
        "SIGSTKFLT",
        "SIGCHLD",
        "SIGCONT",
        "SIGSTOP",
        "SIGTSTP",
        "SIGTTIN",
        "SIGTTOU",
        "SIGURG",
        "SIGXCPU",
        "SIGXFSZ",
        "SIGVTALRM",
        "SIGPROF",
        "SIGWINCH",
        "SIGIO",
        "SIGPWR",
        "SIGSYS",
    ];
    usize::try_from(signal)
        .ok()
        .and_then(|n| n.checked_sub(1))
        .and_then(|i| NAMES.get(i).copied())
}

#[cfg(test)]
mod tests;
