//! The state machine across separate processes, as a shim drives it: `create` exits with the
//! init waiting, a later `start` lets it run, `state` tells each status from disk and
//! `/proc`, the shim (this test, a child subreaper) reaps the init, and `delete` leaves
//! nothing behind.

mod common;

use std::fs;

use common::{alive, eventually, reap, Cli};

#[test]
fn create_start_state_kill_delete_across_processes() {
    let cli = Cli::new("machine");
    let id = common::unique("m");
    let bundle = cli.bundle(&id, &["sleep", "100"]);
    let pid = cli.ok_with_pid(&["create", "--bundle", bundle.path(), &id]);
    // The creating process is gone; the init waits, our child now.
    let state = cli.state(&id);
    assert_eq!(state["status"], "created");
    assert_eq!(state["pid"], pid);
    assert_eq!(state["id"], id.as_str());
    assert_eq!(state["bundle"], bundle.path());
    assert_eq!(state["ociVersion"], "1.2.0");
    assert!(alive(pid));
    let ppid = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let ppid: i32 = ppid
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        ppid as u32,
        std::process::id(),
        "the subreaper is the init's parent"
    );

    let error = cli.fails(&["delete", "--force=false", "nonexistent-id"]);
    assert!(error.contains("does not exist"), "{error}");
    cli.ok(&["start", &id]);
    assert_eq!(cli.status(&id), "running");
    let error = cli.fails(&["start", &id]);
    assert!(error.contains("already running"), "{error}");
    let error = cli.fails(&["delete", &id]);
    assert!(error.contains("not stopped"), "{error}");

    cli.ok(&["pause", &id]);
    assert_eq!(cli.status(&id), "paused");
    cli.ok(&["resume", &id]);
    assert_eq!(cli.status(&id), "running");

    cli.ok(&["kill", &id, "KILL"]);
    assert_eq!(reap(pid), 128 + 9);
    assert_eq!(cli.status(&id), "stopped");
    assert_eq!(cli.state(&id)["pid"], 0);
    let error = cli.fails(&["kill", &id]);
    assert!(error.contains("not running"), "{error}");
    cli.ok(&["delete", &id]);
    let error = cli.fails(&["state", &id]);
    assert!(error.contains("does not exist"), "{error}");
    assert_eq!(cli.leftovers(), Vec::<String>::new());
}

#[test]
fn a_created_container_is_deleted_without_force_and_its_init_dies() {
    let cli = Cli::new("created-delete");
    let id = common::unique("cd");
    let bundle = cli.bundle(&id, &["sleep", "100"]);
    let pid = cli.ok_with_pid(&["create", "-b", bundle.path(), &id]);
    cli.ok(&["delete", &id]);
    assert_eq!(reap(pid), 128 + 9);
    assert_eq!(cli.leftovers(), Vec::<String>::new());
}

#[test]
fn the_exit_of_the_program_is_the_shims_to_reap_and_state_says_stopped() {
    let cli = Cli::new("exit");
    let id = common::unique("ex");
    let bundle = cli.bundle(&id, &["sh", "-c", "exit 7"]);
    let pid = cli.ok_with_pid(&["create", "--bundle", bundle.path(), &id]);
    cli.ok(&["start", &id]);
    assert_eq!(reap(pid), 7);
    assert_eq!(cli.status(&id), "stopped");
    // A stopped container is deleted without force, and a forced delete of what is gone is fine.
    cli.ok(&["delete", &id]);
    cli.ok(&["delete", "--force", &id]);
    assert_eq!(cli.leftovers(), Vec::<String>::new());
}

#[test]
fn run_in_the_foreground_gives_the_exit_code_and_cleans_up() {
    let cli = Cli::new("run");
    let id = common::unique("run");
    let bundle = cli.bundle(&id, &["sh", "-c", "echo out; echo err >&2; exit 3"]);
    let out = cli.run(&["run", "--bundle", bundle.path(), &id]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "out\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "err\n");
    assert_eq!(cli.leftovers(), Vec::<String>::new());
}

#[test]
fn run_detached_returns_at_once_and_the_container_runs_on() {
    let cli = Cli::new("run-d");
    let id = common::unique("rd");
    let bundle = cli.bundle(&id, &["sleep", "100"]);
    let pid = cli.ok_with_pid(&["run", "-d", "--bundle", bundle.path(), &id]);
    assert_eq!(cli.status(&id), "running");
    let list: serde_json::Value =
        serde_json::from_str(&cli.ok(&["list", "--format", "json"])).unwrap();
    assert_eq!(list[0]["id"], id.as_str());
    assert_eq!(list[0]["status"], "running");
    let table = cli.ok(&["list"]);
    assert!(table.starts_with("ID"), "{table}");
    assert!(table.contains(&id), "{table}");
    assert_eq!(cli.ok(&["list", "-q"]).trim(), id);
    cli.ok(&["delete", "--force", &id]);
    assert_eq!(reap(pid), 128 + 9);
    assert!(!alive(pid));
    assert_eq!(cli.leftovers(), Vec::<String>::new());
}

#[test]
fn two_creates_of_one_id_conflict_and_a_bad_bundle_leaves_nothing() {
    let cli = Cli::new("conflict");
    let id = common::unique("c");
    let bundle = cli.bundle(&id, &["sleep", "100"]);
    let pid = cli.ok_with_pid(&["create", "-b", bundle.path(), &id]);
    let error = cli.fails(&["create", "-b", bundle.path(), &id]);
    assert!(error.contains("exists"), "{error}");
    cli.ok(&["delete", "--force", &id]);
    reap(pid);

    let mut bad = cli.bundle("bad", &["true"]);
    bad.config["process"]["cwd"] = serde_json::json!("relative");
    bad.save();
    let error = cli.fails(&["create", "-b", bad.path(), "bad"]);
    assert!(error.contains("cwd"), "{error}");
    let error = cli.fails(&["create", "-b", "/nonexistent-bundle", "bad2"]);
    assert!(error.contains("/nonexistent-bundle"), "{error}");
    assert_eq!(cli.leftovers(), Vec::<String>::new());
}

#[test]
fn kill_all_reaches_every_process_of_the_container() {
    let cli = Cli::new("kill-all");
    let id = common::unique("ka");
    let bundle = cli.bundle(
        &id,
        &["sh", "-c", "trap '' TERM; sleep 100 & sleep 100 & wait"],
    );
    let pid = cli.ok_with_pid(&["run", "-d", "-b", bundle.path(), &id]);
    let mut pids: Vec<i32> = Vec::new();
    eventually("three processes", || {
        pids = serde_json::from_str(&cli.ok(&["ps", "--format", "json", &id])).unwrap();
        pids.len() == 3
    });
    assert!(pids.contains(&pid), "{pids:?}");
    let table = cli.ok(&["ps", &id]);
    assert!(table.lines().next().unwrap().contains("PID"), "{table}");
    assert_eq!(table.lines().count(), 4, "{table}");
    // The init ignores TERM; --all sends KILL to each process of the cgroup.
    cli.ok(&["kill", "--all", &id, "9"]);
    assert_eq!(reap(pid), 128 + 9);
    for pid in pids {
        eventually("every process gone", || !alive(pid));
    }
    cli.ok(&["delete", &id]);
    assert_eq!(cli.leftovers(), Vec::<String>::new());
}

#[test]
fn the_lock_serialises_two_invocations_on_one_container() {
    use nix::fcntl::{Flock, FlockArg};
    let cli = Cli::new("lock");
    let id = common::unique("l");
    let bundle = cli.bundle(&id, &["sleep", "100"]);
    let pid = cli.ok_with_pid(&["create", "-b", bundle.path(), &id]);
    let lock_path = cli.root.join(&id).join("lock");
    let held = Flock::lock(fs::File::open(&lock_path).unwrap(), FlockArg::LockExclusive).unwrap();
    let mut waiting = cli
        .command(&["start", &id])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert!(
        waiting.try_wait().unwrap().is_none(),
        "start went on while the lock was held"
    );
    assert_eq!(cli.status(&id), "created", "state is read without the lock");
    drop(held);
    assert!(waiting.wait().unwrap().success());
    assert_eq!(cli.status(&id), "running");
    cli.ok(&["delete", "-f", &id]);
    reap(pid);
}
