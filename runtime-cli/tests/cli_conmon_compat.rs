//! What podman and conmon send, through the CLI as they call it: the parts of their config.json
//! and their calls that runc takes and berth must take the same way (scripts/engines/podman.sh
//! runs the real podman; these pin each difference it found).

mod common;

use common::Cli;
use serde_json::{json, Value};

/// podman's `/dev` mount, as podman 4.3 writes it: runc's, and `noexec`.
fn podman_dev(config: &mut Value) {
    let mounts = config["mounts"].as_array_mut().unwrap();
    let dev = mounts
        .iter_mut()
        .find(|m| m["destination"] == "/dev")
        .expect("berth spec has a /dev mount");
    dev["options"] = json!(["nosuid", "noexec", "strictatime", "mode=755", "size=65536k"]);
}

/// The mount options of `/dev` (from mountinfo), and whether a program copied into `/dev` runs.
const DEV_SCRIPT: &str = "grep -E '^[^ ]+ [^ ]+ [^ ]+ / /dev ' /proc/self/mountinfo | \
     cut -d' ' -f6; cp /bin/busybox /dev/true; if /dev/true 2>/dev/null; then echo ran; \
     else echo refused; fi";

#[test]
fn podmans_noexec_dev_is_mounted_noexec() {
    let cli = Cli::new("conmon-dev");
    let (code, out, err) = cli.run_script(DEV_SCRIPT, podman_dev);
    assert_eq!(code, 0, "stdout {out}\nstderr {err}");
    let (options, ran) = out.trim().split_once('\n').expect("two lines");
    let options: Vec<&str> = options.split(',').collect();
    assert!(
        options.contains(&"noexec") && options.contains(&"nosuid"),
        "{options:?}"
    );
    assert_eq!(ran, "refused", "a program in a noexec /dev ran");

    // runc's /dev (berth spec's): exec is allowed there, as runc allows it.
    let (code, out, err) = cli.run_script(DEV_SCRIPT, |_| {});
    assert_eq!(code, 0, "stdout {out}\nstderr {err}");
    let (options, ran) = out.trim().split_once('\n').expect("two lines");
    assert!(!options.split(',').any(|o| o == "noexec"), "{options}");
    assert_eq!(ran, "ran");
    assert_eq!(cli.leftovers(), Vec::<String>::new());
}

#[test]
fn podmans_device_file_mode_with_its_type_bits() {
    let cli = Cli::new("conmon-device");
    // `podman run --device /dev/fuse`: fileMode is the host node's st_mode, S_IFCHR | 0600.
    let (code, out, err) = cli.run_script("stat -c '%A %t:%T %u:%g' /dev/fuse", |c| {
        c["linux"]["devices"] = json!([{"path": "/dev/fuse", "type": "c", "major": 10,
                "minor": 229, "fileMode": 0o20600, "uid": 0, "gid": 0}]);
    });
    assert_eq!(code, 0, "stdout {out}\nstderr {err}");
    assert_eq!(out.trim(), "crw------- a:e5 0:0");
    assert_eq!(cli.leftovers(), Vec::<String>::new());
}

/// Whether this host has only the cgroup2 hierarchy.
fn cgroup2_only() -> bool {
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    !mounts.lines().any(|line| line.contains(" - cgroup "))
}

#[test]
fn podmans_cgroup_mount_is_the_containers_own_cgroups() {
    let cli = Cli::new("conmon-cgroup");
    // podman's (and runc's spec's) /sys/fs/cgroup: type cgroup, read-only; the host's cgroup
    // namespace (podman's default on a v1 host).
    let script = "grep ' /sys/fs/cgroup' /proc/self/mountinfo | cut -d' ' -f5,9 | sort; \
                  echo limit $(cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null); \
                  echo procs $(cat /sys/fs/cgroup/pids/cgroup.procs 2>/dev/null | head -1); \
                  ls /sys/fs/cgroup | tr '\\n' ' '; echo; \
                  mkdir /sys/fs/cgroup/pids/x 2>/dev/null && echo made || echo read-only";
    let (code, out, err) = cli.run_script(script, |c| {
        let mounts = c["mounts"].as_array_mut().unwrap();
        let cgroup = mounts
            .iter_mut()
            .find(|m| m["destination"] == "/sys/fs/cgroup")
            .expect("berth spec has a cgroup mount");
        cgroup["options"] = json!(["rprivate", "nosuid", "noexec", "nodev", "relatime", "ro"]);
        c["linux"]["resources"] = json!({"memory": {"limit": 64 << 20}});
    });
    assert_eq!(code, 0, "stdout {out}\nstderr {err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.last(), Some(&"read-only"), "{out}");
    if cgroup2_only() {
        // The unified hierarchy, as runc mounts it.
        assert_eq!(lines[0], "/sys/fs/cgroup cgroup2", "{out}");
        return;
    }
    // A v1 or hybrid host: a tmpfs with each v1 hierarchy's directory of this container bound
    // read-only, as runc does: the limit is the container's, its init (pid 1) is in it, and
    // nothing of the host's other cgroups (this test's parent among them) shows.
    assert_eq!(lines[0], "/sys/fs/cgroup tmpfs", "{out}");
    assert!(lines.contains(&"/sys/fs/cgroup/memory cgroup"), "{out}");
    assert!(lines.contains(&"/sys/fs/cgroup/pids cgroup"), "{out}");
    assert!(lines.contains(&"limit 67108864"), "{out}");
    assert!(lines.contains(&"procs 1"), "{out}");
    let listing = lines[lines.len() - 2];
    assert!(listing.split(' ').any(|name| name == "memory"), "{out}");
    assert!(!listing.contains(&cli.cgroup_parent), "{out}");
    assert!(!listing.contains("cgroup.procs"), "{out}");
    assert_eq!(cli.leftovers(), Vec::<String>::new());
}

#[test]
fn podmans_privileged_sys_and_device_list() {
    let cli = Cli::new("conmon-privileged");
    // `podman run --privileged`: /sys read-write (and rprivate), and the host's devices,
    // /dev/ptmx among them. Nothing is written to /sys: it is the host's kernel.
    let script = "awk '$5 == \"/sys\" {print $6}' /proc/self/mountinfo; readlink /dev/ptmx; \
                  stat -c '%A %t:%T' /dev/fuse";
    let (code, out, err) = cli.run_script(script, |c| {
        let mounts = c["mounts"].as_array_mut().unwrap();
        let sys = mounts
            .iter_mut()
            .find(|m| m["destination"] == "/sys")
            .expect("berth spec has a /sys mount");
        *sys = json!({"destination": "/sys", "type": "sysfs", "source": "sysfs",
            "options": ["rprivate", "nosuid", "noexec", "nodev", "rw"]});
        c["linux"]["devices"] = json!([
            {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 0o20666},
            {"path": "/dev/ptmx", "type": "c", "major": 5, "minor": 2, "fileMode": 0o20666}
        ]);
    });
    assert_eq!(code, 0, "stdout {out}\nstderr {err}");
    let lines: Vec<&str> = out.lines().collect();
    let flags: Vec<&str> = lines[0].split(',').collect();
    assert!(flags.contains(&"rw") && flags.contains(&"nosuid"), "{out}");
    assert_eq!(lines[1..], ["pts/ptmx", "crw-rw-rw- a:e5"], "{out}");

    // berth spec's /sys (runc's): read-only.
    let (code, out, err) = cli.run_script(
        "awk '$5 == \"/sys\" {print $6}' /proc/self/mountinfo",
        |_| {},
    );
    assert_eq!(code, 0, "stdout {out}\nstderr {err}");
    assert!(out.trim().split(',').any(|f| f == "ro"), "{out}");
    assert_eq!(cli.leftovers(), Vec::<String>::new());
}
