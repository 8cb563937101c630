//! The manager against the simulated kernel of `fake.rs`: creation order, rollback, checks,
//! freeze, kill and destroy, on v2, legacy and hybrid layouts.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use runtime_core::{ErrorKind, Resources};

use super::fake::Fake;
use super::fs::CgFs;
use super::*;

/// A pure v2 host offering `controllers` at /cg.
fn unified(controllers: &str) -> Arc<Fake> {
    let fake = Fake::new();
    fake.mount_v2("/cg", controllers);
    fake
}

/// A hybrid host like this machine but with cpu,cpuacct co-mounted.
fn hybrid() -> Arc<Fake> {
    let fake = Fake::new();
    fake.mount_v1("/v1/memory", &["memory"]);
    fake.mount_v1("/v1/cpu,cpuacct", &["cpu", "cpuacct"]);
    fake.mount_v1("/v1/cpuset", &["cpuset"]);
    fake.mount_v1("/v1/pids", &["pids"]);
    fake.mount_v1("/v1/blkio", &["blkio"]);
    fake.mount_v1("/v1/devices", &["devices"]);
    fake.mount_v1("/v1/freezer", &["freezer"]);
    fake.mount_v2("/v1/unified", "");
    fake
}

fn writes_to(log: &[String], suffix: &str) -> Vec<String> {
    log.iter()
        .filter(|l| l.starts_with("write ") && l.contains(suffix))
        .cloned()
        .collect()
}

#[test]
fn v2_enables_controllers_from_the_root_down_before_each_mkdir() {
    let fake = unified("cpuset cpu io memory hugetlb pids");
    let manager = fake.manager();
    assert_eq!(manager.mode(), CgroupMode::Unified);
    let resources = Resources {
        memory_limit: Some(64 << 20),
        memory_reservation: Some(32 << 20),
        memory_swap: Some(96 << 20),
        cpu_shares: Some(1024),
        cpu_quota: Some(50_000),
        cpu_period: Some(100_000),
        cpuset_cpus: Some("1".into()),
        pids_limit: Some(-1),
        ..Default::default()
    };
    let cg = manager.create("a/b", "c1", &resources).unwrap();
    let enable = "+cpuset +cpu +io +memory +pids";
    assert_eq!(
        fake.log(),
        vec![
            format!("write /cg/cgroup.subtree_control {enable}"),
            "mkdir /cg/a".into(),
            format!("write /cg/a/cgroup.subtree_control {enable}"),
            "mkdir /cg/a/b".into(),
            format!("write /cg/a/b/cgroup.subtree_control {enable}"),
            "mkdir /cg/a/b/c1".into(),
            "write /cg/a/b/c1/memory.max 67108864".into(),
            "write /cg/a/b/c1/memory.low 33554432".into(),
            "write /cg/a/b/c1/memory.swap.max 33554432".into(),
            "write /cg/a/b/c1/cpu.weight 39".into(),
            "write /cg/a/b/c1/cpu.max 50000 100000".into(),
            "write /cg/a/b/c1/cpuset.cpus 1".into(),
            "write /cg/a/b/c1/pids.max max".into(),
        ]
    );
    assert_eq!(cg.relative_path(), "a/b/c1");
    assert_eq!(
        cg.procs_files(),
        vec![PathBuf::from("/cg/a/b/c1/cgroup.procs")]
    );
    // cgroup2 has no per-thread file for a domain cgroup: the helper joins through cgroup.procs.
    assert_eq!(
        cg.join_files(),
        vec![PathBuf::from("/cg/a/b/c1/cgroup.procs")]
    );
    assert_eq!(
        cg.oom_watch_path(),
        Some(PathBuf::from("/cg/a/b/c1/memory.events"))
    );

    // The chain is set up now: a second container costs one mkdir and its writes.
    fake.clear_log();
    manager.create("a/b", "c2", &Resources::default()).unwrap();
    assert_eq!(fake.log(), vec!["mkdir /cg/a/b/c2".to_string()]);
}

#[test]
fn v2_enables_only_what_is_missing_and_available() {
    let fake = unified("cpu memory pids");
    fake.set("/cg/cgroup.subtree_control", "cpu\n");
    let manager = fake.manager();
    manager
        .create("berth", "c1", &Resources::default())
        .unwrap();
    let log = fake.log();
    assert_eq!(
        writes_to(&log, "subtree_control"),
        vec![
            "write /cg/cgroup.subtree_control +memory +pids",
            "write /cg/berth/cgroup.subtree_control +cpu +memory +pids",
        ]
    );
    // Only the parents' subtree_control, never the container's own nor any cgroup.procs.
    assert!(!log.iter().any(|l| l.contains("c1/cgroup.")));
}

#[test]
fn v2_missing_controller_is_refused_before_anything_is_created() {
    let fake = unified("memory pids");
    let manager = fake.manager();
    let resources = Resources {
        cpu_shares: Some(512),
        ..Default::default()
    };
    let err = manager.check(&resources).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported);
    assert_eq!(
        err.to_string(),
        "resources.cpu_shares on a host without the cpu cgroup controller is not supported by \
         this driver"
    );
    let err = manager.create("berth", "c1", &resources).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported);
    assert!(fake.log().is_empty());
}

#[test]
fn v2_io_weight_and_swap_files() {
    let fake = unified("cpu io memory pids");
    let manager = fake.manager();
    let resources = Resources {
        memory_limit: Some(1 << 20),
        memory_swap: Some(-1),
        blkio_weight: Some(300),
        ..Default::default()
    };
    manager.create("berth", "c1", &resources).unwrap();
    assert_eq!(fake.get("/cg/berth/c1/io.weight").unwrap(), "default 300");
    assert_eq!(fake.get("/cg/berth/c1/memory.swap.max").unwrap(), "max");

    let fake = unified("cpu io memory pids");
    fake.omit("io.weight");
    let manager = fake.manager();
    let err = manager.create("berth", "c1", &resources).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported);
    assert!(err
        .to_string()
        .contains("resources.blkio_weight on a host without io.bfq.weight or io.weight"));
    assert!(fake.cgroups().is_empty(), "{:?}", fake.cgroups());
}

#[test]
fn v2_check_probes_children_for_swap_and_weights() {
    let fake = unified("cpu io memory pids");
    let manager = fake.manager();
    let swap = Resources {
        memory_limit: Some(1 << 20),
        memory_swap: Some(2 << 20),
        ..Default::default()
    };
    let weight = Resources {
        blkio_weight: Some(100),
        ..Default::default()
    };
    // No child to learn from: create will tell.
    manager.check(&swap).unwrap();
    manager.check(&weight).unwrap();

    let fake = unified("cpu io memory pids");
    fake.set("/cg/cgroup.subtree_control", "cpu io memory pids\n");
    fake.omit("memory.swap.max");
    fake.omit("io.weight");
    let manager = fake.manager();
    use super::fs::Backend;
    fake.mkdir(std::path::Path::new("/cg/system.slice"))
        .unwrap();
    fake.clear_log();
    let err = manager.check(&swap).unwrap_err();
    assert!(err
        .to_string()
        .contains("without swap accounting (no memory.swap.max"));
    let err = manager.check(&weight).unwrap_err();
    assert!(err
        .to_string()
        .contains("without io.bfq.weight or io.weight"));
    // iocost announces itself on the root.
    fake.set("/cg/io.cost.qos", "");
    manager.check(&weight).unwrap();
    assert!(fake.log().is_empty(), "check wrote: {:?}", fake.log());
}

#[test]
fn v2_cpuset_out_of_range() {
    let fake = unified("cpuset cpu memory pids");
    let manager = fake.manager();
    let err = manager
        .check(&Resources {
            cpuset_cpus: Some("0-3".into()),
            ..Default::default()
        })
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid resources.cpuset_cpus: 0-3: this host has CPUs 0-1"
    );
    manager
        .check(&Resources {
            cpuset_cpus: Some("1".into()),
            cpuset_mems: Some("0".into()),
            ..Default::default()
        })
        .unwrap();
}

#[test]
fn hybrid_creates_one_dir_per_hierarchy_and_copies_cpusets_down() {
    let fake = hybrid();
    let manager = fake.manager();
    assert_eq!(manager.mode(), CgroupMode::Hybrid);
    let resources = Resources {
        memory_limit: Some(64 << 20),
        memory_swap: Some(128 << 20),
        cpu_shares: Some(512),
        cpu_quota: Some(50_000),
        cpu_period: Some(100_000),
        cpuset_cpus: Some("1".into()),
        pids_limit: Some(16),
        blkio_weight: Some(300),
        ..Default::default()
    };
    manager.check(&resources).unwrap();
    let cg = manager.create("berth", "c1", &resources).unwrap();
    let dirs: Vec<String> = cg.dirs().iter().map(|d| d.display().to_string()).collect();
    assert_eq!(
        dirs,
        [
            "/v1/memory",
            "/v1/cpu,cpuacct",
            "/v1/cpuset",
            "/v1/pids",
            "/v1/blkio",
            "/v1/devices",
            "/v1/freezer",
            "/v1/unified"
        ]
        .map(|root| format!("{root}/berth/c1"))
    );
    assert_eq!(cg.procs_files().len(), 8);
    assert!(cg
        .procs_files()
        .iter()
        .all(|p| p.ends_with("c1/cgroup.procs")));
    // The helper joins each v1 hierarchy through `tasks` (its one thread, without the global
    // thread-group lock) and the cgroup2 one through cgroup.procs.
    let join: Vec<String> = cg
        .join_files()
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    assert_eq!(
        join,
        [
            "/v1/memory/berth/c1/tasks",
            "/v1/cpu,cpuacct/berth/c1/tasks",
            "/v1/cpuset/berth/c1/tasks",
            "/v1/pids/berth/c1/tasks",
            "/v1/blkio/berth/c1/tasks",
            "/v1/devices/berth/c1/tasks",
            "/v1/freezer/berth/c1/tasks",
            "/v1/unified/berth/c1/cgroup.procs",
        ]
    );
    let get = |p: &str| fake.get(p).unwrap();
    assert_eq!(get("/v1/memory/berth/c1/memory.limit_in_bytes"), "67108864");
    assert_eq!(
        get("/v1/memory/berth/c1/memory.memsw.limit_in_bytes"),
        "134217728"
    );
    assert_eq!(get("/v1/cpu,cpuacct/berth/c1/cpu.shares"), "512");
    assert_eq!(get("/v1/cpu,cpuacct/berth/c1/cpu.cfs_quota_us"), "50000");
    assert_eq!(get("/v1/pids/berth/c1/pids.max"), "16");
    assert_eq!(get("/v1/blkio/berth/c1/blkio.bfq.weight"), "300");
    // The new parent got the root's sets, the container its own CPU and the parent's node.
    assert_eq!(get("/v1/cpuset/berth/cpuset.cpus"), "0-1");
    assert_eq!(get("/v1/cpuset/berth/cpuset.mems"), "0");
    assert_eq!(get("/v1/cpuset/berth/c1/cpuset.cpus"), "1");
    assert_eq!(get("/v1/cpuset/berth/c1/cpuset.mems"), "0");
    let log = fake.log();
    // The period goes first: a quota is checked against the period in force.
    let cpu = writes_to(&log, "cpu.cfs");
    assert!(cpu[0].contains("cfs_period_us") && cpu[1].contains("cfs_quota_us"));
    // The limit goes before memory+swap, which may never be below it.
    let memory = writes_to(&log, "limit_in_bytes");
    assert!(memory[0].contains("memory.limit_in_bytes"));
    // No v2 controller is touched in hybrid mode.
    assert!(writes_to(&log, "subtree_control").is_empty());
    assert_eq!(
        cg.oom_watch_path(),
        Some(PathBuf::from("/v1/memory/berth/c1/memory.oom_control"))
    );

    // The copied sets let a process join.
    use super::fs::Backend;
    for file in cg.procs_files() {
        fake.write(&file, "4242").unwrap();
    }
    assert_eq!(cg.pids().unwrap(), vec![4242]);
}

#[test]
fn v1_cpuset_left_empty_in_an_existing_parent_is_repaired() {
    let fake = hybrid();
    use super::fs::Backend;
    // A parent made by someone who never filled it in (or a crash right after mkdir).
    fake.mkdir(std::path::Path::new("/v1/cpuset/berth"))
        .unwrap();
    fake.mkdir(std::path::Path::new("/v1/cpuset/berth/x"))
        .unwrap();
    let manager = fake.manager();
    manager
        .create("berth/x", "c1", &Resources::default())
        .unwrap();
    assert_eq!(fake.get("/v1/cpuset/berth/cpuset.cpus").unwrap(), "0-1");
    assert_eq!(fake.get("/v1/cpuset/berth/x/cpuset.mems").unwrap(), "0");
    assert_eq!(
        fake.get("/v1/cpuset/berth/x/c1/cpuset.cpus").unwrap(),
        "0-1"
    );
}

#[test]
fn failed_create_removes_what_it_created_and_only_that() {
    let fake = hybrid();
    let manager = fake.manager();
    manager
        .create("berth", "c0", &Resources::default())
        .unwrap();
    fake.fail("/v1/pids/berth/c1/pids.max", libc::EINVAL);
    let resources = Resources {
        memory_limit: Some(64 << 20),
        pids_limit: Some(10),
        ..Default::default()
    };
    let err = manager.create("berth", "c1", &resources).unwrap_err();
    assert_eq!(
        err.to_string(),
        "write 10 to /v1/pids/berth/c1/pids.max: EINVAL: Invalid argument"
    );
    let left = fake.cgroups();
    assert!(left.iter().all(|d| !d.contains("c1")), "{left:?}");
    assert!(fake.is_dir("/v1/memory/berth/c0"));

    // With nothing else there, the parent it created goes too.
    let fake = hybrid();
    fake.fail("/v1/unified/a/b/c1", libc::ENOSPC);
    let err = fake
        .manager()
        .create("a/b", "c1", &Resources::default())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "create cgroup /v1/unified/a/b/c1: ENOSPC: No space left on device"
    );
    assert!(fake.cgroups().is_empty(), "{:?}", fake.cgroups());
}

#[test]
fn an_existing_empty_cgroup_is_used_and_one_with_processes_refused() {
    let fake = hybrid();
    let manager = fake.manager();
    manager
        .create("berth", "c1", &Resources::default())
        .unwrap();
    // Empty: used as it is, as runc does, and the resources written into it.
    fake.clear_log();
    let limits = Resources {
        pids_limit: Some(5),
        ..Default::default()
    };
    let cg = manager.create_at("berth/c1", &limits).unwrap();
    assert!(
        !fake.log().iter().any(|l| l.starts_with("mkdir")),
        "{:?}",
        fake.log()
    );
    assert_eq!(fake.get("/v1/pids/berth/c1/pids.max").as_deref(), Some("5"));
    // A failure leaves it, since berth did not make it.
    fake.fail("/v1/pids/berth/c1/pids.max", libc::EINVAL);
    manager.create_at("berth/c1", &limits).unwrap_err();
    assert!(fake.is_dir("/v1/memory/berth/c1"));
    assert!(fake.is_dir("/v1/unified/berth/c1"));
    // With a process in it: refused before anything is written.
    fake.set("/v1/unified/berth/c1/cgroup.procs", "42\n");
    fake.clear_log();
    let err = manager
        .create_at("berth/c1", &Resources::default())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(err.to_string().contains("holds processes [42]"), "{err}");
    assert!(!fake.log().iter().any(|l| l.starts_with("write")));
    drop(cg);
}

#[test]
fn v1_checks() {
    let fake = Fake::new();
    // Swap accounting off: not on the root, nor in new cgroups.
    fake.omit("memory.memsw.limit_in_bytes");
    fake.mount_v1("/v1/memory", &["memory"]);
    fake.mount_v1("/v1/cpuset", &["cpuset"]);
    fake.mount_v1("/v1/blkio", &["blkio"]);
    let manager = fake.manager();
    assert_eq!(manager.mode(), CgroupMode::Legacy);
    let err = manager
        .check(&Resources {
            pids_limit: Some(10),
            ..Default::default()
        })
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "resources.pids_limit on a host without the pids cgroup controller is not supported by \
         this driver"
    );
    let err = manager
        .check(&Resources {
            cpuset_cpus: Some("7".into()),
            ..Default::default()
        })
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert_eq!(
        err.to_string(),
        "invalid resources.cpuset_cpus: 7: this host has CPUs 0-1"
    );
    let err = manager
        .check(&Resources {
            cpuset_mems: Some("1".into()),
            ..Default::default()
        })
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid resources.cpuset_mems: 1: this host has memory nodes 0"
    );
    let swap = Resources {
        memory_limit: Some(1 << 20),
        memory_swap: Some(2 << 20),
        ..Default::default()
    };
    let err = manager.check(&swap).unwrap_err();
    assert!(err
        .to_string()
        .starts_with("resources.memory_swap on a host without swap accounting"));
    // create says so too, and leaves nothing.
    let err = manager.create("berth", "c1", &swap).unwrap_err();
    assert!(
        err.to_string().contains("memory.memsw.limit_in_bytes"),
        "{err}"
    );
    assert!(fake.cgroups().is_empty());
    fake.clear_log();
    // Without swap asked for, the missing file does not matter.
    manager
        .check(&Resources {
            memory_limit: Some(1 << 20),
            ..Default::default()
        })
        .unwrap();
    let weight = Resources {
        blkio_weight: Some(500),
        ..Default::default()
    };
    manager.check(&weight).unwrap();
    fake.remove("/v1/blkio/blkio.bfq.io_service_bytes");
    let err = manager.check(&weight).unwrap_err();
    assert!(err
        .to_string()
        .starts_with("resources.blkio_weight on a host without blkio.weight or blkio.bfq.weight"));
    assert!(fake.log().is_empty(), "check wrote: {:?}", fake.log());
}

#[test]
fn bad_paths_are_refused() {
    let fake = hybrid();
    let manager = fake.manager();
    for (parent, id) in [
        ("..", "c1"),
        ("a/../b", "c1"),
        ("/", "c1"),
        ("berth", "a/b"),
    ] {
        let err = manager
            .create(parent, id, &Resources::default())
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{parent} {id}");
    }
    assert!(fake.log().is_empty());
}

#[test]
fn freeze_and_thaw() {
    for fake in [unified("memory"), hybrid()] {
        let manager = fake.manager();
        let cg = manager
            .create("berth", "c1", &Resources::default())
            .unwrap();
        assert!(!cg.is_frozen().unwrap());
        cg.freeze().unwrap();
        assert!(cg.is_frozen().unwrap());
        cg.thaw().unwrap();
        assert!(!cg.is_frozen().unwrap());
        let log = fake.log();
        if manager.mode() == CgroupMode::Hybrid {
            // The v1 freezer, where there is one.
            assert_eq!(writes_to(&log, "freezer.state").len(), 2);
            assert!(writes_to(&log, "cgroup.freeze").is_empty());
        } else {
            assert_eq!(
                writes_to(&log, "cgroup.freeze"),
                vec![
                    "write /cg/berth/c1/cgroup.freeze 1",
                    "write /cg/berth/c1/cgroup.freeze 0"
                ]
            );
        }
    }
}

#[test]
fn freeze_that_never_completes_times_out_and_thaws() {
    let fake = hybrid();
    let manager = fake.manager();
    manager
        .create("berth", "c1", &Resources::default())
        .unwrap();
    fake.set("/v1/freezer/berth/c1/freezer.state", "FREEZING\n");
    fake.sticky("/v1/freezer/berth/c1/freezer.state");
    fake.clear_log();
    let fs = CgFs::new(fake.clone());
    let dir = std::path::Path::new("/v1/freezer/berth/c1");
    let err = v1::freeze(&fs, dir, Duration::from_millis(80)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "freeze /v1/freezer/berth/c1: freezer.state still FREEZING after 80ms, thawed it \
         again: ETIMEDOUT: Connection timed out"
    );
    let log = fake.log();
    assert!(log.len() >= 3, "FROZEN is asked for again: {log:?}");
    assert_eq!(
        log.last().unwrap(),
        "write /v1/freezer/berth/c1/freezer.state THAWED"
    );

    let fake = unified("memory");
    let cg = fake
        .manager()
        .create("berth", "c1", &Resources::default())
        .unwrap();
    fake.sticky("/cg/berth/c1/cgroup.freeze");
    let fs = CgFs::new(fake.clone());
    let err = v2::freeze(
        &fs,
        std::path::Path::new("/cg/berth/c1"),
        Duration::from_millis(30),
    )
    .unwrap_err();
    assert!(err.to_string().contains("not frozen after 30ms"), "{err}");
    assert!(!cg.is_frozen().unwrap());
}

#[test]
fn kill_all_uses_cgroup_kill_for_sigkill() {
    let fake = unified("memory pids");
    let cg = fake
        .manager()
        .create("berth", "c1", &Resources::default())
        .unwrap();
    fake.set("/cg/berth/c1/cgroup.procs", "100\n101\n");
    fake.clear_log();
    cg.kill_all(libc::SIGKILL).unwrap();
    assert_eq!(fake.log(), vec!["write /cg/berth/c1/cgroup.kill 1"]);
    assert!(cg.pids().unwrap().is_empty());
}

#[test]
fn kill_all_other_signals_freeze_signal_each_and_thaw() {
    let fake = unified("memory pids");
    let cg = fake
        .manager()
        .create("berth", "c1", &Resources::default())
        .unwrap();
    use super::fs::Backend;
    fake.mkdir(std::path::Path::new("/cg/berth/c1/sub"))
        .unwrap();
    fake.set("/cg/berth/c1/cgroup.procs", "100\n");
    fake.set("/cg/berth/c1/sub/cgroup.procs", "200\n");
    fake.clear_log();
    cg.kill_all(libc::SIGTERM).unwrap();
    assert_eq!(
        fake.log(),
        vec![
            "write /cg/berth/c1/cgroup.freeze 1".to_string(),
            "kill 100 15".into(),
            "kill 200 15".into(),
            "write /cg/berth/c1/cgroup.freeze 0".into(),
        ]
    );

    // A paused container stays paused.
    cg.freeze().unwrap();
    fake.clear_log();
    cg.kill_all(libc::SIGTERM).unwrap();
    assert_eq!(fake.log(), vec!["kill 100 15", "kill 200 15"]);
    assert!(cg.is_frozen().unwrap());
}

#[test]
fn kill_all_on_legacy_without_cgroup_kill() {
    let fake = Fake::new();
    fake.mount_v1("/v1/freezer", &["freezer"]);
    fake.mount_v1("/v1/pids", &["pids"]);
    let cg = fake
        .manager()
        .create("berth", "c1", &Resources::default())
        .unwrap();
    fake.set("/v1/freezer/berth/c1/cgroup.procs", "7\n");
    fake.set("/v1/pids/berth/c1/cgroup.procs", "7\n");
    fake.clear_log();
    cg.kill_all(libc::SIGKILL).unwrap();
    assert_eq!(
        fake.log(),
        vec![
            "write /v1/freezer/berth/c1/freezer.state FROZEN".to_string(),
            "kill 7 9".into(),
            "write /v1/freezer/berth/c1/freezer.state THAWED".into(),
        ]
    );
    cg.destroy().unwrap();
    assert!(fake.cgroups().iter().all(|d| !d.contains("c1")));
}

#[test]
fn destroy_kills_removes_child_cgroups_and_is_idempotent() {
    let fake = hybrid();
    let manager = fake.manager();
    let cg = manager
        .create("berth", "c1", &Resources::default())
        .unwrap();
    let other = manager
        .create("berth", "c2", &Resources::default())
        .unwrap();
    use super::fs::Backend;
    fake.mkdir(std::path::Path::new("/v1/unified/berth/c1/nested"))
        .unwrap();
    fake.mkdir(std::path::Path::new("/v1/memory/berth/c1/nested"))
        .unwrap();
    for file in cg.procs_files() {
        fake.write(&file, "300").unwrap();
    }
    fake.set("/v1/unified/berth/c1/nested/cgroup.procs", "301\n");
    fake.set("/v1/freezer/berth/c1/freezer.state", "FROZEN\n");
    cg.destroy().unwrap();
    let left = fake.cgroups();
    assert!(left.iter().all(|d| !d.contains("c1")), "{left:?}");
    assert!(other.exists());
    let log = fake.log();
    assert!(log.contains(&"write /v1/unified/berth/c1/cgroup.kill 1".to_string()));
    assert!(log.contains(&"write /v1/freezer/berth/c1/freezer.state THAWED".to_string()));
    cg.destroy().unwrap();
    assert!(!cg.exists());
    assert_eq!(
        cg.stats().unwrap_err().kind(),
        ErrorKind::NotFound,
        "stats of a destroyed cgroup"
    );

    // The shared parent stays until empty.
    manager.remove_parent_if_empty("berth").unwrap();
    assert!(fake.is_dir("/v1/memory/berth"));
    other.destroy().unwrap();
    manager.remove_parent_if_empty("berth").unwrap();
    assert!(fake.cgroups().is_empty(), "{:?}", fake.cgroups());
}

#[test]
fn oom_kill_count_and_stats_by_version() {
    let fake = unified("cpu io memory pids");
    let cg = fake
        .manager()
        .create("berth", "c1", &Resources::default())
        .unwrap();
    fake.set(
        "/cg/berth/c1/memory.events",
        "low 0\nhigh 0\nmax 4\noom 2\noom_kill 2\noom_group_kill 0\n",
    );
    fake.set("/cg/berth/c1/memory.current", "4096\n");
    fake.set("/cg/berth/c1/pids.current", "1\n");
    assert_eq!(cg.oom_kill_count().unwrap(), 2);
    let stats = cg.stats().unwrap();
    assert_eq!(stats.memory.usage, Some(4096));
    assert_eq!(stats.memory.limit, None);
    assert_eq!(stats.pids.current, Some(1));
    assert_eq!(stats.io.read_bytes, Some(0));

    let fake = hybrid();
    let cg = fake
        .manager()
        .create(
            "berth",
            "c1",
            &Resources {
                memory_limit: Some(1 << 20),
                ..Default::default()
            },
        )
        .unwrap();
    fake.set(
        "/v1/memory/berth/c1/memory.oom_control",
        "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n",
    );
    fake.set("/v1/cpu,cpuacct/berth/c1/cpuacct.usage", "99\n");
    assert_eq!(cg.oom_kill_count().unwrap(), 1);
    let stats = cg.stats().unwrap();
    assert_eq!(stats.memory.limit, Some(1 << 20));
    assert_eq!(stats.cpu.total_ns, Some(99));
    assert_eq!(stats.cpu.throttled_periods, Some(0));

    // Without a memory controller there is nothing to watch.
    let fake = unified("pids");
    let cg = fake
        .manager()
        .create("berth", "c1", &Resources::default())
        .unwrap();
    assert_eq!(cg.oom_watch_path(), None);
    assert_eq!(
        cg.oom_kill_count().unwrap_err().kind(),
        ErrorKind::Unsupported
    );
}

#[test]
fn manager_and_cgroup_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<CgroupManager>();
    check::<ContainerCgroup>();
}

#[test]
fn v2_a_parent_with_processes_is_named_as_the_reason_controllers_cannot_be_enabled() {
    use super::fs::Backend;
    let fake = unified("cpu io memory pids");
    let manager = fake.manager();
    // The host's own cgroup, as where a container's cgroup namespace root holds its processes.
    fake.mkdir(std::path::Path::new("/cg/busy")).unwrap();
    fake.set("/cg/busy/cgroup.procs", "42\n43\n");
    let err = manager
        .create("busy", "c1", &Resources::default())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::System);
    assert_eq!(
        err.to_string(),
        "write +cpu +io +memory +pids to /cg/busy/cgroup.subtree_control: /cg/busy holds \
         processes (42, 43), and cgroup v2 enables controllers for the children of a cgroup \
         without processes only (the root aside); move them into a child cgroup first (in a \
         container with its own cgroup namespace: out of its root cgroup, e.g. into \
         /cg/busy/init): EBUSY: Device or resource busy"
    );
    assert!(!fake.is_dir("/cg/busy/c1"));
    assert!(fake.is_dir("/cg/busy"), "not berth's to remove");

    // Without processes, EBUSY stays the kernel's plain error.
    fake.fail("/cg/other/cgroup.subtree_control", libc::EBUSY);
    let err = manager
        .create("other", "c1", &Resources::default())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "write +cpu +io +memory +pids to /cg/other/cgroup.subtree_control: EBUSY: Device or \
         resource busy"
    );
    assert!(!fake.is_dir("/cg/other"), "the parent it made is removed");
}

// ---- update ----

/// The writes of the log after `clear_log`, without the `write ` prefix.
fn writes(fake: &Fake) -> Vec<String> {
    fake.log()
        .iter()
        .filter_map(|l| l.strip_prefix("write ").map(str::to_string))
        .collect()
}

/// The manager of `fake` and its container `berth/c1`, created with `resources`.
fn container(fake: &Arc<Fake>, resources: Resources) -> (CgroupManager, ContainerCgroup) {
    let manager = fake.manager();
    let cg = manager.create("berth", "c1", &resources).unwrap();
    (manager, cg)
}

#[test]
fn update_writes_only_the_fields_given() {
    for fake in [hybrid(), unified("cpuset cpu io memory pids")] {
        let (manager, cg) = container(
            &fake,
            Resources {
                memory_limit: Some(64 << 20),
                pids_limit: Some(10),
                ..Default::default()
            },
        );
        fake.clear_log();
        manager.update(&cg, &Resources::default()).unwrap();
        assert!(fake.log().is_empty(), "{:?}", fake.log());
        let pids = Resources {
            pids_limit: Some(20),
            ..Default::default()
        };
        manager.update(&cg, &pids).unwrap();
        let (pids_max, memory) = if manager.mode() == CgroupMode::Unified {
            ("/cg/berth/c1/pids.max", "/cg/berth/c1/memory.max")
        } else {
            (
                "/v1/pids/berth/c1/pids.max",
                "/v1/memory/berth/c1/memory.limit_in_bytes",
            )
        };
        assert_eq!(writes(&fake), vec![format!("{pids_max} 20")]);
        assert_eq!(fake.get(memory).unwrap(), "67108864", "left alone");
        let stats = cg.stats().unwrap();
        assert_eq!(stats.pids.limit, Some(20));
        assert_eq!(stats.memory.limit, Some(64 << 20));
    }
}

#[test]
fn update_v1_orders_memory_and_swap_against_the_current_limit() {
    let fake = hybrid();
    let manager = fake.manager();
    let memory = |limit: i64, swap: Option<i64>| Resources {
        memory_limit: Some(limit),
        memory_swap: swap,
        ..Default::default()
    };
    let cg = manager
        .create("berth", "c1", &memory(64 << 20, Some(128 << 20)))
        .unwrap();
    let dir = "/v1/memory/berth/c1";
    let limit = format!("{dir}/memory.limit_in_bytes");
    let memsw = format!("{dir}/memory.memsw.limit_in_bytes");

    // Up: memory+swap first, or the kernel refuses a limit above it. Down: the limit first,
    // or memory+swap would go below it. Unlimited swap goes first.
    let write = |file: &str, value: i64| format!("{file} {value}");
    for (new_limit, new_swap, expected) in [
        (
            256 << 20,
            512 << 20,
            [write(&memsw, 512 << 20), write(&limit, 256 << 20)],
        ),
        (
            32 << 20,
            48 << 20,
            [write(&limit, 32 << 20), write(&memsw, 48 << 20)],
        ),
        (1 << 30, -1, [write(&memsw, -1), write(&limit, 1 << 30)]),
    ] {
        fake.clear_log();
        manager
            .update(&cg, &memory(new_limit, Some(new_swap)))
            .unwrap();
        assert_eq!(writes(&fake), expected, "to {new_limit} and {new_swap}");
    }
    manager
        .update(&cg, &memory(32 << 20, Some(48 << 20)))
        .unwrap();

    // A limit alone above memory+swap: refused before any write, naming both.
    fake.clear_log();
    let err = manager.update(&cg, &memory(64 << 20, None)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert_eq!(
        err.to_string(),
        "invalid resources.memory_limit: 67108864 is above the container's memory+swap limit \
         50331648: give memory_swap as well"
    );
    assert!(writes(&fake).is_empty());
    // Below it, alone, is fine; so is swap alone above the limit (validation asks for both,
    // the manager does not).
    manager.update(&cg, &memory(40 << 20, None)).unwrap();
    assert_eq!(fake.get(&limit).unwrap(), (40 << 20).to_string());
    let swap_only = Resources {
        memory_swap: Some(30 << 20),
        ..Default::default()
    };
    let err = manager.update(&cg, &swap_only).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(err
        .to_string()
        .contains("below the container's memory limit 41943040"));
}

#[test]
fn update_v1_period_refused_for_the_quota_in_force_is_written_again_after_the_quota() {
    let fake = hybrid();
    let (manager, cg) = container(
        &fake,
        Resources {
            cpu_quota: Some(50_000),
            cpu_period: Some(100_000),
            ..Default::default()
        },
    );
    let dir = "/v1/cpu,cpuacct/berth/c1";
    fake.fail_once(&format!("{dir}/cpu.cfs_period_us"), libc::EINVAL);
    fake.clear_log();
    let cpu = Resources {
        cpu_quota: Some(5_000),
        cpu_period: Some(10_000),
        ..Default::default()
    };
    manager.update(&cg, &cpu).unwrap();
    assert_eq!(
        writes(&fake),
        vec![
            format!("{dir}/cpu.cfs_period_us 10000"),
            format!("{dir}/cpu.cfs_quota_us 5000"),
            format!("{dir}/cpu.cfs_period_us 10000"),
        ]
    );
    assert_eq!(
        fake.get(&format!("{dir}/cpu.cfs_period_us")).unwrap(),
        "10000"
    );

    // Without a quota to make room, the refusal is the error.
    fake.fail_once(&format!("{dir}/cpu.cfs_period_us"), libc::EINVAL);
    let err = manager
        .update(
            &cg,
            &Resources {
                cpu_period: Some(20_000),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("write 20000 to {dir}/cpu.cfs_period_us: EINVAL: Invalid argument")
    );
}

#[test]
fn update_v2_keeps_the_quota_for_a_period_and_the_limit_for_swap() {
    let fake = unified("cpu io memory pids");
    let (manager, cg) = container(
        &fake,
        Resources {
            memory_limit: Some(64 << 20),
            cpu_quota: Some(50_000),
            cpu_period: Some(100_000),
            ..Default::default()
        },
    );
    let period = Resources {
        cpu_period: Some(200_000),
        ..Default::default()
    };
    manager.update(&cg, &period).unwrap();
    assert_eq!(fake.get("/cg/berth/c1/cpu.max").unwrap(), "50000 200000");
    let quota = Resources {
        cpu_quota: Some(-1),
        ..Default::default()
    };
    manager.update(&cg, &quota).unwrap();
    assert_eq!(fake.get("/cg/berth/c1/cpu.max").unwrap(), "max 200000");
    manager.update(&cg, &period).unwrap();
    assert_eq!(fake.get("/cg/berth/c1/cpu.max").unwrap(), "max 200000");
    let shares = Resources {
        cpu_shares: Some(512),
        blkio_weight: Some(300),
        ..Default::default()
    };
    manager.update(&cg, &shares).unwrap();
    assert_eq!(fake.get("/cg/berth/c1/cpu.weight").unwrap(), "20");
    assert_eq!(fake.get("/cg/berth/c1/io.weight").unwrap(), "default 300");

    // Swap counts memory plus swap: alone, from the limit in force; with a limit, from it.
    let swap = Resources {
        memory_swap: Some(96 << 20),
        ..Default::default()
    };
    manager.update(&cg, &swap).unwrap();
    assert_eq!(
        fake.get("/cg/berth/c1/memory.swap.max").unwrap(),
        (32 << 20).to_string()
    );
    let both = Resources {
        memory_limit: Some(80 << 20),
        memory_swap: Some(96 << 20),
        ..Default::default()
    };
    manager.update(&cg, &both).unwrap();
    assert_eq!(
        fake.get("/cg/berth/c1/memory.swap.max").unwrap(),
        (16 << 20).to_string()
    );
    fake.set("/cg/berth/c1/memory.max", "max\n");
    fake.clear_log();
    let err = manager.update(&cg, &swap).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(writes(&fake).is_empty());
}

#[test]
fn update_v2_enables_cpuset_for_a_container_created_without_it() {
    let fake = unified("cpuset cpu io memory pids");
    let (manager, cg) = container(&fake, Resources::default());
    assert!(fake.get("/cg/berth/c1/cpuset.cpus").is_none());
    fake.clear_log();
    let cpus = Resources {
        cpuset_cpus: Some("1".into()),
        ..Default::default()
    };
    manager.update(&cg, &cpus).unwrap();
    assert_eq!(
        writes(&fake),
        vec![
            "/cg/cgroup.subtree_control +cpuset",
            "/cg/berth/cgroup.subtree_control +cpuset",
            "/cg/berth/c1/cpuset.cpus 1",
        ]
    );
    // Enabled now: the next update only writes.
    fake.clear_log();
    manager.update(&cg, &cpus).unwrap();
    assert_eq!(writes(&fake), vec!["/cg/berth/c1/cpuset.cpus 1"]);
}

#[test]
fn update_refuses_what_create_refuses_before_any_write() {
    let fake = unified("memory pids");
    let (manager, cg) = container(&fake, Resources::default());
    fake.clear_log();
    let shares = Resources {
        cpu_shares: Some(512),
        pids_limit: Some(5),
        ..Default::default()
    };
    let err = manager.update(&cg, &shares).unwrap_err();
    assert_eq!(
        err.to_string(),
        manager
            .create("berth", "c2", &shares)
            .unwrap_err()
            .to_string()
    );
    assert_eq!(
        err.to_string(),
        "resources.cpu_shares on a host without the cpu cgroup controller is not supported by \
         this driver"
    );
    let err = manager
        .update(
            &cg,
            &Resources {
                cpuset_cpus: Some("0-3".into()),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported, "no cpuset here: {err}");
    assert!(fake.log().is_empty(), "{:?}", fake.log());

    let fake = hybrid();
    let (manager, cg) = container(&fake, Resources::default());
    fake.clear_log();
    let err = manager
        .update(
            &cg,
            &Resources {
                cpuset_cpus: Some("0-3".into()),
                pids_limit: Some(5),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid resources.cpuset_cpus: 0-3: this host has CPUs 0-1"
    );
    assert!(fake.log().is_empty(), "{:?}", fake.log());

    // A cgroup that is gone is not found, and nothing is written.
    cg.destroy().unwrap();
    fake.clear_log();
    let err = manager
        .update(
            &cg,
            &Resources {
                pids_limit: Some(5),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(writes(&fake).is_empty());
}

#[test]
fn a_failed_update_write_says_what_was_written_before_it() {
    let fake = hybrid();
    let (manager, cg) = container(&fake, Resources::default());
    fake.fail("/v1/pids/berth/c1/pids.max", libc::EINVAL);
    let resources = Resources {
        memory_limit: Some(64 << 20),
        cpu_shares: Some(512),
        pids_limit: Some(10),
        blkio_weight: Some(300),
        ..Default::default()
    };
    let err = manager.update(&cg, &resources).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::System);
    assert_eq!(
        err.to_string(),
        "write 10 to /v1/pids/berth/c1/pids.max (resources written before it, and kept: \
         memory_limit, cpu_shares; not written: blkio_weight): EINVAL: Invalid argument"
    );
    // Not undone, as runc.
    assert_eq!(
        fake.get("/v1/memory/berth/c1/memory.limit_in_bytes")
            .unwrap(),
        "67108864"
    );
    assert_eq!(
        fake.get("/v1/blkio/berth/c1/blkio.bfq.weight").unwrap(),
        "100"
    );

    // The first write failing: nothing was written.
    fake.fail("/v1/memory/berth/c1/memory.limit_in_bytes", libc::EBUSY);
    let err = manager.update(&cg, &resources).unwrap_err();
    assert!(
        err.to_string().contains(
            "(resources written before it, and kept: none; not \
             written: cpu_shares, pids_limit, blkio_weight)"
        ),
        "{err}"
    );
    // One field alone: the plain error.
    let err = manager
        .update(
            &cg,
            &Resources {
                pids_limit: Some(10),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "write 10 to /v1/pids/berth/c1/pids.max: EINVAL: Invalid argument"
    );
}

fn oci_extras() -> Resources {
    use runtime_core::{HugepageLimit, NetworkPriority, ThrottleDevice, WeightDevice};
    let throttle = |rate| {
        vec![ThrottleDevice {
            major: 8,
            minor: 0,
            rate,
        }]
    };
    Resources {
        memory_swappiness: Some(10),
        memory_disable_oom_killer: Some(true),
        memory_kernel: Some(1 << 20),
        memory_use_hierarchy: Some(true),
        cpu_quota: Some(50_000),
        cpu_burst: Some(20_000),
        cpu_idle: Some(1),
        cpu_realtime_period: Some(500_000),
        cpu_realtime_runtime: Some(10_000),
        blkio_weight_device: vec![WeightDevice {
            major: 8,
            minor: 0,
            weight: Some(300),
            leaf_weight: None,
        }],
        blkio_throttle_read_bps_device: throttle(1_000_000),
        blkio_throttle_write_bps_device: throttle(2_000_000),
        blkio_throttle_read_iops_device: throttle(100),
        blkio_throttle_write_iops_device: throttle(200),
        hugepage_limits: vec![HugepageLimit {
            page_size: "2MB".into(),
            limit: 4 << 20,
        }],
        network_class_id: Some(0x10001),
        network_priorities: vec![NetworkPriority {
            name: "eth0".into(),
            priority: 5,
        }],
        ..Default::default()
    }
}

#[test]
fn v1_writes_the_oci_extras_in_order() {
    let fake = hybrid();
    fake.mount_v1("/v1/hugetlb", &["hugetlb"]);
    fake.mount_v1("/v1/net_cls,net_prio", &["net_cls", "net_prio"]);
    fake.hugepages(&["2048kB", "1048576kB"]);
    let manager = fake.manager();
    let r = oci_extras();
    manager.check(&r).unwrap();
    manager.create("berth", "c1", &r).unwrap();
    let writes: Vec<String> = fake
        .log()
        .into_iter()
        .filter(|l| l.starts_with("write /v1/") && !l.contains("cpuset"))
        .collect();
    assert_eq!(
        writes,
        [
            "write /v1/memory/berth/c1/memory.swappiness 10",
            "write /v1/memory/berth/c1/memory.oom_control 1",
            "write /v1/cpu,cpuacct/berth/c1/cpu.rt_period_us 500000",
            "write /v1/cpu,cpuacct/berth/c1/cpu.rt_runtime_us 10000",
            "write /v1/cpu,cpuacct/berth/c1/cpu.cfs_quota_us 50000",
            "write /v1/cpu,cpuacct/berth/c1/cpu.cfs_burst_us 20000",
            "write /v1/cpu,cpuacct/berth/c1/cpu.idle 1",
            // BFQ's file: blkio.weight_device is CFQ's, gone since Linux 5.0.
            "write /v1/blkio/berth/c1/blkio.bfq.weight_device 8:0 300",
            "write /v1/blkio/berth/c1/blkio.throttle.read_bps_device 8:0 1000000",
            "write /v1/blkio/berth/c1/blkio.throttle.write_bps_device 8:0 2000000",
            "write /v1/blkio/berth/c1/blkio.throttle.read_iops_device 8:0 100",
            "write /v1/blkio/berth/c1/blkio.throttle.write_iops_device 8:0 200",
            "write /v1/hugetlb/berth/c1/hugetlb.2MB.limit_in_bytes 4194304",
            "write /v1/net_cls,net_prio/berth/c1/net_cls.classid 65537",
            "write /v1/net_cls,net_prio/berth/c1/net_prio.ifpriomap eth0 5",
        ]
    );
    // A page size the host lacks is invalid, naming it; unified is v2's.
    let bad = Resources {
        hugepage_limits: vec![runtime_core::HugepageLimit {
            page_size: "64KB".into(),
            limit: 0,
        }],
        ..Default::default()
    };
    let err = manager.check(&bad).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert_eq!(
        err.to_string(),
        "invalid resources.hugepage_limits[0].page_size: 64KB: this host has huge pages of \
         2MB, 1GB"
    );
    let mut unified = Resources::default();
    unified.unified.insert("memory.high".into(), "1".into());
    let err = manager.create("berth", "c2", &unified).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported);
    assert!(
        err.to_string()
            .starts_with("resources.unified on a cgroup v1 host"),
        "{err}"
    );
    assert!(!fake.is_dir("/v1/memory/berth/c2"));
}

#[test]
fn v1_refuses_what_the_kernel_lacks_naming_the_field() {
    let fake = hybrid();
    let manager = fake.manager();
    for (r, field) in [
        (
            Resources {
                blkio_leaf_weight: Some(100),
                ..Default::default()
            },
            "resources.blkio_leaf_weight on a host without blkio.leaf_weight",
        ),
        (
            Resources {
                network_class_id: Some(1),
                ..Default::default()
            },
            "resources.network_class_id on a host without the net_cls cgroup controller",
        ),
        (
            Resources {
                hugepage_limits: vec![runtime_core::HugepageLimit {
                    page_size: "2MB".into(),
                    limit: 0,
                }],
                ..Default::default()
            },
            "resources.hugepage_limits on a host without the hugetlb cgroup controller",
        ),
    ] {
        let err = manager.check(&r).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unsupported, "{err}");
        assert!(err.to_string().starts_with(field), "{err}");
    }
    fake.remove("/v1/cpu,cpuacct/cpu.rt_runtime_us");
    let err = manager
        .check(&Resources {
            cpu_realtime_runtime: Some(1),
            ..Default::default()
        })
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("resources.cpu_realtime_runtime on a host without cpu.rt_runtime_us"),
        "{err}"
    );
}

#[test]
fn v2_writes_the_oci_extras_and_unified_last() {
    let fake = unified("cpuset cpu io memory hugetlb pids");
    fake.hugepages(&["2048kB"]);
    let manager = fake.manager();
    let mut r = oci_extras();
    // v1-only fields are refused on v2, naming them.
    for field in [
        "memory_swappiness",
        "memory_disable_oom_killer",
        "cpu_realtime_runtime",
        "network_class_id",
    ] {
        let err = manager.check(&r).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unsupported);
        assert!(
            err.to_string()
                .starts_with(&format!("resources.{field} on cgroup v2")),
            "{err}"
        );
        match field {
            "memory_swappiness" => r.memory_swappiness = None,
            "memory_disable_oom_killer" => r.memory_disable_oom_killer = Some(false),
            "cpu_realtime_runtime" => {
                r.cpu_realtime_runtime = None;
                r.cpu_realtime_period = None;
            }
            _ => {
                r.network_class_id = None;
                r.network_priorities.clear();
            }
        }
    }
    // A device weight is BFQ's: no io.bfq.weight in new cgroups here.
    r.blkio_weight_device.clear();
    r.unified.insert("memory.high".into(), "50000000".into());
    r.unified.insert("cgroup.max.depth".into(), "3".into());
    manager.check(&r).unwrap();
    fake.set("/cg/berth/unrelated", "");
    manager.create("berth", "c1", &r).unwrap();
    let writes: Vec<String> = fake
        .log()
        .into_iter()
        .filter(|l| l.starts_with("write /cg/berth/c1/"))
        .collect();
    assert_eq!(
        writes,
        [
            "write /cg/berth/c1/cpu.max 50000",
            "write /cg/berth/c1/cpu.max.burst 20000",
            "write /cg/berth/c1/cpu.idle 1",
            "write /cg/berth/c1/io.max 8:0 rbps=1000000",
            "write /cg/berth/c1/io.max 8:0 wbps=2000000",
            "write /cg/berth/c1/io.max 8:0 riops=100",
            "write /cg/berth/c1/io.max 8:0 wiops=200",
            "write /cg/berth/c1/hugetlb.2MB.max 4194304",
            "write /cg/berth/c1/cgroup.max.depth 3",
            "write /cg/berth/c1/memory.high 50000000",
        ]
    );
    assert!(fake.log().contains(
        &"write /cg/berth/cgroup.subtree_control +cpu +io +memory +pids +hugetlb".into()
    ));
    // A unified key of a controller the host lacks, or berth does not know.
    let mut missing = Resources::default();
    missing.unified.insert("misc.max".into(), "x 1".into());
    let err = manager.check(&missing).unwrap_err();
    assert_eq!(
        err.to_string(),
        "resources.unified on a host without the misc cgroup controller is not supported by \
         this driver"
    );
    let mut unknown = Resources::default();
    unknown.unified.insert("dmem.max".into(), "1".into());
    let err = manager.check(&unknown).unwrap_err();
    assert!(
        err.to_string().contains("dmem.max: the dmem controller"),
        "{err}"
    );
}

#[test]
fn update_checks_usage_before_lowering_memory_when_asked() {
    let fake = hybrid();
    let manager = fake.manager();
    let cg = manager
        .create("berth", "c1", &Resources::default())
        .unwrap();
    fake.set("/v1/memory/berth/c1/memory.usage_in_bytes", "1048576\n");
    fake.clear_log();
    let lower = Resources {
        memory_limit: Some(1 << 20),
        memory_check_before_update: Some(true),
        ..Default::default()
    };
    let err = manager.update(&cg, &lower).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(
        err.to_string()
            .starts_with("invalid resources.memory_limit: 1048576 is not above"),
        "{err}"
    );
    assert!(writes_to(&fake.log(), "memory").is_empty());
    // Without the check the kernel decides; above the usage the check passes.
    manager
        .update(
            &cg,
            &Resources {
                memory_limit: Some(2 << 20),
                ..lower.clone()
            },
        )
        .unwrap();
    manager
        .update(
            &cg,
            &Resources {
                memory_check_before_update: None,
                ..lower
            },
        )
        .unwrap();
}
