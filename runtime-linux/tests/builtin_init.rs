//! berth's own init (`Command::init`): pid 1 of the container with the program as its child.
//! It reaps every zombie, forwards signals (to the program, or its process group), exits with
//! the program's status and records it for a later driver, and is confined as the program is.

mod common;

use std::io::Read;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{driver, run_output, shell};
use runtime_core::{Command, Driver, ExitStatus, NoHooks, ProcessConfig, Status, Stdio};

fn with_init(name: &str, script: &str) -> Command {
    let mut command = shell(name, script);
    command.init = true;
    command
}

/// Waits until `check` holds, for up to 20 s (emulated guests are slow).
fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check() {
        assert!(Instant::now() < deadline, "never: {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn the_program_runs_as_pid_2_and_its_exit_code_is_the_containers() {
    let driver = driver();
    let out = run_output(&*driver, &with_init("code", "echo $$ $PPID; exit 3")).unwrap();
    assert_eq!(out.status, ExitStatus::exited(3), "{out:?}");
    // The program is the init's child: pid 2 of the container's pid namespace, parent 1.
    assert_eq!(out.stdout.trim(), "2 1", "{out:?}");
}

#[test]
fn kill_9_of_the_program_itself_and_kill_term_of_pid_1_end_it_as_users_expect() {
    let driver = driver();
    // Without berth's init the shell is pid 1, which the kernel protects from its own
    // signals: both go unnoticed, and the script goes on.
    let plain = run_output(
        &*driver,
        &shell("plain", "kill -9 $$; kill -TERM 1; exit 7"),
    )
    .unwrap();
    assert_eq!(plain.status, ExitStatus::exited(7), "{plain:?}");
    let killed = run_output(&*driver, &with_init("kill9", "kill -9 $$; exit 7")).unwrap();
    assert_eq!(killed.status, ExitStatus::signaled(9), "{killed:?}");
    let termed = run_output(
        &*driver,
        &with_init("term1", "kill -TERM 1; sleep 5; exit 7"),
    )
    .unwrap();
    assert_eq!(termed.status, ExitStatus::signaled(15), "{termed:?}");
}

#[test]
fn signals_from_the_driver_reach_the_program_and_a_group_on_request() {
    let driver = driver();
    // `sleep` as pid 1 has no handler for SIGTERM; as berth's init's child it dies of it.
    let id = start(&driver, with_init("term", "exec sleep 1000"));
    driver.kill(&id, libc::SIGTERM, false).unwrap();
    assert_eq!(driver.wait(&id).unwrap(), ExitStatus::signaled(15));
    driver.delete(&id, false).unwrap();

    // A real-time signal is forwarded as well: the program's trap answers it.
    let (mut read, write) = pipe_file();
    let command = with_init(
        "rt",
        "trap 'echo got; exit 5' 40; echo ready; while :; do sleep 0.05; done",
    );
    let id = start_with(&driver, command, Some(write.as_raw_fd()));
    drop(write);
    read_until(&mut read, "ready");
    driver.kill(&id, 40, false).unwrap();
    assert_eq!(driver.wait(&id).unwrap(), ExitStatus::exited(5));
    driver.delete(&id, false).unwrap();

    // The shell traps SIGTERM, which runs only once the sleep it waits for has ended.
    // Forwarded to its group, the sleep gets it too and dies, and the shell goes on to exit 0;
    // forwarded to the shell alone, the shell waits on. (A trap of '' would be inherited by
    // the sleep as an ignored signal.)
    let script = "trap 'echo trapped' TERM; echo ready; sleep 1000; exit 0";
    for group in [true, false] {
        let (mut read, write) = pipe_file();
        let mut command = with_init("group", script);
        command.init_signal_group = group;
        let id = start_with(&driver, command, Some(write.as_raw_fd()));
        drop(write);
        read_until(&mut read, "ready");
        // The shell's child must have started before the signal goes.
        std::thread::sleep(Duration::from_millis(100));
        driver.kill(&id, libc::SIGTERM, false).unwrap();
        if group {
            assert_eq!(driver.wait(&id).unwrap(), ExitStatus::exited(0));
        } else {
            std::thread::sleep(Duration::from_millis(300));
            assert_eq!(driver.state(&id).unwrap().status, Status::Running);
            driver.kill(&id, libc::SIGKILL, false).unwrap();
            assert_eq!(driver.wait(&id).unwrap(), ExitStatus::signaled(9));
        }
        driver.delete(&id, false).unwrap();
    }
}

#[test]
fn every_zombie_is_reaped() {
    let driver = driver();
    // Orphans whose parent exits at once come to pid 1, and end a second later, when the
    // program has become `sleep` (a shell would reap them while it waits for a child). With
    // berth's init they are reaped; with `sleep` as pid 1 they stay zombies.
    let script = "for i in 1 2 3 4 5; do sh -c 'sleep 1 &'; done; exec sleep 1000";
    for (init, zombies) in [(true, "0"), (false, "5")] {
        let mut command = shell("reap", script);
        command.init = init;
        let id = start(&driver, command);
        let count = "grep -l '^State:.*Z' /proc/[0-9]*/status 2>/dev/null | wc -l";
        // The orphans that live (a zombie has no command line; the pattern does not match
        // the command lines of this shell and its grep), then end.
        let orphans =
            "cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\\0' ' ' | grep -o 'sleep [1] ' | wc -l";
        eventually("5 sleeping orphans", || {
            exec_output(&driver, &id, orphans).trim() == "5"
        });
        eventually(&format!("{zombies} zombies with init {init}"), || {
            exec_output(&driver, &id, orphans).trim() == "0"
                && exec_output(&driver, &id, count).trim() == zombies
        });
        if init {
            // And stay none: nothing is left for later.
            std::thread::sleep(Duration::from_millis(200));
            assert_eq!(exec_output(&driver, &id, count).trim(), "0");
        }
        driver.delete(&id, true).unwrap();
    }
}

/// What `sh -c script` exec'd in the container prints; it must exit 0.
fn exec_output(driver: &common::TestDriver, id: &str, script: &str) -> String {
    let (status, out) = common::exec_output(&**driver, id, script);
    assert_eq!(status, ExitStatus::exited(0));
    out
}

#[test]
fn the_init_is_confined_as_the_program_and_keeps_the_record_from_it() {
    let driver = driver();
    let mut command = with_init(
        "confined",
        "for f in Uid Gid CapEff CapBnd NoNewPrivs Seccomp; do \
           a=$(grep \"^$f:\" /proc/1/status); b=$(grep \"^$f:\" /proc/self/status); \
           [ \"$a\" = \"$b\" ] || echo \"differs: $a / $b\"; done; \
         grep '^Seccomp:' /proc/1/status; \
         ls /proc/1/fd >/dev/null 2>&1 && echo 'reads the init fds'; \
         ls /proc/self/fd | tr '\\n' ' '",
    );
    command.process.user = "1000:1000".into();
    // With no_new_privileges (berth's default) the filter goes on last, after the fork;
    // without (Docker's default), before start, so that the init forks under it (and
    // Docker's profile answers clone3 with ENOSYS).
    for no_new_privileges in [true, false] {
        command.id = common::id("confined");
        command.process.no_new_privileges = no_new_privileges;
        let out = run_output(&*driver, &command).unwrap();
        assert_eq!(out.status, ExitStatus::exited(0), "{out:?}");
        assert!(!out.stdout.contains("differs"), "{out:?}");
        assert!(out.stdout.contains("Seccomp:\t2"), "{out:?}");
        assert!(!out.stdout.contains("reads the init"), "{out:?}");
        // 0 1 2, and the fd of `ls`'s own directory read: nothing of the init's.
        assert_eq!(
            out.stdout.lines().last().unwrap().trim(),
            "0 1 2 3",
            "{out:?}"
        );
    }
}

#[test]
fn the_exit_is_recorded_in_the_state_directory() {
    let driver = driver();
    let id = start(&driver, with_init("record", "kill -USR1 $$"));
    assert_eq!(
        driver.wait(&id).unwrap(),
        ExitStatus::signaled(libc::SIGUSR1)
    );
    let record = driver.root().join(&id).join("exit");
    let text = std::fs::read_to_string(&record).unwrap();
    let recorded: ExitStatus = serde_json::from_str(&text).unwrap();
    assert_eq!(recorded, ExitStatus::signaled(libc::SIGUSR1));
    let mode = std::fs::metadata(&record).unwrap();
    assert!(mode.is_file());
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777,
        0o600
    );
    driver.delete(&id, false).unwrap();
    assert!(!record.exists());
    // Without berth's init there is no record.
    let id = start(&driver, shell("norecord", "exit 0"));
    driver.wait(&id).unwrap();
    assert!(!driver.root().join(&id).join("exit").exists());
    driver.delete(&id, false).unwrap();
}

#[test]
fn a_missing_program_is_a_failed_start_under_the_init_too() {
    let driver = driver();
    let mut command = Command::new(
        common::id("missing"),
        common::rootfs(),
        ProcessConfig::new(["/no/such/program"]),
    );
    command.init = true;
    let error = driver
        .run(&command, &Stdio::null(), Arc::new(NoHooks))
        .unwrap_err();
    assert!(error.to_string().contains("/no/such/program"), "{error}");
    assert!(driver.list().unwrap().is_empty());
}

fn start(driver: &common::TestDriver, command: Command) -> String {
    start_with(driver, command, None)
}

fn start_with(driver: &common::TestDriver, command: Command, stdout: Option<i32>) -> String {
    let stdio = Stdio {
        stdin: None,
        stdout,
        stderr: None,
        extra: Vec::new(),
    };
    driver.create(&command, &stdio, Arc::new(NoHooks)).unwrap();
    driver.start(&command.id).unwrap();
    command.id
}

fn pipe_file() -> (std::fs::File, std::os::fd::OwnedFd) {
    let (read, write) = common::pipe();
    (std::fs::File::from(read), write)
}

fn read_until(read: &mut std::fs::File, wanted: &str) {
    let mut seen = String::new();
    let mut buffer = [0u8; 256];
    eventually(wanted, || {
        let n = read.read(&mut buffer).unwrap();
        seen.push_str(&String::from_utf8_lossy(&buffer[..n]));
        seen.contains(wanted)
    });
}
