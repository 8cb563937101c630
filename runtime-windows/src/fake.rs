//! A fake Host Compute Service, for testing the driver on any system: compute systems and
//! processes in memory, with real pipes for the processes' streams and callbacks from other
//! threads, as HCS gives them.
//!
//! Its processes run a small language instead of programs: the command line (parsed back with
//! [`crate::command_line::split`], so the escaping is tested on every run) must start with
//! [`PROGRAM`], followed by one of
//!
//! | arguments              | the process                                                     |
//! |------------------------|-----------------------------------------------------------------|
//! | `exit N`               | exits with N (a u32)                                            |
//! | `print OUT ERR`        | writes OUT to stdout and ERR to stderr, exits 0                 |
//! | `cat`                  | copies stdin to stdout until its end, exits 0                   |
//! | `printenv NAME`        | prints the variable's value and a newline                       |
//! | `printcwd`             | prints its working directory (`/` when none was given)          |
//! | `hostname`             | prints the system's `GuestOs.HostName`                          |
//! | `isatty`               | exits 0 with `EmulateConsole`, 1 without                        |
//! | `sleep`                | waits until it is ended                                          |
//! | `on CTRL N`            | prints `ready`, then exits N when it gets the control event CTRL |
//! | `counter`              | prints 1, 2, 3, ... every 10 ms (not while the system is paused) |
//!
//! A control event a process does not handle ends it with [`STATUS_CONTROL_C_EXIT`], as
//! Windows' default handler does; `HcsTerminateProcess` ends it with [`TERMINATED_EXIT_CODE`].
//! A command line naming another program fails with `ERROR_FILE_NOT_FOUND`.
//!
//! [`FakeHcs::script`] changes its behaviour for the failure modes: HRESULTs for given calls,
//! withheld notifications, a process that exits before its callback can be set, a shutdown
//! that hangs, a lost service. Every document it is given is recorded ([`FakeHcs::documents`]).

use std::collections::{HashMap, VecDeque};
use std::io::{PipeReader, PipeWriter, Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};
use serde_json::{json, Value};

use crate::command_line;
use crate::hcs::{
    Hcs, HcsCallback, HcsError, HcsEvent, ProcessInfo, E_FILE_NOT_FOUND, E_INVALIDARG,
    HCS_E_INVALID_STATE, HCS_E_OPERATION_TIMEOUT, HCS_E_SYSTEM_ALREADY_EXISTS,
};

/// The program name the fake's processes run.
pub const PROGRAM: &str = "berth-fake.exe";
/// The code of a process that a control event it did not handle ended (`0xC000013A`).
pub const STATUS_CONTROL_C_EXIT: u32 = 0xC000_013A;
/// The code of a process `HcsTerminateProcess` ended.
pub const TERMINATED_EXIT_CODE: u32 = 1;

/// `HCS_E_SYSTEM_NOT_FOUND` in the older form, as vmcompute gives it: the fake answers with
/// both forms, so that the driver is tested with each.
const SYSTEM_NOT_FOUND_OLD_FORM: u32 = 0xC037_010E;
/// `HCS_E_PROCESS_ALREADY_STOPPED` in the older form.
const PROCESS_ALREADY_STOPPED_OLD_FORM: u32 = 0xC037_011F;
/// `HCS_E_SERVICE_DISCONNECT` in the older form.
const SERVICE_DISCONNECT_OLD_FORM: u32 = 0xC037_011E;
/// `HRESULT_FROM_WIN32(ERROR_NOT_FOUND)`.
const ELEMENT_NOT_FOUND: u32 = 0x8007_0490;

/// What the fake does differently, for a test.
#[derive(Debug, Clone, Default)]
pub struct Script {
    /// Calls that fail, by name (`"HcsStartComputeSystem"`): each entry fails one call, with
    /// its HRESULT and result document.
    pub failures: HashMap<&'static str, VecDeque<(u32, Option<String>)>>,
    /// Exits of processes are not notified (their status still says so when asked).
    pub withhold_exit_notifications: bool,
    /// Processes end before `HcsCreateProcess` returns, so before any callback is set.
    pub exit_at_create: Option<u32>,
    /// `HcsShutDownComputeSystem` hangs until its timeout, and is then cancelled.
    pub hang_shutdown: bool,
    /// `HcsTerminateProcess` answers "not found" without ending the process (a process whose
    /// end HCS lost).
    pub terminate_finds_nothing: bool,
}

/// The fake. Clones share it.
#[derive(Clone, Default)]
pub struct FakeHcs {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    state: Mutex<State>,
    script: Mutex<Script>,
    next_handle: AtomicU64,
    /// Operations cancelled after their timeout.
    cancelled: AtomicU64,
}

#[derive(Default)]
struct State {
    systems: HashMap<String, Arc<System>>,
    /// Handles open now, systems' and processes', by handle number.
    open: HashMap<u64, String>,
    documents: Vec<(String, String)>,
    next_pid: u32,
    disconnected: bool,
}

struct System {
    id: String,
    host_name: String,
    life: Mutex<SystemLife>,
    changed: Condvar,
    callbacks: Mutex<HashMap<u64, HcsCallback>>,
    processes: Mutex<HashMap<u32, Arc<Process>>>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum SystemLife {
    #[default]
    Created,
    Running,
    Paused,
    Stopped,
}

struct Process {
    pid: u32,
    console: bool,
    state: Mutex<ProcessState>,
    changed: Condvar,
    callbacks: Mutex<HashMap<u64, HcsCallback>>,
    stdout: Mutex<Option<PipeWriter>>,
    stderr: Mutex<Option<PipeWriter>>,
    withhold: bool,
}

#[derive(Default)]
struct ProcessState {
    exit: Option<u32>,
    /// The control event it handles, and the code it then exits with.
    handler: Option<(String, u32)>,
    console_sizes: Vec<(u16, u16)>,
}

/// An open compute system of the fake.
pub struct FakeSystem {
    handle: u64,
    system: Arc<System>,
}

/// An open process of the fake.
pub struct FakeProcess {
    handle: u64,
    process: Arc<Process>,
}

fn error(call: &'static str, hresult: u32, message: &str) -> HcsError {
    HcsError::new(
        call,
        hresult,
        Some(json!({"Error": hresult as i32, "ErrorMessage": message}).to_string()),
    )
}

impl FakeHcs {
    pub fn new() -> FakeHcs {
        FakeHcs::default()
    }

    /// Changes the script.
    pub fn script(&self, change: impl FnOnce(&mut Script)) {
        change(&mut self.inner.script.lock());
    }

    /// Makes the next `call` fail with `hresult` and a result document with `message`.
    pub fn fail_next(&self, call: &'static str, hresult: u32, message: &str) {
        let document = json!({"Error": hresult as i32, "ErrorMessage": message}).to_string();
        self.script(|s| {
            s.failures
                .entry(call)
                .or_default()
                .push_back((hresult, Some(document)))
        });
    }

    /// Every document given so far, with the call that took it.
    pub fn documents(&self) -> Vec<(String, String)> {
        self.inner.state.lock().documents.clone()
    }

    /// The documents `call` was given.
    pub fn documents_of(&self, call: &str) -> Vec<Value> {
        self.documents()
            .into_iter()
            .filter(|(c, _)| c == call)
            .map(|(_, d)| serde_json::from_str(&d).unwrap_or(Value::String(d)))
            .collect()
    }

    /// The handles open now, as `kind id` lines.
    pub fn open_handles(&self) -> Vec<String> {
        let mut handles: Vec<String> = self.inner.state.lock().open.values().cloned().collect();
        handles.sort();
        handles
    }

    /// The compute systems that exist and have not stopped.
    pub fn live_systems(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .inner
            .state
            .lock()
            .systems
            .values()
            .filter(|s| *s.life.lock() != SystemLife::Stopped)
            .map(|s| s.id.clone())
            .collect();
        ids.sort();
        ids
    }

    /// Operations cancelled after their timeout so far.
    pub fn cancelled_operations(&self) -> u64 {
        self.inner.cancelled.load(Ordering::Acquire)
    }

    /// The console sizes set on process `pid` of system `id`.
    pub fn console_sizes(&self, id: &str, pid: u32) -> Vec<(u16, u16)> {
        let system = self.inner.state.lock().systems.get(id).cloned();
        system
            .and_then(|s| s.processes.lock().get(&pid).cloned())
            .map(|p| p.state.lock().console_sizes.clone())
            .unwrap_or_default()
    }

    /// Ends process `pid` of system `id` with `code`, as if it had exited by itself.
    pub fn exit_process(&self, id: &str, pid: u32, code: u32) {
        let system = self.inner.state.lock().systems.get(id).cloned();
        if let Some(process) = system.and_then(|s| s.processes.lock().get(&pid).cloned()) {
            process.exit(code);
        }
    }

    /// The service goes away: every callback hears `HcsEventServiceDisconnect` and every call
    /// from now on fails.
    pub fn disconnect(&self) {
        let systems: Vec<Arc<System>> = {
            let mut state = self.inner.state.lock();
            state.disconnected = true;
            state.systems.values().cloned().collect()
        };
        for system in systems {
            let processes: Vec<Arc<Process>> = system.processes.lock().values().cloned().collect();
            for process in processes {
                notify(&process.callbacks, HcsEvent::ServiceDisconnect);
            }
            notify(&system.callbacks, HcsEvent::ServiceDisconnect);
        }
    }

    /// The common start of every call: a scripted failure, or a lost service.
    fn enter(&self, call: &'static str, document: Option<&str>) -> Result<(), HcsError> {
        let mut state = self.inner.state.lock();
        if let Some(document) = document {
            state.documents.push((call.into(), document.into()));
        }
        if state.disconnected {
            return Err(error(
                call,
                SERVICE_DISCONNECT_OLD_FORM,
                "the service has disconnected",
            ));
        }
        drop(state);
        let failure = self
            .inner
            .script
            .lock()
            .failures
            .get_mut(call)
            .and_then(VecDeque::pop_front);
        match failure {
            Some((hresult, document)) => Err(HcsError::new(call, hresult, document)),
            None => Ok(()),
        }
    }

    fn open(&self, what: String) -> u64 {
        let handle = self.inner.next_handle.fetch_add(1, Ordering::AcqRel) + 1;
        self.inner.state.lock().open.insert(handle, what);
        handle
    }

    fn close(&self, handle: u64) {
        self.inner.state.lock().open.remove(&handle);
    }

    /// Moves a system from `from` to `to`; in any other state the call fails.
    fn transition(
        &self,
        call: &'static str,
        system: &FakeSystem,
        from: SystemLife,
        to: SystemLife,
    ) -> Result<(), HcsError> {
        self.enter(call, None)?;
        if system.system.life() != from {
            let state = format!("the system is not {from:?}");
            return Err(error(call, HCS_E_INVALID_STATE, &state));
        }
        system.system.set(to);
        Ok(())
    }

    /// Stops a system (see [`System::stop`]); a stopped one fails the call.
    fn stop(
        &self,
        call: &'static str,
        system: &FakeSystem,
        event: Option<&str>,
        code: u32,
    ) -> Result<(), HcsError> {
        if system.system.life() == SystemLife::Stopped {
            let hresult = crate::hcs::HCS_E_SYSTEM_ALREADY_STOPPED;
            return Err(error(call, hresult, "already stopped"));
        }
        system.system.stop(event, code);
        Ok(())
    }

    fn system(&self, id: &str) -> Option<Arc<System>> {
        self.inner.state.lock().systems.get(id).cloned()
    }
}

fn notify(callbacks: &Mutex<HashMap<u64, HcsCallback>>, event: HcsEvent) {
    let callbacks: Vec<HcsCallback> = callbacks.lock().values().cloned().collect();
    // From a thread of the "service", as HCS calls back.
    let _ = std::thread::Builder::new()
        .name("fake-hcs-callback".into())
        .spawn(move || {
            for callback in callbacks {
                callback(event.clone());
            }
        });
}

impl System {
    fn set(&self, life: SystemLife) {
        *self.life.lock() = life;
        self.changed.notify_all();
    }

    fn life(&self) -> SystemLife {
        *self.life.lock()
    }

    /// Waits while the system is paused.
    fn while_paused(&self) {
        let mut life = self.life.lock();
        while *life == SystemLife::Paused {
            self.changed.wait(&mut life);
        }
    }

    /// Stops the system: its processes end with `code` (or their handler's code for
    /// `event`), then its exit is notified.
    fn stop(&self, event: Option<&str>, code: u32) {
        if self.life() == SystemLife::Stopped {
            return;
        }
        let processes: Vec<Arc<Process>> = self.processes.lock().values().cloned().collect();
        for process in processes {
            match event {
                Some(event) => process.control(event),
                None => process.exit(code),
            }
        }
        self.set(SystemLife::Stopped);
        notify(&self.callbacks, HcsEvent::SystemExited(None));
    }
}

impl Process {
    fn exit(&self, code: u32) {
        {
            let mut state = self.state.lock();
            if state.exit.is_some() {
                return;
            }
            state.exit = Some(code);
        }
        self.changed.notify_all();
        // Its end of the pipes closes with it.
        self.stdout.lock().take();
        self.stderr.lock().take();
        if !self.withhold {
            let status = json!({"ProcessId": self.pid, "Exited": true, "ExitCode": code});
            notify(
                &self.callbacks,
                HcsEvent::ProcessExited(Some(status.to_string())),
            );
        }
    }

    /// A control event: its handler's code, or the default handler's end.
    fn control(&self, event: &str) {
        let handled = self.state.lock().handler.clone();
        match handled {
            Some((handles, code)) if handles == event => self.exit(code),
            _ => self.exit(STATUS_CONTROL_C_EXIT),
        }
    }

    fn has_exited(&self) -> bool {
        self.state.lock().exit.is_some()
    }

    /// Blocks until it has exited.
    fn wait_for_exit(&self) {
        let mut state = self.state.lock();
        while state.exit.is_none() {
            self.changed.wait(&mut state);
        }
    }

    fn write(&self, stream: &Mutex<Option<PipeWriter>>, text: &[u8]) {
        if let Some(pipe) = stream.lock().as_mut() {
            let _ = pipe.write_all(text);
        }
    }

    fn status(&self) -> String {
        let exit = self.state.lock().exit;
        json!({
            "ProcessId": self.pid,
            "Exited": exit.is_some(),
            "ExitCode": exit.unwrap_or(0),
        })
        .to_string()
    }
}

/// What a process runs, from its parameters.
struct Run {
    args: Vec<String>,
    env: HashMap<String, String>,
    cwd: Option<String>,
    stdin: Option<PipeReader>,
}

fn run_program(system: Arc<System>, process: Arc<Process>, run: Run) {
    let args: Vec<&str> = run.args.iter().map(String::as_str).collect();
    let out = |text: &str| process.write(&process.stdout, text.as_bytes());
    match args.get(1..).unwrap_or_default() {
        ["exit", code] => process.exit(code.parse().unwrap_or(u32::MAX)),
        ["print", stdout, stderr] => {
            out(stdout);
            process.write(&process.stderr, stderr.as_bytes());
            process.exit(0);
        }
        ["cat"] => {
            if let Some(mut stdin) = run.stdin {
                let mut buffer = [0u8; 4096];
                while let Ok(n) = stdin.read(&mut buffer) {
                    if n == 0 || process.has_exited() {
                        break;
                    }
                    process.write(&process.stdout, &buffer[..n]);
                }
            }
            process.exit(0);
        }
        ["printenv", name] => {
            out(&format!(
                "{}\n",
                run.env.get(*name).cloned().unwrap_or_default()
            ));
            process.exit(0);
        }
        ["printcwd"] => {
            out(&format!("{}\n", run.cwd.as_deref().unwrap_or("/")));
            process.exit(0);
        }
        ["hostname"] => {
            out(&format!("{}\n", system.host_name));
            process.exit(0);
        }
        ["isatty"] => process.exit(if process.console { 0 } else { 1 }),
        ["sleep"] => process.wait_for_exit(),
        ["on", _, _] => {
            out("ready\n");
            process.wait_for_exit();
        }
        ["counter"] => {
            let mut n = 0u64;
            while !process.has_exited() {
                system.while_paused();
                n += 1;
                out(&format!("{n}\n"));
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        _ => process.exit(E_INVALIDARG),
    }
}

impl Hcs for FakeHcs {
    type System = FakeSystem;
    type Process = FakeProcess;

    fn create_system(
        &self,
        id: &str,
        configuration: &str,
        _timeout: Duration,
    ) -> Result<FakeSystem, HcsError> {
        const CALL: &str = "HcsCreateComputeSystem";
        self.enter(CALL, Some(configuration))?;
        let document: Value = serde_json::from_str(configuration)
            .map_err(|e| error(CALL, crate::hcs::HCS_E_INVALID_JSON, &e.to_string()))?;
        let host_name = document["Container"]["GuestOs"]["HostName"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let system = Arc::new(System {
            id: id.to_string(),
            host_name,
            life: Mutex::new(SystemLife::Created),
            changed: Condvar::new(),
            callbacks: Mutex::new(HashMap::new()),
            processes: Mutex::new(HashMap::new()),
        });
        {
            let mut state = self.inner.state.lock();
            if let Some(existing) = state.systems.get(id) {
                if existing.life() != SystemLife::Stopped {
                    return Err(error(
                        CALL,
                        HCS_E_SYSTEM_ALREADY_EXISTS,
                        "a compute system with this id exists",
                    ));
                }
            }
            state.systems.insert(id.to_string(), system.clone());
        }
        Ok(FakeSystem {
            handle: self.open(format!("system {id}")),
            system,
        })
    }

    fn open_system(&self, id: &str) -> Result<FakeSystem, HcsError> {
        const CALL: &str = "HcsOpenComputeSystem";
        self.enter(CALL, None)?;
        match self.system(id) {
            Some(system) if system.life() != SystemLife::Stopped => Ok(FakeSystem {
                handle: self.open(format!("system {id}")),
                system,
            }),
            _ => Err(error(
                CALL,
                SYSTEM_NOT_FOUND_OLD_FORM,
                "the compute system does not exist",
            )),
        }
    }

    fn set_system_callback(
        &self,
        system: &FakeSystem,
        callback: HcsCallback,
    ) -> Result<(), HcsError> {
        self.enter("HcsSetComputeSystemCallback", None)?;
        system
            .system
            .callbacks
            .lock()
            .insert(system.handle, callback);
        Ok(())
    }

    fn start_system(&self, system: &FakeSystem, _timeout: Duration) -> Result<(), HcsError> {
        self.transition(
            "HcsStartComputeSystem",
            system,
            SystemLife::Created,
            SystemLife::Running,
        )
    }

    fn shut_down_system(&self, system: &FakeSystem, timeout: Duration) -> Result<(), HcsError> {
        const CALL: &str = "HcsShutDownComputeSystem";
        self.enter(CALL, None)?;
        if self.inner.script.lock().hang_shutdown {
            std::thread::sleep(timeout);
            self.inner.cancelled.fetch_add(1, Ordering::AcqRel);
            return Err(error(
                CALL,
                HCS_E_OPERATION_TIMEOUT,
                "the operation timed out",
            ));
        }
        self.stop(CALL, system, Some("CtrlShutdown"), 0)
    }

    fn terminate_system(&self, system: &FakeSystem, _timeout: Duration) -> Result<(), HcsError> {
        const CALL: &str = "HcsTerminateComputeSystem";
        self.enter(CALL, None)?;
        self.stop(CALL, system, None, TERMINATED_EXIT_CODE)
    }

    fn pause_system(&self, system: &FakeSystem, _timeout: Duration) -> Result<(), HcsError> {
        self.transition(
            "HcsPauseComputeSystem",
            system,
            SystemLife::Running,
            SystemLife::Paused,
        )
    }

    fn resume_system(&self, system: &FakeSystem, _timeout: Duration) -> Result<(), HcsError> {
        self.transition(
            "HcsResumeComputeSystem",
            system,
            SystemLife::Paused,
            SystemLife::Running,
        )
    }

    fn system_properties(
        &self,
        system: &FakeSystem,
        query: &str,
        _timeout: Duration,
    ) -> Result<String, HcsError> {
        const CALL: &str = "HcsGetComputeSystemProperties";
        self.enter(CALL, Some(query))?;
        if system.system.life() == SystemLife::Stopped {
            return Err(error(CALL, ELEMENT_NOT_FOUND, "the system has stopped"));
        }
        let processes = system.system.processes.lock().len() as u64;
        Ok(json!({
            "Statistics": {
                "Timestamp": "2026-12-01T00:00:00Z",
                "ContainerStartTime": "2026-12-01T00:00:00Z",
                "Uptime100ns": 10_000_000u64,
                "Processor": {
                    "TotalRuntime100ns": 1_500_000u64 * processes,
                    "RuntimeUser100ns": 1_000_000u64 * processes,
                    "RuntimeKernel100ns": 500_000u64 * processes,
                },
                "Memory": {
                    "MemoryUsageCommitBytes": 40u64 << 20,
                    "MemoryUsageCommitPeakBytes": 48u64 << 20,
                    "MemoryUsagePrivateWorkingSetBytes": 32u64 << 20,
                },
                "Storage": {
                    "ReadCountNormalized": 10,
                    "ReadSizeBytes": 4096,
                    "WriteCountNormalized": 5,
                    "WriteSizeBytes": 2048,
                },
            }
        })
        .to_string())
    }

    fn modify_system(
        &self,
        system: &FakeSystem,
        request: &str,
        _timeout: Duration,
    ) -> Result<(), HcsError> {
        const CALL: &str = "HcsModifyComputeSystem";
        self.enter(CALL, Some(request))?;
        match system.system.life() {
            SystemLife::Running | SystemLife::Paused => Ok(()),
            _ => Err(error(CALL, HCS_E_INVALID_STATE, "not running")),
        }
    }

    fn close_system(&self, system: FakeSystem) {
        system.system.callbacks.lock().remove(&system.handle);
        self.close(system.handle);
    }

    fn create_process(
        &self,
        system: &FakeSystem,
        parameters: &str,
        _timeout: Duration,
    ) -> Result<(FakeProcess, ProcessInfo), HcsError> {
        const CALL: &str = "HcsCreateProcess";
        self.enter(CALL, Some(parameters))?;
        if system.system.life() != SystemLife::Running {
            return Err(error(
                CALL,
                HCS_E_INVALID_STATE,
                "the system is not running",
            ));
        }
        let document: Value = serde_json::from_str(parameters)
            .map_err(|e| error(CALL, crate::hcs::HCS_E_INVALID_JSON, &e.to_string()))?;
        let args = command_line::split(document["CommandLine"].as_str().unwrap_or_default());
        if args.first().map(String::as_str) != Some(PROGRAM) {
            return Err(error(
                CALL,
                E_FILE_NOT_FOUND,
                "The system cannot find the file specified.",
            ));
        }
        let flag = |name: &str| document[name].as_bool().unwrap_or(false);
        let pipe = || std::io::pipe().map_err(|e| error(CALL, 0x8000_4005, &e.to_string()));
        let (stdin_read, stdin_write) = if flag("CreateStdInPipe") {
            let (r, w) = pipe()?;
            (Some(r), Some(w))
        } else {
            (None, None)
        };
        let (stdout_read, stdout_write) = if flag("CreateStdOutPipe") {
            let (r, w) = pipe()?;
            (Some(r), Some(w))
        } else {
            (None, None)
        };
        let (stderr_read, stderr_write) = if flag("CreateStdErrPipe") {
            let (r, w) = pipe()?;
            (Some(r), Some(w))
        } else {
            (None, None)
        };
        let env = document["Environment"]
            .as_object()
            .map(|map| {
                map.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                    .collect()
            })
            .unwrap_or_default();
        let pid = {
            let mut state = self.inner.state.lock();
            state.next_pid += 4;
            1000 + state.next_pid
        };
        let script = self.inner.script.lock().clone();
        let process = Arc::new(Process {
            pid,
            console: flag("EmulateConsole"),
            state: Mutex::new(ProcessState::default()),
            changed: Condvar::new(),
            callbacks: Mutex::new(HashMap::new()),
            stdout: Mutex::new(stdout_write),
            stderr: Mutex::new(stderr_write),
            withhold: script.withhold_exit_notifications,
        });
        // A handler is in place when the process is created, as one a program sets first.
        if let [_, on, event, code] = args.as_slice() {
            if on == "on" {
                process.state.lock().handler = Some((event.clone(), code.parse().unwrap_or(0)));
            }
        }
        system.system.processes.lock().insert(pid, process.clone());
        let run = Run {
            args,
            env,
            cwd: document["WorkingDirectory"].as_str().map(str::to_string),
            stdin: stdin_read,
        };
        match script.exit_at_create {
            Some(code) => {
                drop(run);
                process.exit(code);
            }
            None => {
                let (system, running) = (system.system.clone(), process.clone());
                std::thread::Builder::new()
                    .name(format!("fake-process-{pid}"))
                    .spawn(move || run_program(system, running, run))
                    .map_err(|e| error(CALL, 0x8000_4005, &e.to_string()))?;
            }
        }
        let info = ProcessInfo {
            pid,
            stdin: stdin_write.map(|w| Box::new(w) as Box<dyn Write + Send>),
            stdout: stdout_read.map(|r| Box::new(r) as Box<dyn Read + Send>),
            stderr: stderr_read.map(|r| Box::new(r) as Box<dyn Read + Send>),
        };
        let handle = self.open(format!("process {} {pid}", system.system.id));
        Ok((FakeProcess { handle, process }, info))
    }

    fn open_process(&self, system: &FakeSystem, pid: u32) -> Result<FakeProcess, HcsError> {
        const CALL: &str = "HcsOpenProcess";
        self.enter(CALL, None)?;
        let process = system.system.processes.lock().get(&pid).cloned();
        match process {
            Some(process) if !process.has_exited() => Ok(FakeProcess {
                handle: self.open(format!("process {} {pid}", system.system.id)),
                process,
            }),
            _ => Err(error(CALL, ELEMENT_NOT_FOUND, "Element not found.")),
        }
    }

    fn set_process_callback(
        &self,
        process: &FakeProcess,
        callback: HcsCallback,
    ) -> Result<(), HcsError> {
        self.enter("HcsSetProcessCallback", None)?;
        process
            .process
            .callbacks
            .lock()
            .insert(process.handle, callback);
        Ok(())
    }

    fn signal_process(
        &self,
        process: &FakeProcess,
        options: &str,
        _timeout: Duration,
    ) -> Result<(), HcsError> {
        const CALL: &str = "HcsSignalProcess";
        self.enter(CALL, Some(options))?;
        if process.process.has_exited() {
            return Err(error(
                CALL,
                PROCESS_ALREADY_STOPPED_OLD_FORM,
                "the process has stopped",
            ));
        }
        let document: Value = serde_json::from_str(options)
            .map_err(|e| error(CALL, crate::hcs::HCS_E_INVALID_JSON, &e.to_string()))?;
        let event = document["Signal"].as_str().unwrap_or_default().to_string();
        process.process.control(&event);
        Ok(())
    }

    fn terminate_process(&self, process: &FakeProcess, _timeout: Duration) -> Result<(), HcsError> {
        const CALL: &str = "HcsTerminateProcess";
        self.enter(CALL, None)?;
        if self.inner.script.lock().terminate_finds_nothing {
            return Err(error(CALL, ELEMENT_NOT_FOUND, "Element not found."));
        }
        if process.process.has_exited() {
            return Err(error(
                CALL,
                crate::hcs::HCS_E_PROCESS_ALREADY_STOPPED,
                "the process has stopped",
            ));
        }
        process.process.exit(TERMINATED_EXIT_CODE);
        Ok(())
    }

    fn modify_process(
        &self,
        process: &FakeProcess,
        request: &str,
        _timeout: Duration,
    ) -> Result<(), HcsError> {
        const CALL: &str = "HcsModifyProcess";
        self.enter(CALL, Some(request))?;
        if process.process.has_exited() {
            return Err(error(
                CALL,
                crate::hcs::HCS_E_PROCESS_ALREADY_STOPPED,
                "the process has stopped",
            ));
        }
        let document: Value = serde_json::from_str(request)
            .map_err(|e| error(CALL, crate::hcs::HCS_E_INVALID_JSON, &e.to_string()))?;
        if document["Operation"] == "ConsoleSize" {
            if !process.process.console {
                return Err(error(CALL, E_INVALIDARG, "the process has no console"));
            }
            let size = &document["ConsoleSize"];
            let dimension = |name: &str| size[name].as_u64().unwrap_or(0) as u16;
            process
                .process
                .state
                .lock()
                .console_sizes
                .push((dimension("Height"), dimension("Width")));
        }
        Ok(())
    }

    fn process_properties(
        &self,
        process: &FakeProcess,
        _timeout: Duration,
    ) -> Result<String, HcsError> {
        self.enter("HcsGetProcessProperties", None)?;
        Ok(process.process.status())
    }

    fn close_process(&self, process: FakeProcess) {
        process.process.callbacks.lock().remove(&process.handle);
        self.close(process.handle);
    }

    fn layer_id(&self, folder: &str) -> Result<String, HcsError> {
        self.enter("NameToGuid", None)?;
        // Any stable GUID will do for the fake: one made of the name's hash.
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        folder.hash(&mut hasher);
        let h = hasher.finish();
        Ok(format!(
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            h >> 32,
            (h >> 16) & 0xFFFF,
            h & 0xFFFF,
            (h >> 48) & 0xFFFF,
            h & 0xFFFF_FFFF_FFFF
        ))
    }
}
