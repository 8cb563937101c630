//! The commands and flags around the lifecycle: the JSON log, refused flags and commands,
//! `features`, `spec`, `--version`, `exec` (foreground, detached, with a pid file), the
//! console socket, `update`, `events`.

mod common;

use std::fs;
use std::io::IoSliceMut;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixListener;

use common::{reap, Cli};
use serde_json::Value;

#[test]
fn errors_go_to_the_json_log_as_containerd_reads_them() {
    let cli = Cli::new("log");
    let log = cli.scratch.join("log.json");
    let error = cli.fails(&[
        "--log",
        log.to_str().unwrap(),
        "--log-format",
        "json",
        "start",
        "no-such",
    ]);
    assert!(
        error.contains("container no-such does not exist"),
        "{error}"
    );
    let text = fs::read_to_string(&log).unwrap();
    let last: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(last["level"], "error");
    assert_eq!(last["msg"], "container no-such does not exist");
    assert!(last["time"].as_str().unwrap().contains('T'));
    // Text, to stderr, and debug lines only with --debug.
    let out = cli.run(&["--debug", "--log-format", "text", "state", "no-such"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("level=debug"), "{stderr}");
    assert!(
        stderr.contains("level=error msg=\"container no-such does not exist\""),
        "{stderr}"
    );
    let error = cli.fails(&["--log-format", "xml", "list"]);
    assert!(error.contains("--log-format"), "{error}");
}

#[test]
fn refused_flags_and_commands_say_so() {
    let cli = Cli::new("refused");
    let error = cli.fails(&["--systemd-cgroup", "list"]);
    assert!(error.contains("--systemd-cgroup"), "{error}");
    for command in ["checkpoint", "restore"] {
        let error = cli.fails(&[command, "x"]);
        assert!(error.contains("not supported"), "{error}");
    }
    let error = cli.fails(&["frobnicate"]);
    assert!(error.contains("no such command"), "{error}");
    let error = cli.fails(&["create", "--bogus", "x"]);
    assert!(
        error.contains("flag provided but not defined: -bogus"),
        "{error}"
    );
    let error = cli.fails(&["start"]);
    assert!(error.contains("requires a container id"), "{error}");
    let error = cli.fails(&["state", "bad/id"]);
    assert!(error.contains("id"), "{error}");
}

#[test]
fn version_features_and_spec() {
    let cli = Cli::new("info");
    let version = cli.ok(&["--version"]);
    assert!(version.starts_with("berth version "), "{version}");
    assert!(version.contains("spec: 1.2.0"), "{version}");
    let features: Value = serde_json::from_str(&cli.ok(&["features"])).unwrap();
    assert!(features["ociVersionMin"].is_string(), "{features}");
    assert!(features["ociVersionMax"].is_string(), "{features}");
    assert!(features["hooks"]
        .as_array()
        .unwrap()
        .iter()
        .any(|h| h == "prestart"));
    assert!(features["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n == "pid"));
    let dir = cli.scratch.join("spec");
    fs::create_dir_all(&dir).unwrap();
    cli.ok(&["spec", "--bundle", dir.to_str().unwrap()]);
    let spec: Value =
        serde_json::from_str(&fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    assert_eq!(spec["root"]["path"], "rootfs");
    assert_eq!(spec["process"]["args"][0], "sh");
    assert_eq!(spec["process"]["terminal"], true);
    let error = cli.fails(&["spec", "--bundle", dir.to_str().unwrap()]);
    assert!(error.contains("exists"), "{error}");
}

/// Receives one fd sent with SCM_RIGHTS on `listener`.
fn receive_fd(listener: &UnixListener) -> OwnedFd {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    let (stream, _) = listener.accept().unwrap();
    let mut buf = [0u8; 64];
    let mut iov = [IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    // Close-on-exec: the berth processes other tests spawn meanwhile must not inherit it.
    let msg = recvmsg::<()>(
        stream.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .unwrap();
    for cmsg in msg.cmsgs().unwrap() {
        if let ControlMessageOwned::ScmRights(fds) = cmsg {
            #[allow(unsafe_code)]
            // SAFETY: the fd just arrived with SCM_RIGHTS and is this test's alone.
            let fd = unsafe { OwnedFd::from_raw_fd(fds[0]) };
            return fd;
        }
    }
    panic!("no fd arrived on the console socket");
}

/// What a terminal master gives until `end` (or its end), and the master: the caller keeps it
/// open until the process has exited, or its closing would hang the process up (SIGHUP).
fn read_until(master: OwnedFd, end: &str) -> (String, fs::File) {
    use std::io::Read;
    let mut master = fs::File::from(master);
    let mut output = String::new();
    let mut buf = [0u8; 256];
    while !output.contains(end) {
        match master.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => output.push_str(&String::from_utf8_lossy(&buf[..n])),
        }
    }
    (output, master)
}

#[test]
fn the_terminal_master_arrives_over_the_console_socket() {
    let cli = Cli::new("console");
    let id = common::unique("tty");
    let mut bundle = cli.bundle(&id, &["sh", "-c", "tty; stty size; echo done"]);
    bundle.config["process"]["terminal"] = serde_json::json!(true);
    bundle.config["process"]["consoleSize"] = serde_json::json!({"height": 24, "width": 91});
    bundle.save();
    let socket = cli.scratch.join("console.sock");
    let listener = UnixListener::bind(&socket).unwrap();
    let receiver = std::thread::spawn(move || receive_fd(&listener));
    let pid = cli.ok_with_pid(&[
        "create",
        "-b",
        bundle.path(),
        "--console-socket",
        socket.to_str().unwrap(),
        &id,
    ]);
    let master = receiver.join().unwrap();
    cli.ok(&["start", &id]);
    let (output, _master) = read_until(master, "done");
    assert!(
        output.contains("/dev/console") || output.contains("/dev/pts/"),
        "{output:?}"
    );
    assert!(output.contains("24 91"), "{output:?}");
    assert_eq!(reap(pid), 0);
    cli.ok(&["delete", &id]);
    // A terminal without a socket cannot be detached; a socket without a terminal is an error.
    let other = common::unique("tty2");
    let mut bundle = cli.bundle(&other, &["true"]);
    bundle.config["process"]["terminal"] = serde_json::json!(true);
    bundle.save();
    let error = cli.fails(&["create", "-b", bundle.path(), &other]);
    assert!(error.contains("--console-socket"), "{error}");
    assert_eq!(cli.leftovers(), Vec::<String>::new());
}

#[test]
fn exec_in_the_foreground_detached_and_from_a_process_file() {
    let cli = Cli::new("exec");
    let id = common::unique("e");
    let bundle = cli.bundle(&id, &["sleep", "100"]);
    let pid = cli.ok_with_pid(&["run", "-d", "-b", bundle.path(), &id]);

    let out = cli.run(&[
        "exec",
        "--env",
        "X=1",
        "--cwd",
        "/tmp",
        &id,
        "sh",
        "-c",
        "echo $X $(pwd); exit 5",
    ]);
    assert_eq!(out.status.code(), Some(5));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "1 /tmp\n");

    let process = cli.scratch.join("process.json");
    fs::write(
        &process,
        serde_json::json!({"args": ["sh", "-c", "id -u; exit 2"], "cwd": "/", "user": {"uid": 1000, "gid": 1000}, "env": ["PATH=/bin"]}).to_string(),
    )
    .unwrap();
    let out = cli.run(&["exec", "--process", process.to_str().unwrap(), &id]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "1000\n");

    let exec_pid = cli.ok_with_pid(&["exec", "--detach", &id, "sh", "-c", "exit 9"]);
    assert_eq!(
        reap(exec_pid),
        9,
        "the detached process is the caller's to reap"
    );

    let error = cli.fails(&["exec", &id]);
    assert!(error.contains("requires a command"), "{error}");
    cli.ok(&["delete", "-f", &id]);
    reap(pid);
    let error = cli.fails(&["exec", &id, "true"]);
    assert!(error.contains("does not exist"), "{error}");
}

#[test]
fn update_and_events() {
    let cli = Cli::new("update");
    let id = common::unique("u");
    let bundle = cli.bundle(&id, &["sleep", "100"]);
    let pid = cli.ok_with_pid(&["run", "-d", "-b", bundle.path(), &id]);
    cli.ok(&["update", "--pids-limit", "42", "--memory", "64m", &id]);
    let resources = cli.scratch.join("resources.json");
    fs::write(&resources, r#"{"pids": {"limit": 43}}"#).unwrap();
    cli.ok(&["update", "--resources", resources.to_str().unwrap(), &id]);
    let mut command = cli.command(&["update", "--resources", "-", &id]);
    command.stdin(std::process::Stdio::piped());
    let mut child = command.spawn().unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(br#"{"memory": {"limit": 33554432}}"#)
        .unwrap();
    assert!(child.wait().unwrap().success());
    let event: Value = serde_json::from_str(&cli.ok(&["events", "--stats", &id])).unwrap();
    assert_eq!(event["type"], "stats");
    assert_eq!(event["id"], id.as_str());
    assert_eq!(event["data"]["memory"]["usage"]["limit"], 33554432);
    assert_eq!(event["data"]["pids"]["limit"], 43, "{event}");
    let error = cli.fails(&["update", "--pids-limit", "many", &id]);
    assert!(error.contains("pids-limit"), "{error}");
    cli.ok(&["delete", "-f", &id]);
    reap(pid);
}

#[test]
fn preserved_fds_reach_the_container_at_three_and_up() {
    let cli = Cli::new("fds");
    let id = common::unique("fd");
    let bundle = cli.bundle(
        &id,
        &[
            "sh",
            "-c",
            "cat <&3; cat <&4; ls /proc/self/fd | tr '\\n' ' '",
        ],
    );
    let (alpha, beta) = (cli.scratch.join("alpha"), cli.scratch.join("beta"));
    fs::write(&alpha, "alpha\n").unwrap();
    fs::write(&beta, "beta\n").unwrap();
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "exec \"$0\" --root {} run --preserve-fds 2 -b {} {id} 3<{} 4<{}",
            cli.root.display(),
            bundle.path(),
            alpha.display(),
            beta.display()
        ))
        .arg(common::BERTH)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // `ls` sees its stdio, the two fds and the directory it reads.
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "alpha\nbeta\n0 1 2 3 4 5 "
    );
    let other = common::unique("fd-none");
    let bundle = cli.bundle(&other, &["true"]);
    let error = cli.fails(&["run", "--preserve-fds", "3", "-b", bundle.path(), &other]);
    assert!(error.contains("fd 3 is not open"), "{error}");
    assert_eq!(cli.leftovers(), Vec::<String>::new());
}

#[test]
fn exec_with_a_terminal_sends_its_master_and_takes_the_user() {
    let cli = Cli::new("exec-tty");
    let id = common::unique("et");
    let bundle = cli.bundle(&id, &["sleep", "100"]);
    let pid = cli.ok_with_pid(&["run", "-d", "-b", bundle.path(), &id]);
    let socket = cli.scratch.join("exec.sock");
    let listener = UnixListener::bind(&socket).unwrap();
    let receiver = std::thread::spawn(move || receive_fd(&listener));
    let exec_pid_file = cli.scratch.join("exec.pid");
    cli.ok(&[
        "exec",
        "--detach",
        "--tty",
        "--user",
        "1000:1000",
        "--console-socket",
        socket.to_str().unwrap(),
        "--pid-file",
        exec_pid_file.to_str().unwrap(),
        &id,
        "sh",
        "-c",
        "tty; id -u; echo done",
    ]);
    let (output, _master) = read_until(receiver.join().unwrap(), "done");
    assert!(output.contains("/dev/pts/"), "{output:?}");
    assert!(output.contains("1000"), "{output:?}");
    let exec_pid: i32 = fs::read_to_string(&exec_pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(reap(exec_pid), 0);
    let error = cli.fails(&["exec", "--detach", "--tty", &id, "true"]);
    assert!(error.contains("--console-socket"), "{error}");
    cli.ok(&["delete", "-f", &id]);
    reap(pid);
}

#[test]
fn a_foreground_run_forwards_signals_and_relays_a_terminal() {
    let cli = Cli::new("fg");
    let id = common::unique("sig");
    let bundle = cli.bundle(
        &id,
        &[
            "sh",
            "-c",
            "trap 'echo got-term; exit 3' TERM; echo ready; while true; do sleep 0.1; done",
        ],
    );
    let out_path = cli.scratch.join("fg.out");
    let mut child = cli
        .command(&["run", "--no-pivot", "-b", bundle.path(), &id])
        .stdout(fs::File::create(&out_path).unwrap())
        .spawn()
        .unwrap();
    common::eventually("the program to start", || {
        fs::read_to_string(&out_path)
            .unwrap_or_default()
            .contains("ready")
    });
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(3));
    assert_eq!(fs::read_to_string(&out_path).unwrap(), "ready\ngot-term\n");

    // A terminal and no console socket, in the foreground: the CLI relays it.
    let id = common::unique("relay");
    let mut bundle = cli.bundle(&id, &["sh", "-c", "tty; echo relayed"]);
    bundle.config["process"]["terminal"] = serde_json::json!(true);
    bundle.save();
    let out = cli.run(&["run", "-b", bundle.path(), &id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("/dev/"), "{text:?}");
    assert!(text.contains("relayed"), "{text:?}");
    assert_eq!(cli.leftovers(), Vec::<String>::new());
}
