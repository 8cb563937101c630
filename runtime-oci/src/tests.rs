//! One config field at a time: a minimal config plus the field → the command's field, or the
//! error naming it.

use std::path::Path;

use runtime_core::{
    Command, DeviceNode, DeviceRule, IdMapping, Mount, NamespaceMode, Personality, ProcessConfig,
    Rlimit, SeccompSetting,
};
use serde_json::{json, Value};

use crate::*;

const BUNDLE: &str = "/bundles/b1";

/// The smallest config berth runs: a mount namespace, a process, a root.
fn minimal() -> Value {
    json!({
        "ociVersion": "1.0.2",
        "root": {"path": "rootfs"},
        "process": {"args": ["/bin/true"], "cwd": "/", "user": {"uid": 0, "gid": 0}},
        "linux": {"namespaces": [{"type": "mount"}]}
    })
}

/// `minimal()` with `edit` applied, mapped.
fn map(edit: impl FnOnce(&mut Value)) -> Result<(Command, Hooks), OciError> {
    let mut config = minimal();
    edit(&mut config);
    let spec = spec_from_json(&config.to_string())?;
    command_from_spec(&spec, Path::new(BUNDLE), "c1")
}

fn command(edit: impl FnOnce(&mut Value)) -> Command {
    map(edit).unwrap().0
}

/// The error of `minimal()` with `edit`, checked to name `field`.
fn refused(edit: impl FnOnce(&mut Value), field: &str) -> OciError {
    let err = map(edit).unwrap_err();
    assert_eq!(err.field(), field, "{err}");
    assert!(
        err.to_string()
            .starts_with(&format!("config.json: {field}")),
        "{err}"
    );
    err
}

/// `linux.resources` set to `resources`, mapped.
fn resources_of(resources: Value) -> runtime_core::Resources {
    command(|c| c["linux"]["resources"] = resources).resources
}

/// The error of `linux.resources` set to `resources`, checked to name `field`.
fn bad_resources(resources: Value, field: &str) -> OciError {
    refused(|c| c["linux"]["resources"] = resources, field)
}

#[test]
fn the_minimal_config_is_ocis_defaults_not_berths() {
    let c = command(|_| {});
    assert_eq!(c.id, "c1");
    assert_eq!(c.rootfs, "/bundles/b1/rootfs");
    assert!(!c.readonly_rootfs);
    assert_eq!(c.process.args, ["/bin/true"]);
    assert_eq!(c.process.user, "0:0");
    assert!(!c.process.no_new_privileges);
    assert_eq!(c.process.seccomp, Some(SeccompSetting::Unconfined));
    assert_eq!(
        c.process.capabilities,
        Some(runtime_core::CapabilitySets::default())
    );
    assert_eq!(c.process.groups, Some(vec![]));
    assert_eq!((c.process.umask, c.process.oom_score_adj), (None, None));
    assert_eq!(c.masked_paths, Some(vec![]));
    assert_eq!(c.readonly_paths, Some(vec![]));
    assert_eq!(c.namespaces.mount, NamespaceMode::Private);
    for mode in [
        &c.namespaces.pid,
        &c.namespaces.net,
        &c.namespaces.ipc,
        &c.namespaces.uts,
        &c.namespaces.cgroup,
        &c.namespaces.user,
    ] {
        assert_eq!(mode, &NamespaceMode::Host);
    }
    assert_eq!(c.hostname, None);
    assert!(c.mounts.is_empty() && c.device_cgroup_rules.is_empty());
    assert_eq!(c.cgroup_parent, None);
}

#[test]
fn root() {
    assert_eq!(
        command(|c| c["root"] = json!({"path": "/abs/r", "readonly": true})).rootfs,
        "/abs/r"
    );
    assert!(command(|c| c["root"]["readonly"] = json!(true)).readonly_rootfs);
    refused(
        |c| {
            c.as_object_mut().unwrap().remove("root");
        },
        "root",
    );
}

#[test]
fn process_fields() {
    let c = command(|c| {
        let p = &mut c["process"];
        p["env"] = json!(["A=1"]);
        p["cwd"] = json!("/tmp");
        p["user"] = json!({"uid": 1000, "gid": 100, "additionalGids": [5, 6]});
        p["terminal"] = json!(true);
        p["consoleSize"] = json!({"height": 24, "width": 80});
        p["noNewPrivileges"] = json!(true);
        p["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "soft": 10, "hard": 20}]);
    });
    let p = &c.process;
    assert_eq!(p.env, ["A=1"]);
    assert_eq!(p.cwd, "/tmp");
    assert_eq!(p.user, "1000:100");
    assert_eq!(
        p.groups,
        Some(vec![5, 6]),
        "OCI's additionalGids are the exact groups"
    );
    assert!(p.additional_gids.is_empty());
    assert!(p.tty && p.no_new_privileges);
    assert_eq!(
        p.console_size,
        Some(runtime_core::ConsoleSize { rows: 24, cols: 80 })
    );
    assert_eq!(
        p.rlimits,
        [Rlimit {
            kind: "RLIMIT_NOFILE".into(),
            soft: 10,
            hard: 20
        }]
    );
}

#[test]
fn process_errors_name_the_field() {
    refused(|c| c["process"]["args"] = json!([]), "process.args");
    refused(|c| c["process"]["cwd"] = json!("tmp"), "process.cwd");
    refused(
        |c| c["process"]["consoleSize"] = json!({"height": 70000, "width": 1}),
        "process.consoleSize.height",
    );
    refused(
        |c| {
            c.as_object_mut().unwrap().remove("process");
        },
        "process",
    );
    refused(
        |c| c["process"]["rlimits"] = json!([{"type": "RLIMIT_BOGUS", "soft": 1, "hard": 1}]),
        "process.rlimits[0].type",
    );
    refused(
        |c| c["process"]["rlimits"] = json!([{"type": "RLIMIT_CORE", "soft": 2, "hard": 1}]),
        "process.rlimits[0]",
    );
}

#[test]
fn refused_for_good() {
    let err = refused(
        |c| c["process"]["apparmorProfile"] = json!("docker-default"),
        "process.apparmorProfile",
    );
    assert_eq!(
        err.to_string(),
        "config.json: process.apparmorProfile: not supported: this host has no AppArmor"
    );
    // Empty means none: accepted.
    command(|c| c["process"]["apparmorProfile"] = json!(""));
    refused(
        |c| c["process"]["selinuxLabel"] = json!("system_u:system_r:container_t:s0"),
        "process.selinuxLabel",
    );
    refused(
        |c| c["linux"]["mountLabel"] = json!("system_u:object_r:container_file_t:s0"),
        "linux.mountLabel",
    );
    refused(
        |c| c["linux"]["intelRdt"] = json!({"closID": "x"}),
        "linux.intelRdt",
    );
    refused(
        |c| c["linux"]["namespaces"] = json!([{"type": "mount"}, {"type": "time"}]),
        "linux.namespaces[1].type",
    );
    refused(
        |c| c["linux"]["timeOffsets"] = json!({"monotonic": {"secs": 1, "nanosecs": 0}}),
        "linux.timeOffsets",
    );
    refused(
        |c| c["linux"]["memoryPolicy"] = json!({"mode": "MPOL_BIND", "nodes": "0"}),
        "linux.memoryPolicy",
    );
    refused(
        |c| c["linux"]["netDevices"] = json!({"eth1": {}}),
        "linux.netDevices",
    );
    refused(
        |c| c["process"]["scheduler"] = json!({"policy": "SCHED_FIFO", "priority": 1}),
        "process.scheduler",
    );
    refused(
        |c| c["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_IDLE", "priority": 0}),
        "process.ioPriority",
    );
    refused(
        |c| c["process"]["execCPUAffinity"] = json!({"initial": "0"}),
        "process.execCPUAffinity",
    );
    refused(
        |c| c["process"]["user"]["username"] = json!("ContainerUser"),
        "process.user.username",
    );
    refused(
        |c| c["process"]["commandLine"] = json!("cmd.exe"),
        "process.commandLine",
    );
    refused(
        |c| c["windows"] = json!({"layerFolders": ["C:\\l"]}),
        "windows",
    );
    refused(|c| c["solaris"] = json!({}), "solaris");
    refused(|c| c["vm"] = json!({"kernel": {"path": "/k"}}), "vm");
    refused(
        |c| {
            c["linux"]["seccomp"] =
                json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/run/agent.sock"})
        },
        "linux.seccomp.listenerPath",
    );
    refused(|c| c["ociVersion"] = json!("2.0.0"), "ociVersion");
    refused(|c| c["linux"]["namespaces"] = json!([]), "linux.namespaces");
}

#[test]
fn memory_swappiness() {
    let r = resources_of(json!({"memory": {"swappiness": 10}}));
    assert_eq!(r.memory_swappiness, Some(10));
    // runc: -1 as a uint64 leaves it alone.
    let r = resources_of(json!({"memory": {"swappiness": u64::MAX}}));
    assert_eq!(r.memory_swappiness, None);
    let err = bad_resources(
        json!({"memory": {"swappiness": 101}}),
        "linux.resources.memory.swappiness",
    );
    assert!(err.to_string().contains("0 to 100"), "{err}");
}

#[test]
fn memory_kernel() {
    let r = resources_of(json!({"memory": {"kernel": 1 << 20}}));
    assert_eq!(r.memory_kernel, Some(1 << 20));
    bad_resources(
        json!({"memory": {"kernel": "1m"}}),
        "linux.resources.memory.kernel",
    );
}

#[test]
fn memory_kernel_tcp() {
    let r = resources_of(json!({"memory": {"kernelTCP": 1 << 20}}));
    assert_eq!(r.memory_kernel_tcp, Some(1 << 20));
    bad_resources(
        json!({"memory": {"kernelTCP": true}}),
        "linux.resources.memory.kernelTCP",
    );
}

#[test]
fn memory_disable_oom_killer() {
    let r = resources_of(json!({"memory": {"disableOOMKiller": true}}));
    assert_eq!(r.memory_disable_oom_killer, Some(true));
    bad_resources(
        json!({"memory": {"disableOOMKiller": 1}}),
        "linux.resources.memory.disableOOMKiller",
    );
}

#[test]
fn memory_use_hierarchy() {
    let r = resources_of(json!({"memory": {"useHierarchy": true}}));
    assert_eq!(r.memory_use_hierarchy, Some(true));
    bad_resources(
        json!({"memory": {"useHierarchy": false}}),
        "linux.resources.memory.useHierarchy",
    );
}

#[test]
fn memory_check_before_update() {
    let r = resources_of(json!({"memory": {"checkBeforeUpdate": true}}));
    assert_eq!(r.memory_check_before_update, Some(true));
    bad_resources(
        json!({"memory": {"checkBeforeUpdate": "yes"}}),
        "linux.resources.memory.checkBeforeUpdate",
    );
}

#[test]
fn cpu_realtime() {
    let r = resources_of(json!({"cpu": {"realtimeRuntime": 950000, "realtimePeriod": 1000000}}));
    assert_eq!(
        (r.cpu_realtime_runtime, r.cpu_realtime_period),
        (Some(950000), Some(1000000))
    );
    bad_resources(
        json!({"cpu": {"realtimeRuntime": -2}}),
        "linux.resources.cpu.realtimeRuntime",
    );
    // 0 is "not set", as runc reads it.
    assert_eq!(
        resources_of(json!({"cpu": {"realtimePeriod": 0}})).cpu_realtime_period,
        None
    );
}

#[test]
fn cpu_idle() {
    assert_eq!(resources_of(json!({"cpu": {"idle": 1}})).cpu_idle, Some(1));
    bad_resources(json!({"cpu": {"idle": 2}}), "linux.resources.cpu.idle");
}

#[test]
fn cpu_burst() {
    let r = resources_of(json!({"cpu": {"quota": 50000, "period": 100000, "burst": 20000}}));
    assert_eq!(r.cpu_burst, Some(20000));
    bad_resources(
        json!({"cpu": {"quota": 50000, "burst": 60000}}),
        "linux.resources.cpu.burst",
    );
}

#[test]
fn blkio_leaf_weight() {
    let r = resources_of(json!({"blockIO": {"leafWeight": 300}}));
    assert_eq!(r.blkio_leaf_weight, Some(300));
    bad_resources(
        json!({"blockIO": {"leafWeight": 5}}),
        "linux.resources.blockIO.leafWeight",
    );
}

#[test]
fn blkio_weight_device() {
    let r = resources_of(json!({"blockIO": {"weightDevice": [
        {"major": 8, "minor": 0, "weight": 100},
        {"major": 8, "minor": 16, "leafWeight": 200}
    ]}}));
    assert_eq!(
        r.blkio_weight_device,
        [
            runtime_core::WeightDevice {
                major: 8,
                minor: 0,
                weight: Some(100),
                leaf_weight: None
            },
            runtime_core::WeightDevice {
                major: 8,
                minor: 16,
                weight: None,
                leaf_weight: Some(200)
            }
        ]
    );
    bad_resources(
        json!({"blockIO": {"weightDevice": [{"major": 8, "minor": 0, "leafWeight": 5}]}}),
        "linux.resources.blockIO.weightDevice[0].leafWeight",
    );
    bad_resources(
        json!({"blockIO": {"weightDevice": [{"major": -1, "minor": 0, "weight": 100}]}}),
        "linux.resources.blockIO.weightDevice[0].major",
    );
    bad_resources(
        json!({"blockIO": {"weightDevice": [{"major": 8, "minor": 0}]}}),
        "linux.resources.blockIO.weightDevice[0]",
    );
}

#[test]
fn blkio_throttle_devices() {
    let r = resources_of(json!({"blockIO": {
        "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1000}],
        "throttleWriteBpsDevice": [{"major": 8, "minor": 1, "rate": 2000}],
        "throttleReadIOPSDevice": [{"major": 8, "minor": 2, "rate": 30}],
        "throttleWriteIOPSDevice": [{"major": 8, "minor": 3, "rate": 40}]
    }}));
    let t = |minor, rate| {
        vec![runtime_core::ThrottleDevice {
            major: 8,
            minor,
            rate,
        }]
    };
    assert_eq!(r.blkio_throttle_read_bps_device, t(0, 1000));
    assert_eq!(r.blkio_throttle_write_bps_device, t(1, 2000));
    assert_eq!(r.blkio_throttle_read_iops_device, t(2, 30));
    assert_eq!(r.blkio_throttle_write_iops_device, t(3, 40));
    bad_resources(
        json!({"blockIO": {"throttleWriteIOPSDevice": [{"major": 5000, "minor": 0, "rate": 1}]}}),
        "linux.resources.blockIO.throttleWriteIOPSDevice[0].major",
    );
    bad_resources(
        json!({"blockIO": {"throttleReadBpsDevice": [{"major": 8, "minor": -1, "rate": 1}]}}),
        "linux.resources.blockIO.throttleReadBpsDevice[0].minor",
    );
}

#[test]
fn hugepage_limits() {
    let r = resources_of(json!({"hugepageLimits": [{"pageSize": "2MB", "limit": 1 << 21}]}));
    assert_eq!(
        r.hugepage_limits,
        [runtime_core::HugepageLimit {
            page_size: "2MB".into(),
            limit: 1 << 21
        }]
    );
    bad_resources(
        json!({"hugepageLimits": [{"pageSize": "2M", "limit": 0}]}),
        "linux.resources.hugepageLimits[0].pageSize",
    );
    bad_resources(
        json!({"hugepageLimits": [{"pageSize": "2MB", "limit": -1}]}),
        "linux.resources.hugepageLimits[0].limit",
    );
}

#[test]
fn network_class_id_and_priorities() {
    let r = resources_of(json!({"network": {"classID": 1048577,
        "priorities": [{"name": "eth0", "priority": 5}]}}));
    assert_eq!(r.network_class_id, Some(1048577));
    assert_eq!(
        r.network_priorities,
        [runtime_core::NetworkPriority {
            name: "eth0".into(),
            priority: 5
        }]
    );
    bad_resources(
        json!({"network": {"classID": -1}}),
        "linux.resources.network.classID",
    );
    bad_resources(
        json!({"network": {"priorities": [{"name": "a/b", "priority": 1}]}}),
        "linux.resources.network.priorities[0].name",
    );
}

#[test]
fn unified() {
    let r = resources_of(json!({"unified": {"memory.high": "50000000", "pids.max": "10"}}));
    assert_eq!(
        r.unified.get("memory.high").map(String::as_str),
        Some("50000000")
    );
    assert_eq!(r.unified.len(), 2);
    bad_resources(
        json!({"unified": {"../memory.high": "1"}}),
        "linux.resources.unified",
    );
}

#[test]
fn rdma_is_refused() {
    let err = bad_resources(
        json!({"rdma": {"mlx5_0": {"hcaHandles": 1}}}),
        "linux.resources.rdma",
    );
    assert!(matches!(err, OciError::Unsupported { .. }), "{err}");
    // An empty one asks for nothing.
    assert_eq!(
        resources_of(json!({"rdma": {}})),
        runtime_core::Resources::default()
    );
}

#[test]
fn device_rules_in_order_with_denies() {
    let c = command(|c| {
        c["linux"]["resources"] = json!({"devices": [
            {"allow": false, "access": "rwm"},
            {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rw"},
            {"allow": false, "type": "c", "major": 1, "minor": 3, "access": "w"}
        ]})
    });
    assert_eq!(
        c.device_cgroup_rules,
        [
            DeviceRule {
                allow: false,
                kind: 'a',
                major: None,
                minor: None,
                access: "rwm".into()
            },
            DeviceRule::char(Some(1), Some(3), "rw"),
            DeviceRule {
                allow: false,
                ..DeviceRule::char(Some(1), Some(3), "w")
            }
        ]
    );
}

#[test]
fn linux_devices() {
    let c = command(|c| {
        c["linux"]["devices"] = json!([
            {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 438, "uid": 0, "gid": 0},
            {"path": "/dev/fifo", "type": "p"}
        ])
    });
    assert_eq!(
        c.device_nodes,
        [
            DeviceNode {
                path: "/dev/fuse".into(),
                kind: 'c',
                major: Some(10),
                minor: Some(229),
                file_mode: Some(0o666),
                uid: Some(0),
                gid: Some(0)
            },
            DeviceNode {
                path: "/dev/fifo".into(),
                kind: 'p',
                major: None,
                minor: None,
                file_mode: None,
                uid: None,
                gid: None
            }
        ]
    );
    refused(
        |c| c["linux"]["devices"] = json!([{"path": "/dev/x", "type": "a"}]),
        "linux.devices[0].type",
    );
    refused(
        |c| {
            c["linux"]["devices"] =
                json!([{"path": "/dev/x", "type": "c", "major": 1, "minor": 1, "fileMode": 4096}])
        },
        "linux.devices[0].fileMode",
    );
    // podman's fileMode carries the node's own type (S_IFCHR | 0600, S_IFBLK | 0660): taken
    // as its permission bits, as runc does. Another type's bits stay refused (above).
    let c = command(|c| {
        c["linux"]["devices"] = json!([
            {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 0o20600},
            {"path": "/dev/loop9", "type": "b", "major": 7, "minor": 9, "fileMode": 0o60660},
            {"path": "/dev/p", "type": "p", "fileMode": 0o10644}
        ])
    });
    let modes: Vec<Option<u32>> = c.device_nodes.iter().map(|d| d.file_mode).collect();
    assert_eq!(modes, [Some(0o600), Some(0o660), Some(0o644)]);
    refused(
        |c| {
            c["linux"]["devices"] = json!([{"path": "/dev/x", "type": "b", "major": 1, "minor": 1, "fileMode": 0o20600}])
        },
        "linux.devices[0].fileMode",
    );
    refused(
        |c| {
            c["linux"]["devices"] = json!([{"path": "/dev/null", "type": "c", "major": 1, "minor": 3},
            {"path": "/dev/x", "type": "b", "major": -1, "minor": 0}])
        },
        "linux.devices[1].major",
    );
}

#[test]
fn rootfs_propagation() {
    assert_eq!(
        command(|c| c["linux"]["rootfsPropagation"] = json!("rslave"))
            .rootfs_propagation
            .as_deref(),
        Some("rslave")
    );
    assert_eq!(
        command(|c| c["linux"]["rootfsPropagation"] = json!("")).rootfs_propagation,
        None
    );
    refused(
        |c| c["linux"]["rootfsPropagation"] = json!("bogus"),
        "linux.rootfsPropagation",
    );
}

#[test]
fn personality() {
    assert_eq!(
        command(|c| c["linux"]["personality"] = json!({"domain": "LINUX32"})).personality,
        Some(Personality {
            domain: "LINUX32".into(),
            flags: vec![]
        })
    );
    refused(
        |c| c["linux"]["personality"] = json!({"domain": "LINUX", "flags": ["X"]}),
        "linux.personality.flags",
    );
    refused(
        |c| c["linux"]["personality"] = json!({"domain": "LINUX64"}),
        "linux.personality.domain",
    );
}

#[test]
fn domainname() {
    let uts =
        |c: &mut Value| c["linux"]["namespaces"] = json!([{"type": "mount"}, {"type": "uts"}]);
    let c = command(|c| {
        uts(c);
        c["domainname"] = json!("example.org");
    });
    assert_eq!(c.domainname.as_deref(), Some("example.org"));
    assert_eq!(command(|c| c["domainname"] = json!("")).domainname, None);
    refused(
        |c| {
            uts(c);
            c["domainname"] = json!("not a name");
        },
        "domainname",
    );
    refused(|c| c["domainname"] = json!("example.org"), "domainname");
}

#[test]
fn cgroups_path() {
    let path = |p: &str| {
        let c = command(|c| c["linux"]["cgroupsPath"] = json!(p));
        assert_eq!(c.cgroup_parent, None, "exclusive with cgroup_path");
        c.cgroup_path
    };
    assert_eq!(
        path("/machine/berth/c1").as_deref(),
        Some("machine/berth/c1")
    );
    assert_eq!(path("/c1").as_deref(), Some("c1"));
    assert_eq!(path("mine/other").as_deref(), Some("mine/other"));
    assert_eq!(path(""), None);
    let err = refused(
        |c| c["linux"]["cgroupsPath"] = json!("system.slice:berth:c1"),
        "linux.cgroupsPath",
    );
    assert!(
        matches!(&err, OciError::Unsupported { reason, .. } if reason.contains("systemd")),
        "{err}"
    );
    refused(
        |c| c["linux"]["cgroupsPath"] = json!("/"),
        "linux.cgroupsPath",
    );
    refused(
        |c| c["linux"]["cgroupsPath"] = json!("/a/../b"),
        "linux.cgroupsPath",
    );
}

#[test]
fn mount_id_mappings() {
    let map = json!([{"containerID": 0, "hostID": 1000, "size": 10}]);
    let userns = |c: &mut Value| {
        c["linux"]["namespaces"] = json!([{"type": "mount"}, {"type": "user"}]);
        c["linux"]["uidMappings"] = map.clone();
        c["linux"]["gidMappings"] = map.clone();
    };
    let c = command(|c| {
        userns(c);
        c["mounts"] = json!([{"destination": "/d", "type": "bind", "source": "/s",
            "options": ["rbind", "idmap"], "uidMappings": map, "gidMappings": map}])
    });
    let ten = Some(vec![IdMapping {
        container_id: 0,
        host_id: 1000,
        size: 10,
    }]);
    assert_eq!(c.mounts[0].uid_mappings, ten);
    assert_eq!(c.mounts[0].gid_mappings, ten);
    assert_eq!(c.mounts[0].options, ["rbind", "idmap"]);
    // Mappings of their own (not the container's): refused, by the config's index past a
    // standard mount left to berth.
    let err = refused(
        |c| {
            userns(c);
            c["mounts"] = json!([{"destination": "/proc", "type": "proc"},
            {"destination": "/d", "type": "bind", "source": "/s", "options": ["rbind"],
            "gidMappings": [{"containerID": 0, "hostID": 5000, "size": 1}]}])
        },
        "mounts[1].gidMappings",
    );
    assert!(matches!(err, OciError::Unsupported { .. }), "{err}");
    refused(
        |c| {
            userns(c);
            c["mounts"] = json!([{"destination": "/proc", "type": "proc"},
            {"destination": "/d", "type": "bind", "source": "/s", "options": ["rbind"],
            "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 10},
                            {"containerID": 5, "hostID": 2000, "size": 1}]}])
        },
        "mounts[1].uidMappings[1]",
    );
    refused(
        |c| {
            userns(c);
            c["mounts"] = json!([{"destination": "/d", "type": "tmpfs", "gidMappings": map}]);
        },
        "mounts[0].options",
    );
}

#[test]
fn mount_options_pass_through() {
    let c = command(|c| {
        c["mounts"] = json!([
            {"destination": "/d", "type": "bind", "source": "/s",
             "options": ["rbind", "rro", "rnosuid", "nosymfollow", "defaults"]},
            {"destination": "/t", "type": "tmpfs", "options": ["tmpcopyup", "lazytime", "mand", "size=1m"]}
        ])
    });
    assert_eq!(
        c.mounts[0].options,
        ["rbind", "rro", "rnosuid", "nosymfollow", "defaults"]
    );
    assert_eq!(
        c.mounts[1].options,
        ["tmpcopyup", "lazytime", "mand", "size=1m"]
    );
    // What berth's mounts refuse, named by the config's index (`defaults` counts).
    let err = refused(
        |c| {
            c["mounts"] = json!([{"destination": "/proc", "type": "proc"},
            {"destination": "/d", "type": "tmpfs", "options": ["defaults", "remount"]}])
        },
        "mounts[1].options[1]",
    );
    assert!(matches!(err, OciError::Unsupported { .. }), "{err}");
    refused(
        |c| c["mounts"] = json!([{"destination": "/d", "type": "ext4", "source": "/dev/sda", "options": ["acl"]}]),
        "mounts[0].options[0]",
    );
    refused(
        |c| c["mounts"] = json!([{"destination": "/d", "type": "bind", "source": "/s", "options": ["rbind", "size=1m"]}]),
        "mounts[0].options[1]",
    );
    refused(
        |c| c["mounts"] = json!([{"destination": "/d", "type": "bind", "source": "/s", "options": ["bind", "tmpcopyup"]}]),
        "mounts[0].options[1]",
    );
}

#[test]
fn capabilities_in_five_sets() {
    let caps = json!(["CAP_KILL", "CAP_CHOWN"]);
    let c = command(|c| {
        c["process"]["capabilities"] = json!({"bounding": caps, "effective": ["CAP_KILL"], "permitted": caps,
        "inheritable": ["CAP_KILL"], "ambient": ["CAP_KILL"]})
    });
    let sets = c.process.capabilities.unwrap();
    assert_eq!(sets.bounding, ["CAP_CHOWN", "CAP_KILL"]);
    assert_eq!(sets.effective, ["CAP_KILL"]);
    assert_eq!(sets.permitted, ["CAP_CHOWN", "CAP_KILL"]);
    assert_eq!(sets.inheritable, ["CAP_KILL"]);
    assert_eq!(sets.ambient, ["CAP_KILL"]);
    assert!(c.process.cap_add.is_empty() && c.process.cap_drop.is_empty());
    // No `capabilities`: every set empty, as OCI means it.
    let c = command(|_| {});
    assert_eq!(
        c.process.capabilities,
        Some(runtime_core::CapabilitySets::default())
    );
}

#[test]
fn seccomp() {
    let c = command(|c| {
        c["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
        "architectures": ["SCMP_ARCH_X86_64"], "flags": ["SECCOMP_FILTER_FLAG_LOG"],
        "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]}]})
    });
    let Some(SeccompSetting::Profile(p)) = &c.process.seccomp else {
        panic!("{:?}", c.process.seccomp)
    };
    assert_eq!(p.default_action, "SCMP_ACT_ERRNO");
    assert_eq!(p.default_errno_ret, Some(1));
    assert_eq!(p.architectures, ["SCMP_ARCH_X86_64"]);
    assert_eq!(p.flags, ["SECCOMP_FILTER_FLAG_LOG"]);
    assert_eq!(p.syscalls[0].names, ["read"]);
    assert_eq!(p.syscalls[0].args[0].op, "SCMP_CMP_EQ");
    refused(
        |c| c["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_BOGUS"}),
        "linux.seccomp.defaultAction",
    );
}

#[test]
fn namespaces() {
    let c = command(|c| {
        c["linux"]["namespaces"] = json!([{"type": "mount"}, {"type": "pid"}, {"type": "ipc"},
        {"type": "uts"}, {"type": "network"}, {"type": "cgroup"}])
    });
    assert_eq!(c.namespaces.pid, NamespaceMode::Private);
    assert_eq!(
        c.namespaces.net,
        NamespaceMode::None,
        "a new net namespace with lo up"
    );
    assert_eq!(c.namespaces.cgroup, NamespaceMode::Private);
    let c = command(|c| {
        c["linux"]["namespaces"] =
            json!([{"type": "mount"}, {"type": "network", "path": "/var/run/netns/x"}])
    });
    assert_eq!(
        c.namespaces.net,
        NamespaceMode::Path("/var/run/netns/x".into())
    );
    refused(
        |c| c["linux"]["namespaces"] = json!([{"type": "mount"}, {"type": "mount"}]),
        "linux.namespaces[1].type",
    );
    refused(
        |c| c["linux"]["namespaces"] = json!([{"type": "mount"}, {"type": "net", "path": "rel"}]),
        "linux.namespaces[1].type",
    );
    refused(
        |c| {
            c["linux"]["namespaces"] =
                json!([{"type": "mount"}, {"type": "network", "path": "rel"}])
        },
        "linux.namespaces (network).path",
    );
}

#[test]
fn user_namespace_and_mappings() {
    let c = command(|c| {
        c["linux"]["namespaces"] = json!([{"type": "mount"}, {"type": "user"}]);
        c["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 1000, "size": 1}]);
        c["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 1000, "size": 1}]);
    });
    assert_eq!(c.namespaces.user, NamespaceMode::Private);
    assert_eq!(
        c.uid_mappings,
        Some(vec![IdMapping {
            container_id: 0,
            host_id: 1000,
            size: 1
        }])
    );
    assert_eq!(c.gid_mappings, c.uid_mappings);
    refused(
        |c| c["linux"]["namespaces"] = json!([{"type": "mount"}, {"type": "user"}]),
        "linux.uidMappings",
    );
    refused(
        |c| c["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 1000, "size": 1}]),
        "linux.uidMappings",
    );
    refused(
        |c| {
            c["linux"]["namespaces"] = json!([{"type": "mount"}, {"type": "user"}]);
            c["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 1000, "size": 0}]);
            c["linux"]["gidMappings"] = json!([]);
        },
        "linux.uidMappings[0]",
    );
}

#[test]
fn hostname() {
    let uts =
        |c: &mut Value| c["linux"]["namespaces"] = json!([{"type": "mount"}, {"type": "uts"}]);
    assert_eq!(
        command(|c| {
            uts(c);
            c["hostname"] = json!("box");
        })
        .hostname
        .as_deref(),
        Some("box")
    );
    // No hostname, a new uts namespace: the host's name, which the namespace starts with.
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(command(uts).hostname.as_deref(), Some(host.trim()));
    // No new uts namespace: nothing to set; a name there is refused, as by runc.
    assert_eq!(command(|_| {}).hostname, None);
    refused(|c| c["hostname"] = json!("box"), "hostname");
    refused(
        |c| {
            uts(c);
            c["hostname"] = json!("no spaces");
        },
        "hostname",
    );
}

#[test]
fn standard_mounts_are_berths_own() {
    let spec = default_spec(false);
    let c = command(|c| c["mounts"] = spec["mounts"].clone());
    // /proc, /dev, /dev/pts (gid=5 aside), /dev/shm, /dev/mqueue and /sys are berth's own;
    // the cgroup mount is the driver's to make as runc does (the container's cgroups).
    assert_eq!(
        c.mounts,
        [Mount {
            source: Some("cgroup".into()),
            destination: "/sys/fs/cgroup".into(),
            kind: "cgroup".into(),
            options: ["nosuid", "noexec", "nodev", "relatime", "ro"]
                .map(String::from)
                .to_vec(),
            uid_mappings: None,
            gid_mappings: None,
        }]
    );
    // Docker's /dev/shm of 64m goes on top of berth's.
    let c = command(|c| {
        c["mounts"] = json!([{"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
        "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=67108864"]}])
    });
    assert_eq!(c.mounts[0].options.last().unwrap(), "size=67108864");
    assert_eq!(c.mounts[0].destination, "/dev/shm");
    // Another /proc, /dev, /dev/pts, or a /sys that is not a sysfs: refused.
    refused(
        |c| {
            c["mounts"] =
                json!([{"destination": "/proc", "type": "proc", "options": ["hidepid=2"]}])
        },
        "mounts[0]",
    );
    refused(
        |c| c["mounts"] = json!([{"destination": "/sys", "type": "tmpfs", "options": ["nosuid"]}]),
        "mounts[0]",
    );
    refused(
        |c| {
            c["mounts"] =
                json!([{"destination": "/sys", "type": "sysfs", "options": ["nosuid", "size=1m"]}])
        },
        "mounts[0]",
    );
    // A read-write sysfs at /sys (a privileged container's, as Docker and containerd write
    // it): berth's own, writable. Read-only, it is not.
    let privileged = command(|c| {
        c["mounts"] = json!([{"destination": "/sys", "type": "sysfs", "source": "sysfs",
            "options": ["nosuid", "noexec", "nodev", "rw"]}])
    });
    assert!(privileged.writable_sysfs && privileged.mounts.is_empty());
    let ro = command(|c| {
        c["mounts"] = json!([{"destination": "/sys", "type": "sysfs", "source": "sysfs",
            "options": ["nosuid", "noexec", "nodev", "ro"]}])
    });
    assert!(!ro.writable_sysfs);
    // podman's privileged /sys has rprivate, which berth's is anyway; but not with a
    // rootfsPropagation that berth gives every mount.
    let podman = json!([{"destination": "/sys", "type": "sysfs", "source": "sysfs",
        "options": ["rprivate", "nosuid", "noexec", "nodev", "rw"]}]);
    assert!(command(|c| c["mounts"] = podman.clone()).writable_sysfs);
    refused(
        |c| {
            c["mounts"] = podman.clone();
            c["linux"]["rootfsPropagation"] = json!("rshared");
        },
        "mounts[0].options",
    );
    // And back: spec_from_command writes it read-write.
    let spec = spec_from_command(&privileged, &Confinement::default()).unwrap();
    let sys = spec["mounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["destination"] == "/sys")
        .unwrap()
        .clone();
    assert_eq!(sys["options"], json!(["nosuid", "noexec", "nodev", "rw"]));
    refused(
        |c| {
            c["mounts"] = json!([{"destination": "/dev/", "type": "tmpfs", "options": ["size=1m"]}])
        },
        "mounts[0]",
    );
    // The rootless form of /sys: the host's, bound read-only.
    assert!(command(
        |c| c["mounts"] = json!([{"destination": "/sys", "type": "none", "source": "/sys",
        "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]}])
    )
    .mounts
    .is_empty());
}

#[test]
fn a_noexec_dev_is_honoured() {
    // podman's /dev: berth's own, mounted noexec as well.
    let podman_dev = json!([{"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
        "options": ["nosuid", "noexec", "strictatime", "mode=755", "size=65536k"]}]);
    let c = command(|c| c["mounts"] = podman_dev.clone());
    assert!(c.dev_noexec);
    assert!(c.mounts.is_empty());
    // runc's and Docker's /dev (the default spec's), or none given: exec allowed.
    let spec = default_spec(false);
    assert!(!command(|c| c["mounts"] = spec["mounts"].clone()).dev_noexec);
    assert!(!command(|_| {}).dev_noexec);
    // Another option on /dev is still refused, naming the mount.
    refused(
        |c| {
            c["mounts"] = json!([{"destination": "/dev", "type": "tmpfs",
                "options": ["nosuid", "noexec", "nodev"]}])
        },
        "mounts[0]",
    );
    // And back: the spec of such a command has podman's /dev.
    let mut command = Command::new("d1", "/r", ProcessConfig::new(["true"]));
    command.dev_noexec = true;
    let confinement = Confinement {
        cgroups_path: "/bench/oci/d1".into(),
        identity: Identity {
            uid: 0,
            gid: 0,
            groups: vec![],
            home: "/root".into(),
        },
        capabilities: vec![],
        seccomp: None,
        device_rules: vec![],
    };
    let spec = spec_from_command(&command, &confinement).unwrap();
    let dev = spec["mounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["destination"] == "/dev")
        .unwrap();
    assert_eq!(dev["options"], podman_dev[0]["options"]);
    let parsed = spec_from_json(&spec.to_string()).unwrap();
    let (back, _) = command_from_spec(&parsed, Path::new("/b"), "d1").unwrap();
    assert!(back.dev_noexec);
}

#[test]
fn user_mounts() {
    let c = command(|c| {
        c["mounts"] = json!([
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/data", "source": "data", "options": ["rbind", "ro", "defaults"]},
            {"destination": "/scratch", "type": "tmpfs", "source": "tmpfs", "options": ["size=16m"]}
        ])
    });
    assert_eq!(
        c.mounts[0],
        Mount {
            source: Some("/bundles/b1/data".into()),
            destination: "/data".into(),
            kind: "bind".into(),
            options: vec!["rbind".into(), "ro".into(), "defaults".into()],
            uid_mappings: None,
            gid_mappings: None,
        }
    );
    assert_eq!(c.mounts[1].kind, "tmpfs");
    // berth's error names the config's mount, not berth's index.
    refused(
        |c| c["mounts"] = json!([{"destination": "/proc", "type": "proc"}, {"destination": "rel", "type": "tmpfs"}]),
        "mounts[1].destination",
    );
    refused(
        |c| c["mounts"] = json!([{"destination": "/d", "source": "/s"}]),
        "mounts[0].type",
    );
    refused(
        |c| c["mounts"] = json!([{"destination": "/d", "type": "ext4", "source": "/dev/sda", "options": ["iversion"]}]),
        "mounts[0].options[0]",
    );
}

#[test]
fn resources() {
    let c = command(|c| {
        c["linux"]["resources"] = json!({
            "memory": {"limit": 64 << 20, "reservation": 32 << 20, "swap": 128 << 20},
            "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0", "mems": "0"},
            "pids": {"limit": 64},
            "blockIO": {"weight": 500},
            "devices": [{"allow": false, "access": "rwm"}, {"allow": true, "type": "c", "major": 10, "minor": 200, "access": "rwm"},
                        {"allow": true, "type": "b", "access": "m"}]
        })
    });
    let r = &c.resources;
    assert_eq!(
        (r.memory_limit, r.memory_reservation, r.memory_swap),
        (Some(64 << 20), Some(32 << 20), Some(128 << 20))
    );
    assert_eq!(
        (r.cpu_shares, r.cpu_quota, r.cpu_period),
        (Some(512), Some(50000), Some(100000))
    );
    assert_eq!(
        (r.cpuset_cpus.as_deref(), r.cpuset_mems.as_deref()),
        (Some("0"), Some("0"))
    );
    assert_eq!((r.pids_limit, r.blkio_weight), (Some(64), Some(500)));
    // In order, the leading "deny all" included (berth reads the list from it anyway).
    assert_eq!(
        c.device_cgroup_rules,
        [
            DeviceRule {
                allow: false,
                kind: 'a',
                major: None,
                minor: None,
                access: "rwm".into()
            },
            DeviceRule::char(Some(10), Some(200), "rwm"),
            DeviceRule::block(None, None, "m")
        ]
    );
    assert_eq!(
        command(|c| c["linux"]["resources"] = json!({"pids": {"limit": 0}}))
            .resources
            .pids_limit,
        None
    );
    assert_eq!(
        command(|c| c["linux"]["resources"] = json!({"pids": {"limit": -5}}))
            .resources
            .pids_limit,
        Some(-1)
    );
    let err = refused(
        |c| c["linux"]["resources"] = json!({"cpu": {"shares": 1}}),
        "linux.resources.cpu.shares",
    );
    assert!(err.to_string().contains("must be 2 to 262144"), "{err}");
    refused(
        |c| c["linux"]["resources"] = json!({"memory": {"swap": 1}}),
        "linux.resources.memory.swap",
    );
    refused(
        |c| {
            c["linux"]["resources"] =
                json!({"devices": [{"allow": true, "type": "c", "access": "rwx"}]})
        },
        "linux.resources.devices[0].access",
    );
}

#[test]
fn dev_ptmx_in_devices_is_left_out_as_runc_leaves_it() {
    // A privileged container's config: every device node of the host's /dev.
    let device = |path: &str, major: i64, minor: i64| {
        json!({"path": path, "type": "c", "major": major, "minor": minor, "fileMode": 438,
               "uid": 0, "gid": 0})
    };
    let c = command(|c| {
        c["linux"]["devices"] = json!([
            device("/dev/ptmx", 5, 2),
            device("/dev/fuse", 10, 229),
            device("/dev//ptmx", 5, 2)
        ])
    });
    let paths: Vec<&str> = c.device_nodes.iter().map(|d| d.path.as_str()).collect();
    assert_eq!(paths, ["/dev/fuse"]);
    // An error names the config's index, not berth's.
    refused(
        |c| c["linux"]["devices"] = json!([device("/dev/ptmx", 5, 2), device("/dev/null", 1, 5)]),
        "linux.devices[1].path",
    );
}

#[test]
fn a_zero_limit_is_not_set_as_runc_reads_it() {
    // What Docker 20.10 sends for a container given no limits.
    let r = resources_of(json!({
        "memory": {"disableOOMKiller": false}, "cpu": {"shares": 0}, "blockIO": {"weight": 0}
    }));
    assert_eq!(
        r,
        runtime_core::Resources {
            memory_disable_oom_killer: Some(false),
            ..Default::default()
        }
    );
    let r = resources_of(json!({
        "memory": {"limit": 0, "reservation": 0, "swap": 0},
        "cpu": {"shares": 0, "quota": 0, "period": 0, "realtimeRuntime": 0, "realtimePeriod": 0},
        "blockIO": {"weight": 0, "leafWeight": 0}
    }));
    assert_eq!(r, runtime_core::Resources::default());
    // The same for an update: 0 leaves the limit as it is.
    let r = resources_from_oci(
        &resources_from_json(r#"{"cpu": {"shares": 0}, "memory": {"limit": 0}}"#).unwrap(),
    )
    .unwrap();
    assert_eq!(r, runtime_core::Resources::default());
    // Not 0 is still checked.
    bad_resources(json!({"cpu": {"shares": 1}}), "linux.resources.cpu.shares");
}

#[test]
fn resources_for_update() {
    let r = resources_from_oci(
        &resources_from_json(r#"{"memory": {"limit": 1048576}, "pids": {"limit": 10}}"#).unwrap(),
    )
    .unwrap();
    assert_eq!((r.memory_limit, r.pids_limit), (Some(1 << 20), Some(10)));
    let r = resources_from_oci(
        &resources_from_json(
            r#"{"cpu": {"idle": 1}, "memory": {"checkBeforeUpdate": true},
            "blockIO": {"throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 5}]},
            "unified": {"memory.high": "1000000"}}"#,
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(
        (r.cpu_idle, r.memory_check_before_update),
        (Some(1), Some(true))
    );
    assert_eq!(r.blkio_throttle_read_bps_device[0].rate, 5);
    assert_eq!(r.unified.len(), 1);
    let err = resources_from_oci(
        &resources_from_json(r#"{"rdma": {"mlx5_0": {"hcaObjects": 1}}}"#).unwrap(),
    )
    .unwrap_err();
    assert_eq!(err.field(), "linux.resources.rdma", "{err}");
    let err = resources_from_oci(&resources_from_json(r#"{"cpu": {"period": 10}}"#).unwrap())
        .unwrap_err();
    assert_eq!(err.field(), "linux.resources.cpu.period", "{err}");
    let err =
        resources_from_oci(&resources_from_json(r#"{"memory": {"swappiness": 200}}"#).unwrap())
            .unwrap_err();
    assert_eq!(err.field(), "linux.resources.memory.swappiness", "{err}");
    assert_eq!(
        resources_from_json(r#"{"memroy": {}}"#)
            .unwrap_err()
            .field(),
        "linux.resources.memroy"
    );
}

#[test]
fn process_for_exec() {
    let p = process_from_oci(
        &process_from_json(
            r#"{"args": ["sh"], "cwd": "/", "user": {"uid": 5, "gid": 6},
        "env": ["X=1"], "terminal": true}"#,
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(
        (p.args.clone(), p.user.clone(), p.tty),
        (vec!["sh".to_string()], "5:6".to_string(), true)
    );
    assert_eq!(p.seccomp, Some(SeccompSetting::Unconfined));
    let err = process_from_oci(
        &process_from_json(r#"{"args": ["sh"], "cwd": "x", "user": {"uid": 0, "gid": 0}}"#)
            .unwrap(),
    )
    .unwrap_err();
    assert_eq!(err.field(), "process.cwd");
    assert_eq!(
        process_from_json(
            r#"{"args": ["sh"], "cwd": "/", "user": {"uid": 0, "gid": 0}, "tty": true}"#
        )
        .unwrap_err()
        .field(),
        "process.tty"
    );
}

#[test]
fn sysctls_masked_and_readonly_paths() {
    let c = command(|c| {
        c["linux"]["namespaces"] = json!([{"type": "mount"}, {"type": "ipc"}]);
        c["linux"]["sysctl"] = json!({"kernel.shmmax": "1000"});
        c["linux"]["maskedPaths"] = json!(["/proc/kcore"]);
        c["linux"]["readonlyPaths"] = json!(["/proc/sys"]);
    });
    assert_eq!(
        c.sysctls.get("kernel.shmmax").map(String::as_str),
        Some("1000")
    );
    assert_eq!(c.masked_paths, Some(vec!["/proc/kcore".to_string()]));
    assert_eq!(c.readonly_paths, Some(vec!["/proc/sys".to_string()]));
    let err = map(|c| c["linux"]["sysctl"] = json!({"kernel.shmmax": "1000"})).unwrap_err();
    assert!(err.field().starts_with("linux.sysctl"), "{err}");
    refused(
        |c| c["linux"]["maskedPaths"] = json!(["proc/kcore"]),
        "linux.maskedPaths[0]",
    );
}

#[test]
fn hooks_are_returned_in_order() {
    let (_, hooks) = map(|c| {
        c["hooks"] = json!({
            "prestart": [{"path": "/bin/a"}],
            "createRuntime": [{"path": "/bin/b", "args": ["b", "1"], "env": ["K=V"], "timeout": 5}],
            "poststart": [{"path": "/bin/c"}, {"path": "/bin/d"}],
            "poststop": [{"path": "/bin/e"}]
        })
    })
    .unwrap();
    assert_eq!(hooks.prestart[0].path, Path::new("/bin/a"));
    assert_eq!(
        hooks.create_runtime[0],
        Hook {
            path: "/bin/b".into(),
            args: vec!["b".into(), "1".into()],
            env: vec!["K=V".into()],
            timeout: Some(std::time::Duration::from_secs(5))
        }
    );
    assert_eq!(hooks.poststart.len(), 2);
    assert_eq!(hooks.poststop[0].path, Path::new("/bin/e"));
    refused(
        |c| c["hooks"] = json!({"poststop": [{"path": "rel"}]}),
        "hooks.poststop[0].path",
    );
    refused(
        |c| c["hooks"] = json!({"poststop": [{"path": "/bin/e", "timeout": 0}]}),
        "hooks.poststop[0].timeout",
    );
}

#[test]
fn load_reads_the_bundle_and_keeps_the_annotations() {
    let dir = std::env::temp_dir().join(format!("berth-oci-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut config = minimal();
    config["annotations"] = json!({"org.example/a": "1"});
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
    let bundle = load(&dir, "c2").unwrap();
    assert_eq!(bundle.command.rootfs, dir.join("rootfs").to_str().unwrap());
    assert_eq!(bundle.command.id, "c2");
    assert_eq!(
        bundle.annotations.get("org.example/a").map(String::as_str),
        Some("1")
    );
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(matches!(load(&dir, "c2"), Err(OciError::Io { .. })));
}

#[test]
fn the_default_specs_map() {
    let spec = spec_from_json(&default_spec(false).to_string()).unwrap();
    let (c, _) = command_from_spec(&spec, Path::new(BUNDLE), "d1").unwrap();
    assert!(c.readonly_rootfs && c.process.tty && c.process.no_new_privileges);
    let sets = c.process.capabilities.clone().unwrap();
    for set in [&sets.bounding, &sets.effective, &sets.permitted] {
        assert_eq!(
            set,
            &["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
        );
    }
    assert_eq!(c.hostname.as_deref(), Some("berth"));
    assert_eq!(c.namespaces.net, NamespaceMode::None);
    assert_eq!(c.namespaces.cgroup, NamespaceMode::Host);
    assert_eq!(c.masked_paths.as_ref().unwrap().len(), 10);
    let rootless = spec_from_json(&rootless_spec(1000, 1000).to_string()).unwrap();
    let (c, _) = command_from_spec(&rootless, Path::new(BUNDLE), "d2").unwrap();
    assert_eq!(c.namespaces.user, NamespaceMode::Private);
    assert_eq!(c.namespaces.net, NamespaceMode::Host);
    assert_eq!(
        c.uid_mappings,
        Some(vec![IdMapping {
            container_id: 0,
            host_id: 1000,
            size: 1
        }])
    );
    assert_eq!(c.mounts.len(), 1, "{:?}", c.mounts);
    assert!(default_spec(true)["linux"]["uidMappings"].is_array());
}

#[test]
fn features_say_what_is_honoured() {
    let f = features();
    let parsed: oci_spec::runtime::Features = serde_json::from_value(f.clone()).unwrap();
    assert_eq!(parsed.oci_version_min(), "1.0.0");
    let hooks = f["hooks"].as_array().unwrap();
    for hook in [
        "prestart",
        "createRuntime",
        "createContainer",
        "startContainer",
        "poststart",
        "poststop",
    ] {
        assert!(hooks.contains(&json!(hook)), "{hook}");
    }
    assert_eq!(f["linux"]["apparmor"]["enabled"], json!(false));
    assert_eq!(f["linux"]["cgroup"]["systemd"], json!(false));
    assert_eq!(f["linux"]["cgroup"]["rdma"], json!(false));
    assert_eq!(
        f["linux"]["mountExtensions"]["idmap"]["enabled"],
        json!(true)
    );
    // Every option listed is taken on a mount it fits (a bind, or a tmpfs for tmpcopyup).
    let options: Vec<&str> = f["mountOptions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o.as_str().unwrap())
        .collect();
    for option in [
        "idmap",
        "ridmap",
        "tmpcopyup",
        "rro",
        "rnosymfollow",
        "nosymfollow",
        "lazytime",
        "mand",
    ] {
        assert!(options.contains(&option), "{option}");
    }
    for option in &options {
        let (kind, source, base) = match *option {
            "tmpcopyup" => ("tmpfs", None, vec![]),
            _ => ("bind", Some("/s"), vec!["rbind"]),
        };
        let mut list = base;
        list.push(option);
        map(|c| {
            c["linux"]["namespaces"] = json!([{"type": "mount"}, {"type": "user"}]);
            c["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 1000, "size": 1}]);
            c["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 1000, "size": 1}]);
            c["mounts"] =
                json!([{"destination": "/d", "type": kind, "source": source, "options": list}]);
        })
        .unwrap_or_else(|e| panic!("{option}: {e}"));
    }
}

/// Command → spec → Command gives the command back, for a command written as the mapping
/// writes one (explicit capabilities, user, environment, seccomp and paths).
#[test]
fn round_trip() {
    let mut process = ProcessConfig::new(["/bin/sh", "-c", "exit 0"]);
    process.env = vec!["PATH=/bin".into(), "HOME=/root".into(), "X=1".into()];
    process.cwd = "/tmp".into();
    process.user = "0:0".into();
    process.groups = Some(vec![0, 10]);
    process.umask = Some(0o027);
    process.oom_score_adj = Some(100);
    let caps: Vec<String> = vec!["CAP_CHOWN".into(), "CAP_KILL".into()];
    process.capabilities = Some(runtime_core::CapabilitySets {
        bounding: caps.clone(),
        effective: caps.clone(),
        permitted: caps.clone(),
        inheritable: vec![],
        ambient: vec![],
    });
    process.no_new_privileges = true;
    process.rlimits = vec![Rlimit {
        kind: "RLIMIT_NOFILE".into(),
        soft: 100,
        hard: 200,
    }];
    let profile: runtime_core::SeccompProfile =
        serde_json::from_value(json!({"defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [{"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"}]}))
        .unwrap();
    process.seccomp = Some(SeccompSetting::Profile(Box::new(profile.clone())));
    let mut command = Command::new("rt1", "/srv/rootfs", process);
    command.readonly_rootfs = true;
    command.hostname = Some("rt".into());
    command.namespaces.user = NamespaceMode::Private;
    command.uid_mappings = Some(vec![IdMapping {
        container_id: 0,
        host_id: 100000,
        size: 65536,
    }]);
    command.gid_mappings = command.uid_mappings.clone();
    command.mounts = vec![
        Mount {
            source: Some("/host/data".into()),
            destination: "/data".into(),
            kind: "bind".into(),
            options: vec!["rbind".into(), "ro".into(), "idmap".into()],
            // The container's own mapping, the one berth takes.
            uid_mappings: Some(vec![IdMapping {
                container_id: 0,
                host_id: 100000,
                size: 65536,
            }]),
            gid_mappings: None,
        },
        Mount {
            source: Some("tmpfs".into()),
            destination: "/scratch".into(),
            kind: "tmpfs".into(),
            options: vec!["size=16m".into()],
            uid_mappings: None,
            gid_mappings: None,
        },
    ];
    command.resources.memory_limit = Some(64 << 20);
    command.resources.pids_limit = Some(32);
    command.resources.cpu_shares = Some(1024);
    let r = &mut command.resources;
    r.memory_swappiness = Some(60);
    r.memory_kernel = Some(1 << 20);
    r.memory_kernel_tcp = Some(1 << 20);
    r.memory_disable_oom_killer = Some(false);
    r.memory_use_hierarchy = Some(true);
    r.memory_check_before_update = Some(true);
    r.cpu_quota = Some(50000);
    r.cpu_period = Some(100000);
    r.cpu_realtime_runtime = Some(1000);
    r.cpu_realtime_period = Some(100000);
    r.cpu_idle = Some(0);
    r.cpu_burst = Some(10000);
    r.blkio_leaf_weight = Some(100);
    r.blkio_weight_device = vec![runtime_core::WeightDevice {
        major: 8,
        minor: 0,
        weight: Some(200),
        leaf_weight: Some(300),
    }];
    let throttle = |rate| {
        vec![runtime_core::ThrottleDevice {
            major: 8,
            minor: 0,
            rate,
        }]
    };
    r.blkio_throttle_read_bps_device = throttle(1);
    r.blkio_throttle_write_bps_device = throttle(2);
    r.blkio_throttle_read_iops_device = throttle(3);
    r.blkio_throttle_write_iops_device = throttle(4);
    r.hugepage_limits = vec![runtime_core::HugepageLimit {
        page_size: "2MB".into(),
        limit: 0,
    }];
    r.network_class_id = Some(7);
    r.network_priorities = vec![runtime_core::NetworkPriority {
        name: "eth0".into(),
        priority: 1,
    }];
    r.unified.insert("memory.high".into(), "50000000".into());
    // cgroupsPath is the cgroup itself.
    command.cgroup_path = Some("bench/oci/rt1".into());
    command.device_nodes = vec![
        DeviceNode {
            path: "/dev/fuse".into(),
            kind: 'c',
            major: Some(10),
            minor: Some(229),
            file_mode: Some(0o660),
            uid: Some(0),
            gid: Some(5),
        },
        DeviceNode {
            path: "/dev/fifo".into(),
            kind: 'p',
            major: None,
            minor: None,
            file_mode: None,
            uid: None,
            gid: None,
        },
    ];
    command.rootfs_propagation = Some("rslave".into());
    command.personality = Some(Personality {
        domain: "LINUX32".into(),
        flags: vec![],
    });
    command.domainname = Some("example.org".into());
    command.masked_paths = Some(vec!["/proc/kcore".into()]);
    command.readonly_paths = Some(vec!["/proc/sys".into()]);
    command
        .sysctls
        .insert("net.ipv4.ip_forward".into(), "1".into());
    // As the config writes it: deny all, then allow.
    command.device_cgroup_rules = vec![
        DeviceRule {
            allow: false,
            kind: 'a',
            major: None,
            minor: None,
            access: "rwm".into(),
        },
        DeviceRule::char(Some(1), Some(3), "rwm"),
    ];
    let confinement = Confinement {
        cgroups_path: "/bench/oci/rt1".into(),
        identity: Identity {
            uid: 0,
            gid: 0,
            groups: vec![0, 10],
            home: "/root".into(),
        },
        capabilities: vec!["CAP_CHOWN".into(), "CAP_KILL".into()],
        seccomp: Some(serde_json::to_value(&profile).unwrap()),
        device_rules: vec!["c 1:3 rwm".into()],
    };
    let spec = spec_from_command(&command, &confinement).unwrap();
    let parsed = spec_from_json(&spec.to_string()).unwrap();
    let (back, hooks) = command_from_spec(&parsed, Path::new("/elsewhere"), "rt1").unwrap();
    assert_eq!(back, command);
    assert_eq!(hooks, Hooks::default());
}
