//! The Windows driver over the fake HCS: its own behaviour beyond the conformance suite (the
//! pid that comes with start, exact 32-bit exit codes, kill with all, recovery), and the
//! failure modes users of HCS meet, each scripted in the fake.

#![cfg(unix)]

mod common;

use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{command, driver_on, fresh_root, program, residue};
use parking_lot::Mutex;
use runtime_core::{Driver, ErrorKind, ExitStatus, Hooks, NoHooks, Status, Stdio};
use runtime_windows::fake::{FakeHcs, STATUS_CONTROL_C_EXIT, TERMINATED_EXIT_CODE};
use runtime_windows::hcs::{HCS_E_OPERATION_TIMEOUT, HCS_E_SYSTEM_ALREADY_EXISTS};
use runtime_windows::{HcsDriver, WindowsOptions};

const SIGINT: i32 = 2;
const SIGKILL: i32 = 9;
const SIGTERM: i32 = 15;

fn exited(code: u32) -> ExitStatus {
    ExitStatus::exited(i64::from(code))
}

fn killed(code: u32, signal: i32) -> ExitStatus {
    ExitStatus {
        signal: Some(signal),
        ..exited(code)
    }
}

fn setup(name: &str) -> (FakeHcs, std::path::PathBuf, HcsDriver<FakeHcs>) {
    let hcs = FakeHcs::new();
    let root = fresh_root(name);
    let driver = driver_on(&hcs, &root);
    (hcs, root, driver)
}

/// Records the hooks' calls.
#[derive(Default)]
struct Recorder(Mutex<Vec<String>>);

impl Hooks for Recorder {
    fn on_start(&self, _id: &str, pid: i32) {
        self.0.lock().push(format!("start {pid}"));
    }
    fn on_oom(&self, _id: &str) {
        self.0.lock().push("oom".into());
    }
    fn on_exit(&self, _id: &str, status: &ExitStatus) {
        self.0.lock().push(format!("exit {}", status.code));
    }
}

fn start_sleeper(driver: &HcsDriver<FakeHcs>, id: &str) {
    driver
        .create(
            &command(id, program(["sleep"])),
            &Stdio::null(),
            Arc::new(NoHooks),
        )
        .expect("create");
    driver.start(id).expect("start");
}

/// Waits for `id` on another thread, at most `within`.
fn wait_within(
    driver: &Arc<HcsDriver<FakeHcs>>,
    id: &str,
    within: Duration,
) -> runtime_core::Result<ExitStatus> {
    let (send, receive) = std::sync::mpsc::channel();
    let (waiting, id) = (driver.clone(), id.to_string());
    std::thread::spawn(move || {
        let _ = send.send(waiting.wait(&id));
    });
    receive
        .recv_timeout(within)
        .unwrap_or_else(|_| panic!("wait did not return within {within:?}"))
}

#[test]
fn create_gives_pid_zero_and_start_the_real_pid() {
    let (_hcs, _root, driver) = setup("pid");
    let recorder = Arc::new(Recorder::default());
    let pid = driver
        .create(
            &command("pid", program(["sleep"])),
            &Stdio::null(),
            recorder.clone(),
        )
        .expect("create");
    assert_eq!(pid, 0, "HCS creates the init only at start");
    assert_eq!(driver.state("pid").unwrap().pid, 0);
    driver.start("pid").expect("start");
    let state = driver.state("pid").unwrap();
    assert!(state.pid > 0, "{state:?}");
    assert_eq!(
        recorder.0.lock().first(),
        Some(&format!("start {}", state.pid))
    );
    driver.delete("pid", true).expect("delete");
}

#[test]
fn exit_codes_are_kept_as_unsigned_32_bit_codes() {
    let (_hcs, _root, driver) = setup("codes");
    for code in [0u32, 3, 255, 256, STATUS_CONTROL_C_EXIT, u32::MAX] {
        let id = format!("code-{code}");
        let status = driver
            .run(
                &command(&id, program(["exit".to_string(), code.to_string()])),
                &Stdio::null(),
                Arc::new(NoHooks),
            )
            .expect("run");
        assert_eq!(status, exited(code), "exit {code}");
    }
}

#[test]
fn arguments_reach_the_process_exactly() {
    let (hcs, _root, driver) = setup("args");
    let (read, write) = std::io::pipe().unwrap();
    let stdio = Stdio {
        stdin: None,
        stdout: Some(std::os::fd::AsRawFd::as_raw_fd(&write)),
        stderr: None,
        extra: Vec::new(),
    };
    let awkward = r#"a "quoted" arg\ with \\ slashes\"#;
    let status = driver
        .run(
            &command("args", program(["print", awkward, ""])),
            &stdio,
            Arc::new(NoHooks),
        )
        .expect("run");
    drop(write);
    assert_eq!(status, exited(0));
    let mut out = String::new();
    { read }.read_to_string(&mut out).unwrap();
    assert_eq!(out, awkward);
    let created = hcs.documents_of("HcsCreateProcess");
    assert!(created[0]["CommandLine"].is_string(), "{created:?}");
}

#[test]
fn an_exit_before_the_callback_is_set_is_not_missed() {
    let (hcs, _root, driver) = setup("early");
    hcs.script(|s| s.exit_at_create = Some(7));
    let status = driver
        .run(
            &command("early", program(["sleep"])),
            &Stdio::null(),
            Arc::new(NoHooks),
        )
        .expect("run");
    assert_eq!(status, exited(7));
}

#[test]
fn sigterm_and_sigint_are_control_events_and_sigkill_terminates() {
    let (_hcs, _root, driver) = setup("signals");
    let driver = Arc::new(driver);
    for (signal, event) in [(SIGTERM, "CtrlShutdown"), (SIGINT, "CtrlC")] {
        let id = format!("ctrl-{signal}");
        driver
            .create(
                &command(&id, program(["on", event, "42"])),
                &Stdio::null(),
                Arc::new(NoHooks),
            )
            .unwrap();
        driver.start(&id).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        driver.kill(&id, signal, false).expect("kill");
        assert_eq!(
            wait_within(&driver, &id, Duration::from_secs(5)).unwrap(),
            exited(42)
        );
    }
    // A control event the process does not handle ends it as Windows' default handler does.
    start_sleeper(&driver, "unhandled");
    driver.kill("unhandled", SIGINT, false).unwrap();
    assert_eq!(
        wait_within(&driver, "unhandled", Duration::from_secs(5)).unwrap(),
        exited(STATUS_CONTROL_C_EXIT)
    );
    start_sleeper(&driver, "terminated");
    driver.kill("terminated", SIGKILL, false).unwrap();
    assert_eq!(
        wait_within(&driver, "terminated", Duration::from_secs(5)).unwrap(),
        killed(TERMINATED_EXIT_CODE, SIGKILL)
    );
    // Signals Windows has no way to deliver are refused, naming the signal.
    start_sleeper(&driver, "hup");
    let error = driver.kill("hup", 1, false).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Unsupported, "{error}");
    assert!(error.to_string().contains('1'), "{error}");
    assert_eq!(driver.state("hup").unwrap().status, Status::Running);
}

#[test]
fn a_created_container_killed_before_start_has_no_code() {
    let (hcs, _root, driver) = setup("unstarted");
    driver
        .create(
            &command("unstarted", program(["sleep"])),
            &Stdio::null(),
            Arc::new(NoHooks),
        )
        .unwrap();
    driver.kill("unstarted", SIGTERM, false).expect("kill");
    let status = driver.wait("unstarted").unwrap();
    assert_eq!((status.code, status.signal), (-1, Some(SIGTERM)));
    assert!(hcs.documents_of("HcsCreateProcess").is_empty());
    driver.delete("unstarted", false).unwrap();
    assert!(hcs.live_systems().is_empty() && hcs.open_handles().is_empty());
}

#[test]
fn kill_all_shuts_the_system_down() {
    let (hcs, _root, driver) = setup("kill-all");
    let driver = Arc::new(driver);
    driver
        .create(
            &command("kill-all", program(["on", "CtrlShutdown", "42"])),
            &Stdio::null(),
            Arc::new(NoHooks),
        )
        .unwrap();
    driver.start("kill-all").unwrap();
    let exec = driver
        .exec_detached(
            "kill-all",
            &program(["sleep"]),
            &Stdio::null(),
            Arc::new(NoHooks),
        )
        .unwrap();
    driver.kill("kill-all", SIGTERM, true).expect("kill all");
    assert_eq!(
        wait_within(&driver, "kill-all", Duration::from_secs(5)).unwrap(),
        killed(42, SIGTERM),
        "the init handles the shutdown's control event"
    );
    assert_eq!(
        driver.wait_exec("kill-all", exec).unwrap(),
        killed(STATUS_CONTROL_C_EXIT, SIGTERM),
        "the exec does not"
    );
    assert!(hcs.live_systems().is_empty());
}

#[test]
fn a_shutdown_that_hangs_is_cancelled_and_the_system_terminated() {
    let (hcs, _root, driver) = setup("hang");
    let driver = Arc::new(driver);
    hcs.script(|s| s.hang_shutdown = true);
    start_sleeper(&driver, "hang");
    let began = Instant::now();
    driver.kill("hang", SIGTERM, true).expect("kill all");
    assert!(
        began.elapsed() < Duration::from_secs(2),
        "{:?}",
        began.elapsed()
    );
    assert_eq!(hcs.cancelled_operations(), 1);
    assert_eq!(
        wait_within(&driver, "hang", Duration::from_secs(5)).unwrap(),
        killed(TERMINATED_EXIT_CODE, SIGTERM)
    );
}

#[test]
fn a_withheld_exit_notification_releases_waiters_after_a_kill() {
    let (hcs, _root, driver) = setup("withheld");
    let driver = Arc::new(driver);
    hcs.script(|s| s.withhold_exit_notifications = true);
    start_sleeper(&driver, "withheld");
    driver.kill("withheld", SIGKILL, false).expect("kill");
    // Nothing says it exited; after the grace the status is asked once more.
    assert_eq!(
        wait_within(&driver, "withheld", Duration::from_secs(5)).unwrap(),
        killed(TERMINATED_EXIT_CODE, SIGKILL)
    );
}

#[test]
fn a_kill_that_finds_nothing_still_ends_the_wait() {
    let (hcs, _root, driver) = setup("lost-exit");
    let driver = Arc::new(driver);
    hcs.script(|s| {
        s.withhold_exit_notifications = true;
        s.terminate_finds_nothing = true;
    });
    start_sleeper(&driver, "lost-exit");
    driver
        .kill("lost-exit", SIGKILL, false)
        .expect("a kill of what is gone is success");
    // A second kill (the process is "gone" already) is success too.
    driver
        .kill("lost-exit", SIGKILL, false)
        .expect("a double kill");
    // Released after the grace; the clean-up's shutdown then ended the process for real, and
    // the status it gives when asked once more is its code.
    let status = wait_within(&driver, "lost-exit", Duration::from_secs(5)).unwrap();
    assert_eq!(status, exited(STATUS_CONTROL_C_EXIT));
}

#[test]
fn a_double_kill_is_success() {
    let (hcs, _root, driver) = setup("double");
    let driver = Arc::new(driver);
    hcs.script(|s| s.withhold_exit_notifications = true);
    start_sleeper(&driver, "double");
    driver.kill("double", SIGKILL, false).expect("first kill");
    // HCS says it has stopped already (in the 0xC037 form); the lifecycle has not seen the
    // exit yet.
    driver.kill("double", SIGTERM, false).expect("second kill");
    assert_eq!(
        wait_within(&driver, "double", Duration::from_secs(5)).unwrap(),
        killed(TERMINATED_EXIT_CODE, SIGKILL)
    );
}

#[test]
fn a_container_that_exits_while_an_exec_runs_ends_the_exec() {
    let (_hcs, _root, driver) = setup("exec-outlived");
    let driver = Arc::new(driver);
    start_sleeper(&driver, "exec-outlived");
    let running = driver.clone();
    let exec = std::thread::spawn(move || {
        running.exec(
            "exec-outlived",
            &program(["sleep"]),
            &Stdio::null(),
            Arc::new(NoHooks),
        )
    });
    std::thread::sleep(Duration::from_millis(100));
    driver.kill("exec-outlived", SIGKILL, false).unwrap();
    assert_eq!(
        wait_within(&driver, "exec-outlived", Duration::from_secs(5)).unwrap(),
        killed(TERMINATED_EXIT_CODE, SIGKILL)
    );
    // The system was shut down after the init's exit: the exec got its control event.
    let status = exec.join().unwrap().expect("the exec's status");
    assert_eq!(status, exited(STATUS_CONTROL_C_EXIT));
}

#[test]
fn resize_sets_the_console_size_and_is_refused_after_exit() {
    let (hcs, _root, driver) = setup("resize");
    let mut process = program(["sleep"]);
    process.tty = true;
    process.console_size = Some(runtime_core::ConsoleSize { rows: 24, cols: 80 });
    driver
        .create(
            &command("resize", process),
            &Stdio::null(),
            Arc::new(NoHooks),
        )
        .unwrap();
    driver.start("resize").unwrap();
    let pid = driver.state("resize").unwrap().pid as u32;
    driver.resize("resize", 40, 120).expect("resize");
    assert_eq!(hcs.console_sizes("resize", pid), vec![(40, 120)]);
    let created = &hcs.documents_of("HcsCreateProcess")[0];
    assert_eq!(created["EmulateConsole"], true);
    assert_eq!(
        created["CreateStdInPipe"], true,
        "a console always has its stdin pipe"
    );
    driver.kill("resize", SIGKILL, false).unwrap();
    driver.wait("resize").unwrap();
    let error = driver.resize("resize", 50, 100).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidState, "{error}");
    // Without a console there is nothing to resize.
    start_sleeper(&driver, "no-console");
    let error = driver.resize("no-console", 50, 100).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidState, "{error}");
    driver.delete("no-console", true).unwrap();
}

#[test]
fn an_operation_timeout_fails_the_create_and_leaves_nothing() {
    let (hcs, root, driver) = setup("timeout");
    let before = residue(&hcs, &root);
    hcs.fail_next(
        "HcsStartComputeSystem",
        HCS_E_OPERATION_TIMEOUT,
        "timed out",
    );
    let error = driver
        .create(
            &command("timeout", program(["sleep"])),
            &Stdio::null(),
            Arc::new(NoHooks),
        )
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::System, "{error}");
    assert!(
        error.to_string().contains("HCS_E_OPERATION_TIMEOUT"),
        "{error}"
    );
    assert_eq!(residue(&hcs, &root).diff(&before), None);
    assert_eq!(
        driver.state("timeout").unwrap_err().kind(),
        ErrorKind::NotFound
    );
}

#[test]
fn both_forms_of_an_hcs_error_code_are_understood() {
    let (hcs, root, driver) = setup("forms");
    let before = residue(&hcs, &root);
    for hresult in [
        HCS_E_SYSTEM_ALREADY_EXISTS,
        HCS_E_SYSTEM_ALREADY_EXISTS | 0x4000_0000,
    ] {
        hcs.fail_next("HcsCreateComputeSystem", hresult, "exists");
        let error = driver
            .create(
                &command("forms", program(["sleep"])),
                &Stdio::null(),
                Arc::new(NoHooks),
            )
            .unwrap_err();
        assert_eq!(
            error.kind(),
            ErrorKind::AlreadyExists,
            "{hresult:#x}: {error}"
        );
    }
    assert_eq!(residue(&hcs, &root).diff(&before), None);
}

#[test]
fn a_lost_service_ends_every_wait_with_an_error() {
    let (hcs, _root, driver) = setup("disconnect");
    let driver = Arc::new(driver);
    start_sleeper(&driver, "disconnect");
    let execing = driver.clone();
    let exec = std::thread::spawn(move || {
        execing.exec(
            "disconnect",
            &program(["sleep"]),
            &Stdio::null(),
            Arc::new(NoHooks),
        )
    });
    driver
        .create(
            &command("never-started", program(["sleep"])),
            &Stdio::null(),
            Arc::new(NoHooks),
        )
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    hcs.disconnect();
    for id in ["disconnect", "never-started"] {
        let error = wait_within(&driver, id, Duration::from_secs(5)).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::System, "{id}: {error}");
        assert!(
            error.to_string().contains("HCS_E_SERVICE_DISCONNECT"),
            "{error}"
        );
        assert_eq!(driver.state(id).unwrap().status, Status::Stopped);
    }
    let error = exec.join().unwrap().unwrap_err();
    assert_eq!(error.kind(), ErrorKind::System, "{error}");
    for id in ["disconnect", "never-started"] {
        driver
            .delete(id, true)
            .expect("delete after the service is gone");
    }
    assert!(hcs.open_handles().is_empty(), "{:?}", hcs.open_handles());
}

#[test]
fn oom_never_fires_on_windows() {
    let (_hcs, _root, driver) = setup("oom");
    let recorder = Arc::new(Recorder::default());
    let mut limited = command("oom", program(["exit", "0"]));
    limited.resources.memory_limit = Some(64 << 20);
    let status = driver
        .run(&limited, &Stdio::null(), recorder.clone())
        .unwrap();
    assert!(!status.oom_killed);
    assert!(!recorder.0.lock().iter().any(|e| e == "oom"));
}

#[test]
fn a_new_driver_takes_the_containers_back_with_their_true_exit_codes() {
    let hcs = FakeHcs::new();
    let root = fresh_root("recovery");
    let options = WindowsOptions {
        root: root.clone(),
        keep_containers: true,
        timeouts: common::TEST_TIMEOUTS,
    };
    let first = HcsDriver::with_hcs(hcs.clone(), options.clone()).unwrap();
    start_sleeper(&first, "kept-running");
    first
        .create(
            &command("kept-created", program(["exit", "5"])),
            &Stdio::null(),
            Arc::new(NoHooks),
        )
        .unwrap();
    let running_pid = first.state("kept-running").unwrap().pid;
    drop(first);

    let second = Arc::new(HcsDriver::with_hcs(hcs.clone(), options).unwrap());
    assert!(
        second.recovery_report().is_empty(),
        "{:?}",
        second.recovery_report()
    );
    let running = second.state("kept-running").unwrap();
    assert_eq!(
        (running.status, running.pid),
        (Status::Running, running_pid)
    );
    assert_eq!(
        second.state("kept-created").unwrap().status,
        Status::Created
    );
    // HCS tells any handle the exit code: a recovered container's is the true one.
    hcs.exit_process("kept-running", running_pid as u32, 9);
    assert_eq!(
        wait_within(&second, "kept-running", Duration::from_secs(5)).unwrap(),
        exited(9)
    );
    // A created one stays startable.
    second.start("kept-created").expect("start after recovery");
    assert_eq!(
        wait_within(&second, "kept-created", Duration::from_secs(5)).unwrap(),
        exited(5)
    );
    for id in ["kept-running", "kept-created"] {
        second.delete(id, false).unwrap();
    }
    drop(second);
    assert!(hcs.open_handles().is_empty() && hcs.live_systems().is_empty());
    let _ = std::fs::remove_dir(&root);
}

#[test]
fn a_recovered_container_whose_system_is_gone_is_listed_stopped_until_deleted() {
    let hcs = FakeHcs::new();
    let root = fresh_root("gone");
    let options = WindowsOptions {
        root: root.clone(),
        keep_containers: true,
        timeouts: common::TEST_TIMEOUTS,
    };
    let first = HcsDriver::with_hcs(hcs.clone(), options.clone()).unwrap();
    start_sleeper(&first, "gone");
    drop(first);
    // The system stops while no driver holds it: opening it then answers 0xC037010E.
    {
        use runtime_windows::hcs::Hcs;
        let system = hcs.open_system("gone").unwrap();
        hcs.terminate_system(&system, Duration::from_secs(1))
            .unwrap();
        hcs.close_system(system);
    }
    let second = HcsDriver::with_hcs(hcs.clone(), options).unwrap();
    assert!(second.recovery_report().is_empty());
    // HCS kept no exit of a process nobody watched: the status is unknown.
    let state = second.state("gone").unwrap();
    assert_eq!(state.status, Status::Stopped);
    assert_eq!(state.exit_status, Some(ExitStatus::unknown()));
    assert_eq!(second.wait("gone").unwrap(), ExitStatus::unknown());
    assert_eq!(
        second.start("gone").unwrap_err().kind(),
        ErrorKind::InvalidState
    );
    second.delete("gone", false).unwrap();
    assert_eq!(
        second.state("gone").unwrap_err().kind(),
        ErrorKind::NotFound
    );
    assert_eq!(std::fs::read_dir(&root).unwrap().count(), 0);
    drop(second);
    assert!(hcs.open_handles().is_empty());
    let _ = std::fs::remove_dir(&root);
}

#[test]
fn bad_input_is_refused_before_anything_is_made() {
    let (hcs, root, driver) = setup("refusals");
    let before = residue(&hcs, &root);
    let mut no_windows = command("refused", program(["exit", "0"]));
    no_windows.windows = None;
    let error = driver
        .create(&no_windows, &Stdio::null(), Arc::new(NoHooks))
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidArgument, "{error}");
    let mut linux_only = command("refused", program(["exit", "0"]));
    linux_only
        .sysctls
        .insert("net.ipv4.ip_forward".into(), "1".into());
    let error = driver
        .create(&linux_only, &Stdio::null(), Arc::new(NoHooks))
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Unsupported, "{error}");
    assert!(error.to_string().contains("sysctls"), "{error}");
    assert_eq!(residue(&hcs, &root).diff(&before), None);
    assert!(hcs.documents_of("HcsCreateComputeSystem").is_empty());
}
