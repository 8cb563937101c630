//! Escape attempts: each attack runs as a container with the defaults and must fail, with the
//! host unchanged. Each names the CVE or class it stands for. The binary has its own harness,
//! so that it can report how many attacks were tried and how many were blocked.
//!
//! Every attack runs against the native driver, then against the LXC driver where LXC is
//! installed (`BERTH_TEST_DRIVERS=native` or `lxc` picks one). Each line and each total names
//! the driver. An attack the LXC driver refuses as unsupported counts as blocked only where a
//! refusal already does (an image refused); elsewhere it is counted apart, as unsupported.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::image::{dir, link, Image, ImageStore};
use common::{rootfs, run_output, shell, suite_driver, Kind, SuiteDriver};
use runtime_core::{Command, ErrorKind, Mount, NamespaceMode, NoHooks, ProcessConfig, Stdio};

/// An attack: what it stands for, and how to run it.
struct Attack {
    name: &'static str,
    class: &'static str,
    run: fn(&Env) -> Verdict,
}

/// `Ok(())`: blocked.
type Verdict = Result<(), Failure>;

/// Why an attack was not blocked.
#[derive(Debug)]
enum Failure {
    /// It got through, or the attack could not tell.
    Escaped(String),
    /// The LXC driver refused a configuration the attack needs as unsupported, where a
    /// refusal does not count as blocked: the attack was not tried.
    Unsupported(String),
}

impl From<String> for Failure {
    fn from(why: String) -> Failure {
        Failure::Escaped(why)
    }
}

impl From<&str> for Failure {
    fn from(why: &str) -> Failure {
        Failure::Escaped(why.to_string())
    }
}

/// What the attacks share.
struct Env {
    driver: SuiteDriver,
    /// The probe, inside the rootfs: `/tmp/<name>`.
    probe: String,
}

impl Env {
    /// Whether `error` is the LXC driver refusing a configuration it does not support.
    fn unsupported(&self, error: &runtime_core::Error) -> bool {
        self.driver.kind == Kind::Lxc && error.kind() == ErrorKind::Unsupported
    }

    /// A driver call that failed: unsupported (by LXC), or the attack did not get to run.
    fn failure(&self, what: &str, error: runtime_core::Error) -> Failure {
        if self.unsupported(&error) {
            Failure::Unsupported(format!("{what}: {error}"))
        } else {
            Failure::Escaped(format!("{what}: {error}"))
        }
    }
}

/// Runs `script` in a default container and expects its last line to be `blocked`.
fn expect_blocked(env: &Env, name: &str, script: &str) -> Verdict {
    expect_blocked_in(env, shell(name, script))
}

fn expect_blocked_in(env: &Env, command: Command) -> Verdict {
    let out = run_output(&env.driver, &command).map_err(|e| env.failure("run", e))?;
    match out.stdout.lines().last() {
        Some("blocked") => Ok(()),
        _ => Err(format!("{out:?}").into()),
    }
}

/// Sets `d` to a scratch directory of the container: its /dev/shm, or its /tmp where it has
/// no /dev/shm (so that an attack fails for the confinement, not for a missing directory).
const SCRATCH: &str = "d=/dev/shm; [ -d $d ] || d=/tmp";

/// "blocked" if the kernel said EPERM, whatever the tool's exit code (busybox's `date` exits 0
/// after "can't set date: Operation not permitted").
fn refused(command: &str) -> String {
    format!(
        "out=$({command} 2>&1); case \"$out\" in *'not permitted'*) echo blocked;; *) echo \"ESCAPED $out\";; esac"
    )
}

/// "blocked" if the command fails, "ESCAPED" if it succeeds.
fn verdict(command: &str) -> String {
    format!("if {command} >/dev/null 2>&1; then echo ESCAPED; else echo blocked; fi")
}

fn attacks() -> Vec<Attack> {
    vec![
        Attack {
            name: "write /proc/sysrq-trigger",
            class: "host kernel control through procfs (read-only paths)",
            run: |env| {
                expect_blocked(
                    env,
                    "sysrq",
                    &verdict("sh -c 'echo h > /proc/sysrq-trigger'"),
                )
            },
        },
        Attack {
            name: "read /proc/kcore",
            class: "kernel memory disclosure (masked paths)",
            run: |env| {
                expect_blocked(
                    env,
                    "kcore",
                    "if [ \"$(head -c 16 /proc/kcore 2>/dev/null | wc -c)\" -gt 0 ]; then echo ESCAPED; else echo blocked; fi",
                )
            },
        },
        Attack {
            name: "mknod a block device of the host and read it",
            class: "raw device access (device cgroup)",
            run: |_env| {
                // A device the host itself can read (LoopDevice checks), so that only the
                // device cgroup can stop the container.
                let device = common::LoopDevice::new();
                let (major, minor) = (device.major, device.minor);
                // Not on /dev/shm, which is nodev: on the rootfs, where only the device cgroup
                // stands in the way.
                let script = format!(
                    "mknod /tmp/disk-$$ b {major} {minor} 2>/dev/null; v=$({}); rm -f /tmp/disk-$$; echo $v",
                    verdict("head -c 512 /tmp/disk-$$")
                );
                expect_blocked(_env, "mknod", &script)
            },
        },
        Attack {
            name: "mount a filesystem",
            class: "CAP_SYS_ADMIN: mount",
            // Onto a directory that exists, so that only the kernel's EPERM can stop it.
            run: |env| {
                let script = format!("{SCRATCH}; {}", verdict("mount -t tmpfs x $d"));
                expect_blocked(env, "mount", &script)
            },
        },
        Attack {
            name: "unshare -m",
            class: "new namespaces from inside (CAP_SYS_ADMIN, seccomp)",
            run: |env| expect_blocked(env, "unshare-m", &verdict("unshare -m true")),
        },
        Attack {
            name: "unshare -U",
            class: "user namespaces from inside, the gateway to kernel bugs (seccomp)",
            run: |env| expect_blocked(env, "unshare-u", &verdict("unshare -U true")),
        },
        Attack {
            name: "load a kernel module",
            class: "CAP_SYS_MODULE: init_module",
            // A module of junk: the kernel answers EPERM before it looks at it.
            run: |env| {
                let script = format!(
                    "{SCRATCH}; head -c 4096 /dev/zero > $d/junk-$$.ko; v=$({}); rm -f $d/junk-$$.ko; echo $v",
                    refused("insmod $d/junk-$$.ko")
                );
                expect_blocked(env, "insmod", &script)
            },
        },
        Attack {
            name: "reboot",
            class: "CAP_SYS_BOOT: reboot (in a pid namespace it would kill the container's init)",
            run: |env| {
                expect_blocked(
                    env,
                    "reboot",
                    "reboot -f 2>/dev/null; sleep 0.2; echo blocked",
                )
            },
        },
        Attack {
            name: "set the clock",
            class: "CAP_SYS_TIME: settimeofday (to the current second)",
            run: |env| expect_blocked(env, "clock", &refused("date -s @$(date +%s)")),
        },
        Attack {
            name: "set the hostname from an exec",
            class: "CAP_SYS_ADMIN in the uts namespace, from an exec'd process",
            run: |env| {
                let command = shell("exec-host", "sleep 100");
                env.driver
                    .create(&command, &Stdio::null(), Arc::new(NoHooks))
                    .map_err(|e| env.failure("create", e))?;
                env.driver
                    .start(&command.id)
                    .map_err(|e| env.failure("start", e))?;
                let status = env
                    .driver
                    .exec(
                        &command.id,
                        &ProcessConfig::new(["hostname", "evil"]),
                        &Stdio::null(),
                        Arc::new(NoHooks),
                    )
                    .map_err(|e| env.failure("exec", e))?;
                let name = env.driver.exec(
                    &command.id,
                    &ProcessConfig::new(["/bin/sh", "-c", "[ \"$(hostname)\" != evil ]"]),
                    &Stdio::null(),
                    Arc::new(NoHooks),
                );
                let _ = env.driver.delete(&command.id, true);
                match (status.success(), name.map(|s| s.success())) {
                    (false, Ok(true)) => Ok(()),
                    other => Err(format!("hostname changed: {other:?}").into()),
                }
            },
        },
        Attack {
            name: "open a leaked fd of the host",
            class: "CVE-2024-21626 class: host fds reaching the container",
            run: |env| {
                let leaked = leak_host_dir();
                let script = "for fd in /proc/self/fd/*; do [ -e \"$fd/hostname\" ] && echo ESCAPED; done; \
                              n=$(ls /proc/self/fd | wc -l); [ \"$n\" -le 4 ] && echo blocked || echo ESCAPED";
                let mut command = shell("leak", script);
                command.process.cwd = "/".into();
                let outcome = expect_blocked_in(env, command);
                drop(leaked);
                outcome
            },
        },
        Attack {
            name: "cwd through a host fd",
            class: "CVE-2024-21626: a working directory outside the container",
            run: |env| {
                let leaked = leak_host_dir();
                let mut outcome = Ok(());
                for fd in 3..12 {
                    let mut command = shell(
                        "cwd-leak",
                        "[ -e hostname ] && echo ESCAPED || echo blocked",
                    );
                    command.process.cwd = format!("/proc/self/fd/{fd}");
                    if let Ok(out) = run_output(&env.driver, &command) {
                        if out.stdout.contains("ESCAPED") {
                            outcome = Err(format!("cwd /proc/self/fd/{fd}: {out:?}").into());
                        }
                    }
                }
                drop(leaked);
                outcome
            },
        },
        Attack {
            name: "a setuid-root binary under no_new_privileges",
            class: "privilege gain through setuid (no_new_privileges)",
            run: |env| {
                let suid = format!("{}-suid", env.probe);
                let path = Path::new(rootfs()).join(suid.trim_start_matches('/'));
                std::fs::copy(
                    Path::new(rootfs()).join(env.probe.trim_start_matches('/')),
                    &path,
                )
                .unwrap();
                std::os::unix::fs::chown(&path, Some(0), Some(0)).unwrap();
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o4755)).unwrap();
                let mut command = shell(
                    "suid",
                    &format!("[ \"$({suid} suid)\" = 1000 ] && echo blocked || echo ESCAPED"),
                );
                command.process.user = "1000:1000".into();
                let outcome = expect_blocked_in(env, command);
                let _ = std::fs::remove_file(path);
                outcome
            },
        },
        Attack {
            name: "a tmpfs mount target that is a symlink to /",
            class: "CVE-2021-30465 class: mount targets leading out of the rootfs",
            run: |env| symlink_target(env, "/", "tmpfs"),
        },
        Attack {
            name: "a bind mount target that is a symlink to ../../etc",
            class: "CVE-2021-30465 class: mount targets leading out of the rootfs",
            run: |env| symlink_target(env, "../../etc", "bind"),
        },
        Attack {
            name: "write /proc/<pid>/exe of a process in flight",
            class: "CVE-2019-5736: overwriting the runtime through /proc/<pid>/exe",
            run: |env| {
                let victim = shell("inflight", "true");
                env.driver
                    .create(&victim, &Stdio::null(), Arc::new(NoHooks))
                    .map_err(|e| env.failure("create the victim", e))?;
                let mut attacker = shell("attacker", &verdict("sh -c 'echo pwned >> /proc/1/exe'"));
                attacker.namespaces.pid = NamespaceMode::Container(victim.id.clone());
                let outcome = expect_blocked_in(env, attacker);
                let _ = env.driver.delete(&victim.id, true);
                outcome
            },
        },
        Attack {
            name: "an image whose /proc is a chain that the /dev tmpfs hides",
            class:
                "CVE-2019-19921, CVE-2025-31133 class: an image moving /proc from under its masks",
            run: |env| {
                // /proc -> dev/x -> ../c: procfs would land on /c, and the fresh /dev would
                // hide x, so that no mask or read-only path under /proc resolves.
                let store = ImageStore::new(rootfs());
                let image = store
                    .build(
                        "proc-chain",
                        &[link("/proc", "dev/x"), link("/dev/x", "../c"), dir("/c")],
                        false,
                    )
                    .map_err(|e| format!("build the image: {e}"))?;
                let script = format!(
                    "if [ \"$(stat -f -c %T /c)\" = proc ]; then {}; fi; echo probe-done",
                    sysctl_witness("/c/sys/kernel/core_uses_pid")
                );
                let outcome = expect_refused_or_blocked(env, &image, "/proc", |c| {
                    c.process = ProcessConfig::new(["/bin/sh", "-c", &script]);
                });
                drop(image);
                drop(store);
                outcome
            },
        },
        Attack {
            name: "host networking: the host's /sys with writable cgroups under it",
            class: "the host's /sys under host networking: writable submounts (cgroups, tracefs)",
            run: |env| sys_attack(env, NamespaceMode::Host, false),
        },
        Attack {
            name: "a joined network namespace: the host's /sys with writable cgroups under it",
            class: "the host's /sys under a joined network namespace",
            run: |env| {
                let sleeper = shell("net-owner", "sleep 100");
                env.driver
                    .create(&sleeper, &Stdio::null(), Arc::new(NoHooks))
                    .map_err(|e| env.failure("create the net namespace's owner", e))?;
                let outcome = sys_attack(env, NamespaceMode::Container(sleeper.id.clone()), false);
                let _ = env.driver.delete(&sleeper.id, true);
                outcome
            },
        },
        Attack {
            name:
                "host networking in a user namespace: the host's /sys, read-only all the way down",
            class: "the host's /sys under host networking, where only a copy of it can be had",
            run: |env| sys_attack(env, NamespaceMode::Host, true),
        },
        Attack {
            name: "every capability Docker drops",
            class: "one call per dropped capability (the probe)",
            run: |env| {
                let out = run_output(&env.driver, &shell("caps", &env.probe))
                    .map_err(|e| env.failure("run", e))?;
                let escaped: Vec<&str> = out
                    .stdout
                    .lines()
                    .filter(|l| l.contains("ESCAPED"))
                    .collect();
                if out.stdout.lines().count() >= 16 && escaped.is_empty() {
                    Ok(())
                } else {
                    Err(format!("{escaped:?} {out:?}").into())
                }
            },
        },
    ]
}

/// From inside: a write-open of a global sysctl (closed at once, nothing written) must fail;
/// in the throw-away guest, the sysctl is even rewritten with the value it has.
fn sysctl_witness(path: &str) -> String {
    let mut script =
        format!("if (exec 3<>{path}) 2>/dev/null; then echo \"ESCAPED write-open {path}\"; fi");
    if std::env::var_os("BERTH_TEST_IN_GUEST").is_some() {
        script.push_str(&format!(
            "; v=$(cat {path}); if (echo \"$v\" > {path}) 2>/dev/null; then echo \"ESCAPED rewrote {path}\"; fi"
        ));
    }
    script
}

/// Runs a container with `net` (and a user namespace if `userns`) that tries to move itself
/// into its own cgroup through /sys (a harmless witness: it is there already), write-opens
/// every cgroup.procs it can see, and reports every mount under /sys that is writable.
fn sys_attack(env: &Env, net: NamespaceMode, userns: bool) -> Verdict {
    let script = r#"
        for f in $(find /sys/fs/cgroup -maxdepth 6 -name cgroup.procs 2>/dev/null); do
          if grep -qx "$$" "$f" 2>/dev/null && (echo "$$" > "$f") 2>/dev/null; then
            echo "ESCAPED moved into $f"; fi
          if (exec 3<>"$f") 2>/dev/null; then echo "ESCAPED write-open $f"; fi
        done
        awk '$5 == "/sys" || index($5, "/sys/") == 1 {
               n = split($6, o, ","); ro = 0
               for (i = 1; i <= n; i++) if (o[i] == "ro") ro = 1
               if (!ro) print "ESCAPED writable mount " $5 }' /proc/self/mountinfo
        echo probe-done"#;
    let verdict = r#"echo "$out"; case "$out" in *ESCAPED*) echo ESCAPED;; *probe-done*) echo blocked;; esac"#;
    let mut command = shell("sys", &format!("out=$({script}); {verdict}"));
    command.namespaces.net = net;
    if userns {
        command.namespaces.user = NamespaceMode::Private;
    }
    let host_before = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let outcome = expect_blocked_in(env, command);
    if std::fs::read_to_string("/proc/self/mountinfo").unwrap() != host_before {
        return Err("the host's mounts changed".into());
    }
    outcome
}

/// Runs a container of `image`, shaped by `shape`: blocked if the driver refuses the image
/// with an error naming `path` (or the LXC driver refuses it as unsupported), or if the
/// container runs and its last line is `blocked` (or it prints `probe-done` and no
/// `ESCAPED`). The host's mounts must not change.
fn expect_refused_or_blocked(
    env: &Env,
    image: &Image,
    path: &str,
    shape: impl FnOnce(&mut Command),
) -> Verdict {
    let mut command = shell("image", "true");
    command.rootfs = image.root.display().to_string();
    shape(&mut command);
    let host_before = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let outcome = match run_output(&env.driver, &command) {
        Err(error) if error.to_string().contains(path) => Ok(()),
        Err(error) if env.unsupported(&error) => Ok(()),
        Err(error) => Err(format!("refused, but without naming {path}: {error}").into()),
        Ok(out) if out.stdout.contains("ESCAPED") => Err(format!("{out:?}").into()),
        Ok(out) if out.stdout.lines().last() == Some("blocked") => Ok(()),
        Ok(out) if out.stdout.contains("probe-done") => Ok(()),
        Ok(out) => Err(format!("the probe did not finish: {out:?}").into()),
    };
    if std::fs::read_to_string("/proc/self/mountinfo").unwrap() != host_before {
        return Err("the host's mounts changed".into());
    }
    outcome
}

/// An fd to the host's /etc, deliberately without O_CLOEXEC, as a careless host would hold it.
fn leak_host_dir() -> std::os::fd::OwnedFd {
    nix::fcntl::open(
        "/etc",
        nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_DIRECTORY,
        nix::sys::stat::Mode::empty(),
    )
    .unwrap()
}

/// Mounts on `/escape-<n>/inside` where `/escape-<n>` is a symlink to `link`; the mount must
/// land inside the rootfs and the host must not change.
fn symlink_target(env: &Env, link: &str, kind: &str) -> Verdict {
    let name = format!("escape-{}-{kind}", std::process::id());
    let in_rootfs = Path::new(rootfs()).join(&name);
    let _ = std::fs::remove_file(&in_rootfs);
    std::os::unix::fs::symlink(link, &in_rootfs).unwrap();
    let host_before = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let source = std::env::temp_dir().join(format!("berth-{name}"));
    std::fs::create_dir_all(&source).unwrap();
    std::fs::write(source.join("marker"), "from the bind").unwrap();
    let mut command = shell(
        "symlink",
        // The mount must be where the container looks, inside its own root.
        &format!(
            "if grep -q ' /{target} ' /proc/mounts; then echo blocked; else echo ESCAPED; fi",
            target = format!("{}/x", if link == "/" { "" } else { "etc" }).trim_start_matches('/')
        ),
    );
    command.mounts.push(Mount {
        source: (kind == "bind").then(|| source.display().to_string()),
        destination: format!("/{name}/x"),
        kind: kind.into(),
        options: vec![],
        uid_mappings: None,
        gid_mappings: None,
    });
    let outcome = expect_blocked_in(env, command);
    let host_after = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let created_on_host = if link == "/" {
        Path::new("/x").exists()
    } else {
        Path::new("/etc/x").exists()
    };
    // What the container created inside its rootfs.
    let _ = std::fs::remove_dir(Path::new(rootfs()).join("x"));
    let _ = std::fs::remove_dir(Path::new(rootfs()).join("etc/x"));
    let _ = std::fs::remove_file(&in_rootfs);
    let _ = std::fs::remove_dir_all(&source);
    if host_before != host_after || created_on_host {
        return Err("the host changed".into());
    }
    outcome
}

/// Builds the probe (tests/escapes/probe.c) static into the rootfs.
fn build_probe() -> String {
    let name = format!("/tmp/berth-probe-{}", std::process::id());
    let out = PathBuf::from(rootfs()).join(name.trim_start_matches('/'));
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/escapes/probe.c");
    let status = std::process::Command::new("cc")
        .args(["-static", "-O1", "-Wall", "-Werror", "-o"])
        .arg(&out)
        .arg(&source)
        .status()
        .expect("run cc");
    assert!(status.success(), "cc {}", source.display());
    name
}

/// What one driver's run of the attacks came to.
#[derive(Default)]
struct Tally {
    tried: usize,
    blocked: usize,
    unsupported: usize,
}

/// Runs the selected attacks against a driver of `kind`; `None` if this host has none.
fn run_attacks(kind: Kind, probe: &str, filter: &[String]) -> Option<Tally> {
    let label = kind.name();
    if !kind.selected() {
        println!("escape attacks [{label}]: skipped: not in BERTH_TEST_DRIVERS");
        return None;
    }
    let driver = match suite_driver(kind) {
        Ok(driver) => driver,
        Err(why) => {
            println!("escape attacks [{label}]: skipped: {why}");
            return None;
        }
    };
    let env = Env {
        driver,
        probe: probe.to_string(),
    };
    let started = std::time::Instant::now();
    let mut tally = Tally::default();
    for attack in attacks() {
        if !filter.is_empty() && !filter.iter().any(|f| attack.name.contains(f.as_str())) {
            continue;
        }
        tally.tried += 1;
        let (name, class) = (attack.name, attack.class);
        match (attack.run)(&env) {
            Ok(()) => {
                tally.blocked += 1;
                println!("attack [{label}] {name} [{class}] ... blocked");
            }
            Err(Failure::Unsupported(why)) => {
                tally.unsupported += 1;
                println!("attack [{label}] {name} [{class}] ... unsupported: {why}");
            }
            Err(Failure::Escaped(why)) => {
                println!("attack [{label}] {name} [{class}] ... ESCAPED: {why}")
            }
        }
    }
    drop(env);
    let Tally {
        tried,
        blocked,
        unsupported,
    } = tally;
    println!(
        "escape attacks [{label}]: {tried} tried, {blocked} blocked, {unsupported} unsupported, {} escaped ({:.1}s)",
        tried - blocked - unsupported,
        started.elapsed().as_secs_f64()
    );
    Some(tally)
}

fn main() {
    let probe = build_probe();
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let mut results = Vec::new();
    for kind in Kind::ALL {
        results.push((kind, run_attacks(kind, &probe, &filter)));
    }
    let _ = std::fs::remove_file(Path::new(rootfs()).join(probe.trim_start_matches('/')));
    let (mut passed, mut failed, mut parts) = (0, 0, Vec::new());
    let mut ok = true;
    for (kind, tally) in &results {
        match tally {
            Some(t) => {
                let escaped = t.tried - t.blocked - t.unsupported;
                passed += t.blocked;
                failed += escaped;
                // An unsupported attack is not a pass; a driver that tried nothing is a failure.
                ok &= escaped == 0 && (t.tried == 0 || t.blocked > 0);
                parts.push(format!(
                    "{}: {} of {} blocked, {} unsupported",
                    kind.name(),
                    t.blocked,
                    t.tried,
                    t.unsupported
                ));
            }
            None => parts.push(format!("{}: skipped", kind.name())),
        }
    }
    println!("{passed} passed, {failed} failed, {}", parts.join(", "));
    if !ok {
        std::process::exit(1);
    }
}
