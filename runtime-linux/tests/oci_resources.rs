//! The resources of OCI's `linux.resources` beyond the first ten, ordered device rules with
//! denies, and `cgroup_path`, against real containers: what reaches the container's cgroup
//! files while it runs, what the container can and cannot do, and what this host's cgroup
//! version refuses (naming the field) before anything is created. On v1 (this host) and v2
//! (the VM lane, scripts/vm-tests.sh).

mod common;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::{driver, run_output, shell, TestDriver};
use runtime_core::{
    Command, DeviceRule, Driver, ErrorKind, HugepageLimit, Mount, NoHooks, Resources, Stdio,
    ThrottleDevice,
};
use runtime_linux::cgroups::{CgroupManager, CgroupMode, Controller};
use runtime_linux::{DriverOptions, LinuxDriver};

fn manager() -> CgroupManager {
    CgroupManager::detect().expect("detect cgroups")
}

fn unified() -> bool {
    manager().mode() == CgroupMode::Unified
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// The content of `file` in the cgroup `relative`, from the hierarchy that has it.
fn read_at(relative: &str, file: &str) -> String {
    let path: PathBuf = common::cgroup_roots()
        .into_iter()
        .map(|root| root.join(relative).join(file))
        .find(|path| path.exists())
        .unwrap_or_else(|| panic!("no hierarchy has {relative}/{file}"));
    fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
        .trim()
        .to_string()
}

/// Creates and starts `command` running `sleep`, and returns its cgroup path.
fn sleeping(driver: &TestDriver, command: &Command) -> String {
    driver
        .create(command, &Stdio::null(), Arc::new(NoHooks))
        .expect("create");
    driver.start(&command.id).expect("start");
    driver.state(&command.id).expect("state").cgroup_path
}

fn sleeper(resources: Resources) -> Command {
    let mut command = shell("oci", "exec sleep 1000");
    command.resources = resources;
    command
}

/// The first real disk's `major:minor` (throttles need a block device that exists).
fn a_disk() -> Option<(u32, u32)> {
    for entry in fs::read_dir("/sys/block").ok()?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("loop") || name.starts_with("ram") || name.starts_with("zram") {
            continue;
        }
        let dev = fs::read_to_string(entry.path().join("dev")).ok()?;
        let (major, minor) = dev.trim().split_once(':')?;
        return Some((major.parse().ok()?, minor.parse().ok()?));
    }
    None
}

#[test]
fn the_memory_and_cpu_extras_reach_the_cgroup_and_the_v1_only_ones_are_refused_on_v2() {
    if !is_root() {
        return;
    }
    let driver = driver();
    let mut resources = Resources {
        memory_limit: Some(64 << 20),
        memory_kernel: Some(1 << 20),
        memory_kernel_tcp: Some(1 << 20),
        memory_use_hierarchy: Some(true),
        cpu_quota: Some(50_000),
        cpu_period: Some(100_000),
        cpu_burst: Some(20_000),
        cpu_idle: Some(1),
        ..Resources::default()
    };
    if unified() {
        resources
            .unified
            .insert("memory.high".into(), "50000000".into());
        // The v1-only fields are refused before anything exists, naming the field.
        for (field, set) in [
            (
                "memory_swappiness",
                Resources {
                    memory_swappiness: Some(10),
                    ..Resources::default()
                },
            ),
            (
                "memory_disable_oom_killer",
                Resources {
                    memory_disable_oom_killer: Some(true),
                    ..Resources::default()
                },
            ),
            (
                "cpu_realtime_runtime",
                Resources {
                    cpu_realtime_runtime: Some(1000),
                    ..Resources::default()
                },
            ),
            (
                "network_class_id",
                Resources {
                    network_class_id: Some(1),
                    ..Resources::default()
                },
            ),
        ] {
            let err = run_output(&*driver, &sleeper(set)).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Unsupported, "{err}");
            assert!(
                err.to_string().contains(&format!("resources.{field}")),
                "{err}"
            );
        }
    } else {
        resources.memory_swappiness = Some(10);
        resources.memory_disable_oom_killer = Some(true);
        // unified is v2's.
        let mut on_v1 = Resources::default();
        on_v1.unified.insert("memory.high".into(), "1".into());
        let err = run_output(&*driver, &sleeper(on_v1)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unsupported, "{err}");
        assert!(err.to_string().contains("resources.unified"), "{err}");
    }
    let command = sleeper(resources);
    let cgroup = sleeping(&driver, &command);
    if unified() {
        assert_eq!(read_at(&cgroup, "cpu.max.burst"), "20000");
        assert_eq!(read_at(&cgroup, "cpu.idle"), "1");
        assert_eq!(read_at(&cgroup, "memory.high"), "49999872"); // page-aligned
    } else {
        assert_eq!(read_at(&cgroup, "memory.swappiness"), "10");
        assert!(
            read_at(&cgroup, "memory.oom_control").starts_with("oom_kill_disable 1"),
            "{}",
            read_at(&cgroup, "memory.oom_control")
        );
        assert_eq!(read_at(&cgroup, "cpu.cfs_burst_us"), "20000");
        assert_eq!(read_at(&cgroup, "cpu.idle"), "1");
    }
    driver.delete(&command.id, true).expect("delete");
}

#[test]
fn a_memory_limit_below_the_usage_is_refused_by_update_when_asked() {
    if !is_root() {
        return;
    }
    let driver = driver();
    let command = sleeper(Resources {
        memory_limit: Some(64 << 20),
        ..Resources::default()
    });
    let cgroup = sleeping(&driver, &command);
    let before = read_at(
        &cgroup,
        if unified() {
            "memory.max"
        } else {
            "memory.limit_in_bytes"
        },
    );
    let err = driver
        .update(
            &command.id,
            &Resources {
                memory_limit: Some(4096),
                memory_check_before_update: Some(true),
                ..Resources::default()
            },
        )
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    assert!(
        err.to_string().contains("memory_check_before_update"),
        "{err}"
    );
    let after = read_at(
        &cgroup,
        if unified() {
            "memory.max"
        } else {
            "memory.limit_in_bytes"
        },
    );
    assert_eq!(before, after);
    driver.delete(&command.id, true).expect("delete");
}

#[test]
fn block_io_throttles_reach_the_cgroup() {
    if !is_root() {
        return;
    }
    let Some((major, minor)) = a_disk() else {
        eprintln!("skipped: no disk in /sys/block");
        return;
    };
    let driver = driver();
    let throttle = |rate| vec![ThrottleDevice { major, minor, rate }];
    let command = sleeper(Resources {
        blkio_throttle_read_bps_device: throttle(1 << 20),
        blkio_throttle_write_iops_device: throttle(100),
        ..Resources::default()
    });
    let cgroup = sleeping(&driver, &command);
    let dev = format!("{major}:{minor}");
    if unified() {
        let max = read_at(&cgroup, "io.max");
        assert!(
            max.contains(&format!("{dev} rbps=1048576 wbps=max riops=max wiops=100")),
            "{max}"
        );
    } else {
        assert_eq!(
            read_at(&cgroup, "blkio.throttle.read_bps_device"),
            format!("{dev} 1048576")
        );
        assert_eq!(
            read_at(&cgroup, "blkio.throttle.write_iops_device"),
            format!("{dev} 100")
        );
    }
    // An update changes one and keeps the other.
    driver
        .update(
            &command.id,
            &Resources {
                blkio_throttle_read_bps_device: throttle(2 << 20),
                ..Resources::default()
            },
        )
        .expect("update");
    if unified() {
        let max = read_at(&cgroup, "io.max");
        assert!(
            max.contains("rbps=2097152") && max.contains("wiops=100"),
            "{max}"
        );
    } else {
        assert_eq!(
            read_at(&cgroup, "blkio.throttle.read_bps_device"),
            format!("{dev} 2097152")
        );
    }
    driver.delete(&command.id, true).expect("delete");
}

#[test]
fn huge_page_limits_are_written_or_refused_naming_the_field() {
    if !is_root() {
        return;
    }
    let driver = driver();
    let limit = |size: &str| Resources {
        hugepage_limits: vec![HugepageLimit {
            page_size: size.into(),
            limit: 0,
        }],
        ..Resources::default()
    };
    // A size this host lacks is invalid, naming it.
    let err = run_output(&*driver, &sleeper(limit("3MB"))).unwrap_err();
    if !manager().has_controller(Controller::Hugetlb) {
        assert_eq!(err.kind(), ErrorKind::Unsupported, "{err}");
        assert!(
            err.to_string().contains("resources.hugepage_limits"),
            "{err}"
        );
        return;
    }
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    assert!(
        err.to_string()
            .contains("resources.hugepage_limits[0].page_size: 3MB"),
        "{err}"
    );
    let command = sleeper(limit("2MB"));
    let cgroup = sleeping(&driver, &command);
    let file = if unified() {
        "hugetlb.2MB.max"
    } else {
        "hugetlb.2MB.limit_in_bytes"
    };
    assert_eq!(read_at(&cgroup, file), "0");
    driver.delete(&command.id, true).expect("delete");
}

/// A container with a tmpfs at /scratch (nodes may be made there) running `script`.
fn device_probe(
    driver: &TestDriver,
    rules: Vec<DeviceRule>,
    privileged: bool,
    script: &str,
) -> String {
    let mut command = shell("devices", script);
    command.mounts.push(Mount {
        source: None,
        destination: "/scratch".into(),
        kind: "tmpfs".into(),
        options: vec![],
        uid_mappings: None,
        gid_mappings: None,
    });
    command.device_cgroup_rules = rules;
    command.process.privileged = privileged;
    let out = run_output(&**driver, &command).expect("run");
    assert_eq!(out.status.code, 0, "{out:?}");
    out.stdout
}

#[test]
fn device_rules_are_read_in_order_with_their_denies() {
    if !is_root() {
        return;
    }
    let driver = driver();
    // loop0, which any host has, is no standard node: only the rules decide.
    let loop0 = |access| DeviceRule::block(Some(7), Some(0), access);
    let probe = "mknod /scratch/k b 7 0 && echo mknod-ok
                 true < /scratch/k 2>/dev/null && echo read-ok
                 (true > /scratch/k) 2>/dev/null && echo write-ok
                 true < /dev/null && echo null-ok";
    let deny_all = DeviceRule {
        allow: false,
        kind: 'a',
        major: None,
        minor: None,
        access: "rwm".into(),
    };
    // OCI's usual list: deny everything, then allow; the standard nodes stay usable.
    assert_eq!(
        device_probe(&driver, vec![deny_all.clone(), loop0("r")], false, probe),
        "mknod-ok\nread-ok\nnull-ok\n"
    );
    // Allowed, then read and write taken back: neither (making nodes is the default's).
    assert_eq!(
        device_probe(
            &driver,
            vec![loop0("rwm"), loop0("rw").denied()],
            false,
            probe
        ),
        "mknod-ok\nnull-ok\n"
    );
    // Allowed read and write: both.
    assert_eq!(
        device_probe(&driver, vec![loop0("rw")], false, probe),
        "mknod-ok\nread-ok\nwrite-ok\nnull-ok\n"
    );
    // Privileged: everything, but what its rules deny (here even making the node).
    assert_eq!(
        device_probe(
            &driver,
            vec![loop0("rwm").denied()],
            true,
            "mknod /scratch/k b 7 0 2>/dev/null && echo loop-ok
             mknod /scratch/z c 1 5 && head -c 1 /scratch/z >/dev/null && echo zero-ok"
        ),
        "zero-ok\n"
    );
    // A deny that would punch a hole in a wider allow is refused before anything runs.
    let err = run_output(
        &*driver,
        &Command {
            device_cgroup_rules: vec![DeviceRule::block(Some(7), None, "rwm"), loop0("r").denied()],
            ..shell("devices", "true")
        },
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    assert!(err.to_string().contains("device_cgroup_rules"), "{err}");
}

/// Removes the test's cgroup tree `top` from every hierarchy, deepest first.
struct Tree(String);

impl Drop for Tree {
    fn drop(&mut self) {
        for root in common::cgroup_roots() {
            remove_tree(&root.join(&self.0));
        }
    }
}

fn remove_tree(dir: &Path) {
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                remove_tree(&entry.path());
            }
        }
    }
    let _ = fs::remove_dir(dir);
}

#[test]
fn a_cgroup_path_is_used_exactly_reported_and_kept_across_recovery() {
    if !is_root() {
        return;
    }
    let top = format!("berth-test-cgpath-{}", std::process::id());
    let _tree = Tree(top.clone());
    let path = format!("{top}/pod/ctr-x");
    let base = std::env::var_os("BERTH_TEST_STATE_ROOT")
        .filter(|dir| !dir.is_empty())
        .map_or_else(|| PathBuf::from("/run"), PathBuf::from);
    let root = base.join(&top);
    let options = |keep| DriverOptions {
        root: Some(root.clone()),
        helper_path: Some(PathBuf::from(env!("CARGO_BIN_EXE_berth-init"))),
        keep_containers: keep,
        ..DriverOptions::default()
    };
    let mut command = shell("cgpath", "exec sleep 1000");
    command.cgroup_path = Some(path.clone());
    // With cgroup_parent too: invalid.
    let both = Command {
        cgroup_parent: Some("p".into()),
        ..command.clone()
    };
    let keeping = LinuxDriver::new(options(true)).expect("driver");
    let err = keeping
        .create(&both, &Stdio::null(), Arc::new(NoHooks))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(err.to_string().starts_with("invalid cgroup_path"), "{err}");

    keeping
        .create(&command, &Stdio::null(), Arc::new(NoHooks))
        .expect("create");
    keeping.start(&command.id).expect("start");
    let state = keeping.state(&command.id).expect("state");
    assert_eq!(state.cgroup_path, path);
    let procs = read_at(&path, "cgroup.procs");
    assert!(procs.lines().any(|p| p == state.pid.to_string()), "{procs}");
    drop(keeping);

    // A new driver takes it back at the same path, and its delete removes it.
    let next = LinuxDriver::new(options(false)).expect("driver");
    assert!(
        next.recovery_report().is_empty(),
        "{:?}",
        next.recovery_report()
    );
    assert_eq!(next.state(&command.id).expect("state").cgroup_path, path);
    next.update(
        &command.id,
        &Resources {
            pids_limit: Some(7),
            ..Resources::default()
        },
    )
    .expect("update");
    assert_eq!(read_at(&path, "pids.max"), "7");
    next.delete(&command.id, true).expect("delete");
    drop(next);
    let _ = fs::remove_dir(&root);
    for root in common::cgroup_roots() {
        assert!(!root.join(&path).exists(), "{}", root.join(&path).display());
    }
}

#[test]
fn an_existing_cgroup_is_joined_when_empty_and_refused_with_processes() {
    if !is_root() {
        return;
    }
    let top = format!("berth-test-cgexists-{}", std::process::id());
    let _tree = Tree(top.clone());
    let path = format!("{top}/made-before");
    for root in common::cgroup_roots() {
        fs::create_dir_all(root.join(&path)).expect("mkdir");
    }
    let driver = driver();
    let mut command = shell("cgexists", "cat /proc/self/cgroup >/dev/null; echo in");
    command.cgroup_path = Some(path.clone());
    let out = run_output(&*driver, &command).expect("run an empty existing cgroup");
    assert_eq!(out.stdout, "in\n");

    // With a process in it: refused, and the cgroup and its process left alone.
    for root in common::cgroup_roots() {
        fs::create_dir_all(root.join(&path)).expect("mkdir");
    }
    let mut sleep = std::process::Command::new("sleep")
        .arg("100")
        .spawn()
        .expect("spawn");
    let primary = common::cgroup_roots()
        .pop()
        .expect("a hierarchy")
        .join(&path);
    fs::OpenOptions::new()
        .write(true)
        .open(primary.join("cgroup.procs"))
        .and_then(|mut f| write!(f, "{}", sleep.id()))
        .expect("move sleep in");
    let mut busy = command.clone();
    busy.id = common::id("cgexists");
    let err = run_output(&*driver, &busy).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    assert!(err.to_string().contains("holds processes"), "{err}");
    assert!(primary.exists());
    let _ = sleep.kill();
    let _ = sleep.wait();
}

#[test]
fn real_time_cpu_time_is_given_on_v1_and_refused_on_v2() {
    if !is_root() {
        return;
    }
    let driver = driver();
    let rt = Resources {
        cpu_realtime_period: Some(1_000_000),
        cpu_realtime_runtime: Some(10_000),
        ..Resources::default()
    };
    if unified() || !manager().has_controller(Controller::Cpu) {
        let err = run_output(&*driver, &sleeper(rt)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unsupported, "{err}");
        assert!(err.to_string().contains("resources.cpu_realtime"), "{err}");
        return;
    }
    // The parent needs real-time time to give: the test's own, made with some.
    let top = format!("berth-test-rt-{}", std::process::id());
    let _tree = Tree(top.clone());
    let cpu = manager()
        .v1_mounts()
        .into_iter()
        .find(|(names, _)| names.split(',').any(|n| n == "cpu"))
        .map(|(_, mount)| mount.join(&top))
        .expect("the cpu hierarchy");
    fs::create_dir_all(&cpu).expect("mkdir");
    if fs::write(cpu.join("cpu.rt_runtime_us"), "20000").is_err() {
        eprintln!("skipped: the host gives no real-time time to cgroups");
        return;
    }
    // (The busybox image has no chrt to run a SCHED_FIFO task with.)
    let mut command = shell("rt", "exec sleep 1000");
    command.resources = rt;
    command.cgroup_path = Some(format!("{top}/rt"));
    let id = command.id.clone();
    driver
        .create(&command, &Stdio::null(), Arc::new(NoHooks))
        .expect("create");
    let cgroup = driver.state(&id).expect("state").cgroup_path;
    assert_eq!(read_at(&cgroup, "cpu.rt_period_us"), "1000000");
    assert_eq!(read_at(&cgroup, "cpu.rt_runtime_us"), "10000");
    driver.delete(&id, true).expect("delete");
}
