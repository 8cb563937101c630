//! OCI hooks run by the CLI: the state JSON on stdin, their args and env, the order of the
//! stages, and the timeout.

mod common;

use std::fs;

use common::{reap, Cli};
use serde_json::{json, Value};

#[test]
fn each_stage_gets_the_state_on_stdin_with_its_args_and_env() {
    let cli = Cli::new("hooks");
    let id = common::unique("h");
    let log = cli.scratch.join("hooks.log");
    let hook = cli.script(
        "hook.sh",
        &format!(
            "{{ printf '%s %s ' \"$1\" \"$HOOK_ENV\"; cat; echo; }} >> {}",
            log.display()
        ),
    );
    let mut bundle = cli.bundle(&id, &["sleep", "100"]);
    let entry = |stage: &str| json!([{"path": hook, "args": [format!("argv0-{stage}"), stage], "env": [format!("HOOK_ENV=env-{stage}")]}]);
    bundle.config["hooks"] = json!({
        "prestart": entry("prestart"),
        "createRuntime": entry("createRuntime"),
        "poststart": entry("poststart"),
        "poststop": entry("poststop"),
    });
    bundle.save();
    let pid = cli.ok_with_pid(&["create", "-b", bundle.path(), &id]);
    cli.ok(&["start", &id]);
    cli.ok(&["kill", &id, "KILL"]);
    reap(pid);
    cli.ok(&["delete", &id]);
    let text = fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let stages: Vec<&str> = lines.iter().map(|l| l.split(' ').next().unwrap()).collect();
    assert_eq!(
        stages,
        ["prestart", "createRuntime", "poststart", "poststop"],
        "{text}"
    );
    for line in &lines {
        // (A script's $0 is its path, whatever argv0 was: the start hook below checks argv0.)
        let mut parts = line.splitn(3, ' ');
        let stage = parts.next().unwrap();
        assert_eq!(parts.next().unwrap(), format!("env-{stage}"), "{line}");
        let state: Value = serde_json::from_str(parts.next().unwrap()).unwrap();
        assert_eq!(state["id"], id.as_str());
        assert_eq!(state["bundle"], bundle.path());
        assert_eq!(state["ociVersion"], "1.2.0");
        let (status, with_pid) = match stage {
            "prestart" | "createRuntime" => ("creating", true),
            "poststart" => ("running", true),
            _ => ("stopped", false),
        };
        assert_eq!(state["status"], status, "{line}");
        if with_pid {
            assert_eq!(state["pid"], pid, "{line}");
        }
    }
    assert_eq!(cli.leftovers(), Vec::<String>::new());
}

#[test]
fn a_failing_or_slow_prestart_hook_fails_the_create_and_leaves_nothing() {
    let cli = Cli::new("hook-fail");
    let failing = cli.script("fail.sh", "echo 'no network for you' >&2; exit 4");
    let slow = cli.script("slow.sh", "sleep 30");
    for (name, hook, expected) in [
        ("fail", json!({"path": failing}), "no network for you"),
        (
            "slow",
            json!({"path": slow, "timeout": 1}),
            "timed out after 1 s",
        ),
    ] {
        let id = common::unique(name);
        let mut bundle = cli.bundle(&id, &["sleep", "100"]);
        bundle.config["hooks"] = json!({"prestart": [hook]});
        bundle.save();
        let started = std::time::Instant::now();
        let error = cli.fails(&["create", "-b", bundle.path(), &id]);
        assert!(error.contains(expected), "{error}");
        assert!(error.contains("prestart"), "{error}");
        assert!(started.elapsed() < std::time::Duration::from_secs(20));
        assert_eq!(
            cli.leftovers(),
            Vec::<String>::new(),
            "after the {name} hook"
        );
    }
}

#[test]
fn a_failing_poststart_hook_is_a_warning_and_the_container_runs_on() {
    let cli = Cli::new("poststart-warn");
    let id = common::unique("pw");
    let failing = cli.script("fail.sh", "exit 1");
    let mut bundle = cli.bundle(&id, &["sleep", "100"]);
    bundle.config["hooks"] = json!({"poststart": [{"path": failing}]});
    bundle.save();
    let log = cli.scratch.join("log.json");
    let pid = cli.ok_with_pid(&[
        "--log",
        log.to_str().unwrap(),
        "--log-format",
        "json",
        "run",
        "-d",
        "-b",
        bundle.path(),
        &id,
    ]);
    assert_eq!(cli.status(&id), "running");
    let text = fs::read_to_string(&log).unwrap();
    let line: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(line["level"], "warning");
    assert!(
        line["msg"].as_str().unwrap().contains("poststart hook #0"),
        "{text}"
    );
    cli.ok(&["delete", "-f", &id]);
    reap(pid);
}

#[test]
fn create_container_and_start_container_hooks_run_in_the_containers_namespaces() {
    let cli = Cli::new("ns-hooks");
    let id = common::unique("nh");
    // On the host, but run in the container: its `#!/bin/sh` resolves there, and what it
    // changes (the hostname of the container's uts namespace, a file in its /tmp) is the
    // container's.
    let create_hook = cli.script(
        "create.sh",
        "cat > /tmp/create-state; hostname from-create-hook",
    );
    let mut bundle = cli.bundle(
        &id,
        &[
            "sh",
            "-c",
            "cat /tmp/create-state; echo; hostname; cat /tmp/start-argv",
        ],
    );
    bundle.config["mounts"].as_array_mut().unwrap().push(
        json!({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid"]}),
    );
    bundle.config["hooks"] = json!({
        "createContainer": [{"path": create_hook}],
        // A path in the container's root.
        "startContainer": [{"path": "/bin/sh", "args": ["sh", "-c", "echo \"$0 $1 $X\" > /tmp/start-argv", "argv1", "arg"], "env": ["X=in-container"]}],
    });
    bundle.save();
    let out = cli.run(&["run", "-b", bundle.path(), &id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut lines = stdout.lines();
    let state: Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    assert_eq!(state["id"], id.as_str());
    assert_eq!(state["status"], "creating");
    assert_eq!(lines.next(), Some("from-create-hook"), "{stdout}");
    assert_eq!(lines.next(), Some("argv1 arg in-container"), "{stdout}");
    assert_eq!(cli.leftovers(), Vec::<String>::new());
}
