//! exec: another process in a running container, through the same helper path as run, waited
//! for by its caller or (detached) by the driver's supervisor.

mod common;

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard};
use std::time::{Duration, Instant};

use common::{driver, shell, Recorder};
use runtime_core::{Driver, ErrorKind, ExitStatus, Hooks, NoHooks, ProcessConfig, Stdio};
use runtime_linux::LinuxDriver;

/// Held shared by every test, and alone by the one that counts the process's fds.
static COUNTING: RwLock<()> = RwLock::new(());

fn shared() -> RwLockReadGuard<'static, ()> {
    COUNTING
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A running container that sleeps until deleted.
fn sleeper(driver: &LinuxDriver, name: &str) -> String {
    let mut command = shell(name, "sleep 1000");
    command.hostname = Some("sleeper".into());
    driver
        .create(&command, &Stdio::null(), Arc::new(NoHooks))
        .unwrap();
    driver.start(&command.id).unwrap();
    command.id
}

/// Execs `script` and returns its status and stdout.
fn exec_sh(driver: &LinuxDriver, id: &str, process: ProcessConfig) -> (ExitStatus, String) {
    let (read, write) = common::pipe();
    let stdio = Stdio {
        stdin: None,
        stdout: Some(write.as_raw_fd()),
        stderr: None,
        extra: Vec::new(),
    };
    let reader = std::thread::spawn(move || {
        std::fs::read_to_string(format!("/proc/self/fd/{}", read.as_raw_fd())).map(|s| (s, read))
    });
    let status = driver
        .exec(id, &process, &stdio, Arc::new(NoHooks))
        .unwrap();
    drop(write);
    let (out, _read) = reader.join().unwrap().unwrap();
    (status, out)
}

fn sh(script: &str) -> ProcessConfig {
    ProcessConfig::new(["/bin/sh", "-c", script])
}

#[test]
fn exec_shares_the_namespaces_of_the_init() {
    let _shared = shared();
    let driver = driver();
    let id = sleeper(&driver, "exec-ns");
    let init = driver.state(&id).unwrap().pid;
    let (status, out) = exec_sh(
        &driver,
        &id,
        sh("for ns in pid mnt uts net ipc cgroup; do readlink /proc/self/ns/$ns; done; hostname"),
    );
    assert_eq!(status, ExitStatus::exited(0));
    let mut expected: Vec<String> = ["pid", "mnt", "uts", "net", "ipc", "cgroup"]
        .iter()
        .map(|ns| {
            let link = std::fs::read_link(format!("/proc/{init}/ns/{ns}")).unwrap();
            link.display().to_string()
        })
        .collect();
    expected.push("sleeper".into());
    assert_eq!(out.lines().collect::<Vec<_>>(), expected);
    // It sees the container's processes, not the host's, and is not pid 1.
    let (_, out) = exec_sh(&driver, &id, sh("echo $$; ls /proc | grep -cE '^[0-9]+$'"));
    let lines: Vec<u32> = out.lines().map(|l| l.parse().unwrap()).collect();
    assert!(lines[0] > 1 && lines[1] < 10, "{out}");
    driver.delete(&id, true).unwrap();
}

#[test]
fn exec_takes_its_own_user_cwd_and_env() {
    let _shared = shared();
    let driver = driver();
    let id = sleeper(&driver, "exec-ident");
    let mut process = sh("id; pwd; echo $GREETING; echo $HOME");
    process.user = "app".into();
    process.cwd = "/home/app".into();
    process.env = vec!["GREETING=hi there".into()];
    let (status, out) = exec_sh(&driver, &id, process);
    assert_eq!(status.code, 0, "{out}");
    assert_eq!(
        out,
        "uid=1000(app) gid=1000(app) groups=10(wheel),29(audio),1000(app)\n/home/app\nhi there\n/home/app\n"
    );
    driver.delete(&id, true).unwrap();
}

#[test]
fn exec_exit_codes_and_signals() {
    let _shared = shared();
    let driver = driver();
    let id = sleeper(&driver, "exec-codes");
    for code in [0, 7, 255] {
        let (status, _) = exec_sh(&driver, &id, sh(&format!("exit {code}")));
        assert_eq!(status, ExitStatus::exited(code));
    }
    // Not pid 1 of its namespace, so it can kill itself.
    let (status, _) = exec_sh(&driver, &id, sh("kill -9 $$"));
    assert_eq!((status.code, status.signal), (137, Some(9)));
    driver.delete(&id, true).unwrap();
}

#[test]
fn exec_reports_start_and_exit_through_its_hooks() {
    let _shared = shared();
    let driver = driver();
    let id = sleeper(&driver, "exec-hooks");
    let hooks = Arc::new(Recorder::default());
    let status = driver
        .exec(&id, &sh("exit 9"), &Stdio::null(), hooks.clone())
        .unwrap();
    assert_eq!(status.code, 9);
    let started = hooks.started.lock().unwrap().clone();
    assert_eq!(started.len(), 1);
    assert_ne!(
        started[0].1,
        driver.state(&id).unwrap().pid,
        "the exec's own pid"
    );
    assert_eq!(*hooks.exited.lock().unwrap(), vec![(id.clone(), status)]);
    driver.delete(&id, true).unwrap();
}

#[test]
fn exec_fails_clearly_into_missing_or_stopped_containers_and_with_bad_input() {
    let _shared = shared();
    let driver = driver();
    let err = driver
        .exec("ghost", &sh("true"), &Stdio::null(), Arc::new(NoHooks))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(err.to_string().contains("\"ghost\""), "{err}");

    let created = shell("exec-created", "true");
    driver
        .create(&created, &Stdio::null(), Arc::new(NoHooks))
        .unwrap();
    let err = driver
        .exec(&created.id, &sh("true"), &Stdio::null(), Arc::new(NoHooks))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidState);
    assert!(err.to_string().contains(&created.id), "{err}");
    driver.start(&created.id).unwrap();
    driver.wait(&created.id).unwrap();
    let err = driver
        .exec(&created.id, &sh("true"), &Stdio::null(), Arc::new(NoHooks))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidState, "{err}");
    driver.delete(&created.id, false).unwrap();

    let id = sleeper(&driver, "exec-bad");
    let err = driver
        .exec(
            &id,
            &ProcessConfig::new(["no-such-program"]),
            &Stdio::null(),
            Arc::new(NoHooks),
        )
        .unwrap_err();
    assert!(
        err.to_string().contains("find program \"no-such-program\""),
        "{err}"
    );
    let mut bad_cwd = sh("true");
    bad_cwd.cwd = "/nowhere".into();
    let err = driver
        .exec(&id, &bad_cwd, &Stdio::null(), Arc::new(NoHooks))
        .unwrap_err();
    assert!(
        err.to_string().contains("chdir to /nowhere: ENOENT"),
        "{err}"
    );
    let err = driver
        .exec(
            &id,
            &ProcessConfig::new(Vec::<String>::new()),
            &Stdio::null(),
            Arc::new(NoHooks),
        )
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    // None of that disturbed the container.
    let (status, _) = exec_sh(&driver, &id, sh("true"));
    assert!(status.success());
    driver.delete(&id, true).unwrap();
}

#[test]
fn an_exec_ends_when_its_container_does() {
    let _shared = shared();
    let driver = Arc::new(driver());
    let id = sleeper(&driver, "exec-dies");
    let exec = {
        let driver = driver.clone();
        let id = id.clone();
        std::thread::spawn(move || {
            driver.exec(&id, &sh("sleep 1000"), &Stdio::null(), Arc::new(NoHooks))
        })
    };
    std::thread::sleep(std::time::Duration::from_millis(300));
    driver.kill(&id, libc::SIGKILL, false).unwrap();
    let status = exec.join().unwrap().unwrap();
    assert_eq!(status.signal, Some(libc::SIGKILL), "{status:?}");
    // The init of a pid namespace exits only after every process in it is reaped, this exec
    // included: the container stops just after the exec returns.
    assert_eq!(driver.wait(&id).unwrap().signal, Some(libc::SIGKILL));
    driver.delete(&id, false).unwrap();
}

#[test]
fn fifty_concurrent_execs_each_get_their_own_exit_code() {
    let _shared = shared();
    let driver = Arc::new(driver());
    let id = sleeper(&driver, "exec-many");
    let threads: Vec<_> = (0..50)
        .map(|i| {
            let driver = driver.clone();
            let id = id.clone();
            std::thread::spawn(move || {
                let status = driver
                    .exec(
                        &id,
                        &sh(&format!("exit {i}")),
                        &Stdio::null(),
                        Arc::new(NoHooks),
                    )
                    .unwrap();
                (i, status.code)
            })
        })
        .collect();
    for thread in threads {
        let (i, code) = thread.join().unwrap();
        assert_eq!(code, i);
    }
    driver.delete(&id, true).unwrap();
}

#[test]
fn exec_takes_its_own_capabilities() {
    let _shared = shared();
    let driver = driver();
    let id = sleeper(&driver, "exec-caps");
    // NET_ADMIN is not in the default set: changing lo's MTU needs it.
    let mtu = "ip link set lo mtu 1500";
    let (status, _) = exec_sh(&driver, &id, sh(mtu));
    assert!(!status.success(), "default capabilities changed lo");
    for name in ["NET_ADMIN", "CAP_NET_ADMIN", "cap_net_admin"] {
        let mut process = sh(mtu);
        process.cap_add = vec![name.into()];
        let (status, _) = exec_sh(&driver, &id, process);
        assert!(status.success(), "cap_add {name}: {status:?}");
    }
    let mut privileged = sh(&format!("{mtu} && mount -t tmpfs x /dev/shm"));
    privileged.privileged = true;
    assert!(exec_sh(&driver, &id, privileged).0.success());
    let mut dropped = sh("chown 1000 /tmp");
    dropped.cap_drop = vec!["CHOWN".into()];
    assert!(!exec_sh(&driver, &id, dropped).0.success());
    let mut unknown = sh("true");
    unknown.cap_add = vec!["NET_ADMIN".into(), "NET_ADMINN".into()];
    let err = driver
        .exec(&id, &unknown, &Stdio::null(), Arc::new(NoHooks))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(
        err.to_string().contains("process.cap_add[1]") && err.to_string().contains("NET_ADMINN"),
        "{err}"
    );
    driver.delete(&id, true).unwrap();
}

// ---- detached execs ----

fn detach(driver: &LinuxDriver, id: &str, process: &ProcessConfig, stdio: &Stdio) -> i32 {
    driver
        .exec_detached(id, process, stdio, Arc::new(NoHooks))
        .unwrap()
}

#[test]
fn a_detached_exec_returns_its_pid_at_once_and_wait_exec_gives_its_status() {
    let _shared = shared();
    let driver = driver();
    let id = sleeper(&driver, "detached");
    let (stdin_read, stdin_write) = common::pipe();
    let (stdout_read, stdout_write) = common::pipe();
    let stdio = Stdio {
        stdin: Some(stdin_read.as_raw_fd()),
        stdout: Some(stdout_write.as_raw_fd()),
        stderr: None,
        extra: Vec::new(),
    };
    let hooks = Arc::new(Recorder::default());
    let pid = driver
        .exec_detached(
            &id,
            &sh("read x; echo got $x; exit 7"),
            &stdio,
            hooks.clone(),
        )
        .unwrap();
    drop((stdin_read, stdout_write));
    // It returned while the process waits for its input.
    assert!(pid > 0 && pid != driver.state(&id).unwrap().pid, "{pid}");
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
    assert_eq!(*hooks.started.lock().unwrap(), [(id.clone(), pid)]);
    assert!(hooks.exited.lock().unwrap().is_empty());
    std::fs::File::from(stdin_write)
        .write_all(b"hello\n")
        .unwrap();
    let mut out = String::new();
    std::fs::File::from(stdout_read)
        .read_to_string(&mut out)
        .unwrap();
    assert_eq!(out, "got hello\n");
    assert_eq!(driver.wait_exec(&id, pid).unwrap(), ExitStatus::exited(7));
    assert_eq!(driver.wait_exec(&id, pid).unwrap(), ExitStatus::exited(7));
    assert_eq!(
        *hooks.exited.lock().unwrap(),
        [(id.clone(), ExitStatus::exited(7))]
    );
    assert_eq!(*hooks.log.lock().unwrap(), ["start", "exit"]);
    driver.delete(&id, true).unwrap();
}

#[test]
fn a_detached_exec_dies_with_its_container_and_reports_the_signal_once() {
    let _shared = shared();
    let driver = driver();
    // Through kill with `all`, and through the init's death (its pid namespace goes with it).
    for all in [true, false] {
        let id = sleeper(&driver, "detached-dies");
        let hooks = Arc::new(Recorder::default());
        let pid = driver
            .exec_detached(&id, &sh("sleep 1000"), &Stdio::null(), hooks.clone())
            .unwrap();
        driver.kill(&id, libc::SIGKILL, all).unwrap();
        let status = driver.wait_exec(&id, pid).unwrap();
        assert_eq!(status, ExitStatus::signaled(libc::SIGKILL), "all: {all}");
        assert_eq!(driver.wait(&id).unwrap().signal, Some(libc::SIGKILL));
        driver.delete(&id, false).unwrap();
        assert_eq!(*hooks.exited.lock().unwrap(), [(id, status)], "all: {all}");
    }
}

/// Keeps the terminal masters it is handed, and closes them when dropped.
#[derive(Default)]
struct Consoles(Mutex<Vec<RawFd>>);

impl Hooks for Consoles {
    fn on_console(&self, _: &str, master: RawFd) {
        self.0.lock().unwrap().push(master);
    }
}

impl Drop for Consoles {
    fn drop(&mut self) {
        for master in self.0.lock().unwrap().drain(..) {
            let _ = nix::unistd::close(master);
        }
    }
}

#[test]
fn a_detached_exec_with_a_terminal_hands_it_over_and_resize_reaches_it_while_it_runs() {
    let _shared = shared();
    let driver = driver();
    let id = sleeper(&driver, "detached-tty");
    let mut process = sh("test -t 0 && test -t 1 || exit 3; \
         while [ \"$(stty size)\" != '33 77' ]; do sleep 0.05; done; exit 4");
    process.tty = true;
    let hooks = Arc::new(Consoles::default());
    let pid = driver
        .exec_detached(&id, &process, &Stdio::null(), hooks.clone())
        .unwrap();
    assert_eq!(hooks.0.lock().unwrap().len(), 1, "on_console");
    driver.resize(&id, 33, 77).unwrap();
    assert_eq!(driver.wait_exec(&id, pid).unwrap(), ExitStatus::exited(4));
    // Its terminal went with it: the container has none left.
    let err = driver.resize(&id, 33, 77).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidState, "{err}");
    driver.delete(&id, true).unwrap();
}

#[test]
fn fifty_detached_execs_add_no_thread_and_leave_no_fd() {
    let _counting = COUNTING
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let driver = driver();
    let id = sleeper(&driver, "detached-many");
    // The first exit starts the event worker the driver keeps from then on.
    let first = detach(&driver, &id, &sh("exit 0"), &Stdio::null());
    driver.wait_exec(&id, first).unwrap();
    let threads = driver.thread_count();
    let watched = driver.watched_fds();
    let before = common::leftovers(&driver);

    let (stdin_read, stdin_write) = common::pipe();
    let stdio = Stdio {
        stdin: Some(stdin_read.as_raw_fd()),
        stdout: None,
        stderr: None,
        extra: Vec::new(),
    };
    let pids: Vec<i32> = (0..50)
        .map(|i| detach(&driver, &id, &sh(&format!("read x; exit {i}")), &stdio))
        .collect();
    drop(stdin_read);
    // All fifty wait for their input, watched by the supervisor alone.
    assert_eq!(driver.thread_count(), threads, "threads while they run");
    assert_eq!(driver.watched_fds(), watched + 50);
    drop(stdin_write);
    for (i, pid) in pids.iter().enumerate() {
        assert_eq!(
            driver.wait_exec(&id, *pid).unwrap(),
            ExitStatus::exited(i as i64)
        );
    }
    // A pidfd is closed just after its exit is reported, and a worker started meanwhile ends
    // after two idle seconds.
    let deadline = Instant::now() + Duration::from_secs(10);
    let settled = || {
        common::leftovers(&driver).fds == before.fds
            && driver.thread_count() == threads
            && driver.watched_fds() == watched
    };
    while !settled() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let after = common::leftovers(&driver);
    assert_eq!(after.fds, before.fds, "fds left behind");
    assert_eq!(after.children, before.children, "children left behind");
    assert_eq!(driver.thread_count(), threads, "threads after");
    assert_eq!(driver.watched_fds(), watched);
    driver.delete(&id, true).unwrap();
}

#[test]
fn a_detached_exec_needs_a_running_container() {
    let _shared = shared();
    let driver = driver();
    let refused = |id: &str| {
        driver
            .exec_detached(id, &sh("true"), &Stdio::null(), Arc::new(NoHooks))
            .unwrap_err()
    };
    assert_eq!(refused("ghost").kind(), ErrorKind::NotFound);
    let created = shell("detached-created", "sleep 1000");
    driver
        .create(&created, &Stdio::null(), Arc::new(NoHooks))
        .unwrap();
    let err = refused(&created.id);
    assert_eq!(err.kind(), ErrorKind::InvalidState, "{err}");
    driver.start(&created.id).unwrap();
    // The init is no detached exec.
    let init = driver.state(&created.id).unwrap().pid;
    let err = driver.wait_exec(&created.id, init).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    driver.pause(&created.id).unwrap();
    let err = refused(&created.id);
    assert_eq!(err.kind(), ErrorKind::InvalidState, "{err}");
    assert!(err.to_string().contains("paused"), "{err}");
    driver.resume(&created.id).unwrap();
    driver.kill(&created.id, libc::SIGKILL, false).unwrap();
    driver.wait(&created.id).unwrap();
    let err = refused(&created.id);
    assert_eq!(err.kind(), ErrorKind::InvalidState, "{err}");
    driver.delete(&created.id, false).unwrap();
}
