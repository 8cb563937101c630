//! The process's identity and confinement as OCI's `process` gives them: exact capability
//! sets, umask, oom_score_adj and exact supplementary groups, for an init and an exec'd
//! process, looked at from inside the container.

mod common;

use std::os::fd::AsRawFd;
use std::sync::Arc;

use common::{driver, leftovers, run_output, shell};
use runtime_core::{
    CapabilitySets, Command, Driver, ErrorKind, Mount, NamespaceMode, NoHooks, ProcessConfig, Stdio,
};
use runtime_linux::LinuxDriver;

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// runc's own test of the five sets: CAP_CHOWN (bit 0), CAP_KILL (bit 5), CAP_SYSLOG (bit
/// 34), with CAP_KILL asked for in ambient too, though it is not inheritable.
fn runc_like_sets() -> CapabilitySets {
    CapabilitySets {
        bounding: names(&["CAP_KILL", "CAP_CHOWN", "SYSLOG"]),
        effective: names(&["CAP_KILL"]),
        inheritable: names(&["CAP_CHOWN", "cap_syslog"]),
        permitted: names(&["CAP_KILL", "CAP_CHOWN"]),
        ambient: names(&["CAP_CHOWN", "CAP_KILL"]),
    }
}

/// The `Cap*:` lines of `/proc/self/status` in the program, as `CapInh=... CapPrm=...`.
const CAPS: &str = "grep ^Cap /proc/self/status | tr -d '\\t' | tr ':' '=' | tr '\\n' ' '";

fn cap_lines(out: &str) -> Vec<String> {
    out.split_whitespace().map(str::to_string).collect()
}

/// What a non-root program gets after `execve` with the sets of [`runc_like_sets`]: the
/// kernel gives it its ambient set as permitted and effective; bounding and inheritable stay.
fn expected_for_a_user() -> Vec<String> {
    names(&[
        "CapInh=0000000400000001",
        "CapPrm=0000000000000001",
        "CapEff=0000000000000001",
        "CapBnd=0000000400000021",
        "CapAmb=0000000000000001",
    ])
}

#[test]
fn exact_capability_sets_are_applied_as_given_to_a_user() {
    let driver = driver();
    let mut command = shell("caps-user", CAPS);
    command.process.user = "1000:1000".into();
    command.process.capabilities = Some(runc_like_sets());
    let out = run_output(&driver, &command).unwrap();
    assert!(out.status.success(), "{out:?}");
    // CAP_CHOWN is in the ambient set only because it was permitted and inheritable before
    // the exec; CAP_KILL (not inheritable) was skipped, as runc skips it.
    assert_eq!(cap_lines(&out.stdout), expected_for_a_user(), "{out:?}");
}

#[test]
fn exact_capability_sets_for_root_follow_the_kernel_s_exec_rules() {
    let driver = driver();
    // runc's "some capabilities" test: root's program gets its bounding set (and its
    // inheritable one) as permitted and effective, whatever the permitted set was.
    let mut command = shell("caps-root", CAPS);
    command.process.capabilities = Some(CapabilitySets {
        bounding: names(&["CAP_SYS_ADMIN"]),
        permitted: names(&[
            "CAP_SYS_ADMIN",
            "CAP_AUDIT_WRITE",
            "CAP_KILL",
            "CAP_NET_BIND_SERVICE",
        ]),
        effective: names(&["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]),
        ..CapabilitySets::default()
    });
    let out = run_output(&driver, &command).unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        cap_lines(&out.stdout),
        names(&[
            "CapInh=0000000000000000",
            "CapPrm=0000000000200000",
            "CapEff=0000000000200000",
            "CapBnd=0000000000200000",
            "CapAmb=0000000000000000",
        ]),
        "{out:?}"
    );
    // Empty sets: nothing at all, not even for root.
    command.process.capabilities = Some(CapabilitySets::default());
    let out = run_output(&driver, &command).unwrap();
    assert_eq!(
        cap_lines(&out.stdout),
        names(&[
            "CapInh=0000000000000000",
            "CapPrm=0000000000000000",
            "CapEff=0000000000000000",
            "CapBnd=0000000000000000",
            "CapAmb=0000000000000000",
        ]),
        "{out:?}"
    );
}

#[test]
fn the_default_seccomp_profile_follows_the_exact_bounding_set() {
    let driver = driver();
    // Docker's profile allows mount only with CAP_SYS_ADMIN: with it in the exact sets the
    // mount works, so the filter was built for them; without it, it is refused.
    let admin = names(&["CAP_SYS_ADMIN"]);
    let mut command = shell("caps-seccomp", "mount -t tmpfs none /tmp && echo mounted");
    command.process.capabilities = Some(CapabilitySets {
        bounding: admin.clone(),
        effective: admin.clone(),
        permitted: admin,
        ..CapabilitySets::default()
    });
    let out = run_output(&driver, &command).unwrap();
    assert_eq!(out.stdout.trim(), "mounted", "{out:?}");
    command.process.capabilities = Some(CapabilitySets {
        bounding: names(&["CAP_CHOWN"]),
        ..CapabilitySets::default()
    });
    let out = run_output(&driver, &command).unwrap();
    assert!(
        !out.status.success(),
        "mounted without CAP_SYS_ADMIN: {out:?}"
    );
}

#[test]
fn bad_capability_sets_are_refused_before_anything_is_made() {
    let driver = driver();
    let before = leftovers(&driver);
    let cases = [
        (
            CapabilitySets {
                bounding: names(&["CAP_KILL", "CAP_NOPE"]),
                ..CapabilitySets::default()
            },
            "process.capabilities.bounding[1]",
        ),
        (
            CapabilitySets {
                bounding: names(&["CAP_KILL"]),
                effective: names(&["CAP_KILL"]),
                ..CapabilitySets::default()
            },
            "process.capabilities.effective",
        ),
        (
            CapabilitySets {
                inheritable: names(&["CAP_KILL"]),
                ..CapabilitySets::default()
            },
            "process.capabilities.inheritable",
        ),
    ];
    for (sets, field) in cases {
        let mut command = shell("caps-bad", "true");
        command.process.capabilities = Some(sets);
        let err = driver
            .run(&command, &Stdio::null(), Arc::new(NoHooks))
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
        assert!(err.to_string().contains(field), "{err}");
    }
    let mut both = shell("caps-both", "true");
    both.process.capabilities = Some(CapabilitySets::default());
    both.process.cap_add = names(&["NET_ADMIN"]);
    let err = driver
        .run(&both, &Stdio::null(), Arc::new(NoHooks))
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("process.capabilities: exclusive with process.cap_add"),
        "{err}"
    );
    let after = leftovers(&driver);
    assert_eq!(before.cgroups, after.cgroups);
    assert_eq!(before.state_entries, after.state_entries);
}

/// `command` with a tmpfs on `/tmp` (the busybox rootfs is shared by every test).
fn with_tmpfs(mut command: Command) -> Command {
    command.mounts.push(Mount {
        source: None,
        destination: "/tmp".into(),
        kind: "tmpfs".into(),
        options: vec![],
        uid_mappings: None,
        gid_mappings: None,
    });
    command
}

#[test]
fn umask_is_the_process_s_or_0022() {
    let driver = driver();
    let script = "umask; touch /tmp/f; mkdir /tmp/d; stat -c %a /tmp/f /tmp/d";
    let out = run_output(&driver, &with_tmpfs(shell("umask", script))).unwrap();
    assert_eq!(
        out.stdout.split_whitespace().collect::<Vec<_>>(),
        ["0022", "644", "755"],
        "{out:?}"
    );
    let mut command = with_tmpfs(shell("umask", script));
    command.process.umask = Some(0o077);
    let out = run_output(&driver, &command).unwrap();
    assert_eq!(
        out.stdout.split_whitespace().collect::<Vec<_>>(),
        ["0077", "600", "700"],
        "{out:?}"
    );
    command.process.umask = Some(0o1000);
    let err = driver
        .run(&command, &Stdio::null(), Arc::new(NoHooks))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(err.to_string().contains("process.umask"), "{err}");
}

/// Whether this process may lower an oom_score_adj (`CAP_SYS_RESOURCE` effective): not in
/// every test environment.
fn can_lower_oom_score_adj() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let eff = status
        .lines()
        .find_map(|line| line.strip_prefix("CapEff:"))
        .map(|hex| u64::from_str_radix(hex.trim(), 16).unwrap())
        .unwrap();
    eff & (1 << 24) != 0
}

#[test]
fn oom_score_adj_is_written_before_the_process_drops_its_privileges() {
    let driver = driver();
    let host: i32 = std::fs::read_to_string("/proc/self/oom_score_adj")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // Higher than the host's for root and for a user, and in a user namespace; lower than
    // the host's (which needs CAP_SYS_RESOURCE) where berth may.
    let mut cases = vec![
        (host + 300, "0:0", false),
        (host + 700, "1000:1000", false),
        (host + 200, "0:0", true),
    ];
    if can_lower_oom_score_adj() {
        cases.push((host - 500, "0:0", false));
        cases.push((host - 300, "0:0", true));
    }
    for (value, user, userns) in cases {
        let mut command = shell("oom", "cat /proc/self/oom_score_adj");
        command.process.oom_score_adj = Some(value);
        command.process.user = user.into();
        if userns {
            command.namespaces.user = NamespaceMode::Private;
        }
        let out = run_output(&driver, &command).unwrap();
        assert_eq!(
            out.stdout.trim(),
            value.to_string(),
            "{user} {userns}: {out:?}"
        );
    }
    let out = run_output(&driver, &shell("oom", "cat /proc/self/oom_score_adj")).unwrap();
    assert_eq!(
        out.stdout.trim(),
        host.to_string(),
        "not given: the host's, inherited"
    );
    if !can_lower_oom_score_adj() {
        // The kernel's refusal, naming the write, and nothing left behind.
        let before = leftovers(&driver);
        let mut command = shell("oom", "true");
        command.process.oom_score_adj = Some(host - 1);
        let err = driver
            .run(&command, &Stdio::null(), Arc::new(NoHooks))
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Permission, "{err}");
        assert!(
            err.to_string().contains("/proc/self/oom_score_adj"),
            "{err}"
        );
        let after = leftovers(&driver);
        assert_eq!(before.cgroups, after.cgroups);
        assert_eq!(before.state_entries, after.state_entries);
    }
}

#[test]
fn exact_groups_replace_berth_s_and_additional_gids_add_to_them() {
    let driver = driver();
    let groups = "grep ^Groups: /proc/self/status | cut -f2";
    let mut command = shell("groups", groups);
    command.process.user = "1000:1000".into();
    let out = run_output(&driver, &command).unwrap();
    assert_eq!(out.stdout.trim(), "10 29 1000", "berth's: {out:?}");
    // OCI's additionalGids: exactly these, not even the primary group.
    command.process.groups = Some(vec![7, 5]);
    let out = run_output(&driver, &command).unwrap();
    assert_eq!(out.stdout.trim(), "5 7", "{out:?}");
    command.process.groups = Some(vec![]);
    let out = run_output(&driver, &command).unwrap();
    assert_eq!(out.stdout.trim(), "", "{out:?}");
    command.process.additional_gids = vec![4000];
    let err = driver
        .run(&command, &Stdio::null(), Arc::new(NoHooks))
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("process.groups: exclusive with process.additional_gids"),
        "{err}"
    );
}

/// Runs `process` in the running container `id` and returns its stdout.
fn exec_output(driver: &LinuxDriver, id: &str, process: &ProcessConfig) -> String {
    let (read, write) = common::pipe();
    let stdio = Stdio {
        stdin: None,
        stdout: Some(write.as_raw_fd()),
        stderr: None,
        extra: Vec::new(),
    };
    let reader = std::thread::spawn(move || {
        std::fs::read_to_string(format!("/proc/self/fd/{}", read.as_raw_fd())).map(|s| (s, read))
    });
    let status = driver.exec(id, process, &stdio, Arc::new(NoHooks)).unwrap();
    drop(write);
    let (out, _read) = reader.join().unwrap().unwrap();
    assert!(status.success(), "{status:?}: {out}");
    out
}

#[test]
fn an_exec_takes_its_own_sets_umask_oom_score_adj_and_groups() {
    let driver = driver();
    let command = with_tmpfs(shell("exec-identity", "sleep 1000"));
    driver
        .create(&command, &Stdio::null(), Arc::new(NoHooks))
        .unwrap();
    driver.start(&command.id).unwrap();
    let sh = |script: &str| ProcessConfig::new(["/bin/sh", "-c", script]);

    let mut caps = sh(CAPS);
    caps.user = "1000:1000".into();
    caps.capabilities = Some(runc_like_sets());
    assert_eq!(
        cap_lines(&exec_output(&driver, &command.id, &caps)),
        expected_for_a_user()
    );

    let mut umask = sh("umask; touch /tmp/e; stat -c %a /tmp/e");
    umask.umask = Some(0o027);
    let out = exec_output(&driver, &command.id, &umask);
    assert_eq!(out.split_whitespace().collect::<Vec<_>>(), ["0027", "640"]);

    let host: i32 = std::fs::read_to_string("/proc/self/oom_score_adj")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let mut oom = sh("cat /proc/self/oom_score_adj");
    oom.oom_score_adj = Some(host + 42);
    oom.user = "1000:1000".into();
    assert_eq!(
        exec_output(&driver, &command.id, &oom).trim(),
        (host + 42).to_string()
    );

    let mut groups = sh("grep ^Groups: /proc/self/status | cut -f2");
    groups.user = "1000:1000".into();
    groups.groups = Some(vec![29]);
    assert_eq!(exec_output(&driver, &command.id, &groups).trim(), "29");

    let mut bad = sh("true");
    bad.oom_score_adj = Some(1001);
    let err = driver
        .exec(&command.id, &bad, &Stdio::null(), Arc::new(NoHooks))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(err.to_string().contains("process.oom_score_adj"), "{err}");
    driver.delete(&command.id, true).unwrap();
}

/// The init and an exec'd process each get a new session keyring, `_ses.<id>`, as runc gives them
/// (none of the starter's session keys are theirs); `share_session_keyring` keeps the
/// starter's, as runc's `--no-new-keyring`. `/proc/keys` lists the keys the reader possesses.
#[test]
fn the_container_gets_a_session_keyring_of_its_own() {
    let driver = driver();
    let mut command = shell("keyring", "grep -c \"_ses.$ID\" /proc/keys; sleep 100");
    command.masked_paths = Some(vec![]);
    command.process.env.push(format!("ID={}", command.id));
    let keyring = format!("_ses.{}", command.id);
    let (read, write) = common::pipe();
    let stdio = Stdio {
        stdin: None,
        stdout: Some(write.as_raw_fd()),
        stderr: None,
        extra: Vec::new(),
    };
    driver.create(&command, &stdio, Arc::new(NoHooks)).unwrap();
    drop(write);
    driver.start(&command.id).unwrap();
    let mut reader = std::io::BufReader::new(std::fs::File::from(read));
    assert_eq!(
        common::read_line(&mut reader),
        "1",
        "the init possesses {keyring}"
    );
    let mut exec = ProcessConfig::new(["sh", "-c", &format!("grep -c {keyring} /proc/keys")]);
    exec.env = vec!["PATH=/bin".into()];
    // Its own, of the same name (berth grants no search permission, which would let any
    // process of the uid join a container's keyring by name), and the init's, which it can
    // view.
    assert_eq!(exec_output(&driver, &command.id, &exec).trim(), "2");
    driver.delete(&command.id, true).unwrap();

    let mut shared = shell("keyring-shared", "grep -c \"_ses.$ID\" /proc/keys || true");
    shared.process.env.push(format!("ID={}", shared.id));
    shared.masked_paths = Some(vec![]);
    shared.share_session_keyring = true;
    let out = run_output(&*driver, &shared).unwrap();
    assert_eq!(out.stdout.trim(), "0", "{out:?}");
    let left = leftovers(&driver);
    assert!(
        left.cgroups.is_empty() && left.state_entries.is_empty(),
        "{left:?}"
    );
}
