//! create / start / wait / delete, bad input, failures in the middle, concurrency — and after
//! each, proof that nothing was left behind (cgroups, state files, processes, fds, mounts).

mod common;

use std::os::fd::AsRawFd;
use std::sync::Arc;

use common::{driver, id, leftovers, rootfs, run_output, serial, shell, Recorder};
use runtime_core::{Command, Driver, ErrorKind, NoHooks, ProcessConfig, Status, Stdio};

/// Runs `f` and asserts the host looks the same afterwards.
fn leaves_nothing(driver: &common::TestDriver, f: impl FnOnce()) {
    let before = leftovers(driver);
    f();
    let after = leftovers(driver);
    assert_eq!(before.cgroups, after.cgroups, "cgroups left behind");
    assert_eq!(
        before.state_entries, after.state_entries,
        "state left behind"
    );
    assert_eq!(before.children, after.children, "processes left behind");
    assert_eq!(before.fds, after.fds, "fds left behind");
    assert_eq!(before.mountinfo, after.mountinfo, "host mounts changed");
}

fn expect_error(driver: &common::TestDriver, command: &Command, kind: ErrorKind, text: &str) {
    leaves_nothing(driver, || {
        let err = driver
            .run(command, &Stdio::null(), Arc::new(NoHooks))
            .expect_err("must fail");
        assert_eq!(err.kind(), kind, "{err}");
        assert!(
            err.to_string().contains(text),
            "{err:?} should contain {text:?}"
        );
    });
}

#[test]
fn a_successful_run_leaves_nothing_and_the_host_mounts_unchanged() {
    let _serial = serial();
    let driver = driver();
    leaves_nothing(&driver, || {
        // Privileged, so that it may mount: what it mounts must stay in the container.
        let mut command = shell(
            "clean",
            "mkdir -p /tmp/m && mount -t tmpfs t /tmp/m && echo mounted",
        );
        command.process.privileged = true;
        let out = run_output(&driver, &command).unwrap();
        assert_eq!(out.stdout, "mounted\n", "{out:?}");
    });
}

#[test]
fn no_fd_of_the_host_reaches_the_container() {
    let _serial = serial();
    let driver = driver();
    // Deliberately without O_CLOEXEC, as a careless host would hold it.
    let leaked = nix::fcntl::open(
        "/etc/hostname",
        nix::fcntl::OFlag::O_RDONLY,
        nix::sys::stat::Mode::empty(),
    )
    .unwrap();
    let out = run_output(&driver, &shell("fds", "ls /proc/self/fd | tr '\\n' ' '")).unwrap();
    // 0-2 are stdio, 3 is ls's own handle on the directory it lists.
    assert_eq!(
        out.stdout.trim(),
        "0 1 2 3",
        "leaked fd {}: {out:?}",
        leaked.as_raw_fd()
    );
}

#[test]
fn bad_input_is_rejected_before_anything_is_created() {
    let _serial = serial();
    let driver = driver();
    let mut cases: Vec<(Command, &str)> = Vec::new();
    let mut c = shell("bad", "true");
    c.id = "bad/id".into();
    cases.push((c, "invalid id"));
    let mut c = shell("bad", "true");
    c.id = "x".repeat(200);
    cases.push((c, "at most 128"));
    let mut c = shell("bad", "true");
    c.rootfs = "relative/rootfs".into();
    cases.push((c, "invalid rootfs"));
    let mut c = shell("bad", "true");
    c.rootfs = "/nonexistent/rootfs".into();
    cases.push((c, "invalid rootfs: /nonexistent/rootfs"));
    let mut c = shell("bad", "true");
    c.process.args.clear();
    cases.push((c, "invalid process.args"));
    let mut c = shell("bad", "true");
    c.process.cwd = "tmp".into();
    cases.push((c, "invalid process.cwd"));
    let mut c = shell("bad", "true");
    c.process.user = "a:b:c".into();
    cases.push((c, "invalid process.user"));
    let mut c = shell("bad", "true");
    c.mounts.push(runtime_core::Mount {
        source: None,
        destination: "relative".into(),
        kind: "tmpfs".into(),
        options: vec![],
        uid_mappings: None,
        gid_mappings: None,
    });
    cases.push((c, "invalid mounts[0].destination"));
    let mut c = shell("bad", "true");
    c.mounts.push(runtime_core::Mount {
        source: Some("/nonexistent/source".into()),
        destination: "/data".into(),
        kind: "bind".into(),
        options: vec![],
        uid_mappings: None,
        gid_mappings: None,
    });
    cases.push((c, "invalid mounts[0].source"));
    let mut c = shell("bad", "true");
    c.namespaces.net = runtime_core::NamespaceMode::Container("no-such-container".into());
    cases.push((
        c,
        "invalid namespaces.net: no container \"no-such-container\"",
    ));
    let mut c = shell("bad", "true");
    c.namespaces.ipc = runtime_core::NamespaceMode::Path("/nonexistent/ns".into());
    cases.push((c, "invalid namespaces.ipc"));
    let mut c = shell("bad", "true");
    c.resources.cpuset_cpus = Some("63".into());
    cases.push((c, "cpuset_cpus"));
    for (command, text) in &cases {
        expect_error(&driver, command, ErrorKind::InvalidArgument, text);
    }
    // An unknown namespace value can only come from JSON.
    let err = Command::from_json(&format!(
        r#"{{"id": "x", "rootfs": "{}", "process": {{"args": ["true"]}}, "namespaces": {{"uts": "shared"}}}}"#,
        rootfs()
    ))
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("namespaces.uts: unknown variant `shared`"),
        "{err}"
    );
}

#[test]
fn a_missing_program_fails_naming_the_step_and_leaves_nothing() {
    let _serial = serial();
    let driver = driver();
    let command = Command::new(
        id("noprog"),
        rootfs(),
        ProcessConfig::new(["no-such-program"]),
    );
    expect_error(
        &driver,
        &command,
        ErrorKind::System,
        "find program \"no-such-program\" in PATH",
    );
    let command = Command::new(
        id("noprog"),
        rootfs(),
        ProcessConfig::new(["/bin/no-such-program"]),
    );
    expect_error(
        &driver,
        &command,
        ErrorKind::System,
        "exec /bin/no-such-program: ENOENT",
    );
}

#[test]
fn a_missing_cwd_fails_naming_the_step_and_leaves_nothing() {
    let _serial = serial();
    let driver = driver();
    let mut command = shell("nocwd", "true");
    command.process.cwd = "/no/such/dir".into();
    expect_error(
        &driver,
        &command,
        ErrorKind::System,
        "chdir to /no/such/dir: ENOENT",
    );
}

#[test]
fn a_non_executable_program_fails_at_exec() {
    let _serial = serial();
    let driver = driver();
    let command = Command::new(id("noexec"), rootfs(), ProcessConfig::new(["/etc/passwd"]));
    expect_error(
        &driver,
        &command,
        ErrorKind::Permission,
        "exec /etc/passwd: EACCES",
    );
}

#[test]
fn create_start_wait_delete_split_the_run() {
    let _serial = serial();
    let driver = driver();
    leaves_nothing(&driver, || {
        let hooks = Arc::new(Recorder::default());
        let command = shell("split", "exit 5");
        let pid = driver
            .create(&command, &Stdio::null(), hooks.clone())
            .unwrap();
        assert!(pid > 1);
        let state = driver.state(&command.id).unwrap();
        assert_eq!(state.status, Status::Created);
        assert_eq!(state.pid, pid);
        assert!(
            hooks.started.lock().unwrap().is_empty(),
            "no start hook before start"
        );
        // A second container with a live id is refused, and changes nothing.
        let err = driver
            .create(&command, &Stdio::null(), hooks.clone())
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AlreadyExists);
        assert_eq!(driver.list().unwrap().len(), 1);

        driver.start(&command.id).unwrap();
        assert_eq!(
            hooks.started.lock().unwrap().as_slice(),
            &[(command.id.clone(), pid)]
        );
        let err = driver.start(&command.id).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidState);
        let status = driver.wait(&command.id).unwrap();
        assert_eq!(status.code, 5);
        // wait again gives the same status; the container stays until deleted.
        assert_eq!(driver.wait(&command.id).unwrap(), status);
        let state = driver.state(&command.id).unwrap();
        assert_eq!(state.status, Status::Stopped);
        assert_eq!(state.exit_status, Some(status));
        let err = driver.kill(&command.id, 15, false).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidState);
        driver.delete(&command.id, false).unwrap();
        assert_eq!(
            driver.state(&command.id).unwrap_err().kind(),
            ErrorKind::NotFound
        );
    });
}

#[test]
fn deleting_a_created_or_running_container_kills_it_and_cleans_up() {
    let _serial = serial();
    let driver = driver();
    leaves_nothing(&driver, || {
        let created = shell("created", "exit 0");
        driver
            .create(&created, &Stdio::null(), Arc::new(NoHooks))
            .unwrap();
        driver.delete(&created.id, true).unwrap();

        let running = shell("running", "sleep 100");
        driver
            .create(&running, &Stdio::null(), Arc::new(NoHooks))
            .unwrap();
        driver.start(&running.id).unwrap();
        let err = driver.delete(&running.id, false).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidState);
        assert_eq!(driver.state(&running.id).unwrap().status, Status::Running);
        driver.delete(&running.id, true).unwrap();
        assert!(driver.list().unwrap().is_empty());
    });
}

#[test]
fn kill_signals_the_init_and_rejects_bad_signals() {
    let _serial = serial();
    let driver = driver();
    // As pid 1 of its namespace, the shell ignores SIGTERM until its trap is set: it says
    // when it is (a fixed sleep was too short where fork+exec is slow, as under emulation).
    let command = shell(
        "kill",
        "trap 'exit 42' TERM; echo trapped; while true; do sleep 0.05; done",
    );
    let mut stdout = common::start_with_stdout(&driver, &command, Arc::new(NoHooks));
    for bad in [0, -1, 65, 1000] {
        assert_eq!(
            driver.kill(&command.id, bad, false).unwrap_err().kind(),
            ErrorKind::InvalidArgument
        );
    }
    assert_eq!(
        driver.kill("nope", 15, false).unwrap_err().kind(),
        ErrorKind::NotFound
    );
    assert_eq!(common::read_line(&mut stdout), "trapped");
    driver.kill(&command.id, libc::SIGTERM, false).unwrap();
    assert_eq!(driver.wait(&command.id).unwrap().code, 42);
    driver.delete(&command.id, false).unwrap();
}

#[test]
fn unknown_ids_are_not_found() {
    let _serial = serial();
    let driver = driver();
    for err in [
        driver.start("ghost").unwrap_err(),
        driver.wait("ghost").unwrap_err(),
        driver.delete("ghost", true).unwrap_err(),
        driver.state("ghost").unwrap_err(),
    ] {
        assert_eq!(err.kind(), ErrorKind::NotFound);
        assert!(err.to_string().contains("\"ghost\""), "{err}");
    }
}

#[test]
fn containers_can_share_a_namespace() {
    let _serial = serial();
    let driver = driver();
    let first = shell("ns-owner", "sleep 100");
    driver
        .create(&first, &Stdio::null(), Arc::new(NoHooks))
        .unwrap();
    driver.start(&first.id).unwrap();
    let owner_pid = driver.state(&first.id).unwrap().pid;
    let owner_net = std::fs::read_link(format!("/proc/{owner_pid}/ns/net")).unwrap();
    let mut second = shell("ns-guest", "readlink /proc/self/ns/net");
    second.namespaces.net = runtime_core::NamespaceMode::Container(first.id.clone());
    let out = run_output(&driver, &second).unwrap();
    assert_eq!(out.stdout.trim(), owner_net.to_str().unwrap(), "{out:?}");
    driver.delete(&first.id, true).unwrap();
}

#[test]
fn twenty_containers_from_twenty_threads_each_get_their_own_exit_code() {
    let _serial = serial();
    let driver = Arc::new(driver());
    leaves_nothing(&driver, || {
        let threads: Vec<_> = (0..20)
            .map(|i| {
                let driver = driver.clone();
                std::thread::spawn(move || {
                    let command = shell("many", &format!("sleep 0.1; exit {}", i + 10));
                    let out = run_output(&driver, &command).unwrap();
                    (i, out.status.code)
                })
            })
            .collect();
        for thread in threads {
            let (i, code) = thread.join().unwrap();
            assert_eq!(code, i + 10);
        }
    });
}
