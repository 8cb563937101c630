//! The security settings against this host's real kernel: a compiled seccomp filter and a
//! capability set applied in a child (in `pre_exec`, between fork and exec) before it runs a
//! real program, and the device cgroup, v1 and the v2 BPF program, with a child moved into
//! it. Needs root; skips (with a note) otherwise. Every cgroup is named
//! `berth-test-sec-<pid>-<name>` and removed, even when a test fails.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;

use nix::unistd::{Gid, Uid};
use runtime_linux::security::devices::{self, DeviceRule};
use runtime_linux::security::seccomp::{self, SeccompProfile};
use runtime_linux::security::{CapabilitySet, SeccompCache, SeccompProgram};

fn is_root() -> bool {
    if Uid::effective().is_root() {
        return true;
    }
    eprintln!("skipped: needs root");
    false
}

/// Runs `sh -c script` with `setup` run in the child just before the exec.
// `pre_exec` is the only way std gives to run code in the child before the exec, and it is
// unsafe; applying the settings in the child is what these tests check.
#[allow(unsafe_code)]
fn run_with(
    script: &str,
    setup: impl Fn() -> std::io::Result<()> + Send + Sync + 'static,
) -> Output {
    let mut command = Command::new("/bin/sh");
    command
        .arg("-c")
        .arg(script)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: the child is forked from the many-threaded test harness, so `setup` may only do
    // what is safe after a fork: every closure here makes bare system calls (prctl, capget,
    // capset, seccomp, setgroups, setres[ug]id) on values built before the fork, and touches
    // no lock. Only a failure allocates (its error message), and then the child reports it
    // and exits.
    unsafe {
        command.pre_exec(setup);
    }
    command.output().expect("spawn /bin/sh")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn to_io(err: runtime_core::Error) -> std::io::Error {
    std::io::Error::other(err.to_string())
}

fn load_in_child(program: Arc<SeccompProgram>) -> impl Fn() -> std::io::Result<()> + Send + Sync {
    move || program.load().map_err(to_io)
}

#[test]
fn a_seccomp_errno_rule_makes_mkdir_fail_with_eperm() {
    if !is_root() {
        return;
    }
    let profile: SeccompProfile = serde_json::from_str(
        r#"{"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO",
                          "errnoRet": 1}]}"#,
    )
    .unwrap();
    let program = seccomp::compile(&profile, CapabilitySet::docker_default(), "seccomp")
        .unwrap()
        .unwrap();
    let dir = std::env::temp_dir().join(format!("berth-test-sec-{}-mkdir", std::process::id()));
    let script = format!("mkdir {}", dir.display());
    // The filter crosses a socket in berth: send it through JSON here too.
    let wire = serde_json::to_string(&program).unwrap();
    let program: SeccompProgram = serde_json::from_str(&wire).unwrap();
    let out = run_with(&script, load_in_child(Arc::new(program)));
    assert!(!out.status.success(), "mkdir succeeded under the filter");
    assert!(
        text(&out.stderr).contains("Operation not permitted"),
        "{}",
        text(&out.stderr)
    );
    assert!(!dir.exists());
    // Without the filter, the same command works.
    let out = run_with(&script, || Ok(()));
    assert!(out.status.success(), "{}", text(&out.stderr));
    std::fs::remove_dir(&dir).unwrap();
}

#[test]
fn dockers_default_profile_allows_a_shell_and_mount_namespaces_only_with_sys_admin() {
    if !is_root() {
        return;
    }
    let cache = SeccompCache::new();
    let plain = CapabilitySet::docker_default();
    let mut admin = plain;
    admin.insert(21); // CAP_SYS_ADMIN
    let script =
        "echo alive; ls / >/dev/null && echo listed; unshare --mount true && echo unshared";

    let program = cache.default_program(plain, "seccomp").unwrap().unwrap();
    let out = run_with(script, load_in_child(program));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("alive\nlisted\n"),
        "{stdout}{}",
        text(&out.stderr)
    );
    assert!(
        !stdout.contains("unshared"),
        "unshare ran without CAP_SYS_ADMIN"
    );
    assert!(
        text(&out.stderr).contains("Operation not permitted"),
        "{}",
        text(&out.stderr)
    );

    let program = cache.default_program(admin, "seccomp").unwrap().unwrap();
    let out = run_with(script, load_in_child(program));
    assert_eq!(
        text(&out.stdout),
        "alive\nlisted\nunshared\n",
        "{}",
        text(&out.stderr)
    );
    assert_eq!(cache.len(), 2);
}

/// The `Cap*` lines of /proc/self/status as numbers: (Inh, Prm, Eff, Bnd, Amb).
fn cap_lines(status: &str) -> [u64; 5] {
    let mut caps = [u64::MAX; 5];
    for line in status.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let at = match key {
            "CapInh" => 0,
            "CapPrm" => 1,
            "CapEff" => 2,
            "CapBnd" => 3,
            "CapAmb" => 4,
            _ => continue,
        };
        caps[at] = u64::from_str_radix(value.trim(), 16).unwrap();
    }
    caps
}

#[test]
fn root_gets_the_set_and_loses_what_it_drops() {
    if !is_root() {
        return;
    }
    let last = runtime_linux::security::caps::last_cap().unwrap();
    let set = CapabilitySet::compute(false, &[], &["CHOWN".into()], "process", last).unwrap();
    assert!(!set.contains_name("CHOWN"));
    let file = std::env::temp_dir().join(format!("berth-test-sec-{}-chown", std::process::id()));
    std::fs::write(&file, b"x").unwrap();
    let script = format!(
        "grep ^Cap /proc/self/status; chown 1 {} && echo chowned",
        file.display()
    );
    let out = run_with(&script, move || {
        CapabilitySet::keep_across_setuid().map_err(to_io)?;
        set.apply().map_err(to_io)
    });
    std::fs::remove_file(&file).unwrap();
    let stdout = text(&out.stdout);
    let [inh, prm, eff, bnd, amb] = cap_lines(&stdout);
    assert_eq!(
        (bnd, prm, eff),
        (set.bits(), set.bits(), set.bits()),
        "{stdout}"
    );
    assert_eq!((inh, amb), (0, 0), "{stdout}");
    assert!(
        !stdout.contains("chowned"),
        "chown worked without CAP_CHOWN"
    );
    assert!(
        text(&out.stderr).contains("Operation not permitted"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn another_user_keeps_only_the_bounding_set() {
    if !is_root() {
        return;
    }
    let set = CapabilitySet::docker_default();
    let nobody = 65534;
    let out = run_with("grep ^Cap /proc/self/status", move || {
        nix::unistd::setgroups(&[]).map_err(std::io::Error::from)?;
        let gid = Gid::from_raw(nobody);
        nix::unistd::setresgid(gid, gid, gid).map_err(std::io::Error::from)?;
        CapabilitySet::keep_across_setuid().map_err(to_io)?;
        let uid = Uid::from_raw(nobody);
        nix::unistd::setresuid(uid, uid, uid).map_err(std::io::Error::from)?;
        // Trims the bounding set after the switch: keepcaps kept CAP_SETPCAP permitted.
        set.apply().map_err(to_io)
    });
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert_eq!(cap_lines(&stdout), [0, 0, 0, set.bits(), 0], "{stdout}");
}

/// A cgroup made for one test, removed on drop.
struct TestCgroup(PathBuf);

impl TestCgroup {
    fn new(root: &Path, name: &str) -> TestCgroup {
        let dir = root.join(format!("berth-test-sec-{}-{name}", std::process::id()));
        std::fs::create_dir(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        TestCgroup(dir)
    }
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        // The test's child has exited: the cgroup is empty.
        if let Err(err) = std::fs::remove_dir(&self.0) {
            eprintln!("remove {}: {err}", self.0.display());
        }
    }
}

/// The cgroup2 mount, from /proc/self/mountinfo.
fn unified_mount() -> Option<PathBuf> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    mountinfo.lines().find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let dash = fields.iter().position(|f| *f == "-")?;
        (fields.get(dash + 1) == Some(&"cgroup2")).then(|| PathBuf::from(fields[4]))
    })
}

/// In a child that moves itself into `cgroup`: uses /dev/null, creates a node for
/// /dev/kmsg (1:11, not allowed) and opens it, and opens /dev/kmsg itself.
fn device_probe(cgroup: &Path) -> (String, String) {
    let name = cgroup.file_name().unwrap().to_str().unwrap();
    let node = std::env::temp_dir().join(format!("{name}-node"));
    let _ = std::fs::remove_file(&node);
    let script = format!(
        "echo $$ > {procs} || exit 9
         echo x > /dev/null && echo null-ok
         head -c 1 /dev/zero >/dev/null && echo zero-ok
         true < /dev/kmsg && echo kmsg-ok
         mknod {node} c 1 11 && echo mknod-ok
         true < {node} && echo node-ok
         rm -f {node}",
        procs = cgroup.join("cgroup.procs").display(),
        node = node.display(),
    );
    let out = run_with(&script, || Ok(()));
    assert_ne!(out.status.code(), Some(9), "{}", text(&out.stderr));
    (text(&out.stdout), text(&out.stderr))
}

#[test]
fn the_v1_device_cgroup_allows_only_its_rules() {
    let root = Path::new("/sys/fs/cgroup/devices");
    if !is_root() {
        return;
    }
    if !root.join("devices.allow").exists() {
        eprintln!("skipped: no v1 devices hierarchy at {}", root.display());
        return;
    }
    let cgroup = TestCgroup::new(root, "v1");
    devices::apply_v1(&cgroup.0, &devices::default_rules()).unwrap();
    let list = std::fs::read_to_string(cgroup.0.join("devices.list")).unwrap();
    assert!(
        list.contains("c 1:3 rwm") && list.contains("c 136:* rwm"),
        "{list}"
    );
    assert!(!list.contains("a *:* rwm"), "{list}");

    let (stdout, stderr) = device_probe(&cgroup.0);
    assert_eq!(stdout, "null-ok\nzero-ok\nmknod-ok\n", "{stderr}");
    assert!(stderr.contains("Operation not permitted"), "{stderr}");
}

#[test]
fn the_v2_device_program_allows_only_its_rules() {
    if !is_root() {
        return;
    }
    let Some(root) = unified_mount() else {
        eprintln!("skipped: no cgroup2 mount");
        return;
    };
    let cgroup = TestCgroup::new(&root, "v2");
    let extra = [DeviceRule::char(Some(1), Some(11), "w")];
    let prog = devices::apply_v2(&cgroup.0, &devices::rules(false, &[], &extra)).unwrap();
    // The cgroup keeps the program attached once its fd is closed.
    drop(prog);

    let (stdout, stderr) = device_probe(&cgroup.0);
    // kmsg is allowed for writing only: opening it for reading is refused.
    assert_eq!(stdout, "null-ok\nzero-ok\nmknod-ok\n", "{stderr}");
    assert!(stderr.contains("Operation not permitted"), "{stderr}");
}

#[test]
fn a_privileged_v2_program_allows_everything() {
    if !is_root() {
        return;
    }
    let Some(root) = unified_mount() else {
        eprintln!("skipped: no cgroup2 mount");
        return;
    };
    let cgroup = TestCgroup::new(&root, "v2-all");
    devices::apply_v2(&cgroup.0, &devices::rules(true, &[], &[])).unwrap();
    let (stdout, stderr) = device_probe(&cgroup.0);
    assert_eq!(
        stdout, "null-ok\nzero-ok\nkmsg-ok\nmknod-ok\nnode-ok\n",
        "{stderr}"
    );
}

#[test]
fn a_host_device_resolves_to_its_rule() {
    let device = devices::resolve_host_device(
        &devices::HostDevice {
            path: "/dev/null".into(),
            container_path: Some("/dev/mynull".into()),
            access: "rw".into(),
        },
        "devices[0]",
    )
    .unwrap();
    assert_eq!((device.kind, device.major, device.minor), ('c', 1, 3));
    assert_eq!(device.rule.to_v1_line(), "c 1:3 rw");
    assert_eq!(device.container_path, "/dev/mynull");
    assert_eq!(device.mode, 0o666);
    let err = devices::resolve_host_device(
        &devices::HostDevice {
            path: "/etc/hostname".into(),
            container_path: None,
            access: "rwm".into(),
        },
        "devices[1]",
    )
    .unwrap_err();
    assert!(err.to_string().contains("devices[1].path"), "{err}");
    let err = devices::resolve_host_device(
        &devices::HostDevice {
            path: "/dev/no-such-device".into(),
            container_path: None,
            access: "rwm".into(),
        },
        "devices[2]",
    )
    .unwrap_err();
    assert!(err.to_string().contains("ENOENT"), "{err}");
}
