//! Recovery: a new driver on the same root takes back the containers an earlier one left.
//!
//! The binary has its own harness: run with `BERTH_RECOVERY_CHILD` set, it is the child
//! process that creates a container and waits to be SIGKILLed.

mod common;

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::Stdio as ProcessStdio;
use std::sync::Arc;

use runtime_core::{Driver, ExitStatus, NoHooks, ProcessConfig, Status, Stdio};
use runtime_linux::{DriverOptions, LinuxDriver};

const CHILD: &str = "BERTH_RECOVERY_CHILD";

fn options(root: &Path, parent: &str) -> DriverOptions {
    DriverOptions {
        root: Some(root.to_path_buf()),
        helper_path: Some(PathBuf::from(env!("CARGO_BIN_EXE_berth-init"))),
        cgroup_parent: Some(parent.to_string()),
        ..DriverOptions::default()
    }
}

fn names(pid_suffix: &str) -> (PathBuf, String) {
    let name = format!("berth-test-recovery-{}-{pid_suffix}", std::process::id());
    let base = std::env::var_os("BERTH_TEST_STATE_ROOT")
        .filter(|d| !d.is_empty())
        .map_or_else(|| PathBuf::from("/run"), PathBuf::from);
    (base.join(&name), name)
}

/// The child: creates and starts a sleeping container, says its id, and waits to die.
fn child(root: &str) {
    let parent = std::env::var("BERTH_RECOVERY_PARENT").unwrap();
    let driver = LinuxDriver::new(options(Path::new(root), &parent)).unwrap();
    let mut command = common::shell("survivor", "sleep 1000");
    command.resources.memory_limit = Some(64 << 20);
    driver
        .create(&command, &Stdio::null(), Arc::new(NoHooks))
        .unwrap();
    driver.start(&command.id).unwrap();
    println!("{}", command.id);
    std::mem::forget(driver); // a SIGKILL runs no destructor either
    loop {
        std::thread::park();
    }
}

fn a_new_driver_takes_back_a_container_whose_host_was_killed() {
    let (root, parent) = names("adopt");
    let mut host = std::process::Command::new(std::env::current_exe().unwrap())
        .env(CHILD, &root)
        .env("BERTH_RECOVERY_PARENT", &parent)
        .stdout(ProcessStdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(host.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let id = line.trim().to_string();
    assert!(!id.is_empty(), "the child printed no id");
    host.kill().unwrap(); // SIGKILL
    host.wait().unwrap();

    let driver = LinuxDriver::new(options(&root, &parent)).unwrap();
    assert!(
        driver.recovery_report().is_empty(),
        "{:?}",
        driver.recovery_report()
    );
    let state = driver.state(&id).unwrap();
    assert_eq!(state.status, Status::Running);
    let pid = state.pid;
    assert!(Path::new(&format!("/proc/{pid}")).exists());
    assert_eq!(driver.list().unwrap().len(), 1);

    let status = driver
        .exec(
            &id,
            &ProcessConfig::new(["/bin/sh", "-c", "exit 6"]),
            &Stdio::null(),
            Arc::new(NoHooks),
        )
        .unwrap();
    assert_eq!(status, ExitStatus::exited(6));
    assert!(driver.stats(&id).unwrap().memory.limit == Some(64 << 20));
    driver.pause(&id).unwrap();
    driver.resume(&id).unwrap();

    driver.kill(&id, libc::SIGKILL, false).unwrap();
    // Not the new driver's child: the kernel gives the status to its real parent. What berth
    // reports instead is exactly this.
    assert_eq!(driver.wait(&id).unwrap(), ExitStatus::unknown());
    driver.delete(&id, false).unwrap();

    assert!(driver.list().unwrap().is_empty());
    assert_eq!(
        std::fs::read_dir(&root).unwrap().count(),
        0,
        "state left behind"
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    while Path::new(&format!("/proc/{pid}")).exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "process left behind"
    );
    drop(driver);
    assert_no_cgroups(&parent);
    std::fs::remove_dir(&root).unwrap();
}

fn a_corrupt_or_half_written_state_file_is_reported_and_skipped() {
    let (root, parent) = names("corrupt");
    std::fs::create_dir_all(root.join("broken")).unwrap();
    std::fs::write(
        root.join("broken/state.json"),
        "{\"id\": \"broken\", \"pid\": ",
    )
    .unwrap();
    std::fs::create_dir_all(root.join("halfway")).unwrap();
    std::fs::write(root.join("halfway/state.json.tmp"), "{").unwrap();

    let driver = LinuxDriver::new(options(&root, &parent)).unwrap();
    let report = driver.recovery_report().join("\n");
    assert!(report.contains("broken: unreadable state"), "{report}");
    assert!(report.contains("halfway: unreadable state"), "{report}");
    assert!(driver.list().unwrap().is_empty());
    // Left as found, for a person to look at.
    assert!(root.join("broken/state.json").exists());
    // And the driver works.
    let out = common::run_output(&driver, &common::shell("after", "exit 2")).unwrap();
    assert_eq!(out.status.code, 2);
    drop(driver);
    std::fs::remove_dir_all(&root).unwrap();
    assert_no_cgroups(&parent);
}

fn a_reused_pid_is_treated_as_gone_and_never_signalled() {
    let (root, parent) = names("reused");
    // A process that is not the container: its start time differs from the recorded one.
    let mut bystander = std::process::Command::new("sleep")
        .arg("100")
        .spawn()
        .unwrap();
    let dir = root.join("stale");
    std::fs::create_dir_all(&dir).unwrap();
    let state = serde_json::json!({
        "id": "stale", "pid": bystander.id(), "pid_start_time": 1, "status": "running",
        "created": "2026-01-01T00:00:00.000000000Z", "cgroup_path": format!("{parent}/stale"),
        "rootfs": common::rootfs(),
    });
    std::fs::write(dir.join("state.json"), state.to_string()).unwrap();

    let driver = LinuxDriver::new(options(&root, &parent)).unwrap();
    assert_eq!(
        driver.recovery_report(),
        ["stale: no longer running; cleaned up"]
    );
    assert!(driver.list().unwrap().is_empty());
    assert!(!dir.exists());
    assert!(
        bystander.try_wait().unwrap().is_none(),
        "the bystander was signalled"
    );
    bystander.kill().unwrap();
    bystander.wait().unwrap();
    drop(driver);
    std::fs::remove_dir(&root).unwrap();
}

fn assert_no_cgroups(parent: &str) {
    for hierarchy in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
        let dir = hierarchy.path().join(parent);
        if dir.exists() {
            let children: Vec<_> = std::fs::read_dir(&dir)
                .unwrap()
                .flatten()
                .filter(|e| e.path().is_dir())
                .map(|e| e.path())
                .collect();
            assert!(children.is_empty(), "cgroups left behind: {children:?}");
            let _ = std::fs::remove_dir(&dir);
        }
    }
}

fn main() {
    if let Ok(root) = std::env::var(CHILD) {
        child(&root);
        return;
    }
    let tests: [(&str, fn()); 3] = [
        (
            "a_new_driver_takes_back_a_container_whose_host_was_killed",
            a_new_driver_takes_back_a_container_whose_host_was_killed,
        ),
        (
            "a_corrupt_or_half_written_state_file_is_reported_and_skipped",
            a_corrupt_or_half_written_state_file_is_reported_and_skipped,
        ),
        (
            "a_reused_pid_is_treated_as_gone_and_never_signalled",
            a_reused_pid_is_treated_as_gone_and_never_signalled,
        ),
    ];
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let (mut passed, mut failed) = (0, 0);
    for (name, test) in tests {
        if !filter.is_empty() && !filter.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        match std::panic::catch_unwind(test) {
            Ok(()) => {
                println!("test {name} ... ok");
                passed += 1;
            }
            Err(_) => {
                println!("test {name} ... FAILED");
                failed += 1;
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    if failed > 0 {
        std::process::exit(101);
    }
}
