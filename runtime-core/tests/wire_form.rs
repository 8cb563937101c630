//! The JSON wire form: the issue's reference document, defaults, and one failure per rule.

use runtime_core::{Command, ErrorKind, IdOrName, NamespaceMode, ProcessConfig, UserSpec};

const REFERENCE: &str = r#"{
  "id": "demo-1",
  "rootfs": "/abs/path/to/rootfs",
  "readonly_rootfs": false,
  "hostname": "demo",
  "process": {
    "args": ["/bin/sh", "-c", "echo hello; exit 7"],
    "env": ["PATH=/bin:/usr/bin", "FOO=bar"],
    "cwd": "/tmp",
    "user": "1000:1000",
    "tty": false
  },
  "namespaces": {"pid": "private", "ipc": "private", "uts": "private", "mount": "private", "net": "none", "cgroup": "private"},
  "mounts": [
    {"source": "/some/host/dir", "destination": "/data", "type": "bind", "options": ["rbind", "ro"]},
    {"destination": "/scratch", "type": "tmpfs", "options": ["size=16m"]}
  ],
  "resources": {"memory_limit": 67108864, "pids_limit": 64}
}"#;

fn minimal(extra: &str) -> String {
    format!(r#"{{"id": "c1", "rootfs": "/r", "process": {{"args": ["/bin/true"]}}{extra}}}"#)
}

fn reject(json: &str) -> (ErrorKind, String) {
    let err = Command::from_json(json).expect_err("must be rejected");
    (err.kind(), err.to_string())
}

#[test]
fn accepts_the_reference_document() {
    let cmd = Command::from_json(REFERENCE).unwrap();
    assert_eq!(cmd.id, "demo-1");
    assert_eq!(cmd.process.args[2], "echo hello; exit 7");
    assert_eq!(cmd.namespaces.net, NamespaceMode::None);
    assert_eq!(cmd.mounts[0].options, ["rbind", "ro"]);
    assert_eq!(cmd.mounts[1].kind, "tmpfs");
    assert_eq!(cmd.resources.memory_limit, Some(64 << 20));
    assert_eq!(cmd.resources.pids_limit, Some(64));
    // It survives a round trip through its own serialization.
    let again = Command::from_json(&serde_json::to_string(&cmd).unwrap()).unwrap();
    assert_eq!(again, cmd);
}

#[test]
fn missing_fields_take_safe_defaults() {
    let cmd = Command::from_json(&minimal("")).unwrap();
    for ns in [
        &cmd.namespaces.pid,
        &cmd.namespaces.ipc,
        &cmd.namespaces.uts,
        &cmd.namespaces.mount,
        &cmd.namespaces.cgroup,
    ] {
        assert_eq!(ns, &NamespaceMode::Private);
    }
    assert_eq!(cmd.namespaces.net, NamespaceMode::None);
    assert_eq!(cmd.namespaces.user, NamespaceMode::Host);
    assert_eq!(cmd.process.cwd, "/");
    assert_eq!(cmd.process.user, "0:0");
    assert!(cmd.process.no_new_privileges);
    assert!(cmd
        .process
        .effective_env()
        .iter()
        .any(|kv| kv.starts_with("PATH=/")));
    assert_eq!(cmd.effective_cgroup_parent(), "berth");
    assert!(cmd
        .effective_masked_paths()
        .contains(&"/proc/kcore".to_string()));
}

#[test]
fn namespace_values_parse_in_every_form() {
    let cmd = Command::from_json(&minimal(
        r#", "namespaces": {"pid": "host", "net": {"path": "/proc/1/ns/net"}, "ipc": {"container": "other"}}"#,
    ))
    .unwrap();
    assert_eq!(cmd.namespaces.pid, NamespaceMode::Host);
    assert_eq!(
        cmd.namespaces.net,
        NamespaceMode::Path("/proc/1/ns/net".into())
    );
    assert_eq!(cmd.namespaces.ipc, NamespaceMode::Container("other".into()));
}

#[test]
fn user_strings_parse() {
    assert_eq!(
        UserSpec::parse("1000").unwrap(),
        UserSpec {
            user: IdOrName::Id(1000),
            group: None
        }
    );
    assert_eq!(
        UserSpec::parse("app:staff").unwrap(),
        UserSpec {
            user: IdOrName::Name("app".into()),
            group: Some(IdOrName::Name("staff".into()))
        }
    );
    for bad in ["", ":1", "1:", "1:2:3", "4294967295", "bad name", "-x"] {
        assert!(UserSpec::parse(bad).is_err(), "{bad:?} must be rejected");
    }
}

#[test]
fn every_rule_has_its_own_message() {
    let cases: &[(&str, &str)] = &[
        (
            r#"{"id": "", "rootfs": "/r", "process": {"args": ["x"]}}"#,
            "invalid id: empty",
        ),
        (
            r#"{"id": "bad/id", "rootfs": "/r", "process": {"args": ["x"]}}"#,
            "only letters, digits",
        ),
        (
            r#"{"id": "-x", "rootfs": "/r", "process": {"args": ["x"]}}"#,
            "must start with a letter or digit",
        ),
        (
            &format!(
                r#"{{"id": "{}", "rootfs": "/r", "process": {{"args": ["x"]}}}}"#,
                "a".repeat(129)
            ),
            "at most 128",
        ),
        (
            r#"{"id": "c", "rootfs": "rel/path", "process": {"args": ["x"]}}"#,
            "invalid rootfs: \"rel/path\" is relative",
        ),
        (
            r#"{"id": "c", "process": {"args": ["x"]}}"#,
            "missing field `rootfs`",
        ),
        (
            r#"{"id": "c", "rootfs": "/r", "process": {"args": []}}"#,
            "invalid process.args: empty",
        ),
        (
            r#"{"id": "c", "rootfs": "/r", "process": {"args": ["x"], "cwd": "tmp"}}"#,
            "invalid process.cwd",
        ),
        (
            r#"{"id": "c", "rootfs": "/r", "process": {"args": ["x"], "user": "a:b:c"}}"#,
            "invalid process.user",
        ),
        (
            r#"{"id": "c", "rootfs": "/r", "process": {"args": ["x"], "env": ["NOEQUALS"]}}"#,
            "invalid process.env[0]",
        ),
        (
            r#"{"id": "c", "rootfs": "/r", "process": {"args": ["a\u0000b"]}}"#,
            "NUL",
        ),
        (
            r#"{"id": "c", "rootfs": "/r", "process": {"args": ["x"]}, "namespaces": {"pid": "bogus"}}"#,
            "invalid command.namespaces.pid: unknown variant `bogus`",
        ),
        (
            r#"{"id": "c", "rootfs": "/r", "process": {"args": ["x"]}, "namespaces": {"pid": "none"}}"#,
            "applies only to net",
        ),
        (
            r#"{"id": "c", "rootfs": "/r", "process": {"args": ["x"]}, "namespaces": {"mount": "host"}}"#,
            "namespaces.mount",
        ),
        (
            r#"{"id": "c", "rootfs": "/r", "process": {"args": ["x"]}, "mounts": [{"destination": "data", "type": "tmpfs"}]}"#,
            "invalid mounts[0].destination",
        ),
        (
            r#"{"id": "c", "rootfs": "/r", "process": {"args": ["x"]}, "mounts": [{"destination": "/d", "type": "bind"}]}"#,
            "invalid mounts[0].source",
        ),
        (
            r#"{"id": "c", "rootfs": "/r", "process": {"args": ["x"]}, "resources": {"memory_limit": -5}}"#,
            "resources.memory_limit",
        ),
        (
            r#"{"id": "c", "rootfs": "/r", "process": {"args": ["x"]}, "resources": {"cpuset_cpus": "1-x"}}"#,
            "resources.cpuset_cpus",
        ),
        (
            r#"{"id": "c", "rootfs": "/r", "process": {"args": ["x"]}, "sysctls": {"kernel.hostname": "x"}}"#,
            "not a namespaced sysctl",
        ),
        (
            r#"{"id": "c", "rootfs": "/r", "process": {"args": ["x"]}, "cgroup_parent": "../escape"}"#,
            "invalid cgroup_parent",
        ),
        (
            r#"{"id": "c", "rootfs": "/r", "process": {"args": ["x"]}, "hostnme": "typo"}"#,
            "unknown field `hostnme`",
        ),
        (
            r#"{"id": "c", "rootfs": "/r", "process": {"args": ["x"], "cwdd": "/"}}"#,
            "invalid command.process.cwdd: unknown field `cwdd`",
        ),
        (r#"{"id": "c", "rootfs": "/r""#, "invalid command: EOF"),
        (
            r#"{"id": "c", "rootfs": "/r", "process": {"args": ["x"]}} trailing"#,
            "trailing characters",
        ),
    ];
    for (json, expected) in cases {
        let (kind, message) = reject(json);
        assert_eq!(kind, ErrorKind::InvalidArgument, "{json}");
        assert!(
            message.contains(expected),
            "{json}\n  gave {message:?}\n  expected it to contain {expected:?}"
        );
    }
}

#[test]
fn process_json_parses_alone() {
    let p = ProcessConfig::from_json(r#"{"args": ["/bin/ls"], "user": "1:2"}"#).unwrap();
    assert_eq!(p.user, "1:2");
    let err = ProcessConfig::from_json(
        r#"{"args": ["/bin/ls"], "rlimits": [{"type": "nofile", "soft": 9, "hard": 1}]}"#,
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("RLIMIT_NOFILE: soft limit 9 is above hard limit 1"),
        "{err}"
    );
}

#[test]
fn id_mappings_are_validated() {
    let with = |mappings: &str| {
        minimal(&format!(
            r#", "namespaces": {{"user": "private"}}, {mappings}"#
        ))
    };
    let good = with(r#""uid_mappings": [{"container_id": 0, "host_id": 100000, "size": 65536}]"#);
    let cmd = Command::from_json(&good).unwrap();
    let (uids, gids) = cmd.effective_id_mappings();
    assert_eq!(uids[0].host_id, 100000);
    assert_eq!(gids, vec![runtime_core::DEFAULT_ID_MAPPING]);
    let cases = [
        (
            with(r#""uid_mappings": [{"container_id": 0, "host_id": 1, "size": 0}]"#),
            "uid_mappings[0]: size 0",
        ),
        (
            with(r#""uid_mappings": [{"container_id": 0, "host_id": 4294967000, "size": 1000}]"#),
            "past 2^32",
        ),
        (
            with(r#""gid_mappings": [{"container_id": 4294967295, "host_id": 0, "size": 1}]"#),
            "past 2^32",
        ),
        (
            with(
                r#""uid_mappings": [{"container_id": 0, "host_id": 1000, "size": 10}, {"container_id": 5, "host_id": 5000, "size": 10}]"#,
            ),
            "container ids overlap those of uid_mappings[0]",
        ),
        (
            with(
                r#""uid_mappings": [{"container_id": 0, "host_id": 1000, "size": 10}, {"container_id": 100, "host_id": 1009, "size": 10}]"#,
            ),
            "host ids overlap",
        ),
        (
            with(r#""uid_mappings": []"#),
            "container root needs a host uid",
        ),
        (
            minimal(r#", "uid_mappings": [{"container_id": 0, "host_id": 1, "size": 1}]"#),
            "needs namespaces.user",
        ),
        (
            with(r#""uid_mappings": [{"container_id": 0, "host_id": 1, "size": 1, "extra": 2}]"#),
            "unknown field `extra`",
        ),
    ];
    for (json, expected) in cases {
        let (kind, message) = reject(&json);
        assert_eq!(kind, ErrorKind::InvalidArgument);
        assert!(
            message.contains(expected),
            "{json}\n  gave {message:?}\n  expected {expected:?}"
        );
    }
}

#[test]
fn the_oci_process_fields_parse_and_default_to_none() {
    let p = ProcessConfig::from_json(
        r#"{"args": ["/bin/sh"], "user": "1000:1000", "groups": [], "umask": 63,
            "oom_score_adj": -500,
            "capabilities": {"bounding": ["CAP_KILL", "CHOWN"], "permitted": ["CAP_KILL"],
                             "effective": ["CAP_KILL"], "inheritable": ["CHOWN"]}}"#,
    )
    .unwrap();
    assert_eq!(p.groups, Some(vec![]));
    assert_eq!(p.umask, Some(0o077));
    assert_eq!(p.oom_score_adj, Some(-500));
    let caps = p.capabilities.clone().unwrap();
    assert_eq!(caps.bounding, ["CAP_KILL", "CHOWN"]);
    assert!(caps.ambient.is_empty(), "a missing list is empty");
    let again = ProcessConfig::from_json(&serde_json::to_string(&*p).unwrap()).unwrap();
    assert_eq!(*again, *p);
    let plain = ProcessConfig::from_json(r#"{"args": ["/bin/sh"]}"#).unwrap();
    assert_eq!(*plain, ProcessConfig::new(["/bin/sh"]));
    assert_eq!(
        (
            &plain.groups,
            plain.umask,
            plain.oom_score_adj,
            &plain.capabilities
        ),
        (&None, None, None, &None)
    );
    let err = ProcessConfig::from_json(
        r#"{"args": ["/bin/sh"], "capabilities": {"bounding": [], "ambiant": []}}"#,
    )
    .unwrap_err();
    assert!(err.to_string().contains("ambiant"), "{err}");
    let err = ProcessConfig::from_json(r#"{"args": ["/bin/sh"], "umask": 512}"#).unwrap_err();
    assert!(
        err.to_string().contains("invalid process.umask: 0o1000"),
        "{err}"
    );
}

/// Every field of OCI's `linux.resources` in berth's snake case, and the ordered device rules.
const OCI_RESOURCES: &str = r#"{
  "memory_limit": 67108864, "memory_reservation": 33554432, "memory_swap": -1,
  "memory_swappiness": 10, "memory_disable_oom_killer": true, "memory_kernel": 1048576,
  "memory_kernel_tcp": 1048576, "memory_use_hierarchy": true, "memory_check_before_update": true,
  "cpu_shares": 512, "cpu_quota": 50000, "cpu_period": 100000,
  "cpu_realtime_runtime": 10000, "cpu_realtime_period": 1000000, "cpu_idle": 1, "cpu_burst": 20000,
  "cpuset_cpus": "0", "cpuset_mems": "0", "pids_limit": 64,
  "blkio_weight": 500, "blkio_leaf_weight": 300,
  "blkio_weight_device": [{"major": 8, "minor": 0, "weight": 200, "leaf_weight": 100}, {"major": 8, "minor": 16, "weight": 10}],
  "blkio_throttle_read_bps_device": [{"major": 8, "minor": 0, "rate": 1048576}],
  "blkio_throttle_write_bps_device": [{"major": 8, "minor": 0, "rate": 1048576}],
  "blkio_throttle_read_iops_device": [{"major": 8, "minor": 0, "rate": 100}],
  "blkio_throttle_write_iops_device": [{"major": 8, "minor": 0, "rate": 100}],
  "hugepage_limits": [{"page_size": "2MB", "limit": 0}, {"page_size": "1GB", "limit": 0}],
  "network_class_id": 1048577, "network_priorities": [{"name": "eth0", "priority": 5}],
  "unified": {"memory.high": "50000000", "cgroup.max.depth": "3"}
}"#;

#[test]
fn every_oci_resource_parses_validates_and_round_trips() {
    let json = minimal(&format!(
        r#", "resources": {OCI_RESOURCES}, "cgroup_path": "libpod_parent/libpod-c1",
        "device_cgroup_rules": [{{"allow": false, "type": "a", "access": "rwm"}},
                                {{"type": "c", "major": 10, "minor": 229, "access": "rwm"}}]"#
    ));
    let cmd = Command::from_json(&json).unwrap();
    let r = &cmd.resources;
    assert_eq!(r.memory_swappiness, Some(10));
    assert_eq!(r.blkio_weight_device[1].leaf_weight, None);
    assert_eq!(r.hugepage_limits[1].page_size, "1GB");
    assert_eq!(r.unified["memory.high"], "50000000");
    assert_eq!(r.set_fields().len(), 30);
    assert!(!cmd.device_cgroup_rules[0].allow);
    assert!(cmd.device_cgroup_rules[1].allow, "allow defaults to true");
    assert_eq!(
        cmd.effective_cgroup_path(Some("ignored")),
        "libpod_parent/libpod-c1"
    );
    let again = Command::from_json(&serde_json::to_string(&cmd).unwrap()).unwrap();
    assert_eq!(again, cmd);
    // An allow rule serializes as before: without `allow`.
    let rule = serde_json::to_string(&cmd.device_cgroup_rules[1]).unwrap();
    assert!(!rule.contains("allow"), "{rule}");
    // Without cgroup_path: <parent>/<id>, the command's parent first, then the driver's.
    let plain = Command::from_json(&minimal("")).unwrap();
    assert_eq!(plain.effective_cgroup_path(None), "berth/c1");
    assert_eq!(plain.effective_cgroup_path(Some("/d/")), "d/c1");
}

#[test]
fn each_oci_resource_rule_names_its_field() {
    let resources = |r: &str| minimal(&format!(r#", "resources": {{{r}}}"#));
    let cases = [
        (
            resources(r#""memory_swappiness": 101"#),
            "resources.memory_swappiness: 101",
        ),
        (
            resources(r#""memory_use_hierarchy": false"#),
            "resources.memory_use_hierarchy",
        ),
        (
            resources(r#""cpu_realtime_runtime": -2"#),
            "resources.cpu_realtime_runtime",
        ),
        (
            resources(r#""cpu_realtime_period": 0"#),
            "resources.cpu_realtime_period",
        ),
        (
            resources(r#""cpu_realtime_period": 1000, "cpu_realtime_runtime": 2000"#),
            "resources.cpu_realtime_runtime: 2000 is above cpu_realtime_period 1000",
        ),
        (resources(r#""cpu_idle": 2"#), "resources.cpu_idle: 2"),
        (
            resources(r#""cpu_quota": 10000, "cpu_burst": 20000"#),
            "resources.cpu_burst: 20000 is above cpu_quota 10000",
        ),
        (
            resources(r#""blkio_leaf_weight": 5"#),
            "resources.blkio_leaf_weight: 5",
        ),
        (
            resources(r#""blkio_weight_device": [{"major": 8, "minor": 0}]"#),
            "resources.blkio_weight_device[0]: gives neither",
        ),
        (
            resources(r#""blkio_weight_device": [{"major": 8, "minor": 0, "weight": 2000}]"#),
            "resources.blkio_weight_device[0].weight: 2000",
        ),
        (
            resources(
                r#""blkio_throttle_write_iops_device": [{"major": 5000, "minor": 0, "rate": 1}]"#,
            ),
            "resources.blkio_throttle_write_iops_device[0].major: 5000",
        ),
        (
            resources(r#""hugepage_limits": [{"page_size": "2M", "limit": 0}]"#),
            "resources.hugepage_limits[0].page_size: \"2M\"",
        ),
        (
            resources(
                r#""hugepage_limits": [{"page_size": "2MB", "limit": 0}, {"page_size": "2MB", "limit": 1}]"#,
            ),
            "resources.hugepage_limits[1].page_size: 2MB is given twice",
        ),
        (
            resources(r#""network_priorities": [{"name": "a/b", "priority": 1}]"#),
            "resources.network_priorities[0].name",
        ),
        (
            resources(r#""unified": {"../memory.high": "1"}"#),
            "invalid resources.unified: \"../memory.high\"",
        ),
        (
            resources(r#""unified": {"memory": "1"}"#),
            "invalid resources.unified: \"memory\"",
        ),
        (
            resources(r#""unified": {"..": "1"}"#),
            "invalid resources.unified",
        ),
        (
            minimal(r#", "cgroup_path": "a/../b""#),
            "invalid cgroup_path",
        ),
        (
            minimal(r#", "cgroup_path": "/""#),
            "invalid cgroup_path: empty",
        ),
        (minimal(r#", "cgroup_path": "a//b""#), "invalid cgroup_path"),
        (
            minimal(r#", "cgroup_path": "a/b", "cgroup_parent": "p""#),
            "invalid cgroup_path: given together with cgroup_parent",
        ),
    ];
    for (json, expected) in cases {
        let (kind, message) = reject(&json);
        assert_eq!(kind, ErrorKind::InvalidArgument, "{json}");
        assert!(
            message.contains(expected),
            "{json}\n  gave {message:?}\n  expected it to contain {expected:?}"
        );
    }
}
