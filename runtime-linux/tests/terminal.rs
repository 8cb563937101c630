//! Terminals: a shell driven through the master the console hook hands over.

mod common;

use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{driver, shell};
use runtime_core::{ConsoleSize, Driver, ErrorKind, Hooks, NoHooks, ProcessConfig, Stdio};

/// Keeps the master the console hook gives.
#[derive(Default)]
struct Console(Mutex<Option<std::fs::File>>);

impl Hooks for Console {
    // The hook hands the master over as a number: owning it takes `from_raw_fd`, which is
    // unsafe (runtime-core's `Hooks` gives a raw fd, for the C ABI's sake).
    #[allow(unsafe_code)]
    fn on_console(&self, _id: &str, master: i32) {
        // SAFETY: the driver hands the master over to `on_console` and keeps no use of this
        // number (its own copy is another fd), so nothing else owns it: this test does from
        // here on, and closes it once.
        let file = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(master) });
        *self.0.lock().unwrap() = Some(file);
    }
}

impl Console {
    fn file(&self) -> std::fs::File {
        self.0
            .lock()
            .unwrap()
            .take()
            .expect("on_console was called")
    }
}

/// Types `line` and reads until `expected` shows up (or fails after 5 s). The terminal echoes
/// what is typed, so `expected` should be something only the output has (`$((6*7))` → 42).
fn converse(master: &mut std::fs::File, line: &str, expected: &str) -> String {
    master.write_all(line.as_bytes()).unwrap();
    let mut seen = String::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut buffer = [0u8; 4096];
    while !seen.contains(expected) {
        assert!(
            Instant::now() < deadline,
            "never saw {expected:?}; saw {seen:?}"
        );
        let n = master.read(&mut buffer).unwrap();
        seen.push_str(&String::from_utf8_lossy(&buffer[..n]));
    }
    seen
}

#[test]
fn a_shell_runs_on_a_terminal_of_the_containers_own_devpts() {
    let driver = driver();
    let console = Arc::new(Console::default());
    let mut command = shell("tty", "exec sh");
    command.process.tty = true;
    command.process.console_size = Some(ConsoleSize {
        rows: 30,
        cols: 100,
    });
    driver
        .create(&command, &Stdio::null(), console.clone())
        .unwrap();
    // The master came before the program runs.
    let mut master = console.file();
    driver.start(&command.id).unwrap();

    let seen = converse(
        &mut master,
        "tty; stty size; echo marker-$((6*7))\n",
        "marker-42",
    );
    assert!(seen.contains("/dev/pts/0"), "{seen:?}");
    assert!(seen.contains("30 100"), "{seen:?}");
    let seen = converse(&mut master, "readlink /proc/self/fd/0; [ -c /dev/console ] && echo console-$((2*2)); echo done-$((1+0))\n", "done-1\r\n");
    assert!(
        seen.contains("/dev/pts/0") && seen.contains("console-4"),
        "{seen:?}"
    );

    driver.resize(&command.id, 40, 120).unwrap();
    let seen = converse(&mut master, "stty size; echo done-$((1+1))\n", "done-2\r\n");
    assert!(seen.contains("40 120"), "{seen:?}");

    // An exec gets a terminal of its own, which resize reaches too.
    let exec_console = Arc::new(Console::default());
    let mut process = ProcessConfig::new(["/bin/sh"]);
    process.tty = true;
    process.console_size = Some(ConsoleSize { rows: 10, cols: 50 });
    let exec = {
        let driver = Arc::new(driver);
        let id = command.id.clone();
        let hooks = exec_console.clone();
        let handle = {
            let driver = driver.clone();
            std::thread::spawn(move || driver.exec(&id, &process, &Stdio::null(), hooks))
        };
        (driver, handle)
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while exec_console.0.lock().unwrap().is_none() {
        assert!(Instant::now() < deadline, "no console for the exec");
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut exec_master = exec_console.file();
    let seen = converse(
        &mut exec_master,
        "tty; stty size; echo done-$((1+2))\n",
        "done-3\r\n",
    );
    assert!(
        seen.contains("/dev/pts/1") && seen.contains("10 50"),
        "{seen:?}"
    );
    let (driver, handle) = exec;
    driver.resize(&command.id, 20, 60).unwrap();
    converse(&mut exec_master, "stty size; exit 5\n", "20 60\r\n");
    assert_eq!(handle.join().unwrap().unwrap().code, 5);

    master.write_all(b"exit 3\n").unwrap();
    assert_eq!(driver.wait(&command.id).unwrap().code, 3);
    driver.delete(&command.id, false).unwrap();
}

#[test]
fn resize_needs_a_terminal_and_a_size() {
    let driver = driver();
    let command = shell("notty", "sleep 100");
    driver
        .create(&command, &Stdio::null(), Arc::new(NoHooks))
        .unwrap();
    driver.start(&command.id).unwrap();
    assert_eq!(
        driver.resize(&command.id, 10, 10).unwrap_err().kind(),
        ErrorKind::InvalidState
    );
    assert_eq!(
        driver.resize(&command.id, 0, 10).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    assert_eq!(
        driver.resize("ghost", 10, 10).unwrap_err().kind(),
        ErrorKind::NotFound
    );
    driver.delete(&command.id, true).unwrap();
}

#[test]
fn under_berths_init_the_program_is_the_terminals_foreground_group() {
    let driver = driver();
    // Fields 5, 6 and 8 of /proc/self/stat: the process group (the program leads its own),
    // the session (the init's, pid 1) and the terminal's foreground group (the program's).
    let mut command = shell(
        "init-tty",
        "set -- $(cut -d' ' -f5,6,8 /proc/self/stat); \
         [ \"$1\" = \"$$\" ] && [ \"$1\" = \"$3\" ] && [ \"$2\" = 1 ] && echo fore''ground",
    );
    command.init = true;
    command.process.tty = true;
    let console = Arc::new(Console::default());
    driver
        .create(&command, &Stdio::null(), console.clone())
        .unwrap();
    driver.start(&command.id).unwrap();
    let mut master = console.file();
    let seen = converse(&mut master, "", "foreground");
    assert_eq!(
        driver.wait(&command.id).unwrap(),
        runtime_core::ExitStatus::exited(0),
        "{seen:?}"
    );
    driver.delete(&command.id, false).unwrap();
}
