//! What podman and conmon send, through the CLI as they call it: the parts of their config.json
//! and their calls that runc takes and berth must take the same way (scripts/engines/podman.sh
//! runs the real podman; these pin each difference it found).

mod common;

use common::Cli;
use serde_json::{json, Value};

/// Runs `script` in a bundle whose config `edit` changed; returns (exit code, stdout, stderr).
fn run(cli: &Cli, script: &str, edit: impl FnOnce(&mut Value)) -> (i32, String, String) {
    let id = common::unique("c");
    let mut bundle = cli.bundle(&id, &["sh", "-c", script]);
    edit(&mut bundle.config);
    bundle.save();
    let out = cli.run(&["run", "-b", bundle.path(), &id]);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

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
    let (code, out, err) = run(&cli, DEV_SCRIPT, podman_dev);
    assert_eq!(code, 0, "stdout {out}\nstderr {err}");
    let (options, ran) = out.trim().split_once('\n').expect("two lines");
    let options: Vec<&str> = options.split(',').collect();
    assert!(
        options.contains(&"noexec") && options.contains(&"nosuid"),
        "{options:?}"
    );
    assert_eq!(ran, "refused", "a program in a noexec /dev ran");

    // runc's /dev (berth spec's): exec is allowed there, as runc allows it.
    let (code, out, err) = run(&cli, DEV_SCRIPT, |_| {});
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
    let (code, out, err) = run(&cli, "stat -c '%A %t:%T %u:%g' /dev/fuse", |c| {
        c["linux"]["devices"] = json!([{"path": "/dev/fuse", "type": "c", "major": 10,
                "minor": 229, "fileMode": 0o20600, "uid": 0, "gid": 0}]);
    });
    assert_eq!(code, 0, "stdout {out}\nstderr {err}");
    assert_eq!(out.trim(), "crw------- a:e5 0:0");
    assert_eq!(cli.leftovers(), Vec::<String>::new());
}
