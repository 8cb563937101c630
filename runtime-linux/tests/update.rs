//! `update` against real containers: the limits of a created, running or paused container
//! change in its cgroup files and in `stats`, and take effect (a lowered pids limit stops
//! forks inside, a lowered memory limit OOM-kills a hog); a stopped container and invalid
//! values are refused before anything is written. On v1 (this host) and v2 (the VM lane).

mod common;

use std::fs;
use std::io::{BufReader, Write};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::sync::Arc;

use common::{driver, pipe, read_line, shell, TestDriver};
use runtime_core::{Command, Driver, ErrorKind, NoHooks, Resources, Status, Stdio};
use runtime_linux::cgroups::{CgroupManager, CgroupMode};

fn manager() -> CgroupManager {
    CgroupManager::detect().expect("detect cgroups")
}

fn unified() -> bool {
    manager().mode() == CgroupMode::Unified
}

/// The content of `file` in the container's cgroup, from the hierarchy that has it.
fn read(driver: &TestDriver, id: &str, file: &str) -> String {
    let relative = driver.state(id).expect("state").cgroup_path;
    let path: PathBuf = common::cgroup_roots()
        .into_iter()
        .map(|root| root.join(&relative).join(file))
        .find(|path| path.exists())
        .unwrap_or_else(|| panic!("no hierarchy has {relative}/{file}"));
    fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
        .trim()
        .to_string()
}

/// A container running `script` with stdin and stdout on pipes: the writer of its stdin and
/// the reader of its stdout.
fn launch(driver: &TestDriver, command: &Command) -> (fs::File, BufReader<fs::File>) {
    let (in_read, in_write) = pipe();
    let (out_read, out_write) = pipe();
    let stdio = Stdio {
        stdin: Some(in_read.as_raw_fd()),
        stdout: Some(out_write.as_raw_fd()),
        stderr: None,
        extra: Vec::new(),
    };
    driver
        .create(command, &stdio, Arc::new(NoHooks))
        .expect("create");
    driver.start(&command.id).expect("start");
    (
        fs::File::from(in_write),
        BufReader::new(fs::File::from(out_read)),
    )
}

fn sleeper(driver: &TestDriver, resources: Resources) -> String {
    let mut command = shell("sleeper", "exec sleep 1000");
    command.resources = resources;
    driver
        .create(&command, &Stdio::null(), Arc::new(NoHooks))
        .expect("create");
    driver.start(&command.id).expect("start");
    command.id
}

/// 64 MiB and 32 processes.
fn limited() -> Resources {
    Resources {
        memory_limit: Some(64 << 20),
        pids_limit: Some(32),
        ..Resources::default()
    }
}

#[test]
fn memory_pids_and_cpu_of_a_running_container_change_and_the_rest_stays() {
    let driver = driver();
    let id = sleeper(
        &driver,
        Resources {
            cpu_shares: Some(512),
            cpu_quota: Some(50_000),
            cpu_period: Some(100_000),
            ..limited()
        },
    );
    let v2 = unified();

    // Memory up, with memory+swap when the host accounts swap: on v1 memory+swap has to go
    // first, as the limit may never exceed it.
    let mut memory = Resources {
        memory_limit: Some(256 << 20),
        memory_swap: Some(512 << 20),
        ..Resources::default()
    };
    if manager().check(&memory).is_err() {
        memory.memory_swap = None;
    }
    driver.update(&id, &memory).expect("update memory");
    if v2 {
        assert_eq!(read(&driver, &id, "memory.max"), "268435456");
        if memory.memory_swap.is_some() {
            assert_eq!(read(&driver, &id, "memory.swap.max"), "268435456");
        }
    } else {
        assert_eq!(read(&driver, &id, "memory.limit_in_bytes"), "268435456");
        if memory.memory_swap.is_some() {
            assert_eq!(
                read(&driver, &id, "memory.memsw.limit_in_bytes"),
                "536870912"
            );
        }
    }
    // And down again, below the old values.
    memory.memory_limit = Some(48 << 20);
    memory.memory_swap = memory.memory_swap.map(|_| 64 << 20);
    driver.update(&id, &memory).expect("update memory down");
    // v1: a limit alone above memory+swap is refused before the kernel's EINVAL; v2 counts
    // swap apart from memory and takes it.
    let above = Resources {
        memory_limit: Some(128 << 20),
        ..Resources::default()
    };
    if memory.memory_swap.is_some() && !v2 {
        let err = driver.update(&id, &above).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
        assert!(
            err.to_string().contains("memory+swap limit 67108864"),
            "{err}"
        );
    }
    let stats = driver.stats(&id).expect("stats");
    assert_eq!(stats.memory.limit, Some(48 << 20));
    assert_eq!(stats.pids.limit, Some(32), "pids untouched");

    driver
        .update(
            &id,
            &Resources {
                pids_limit: Some(100),
                ..Resources::default()
            },
        )
        .expect("update pids");
    assert_eq!(read(&driver, &id, "pids.max"), "100");
    let stats = driver.stats(&id).expect("stats");
    assert_eq!(stats.pids.limit, Some(100));
    assert_eq!(stats.memory.limit, Some(48 << 20), "memory untouched");

    // CPU: shares and quota, then a period alone, which keeps the quota.
    let cpu = Resources {
        cpu_shares: Some(1024),
        cpu_quota: Some(20_000),
        ..Resources::default()
    };
    driver.update(&id, &cpu).expect("update cpu");
    let period = Resources {
        cpu_period: Some(50_000),
        ..Resources::default()
    };
    driver.update(&id, &period).expect("update the period");
    if v2 {
        assert_eq!(read(&driver, &id, "cpu.weight"), "39");
        assert_eq!(read(&driver, &id, "cpu.max"), "20000 50000");
    } else {
        assert_eq!(read(&driver, &id, "cpu.shares"), "1024");
        assert_eq!(read(&driver, &id, "cpu.cfs_quota_us"), "20000");
        assert_eq!(read(&driver, &id, "cpu.cfs_period_us"), "50000");
    }
    // A longer period with a larger quota in one update, then no quota at all.
    let both = Resources {
        cpu_quota: Some(400_000),
        cpu_period: Some(200_000),
        ..Resources::default()
    };
    driver.update(&id, &both).expect("update quota and period");
    let unlimited = Resources {
        cpu_quota: Some(-1),
        ..Resources::default()
    };
    driver.update(&id, &unlimited).expect("update quota -1");
    if v2 {
        assert_eq!(read(&driver, &id, "cpu.max"), "max 200000");
    } else {
        assert_eq!(read(&driver, &id, "cpu.cfs_quota_us"), "-1");
        assert_eq!(read(&driver, &id, "cpu.cfs_period_us"), "200000");
    }

    // cpuset: the first CPU of the host.
    let cpus = Resources {
        cpuset_cpus: Some("0".into()),
        ..Resources::default()
    };
    driver.update(&id, &cpus).expect("update cpuset");
    assert_eq!(read(&driver, &id, "cpuset.cpus"), "0");

    assert_eq!(driver.state(&id).unwrap().status, Status::Running);
    driver.delete(&id, true).unwrap();
}

/// On v1 the kernel checks a period against the quota in force and the parent's bandwidth,
/// so a shorter period is refused until the smaller quota that comes with it is written.
/// (v2 takes both in one `cpu.max` write, and caps a child by its parent instead.)
#[test]
fn a_shorter_period_and_a_smaller_quota_fit_under_a_limited_parent() {
    let driver = driver();
    let manager = manager();
    let (file, one_cpu) = if manager.mode() == CgroupMode::Unified {
        ("cpu.max", "100000 100000")
    } else {
        ("cpu.cfs_quota_us", "100000")
    };
    let id = sleeper(
        &driver,
        Resources {
            cpu_quota: Some(50_000),
            cpu_period: Some(100_000),
            ..Resources::default()
        },
    );
    // The parent exists now: one CPU for all of it.
    let parent = common::cgroup_roots()
        .into_iter()
        .map(|root| root.join(&driver.cgroup_parent).join(file))
        .find(|path| path.exists())
        .expect("the parent's cpu file");
    fs::write(&parent, one_cpu).unwrap();
    let period = Resources {
        cpu_period: Some(25_000),
        ..Resources::default()
    };
    match driver.update(&id, &period) {
        // 50000 per 25000 µs would be two CPUs under a parent of one.
        Err(err) if manager.mode() != CgroupMode::Unified => {
            assert_eq!(err.kind(), ErrorKind::System, "{err}");
            assert!(err.to_string().contains("cpu.cfs_period_us"), "{err}");
            assert!(err.to_string().contains("EINVAL"), "{err}");
        }
        Ok(()) if manager.mode() == CgroupMode::Unified => {}
        other => panic!("a period alone under a limited parent: {other:?}"),
    }
    let both = Resources {
        cpu_quota: Some(10_000),
        cpu_period: Some(25_000),
        ..Resources::default()
    };
    driver
        .update(&id, &both)
        .expect("a period and a quota that fit");
    if manager.mode() == CgroupMode::Unified {
        assert_eq!(read(&driver, &id, "cpu.max"), "10000 25000");
    } else {
        assert_eq!(read(&driver, &id, "cpu.cfs_quota_us"), "10000");
        assert_eq!(read(&driver, &id, "cpu.cfs_period_us"), "25000");
    }
    driver.delete(&id, true).unwrap();
}

#[test]
fn the_blkio_weight_changes_where_the_host_has_weights() {
    let driver = driver();
    let id = sleeper(&driver, Resources::default());
    let weight = Resources {
        blkio_weight: Some(300),
        ..Resources::default()
    };
    match manager().check(&weight) {
        Ok(()) => {
            driver.update(&id, &weight).expect("update blkio_weight");
            // The first file the container's cgroup has, as create picks it; v1 shows the
            // weight alone, v2 with "default".
            let (files, expected) = if unified() {
                (["io.bfq.weight", "io.weight"], "default 300")
            } else {
                (["blkio.weight", "blkio.bfq.weight"], "300")
            };
            let relative = driver.state(&id).unwrap().cgroup_path;
            let roots = common::cgroup_roots();
            let file = files
                .into_iter()
                .find(|file| {
                    roots
                        .iter()
                        .any(|root| root.join(&relative).join(file).exists())
                })
                .expect("a weight file");
            let got = read(&driver, &id, file);
            assert_eq!(got.lines().next(), Some(expected), "{file}: {got:?}");
        }
        Err(refused) => {
            eprintln!("no I/O weights here: {refused}");
            let err = driver.update(&id, &weight).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Unsupported, "{err}");
        }
    }
    driver.delete(&id, true).unwrap();
}

#[test]
fn a_created_and_a_paused_container_can_be_updated_a_stopped_one_cannot() {
    let driver = driver();
    let command = shell("created", "exec sleep 1000");
    driver
        .create(&command, &Stdio::null(), Arc::new(NoHooks))
        .unwrap();
    let id = command.id.as_str();
    let pids = |limit| Resources {
        pids_limit: Some(limit),
        ..Resources::default()
    };
    assert_eq!(driver.state(id).unwrap().status, Status::Created);
    driver.update(id, &pids(7)).expect("update a created one");
    assert_eq!(read(&driver, id, "pids.max"), "7");

    driver.start(id).unwrap();
    driver.pause(id).unwrap();
    driver.update(id, &pids(8)).expect("update a paused one");
    assert_eq!(read(&driver, id, "pids.max"), "8");
    assert_eq!(driver.state(id).unwrap().status, Status::Paused);
    driver.resume(id).unwrap();
    assert_eq!(driver.state(id).unwrap().status, Status::Running);

    driver.kill(id, libc::SIGKILL, false).unwrap();
    driver.wait(id).unwrap();
    let err = driver.update(id, &pids(9)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidState, "{err}");
    assert_eq!(
        err.to_string(),
        format!("container {id:?} is stopped: cannot update the resources of")
    );
    driver.delete(id, false).unwrap();
    let err = driver.update(id, &pids(9)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
}

#[test]
fn invalid_values_are_refused_before_anything_is_written() {
    let driver = driver();
    let id = sleeper(&driver, limited());
    let online = fs::read_to_string("/sys/devices/system/cpu/online").unwrap();
    let last: u32 = online
        .trim()
        .rsplit(['-', ','])
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let memory_file = if unified() {
        "memory.max"
    } else {
        "memory.limit_in_bytes"
    };
    let before = (
        read(&driver, &id, "pids.max"),
        read(&driver, &id, memory_file),
    );
    let valid = || Resources {
        pids_limit: Some(5),
        memory_limit: Some(128 << 20),
        ..Resources::default()
    };
    for (what, invalid) in [
        (
            "cpu_shares 1",
            Resources {
                cpu_shares: Some(1),
                ..valid()
            },
        ),
        (
            "pids_limit 0",
            Resources {
                pids_limit: Some(0),
                ..valid()
            },
        ),
        (
            "swap below the limit",
            Resources {
                memory_swap: Some(1 << 20),
                ..valid()
            },
        ),
        (
            "swap without a limit",
            Resources {
                memory_limit: None,
                memory_swap: Some(1 << 30),
                ..valid()
            },
        ),
        (
            "cpuset of a CPU the host lacks",
            Resources {
                cpuset_cpus: Some((last + 1).max(7).to_string()),
                ..valid()
            },
        ),
        (
            "blkio_weight 5",
            Resources {
                blkio_weight: Some(5),
                ..valid()
            },
        ),
    ] {
        let err = driver.update(&id, &invalid).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{what}: {err}");
        assert!(err.to_string().contains("resources."), "{what}: {err}");
        assert_eq!(
            (
                read(&driver, &id, "pids.max"),
                read(&driver, &id, memory_file)
            ),
            before,
            "{what} wrote something"
        );
    }
    driver.delete(&id, true).unwrap();
}

/// Forks 40 sleepers in a subshell (busybox sh exits when a fork fails) and prints how many
/// processes the container then has, counted with builtins only.
const FORK_40: &str =
    "(for i in $(seq 1 40); do sleep 1000 & done) 2>/dev/null; set -- /proc/[0-9]*; echo $#";

#[test]
fn a_lowered_pids_limit_stops_forks_inside_and_a_raised_one_lets_them_go_on() {
    let driver = driver();
    let mut command = shell(
        "pids",
        &format!("echo ready; read a; {FORK_40}; read a; {FORK_40}; read a"),
    );
    command.resources = Resources {
        pids_limit: Some(100),
        ..Resources::default()
    };
    let id = command.id.clone();
    let (mut stdin, mut stdout) = launch(&driver, &command);
    assert_eq!(read_line(&mut stdout), "ready");
    let pids = |limit| Resources {
        pids_limit: Some(limit),
        ..Resources::default()
    };

    driver.update(&id, &pids(8)).expect("lower the pids limit");
    writeln!(stdin, "go").unwrap();
    let count: u32 = read_line(&mut stdout).parse().expect("a count");
    assert!(
        (2..=8).contains(&count),
        "{count} processes under a limit lowered to 8"
    );

    driver.update(&id, &pids(-1)).expect("lift the pids limit");
    assert_eq!(read(&driver, &id, "pids.max"), "max");
    writeln!(stdin, "go").unwrap();
    let count: u32 = read_line(&mut stdout).parse().expect("a count");
    assert!(count >= 40, "{count} processes once the limit is lifted");
    let current = driver.stats(&id).unwrap().pids.current.unwrap_or(0);
    assert!(current >= 40, "pids.current {current}");
    driver.delete(&id, true).unwrap();
}

#[test]
fn a_lowered_memory_limit_oom_kills_a_hog() {
    let _serial = common::serial();
    let driver = driver();
    // Builtins only: the shell is the one process that grows. Without the update it would
    // reach 2^28 bytes and say so.
    let mut command = shell(
        "hog",
        "echo ready; read a; a=x; i=0; while [ $i -lt 28 ]; do a=$a$a; i=$((i+1)); done; \
         echo survived",
    );
    command.resources = Resources {
        memory_limit: Some(1 << 30),
        ..Resources::default()
    };
    let id = command.id.clone();
    let (mut stdin, mut stdout) = launch(&driver, &command);
    assert_eq!(read_line(&mut stdout), "ready");
    driver
        .update(
            &id,
            &Resources {
                memory_limit: Some(32 << 20),
                ..Resources::default()
            },
        )
        .expect("lower the memory limit");
    writeln!(stdin, "go").unwrap();
    let status = driver.wait(&id).unwrap();
    assert_eq!(read_line(&mut stdout), "", "no survivor");
    assert!(status.oom_killed, "{status:?}");
    assert_eq!(status.code, 137, "{status:?}");
    driver.delete(&id, false).unwrap();
}
