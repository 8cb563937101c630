//! The event side of the driver: OOM events, exits collected by the supervisor, pause and
//! resume, stats, clean-up of what a container leaves, slow hooks, and scale.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{driver, read_line, run_output_with, shell, start_with_stdout, Recorder};
use runtime_core::{
    Driver, ErrorKind, ExitStatus, Hooks, Mount, NamespaceMode, NoHooks, Resources, Status, Stdio,
};

fn limited(name: &str, script: &str, memory: i64) -> runtime_core::Command {
    let mut command = shell(name, script);
    command.resources = Resources {
        memory_limit: Some(memory),
        ..Resources::default()
    };
    command
}

/// Holds a string of `bytes` in the shell's memory (command substitution keeps it whole).
fn hog(bytes: u64) -> String {
    format!("a=$(head -c {bytes} /dev/zero | tr '\\0' x)")
}

/// Doubles a string in the shell's memory until the OOM killer comes, with builtins only:
/// the shell is the only process that grows, so it is the one (and only one) killed. (With
/// `hog`, `head` and `tr` live beside it, and under load the killer sometimes took one of
/// them as well, or the main shell instead of a child.)
const LONE_HOG: &str = "a=x; while :; do a=$a$a; done";

#[test]
fn an_oom_kill_of_the_main_process_fires_on_oom_and_sets_oom_killed() {
    let _serial = common::serial();
    let driver = driver();
    let hooks = Arc::new(Recorder::default());
    let command = limited("oom-main", &format!("{LONE_HOG}; echo survived"), 32 << 20);
    let out = run_output_with(&driver, &command, hooks.clone()).unwrap();
    assert_eq!(
        (out.status.code, out.status.oom_killed),
        (137, true),
        "{out:?}"
    );
    assert_eq!(*hooks.ooms.lock().unwrap(), vec![command.id.clone()]);
    assert_eq!(*hooks.log.lock().unwrap(), ["start", "oom", "exit"]);
}

#[test]
fn an_oom_kill_of_a_child_is_reported_while_the_main_process_lives_on() {
    let _serial = common::serial();
    let driver = driver();
    let hooks = Arc::new(Recorder::default());
    // The child holds the memory and asks to be the OOM killer's first pick (raising one's
    // own oom_score_adj needs no privilege); the main shell then waits for the hook to have
    // been seen (it cannot know; it just outlives it) and exits with 3. Escaped, so that the
    // child shell expands (and holds) the string, not the main one.
    let script = format!(
        "sh -c \"echo 1000 > /proc/self/oom_score_adj; {}\"; echo child-gone; sleep 1; exit 3",
        LONE_HOG.replace('$', "\\$")
    );
    let command = limited("oom-child", &script, 32 << 20);
    let mut stdout = start_with_stdout(&driver, &command, hooks.clone());
    assert_eq!(read_line(&mut stdout), "child-gone");
    // on_oom came while the container was still running.
    let deadline = Instant::now() + Duration::from_secs(1);
    while hooks.ooms.lock().unwrap().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(driver.state(&command.id).unwrap().status, Status::Running);
    assert_eq!(hooks.ooms.lock().unwrap().len(), 1, "on_oom while running");
    let status = driver.wait(&command.id).unwrap();
    assert_eq!(
        (status.code, status.signal, status.oom_killed),
        (3, None, true)
    );
    driver.delete(&command.id, false).unwrap();
}

#[test]
fn no_oom_means_oom_killed_false_and_no_hook() {
    let _serial = common::serial();
    let driver = driver();
    let hooks = Arc::new(Recorder::default());
    let command = limited("no-oom", &format!("{}; exit 0", hog(4 << 20)), 64 << 20);
    let out = run_output_with(&driver, &command, hooks.clone()).unwrap();
    assert_eq!(out.status, ExitStatus::exited(0));
    assert!(hooks.ooms.lock().unwrap().is_empty());
}

#[test]
fn a_paused_container_stops_counting_and_a_resumed_one_goes_on() {
    let _serial = common::serial();
    let driver = driver();
    let dir = std::env::temp_dir().join(format!("berth-pause-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut command = shell(
        "pause",
        "i=0; while true; do i=$((i+1)); echo $i > /out/count; sleep 0.01; done",
    );
    command.mounts.push(Mount {
        source: Some(dir.display().to_string()),
        destination: "/out".into(),
        kind: "bind".into(),
        options: vec![],
        uid_mappings: None,
        gid_mappings: None,
    });
    let count = || -> u64 {
        std::fs::read_to_string(dir.join("count"))
            .ok()
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or(0)
    };
    driver
        .create(&command, &Stdio::null(), Arc::new(NoHooks))
        .unwrap();
    assert_eq!(
        driver.pause(&command.id).unwrap_err().kind(),
        ErrorKind::InvalidState
    );
    driver.start(&command.id).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while count() < 3 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    driver.pause(&command.id).unwrap();
    assert_eq!(driver.state(&command.id).unwrap().status, Status::Paused);
    assert_eq!(
        driver.pause(&command.id).unwrap_err().kind(),
        ErrorKind::InvalidState
    );
    let frozen = count();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(count(), frozen, "a paused container must not advance");
    driver.resume(&command.id).unwrap();
    assert_eq!(driver.state(&command.id).unwrap().status, Status::Running);
    assert_eq!(
        driver.resume(&command.id).unwrap_err().kind(),
        ErrorKind::InvalidState
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while count() <= frozen + 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(count() > frozen + 2, "a resumed container must advance");
    // A paused container can still be deleted.
    driver.pause(&command.id).unwrap();
    driver.delete(&command.id, true).unwrap();
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn stats_match_what_the_container_did() {
    let _serial = common::serial();
    let driver = driver();
    // Burn 250 ms of CPU with builtins only (no fork), then hold 20 MiB.
    let script = format!(
        "while :; do read -r _ _ _ _ _ _ _ _ _ _ _ _ _ u s _ < /proc/$$/stat; \
         [ $((u + s)) -ge 25 ] && break; done; {}; sleep 100 & echo ready; wait; : \"$a\"",
        hog(20 << 20)
    );
    let mut command = limited("stats", &script, 256 << 20);
    command.resources.pids_limit = Some(50);
    let mut stdout = start_with_stdout(&driver, &command, Arc::new(NoHooks));
    assert_eq!(read_line(&mut stdout), "ready");
    let stats = driver.stats(&command.id).unwrap();
    let memory = stats.memory.usage.expect("memory usage");
    assert!(
        memory >= 20 << 20,
        "memory usage {memory} < 20 MiB: {stats:?}"
    );
    assert_eq!(stats.memory.limit, Some(256 << 20), "{stats:?}");
    assert!(
        stats.memory.max_usage.unwrap_or(u64::MAX) >= memory,
        "{stats:?}"
    );
    let cpu = stats.cpu.total_ns.expect("cpu usage");
    assert!(cpu >= 150_000_000, "cpu usage {cpu} ns < 150 ms: {stats:?}");
    assert!(
        stats.cpu.user_ns.is_some() && stats.cpu.system_ns.is_some(),
        "{stats:?}"
    );
    let pids = stats.pids.current.expect("pids");
    assert!((2..=5).contains(&pids), "{stats:?}");
    assert_eq!(stats.pids.limit, Some(50));
    // JSON is the form the C ABI hands out.
    let json = serde_json::to_value(&stats).unwrap();
    assert!(json["memory"]["usage"].as_u64().unwrap() >= 20 << 20);
    driver.delete(&command.id, true).unwrap();
    let err = driver.stats(&command.id).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
}

#[test]
fn without_a_private_pid_namespace_the_main_exit_takes_its_children_along() {
    let _serial = common::serial();
    let driver = driver();
    let mut command = shell("hostpid", "sleep 1000 & echo $!; exit 4");
    command.namespaces.pid = NamespaceMode::Host;
    let out = common::run_output(&driver, &command).unwrap();
    assert_eq!(out.status.code, 4);
    let orphan: i32 = out.stdout.trim().parse().unwrap();
    // Killed with the cgroup; once the host's init has reaped it, the pid is gone.
    let deadline = Instant::now() + Duration::from_secs(2);
    let alive = || {
        std::fs::read_to_string(format!("/proc/{orphan}/stat"))
            .is_ok_and(|stat| !stat.contains(") Z") && stat.contains("(sleep)"))
    };
    while alive() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(!alive(), "sleep {orphan} outlived its container");
}

#[test]
fn kill_all_reaches_processes_that_ignore_the_signal_to_the_init() {
    let _serial = common::serial();
    let driver = driver();
    let command = shell("killall", "trap '' TERM; sleep 1000 & wait");
    driver
        .create(&command, &Stdio::null(), Arc::new(NoHooks))
        .unwrap();
    driver.start(&command.id).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    driver.kill(&command.id, libc::SIGTERM, false).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(driver.state(&command.id).unwrap().status, Status::Running);
    driver.kill(&command.id, libc::SIGKILL, true).unwrap();
    assert_eq!(
        driver.wait(&command.id).unwrap().signal,
        Some(libc::SIGKILL)
    );
    driver.delete(&command.id, false).unwrap();
}

struct SlowExit(Duration);

impl Hooks for SlowExit {
    fn on_exit(&self, _id: &str, _status: &ExitStatus) {
        std::thread::sleep(self.0);
    }
}

#[test]
fn a_slow_hook_does_not_stall_other_containers() {
    let _serial = common::serial();
    let driver = driver();
    let slow = shell("slow-hook", "exit 0");
    driver
        .create(
            &slow,
            &Stdio::null(),
            Arc::new(SlowExit(Duration::from_secs(3))),
        )
        .unwrap();
    driver.start(&slow.id).unwrap();
    std::thread::sleep(Duration::from_millis(100)); // its on_exit is now sleeping
    let begun = Instant::now();
    for i in 0..5 {
        let out = common::run_output(&driver, &shell("fast", &format!("exit {i}"))).unwrap();
        assert_eq!(out.status.code, i);
    }
    let took = begun.elapsed();
    assert!(
        took < Duration::from_secs(2),
        "5 runs took {took:?} behind a slow hook"
    );
    assert_eq!(driver.state(&slow.id).unwrap().status, Status::Stopped);
    // wait on the slow one returns once its own hook has.
    driver.wait(&slow.id).unwrap();
    driver.delete(&slow.id, false).unwrap();
    eprintln!("5 runs behind a 3 s on_exit hook took {took:?}");
}

#[test]
fn two_hundred_containers_share_one_supervisor_thread() {
    let _serial = common::serial();
    const COUNT: usize = 200;
    let driver = Arc::new(driver());
    let before = common::leftovers(&driver);
    // The driver's own watches (on cgroup v2, its shared OOM inotify instance).
    let own_watches = driver.watched_fds();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let driver = driver.clone();
            std::thread::spawn(move || {
                (0..COUNT / 4)
                    .map(|i| {
                        let mut command = shell(&format!("scale-{t}"), "exec sleep 1000");
                        command.resources.memory_limit = Some(16 << 20);
                        driver
                            .create(&command, &Stdio::null(), Arc::new(NoHooks))
                            .unwrap();
                        driver.start(&command.id).unwrap();
                        let _ = i;
                        command.id
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let ids: Vec<String> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    assert_eq!(ids.len(), COUNT);
    let supervisors = std::fs::read_dir("/proc/self/task")
        .unwrap()
        .flatten()
        .filter(|task| {
            std::fs::read_to_string(task.path().join("comm"))
                .is_ok_and(|comm| comm.trim() == runtime_linux::supervisor::THREAD_NAME)
        })
        .count();
    // One per driver alive in this process: this test's, plus any other test's running now.
    assert!(supervisors >= 1);
    assert!(
        driver.thread_count() <= 2,
        "the supervisor and at most one event worker: {}",
        driver.thread_count()
    );
    // Per container its pidfd, and on cgroup v1 its OOM eventfd (v2 shares one inotify).
    let watched = driver.watched_fds();
    assert!(
        (COUNT..=2 * COUNT + 1).contains(&watched),
        "{watched} fds watched"
    );
    for id in &ids {
        let state = driver.state(id).unwrap();
        assert_eq!(state.status, Status::Running, "{id}");
    }
    assert_eq!(driver.list().unwrap().len(), COUNT);
    let begun = Instant::now();
    for id in &ids {
        driver.kill(id, libc::SIGKILL, false).unwrap();
    }
    for id in &ids {
        assert_eq!(driver.wait(id).unwrap().signal, Some(9));
        driver.delete(id, false).unwrap();
    }
    eprintln!(
        "killed and deleted {COUNT} containers in {:?}",
        begun.elapsed()
    );
    assert_eq!(driver.watched_fds(), own_watches);
    let after = common::leftovers(&driver);
    assert_eq!(before.cgroups, after.cgroups);
    assert_eq!(before.state_entries, after.state_entries);
    assert_eq!(before.fds, after.fds);
}
