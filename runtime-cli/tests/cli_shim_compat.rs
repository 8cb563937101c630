//! What containerd's runc shim and Docker send berth, and what they read back, each seen
//! from the container or the host (scripts/engines/ runs the engines themselves).

mod common;

use std::fs;

use common::Cli;
use serde_json::{json, Value};

/// Runs `script` in a foreground `berth run` of a bundle edited by `edit`; its stdout, after
/// checking it exited 0.
fn output(cli: &Cli, script: &str, edit: impl FnOnce(&mut Value)) -> String {
    let id = common::unique("s");
    let mut bundle = cli.bundle(&id, &["sh", "-c", script]);
    edit(&mut bundle.config);
    bundle.save();
    let out = cli.run(&["run", "-b", bundle.path(), &id]);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout {stdout}\nstderr {stderr}"
    );
    stdout
}

/// The v1 hierarchies of the host with a controller berth uses, by the name of their mount
/// point (`memory`, `cpu,cpuacct`).
fn v1_hierarchies() -> Vec<String> {
    let mut names: Vec<String> = fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| l.contains(" - cgroup ") && !l.ends_with("name=systemd"))
        .filter_map(|l| l.split_whitespace().nth(4))
        .filter_map(|m| m.rsplit('/').next().map(String::from))
        .filter(|n| !n.starts_with("name=") && n != "systemd")
        .collect();
    names.sort();
    names
}

/// Docker's `/sys/fs/cgroup` mount: `{"type": "cgroup", "options": ["ro", ...]}`, with a
/// memory limit, in the host's cgroup namespace (Docker's default on a v1 host) and in one
/// of its own. runc gives the container, in a read-only tmpfs, one directory per v1
/// hierarchy holding its own cgroup: what a program reads its limits from
/// (`/sys/fs/cgroup/memory/memory.limit_in_bytes`), and nothing of other cgroups.
#[test]
fn the_cgroup_mount_is_the_containers_own_cgroups_as_runc_mounts_them() {
    let hierarchies = v1_hierarchies();
    if !hierarchies.iter().any(|h| h == "memory") {
        eprintln!("skipped: no cgroup v1 memory hierarchy (a cgroup v2 host gets cgroup2)");
        return;
    }
    let cli = Cli::new("s-cgroup");
    let limit = 48u64 << 20;
    let script = "cat /sys/fs/cgroup/memory/memory.limit_in_bytes; ls /sys/fs/cgroup | xargs; \
                  ls /sys/fs/cgroup/memory | grep -c '^berth-cli' || true; \
                  touch /sys/fs/cgroup/x 2>/dev/null && echo tmpfs-writable || echo tmpfs-ro; \
                  echo 1 > /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null \
                    && echo writable || echo ro; \
                  grep ' /sys/fs/cgroup ' /proc/mounts | cut -d' ' -f3";
    for private in [false, true] {
        let out = output(&cli, script, |c| {
            c["linux"]["resources"]["memory"] = json!({"limit": limit});
            let namespaces = c["linux"]["namespaces"].as_array_mut().unwrap();
            namespaces.retain(|ns| ns["type"] != "cgroup");
            if private {
                namespaces.push(json!({"type": "cgroup"}));
            }
            // Docker 20.10's mount, as it sends it.
            c["mounts"] = json!([{"destination": "/sys/fs/cgroup", "type": "cgroup",
                "source": "cgroup", "options": ["ro", "nosuid", "noexec", "nodev"]}]);
        });
        let lines: Vec<&str> = out.lines().collect();
        let what = if private { "a private" } else { "the host's" };
        assert_eq!(
            lines[0],
            limit.to_string(),
            "{what} cgroup namespace: {out}"
        );
        assert_eq!(lines[1], hierarchies.join(" "), "{what}: {out}");
        // The container's own cgroup, not the hierarchy's root with every other cgroup.
        assert_eq!(lines[2], "0", "{what}: {out}");
        assert_eq!(&lines[3..], ["tmpfs-ro", "ro", "tmpfs"], "{what}: {out}");
    }
    assert_eq!(cli.leftovers(), Vec::<String>::new());
}

/// A capability berth leaves out (here an ambient one not in both permitted and inheritable,
/// which the kernel would not raise, as in `runc spec`'s config) is said in the log the shim
/// gives with `--debug` only, as runc says nothing of it; the container runs.
#[test]
fn a_capability_left_out_is_said_in_the_debug_log() {
    let cli = Cli::new("s-caps");
    let id = common::unique("s");
    let mut bundle = cli.bundle(&id, &["sh", "-c", "grep CapAmb /proc/self/status"]);
    bundle.config["process"]["capabilities"] = json!({
        "bounding": ["CAP_KILL"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"],
        "ambient": ["CAP_KILL"]
    });
    bundle.save();
    let log = cli.scratch.join("log.json");
    let log = log.to_str().unwrap();
    let levels = |debug: bool| {
        let _ = fs::remove_file(log);
        let mut args = vec!["--log", log, "--log-format", "json"];
        if debug {
            args.push("--debug");
        }
        args.extend(["run", "-b", bundle.path(), &id]);
        let out = cli.run(&args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            "CapAmb:\t0000000000000000"
        );
        let text = fs::read_to_string(log).unwrap_or_default();
        text.lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|l| l["msg"].as_str().is_some_and(|m| m.contains("CAP_KILL")))
            .map(|l| {
                format!(
                    "{} {}",
                    l["level"].as_str().unwrap(),
                    l["msg"].as_str().unwrap()
                )
            })
            .collect::<Vec<String>>()
    };
    assert_eq!(levels(false), Vec::<String>::new());
    assert_eq!(
        levels(true),
        ["debug capabilities left out: ambient CAP_KILL: not in both permitted and inheritable"]
    );
    assert_eq!(cli.leftovers(), Vec::<String>::new());
}

/// Docker's `--cap-add ALL` where berth lacks a capability (this sandbox has no
/// `CAP_SYS_RESOURCE`): runc fails ("unable to apply caps: operation not permitted"), so
/// berth refuses it, naming it, and leaves nothing; it does not run the container with less.
#[test]
fn granting_a_capability_berth_does_not_hold_is_refused() {
    let status = fs::read_to_string("/proc/self/status").unwrap();
    let bounding = status
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:"))
        .map(|v| u64::from_str_radix(v.trim(), 16).unwrap())
        .unwrap();
    let last: u32 = fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // CAP_SYS_RESOURCE (24) is the one to look for; any other not held would do.
    let names = [
        (24, "CAP_SYS_RESOURCE"),
        (21, "CAP_SYS_ADMIN"),
        (16, "CAP_SYS_MODULE"),
    ];
    let Some((_, name)) = names
        .iter()
        .find(|(bit, _)| *bit <= last && bounding & (1 << bit) == 0)
    else {
        eprintln!("skipped: this process holds every capability the test knows to ask for");
        return;
    };
    let cli = Cli::new("s-nocap");
    let id = common::unique("s");
    let mut bundle = cli.bundle(&id, &["true"]);
    bundle.config["process"]["capabilities"] = json!({
        "bounding": [name, "CAP_KILL"], "effective": [name, "CAP_KILL"],
        "permitted": [name, "CAP_KILL"]
    });
    bundle.save();
    let err = cli.fails(&["run", "-b", bundle.path(), &id]);
    // (The index is of berth's sorted set, CAP_KILL first.)
    assert!(
        err.contains("invalid process.capabilities.effective[")
            && err.contains(&format!("{name}: not in berth's own bounding set")),
        "{err}"
    );
    assert_eq!(cli.leftovers(), Vec::<String>::new());
}

/// What a privileged container's config (`ctr run --privileged`, `docker run --privileged`)
/// has that others have not: a read-write sysfs at `/sys`, and every device node of the
/// host's `/dev` in `linux.devices`, `/dev/ptmx` among them. runc mounts `/sys` read-write,
/// makes the nodes, and leaves `/dev/ptmx` the link to the container's own `pts/ptmx`.
#[test]
fn a_privileged_containers_sysfs_and_devices() {
    let cli = Cli::new("s-priv");
    let script = "grep ' /sys ' /proc/mounts | cut -d' ' -f1,4 | cut -d, -f1; \
                  readlink /dev/ptmx; ls -l /dev/fuse | cut -c1";
    let out = output(&cli, script, |c| {
        let mounts = c["mounts"].as_array_mut().unwrap();
        for m in mounts.iter_mut() {
            if m["destination"] == "/sys" {
                *m = json!({"destination": "/sys", "type": "sysfs", "source": "sysfs",
                    "options": ["nosuid", "noexec", "nodev", "rw"]});
            }
        }
        c["linux"]["devices"] = json!([
            {"path": "/dev/ptmx", "type": "c", "major": 5, "minor": 2, "fileMode": 438,
             "uid": 0, "gid": 0},
            {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 438,
             "uid": 0, "gid": 0}
        ]);
        c["linux"]["maskedPaths"] = json!([]);
        c["linux"]["readonlyPaths"] = json!([]);
    });
    assert_eq!(out, "sysfs rw\npts/ptmx\nc\n");
    // berth spec's own /sys stays read-only.
    let out = output(&cli, script.split(';').next().unwrap(), |_| {});
    assert_eq!(out, "sysfs ro\n");
    assert_eq!(cli.leftovers(), Vec::<String>::new());
}
