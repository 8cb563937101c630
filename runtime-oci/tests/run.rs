//! `berth spec`'s default config, mapped and run in a real container by the native driver:
//! the container gets what the config says (runc's three capabilities, no seccomp filter,
//! no_new_privs, the hostname, a cgroup2 mount at /sys/fs/cgroup, and Docker's kind of
//! /dev/shm on top of berth's), looked at from inside. Needs root and this build's
//! `berth-init` (built with the workspace's binaries, or given by `$BERTH_HELPER`).
#![cfg(target_os = "linux")]

use std::io::{Read, Seek};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use runtime_core::{Driver, NoHooks, Stdio};
use runtime_linux::{DriverOptions, LinuxDriver};
use serde_json::json;

fn top() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

/// The busybox rootfs the other tests use (scripts/build-rootfs.sh).
fn rootfs() -> PathBuf {
    let dir = top().join("build/rootfs");
    let status = std::process::Command::new(top().join("scripts/build-rootfs.sh"))
        .arg(&dir)
        .status()
        .expect("run scripts/build-rootfs.sh");
    assert!(status.success(), "scripts/build-rootfs.sh failed");
    dir
}

fn helper() -> PathBuf {
    if let Some(path) = std::env::var_os("BERTH_HELPER").filter(|p| !p.is_empty()) {
        return PathBuf::from(path);
    }
    // target/<profile>/deps/<test> → target/<profile>/berth-init
    let exe = std::env::current_exe().unwrap();
    let path = exe.parent().unwrap().parent().unwrap().join("berth-init");
    assert!(
        path.is_file(),
        "{} is missing: build it (cargo build -p runtime-linux) or set BERTH_HELPER",
        path.display()
    );
    path
}

#[test]
fn the_default_spec_runs_as_it_says() {
    let name = format!("berth-oci-test-{}", std::process::id());
    let root = PathBuf::from("/run").join(&name);
    let driver = LinuxDriver::new(DriverOptions {
        root: Some(root.clone()),
        helper_path: Some(helper()),
        cgroup_parent: Some(name.clone()),
        ..DriverOptions::default()
    })
    .expect("driver");

    let mut config = runtime_oci::default_spec(false);
    config["root"]["path"] = json!(rootfs());
    config["process"]["terminal"] = json!(false);
    config["process"]["args"] = json!([
        "sh",
        "-c",
        "grep -E '^(CapBnd|CapEff|CapAmb|NoNewPrivs|Seccomp):' /proc/self/status; \
         grep -E ' /(sys/fs/cgroup(/memory)?|dev/shm) ' /proc/mounts; hostname"
    ]);
    // Docker's /dev/shm: another size than berth's own.
    config["mounts"]
        .as_array_mut()
        .unwrap()
        .push(json!({"destination": "/dev/shm", "type": "tmpfs",
        "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=1m"]}));
    let spec = runtime_oci::spec_from_json(&config.to_string()).unwrap();
    let (command, _) =
        runtime_oci::command_from_spec(&spec, Path::new("/"), "oci-default").unwrap();

    let out_path = std::env::temp_dir().join(format!("{name}.out"));
    let mut out = std::fs::File::options()
        .create(true)
        .truncate(true)
        .read(true)
        .write(true)
        .open(&out_path)
        .unwrap();
    let stdio = Stdio {
        stdin: None,
        stdout: Some(out.as_raw_fd()),
        stderr: Some(2),
        extra: Vec::new(),
    };
    let status = driver.run(&command, &stdio, Arc::new(NoHooks));
    drop(driver);
    let _ = std::fs::remove_dir(&root);
    let _ = runtime_linux::cgroups::CgroupManager::detect()
        .and_then(|cgroups| cgroups.remove_parent_if_empty(&name));
    let status = status.expect("run");
    let mut text = String::new();
    out.rewind().unwrap();
    out.read_to_string(&mut text).unwrap();
    let _ = std::fs::remove_file(&out_path);
    assert_eq!(status.code, 0, "{text}");

    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(str::trim)
            .unwrap_or_else(|| panic!("no {name} in {text}"))
    };
    // CAP_KILL (5), CAP_NET_BIND_SERVICE (10), CAP_AUDIT_WRITE (29); no ambient.
    assert_eq!(field("CapBnd:"), "0000000020000420", "{text}");
    assert_eq!(field("CapEff:"), "0000000020000420", "{text}");
    assert_eq!(field("CapAmb:"), "0000000000000000", "{text}");
    assert_eq!(field("NoNewPrivs:"), "1", "{text}");
    assert_eq!(
        field("Seccomp:"),
        "0",
        "no seccomp section, no filter: {text}"
    );
    let cgroup = text
        .lines()
        .find(|l| l.contains(" /sys/fs/cgroup "))
        .unwrap_or_else(|| panic!("{text}"));
    // runc's view of the container's cgroups: on a host with v1 hierarchies, a read-only
    // tmpfs with each hierarchy in it (read-only too); on a cgroup v2 host, cgroup2.
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let v1_memory = mountinfo
        .lines()
        .any(|l| l.contains(" - cgroup ") && l.contains("memory"));
    if v1_memory {
        assert!(
            cgroup.starts_with("tmpfs /sys/fs/cgroup tmpfs ro,"),
            "{cgroup}"
        );
        let memory = text
            .lines()
            .find(|l| l.contains(" /sys/fs/cgroup/memory "))
            .unwrap_or_else(|| panic!("no /sys/fs/cgroup/memory in {text}"));
        assert!(
            memory.starts_with("cgroup /sys/fs/cgroup/memory cgroup ro,"),
            "{memory}"
        );
    } else {
        assert!(
            cgroup.starts_with("cgroup2 /sys/fs/cgroup cgroup2 ro,"),
            "{cgroup}"
        );
    }
    let shm: Vec<&str> = text.lines().filter(|l| l.contains(" /dev/shm ")).collect();
    assert!(
        shm.last().is_some_and(|l| l.contains("size=1024k")),
        "the config's /dev/shm is on top: {shm:?}"
    );
    assert_eq!(text.lines().last(), Some("berth"), "{text}");
}
