//! What the cases share: the context of one case (ids, clean-up, bounded waits), output
//! capture, recording hooks, and the error a case fails with.

use std::fmt;
use std::io::Read;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use runtime_core::{
    Command, Driver, Error, ErrorKind, ExitStatus, Hooks, NoHooks, ProcessConfig, RawStdio, Stdio,
};

use crate::{calls, Case, Fixture, Program, SIGKILL};

/// Fails the case with a message unless `cond` holds.
macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err($crate::support::CaseError::Failed(format!($($fmt)+)));
        }
    };
}

/// Fails the case unless `left == right`, showing both.
macro_rules! ensure_eq {
    ($left:expr, $right:expr, $($fmt:tt)+) => {
        match (&$left, &$right) {
            (left, right) => {
                if left != right {
                    return Err($crate::support::CaseError::Failed(format!(
                        "{}: got {:?}, expected {:?}",
                        format!($($fmt)+),
                        left,
                        right
                    )));
                }
            }
        }
    };
}

/// How long the suite waits for what should come promptly (a `ready` line, an exit after a
/// kill). Generous: only a broken driver takes this long.
pub(crate) const PROMPT: Duration = Duration::from_secs(20);

/// Why a case failed.
#[derive(Debug)]
pub(crate) enum CaseError {
    /// An operation of the driver failed where the case needed it to succeed.
    Driver { op: String, error: Error },
    /// An assertion did not hold.
    Failed(String),
}

impl fmt::Display for CaseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CaseError::Driver { op, error } => {
                write!(f, "{op} failed: {error} (kind: {})", error.kind())
            }
            CaseError::Failed(why) => f.write_str(why),
        }
    }
}

pub(crate) type CaseResult<T = ()> = Result<T, CaseError>;

/// Names the operation of a driver result, for `?`.
pub(crate) trait Op<T> {
    fn op(self, what: impl Into<String>) -> CaseResult<T>;
}

impl<T> Op<T> for runtime_core::Result<T> {
    fn op(self, what: impl Into<String>) -> CaseResult<T> {
        self.map_err(|error| CaseError::Driver {
            op: what.into(),
            error,
        })
    }
}

/// Checks that `result` is an error of `kind`.
pub(crate) fn expect_kind<T: fmt::Debug>(
    result: runtime_core::Result<T>,
    kind: ErrorKind,
    what: &str,
) -> CaseResult {
    match result {
        Ok(value) => Err(CaseError::Failed(format!(
            "{what}: succeeded ({value:?}), expected an error of kind {kind}"
        ))),
        Err(err) if err.kind() == kind => Ok(()),
        Err(err) => Err(CaseError::Failed(format!(
            "{what}: error of kind {} ({err}), expected {kind}",
            err.kind()
        ))),
    }
}

/// Calls `check` every 10 ms until it holds or `timeout` passes; whether it held.
pub(crate) fn poll(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if check() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn unique(name: &str) -> String {
    static COUNT: AtomicUsize = AtomicUsize::new(0);
    format!(
        "conf-{name}-{}-{}",
        std::process::id(),
        COUNT.fetch_add(1, Ordering::Relaxed)
    )
}

/// One container run before the cases, so that what a driver sets up once for its life is
/// not counted as residue by the first case that compares.
pub(crate) fn warm_up(fixture: &dyn Fixture) -> runtime_core::Result<ExitStatus> {
    let mut command = Command::new(
        unique("warm-up"),
        fixture.rootfs(),
        fixture.process(&Program::Exit(0)),
    );
    fixture.prepare(&mut command);
    calls::run(
        fixture.driver(),
        &command,
        &Stdio::null(),
        Arc::new(NoHooks),
    )
}

/// What one case works with. Dropping it force-deletes every container the case created and
/// closes every terminal its recorders were handed.
pub(crate) struct Ctx {
    pub(crate) fixture: Arc<dyn Fixture>,
    case: Case,
    unsupported: Vec<(Case, String)>,
    created: Mutex<Vec<String>>,
    recorders: Mutex<Vec<Arc<Recorder>>>,
}

impl Ctx {
    pub(crate) fn new(
        fixture: Arc<dyn Fixture>,
        case: Case,
        unsupported: Vec<(Case, String)>,
    ) -> Ctx {
        Ctx {
            fixture,
            case,
            unsupported,
            created: Mutex::new(Vec::new()),
            recorders: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn driver(&self) -> &dyn Driver {
        self.fixture.driver()
    }

    /// Whether the fixture does not list `case` as unsupported.
    pub(crate) fn supports(&self, case: Case) -> bool {
        !self.unsupported.iter().any(|(c, _)| *c == case)
    }

    /// A fresh container id, naming the case.
    pub(crate) fn id(&self) -> String {
        unique(self.case.name())
    }

    pub(crate) fn process(&self, program: &Program) -> ProcessConfig {
        self.fixture.process(program)
    }

    /// A command with a fresh id running `program` in the fixture's image.
    pub(crate) fn command(&self, program: &Program) -> Command {
        self.command_with(program, |_| {})
    }

    /// Like [`Ctx::command`], with the process changed by `edit` first.
    pub(crate) fn command_with(
        &self,
        program: &Program,
        edit: impl FnOnce(&mut ProcessConfig),
    ) -> Command {
        let mut process = self.process(program);
        edit(&mut process);
        let mut command = Command::new(self.id(), self.fixture.rootfs(), process);
        self.fixture.prepare(&mut command);
        command
    }

    /// A recorder of hooks whose terminals are closed with the case.
    pub(crate) fn recorder(&self) -> Arc<Recorder> {
        let recorder = Arc::new(Recorder::default());
        self.recorders.lock().push(recorder.clone());
        recorder
    }

    /// Creates `command`, remembering it for clean-up.
    pub(crate) fn create(
        &self,
        command: &Command,
        stdio: &Stdio,
        hooks: Arc<dyn Hooks>,
    ) -> runtime_core::Result<i32> {
        self.created.lock().push(command.id.clone());
        calls::create(self.driver(), command, stdio, hooks)
    }

    pub(crate) fn run(
        &self,
        command: &Command,
        stdio: &Stdio,
        hooks: Arc<dyn Hooks>,
    ) -> runtime_core::Result<ExitStatus> {
        self.created.lock().push(command.id.clone());
        calls::run(self.driver(), command, stdio, hooks)
    }

    pub(crate) fn exec(
        &self,
        id: &str,
        process: &ProcessConfig,
        stdio: &Stdio,
        hooks: Arc<dyn Hooks>,
    ) -> runtime_core::Result<ExitStatus> {
        calls::exec(self.driver(), id, process, stdio, hooks)
    }

    /// Creates and starts `command` with `stdio` and `hooks`.
    pub(crate) fn launch(
        &self,
        command: &Command,
        stdio: &Stdio,
        hooks: Arc<dyn Hooks>,
    ) -> CaseResult<i32> {
        let pid = self.create(command, stdio, hooks).op("create")?;
        self.driver().start(&command.id).op("start")?;
        if self.fixture.pid_at_create() {
            Ok(pid)
        } else {
            Ok(self.driver().state(&command.id).op("state")?.pid)
        }
    }

    /// Creates and starts a container that sleeps; its id.
    pub(crate) fn sleeper(&self) -> CaseResult<String> {
        let command = self.command(&Program::Sleep);
        self.launch(&command, &Stdio::null(), Arc::new(NoHooks))?;
        Ok(command.id)
    }

    /// Creates and starts `command` with its stdout on a capture.
    pub(crate) fn launch_captured(
        &self,
        command: &Command,
        hooks: Arc<dyn Hooks>,
    ) -> CaseResult<Capture> {
        let (capture, write) = self.capture()?;
        let stdio = Stdio {
            stdin: None,
            stdout: Some(write.raw()),
            stderr: None,
            extra: Vec::new(),
        };
        let launched = self.launch(command, &stdio, hooks);
        drop(write);
        launched?;
        Ok(capture)
    }

    /// `wait`, bounded: a container still running after `timeout` is killed (and the case
    /// fails).
    pub(crate) fn wait_within(&self, id: &str, timeout: Duration) -> CaseResult<ExitStatus> {
        let (send, receive) = mpsc::channel();
        let fixture = self.fixture.clone();
        let owned = id.to_string();
        std::thread::spawn(move || {
            let _ = send.send(fixture.driver().wait(&owned));
        });
        match receive.recv_timeout(timeout) {
            Ok(result) => result.op(format!("wait {id}")),
            Err(_) => {
                let _ = self.driver().kill(id, SIGKILL, true);
                let _ = receive.recv_timeout(PROMPT);
                Err(CaseError::Failed(format!(
                    "{id} did not exit within {} ms",
                    timeout.as_millis()
                )))
            }
        }
    }

    pub(crate) fn wait(&self, id: &str) -> CaseResult<ExitStatus> {
        self.wait_within(id, PROMPT)
    }

    /// A pipe whose read end is captured: the capture, and the write end.
    pub(crate) fn capture(&self) -> CaseResult<(Capture, Handle)> {
        let (read, write) = self.pipe()?;
        let capture = Capture::start(self.fixture.reader(read.take()));
        Ok((capture, write))
    }

    /// A pipe: its read and write ends, closed when dropped.
    pub(crate) fn pipe(&self) -> CaseResult<(Handle, Handle)> {
        let (read, write) = self
            .fixture
            .pipe()
            .map_err(|err| CaseError::Failed(format!("the fixture cannot make a pipe: {err}")))?;
        Ok((self.handle(read), self.handle(write)))
    }

    pub(crate) fn handle(&self, raw: RawStdio) -> Handle {
        Handle {
            fixture: self.fixture.clone(),
            raw: Some(raw),
        }
    }

    /// Runs `command` with stdout and stderr on captures; its status and both texts.
    pub(crate) fn run_output(
        &self,
        command: &Command,
        stdin: Option<RawStdio>,
        hooks: Arc<dyn Hooks>,
    ) -> CaseResult<(ExitStatus, String, String)> {
        let (out, out_write) = self.capture()?;
        let (err, err_write) = self.capture()?;
        let stdio = Stdio {
            stdin,
            stdout: Some(out_write.raw()),
            stderr: Some(err_write.raw()),
            extra: Vec::new(),
        };
        let status = self.run(command, &stdio, hooks);
        drop((out_write, err_write));
        let status = status.op(format!("run {}", command.id))?;
        Ok((status, out.finish()?, err.finish()?))
    }

    /// Runs `program` (edited by `edit`) and returns its status and stdout.
    pub(crate) fn output(
        &self,
        program: &Program,
        edit: impl FnOnce(&mut ProcessConfig),
    ) -> CaseResult<(ExitStatus, String)> {
        let command = self.command_with(program, edit);
        let (status, out, _) = self.run_output(&command, None, Arc::new(NoHooks))?;
        Ok((status, out))
    }

    /// Execs `process` in `id` with stdout on a capture; its status and stdout.
    pub(crate) fn exec_output(
        &self,
        id: &str,
        process: &ProcessConfig,
        hooks: Arc<dyn Hooks>,
    ) -> CaseResult<(ExitStatus, String)> {
        let (out, write) = self.capture()?;
        let stdio = Stdio {
            stdin: None,
            stdout: Some(write.raw()),
            stderr: None,
            extra: Vec::new(),
        };
        let status = self.exec(id, process, &stdio, hooks);
        drop(write);
        let status = status.op(format!("exec {:?} in {id}", process.args))?;
        Ok((status, out.finish()?))
    }

    pub(crate) fn residue(&self) -> crate::Residue {
        self.fixture.residue()
    }

    /// What is there now and was not `before`, after giving the driver's clean-up (a killed
    /// process's teardown) up to two seconds; `None` once nothing is left.
    pub(crate) fn left_behind(&self, before: &crate::Residue) -> Option<String> {
        let mut diff = None;
        poll(Duration::from_secs(2), || {
            diff = self.residue().diff(before);
            diff.is_none()
        });
        diff
    }
}

impl Drop for Ctx {
    fn drop(&mut self) {
        for id in self.created.lock().drain(..) {
            let _ = self.fixture.driver().delete(&id, true);
        }
        for recorder in self.recorders.lock().drain(..) {
            for console in recorder.take_consoles() {
                self.fixture.close(console);
            }
        }
    }
}

/// A handle the suite owns, closed through the fixture when dropped.
pub(crate) struct Handle {
    fixture: Arc<dyn Fixture>,
    raw: Option<RawStdio>,
}

impl Handle {
    pub(crate) fn raw(&self) -> RawStdio {
        self.raw.expect("a handle not yet given away")
    }

    /// Gives the handle away: it is no longer closed here.
    pub(crate) fn take(mut self) -> RawStdio {
        self.raw.take().expect("a handle not yet given away")
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        if let Some(raw) = self.raw.take() {
            self.fixture.close(raw);
        }
    }
}

/// Collects what a reader gives, on a thread of its own, until end of file.
pub(crate) struct Capture {
    state: Arc<(Mutex<Received>, Condvar)>,
}

/// What came so far, and whether end of file did.
type Received = (Vec<u8>, bool);

impl Capture {
    pub(crate) fn start(mut reader: Box<dyn Read + Send>) -> Capture {
        let state = Arc::new((Mutex::new((Vec::new(), false)), Condvar::new()));
        let shared = state.clone();
        std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            loop {
                let n = reader.read(&mut buffer).unwrap_or(0);
                let mut guard = shared.0.lock();
                if n == 0 {
                    guard.1 = true;
                } else {
                    guard.0.extend_from_slice(&buffer[..n]);
                }
                shared.1.notify_all();
                if n == 0 {
                    break;
                }
            }
        });
        Capture { state }
    }

    /// What came so far.
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.state.0.lock().0).into_owned()
    }

    /// Waits until what came satisfies `check`; what came then.
    pub(crate) fn wait_until(
        &self,
        what: &str,
        timeout: Duration,
        check: impl Fn(&str) -> bool,
    ) -> CaseResult<String> {
        let deadline = Instant::now() + timeout;
        let mut guard = self.state.0.lock();
        loop {
            let text = String::from_utf8_lossy(&guard.0).into_owned();
            if check(&text) {
                return Ok(text);
            }
            if guard.1 || Instant::now() >= deadline {
                return Err(CaseError::Failed(format!(
                    "waited for {what}, got {text:?}{}",
                    if guard.1 { " and end of file" } else { "" }
                )));
            }
            self.state.1.wait_until(&mut guard, deadline);
        }
    }

    /// Waits for a line `ready`.
    pub(crate) fn ready(&self) -> CaseResult {
        self.wait_until("a line \"ready\"", PROMPT, |t| {
            t.lines().any(|l| l == "ready")
        })
        .map(drop)
    }

    /// Waits for end of file (every write end closed); everything that came.
    pub(crate) fn finish(&self) -> CaseResult<String> {
        let deadline = Instant::now() + PROMPT;
        let mut guard = self.state.0.lock();
        while !guard.1 {
            if self.state.1.wait_until(&mut guard, deadline).timed_out() {
                return Err(CaseError::Failed(format!(
                    "the output never ended (a write end left open?): {:?}",
                    String::from_utf8_lossy(&guard.0)
                )));
            }
        }
        Ok(String::from_utf8_lossy(&guard.0).into_owned())
    }
}

/// One event a [`Recorder`] saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Event {
    Start(String, i32),
    Oom(String),
    Exit(String, ExitStatus),
    Console(String),
}

/// Hooks that record every event, in order, and keep the terminals they are handed.
#[derive(Default)]
pub(crate) struct Recorder {
    events: Mutex<Vec<Event>>,
    consoles: Mutex<Vec<RawStdio>>,
}

impl Recorder {
    pub(crate) fn events(&self) -> Vec<Event> {
        self.events.lock().clone()
    }

    pub(crate) fn take_consoles(&self) -> Vec<RawStdio> {
        std::mem::take(&mut *self.consoles.lock())
    }

    pub(crate) fn count(&self, wanted: fn(&Event) -> bool) -> usize {
        self.events.lock().iter().filter(|e| wanted(e)).count()
    }
}

impl Hooks for Recorder {
    fn on_start(&self, id: &str, pid: i32) {
        self.events.lock().push(Event::Start(id.into(), pid));
    }
    fn on_oom(&self, id: &str) {
        self.events.lock().push(Event::Oom(id.into()));
    }
    fn on_exit(&self, id: &str, status: &ExitStatus) {
        self.events.lock().push(Event::Exit(id.into(), *status));
    }
    fn on_console(&self, id: &str, master: RawStdio) {
        self.consoles.lock().push(master);
        self.events.lock().push(Event::Console(id.into()));
    }
}
