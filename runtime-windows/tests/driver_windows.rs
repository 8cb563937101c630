//! The whole Windows driver, built for Windows, over the real loader of `computecore.dll`
//! (`ComputeCore`) and the fake DLL of `tests/windows` (under wine in CI): the documents go
//! through UTF-16, the callbacks come from the DLL's threads, the streams are real pipe
//! `HANDLE`s relayed by the driver, and a caller's stdin that never ends is let go with
//! `CancelSynchronousIo`.

#![cfg(windows)]

use std::io::{Read, Write};
use std::os::windows::io::AsRawHandle;
use std::path::PathBuf;
use std::sync::Arc;

use runtime_core::{Command, Driver, ExitStatus, NoHooks, ProcessConfig, Stdio, WindowsConfig};
use runtime_windows::computecore::ComputeCore;
use runtime_windows::platform::Timeouts;
use runtime_windows::{HcsDriver, WindowsOptions};

fn driver(name: &str) -> Option<(HcsDriver<ComputeCore>, PathBuf)> {
    let Some(dir) = std::env::var_os("BERTH_TEST_COMPUTECORE_DIR") else {
        eprintln!("BERTH_TEST_COMPUTECORE_DIR is not set: no fake computecore.dll to test");
        return None;
    };
    let hcs = ComputeCore::load_from(&PathBuf::from(dir)).expect("the fake computecore.dll");
    let root = std::env::temp_dir().join(format!("berth-{name}-{}", std::process::id()));
    let options = WindowsOptions {
        root: root.clone(),
        keep_containers: false,
        timeouts: Timeouts {
            operation_ms: 5_000,
            shutdown_ms: 1_000,
            exit_grace_ms: 1_000,
        },
    };
    Some((HcsDriver::with_hcs(hcs, options).expect("HcsDriver"), root))
}

/// A container of the fake running `statements` ("print hello; exit 3").
fn command(id: &str, statements: &str) -> Command {
    let mut args = vec!["fake".to_string()];
    args.extend(statements.split(' ').map(str::to_string));
    let mut command = Command::new(id, r"C:\fake\volume", ProcessConfig::new(args));
    command.windows = Some(WindowsConfig {
        layer_folders: vec![r"C:\layers\base".into(), format!(r"C:\layers\{id}-scratch")],
        ..WindowsConfig::default()
    });
    command
}

fn handle(stream: &impl AsRawHandle) -> isize {
    stream.as_raw_handle() as isize
}

#[test]
fn a_container_runs_with_its_exit_code_and_output() {
    let Some((driver, root)) = driver("run") else {
        return;
    };
    let (mut read, write) = std::io::pipe().unwrap();
    let stdio = Stdio {
        stdin: None,
        stdout: Some(handle(&write)),
        stderr: None,
        extra: Vec::new(),
    };
    let status = driver
        .run(
            &command("run", "print hello; exit 3"),
            &stdio,
            Arc::new(NoHooks),
        )
        .expect("run");
    drop(write);
    assert_eq!(status, ExitStatus::exited(3));
    let mut out = String::new();
    read.read_to_string(&mut out).unwrap();
    assert_eq!(out, "hello\n");
    assert_eq!(
        std::fs::read_dir(&root).unwrap().count(),
        0,
        "state left behind"
    );
}

#[test]
fn stdin_reaches_the_process_and_sigkill_terminates() {
    let Some((driver, _root)) = driver("stdin") else {
        return;
    };
    let (stdin_read, mut stdin_write) = std::io::pipe().unwrap();
    let (mut out_read, out_write) = std::io::pipe().unwrap();
    let stdio = Stdio {
        stdin: Some(handle(&stdin_read)),
        stdout: Some(handle(&out_write)),
        stderr: None,
        extra: Vec::new(),
    };
    driver
        .create(&command("cat", "cat"), &stdio, Arc::new(NoHooks))
        .expect("create");
    drop((stdin_read, out_write));
    driver.start("cat").expect("start");
    stdin_write.write_all(b"through the pipe\n").unwrap();
    drop(stdin_write);
    assert_eq!(driver.wait("cat").unwrap(), ExitStatus::exited(0));
    let mut out = String::new();
    out_read.read_to_string(&mut out).unwrap();
    assert_eq!(out, "through the pipe\n");
    driver.delete("cat", false).unwrap();

    // A caller's stdin that never ends does not hold the container after its end.
    let (endless, _kept_open) = std::io::pipe().unwrap();
    let stdio = Stdio {
        stdin: Some(handle(&endless)),
        stdout: None,
        stderr: None,
        extra: Vec::new(),
    };
    driver
        .create(&command("killed", "wait"), &stdio, Arc::new(NoHooks))
        .unwrap();
    driver.start("killed").unwrap();
    assert!(driver.state("killed").unwrap().pid > 0);
    driver.kill("killed", 9, false).expect("kill");
    let status = driver.wait("killed").unwrap();
    assert_eq!((status.code, status.signal), (1, Some(9)));
    driver.delete("killed", false).unwrap();
}

#[test]
fn an_exec_runs_beside_the_init() {
    let Some((driver, _root)) = driver("exec") else {
        return;
    };
    driver
        .create(&command("exec", "wait"), &Stdio::null(), Arc::new(NoHooks))
        .unwrap();
    driver.start("exec").unwrap();
    let process = ProcessConfig::new(["fake", "exit", "7"]);
    let status = driver
        .exec("exec", &process, &Stdio::null(), Arc::new(NoHooks))
        .expect("exec");
    assert_eq!(status, ExitStatus::exited(7));
    driver.delete("exec", true).expect("delete");
}
