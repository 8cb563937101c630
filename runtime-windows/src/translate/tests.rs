//! Golden tests of the translation: one per field it writes, comparing the whole document
//! with the one expected, and one per field it refuses.

use runtime_core::{
    Command, ConsoleSize, DeviceRule, ErrorKind, HostDevice, HyperV, IdMapping, Mount,
    NamespaceKind, NamespaceMode, ProcessConfig, Resources, Rlimit, SeccompSetting, Stdio,
    WindowsConfig,
};
use serde_json::{json, Value};

use super::*;

const VOLUME: &str = r"\\?\Volume{5c1f6a3e-0b6e-4c8e-9f1a-3d2b7e4c9a10}\";
const NAMESPACE: &str = "8a0c4e0e-4f2d-4c8b-9a1e-2f1d6c3b5a70";

fn command() -> Command {
    let mut command = Command::new(
        "c1",
        VOLUME,
        ProcessConfig::new(["cmd.exe", "/c", "echo hi"]),
    );
    command.windows = Some(WindowsConfig {
        layer_folders: vec![
            r"C:\layers\top".into(),
            r"C:\layers\base".into(),
            r"C:\layers\scratch".into(),
        ],
        ..WindowsConfig::default()
    });
    command
}

fn windows(command: &mut Command) -> &mut WindowsConfig {
    command.windows.as_mut().unwrap()
}

fn layer_id(folder: &str) -> Result<String> {
    Ok(format!("id-of-{}", folder.rsplit('\\').next().unwrap()))
}

fn system(command: &Command) -> Value {
    serde_json::from_str(&plan(command, &layer_id).unwrap().system).unwrap()
}

/// The document of [`command`], with `fields` added to (or replacing those of) its
/// `Container`.
fn system_with(fields: Value) -> Value {
    let mut document = json!({
        "Owner": "berth",
        "SchemaVersion": {"Major": 2, "Minor": 1},
        "Container": {
            "GuestOs": {"HostName": "c1"},
            "Storage": {
                "Layers": [
                    {"Id": "id-of-top", "Path": r"C:\layers\top"},
                    {"Id": "id-of-base", "Path": r"C:\layers\base"},
                ],
                "Path": VOLUME,
            },
        },
    });
    merge(&mut document["Container"], fields);
    document
}

fn all_streams() -> Stdio {
    Stdio {
        stdin: Some(0),
        stdout: Some(1),
        stderr: Some(2),
        extra: Vec::new(),
    }
}

fn parameters(process: &ProcessConfig, stdio: &Stdio) -> Value {
    serde_json::from_str(
        &super::process(process, "process", stdio)
            .unwrap()
            .parameters,
    )
    .unwrap()
}

/// The parameters of [`command`]'s process with every stream, with `fields` added or
/// replaced.
fn parameters_with(fields: Value) -> Value {
    let mut document = json!({
        "CommandLine": r#"cmd.exe /c "echo hi""#,
        "EmulateConsole": false,
        "CreateStdInPipe": true,
        "CreateStdOutPipe": true,
        "CreateStdErrPipe": true,
    });
    merge(&mut document, fields);
    document
}

fn merge(into: &mut Value, fields: Value) {
    for (key, value) in fields.as_object().unwrap() {
        into[key] = value.clone();
    }
}

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

#[track_caller]
fn assert_refused(result: Result<impl std::fmt::Debug>, kind: ErrorKind, field: &str) {
    let error = result.unwrap_err();
    assert_eq!(error.kind(), kind, "{error}");
    assert!(
        error.to_string().contains(field),
        "{error:?} does not name {field}"
    );
}

// ---- the compute system ----

#[test]
fn layer_folders_and_rootfs_make_the_storage() {
    // All but the last folder are the layers, topmost first; the scratch folder is not one.
    assert_eq!(system(&command()), system_with(json!({})));
}

#[test]
fn a_volume_path_gets_its_trailing_backslash() {
    let mut command = command();
    command.rootfs = VOLUME.trim_end_matches('\\').to_string();
    assert_eq!(system(&command), system_with(json!({})));
}

#[test]
fn a_layer_id_that_fails_fails_the_plan() {
    let failing = |_: &str| -> Result<String> {
        Err(Error::invalid("windows.layer_folders[0]", "no such layer"))
    };
    assert_refused(
        plan(&command(), &failing),
        ErrorKind::InvalidArgument,
        "windows.layer_folders[0]",
    );
}

#[test]
fn hostname_is_the_guest_host_name() {
    let mut command = command();
    command.hostname = Some("web".into());
    assert_eq!(
        system(&command),
        system_with(json!({"GuestOs": {"HostName": "web"}}))
    );
}

#[test]
fn a_bind_mount_is_a_mapped_directory() {
    let mut command = command();
    command.mounts = vec![
        Mount {
            source: Some(r"C:\data".into()),
            destination: r"C:\app\data".into(),
            kind: "bind".into(),
            options: vec!["rbind".into()],
            uid_mappings: None,
            gid_mappings: None,
        },
        Mount {
            source: Some(r"C:\config".into()),
            destination: r"C:\app\config".into(),
            kind: "bind".into(),
            options: vec!["ro".into()],
            uid_mappings: None,
            gid_mappings: None,
        },
        Mount {
            source: Some(r"C:\logs".into()),
            destination: r"C:\app\logs".into(),
            kind: "bind".into(),
            options: vec!["ro".into(), "rw".into(), "bind".into()],
            uid_mappings: None,
            gid_mappings: None,
        },
    ];
    assert_eq!(
        system(&command),
        system_with(json!({"MappedDirectories": [
            {"HostPath": r"C:\data", "ContainerPath": r"C:\app\data", "ReadOnly": false},
            {"HostPath": r"C:\config", "ContainerPath": r"C:\app\config", "ReadOnly": true},
            {"HostPath": r"C:\logs", "ContainerPath": r"C:\app\logs", "ReadOnly": false},
        ]}))
    );
}

#[test]
fn a_named_pipe_mount_is_a_mapped_pipe() {
    let mut command = command();
    command.mounts = vec![Mount {
        source: Some(r"\\.\pipe\docker_engine".into()),
        destination: r"\\.\PIPE\docker_engine".into(),
        kind: "bind".into(),
        options: vec![],
        uid_mappings: None,
        gid_mappings: None,
    }];
    assert_eq!(
        system(&command),
        system_with(json!({"MappedPipes": [
            {"ContainerPipeName": "docker_engine", "HostPath": r"\\.\pipe\docker_engine"},
        ]}))
    );
}

#[test]
fn memory_limit_is_the_size_in_mib_rounded_up() {
    let mut command = command();
    command.resources.memory_limit = Some(64 * 1024 * 1024 + 1);
    assert_eq!(
        system(&command),
        system_with(json!({"Memory": {"SizeInMB": 65}}))
    );
    command.resources.memory_limit = Some(64 * 1024 * 1024);
    assert_eq!(
        system(&command),
        system_with(json!({"Memory": {"SizeInMB": 64}}))
    );
}

#[test]
fn cpu_shares_are_the_processor_weight_scaled_as_docker_does() {
    let mut command = command();
    command.resources.cpu_shares = Some(1024);
    assert_eq!(
        system(&command),
        system_with(json!({"Processor": {"Weight": 39}}))
    );
    assert_eq!((cpu_weight(2), cpu_weight(262_144)), (1, 10_000));
}

#[test]
fn cpu_count_is_the_processor_count() {
    let mut command = command();
    windows(&mut command).cpu_count = Some(2);
    assert_eq!(
        system(&command),
        system_with(json!({"Processor": {"Count": 2}}))
    );
}

#[test]
fn cpu_maximum_is_the_processor_maximum() {
    let mut command = command();
    windows(&mut command).cpu_maximum = Some(5000);
    assert_eq!(
        system(&command),
        system_with(json!({"Processor": {"Maximum": 5000}}))
    );
}

#[test]
fn network_namespace_is_the_networking_namespace() {
    let mut command = command();
    windows(&mut command).network_namespace = Some(NAMESPACE.into());
    assert_eq!(
        system(&command),
        system_with(
            json!({"Networking": {"AllowUnqualifiedDnsQuery": false, "Namespace": NAMESPACE}})
        )
    );
}

#[test]
fn allow_unqualified_dns_query_is_the_networking_flag() {
    let mut command = command();
    windows(&mut command).allow_unqualified_dns_query = true;
    assert_eq!(
        system(&command),
        system_with(json!({"Networking": {"AllowUnqualifiedDnsQuery": true}}))
    );
}

#[test]
fn dns_search_list_is_one_comma_separated_string() {
    let mut command = command();
    windows(&mut command).dns_search_list = vec!["corp.example".into(), "example".into()];
    assert_eq!(
        system(&command),
        system_with(json!({"Networking": {
            "AllowUnqualifiedDnsQuery": false,
            "DnsSearchList": "corp.example,example",
        }}))
    );
}

#[test]
fn the_init_is_the_process_with_every_stream() {
    let plan = plan(&command(), &layer_id).unwrap();
    assert_eq!(json_of(&plan.init.parameters), parameters_with(json!({})));
    assert_eq!(
        (
            plan.init.tty,
            plan.init.stdin,
            plan.init.stdout,
            plan.init.stderr
        ),
        (false, true, true, true)
    );
}

// ---- the process ----

#[test]
fn args_are_the_command_line() {
    let process = ProcessConfig::new([r"C:\Program Files\app.exe", "", r"a b\", r#"say "hi""#]);
    assert_eq!(
        parameters(&process, &all_streams()),
        parameters_with(json!({
            "CommandLine": r#""C:\Program Files\app.exe" "" "a b\\" "say \"hi\"""#,
        }))
    );
}

#[test]
fn env_is_the_environment_and_a_later_duplicate_wins() {
    let mut process = command().process;
    process.env = vec![
        "Path=C:\\old".into(),
        "A=1".into(),
        "PATH=C:\\new".into(),
        "B=x=y".into(),
        "E=".into(),
    ];
    assert_eq!(
        parameters(&process, &all_streams()),
        parameters_with(json!({"Environment": {"A": "1", "B": "x=y", "E": "", "PATH": "C:\\new"}}))
    );
}

#[test]
fn cwd_is_the_working_directory_and_the_default_leaves_the_images() {
    let mut process = command().process;
    assert_eq!(
        parameters(&process, &all_streams()),
        parameters_with(json!({}))
    );
    process.cwd = r"C:\app".into();
    assert_eq!(
        parameters(&process, &all_streams()),
        parameters_with(json!({"WorkingDirectory": r"C:\app"}))
    );
}

#[test]
fn a_user_name_is_the_user_and_root_leaves_the_images() {
    let mut process = command().process;
    for root in ["0:0", "0"] {
        process.user = root.into();
        assert_eq!(
            parameters(&process, &all_streams()),
            parameters_with(json!({}))
        );
    }
    process.user = "ContainerUser".into();
    assert_eq!(
        parameters(&process, &all_streams()),
        parameters_with(json!({"User": "ContainerUser"}))
    );
}

#[test]
fn tty_emulates_a_console_with_stdin_always_and_no_stderr() {
    let mut process = command().process;
    process.tty = true;
    process.console_size = Some(ConsoleSize { rows: 24, cols: 80 });
    let stdout_only = Stdio {
        stdin: None,
        stdout: Some(1),
        stderr: None,
        extra: Vec::new(),
    };
    let plan = super::process(&process, "process", &stdout_only).unwrap();
    assert_eq!(
        json_of(&plan.parameters),
        parameters_with(json!({
            "EmulateConsole": true,
            "CreateStdInPipe": true,
            "CreateStdOutPipe": true,
            "CreateStdErrPipe": false,
            "ConsoleSize": [24, 80],
        }))
    );
    assert_eq!(
        (plan.tty, plan.stdin, plan.stdout, plan.stderr),
        (true, true, true, false)
    );
    // Even when the caller gives a stderr.
    assert_eq!(
        parameters(&process, &all_streams())["CreateStdErrPipe"],
        json!(false)
    );
}

#[test]
fn pipes_are_made_only_for_the_streams_given() {
    let process = command().process;
    let stderr_only = Stdio {
        stdin: None,
        stdout: None,
        stderr: Some(2),
        extra: Vec::new(),
    };
    let plan = super::process(&process, "process", &stderr_only).unwrap();
    assert_eq!(
        json_of(&plan.parameters),
        parameters_with(json!({"CreateStdInPipe": false, "CreateStdOutPipe": false}))
    );
    assert_eq!((plan.stdin, plan.stdout, plan.stderr), (false, false, true));
    // A console size without a tty means nothing, as on Linux.
    let mut sized = process.clone();
    sized.console_size = Some(ConsoleSize { rows: 24, cols: 80 });
    assert_eq!(
        parameters(&sized, &all_streams()),
        parameters_with(json!({}))
    );
}

// ---- the other documents ----

#[test]
fn signals_are_console_events_or_a_termination() {
    assert_eq!(
        delivery(15).unwrap(),
        Delivery::Signal(r#"{"Signal":"CtrlShutdown"}"#.into())
    );
    assert_eq!(
        delivery(2).unwrap(),
        Delivery::Signal(r#"{"Signal":"CtrlC"}"#.into())
    );
    assert_eq!(delivery(9).unwrap(), Delivery::Terminate);
}

#[test]
fn console_size_is_a_process_modify_request() {
    assert_eq!(
        json_of(&console_size(50, 132)),
        json!({"Operation": "ConsoleSize", "ConsoleSize": {"Height": 50, "Width": 132}})
    );
}

#[test]
fn update_sets_the_memory_size_and_the_processor_weight() {
    let resources = Resources {
        memory_limit: Some(256 * 1024 * 1024),
        cpu_shares: Some(512),
        ..Resources::default()
    };
    let documents: Vec<Value> = update(&resources)
        .unwrap()
        .iter()
        .map(|d| json_of(d))
        .collect();
    assert_eq!(
        documents,
        vec![
            json!({"ResourcePath": "Container/Memory/SizeInMB", "RequestType": "Update", "Settings": 256}),
            json!({"ResourcePath": "Container/Processor", "RequestType": "Update", "Settings": {"Weight": 20}}),
        ]
    );
    assert_eq!(update(&Resources::default()).unwrap(), Vec::<String>::new());
}

#[test]
fn the_statistics_query_asks_for_statistics() {
    assert_eq!(
        json_of(&statistics_query()),
        json!({"PropertyTypes": ["Statistics"]})
    );
}

#[test]
fn stats_come_from_the_statistics() {
    let properties = json!({
        "Id": "c1",
        "Statistics": {
            "Timestamp": "2026-12-01T14:38:32Z",
            "ContainerStartTime": "2026-12-01T14:00:00Z",
            "Uptime100ns": 23_120_000_000u64,
            "Processor": {"TotalRuntime100ns": 30, "RuntimeUser100ns": 20, "RuntimeKernel100ns": 10},
            "Memory": {
                "MemoryUsageCommitBytes": 1000,
                "MemoryUsageCommitPeakBytes": 1500,
                "MemoryUsagePrivateWorkingSetBytes": 800,
            },
            "Storage": {"ReadCountNormalized": 2, "ReadSizeBytes": 20, "WriteCountNormalized": 1, "WriteSizeBytes": 10},
        },
    });
    let stats = stats(&properties.to_string()).unwrap();
    assert_eq!(
        serde_json::to_value(&stats).unwrap(),
        json!({
            "memory": {"usage": 1000, "max_usage": 1500, "limit": null, "cache": null, "rss": 800},
            "cpu": {"total_ns": 3000, "user_ns": 2000, "system_ns": 1000, "throttled_periods": null, "throttled_ns": null},
            "pids": {"current": null, "limit": null},
            "io": {"read_bytes": 20, "write_bytes": 10},
        })
    );
    assert_refused(stats_of("{}"), ErrorKind::System, "Statistics");
    assert_refused(stats_of("not json"), ErrorKind::System, "statistics");
}

fn stats_of(text: &str) -> Result<Stats> {
    stats(text)
}

#[test]
fn the_exit_code_comes_once_the_process_has_exited() {
    assert_eq!(
        exit_code(r#"{"ProcessId": 7, "Exited": false}"#).unwrap(),
        None
    );
    assert_eq!(
        exit_code(r#"{"ProcessId": 7, "Exited": true}"#).unwrap(),
        Some(0)
    );
    assert_eq!(
        exit_code(r#"{"ProcessId": 7, "Exited": true, "ExitCode": 3221225786}"#).unwrap(),
        Some(0xC000_013A)
    );
    assert_refused(
        exit_code(
            r#"{"ProcessId": 7, "Exited": true, "ExitCode": 1, "LastWaitResult": -2147024809}"#,
        ),
        ErrorKind::System,
        "0x80070057",
    );
}

// ---- invalid values ----

#[test]
fn a_command_without_windows_is_invalid() {
    let mut command = command();
    command.windows = None;
    assert_refused(
        plan(&command, &layer_id),
        ErrorKind::InvalidArgument,
        "windows",
    );
}

#[test]
fn fewer_than_two_layer_folders_are_invalid() {
    let mut command = command();
    windows(&mut command).layer_folders.truncate(1);
    assert_refused(
        plan(&command, &layer_id),
        ErrorKind::InvalidArgument,
        "windows.layer_folders",
    );
}

#[test]
fn a_cpu_maximum_out_of_range_is_invalid() {
    for maximum in [0, 10_001] {
        let mut command = command();
        windows(&mut command).cpu_maximum = Some(maximum);
        assert_refused(
            plan(&command, &layer_id),
            ErrorKind::InvalidArgument,
            "windows.cpu_maximum",
        );
    }
}

#[test]
fn a_cpu_count_of_zero_is_invalid() {
    let mut command = command();
    windows(&mut command).cpu_count = Some(0);
    assert_refused(
        plan(&command, &layer_id),
        ErrorKind::InvalidArgument,
        "windows.cpu_count",
    );
}

#[test]
fn two_cpu_limits_are_invalid_as_hcs_takes_one() {
    let mut command = command();
    windows(&mut command).cpu_count = Some(2);
    command.resources.cpu_shares = Some(512);
    assert_refused(
        plan(&command, &layer_id),
        ErrorKind::InvalidArgument,
        "resources.cpu_shares",
    );
}

#[test]
fn a_network_namespace_that_is_no_guid_is_invalid() {
    for bad in [
        "nat",
        "{8a0c4e0e-4f2d-4c8b-9a1e-2f1d6c3b5a70}",
        "8a0c4e0e-4f2d-4c8b-9a1e-2f1d6c3b5a7g",
    ] {
        let mut command = command();
        windows(&mut command).network_namespace = Some(bad.into());
        assert_refused(
            plan(&command, &layer_id),
            ErrorKind::InvalidArgument,
            "windows.network_namespace",
        );
    }
}

#[test]
fn a_dns_suffix_with_a_comma_is_invalid() {
    let mut command = command();
    windows(&mut command).dns_search_list = vec!["a".into(), "b,c".into()];
    assert_refused(
        plan(&command, &layer_id),
        ErrorKind::InvalidArgument,
        "windows.dns_search_list[1]",
    );
}

#[test]
fn an_env_entry_without_equals_is_invalid() {
    let mut process = command().process;
    process.env = vec!["A=1".into(), "LONELY".into()];
    assert_refused(
        super::process(&process, "process", &all_streams()),
        ErrorKind::InvalidArgument,
        "process.env[1]",
    );
}

#[test]
fn an_argument_with_a_nul_is_invalid() {
    let process = ProcessConfig::new(["cmd.exe", "a\0b"]);
    assert_refused(
        super::process(&process, "process", &all_streams()),
        ErrorKind::InvalidArgument,
        "process.args[1]",
    );
}

#[test]
fn a_pipe_mapped_onto_a_directory_is_invalid() {
    let mut command = command();
    command.mounts = vec![Mount {
        source: Some(r"\\.\pipe\engine".into()),
        destination: r"C:\engine".into(),
        kind: "bind".into(),
        options: vec![],
        uid_mappings: None,
        gid_mappings: None,
    }];
    assert_refused(
        plan(&command, &layer_id),
        ErrorKind::InvalidArgument,
        "mounts[0].destination",
    );
}

// ---- refusals: one test per field ----

/// A test that `$field`, set by `$set`, is refused as unsupported with its name.
macro_rules! refused {
    ($name:ident, $field:expr, |$command:ident| $set:expr) => {
        #[test]
        fn $name() {
            let mut $command = command();
            $set;
            assert_refused(plan(&$command, &layer_id), ErrorKind::Unsupported, $field);
        }
    };
}

refused!(seccomp, "process.seccomp", |c| c.process.seccomp =
    Some(SeccompSetting::Unconfined));
refused!(cap_add, "process.cap_add", |c| c.process.cap_add =
    vec!["NET_ADMIN".into()]);
refused!(cap_drop, "process.cap_drop", |c| c.process.cap_drop =
    vec!["CHOWN".into()]);
refused!(privileged, "process.privileged", |c| c.process.privileged =
    true);
refused!(no_new_privileges, "process.no_new_privileges", |c| c
    .process
    .no_new_privileges =
    false);
refused!(rlimits, "process.rlimits", |c| c.process.rlimits =
    vec![Rlimit {
        kind: "RLIMIT_NOFILE".into(),
        soft: 1,
        hard: 1
    }]);
refused!(additional_gids, "process.additional_gids", |c| c
    .process
    .additional_gids =
    vec![10]);
refused!(groups, "process.groups", |c| c.process.groups =
    Some(vec![]));
refused!(capabilities, "process.capabilities", |c| c
    .process
    .capabilities =
    Some(runtime_core::CapabilitySets::default()));
refused!(umask, "process.umask", |c| c.process.umask = Some(0o022));
refused!(oom_score_adj, "process.oom_score_adj", |c| c
    .process
    .oom_score_adj =
    Some(0));
refused!(numeric_user, "process.user", |c| c.process.user =
    "1000".into());
refused!(user_with_group, "process.user", |c| c.process.user =
    "ContainerUser:Users".into());
refused!(root_with_another_group, "process.user", |c| c
    .process
    .user =
    "0:1".into());
refused!(readonly_rootfs, "readonly_rootfs", |c| c.readonly_rootfs =
    true);
refused!(idmapped_rootfs, "idmapped_rootfs", |c| c.idmapped_rootfs =
    true);
refused!(cgroup_parent, "cgroup_parent", |c| c.cgroup_parent =
    Some("berth".into()));
refused!(masked_paths, "masked_paths", |c| c.masked_paths =
    Some(vec![]));
refused!(readonly_paths, "readonly_paths", |c| c.readonly_paths =
    Some(vec![]));
refused!(sysctls, "sysctls", |c| c
    .sysctls
    .insert("net.ipv4.ip_forward".into(), "1".into()));
refused!(devices, "devices", |c| c.devices = vec![HostDevice {
    path: "/dev/fuse".into(),
    container_path: None,
    access: "rwm".into()
}]);
refused!(device_nodes, "device_nodes", |c| c.device_nodes =
    vec![runtime_core::DeviceNode {
        path: "/dev/x".into(),
        kind: 'c',
        major: Some(1),
        minor: Some(3),
        file_mode: None,
        uid: None,
        gid: None,
    }]);
refused!(rootfs_propagation, "rootfs_propagation", |c| c
    .rootfs_propagation =
    Some("rslave".into()));
refused!(personality, "personality", |c| c.personality =
    Some(runtime_core::Personality {
        domain: "LINUX".into(),
        flags: vec![],
    }));
refused!(domainname, "domainname", |c| c.domainname =
    Some("example.org".into()));
refused!(dev_noexec, "dev_noexec", |c| c.dev_noexec = true);
refused!(init, "init", |c| c.init = true);
refused!(device_cgroup_rules, "device_cgroup_rules", |c| c
    .device_cgroup_rules =
    vec![DeviceRule::char(Some(10), Some(229), "rwm")]);
refused!(uid_mappings, "uid_mappings", |c| c.uid_mappings =
    Some(vec![IdMapping {
        container_id: 0,
        host_id: 100_000,
        size: 1
    }]));
refused!(gid_mappings, "gid_mappings", |c| c.gid_mappings =
    Some(vec![]));
refused!(namespaces_pid, "namespaces.pid", |c| c.namespaces.pid =
    NamespaceMode::Host);
refused!(namespaces_ipc, "namespaces.ipc", |c| c.namespaces.ipc =
    NamespaceMode::Host);
refused!(namespaces_uts, "namespaces.uts", |c| c.namespaces.uts =
    NamespaceMode::Host);
refused!(namespaces_mount, "namespaces.mount", |c| c
    .namespaces
    .mount =
    NamespaceMode::Path("/proc/1/ns/mnt".into()));
refused!(namespaces_net, "namespaces.net", |c| c.namespaces.net =
    NamespaceMode::Private);
refused!(namespaces_cgroup, "namespaces.cgroup", |c| c
    .namespaces
    .cgroup =
    NamespaceMode::Host);
refused!(namespaces_user, "namespaces.user", |c| c.namespaces.user =
    NamespaceMode::Private);
refused!(memory_reservation, "resources.memory_reservation", |c| c
    .resources
    .memory_reservation =
    Some(1 << 20));
refused!(memory_swap, "resources.memory_swap", |c| c
    .resources
    .memory_swap =
    Some(-1));
refused!(cpu_quota, "resources.cpu_quota", |c| c
    .resources
    .cpu_quota =
    Some(50_000));
refused!(cpu_period, "resources.cpu_period", |c| c
    .resources
    .cpu_period =
    Some(100_000));
refused!(cpuset_cpus, "resources.cpuset_cpus", |c| c
    .resources
    .cpuset_cpus =
    Some("0".into()));
refused!(cpuset_mems, "resources.cpuset_mems", |c| c
    .resources
    .cpuset_mems =
    Some("0".into()));
refused!(pids_limit, "resources.pids_limit", |c| c
    .resources
    .pids_limit =
    Some(64));
refused!(blkio_weight, "resources.blkio_weight", |c| c
    .resources
    .blkio_weight =
    Some(500));
refused!(hyperv, "windows.hyperv", |c| windows(&mut c).hyperv =
    Some(HyperV::default()));
refused!(tmpfs_mount, "mounts[0].type", |c| c.mounts = vec![Mount {
    source: None,
    destination: r"C:\tmp".into(),
    kind: "tmpfs".into(),
    options: vec![],
    uid_mappings: None,
    gid_mappings: None,
}]);
refused!(mount_option, "mounts[0].options", |c| c.mounts =
    vec![Mount {
        source: Some(r"C:\data".into()),
        destination: r"C:\data".into(),
        kind: "bind".into(),
        options: vec!["nosuid".into()],
        uid_mappings: None,
        gid_mappings: None,
    }]);
refused!(idmapped_mount, "mounts[0].uid_mappings", |c| c.mounts =
    vec![Mount {
        source: Some(r"C:\data".into()),
        destination: r"C:\data".into(),
        kind: "bind".into(),
        options: vec![],
        uid_mappings: Some(vec![IdMapping {
            container_id: 0,
            host_id: 1,
            size: 1,
        }]),
        gid_mappings: None,
    }]);
refused!(read_only_pipe, "mounts[0].options", |c| c.mounts =
    vec![Mount {
        source: Some(r"\\.\pipe\p".into()),
        destination: r"\\.\pipe\p".into(),
        kind: "bind".into(),
        options: vec!["ro".into()],
        uid_mappings: None,
        gid_mappings: None,
    }]);

#[test]
fn every_namespace_kind_has_its_refusal_test() {
    // The refusals above cover NamespaceKind::ALL; this fails when a kind is added.
    assert_eq!(NamespaceKind::ALL.len(), 7);
}

#[test]
fn hyperv_refusal_says_why() {
    let mut command = command();
    windows(&mut command).hyperv = Some(HyperV::default());
    let error = plan(&command, &layer_id).unwrap_err();
    assert!(error.to_string().contains("utility VM"), "{error}");
}

#[test]
fn an_exec_is_refused_at_its_own_field() {
    let mut process = command().process;
    process.cap_add = vec!["NET_ADMIN".into()];
    assert_refused(
        super::process(&process, "process", &all_streams()),
        ErrorKind::Unsupported,
        "process.cap_add",
    );
}

#[test]
fn other_signals_are_refused_naming_the_signal() {
    for (signal, name) in [
        (1, "signal 1 (SIGHUP)"),
        (10, "signal 10 (SIGUSR1)"),
        (64, "signal 64"),
    ] {
        assert_refused(delivery(signal), ErrorKind::Unsupported, name);
    }
}

#[test]
fn update_refuses_what_hcs_cannot_change() {
    let cases = [
        (
            "resources.memory_reservation",
            Resources {
                memory_reservation: Some(1),
                ..Resources::default()
            },
        ),
        (
            "resources.memory_swap",
            Resources {
                memory_swap: Some(-1),
                ..Resources::default()
            },
        ),
        (
            "resources.cpu_quota",
            Resources {
                cpu_quota: Some(50_000),
                ..Resources::default()
            },
        ),
        (
            "resources.cpu_period",
            Resources {
                cpu_period: Some(100_000),
                ..Resources::default()
            },
        ),
        (
            "resources.cpuset_cpus",
            Resources {
                cpuset_cpus: Some("0".into()),
                ..Resources::default()
            },
        ),
        (
            "resources.cpuset_mems",
            Resources {
                cpuset_mems: Some("0".into()),
                ..Resources::default()
            },
        ),
        (
            "resources.pids_limit",
            Resources {
                pids_limit: Some(1),
                ..Resources::default()
            },
        ),
        (
            "resources.blkio_weight",
            Resources {
                blkio_weight: Some(10),
                ..Resources::default()
            },
        ),
    ];
    for (field, mut resources) in cases {
        // Refused whole, even with a field it could set.
        resources.memory_limit = Some(1 << 20);
        assert_refused(update(&resources), ErrorKind::Unsupported, field);
    }
}

#[test]
fn extra_fds_are_refused_naming_them() {
    let stdio = Stdio {
        extra: vec![7],
        ..all_streams()
    };
    assert_refused(
        super::process(&command().process, "process", &stdio),
        ErrorKind::Unsupported,
        "stdio.extra",
    );
}

refused!(cgroup_path, "cgroup_path", |c| c.cgroup_path =
    Some("pods/c1".into()));
refused!(memory_swappiness, "resources.memory_swappiness", |c| c
    .resources
    .memory_swappiness =
    Some(10));
refused!(cpu_idle, "resources.cpu_idle", |c| c.resources.cpu_idle =
    Some(1));
refused!(hugepage_limits, "resources.hugepage_limits", |c| c
    .resources
    .hugepage_limits =
    vec![runtime_core::HugepageLimit {
        page_size: "2MB".into(),
        limit: 0
    }]);
refused!(unified, "resources.unified", |c| c
    .resources
    .unified
    .insert("memory.high".into(), "1000000".into()));
refused!(
    blkio_throttle,
    "resources.blkio_throttle_read_bps_device",
    |c| c.resources.blkio_throttle_read_bps_device = vec![runtime_core::ThrottleDevice {
        major: 8,
        minor: 0,
        rate: 1
    }]
);
