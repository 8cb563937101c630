//! `ComputeCore`, the real `Hcs`, against the fake `computecore.dll` and `vmcompute.dll` of
//! tests/windows (built and run under wine by scripts/windows-tests.sh). Windows only.
//!
//! The fakes come from the directory in `BERTH_TEST_COMPUTECORE_DIR` (see
//! tests/windows/build.sh for what it holds); without it these tests say so and pass.
#![cfg(windows)]

use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Receiver};
use std::sync::Arc;
use std::time::{Duration, Instant};

use runtime_windows::computecore::{cancel_blocking_read, ComputeCore};
use runtime_windows::hcs::{
    Hcs, HcsErrorKind, HcsEvent, E_FILE_NOT_FOUND, E_INVALIDARG, E_NOT_FOUND, HCS_E_INVALID_JSON,
    HCS_E_INVALID_STATE, HCS_E_OPERATION_TIMEOUT, HCS_E_PROCESS_ALREADY_STOPPED,
    HCS_E_SYSTEM_ALREADY_EXISTS, HCS_E_SYSTEM_ALREADY_STOPPED, HCS_E_SYSTEM_NOT_FOUND,
};
use serde_json::Value;

const LONG: Duration = Duration::from_secs(10);
const QUERY: &str = r#"{"PropertyTypes":["Statistics"]}"#;

fn fakes() -> Option<PathBuf> {
    match std::env::var_os("BERTH_TEST_COMPUTECORE_DIR") {
        Some(dir) => Some(PathBuf::from(dir)),
        None => {
            eprintln!("BERTH_TEST_COMPUTECORE_DIR is not set: no fake computecore.dll to test");
            None
        }
    }
}

fn hcs() -> Option<ComputeCore> {
    let dir = fakes()?;
    Some(ComputeCore::load_from(&dir).expect("the fake computecore.dll loads"))
}

/// A fresh system id for each test (the fake keeps systems for the life of the process).
fn id(name: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!("{name}-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

fn events() -> (Arc<dyn Fn(HcsEvent) + Send + Sync>, Receiver<HcsEvent>) {
    let (tx, rx) = channel();
    let tx = std::sync::Mutex::new(tx);
    (
        Arc::new(move |event| {
            let _ = tx.lock().unwrap().send(event);
        }),
        rx,
    )
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

fn running(hcs: &ComputeCore, name: &str) -> <ComputeCore as Hcs>::System {
    let system = hcs.create_system(&id(name), "{}", LONG).unwrap();
    hcs.start_system(&system, LONG).unwrap();
    system
}

fn params(command: &str, stdin: bool, stdout: bool, stderr: bool) -> String {
    serde_json::json!({
        "CommandLine": command,
        "CreateStdInPipe": stdin,
        "CreateStdOutPipe": stdout,
        "CreateStdErrPipe": stderr,
    })
    .to_string()
}

fn exit_code(event: HcsEvent) -> u64 {
    match event {
        HcsEvent::ProcessExited(Some(data)) => json(&data)["ExitCode"].as_u64().unwrap(),
        other => panic!("not a process exit: {other:?}"),
    }
}

#[test]
fn load_from_system32_only_and_name_what_is_missing() {
    // Under wine (and on a Windows without HCS) System32 has no computecore.dll.
    match ComputeCore::load() {
        Ok(_) => eprintln!("this Windows has computecore.dll"),
        Err(runtime_core::Error::Unsupported(message)) => {
            assert!(message.contains("computecore.dll"), "{message}");
            assert!(message.contains("System32"), "{message}");
            assert!(message.contains("1809"), "{message}");
        }
        Err(other) => panic!("{other:?}"),
    }
    let empty = std::env::temp_dir().join(format!("berth-no-hcs-{}", std::process::id()));
    std::fs::create_dir_all(&empty).unwrap();
    match ComputeCore::load_from(&empty) {
        Err(runtime_core::Error::Unsupported(message)) => {
            assert!(
                message.contains("computecore.dll: not found in"),
                "{message}"
            )
        }
        other => panic!("{other:?}"),
    }
    let Some(dir) = fakes() else { return };
    match ComputeCore::load_from(dir.join("partial")) {
        Err(runtime_core::Error::Unsupported(message)) => {
            assert!(message.contains("HcsCancelOperation"), "{message}");
            assert!(message.contains("computecore.dll"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_system_lives_its_lifecycle_with_callbacks() {
    let Some(hcs) = hcs() else { return };
    let name = id("life");
    let system = hcs.create_system(&name, r#"{"SchemaVersion":{"Major":2,"Minor":1}}"#, LONG);
    let system = system.unwrap();
    let (callback, exits) = events();
    hcs.set_system_callback(&system, callback).unwrap();
    hcs.start_system(&system, LONG).unwrap();

    let properties = json(&hcs.system_properties(&system, QUERY, LONG).unwrap());
    assert_eq!(properties["Id"], name.as_str());
    assert_eq!(properties["State"], "Running");
    assert_eq!(
        properties["Statistics"]["Memory"]["MemoryUsageCommitBytes"],
        1048576
    );

    hcs.pause_system(&system, LONG).unwrap();
    // Pausing twice: the 0xC037xxxx form of HCS_E_INVALID_STATE, with a JSON result.
    let error = hcs.pause_system(&system, LONG).unwrap_err();
    assert_eq!(error.hresult, 0xC037_0105);
    assert_eq!(error.normalized(), HCS_E_INVALID_STATE);
    assert_eq!(error.kind(), HcsErrorKind::InvalidState);
    assert!(error
        .message()
        .unwrap()
        .contains("not valid in the current state"));
    hcs.resume_system(&system, LONG).unwrap();

    hcs.modify_system(&system, r#"{"ResourcePath":"x"}"#, LONG)
        .unwrap();
    let error = hcs.modify_system(&system, "not json", LONG).unwrap_err();
    assert_eq!(error.hresult, HCS_E_INVALID_JSON);
    assert_eq!(error.kind(), HcsErrorKind::Invalid);
    assert_eq!(error.call, "HcsModifyComputeSystem");
    assert_eq!(
        error.message().as_deref(),
        Some("fake: the document is not JSON")
    );
    let properties = json(&hcs.system_properties(&system, QUERY, LONG).unwrap());
    assert_eq!(properties["FakeModified"], 1);

    // Another handle on the same system sees its exit too.
    let other = hcs.open_system(&name).unwrap();
    let (callback, other_exits) = events();
    hcs.set_system_callback(&other, callback).unwrap();

    hcs.shut_down_system(&system, LONG).unwrap();
    for rx in [&exits, &other_exits] {
        match rx.recv_timeout(LONG).unwrap() {
            HcsEvent::SystemExited(Some(data)) => {
                assert_eq!(json(&data)["ExitType"], "GracefulExit")
            }
            other => panic!("{other:?}"),
        }
    }
    let error = hcs.shut_down_system(&system, LONG).unwrap_err();
    assert_eq!(error.normalized(), HCS_E_SYSTEM_ALREADY_STOPPED);
    assert_eq!(error.kind(), HcsErrorKind::AlreadyStopped);
    hcs.close_system(other);
    hcs.close_system(system);
}

#[test]
fn failures_give_their_hresult_and_result_document() {
    let Some(hcs) = hcs() else { return };
    // The 0xC037xxxx form, from the operation, with a JSON result document.
    let error = hcs.create_system("fail-create", "{}", LONG).unwrap_err();
    assert_eq!(error.call, "HcsCreateComputeSystem");
    assert_eq!(error.hresult, 0xC037_010E);
    assert_eq!(error.normalized(), HCS_E_SYSTEM_NOT_FOUND);
    assert_eq!(
        error.message().as_deref(),
        Some("fake: scripted create failure")
    );
    assert!(
        error.to_string().contains("HCS_E_SYSTEM_NOT_FOUND"),
        "{error}"
    );

    let name = id("twice");
    let system = hcs.create_system(&name, "{}", LONG).unwrap();
    let error = hcs.create_system(&name, "{}", LONG).unwrap_err();
    assert_eq!(error.hresult, HCS_E_SYSTEM_ALREADY_EXISTS);
    assert_eq!(error.kind(), HcsErrorKind::AlreadyExists);
    assert!(error.message().unwrap().contains("already exists"));
    hcs.close_system(system);

    // From the call itself (no operation result): HRESULT and no document.
    let error = hcs.open_system(&id("nobody")).unwrap_err();
    assert_eq!(
        (error.hresult, error.result.clone()),
        (HCS_E_SYSTEM_NOT_FOUND, None)
    );
    assert_eq!(error.kind(), HcsErrorKind::NotFound);
    let system = hcs.create_system("fail-call", "{}", LONG).unwrap();
    let error = hcs.start_system(&system, LONG).unwrap_err();
    assert_eq!((error.hresult, error.result.clone()), (E_INVALIDARG, None));
    hcs.close_system(system);

    // A plain-text result document.
    let system = hcs.create_system("fail-start", "{}", LONG).unwrap();
    let error = hcs.start_system(&system, LONG).unwrap_err();
    assert_eq!(error.hresult, HCS_E_INVALID_STATE);
    assert_eq!(
        error.message().as_deref(),
        Some("fake: the system cannot start")
    );
    hcs.close_system(system);

    // A NUL inside a string never reaches HCS.
    let error = hcs.create_system("a\0b", "{}", LONG).unwrap_err();
    assert_eq!(error.hresult, E_INVALIDARG);
    assert!(error.message().unwrap().contains("NUL"));
}

#[test]
fn an_operation_that_runs_out_of_time_is_cancelled() {
    let Some(hcs) = hcs() else { return };
    let system = hcs.create_system("hang", "{}", LONG).unwrap();
    let started = Instant::now();
    let error = hcs
        .start_system(&system, Duration::from_millis(200))
        .unwrap_err();
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(190) && took < Duration::from_secs(5),
        "{took:?}"
    );
    assert_eq!(error.hresult, HCS_E_OPERATION_TIMEOUT);
    assert_eq!(error.kind(), HcsErrorKind::Timeout);
    let properties = json(&hcs.system_properties(&system, QUERY, LONG).unwrap());
    assert_eq!(
        properties["FakeCancelled"], 1,
        "HcsCancelOperation was called once"
    );
    hcs.close_system(system);

    // An operation that completes on another thread, within its time.
    let system = hcs.create_system("slow", "{}", LONG).unwrap();
    hcs.start_system(&system, LONG).unwrap();
    let properties = json(&hcs.system_properties(&system, QUERY, LONG).unwrap());
    assert_eq!(properties["State"], "Running");
    assert_eq!(properties["FakeCancelled"], 0);
    hcs.close_system(system);
}

#[test]
fn a_process_runs_with_its_pipes_and_reports_its_exit() {
    let Some(hcs) = hcs() else { return };
    let system = running(&hcs, "proc");
    let parameters = params(
        "fake cat; print done; eprint oops; exit 3",
        true,
        true,
        true,
    );
    let (process, mut info) = hcs.create_process(&system, &parameters, LONG).unwrap();
    assert!(info.pid >= 100, "{info:?}");
    let (callback, exits) = events();
    hcs.set_process_callback(&process, callback).unwrap();

    let mut stdin = info.stdin.take().unwrap();
    stdin.write_all("héllo ".as_bytes()).unwrap();
    drop(stdin);
    let mut stdout = String::new();
    info.stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    assert_eq!(stdout, "héllo done\n");
    let mut stderr = String::new();
    info.stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(stderr, "oops\n");
    assert_eq!(exit_code(exits.recv_timeout(LONG).unwrap()), 3);

    let status = json(&hcs.process_properties(&process, LONG).unwrap());
    assert_eq!(status["Exited"], true);
    assert_eq!(status["ExitCode"], 3);
    assert_eq!(status["ProcessId"], info.pid);
    let error = hcs.terminate_process(&process, LONG).unwrap_err();
    assert_eq!(error.normalized(), HCS_E_PROCESS_ALREADY_STOPPED);
    assert_eq!(error.kind(), HcsErrorKind::AlreadyStopped);

    // Opened again by pid; an unknown pid is not found.
    let again = hcs.open_process(&system, info.pid).unwrap();
    hcs.close_process(again);
    let error = hcs.open_process(&system, 99_999).unwrap_err();
    assert_eq!(
        (error.hresult, error.kind()),
        (E_NOT_FOUND, HcsErrorKind::NotFound)
    );
    hcs.close_process(process);

    // No pipe asked for, none given.
    let only_out = params("fake exit 0", false, true, false);
    let (process, info) = hcs.create_process(&system, &only_out, LONG).unwrap();
    assert!(info.stdin.is_none() && info.stderr.is_none() && info.stdout.is_some());
    hcs.close_process(process);
    hcs.terminate_system(&system, LONG).unwrap();
    hcs.close_system(system);
}

#[test]
fn processes_are_terminated_signalled_and_modified() {
    let Some(hcs) = hcs() else { return };
    let system = running(&hcs, "kill");
    let wait = params("fake wait", false, false, false);

    let (process, _) = hcs.create_process(&system, &wait, LONG).unwrap();
    let (callback, exits) = events();
    hcs.set_process_callback(&process, callback).unwrap();
    hcs.modify_process(
        &process,
        r#"{"Operation":"CloseHandle","CloseHandle":{"Handle":"StdIn"}}"#,
        LONG,
    )
    .unwrap();
    let error = hcs.modify_process(&process, "{}", LONG).unwrap_err();
    assert_eq!(error.hresult, HCS_E_INVALID_JSON);
    hcs.terminate_process(&process, LONG).unwrap();
    assert_eq!(exit_code(exits.recv_timeout(LONG).unwrap()), 1);
    hcs.close_process(process);

    let (process, _) = hcs.create_process(&system, &wait, LONG).unwrap();
    let (callback, exits) = events();
    hcs.set_process_callback(&process, callback).unwrap();
    let error = hcs.signal_process(&process, "", LONG).unwrap_err();
    assert_eq!(error.kind(), HcsErrorKind::Invalid);
    hcs.signal_process(&process, r#"{"Signal":"CtrlC"}"#, LONG)
        .unwrap();
    assert_eq!(exit_code(exits.recv_timeout(LONG).unwrap()), 0xC000_013A);
    hcs.close_process(process);

    // A terminated system's processes end too.
    let (process, _) = hcs.create_process(&system, &wait, LONG).unwrap();
    let (callback, exits) = events();
    hcs.set_process_callback(&process, callback).unwrap();
    hcs.terminate_system(&system, LONG).unwrap();
    assert_eq!(exit_code(exits.recv_timeout(LONG).unwrap()), 1);
    hcs.close_process(process);
    hcs.close_system(system);
}

#[test]
fn process_creation_failures_and_timeouts() {
    let Some(hcs) = hcs() else { return };
    let system = running(&hcs, "procfail");
    let missing = params("fake missing", true, true, true);
    let error = hcs.create_process(&system, &missing, LONG).unwrap_err();
    assert_eq!(error.call, "HcsCreateProcess");
    assert_eq!(
        (error.hresult, error.kind()),
        (E_FILE_NOT_FOUND, HcsErrorKind::FileNotFound)
    );
    assert_eq!(
        error.message().as_deref(),
        Some("The system cannot find the file specified.")
    );

    let hang = params("fake hang", false, false, false);
    let error = hcs
        .create_process(&system, &hang, Duration::from_millis(100))
        .unwrap_err();
    assert_eq!(error.hresult, HCS_E_OPERATION_TIMEOUT);
    let properties = json(&hcs.system_properties(&system, QUERY, LONG).unwrap());
    assert_eq!(properties["FakeCancelled"], 1);

    let error = hcs.system_properties(&system, "", LONG).unwrap_err();
    assert_eq!(error.kind(), HcsErrorKind::Invalid);
    hcs.terminate_system(&system, LONG).unwrap();
    hcs.close_system(system);
}

#[test]
fn closing_waits_for_callbacks_and_frees_them() {
    let Some(hcs) = hcs() else { return };
    let system = running(&hcs, "close");
    let wait = params("fake wait", false, false, false);
    let (process, _) = hcs.create_process(&system, &wait, LONG).unwrap();

    // A slow callback: closing while it runs waits for it; after the close nothing holds it.
    let started = Arc::new(AtomicBool::new(false));
    let finished = Arc::new(AtomicBool::new(false));
    let (s, f) = (started.clone(), finished.clone());
    hcs.set_process_callback(
        &process,
        Arc::new(move |_| {
            s.store(true, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(300));
            f.store(true, Ordering::SeqCst);
        }),
    )
    .unwrap();
    hcs.terminate_process(&process, LONG).unwrap();
    let deadline = Instant::now() + LONG;
    while !started.load(Ordering::SeqCst) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(started.load(Ordering::SeqCst));
    hcs.close_process(process);
    assert!(
        finished.load(Ordering::SeqCst),
        "close returned while a callback ran"
    );
    assert_eq!(Arc::strong_count(&started), 1, "the callback was freed");

    // A callback that panics does not take the process down.
    let (process, _) = hcs.create_process(&system, &wait, LONG).unwrap();
    let (callback, exits) = events();
    hcs.set_process_callback(&process, Arc::new(|_| panic!("a callback panics")))
        .unwrap();
    let again = hcs.open_process(&system, {
        let status = json(&hcs.process_properties(&process, LONG).unwrap());
        status["ProcessId"].as_u64().unwrap() as u32
    });
    let again = again.unwrap();
    hcs.set_process_callback(&again, callback).unwrap();
    hcs.terminate_process(&process, LONG).unwrap();
    assert_eq!(exit_code(exits.recv_timeout(LONG).unwrap()), 1);
    hcs.close_process(again);
    hcs.close_process(process);
    hcs.terminate_system(&system, LONG).unwrap();
    hcs.close_system(system);
}

#[test]
fn a_blocking_read_is_cancelled() {
    let Some(hcs) = hcs() else { return };
    let system = running(&hcs, "cancelio");
    let wait = params("fake wait", false, true, false);
    let (process, mut info) = hcs.create_process(&system, &wait, LONG).unwrap();
    let mut stdout = info.stdout.take().unwrap();
    let (tx, rx) = channel();
    let reader = std::thread::spawn(move || {
        let mut buffer = [0u8; 16];
        let _ = tx.send(stdout.read(&mut buffer).map_err(|e| e.kind()));
    });
    // The read is in progress once the thread has blocked; retry until it returns.
    let deadline = Instant::now() + LONG;
    let result = loop {
        std::thread::sleep(Duration::from_millis(50));
        cancel_blocking_read(&reader);
        if let Ok(result) = rx.try_recv() {
            break result;
        }
        assert!(Instant::now() < deadline, "the read was never cancelled");
    };
    assert!(result.is_err(), "{result:?}");
    reader.join().unwrap();
    hcs.terminate_process(&process, LONG).unwrap();
    hcs.close_process(process);
    hcs.terminate_system(&system, LONG).unwrap();
    hcs.close_system(system);
}

#[test]
fn layer_ids_come_from_name_to_guid() {
    let Some(dir) = fakes() else { return };
    let hcs = ComputeCore::load_from(&dir).unwrap();
    let expected = "00000004-1234-5678-6261-736500000000";
    assert_eq!(hcs.layer_id(r"C:\layers\base").unwrap(), expected);
    assert_eq!(hcs.layer_id(r"C:\layers\base\").unwrap(), expected);
    assert_eq!(hcs.layer_id("base").unwrap(), expected);
    let error = hcs.layer_id(r"C:\fail").unwrap_err();
    assert_eq!((error.call, error.hresult), ("NameToGuid", E_INVALIDARG));

    // vmcompute.dll is loaded on first use: its absence is only an error of layer_id.
    let hcs = ComputeCore::load_from(dir.join("novm")).unwrap();
    let error = hcs.layer_id("base").unwrap_err();
    assert!(
        error
            .message()
            .unwrap()
            .contains("vmcompute.dll: not found"),
        "{error}"
    );
}
