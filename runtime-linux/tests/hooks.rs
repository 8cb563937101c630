//! `LinuxDriver::run_hook`: OCI's `createContainer` and `startContainer` hooks, run in a
//! container's namespaces and cgroup as its root, unconfined, with the caller's stdin, their
//! output collected, and their failures and timeouts reported.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{driver, rootfs, shell, TestDriver};
use runtime_core::{Driver, ErrorKind, NoHooks, Stdio};
use runtime_linux::{ContainerHook, HookProgram};

/// A container that sleeps, with its own hostname; created, and started if `start`.
fn sleeper(driver: &TestDriver, name: &str, start: bool) -> String {
    let mut command = shell(name, "sleep 1000");
    command.hostname = Some(format!("{name}-host"));
    driver
        .create(&command, &Stdio::null(), Arc::new(NoHooks))
        .unwrap();
    if start {
        driver.start(&command.id).unwrap();
    }
    command.id
}

/// A directory of the host outside the rootfs, removed when dropped.
struct HostDir(PathBuf);

impl HostDir {
    fn new(name: &str) -> HostDir {
        let dir = std::env::temp_dir().join(format!("berth-hooks-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        HostDir(dir)
    }

    /// An executable file `name` holding `bytes`.
    fn executable(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, bytes).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }
}

impl Drop for HostDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn hook(program: HookProgram, args: &[&str], env: &[&str]) -> ContainerHook {
    ContainerHook {
        program,
        args: args.iter().map(|a| a.to_string()).collect(),
        env: env.iter().map(|e| e.to_string()).collect(),
        timeout: Some(Duration::from_secs(60)),
    }
}

fn in_container(path: &str) -> HookProgram {
    HookProgram::Container(path.into())
}

/// The pids in the container's cgroup.
fn cgroup_pids(driver: &TestDriver, id: &str) -> Vec<i32> {
    let relative = driver.state(id).unwrap().cgroup_path;
    let dir = common::cgroup_roots()
        .into_iter()
        .map(|root| root.join(relative.trim_start_matches('/')))
        .find(|dir| dir.join("cgroup.procs").exists())
        .expect("the container's cgroup");
    let mut pids: Vec<i32> = std::fs::read_to_string(dir.join("cgroup.procs"))
        .unwrap()
        .split_whitespace()
        .map(|pid| pid.parse().unwrap())
        .collect();
    pids.sort();
    pids
}

fn ns_link(pid: &str, ns: &str) -> String {
    std::fs::read_link(format!("/proc/{pid}/ns/{ns}"))
        .unwrap()
        .display()
        .to_string()
}

/// What a hook reports of itself: namespaces, hostname, cwd, ids, confinement, environment
/// (its first exec's, from /proc), its cgroup and its stdin.
const REPORT: &str = "for ns in mnt uts net ipc pid cgroup; do echo \"ns-$ns $(readlink /proc/self/ns/$ns)\"; done; \
     echo \"hostname $(hostname)\"; echo \"cwd $(pwd)\"; echo \"uid $(id -u):$(id -g)\"; \
     grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status | tr -d '\\t'; \
     echo \"environ $(tr '\\0' ' ' < /proc/$$/environ)\"; \
     [ \"$(cat /proc/self/cgroup)\" = \"$(cat /proc/1/cgroup)\" ] && echo 'cgroups of-init'; \
     echo \"stdin $(cat)\"";

fn field<'a>(out: &'a str, name: &str) -> &'a str {
    out.lines()
        .find_map(|line| {
            line.strip_prefix(name)
                .and_then(|rest| rest.strip_prefix([' ', ':']))
        })
        .unwrap_or_else(|| panic!("no {name} in {out}"))
        .trim()
}

/// What every hook must see, whatever its program: the init's namespaces and cgroup, `/`,
/// root, every capability of the bounding set, no confinement, exactly `env`.
fn assert_in_container(out: &str, init: i32, hostname: &str, env: &str) {
    for ns in ["mnt", "uts", "net", "ipc", "pid", "cgroup"] {
        let seen = field(out, &format!("ns-{ns}"));
        assert_eq!(seen, ns_link(&init.to_string(), ns), "{ns}: {out}");
    }
    assert_eq!(field(out, "hostname"), hostname, "{out}");
    assert_eq!(field(out, "cwd"), "/", "{out}");
    assert_eq!(field(out, "uid"), "0:0", "{out}");
    assert_eq!(field(out, "CapEff"), field(out, "CapBnd"), "{out}");
    assert_eq!(field(out, "NoNewPrivs"), "0", "{out}");
    assert_eq!(field(out, "Seccomp"), "0", "{out}");
    assert_eq!(field(out, "environ"), env, "{out}");
    // Its cgroups are those of the container's pid 1, its init.
    assert_eq!(field(out, "cgroups"), "of-init", "{out}");
}

#[test]
fn a_host_script_runs_in_a_created_containers_namespaces_with_its_stdin() {
    let driver = driver();
    let id = sleeper(&driver, "hook-host", false);
    let init = driver.state(&id).unwrap().pid;
    let dir = HostDir::new("script");
    // The interpreter is the container's /bin/sh: the path of the script is the host's.
    let script = dir.executable("report.sh", format!("#!/bin/sh\n{REPORT}\n").as_bytes());
    assert!(!Path::new(rootfs())
        .join(script.strip_prefix("/").unwrap())
        .exists());
    let output = driver
        .run_hook(
            &id,
            &hook(HookProgram::Host(script), &[], &["A=1", "B=two words"]),
            b"{\"ociVersion\": \"1.0.2\"}",
        )
        .unwrap();
    let out = String::from_utf8(output.stdout).unwrap();
    assert_in_container(&out, init, "hook-host-host", "A=1 B=two words");
    assert_eq!(field(&out, "stdin"), "{\"ociVersion\": \"1.0.2\"}");
    assert!(
        output.stderr.is_empty(),
        "{:?}",
        String::from_utf8_lossy(&output.stderr)
    );
    // The container is still created, and starts.
    assert_eq!(cgroup_pids(&driver, &id), [init]);
    driver.start(&id).unwrap();
    driver.delete(&id, true).unwrap();
}

#[test]
fn a_host_static_executable_runs_by_fd_with_its_own_argv0() {
    let driver = driver();
    let id = sleeper(&driver, "hook-static", true);
    let init = driver.state(&id).unwrap().pid;
    let dir = HostDir::new("static");
    // A static executable needs nothing of the container's at its exec.
    let busybox = std::fs::read(Path::new(rootfs()).join("bin/busybox")).unwrap();
    let program = dir.executable("hook-busybox", &busybox);
    let output = driver
        .run_hook(
            &id,
            &hook(
                HookProgram::Host(program),
                &["sh", "-c", REPORT],
                &["ONLY=this"],
            ),
            b"state",
        )
        .unwrap();
    let out = String::from_utf8(output.stdout).unwrap();
    assert_in_container(&out, init, "hook-static-host", "ONLY=this");
    assert_eq!(field(&out, "stdin"), "state");
    driver.delete(&id, true).unwrap();
}

#[test]
fn a_container_hook_runs_a_program_of_the_rootfs() {
    let driver = driver();
    let id = sleeper(&driver, "hook-cont", true);
    let init = driver.state(&id).unwrap().pid;
    // argv[0] "sh" is busybox's applet, not its path; no PATH is added to the environment.
    let output = driver
        .run_hook(
            &id,
            &hook(in_container("/bin/busybox"), &["sh", "-c", REPORT], &[]),
            b"",
        )
        .unwrap();
    let out = String::from_utf8(output.stdout).unwrap();
    assert_in_container(&out, init, "hook-cont-host", "");
    assert_eq!(field(&out, "stdin"), "");

    // No args: argv is the path alone, so sh reads its script from stdin.
    let output = driver
        .run_hook(
            &id,
            &hook(in_container("/bin/sh"), &[], &[]),
            b"echo \"$0 from stdin\"",
        )
        .unwrap();
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        "/bin/sh from stdin\n"
    );

    // Input larger than a pipe holds, and output larger than what is kept.
    let input = vec![b'x'; 1 << 20];
    let output = driver
        .run_hook(
            &id,
            &hook(
                in_container("/bin/sh"),
                &["sh", "-c", "wc -c; cat /dev/zero | head -c 200000 >&2"],
                &[],
            ),
            &input,
        )
        .unwrap();
    assert_eq!(String::from_utf8(output.stdout).unwrap().trim(), "1048576");
    assert_eq!(output.stderr.len(), runtime_linux::hook::OUTPUT_LIMIT);
    // A hook that does not read its input is no trouble either.
    driver
        .run_hook(
            &id,
            &hook(in_container("/bin/sh"), &["sh", "-c", "true"], &[]),
            &input,
        )
        .unwrap();
    assert_eq!(cgroup_pids(&driver, &id), [init]);
    driver.delete(&id, true).unwrap();
}

#[test]
fn a_failing_hook_is_an_error_naming_it_its_status_and_its_stderr() {
    let driver = driver();
    let id = sleeper(&driver, "hook-fail", true);
    let init = driver.state(&id).unwrap().pid;
    let failing = hook(
        in_container("/bin/sh"),
        &[
            "sh",
            "-c",
            "echo 'lots of noise' >&2; echo 'no network' >&2; exit 3",
        ],
        &[],
    );
    let error = driver.run_hook(&id, &failing, b"").unwrap_err();
    assert_eq!(error.kind(), ErrorKind::System, "{error}");
    let text = error.to_string();
    assert!(
        text.starts_with("hook /bin/sh: exited with code 3"),
        "{text}"
    );
    assert!(text.contains("no network"), "{text}");

    let killed = hook(in_container("/bin/sh"), &["sh", "-c", "kill -9 $$"], &[]);
    let error = driver.run_hook(&id, &killed, b"").unwrap_err();
    assert!(
        error.to_string().contains("was killed by signal 9"),
        "{error}"
    );

    let missing = hook(in_container("/no/such/hook"), &[], &[]);
    let error = driver.run_hook(&id, &missing, b"").unwrap_err();
    assert!(error.to_string().contains("/no/such/hook"), "{error}");
    assert!(error.to_string().contains("ENOENT"), "{error}");

    // A host script whose interpreter the container lacks cannot run (see runtime_linux::hook).
    let dir = HostDir::new("nointerp");
    let script = dir.executable("x.sh", b"#!/usr/bin/no-such-interpreter\n");
    let error = driver
        .run_hook(&id, &hook(HookProgram::Host(script), &[], &[]), b"")
        .unwrap_err();
    assert!(error.to_string().contains("ENOENT"), "{error}");
    let error = driver
        .run_hook(
            &id,
            &hook(HookProgram::Host(dir.0.join("absent")), &[], &[]),
            b"",
        )
        .unwrap_err();
    assert!(error.to_string().contains("absent"), "{error}");
    assert_eq!(cgroup_pids(&driver, &id), [init], "no hook is left");
    driver.delete(&id, true).unwrap();
}

#[test]
fn a_hook_that_outlives_its_timeout_is_killed() {
    let driver = driver();
    let id = sleeper(&driver, "hook-slow", true);
    let init = driver.state(&id).unwrap().pid;
    let mut slow = hook(
        in_container("/bin/sh"),
        &["sh", "-c", "echo waiting >&2; exec sleep 100"],
        &[],
    );
    slow.timeout = Some(Duration::from_secs(1));
    let began = Instant::now();
    let error = driver.run_hook(&id, &slow, b"").unwrap_err();
    let took = began.elapsed();
    assert_eq!(error.kind(), ErrorKind::System, "{error}");
    let text = error.to_string();
    assert!(
        text.starts_with("hook /bin/sh: timed out after 1 s"),
        "{text}"
    );
    assert!(text.contains("waiting"), "{text}");
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(10),
        "{took:?}"
    );
    assert_eq!(cgroup_pids(&driver, &id), [init], "the hook is gone");
    driver.delete(&id, true).unwrap();
}

#[test]
fn a_hook_needs_a_created_or_running_container() {
    let driver = driver();
    let true_hook = hook(in_container("/bin/true"), &[], &[]);
    let error = driver.run_hook("nobody", &true_hook, b"").unwrap_err();
    assert_eq!(error.kind(), ErrorKind::NotFound, "{error}");

    let id = sleeper(&driver, "hook-state", true);
    driver.pause(&id).unwrap();
    let error = driver.run_hook(&id, &true_hook, b"").unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidState, "{error}");
    driver.resume(&id).unwrap();
    driver.kill(&id, 9, false).unwrap();
    driver.wait(&id).unwrap();
    let error = driver.run_hook(&id, &true_hook, b"").unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidState, "{error}");
    assert!(error.to_string().contains("stopped"), "{error}");
    driver.delete(&id, false).unwrap();
}

#[test]
fn a_malformed_hook_is_refused_before_it_starts() {
    let driver = driver();
    let id = sleeper(&driver, "hook-bad", true);
    let cases = [
        (hook(in_container("bin/true"), &[], &[]), "hook.program"),
        (
            hook(HookProgram::Host("rel/x".into()), &[], &[]),
            "hook.program",
        ),
        (
            hook(in_container("/bin/true"), &["a\0b"], &[]),
            "hook.args[0]",
        ),
        (
            hook(in_container("/bin/true"), &[], &["A=1", "NOEQUALS"]),
            "hook.env[1]",
        ),
        (
            ContainerHook {
                timeout: Some(Duration::ZERO),
                ..hook(in_container("/bin/true"), &[], &[])
            },
            "hook.timeout",
        ),
    ];
    for (bad, field) in cases {
        let error = driver.run_hook(&id, &bad, b"").unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidArgument, "{error}");
        assert!(error.to_string().contains(field), "{error} names {field}");
    }
    let dir = HostDir::new("notfile");
    let error = driver
        .run_hook(&id, &hook(HookProgram::Host(dir.0.clone()), &[], &[]), b"")
        .unwrap_err();
    assert!(error.to_string().contains("not a regular file"), "{error}");
    driver.delete(&id, true).unwrap();
}

#[test]
fn a_hook_joins_the_containers_user_namespace_as_its_root() {
    let driver = driver();
    let mut command = shell("hook-userns", "sleep 1000");
    command.namespaces.user = runtime_core::NamespaceMode::Private;
    driver
        .create(&command, &Stdio::null(), Arc::new(NoHooks))
        .unwrap();
    let init = driver.state(&command.id).unwrap().pid;
    let script =
        "readlink /proc/self/ns/user; id -u; grep CapEff /proc/self/status | tr -d '\\t'; \
                  cat /proc/self/uid_map | tr -s ' '";
    let output = driver
        .run_hook(
            &command.id,
            &hook(in_container("/bin/sh"), &["sh", "-c", script], &[]),
            b"",
        )
        .unwrap();
    let out = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], ns_link(&init.to_string(), "user"), "{out}");
    assert_ne!(lines[0], ns_link("self", "user"), "not the host's: {out}");
    assert_eq!(lines[1], "0", "{out}");
    assert!(
        lines[2].starts_with("CapEff:") && !lines[2].ends_with(":0000000000000000"),
        "{out}"
    );
    assert_eq!(lines[3].trim(), "0 100000 65536", "{out}");
    driver.delete(&command.id, true).unwrap();
}
