//! The shared lifecycle over a scripted platform: the status machine, the ordering of hooks,
//! the state file, the undoing of a failed create, detached execs, and containers left to a
//! later driver, with no OS underneath.

use std::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use runtime_core::lifecycle::{
    Adopted, ExecSink, ExitSink, Launched, OnDrop, Peers, Platform, Saved, StateRoot,
};
use runtime_core::{
    Command, Driver, Error, ErrorKind, ExitStatus, Hooks, Lifecycle, NoHooks, Operation,
    ProcessConfig, Resources, Result, Status, Stdio, Validated,
};

/// A platform whose "init" does what its program name says, and so does a detached exec's
/// process: `exit-at-once` exits 5 before `watch_exec` returns, `fail-watch` cannot be
/// watched, `survivor` outlives its container, anything else dies with its container.
#[derive(Default)]
struct Scripted {
    prepared: AtomicUsize,
    launched: AtomicUsize,
    cleaned: AtomicUsize,
    /// Calls that end a container (kill, destroy, clean_up), counted past the driver's life.
    ended: Arc<AtomicUsize>,
    next_pid: AtomicI32,
    next_exec_pid: AtomicI32,
    /// The sink of the last container watched, kept to report into it late.
    last_sink: Mutex<Option<ExitSink<Scripted>>>,
    /// Every detached exec watched, for a test to end one.
    exec_sinks: Mutex<Vec<ExecSink<Scripted>>>,
    /// State directories of creates cut short that recovery asked to clean up.
    abandoned: Mutex<Vec<String>>,
}

impl Scripted {
    /// The detached exec `pid` exits with `status`.
    fn exit_exec(&self, pid: i32, status: ExitStatus) {
        let sinks = self.exec_sinks.lock().unwrap().clone();
        for sink in sinks.iter().filter(|sink| sink.pid() == pid) {
            sink.exited(status);
        }
    }
}

struct Init {
    program: String,
    exited: AtomicBool,
    sink: Mutex<Option<ExitSink<Scripted>>>,
    /// The detached execs that die with it.
    execs: Mutex<Vec<ExecSink<Scripted>>>,
}

impl Init {
    fn new(program: &str) -> Init {
        Init {
            program: program.into(),
            exited: AtomicBool::new(false),
            sink: Mutex::new(None),
            execs: Mutex::new(Vec::new()),
        }
    }

    fn exit(&self, status: ExitStatus) {
        self.exited.store(true, Ordering::SeqCst);
        // As in a pid namespace of its own: the other processes are killed and reaped first.
        let execs = std::mem::take(&mut *self.execs.lock().unwrap());
        for exec in execs {
            exec.exited(ExitStatus::signaled(9));
        }
        let sink = self.sink.lock().unwrap().clone();
        if let Some(sink) = sink {
            sink.exited(status);
        }
    }
}

impl Platform for Scripted {
    type Prepared = ();
    type Instance = Init;
    /// The program of an exec.
    type Process = String;
    type Saved = serde_json::Value;

    fn prepare(&self, command: &Validated<Command>, _: &Peers<'_, Self>) -> Result<()> {
        self.prepared.fetch_add(1, Ordering::SeqCst);
        match command.process.args[0].as_str() {
            "unsupported" => Err(Error::Unsupported("that program".into())),
            _ => Ok(()),
        }
    }

    fn launch(
        &self,
        command: &Validated<Command>,
        (): (),
        _: &Stdio,
        _: &Arc<dyn Hooks>,
        _: &std::path::Path,
    ) -> Result<Launched<Init>> {
        if command.process.args[0] == "fail-launch" {
            return Err(Error::Internal("scripted launch failure".into()));
        }
        self.launched.fetch_add(1, Ordering::SeqCst);
        Ok(Launched {
            instance: Init::new(&command.process.args[0]),
            pid: 1000 + self.next_pid.fetch_add(1, Ordering::SeqCst),
        })
    }

    fn watch(&self, init: &Init, sink: ExitSink<Self>) -> Result<()> {
        *self.last_sink.lock().unwrap() = Some(sink.clone());
        *init.sink.lock().unwrap() = Some(sink);
        Ok(())
    }

    fn unwatch(&self, init: &Init) {
        init.sink.lock().unwrap().take();
    }

    fn start(&self, init: &Init) -> Result<Option<i32>> {
        if init.program == "exit-at-once" {
            // The exit is reported before start has returned.
            init.exit(ExitStatus::exited(3));
        }
        Ok(None)
    }

    fn signal(&self, init: &Init, signal: i32, _all: bool) -> Result<bool> {
        if init.exited.load(Ordering::SeqCst) {
            return Ok(false);
        }
        init.exit(ExitStatus::signaled(signal));
        Ok(true)
    }

    fn kill(&self, init: &Init, _paused: bool) -> Result<()> {
        self.ended.fetch_add(1, Ordering::SeqCst);
        if !init.exited.load(Ordering::SeqCst) {
            init.exit(ExitStatus::signaled(9));
        }
        Ok(())
    }

    fn destroy(&self, init: &Init) {
        init.exited.store(true, Ordering::SeqCst);
        self.clean_up(init);
    }

    fn clean_up(&self, _: &Init) {
        self.cleaned.fetch_add(1, Ordering::SeqCst);
        self.ended.fetch_add(1, Ordering::SeqCst);
    }

    fn has_exited(&self, init: &Init) -> bool {
        init.exited.load(Ordering::SeqCst)
    }

    fn freeze(&self, _: &Init) -> Result<()> {
        Ok(())
    }

    fn thaw(&self, _: &Init) -> Result<()> {
        Ok(())
    }

    fn exec(
        &self,
        _: &Init,
        process: &Validated<ProcessConfig>,
        _: &Stdio,
        _: &Arc<dyn Hooks>,
    ) -> Result<(String, i32)> {
        let pid = 2000 + self.next_exec_pid.fetch_add(1, Ordering::SeqCst);
        Ok((process.args[0].clone(), pid))
    }

    fn watch_exec(&self, init: &Init, program: String, sink: ExecSink<Self>) -> Result<()> {
        match program.as_str() {
            "fail-watch" => return Err(Error::Internal("scripted watch failure".into())),
            // Before the lifecycle has called on_start.
            "exit-at-once" => sink.exited(ExitStatus::exited(5)),
            "survivor" => {}
            _ => init.execs.lock().unwrap().push(sink.clone()),
        }
        self.exec_sinks.lock().unwrap().push(sink);
        Ok(())
    }

    fn exec_wait(&self, _: &Init, _: String) -> Result<ExitStatus> {
        Ok(ExitStatus::exited(0))
    }

    fn saved(&self, init: &Init) -> serde_json::Value {
        serde_json::json!({ "program": init.program })
    }

    fn abandon(&self, state_dir: &std::path::Path) {
        let name = state_dir
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        self.abandoned.lock().unwrap().push(name);
    }

    /// Whatever a state file says is not stopped is still there.
    fn adopt(&self, saved: &Saved<serde_json::Value>, _: &std::path::Path) -> Adopted<Init> {
        match saved.platform["program"].as_str() {
            Some(program) if saved.status != Status::Stopped => {
                Adopted::Alive(Init::new(program), saved.status)
            }
            _ => Adopted::Ended(saved.recorded_exit()),
        }
    }
}

/// Hooks that log what they were called with, and may call the driver back.
#[derive(Default)]
struct Log {
    events: Mutex<Vec<String>>,
    driver: OnceLock<Weak<Lifecycle<Scripted>>>,
    delete_on_exit: bool,
}

impl Log {
    fn events(&self) -> Vec<String> {
        self.events.lock().unwrap().clone()
    }
}

impl Hooks for Log {
    fn on_start(&self, _: &str, pid: i32) {
        self.events.lock().unwrap().push(format!("start {pid}"));
    }
    fn on_oom(&self, _: &str) {
        self.events.lock().unwrap().push("oom".into());
    }
    fn on_exit(&self, id: &str, status: &ExitStatus) {
        self.events
            .lock()
            .unwrap()
            .push(format!("exit {}", status.code));
        if self.delete_on_exit {
            let driver = self.driver.get().and_then(Weak::upgrade).unwrap();
            // From its own hook: wait returns at once and delete does not wait for the hook.
            assert_eq!(driver.wait(id).unwrap().code, status.code);
            driver.delete(id, false).unwrap();
        }
    }
}

struct Fixture {
    driver: Arc<Lifecycle<Scripted>>,
    root: std::path::PathBuf,
    /// Last, after the driver.
    _removed: RemovedOnDrop,
}

/// Removes a driver's state root.
struct RemovedOnDrop(std::path::PathBuf);

impl Drop for RemovedOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn fixture() -> Fixture {
    fixture_with(Scripted::default(), OnDrop::Delete)
}

fn fixture_with(platform: Scripted, on_drop: OnDrop) -> Fixture {
    static COUNT: AtomicUsize = AtomicUsize::new(0);
    let root = std::env::temp_dir().join(format!(
        "berth-lifecycle-{}-{}",
        std::process::id(),
        COUNT.fetch_add(1, Ordering::SeqCst)
    ));
    let driver = Arc::new(Lifecycle::new(platform, root.clone(), on_drop).unwrap());
    Fixture {
        driver,
        _removed: RemovedOnDrop(root.clone()),
        root,
    }
}

fn command(id: &str, program: &str) -> Command {
    Command::new(id, "/rootfs", ProcessConfig::new([program]))
}

fn saved_status(root: &std::path::Path, id: &str) -> String {
    let text = std::fs::read_to_string(root.join(id).join("state.json")).unwrap();
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    value["status"].as_str().unwrap().to_string()
}

fn wait_until(what: &str, done: impl Fn() -> bool) {
    for _ in 0..500 {
        if done() {
            return;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    panic!("timed out waiting for {what}");
}

#[test]
fn each_status_allows_its_operations_only() {
    use Operation::*;
    let table = [
        (Status::Creating, vec![]),
        (
            Status::Created,
            vec![Start, Kill, Stats, Resize, Update, ForceDelete, Wait, State],
        ),
        (
            Status::Running,
            vec![
                Exec,
                Pause,
                Kill,
                Stats,
                Resize,
                Update,
                ForceDelete,
                Wait,
                State,
            ],
        ),
        (
            Status::Paused,
            vec![
                Resume,
                Kill,
                Stats,
                Resize,
                Update,
                ForceDelete,
                Wait,
                State,
            ],
        ),
        (Status::Stopped, vec![Delete, Wait, State]),
    ];
    let every = [
        Start,
        Exec,
        Kill,
        Pause,
        Resume,
        Stats,
        Resize,
        Update,
        Delete,
        ForceDelete,
        Wait,
        State,
    ];
    for (status, allowed) in table {
        for operation in every {
            assert_eq!(
                status.allows(operation),
                allowed.contains(&operation),
                "{status} and {operation:?}"
            );
        }
    }
}

#[test]
fn every_transition_is_saved_as_it_happens() {
    let f = fixture();
    let hooks = Arc::new(Log::default());
    f.driver
        .create(&command("c", "sleep"), &Stdio::default(), hooks.clone())
        .unwrap();
    assert_eq!(saved_status(&f.root, "c"), "created");
    f.driver.start("c").unwrap();
    assert_eq!(saved_status(&f.root, "c"), "running");
    f.driver.pause("c").unwrap();
    assert_eq!(saved_status(&f.root, "c"), "paused");
    let refused = f.driver.exec(
        "c",
        &ProcessConfig::new(["x"]),
        &Stdio::default(),
        hooks.clone(),
    );
    assert_eq!(refused.unwrap_err().kind(), ErrorKind::InvalidState);
    f.driver.resume("c").unwrap();
    assert_eq!(saved_status(&f.root, "c"), "running");
    f.driver.kill("c", 15, false).unwrap();
    assert_eq!(f.driver.wait("c").unwrap(), ExitStatus::signaled(15));
    assert_eq!(saved_status(&f.root, "c"), "stopped");
    assert_eq!(f.driver.state("c").unwrap().status, Status::Stopped);
    f.driver.delete("c", false).unwrap();
    assert!(!f.root.join("c").exists());
    assert_eq!(f.driver.state("c").unwrap_err().kind(), ErrorKind::NotFound);
    assert_eq!(hooks.events(), ["start 1000", "exit 143"]);
}

#[test]
fn an_exit_during_start_comes_after_on_start() {
    let f = fixture();
    for i in 0..20 {
        let id = format!("quick-{i}");
        let hooks = Arc::new(Log::default());
        f.driver
            .create(
                &command(&id, "exit-at-once"),
                &Stdio::default(),
                hooks.clone(),
            )
            .unwrap();
        f.driver.start(&id).unwrap();
        assert_eq!(f.driver.wait(&id).unwrap().code, 3);
        let events = hooks.events();
        assert_eq!(events.len(), 2, "{events:?}");
        assert!(
            events[0].starts_with("start") && events[1] == "exit 3",
            "{events:?}"
        );
        f.driver.delete(&id, false).unwrap();
    }
}

#[test]
fn a_hook_may_wait_for_and_delete_its_own_container() {
    let f = fixture();
    let hooks = Arc::new(Log {
        delete_on_exit: true,
        ..Log::default()
    });
    hooks.driver.set(Arc::downgrade(&f.driver)).unwrap();
    f.driver
        .create(&command("self", "sleep"), &Stdio::default(), hooks.clone())
        .unwrap();
    f.driver.start("self").unwrap();
    f.driver.kill("self", 9, false).unwrap();
    wait_until("the hook's delete", || f.driver.state("self").is_err());
    assert!(!f.root.join("self").exists());
    assert_eq!(hooks.events(), ["start 1000", "exit 137"]);
}

#[test]
fn no_hook_runs_once_delete_has_returned() {
    let f = fixture();
    let hooks = Arc::new(Log::default());
    f.driver
        .create(&command("late", "sleep"), &Stdio::default(), hooks.clone())
        .unwrap();
    f.driver.start("late").unwrap();
    f.driver.delete("late", true).unwrap();
    let before = hooks.events();
    assert_eq!(before, ["start 1000", "exit 137"]);
    // A report that comes after delete (a late OOM event, a second exit) is dropped.
    let sink = f
        .driver
        .platform()
        .last_sink
        .lock()
        .unwrap()
        .take()
        .unwrap();
    sink.oom_event();
    sink.exited(ExitStatus::exited(0));
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(hooks.events(), before);
}

#[test]
fn many_threads_wait_for_the_same_exit() {
    let f = fixture();
    f.driver
        .create(
            &command("w", "sleep"),
            &Stdio::default(),
            Arc::new(Log::default()),
        )
        .unwrap();
    f.driver.start("w").unwrap();
    let waiters: Vec<_> = (0..8)
        .map(|_| {
            let driver = f.driver.clone();
            std::thread::spawn(move || driver.wait("w").unwrap())
        })
        .collect();
    std::thread::sleep(Duration::from_millis(20));
    f.driver.kill("w", 2, false).unwrap();
    for waiter in waiters {
        assert_eq!(waiter.join().unwrap(), ExitStatus::signaled(2));
    }
    // The status is kept until delete.
    assert_eq!(f.driver.wait("w").unwrap(), ExitStatus::signaled(2));
    f.driver.delete("w", false).unwrap();
}

#[test]
fn bad_input_is_refused_before_the_platform_sees_it_and_a_failed_create_leaves_nothing() {
    let f = fixture();
    let platform = f.driver.platform();
    let bad = command("bad id!", "sleep");
    let error = f
        .driver
        .create(&bad, &Stdio::default(), Arc::new(Log::default()))
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidArgument);
    assert_eq!(platform.prepared.load(Ordering::SeqCst), 0);

    for (program, kind) in [
        ("unsupported", ErrorKind::Unsupported),
        ("fail-launch", ErrorKind::Internal),
    ] {
        let error = f
            .driver
            .create(
                &command("again", program),
                &Stdio::default(),
                Arc::new(Log::default()),
            )
            .unwrap_err();
        assert_eq!(error.kind(), kind, "{program}");
        assert!(
            std::fs::read_dir(&f.root).unwrap().next().is_none(),
            "{program}"
        );
        assert!(f.driver.list().unwrap().is_empty(), "{program}");
    }
    // The id is free again.
    f.driver
        .create(
            &command("again", "sleep"),
            &Stdio::default(),
            Arc::new(Log::default()),
        )
        .unwrap();
    let duplicate = f
        .driver
        .create(
            &command("again", "sleep"),
            &Stdio::default(),
            Arc::new(Log::default()),
        )
        .unwrap_err();
    assert_eq!(duplicate.kind(), ErrorKind::AlreadyExists);
    assert_eq!(
        f.driver.start("nope").unwrap_err().kind(),
        ErrorKind::NotFound
    );
    assert_eq!(
        f.driver.kill("again", 0, false).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    assert_eq!(
        f.driver.resume("again").unwrap_err().kind(),
        ErrorKind::InvalidState
    );
    assert_eq!(
        f.driver.delete("again", false).unwrap_err().kind(),
        ErrorKind::InvalidState
    );
    f.driver.delete("again", true).unwrap();
    assert_eq!(platform.launched.load(Ordering::SeqCst), 1);
    assert_eq!(platform.cleaned.load(Ordering::SeqCst), 1);
}

/// An exec's hook that waits for its container: nothing waits for an exec's hook, so it just
/// waits (a container's own hook would get the exit at once, or a refusal).
struct WaitsForContainer {
    driver: Arc<Lifecycle<Scripted>>,
    waited: Mutex<Option<Result<ExitStatus>>>,
}

impl Hooks for WaitsForContainer {
    fn on_exit(&self, id: &str, _: &ExitStatus) {
        *self.waited.lock().unwrap() = Some(self.driver.wait(id));
    }
}

#[test]
fn an_exec_hook_may_wait_for_its_container() {
    let f = fixture();
    f.driver
        .create(
            &command("ew", "sleep"),
            &Stdio::default(),
            Arc::new(Log::default()),
        )
        .unwrap();
    f.driver.start("ew").unwrap();
    let hooks = Arc::new(WaitsForContainer {
        driver: f.driver.clone(),
        waited: Mutex::new(None),
    });
    let killer = {
        let driver = f.driver.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            driver.kill("ew", 15, false).unwrap();
        })
    };
    let exec = f
        .driver
        .exec(
            "ew",
            &ProcessConfig::new(["x"]),
            &Stdio::default(),
            hooks.clone(),
        )
        .unwrap();
    killer.join().unwrap();
    assert_eq!(exec, ExitStatus::exited(0));
    let waited = hooks.waited.lock().unwrap().take().unwrap();
    assert_eq!(waited.unwrap(), ExitStatus::signaled(15));
    f.driver.delete("ew", false).unwrap();
}

// ---- detached execs ----

/// A running container `id` with no hooks.
fn running(f: &Fixture, id: &str) {
    f.driver
        .create(&command(id, "sleep"), &Stdio::default(), Arc::new(NoHooks))
        .unwrap();
    f.driver.start(id).unwrap();
}

fn detached(f: &Fixture, id: &str, program: &str, hooks: Arc<dyn Hooks>) -> Result<i32> {
    f.driver
        .exec_detached(id, &ProcessConfig::new([program]), &Stdio::default(), hooks)
}

#[test]
fn a_detached_exec_starts_before_it_exits_even_when_it_exits_at_once() {
    let f = fixture();
    running(&f, "d");
    for _ in 0..20 {
        let hooks = Arc::new(Log::default());
        // The exit is reported before the lifecycle has called on_start.
        let pid = detached(&f, "d", "exit-at-once", hooks.clone()).unwrap();
        assert_eq!(f.driver.wait_exec("d", pid).unwrap(), ExitStatus::exited(5));
        assert_eq!(hooks.events(), [format!("start {pid}"), "exit 5".into()]);
    }
    f.driver.delete("d", true).unwrap();
}

#[test]
fn wait_exec_gives_every_waiter_the_exit_and_knows_only_detached_execs() {
    let f = fixture();
    running(&f, "w");
    let hooks = Arc::new(Log::default());
    let pid = detached(&f, "w", "sleep", hooks.clone()).unwrap();
    let waiters: Vec<_> = (0..4)
        .map(|_| {
            let driver = f.driver.clone();
            std::thread::spawn(move || driver.wait_exec("w", pid))
        })
        .collect();
    std::thread::sleep(Duration::from_millis(20));
    f.driver.platform().exit_exec(pid, ExitStatus::exited(4));
    for waiter in waiters {
        assert_eq!(waiter.join().unwrap().unwrap(), ExitStatus::exited(4));
    }
    // Kept, for a second wait and more.
    assert_eq!(f.driver.wait_exec("w", pid).unwrap(), ExitStatus::exited(4));
    assert_eq!(f.driver.wait_exec("w", pid).unwrap(), ExitStatus::exited(4));
    assert_eq!(hooks.events(), [format!("start {pid}"), "exit 4".into()]);

    let not_found = |pid| f.driver.wait_exec("w", pid).unwrap_err().kind();
    assert_eq!(not_found(1), ErrorKind::NotFound);
    assert_eq!(
        not_found(f.driver.state("w").unwrap().pid),
        ErrorKind::NotFound
    );
    let exec_hooks = Arc::new(Log::default());
    f.driver
        .exec(
            "w",
            &ProcessConfig::new(["x"]),
            &Stdio::default(),
            exec_hooks.clone(),
        )
        .unwrap();
    let events = exec_hooks.events();
    let exec_pid = events[0].strip_prefix("start ").unwrap().parse().unwrap();
    assert_eq!(
        not_found(exec_pid),
        ErrorKind::NotFound,
        "a plain exec's pid"
    );
    assert_eq!(
        f.driver.wait_exec("nope", pid).unwrap_err().kind(),
        ErrorKind::NotFound
    );
    f.driver.delete("w", true).unwrap();
}

#[test]
fn a_delete_ends_wait_exec_and_no_exec_hook_runs_after_it() {
    let f = fixture();
    running(&f, "del");
    let killed_hooks = Arc::new(Log::default());
    let killed = detached(&f, "del", "sleep", killed_hooks.clone()).unwrap();
    let survivor_hooks = Arc::new(Log::default());
    let survivor = detached(&f, "del", "survivor", survivor_hooks.clone()).unwrap();
    let wait = |pid| {
        let driver = f.driver.clone();
        std::thread::spawn(move || driver.wait_exec("del", pid))
    };
    let (killed_waiter, survivor_waiter) = (wait(killed), wait(survivor));
    std::thread::sleep(Duration::from_millis(20));
    f.driver.delete("del", true).unwrap();
    // Killed with the container: its exit and on_exit came before delete returned.
    assert_eq!(
        killed_waiter.join().unwrap().unwrap(),
        ExitStatus::signaled(9)
    );
    assert_eq!(
        killed_hooks.events(),
        [format!("start {killed}"), "exit 137".into()]
    );
    // No exit yet when the container went: the wait ends all the same.
    let ended = survivor_waiter.join().unwrap().unwrap_err();
    assert_eq!(ended.kind(), ErrorKind::NotFound, "{ended}");
    // An exit that comes after delete calls no hook.
    f.driver
        .platform()
        .exit_exec(survivor, ExitStatus::exited(0));
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(survivor_hooks.events(), [format!("start {survivor}")]);
}

/// A detached exec's hooks that wait, for the exec itself and for its container, from
/// on_start (while the exit comes) and from on_exit.
#[derive(Default)]
struct WaitsForItself {
    driver: OnceLock<Weak<Lifecycle<Scripted>>>,
    pid: AtomicI32,
    from_start: Mutex<Option<Result<ExitStatus>>>,
    from_exit: Mutex<Option<Result<ExitStatus>>>,
    container_from_exit: Mutex<Option<Result<ExitStatus>>>,
}

impl Hooks for WaitsForItself {
    fn on_start(&self, id: &str, pid: i32) {
        self.pid.store(pid, Ordering::SeqCst);
        let driver = self.driver.get().and_then(Weak::upgrade).unwrap();
        let exiting = driver.clone();
        let exit = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            exiting.platform().exit_exec(pid, ExitStatus::exited(6));
        });
        // Its on_exit waits for this hook: the wait ends with the exit.
        *self.from_start.lock().unwrap() = Some(driver.wait_exec(id, pid));
        exit.join().unwrap();
    }
    fn on_exit(&self, id: &str, _: &ExitStatus) {
        let driver = self.driver.get().and_then(Weak::upgrade).unwrap();
        let pid = self.pid.load(Ordering::SeqCst);
        *self.from_exit.lock().unwrap() = Some(driver.wait_exec(id, pid));
        // The container's finish would come after this hook on the same queue: refused, not
        // waited for.
        *self.container_from_exit.lock().unwrap() = Some(driver.wait(id));
    }
}

#[test]
fn a_detached_exec_hook_may_wait_for_itself_and_its_container() {
    let f = fixture();
    running(&f, "self");
    let hooks = Arc::new(WaitsForItself::default());
    hooks.driver.set(Arc::downgrade(&f.driver)).unwrap();
    let pid = detached(&f, "self", "sleep", hooks.clone()).unwrap();
    let exit = ExitStatus::exited(6);
    assert_eq!(f.driver.wait_exec("self", pid).unwrap(), exit);
    let taken = |slot: &Mutex<Option<Result<ExitStatus>>>| slot.lock().unwrap().take().unwrap();
    assert_eq!(taken(&hooks.from_start).unwrap(), exit);
    assert_eq!(taken(&hooks.from_exit).unwrap(), exit);
    let refused = taken(&hooks.container_from_exit).unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::InvalidState, "{refused}");
    f.driver.delete("self", true).unwrap();
}

#[test]
fn a_detached_exec_that_cannot_be_watched_is_forgotten() {
    let f = fixture();
    running(&f, "fw");
    let hooks = Arc::new(Log::default());
    let error = detached(&f, "fw", "fail-watch", hooks.clone()).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Internal, "{error}");
    let pid = 2000 + f.driver.platform().next_exec_pid.load(Ordering::SeqCst) - 1;
    assert_eq!(
        f.driver.wait_exec("fw", pid).unwrap_err().kind(),
        ErrorKind::NotFound
    );
    assert!(hooks.events().is_empty());
    f.driver.delete("fw", true).unwrap();
}

#[test]
fn detached_exec_needs_a_running_container_and_update_a_live_one() {
    let f = fixture();
    let refused = |id: &str| {
        detached(&f, id, "sleep", Arc::new(NoHooks))
            .unwrap_err()
            .kind()
    };
    f.driver
        .create(&command("s", "sleep"), &Stdio::default(), Arc::new(NoHooks))
        .unwrap();
    assert_eq!(refused("s"), ErrorKind::InvalidState, "created");
    f.driver.start("s").unwrap();
    f.driver.pause("s").unwrap();
    assert_eq!(refused("s"), ErrorKind::InvalidState, "paused");
    f.driver.resume("s").unwrap();
    f.driver.kill("s", 9, false).unwrap();
    f.driver.wait("s").unwrap();
    assert_eq!(refused("s"), ErrorKind::InvalidState, "stopped");
    assert_eq!(refused("nope"), ErrorKind::NotFound);
    let update = f.driver.update("s", &Resources::default()).unwrap_err();
    assert_eq!(update.kind(), ErrorKind::InvalidState, "{update}");
    f.driver.delete("s", false).unwrap();
}

// ---- containers left to a later driver ----

#[test]
fn on_drop_keep_leaves_the_containers_and_a_created_one_starts_in_the_next_driver() {
    let platform = Scripted::default();
    let ended = platform.ended.clone();
    let f = fixture_with(platform, OnDrop::Keep);
    let hooks = Arc::new(Log::default());
    f.driver
        .create(&command("kept", "sleep"), &Stdio::default(), hooks.clone())
        .unwrap();
    f.driver.start("kept").unwrap();
    f.driver
        .create(&command("made", "sleep"), &Stdio::default(), hooks.clone())
        .unwrap();
    let Fixture {
        driver,
        root,
        _removed,
    } = f;
    drop(Arc::into_inner(driver).expect("the only reference"));
    assert_eq!(ended.load(Ordering::SeqCst), 0, "no kill nor clean-up");
    assert_eq!(hooks.events(), ["start 1000"], "no hook after on_start");
    assert_eq!(saved_status(&root, "kept"), "running");
    assert_eq!(saved_status(&root, "made"), "created");

    // The next driver on the root.
    let driver = Lifecycle::new(Scripted::default(), root.clone(), OnDrop::Delete).unwrap();
    let f = Fixture {
        driver: Arc::new(driver),
        root,
        _removed,
    };
    assert!(f.driver.recovery_report().is_empty());
    assert_eq!(f.driver.state("kept").unwrap().status, Status::Running);
    assert_eq!(f.driver.state("made").unwrap().status, Status::Created);
    f.driver.start("made").unwrap();
    assert_eq!(f.driver.state("made").unwrap().status, Status::Running);
    assert_eq!(saved_status(&f.root, "made"), "running");
    for id in ["kept", "made"] {
        f.driver.delete(id, true).unwrap();
    }
}

#[test]
fn with_instance_reaches_the_instance_in_the_statuses_allowed_only() {
    let f = fixture();
    let allowed = [Status::Created, Status::Running];
    let program = |id: &str| {
        f.driver
            .with_instance(id, &allowed, "run a hook in", |_, init| {
                Ok(init.program.clone())
            })
    };
    let error = program("nobody").unwrap_err();
    assert_eq!(error.kind(), ErrorKind::NotFound, "{error}");

    f.driver
        .create(&command("w", "sleep"), &Stdio::null(), Arc::new(NoHooks))
        .unwrap();
    assert_eq!(program("w").unwrap(), "sleep", "created");
    f.driver.start("w").unwrap();
    assert_eq!(program("w").unwrap(), "sleep", "running");
    // What the closure returns, an error too, is the caller's.
    let error = f
        .driver
        .with_instance("w", &allowed, "run a hook in", |_, _| -> Result<()> {
            Err(Error::Internal("from the closure".into()))
        })
        .unwrap_err();
    assert!(error.to_string().contains("from the closure"), "{error}");

    f.driver.pause("w").unwrap();
    let error = program("w").unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidState, "{error}");
    assert_eq!(
        error.to_string(),
        "container \"w\" is paused: cannot run a hook in"
    );
    f.driver.resume("w").unwrap();
    f.driver.kill("w", 9, false).unwrap();
    f.driver.wait("w").unwrap();
    let error = program("w").unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidState, "{error}");
    assert!(error.to_string().contains("stopped"), "{error}");
}

#[test]
fn a_container_that_stopped_stays_listed_with_its_exit_in_the_next_driver_until_deleted() {
    let f = fixture_with(Scripted::default(), OnDrop::Keep);
    f.driver
        .create(
            &command("done", "sleep"),
            &Stdio::default(),
            Arc::new(NoHooks),
        )
        .unwrap();
    f.driver.start("done").unwrap();
    let sink = f
        .driver
        .platform()
        .last_sink
        .lock()
        .unwrap()
        .clone()
        .unwrap();
    sink.exited(ExitStatus::exited(4));
    wait_until("stopped", || {
        f.driver.state("done").unwrap().status == Status::Stopped
    });
    let Fixture {
        driver,
        root,
        _removed,
    } = f;
    drop(Arc::into_inner(driver).expect("the only reference"));
    assert_eq!(saved_status(&root, "done"), "stopped");

    let f = Fixture {
        driver: Arc::new(
            Lifecycle::new(Scripted::default(), root.clone(), OnDrop::Delete).unwrap(),
        ),
        root,
        _removed,
    };
    assert!(f.driver.recovery_report().is_empty());
    let state = f.driver.state("done").unwrap();
    assert_eq!(state.status, Status::Stopped);
    assert_eq!(state.pid, 0);
    assert_eq!(state.exit_status, Some(ExitStatus::exited(4)));
    assert_eq!(f.driver.list().unwrap(), [state]);
    assert_eq!(f.driver.wait("done").unwrap(), ExitStatus::exited(4));
    for refused in [
        f.driver.start("done"),
        f.driver.kill("done", 9, false),
        f.driver.pause("done"),
    ] {
        assert_eq!(refused.unwrap_err().kind(), ErrorKind::InvalidState);
    }
    let again = f
        .driver
        .create(
            &command("done", "sleep"),
            &Stdio::default(),
            Arc::new(NoHooks),
        )
        .unwrap_err();
    assert_eq!(again.kind(), ErrorKind::AlreadyExists);
    f.driver.delete("done", false).unwrap();
    assert_eq!(
        f.driver.state("done").unwrap_err().kind(),
        ErrorKind::NotFound
    );
    assert!(!f.root.join("done").exists());
    assert_eq!(f.driver.platform().launched.load(Ordering::SeqCst), 0);
}

#[test]
fn a_create_cut_short_is_cleaned_up_once_its_creator_has_let_go() {
    let f = fixture();
    // A directory without a state file, its creator gone: a driver that died mid-create.
    std::fs::create_dir(f.root.join("cut")).unwrap();
    std::fs::write(f.root.join("cut/state.json.tmp"), "{").unwrap();
    // And one whose creator lives: another driver on the root, between its mkdir and its
    // first save.
    let store = StateRoot::open(f.root.clone(), |from, to| std::fs::rename(from, to)).unwrap();
    let (_busy, claim) = store.create("busy").unwrap();

    let second = Lifecycle::new(Scripted::default(), f.root.clone(), OnDrop::Delete).unwrap();
    assert_eq!(
        second.recovery_report(),
        ["cut: its driver died while creating it; cleaned up"]
    );
    assert_eq!(*second.platform().abandoned.lock().unwrap(), ["cut"]);
    assert!(!f.root.join("cut").exists());
    assert!(
        f.root.join("busy").exists(),
        "a create under way was touched"
    );
    assert!(second.list().unwrap().is_empty());
    drop(second);

    drop(claim);
    let third = Lifecycle::new(Scripted::default(), f.root.clone(), OnDrop::Delete).unwrap();
    assert_eq!(
        third.recovery_report(),
        ["busy: its driver died while creating it; cleaned up"]
    );
    assert!(!f.root.join("busy").exists());
}
