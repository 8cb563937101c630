//! What the CLI tests share: the busybox rootfs, bundles made with `berth spec` and edited,
//! a state root and a cgroup parent of each test's own, running the `berth` binary, and the
//! shim's part (a child subreaper that reaps the init after `create` exits).

#![allow(dead_code)]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

pub const BERTH: &str = env!("CARGO_BIN_EXE_berth");

/// The busybox rootfs (scripts/build-rootfs.sh), or `$BERTH_TEST_ROOTFS`.
pub fn rootfs() -> &'static str {
    static ROOTFS: OnceLock<String> = OnceLock::new();
    ROOTFS.get_or_init(|| {
        if let Some(dir) = std::env::var_os("BERTH_TEST_ROOTFS").filter(|d| !d.is_empty()) {
            return dir.to_string_lossy().into_owned();
        }
        let top = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let dir = top.join("build/rootfs");
        let status = Command::new(top.join("scripts/build-rootfs.sh"))
            .arg(&dir)
            .status()
            .expect("run scripts/build-rootfs.sh");
        assert!(status.success(), "scripts/build-rootfs.sh failed");
        dir.to_string_lossy().into_owned()
    })
}

/// Makes this test process a child subreaper, as containerd's shim and conmon are: an init
/// whose `berth create` has exited becomes our child, and we reap it.
pub fn become_subreaper() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        nix::sys::prctl::set_child_subreaper(true).expect("PR_SET_CHILD_SUBREAPER");
    });
}

static SERIAL: AtomicUsize = AtomicUsize::new(0);

/// A unique name for this test process and call.
pub fn unique(name: &str) -> String {
    format!(
        "{name}-{}-{}",
        std::process::id(),
        SERIAL.fetch_add(1, Ordering::Relaxed)
    )
}

/// A state root and a cgroup parent of one test's own, removed when dropped.
pub struct Cli {
    pub root: PathBuf,
    pub cgroup_parent: String,
    pub scratch: PathBuf,
}

impl Cli {
    pub fn new(name: &str) -> Cli {
        become_subreaper();
        let helper = Path::new(BERTH).with_file_name("berth-init");
        assert!(
            helper.is_file(),
            "{} is missing: berth finds its helper beside itself; build it with \
             `cargo build -p runtime-linux --bin berth-init` (cargo test --workspace does)",
            helper.display()
        );
        let tag = unique(&format!("berth-cli-{name}"));
        let base = std::env::var_os("BERTH_TEST_STATE_ROOT")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/run"));
        let scratch = std::env::temp_dir().join(&tag);
        fs::create_dir_all(&scratch).unwrap();
        Cli {
            root: base.join(&tag),
            cgroup_parent: tag,
            scratch,
        }
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(BERTH);
        command
            .arg("--root")
            .arg(&self.root)
            .args(args)
            .stdin(Stdio::null());
        command
    }

    /// Runs berth with `args` (after `--root`), stdout and stderr captured in files: a
    /// container keeps the streams it was given, so a pipe would not end while it runs.
    pub fn run(&self, args: &[&str]) -> Output {
        let name = unique("out");
        let (out_path, err_path) = (
            self.scratch.join(format!("{name}.stdout")),
            self.scratch.join(format!("{name}.stderr")),
        );
        let status = self
            .command(args)
            .stdout(fs::File::create(&out_path).unwrap())
            .stderr(fs::File::create(&err_path).unwrap())
            .status()
            .expect("run berth");
        let output = Output {
            status,
            stdout: fs::read(&out_path).unwrap(),
            stderr: fs::read(&err_path).unwrap(),
        };
        let _ = fs::remove_file(&out_path);
        let _ = fs::remove_file(&err_path);
        output
    }

    /// `berth run` of `sh -c script` in a new bundle whose config `edit` changed; returns
    /// (exit code, stdout, stderr).
    pub fn run_script(&self, script: &str, edit: impl FnOnce(&mut Value)) -> (i32, String, String) {
        let id = unique("c");
        let mut bundle = self.bundle(&id, &["sh", "-c", script]);
        edit(&mut bundle.config);
        bundle.save();
        let out = self.run(&["run", "-b", bundle.path(), &id]);
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Runs berth and expects success; returns its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "berth {args:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs berth with `args` and `--pid-file` right after the command (`create`, `run` or
    /// `exec`), expects success, and returns the pid the file names.
    pub fn ok_with_pid(&self, args: &[&str]) -> i32 {
        let pid_file = self.scratch.join(unique("pid"));
        let at = args
            .iter()
            .position(|a| matches!(*a, "create" | "run" | "exec"))
            .expect("a create, run or exec");
        let mut all = args[..=at].to_vec();
        all.extend(["--pid-file", pid_file.to_str().unwrap()]);
        all.extend(&args[at + 1..]);
        self.ok(&all);
        let pid = fs::read_to_string(&pid_file)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let _ = fs::remove_file(&pid_file);
        pid
    }

    /// Runs berth and expects failure with exit code 1; returns its stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert_eq!(
            out.status.code(),
            Some(1),
            "berth {args:?} should fail with 1: stdout {} stderr {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// The OCI state of `id`.
    pub fn state(&self, id: &str) -> Value {
        serde_json::from_str(&self.ok(&["state", id])).expect("state is JSON")
    }

    pub fn status(&self, id: &str) -> String {
        self.state(id)["status"].as_str().unwrap().to_string()
    }

    /// A bundle under the scratch dir: `berth spec`'s config with the busybox rootfs, `args`,
    /// no terminal, and this test's cgroup parent.
    pub fn bundle(&self, id: &str, args: &[&str]) -> Bundle {
        let dir = self.scratch.join(format!("bundle-{id}"));
        fs::create_dir_all(&dir).unwrap();
        let out = Command::new(BERTH)
            .args(["spec", "--bundle"])
            .arg(&dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "berth spec: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut config: Value =
            serde_json::from_str(&fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
        config["root"] = json!({"path": rootfs(), "readonly": true});
        config["process"]["args"] = json!(args);
        config["process"]["terminal"] = json!(false);
        config["linux"]["cgroupsPath"] = json!(format!("/{}/{id}", self.cgroup_parent));
        let bundle = Bundle { dir, config };
        bundle.save();
        bundle
    }

    /// A script on the host, in the scratch dir, made executable.
    pub fn script(&self, name: &str, body: &str) -> PathBuf {
        let path = self.scratch.join(name);
        fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    /// What this test left: entries under its state root, and cgroups under its parent.
    pub fn leftovers(&self) -> Vec<String> {
        let mut left: Vec<String> = fs::read_dir(&self.root)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| format!("state {}", e.path().display()))
            .collect();
        for mount in cgroup_mounts() {
            let dir = mount.join(&self.cgroup_parent);
            for entry in fs::read_dir(&dir).into_iter().flatten().flatten() {
                if entry.path().is_dir() {
                    left.push(format!("cgroup {}", entry.path().display()));
                }
            }
        }
        left
    }
}

impl Drop for Cli {
    fn drop(&mut self) {
        for id in fs::read_dir(&self.root).into_iter().flatten().flatten() {
            let id = id.file_name().to_string_lossy().into_owned();
            let _ = self.run(&["delete", "--force", &id]);
        }
        let _ = fs::remove_dir_all(&self.root);
        let _ = fs::remove_dir_all(&self.scratch);
        for mount in cgroup_mounts() {
            let _ = fs::remove_dir(mount.join(&self.cgroup_parent));
        }
    }
}

/// Every cgroup hierarchy's mount point.
pub fn cgroup_mounts() -> Vec<PathBuf> {
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap();
    mountinfo
        .lines()
        .filter(|line| line.contains(" - cgroup"))
        .filter_map(|line| line.split_whitespace().nth(4).map(PathBuf::from))
        .collect()
}

/// A bundle's directory and its config, to edit and save.
pub struct Bundle {
    pub dir: PathBuf,
    pub config: Value,
}

impl Bundle {
    pub fn save(&self) {
        fs::write(
            self.dir.join("config.json"),
            serde_json::to_string_pretty(&self.config).unwrap(),
        )
        .unwrap();
    }

    pub fn path(&self) -> &str {
        self.dir.to_str().unwrap()
    }
}

/// Reaps `pid`, our child since we are a subreaper, and returns its exit code (128 + signal
/// when a signal ended it).
pub fn reap(pid: i32) -> i32 {
    use nix::sys::wait::{waitpid, WaitStatus};
    match waitpid(nix::unistd::Pid::from_raw(pid), None).expect("waitpid the init") {
        WaitStatus::Exited(_, code) => code,
        WaitStatus::Signaled(_, signal, _) => 128 + signal as i32,
        other => panic!("unexpected wait status {other:?}"),
    }
}

/// Waits until `check` holds, up to 10 s.
pub fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether a process with this pid exists (and is not a zombie).
pub fn alive(pid: i32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| {
            let state = stat
                .rsplit_once(')')
                .map(|(_, r)| r.trim_start().chars().next());
            !matches!(state, Some(Some('Z' | 'X')))
        })
        .unwrap_or(false)
}
