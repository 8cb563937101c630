//! The shared lifecycle over a scripted platform: the status machine, the ordering of hooks,
//! the state file and the undoing of a failed create, with no OS underneath.

use std::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use runtime_core::lifecycle::{ExitSink, Launched, OnDrop, Peers, Platform, Saved};
use runtime_core::{
    Command, Driver, Error, ErrorKind, ExitStatus, Hooks, Lifecycle, Operation, ProcessConfig,
    Result, Status, Stdio, Validated,
};

/// A platform whose "init" does what its program name says.
#[derive(Default)]
struct Scripted {
    prepared: AtomicUsize,
    launched: AtomicUsize,
    cleaned: AtomicUsize,
    next_pid: AtomicI32,
    /// The sink of the last container watched, kept to report into it late.
    last_sink: Mutex<Option<ExitSink<Scripted>>>,
}

struct Init {
    program: String,
    exited: AtomicBool,
    sink: Mutex<Option<ExitSink<Scripted>>>,
}

impl Init {
    fn exit(&self, status: ExitStatus) {
        self.exited.store(true, Ordering::SeqCst);
        let sink = self.sink.lock().unwrap().clone();
        if let Some(sink) = sink {
            sink.exited(status);
        }
    }
}

impl Platform for Scripted {
    type Prepared = ();
    type Instance = Init;
    type Process = ();
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
            instance: Init {
                program: command.process.args[0].clone(),
                exited: AtomicBool::new(false),
                sink: Mutex::new(None),
            },
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

    fn start(&self, init: &Init) -> Result<()> {
        if init.program == "exit-at-once" {
            // The exit is reported before start has returned.
            init.exit(ExitStatus::exited(3));
        }
        Ok(())
    }

    fn signal(&self, init: &Init, signal: i32, _all: bool) -> Result<bool> {
        if init.exited.load(Ordering::SeqCst) {
            return Ok(false);
        }
        init.exit(ExitStatus::signaled(signal));
        Ok(true)
    }

    fn kill(&self, init: &Init, _paused: bool) -> Result<()> {
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
        _: &Validated<ProcessConfig>,
        _: &Stdio,
        _: &Arc<dyn Hooks>,
    ) -> Result<((), i32)> {
        Ok(((), 7))
    }

    fn exec_wait(&self, _: &Init, (): ()) -> Result<ExitStatus> {
        Ok(ExitStatus::exited(0))
    }

    fn saved(&self, init: &Init) -> serde_json::Value {
        serde_json::json!({ "program": init.program })
    }

    fn adopt(&self, _: &Saved<serde_json::Value>, _: &std::path::Path) -> Option<Init> {
        None
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
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn fixture() -> Fixture {
    static COUNT: AtomicUsize = AtomicUsize::new(0);
    let root = std::env::temp_dir().join(format!(
        "berth-lifecycle-{}-{}",
        std::process::id(),
        COUNT.fetch_add(1, Ordering::SeqCst)
    ));
    let driver =
        Arc::new(Lifecycle::new(Scripted::default(), root.clone(), OnDrop::Delete).unwrap());
    Fixture { driver, root }
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
            vec![Start, Kill, Stats, Resize, ForceDelete, Wait, State],
        ),
        (
            Status::Running,
            vec![Exec, Pause, Kill, Stats, Resize, ForceDelete, Wait, State],
        ),
        (
            Status::Paused,
            vec![Resume, Kill, Stats, Resize, ForceDelete, Wait, State],
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
