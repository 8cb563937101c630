//! What an OCI config.json asks of the rootfs beyond berth's own fields, seen from inside a
//! container: device nodes made from their numbers, the root's propagation, the personality,
//! the NIS domain name, and the mount options runc knows (recursive ones, nosymfollow,
//! tmpcopyup, idmap).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command as Host;

use common::{driver, rootfs, run_output, shell};
use runtime_core::{Command, DeviceNode, DeviceRule, ErrorKind, Mount, NamespaceMode, Personality};

fn node(path: &str, kind: char, numbers: Option<(u32, u32)>) -> DeviceNode {
    DeviceNode {
        path: path.into(),
        kind,
        major: numbers.map(|n| n.0),
        minor: numbers.map(|n| n.1),
        file_mode: None,
        uid: None,
        gid: None,
    }
}

fn mount(source: Option<&Path>, destination: &str, kind: &str, options: &[&str]) -> Mount {
    Mount {
        source: source.map(|s| s.display().to_string()),
        destination: destination.into(),
        kind: kind.into(),
        options: options.iter().map(|o| o.to_string()).collect(),
        uid_mappings: None,
        gid_mappings: None,
    }
}

/// Runs `command`, asserting it exited 0; its stdout.
fn stdout_of(command: &Command) -> String {
    let driver = driver();
    let out = run_output(&driver, command).expect("run");
    assert_eq!(out.status.code, 0, "{out:?}");
    out.stdout
}

/// A fresh host directory, removed (with whatever is mounted in it) on drop.
struct HostDir(PathBuf);

impl HostDir {
    fn new(name: &str) -> HostDir {
        let dir = std::env::temp_dir().join(format!("berth-oci-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        HostDir(dir)
    }
}

impl Drop for HostDir {
    fn drop(&mut self) {
        // Every mount at or under the directory, deepest first.
        let top = self.0.to_str().unwrap().to_string();
        let mut points: Vec<String> = std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap_or_default()
            .lines()
            .filter_map(|line| line.split(' ').nth(4).map(str::to_string))
            .filter(|point| *point == top || point.starts_with(&format!("{top}/")))
            .collect();
        points.sort_by_key(|point| std::cmp::Reverse(point.len()));
        for point in points {
            let _ = Host::new("umount").arg(&point).status();
        }
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn host(args: &[&str]) {
    let status = Host::new(args[0]).args(&args[1..]).status().unwrap();
    assert!(status.success(), "{args:?}");
}

#[test]
fn device_nodes_are_made_from_their_numbers_with_their_mode_and_owner() {
    let mut command = shell(
        "nodes",
        "stat -c '%n %F %t:%T %a %u:%g' /dev/my-null /dev/sub/zero2 /tmp/berth-fifo /dev/null; \
         head -c 3 /dev/sub/zero2 | od -An -tx1; \
         cat /dev/nodriver 2>&1 >/dev/null | sed 's/.*: //'",
    );
    command.device_nodes = vec![
        DeviceNode {
            file_mode: Some(0o620),
            uid: Some(7),
            gid: Some(8),
            ..node("/dev/my-null", 'c', Some((1, 3)))
        },
        node("/dev/sub/zero2", 'u', Some((1, 5))),
        node("/tmp/berth-fifo", 'p', None),
        // Given again with its own numbers: another mode.
        DeviceNode {
            file_mode: Some(0o600),
            ..node("/dev/null", 'c', Some((1, 3)))
        },
        // A number no rule allows: made, but not opened (no cgroup rule is added for it).
        node("/dev/nodriver", 'c', Some((240, 7))),
    ];
    let out = stdout_of(&command);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[..4],
        [
            "/dev/my-null character special file 1:3 620 7:8",
            "/dev/sub/zero2 character special file 1:5 666 0:0",
            "/tmp/berth-fifo fifo 0:0 666 0:0",
            "/dev/null character special file 1:3 600 0:0",
        ],
        "{out}"
    );
    assert_eq!(lines[4].trim(), "00 00 00", "{out}");
    assert_eq!(lines[5], "Operation not permitted", "{out}");
    // A node outside /dev goes into the image itself (it has no overlay): removed here.
    let fifo = Path::new(rootfs()).join("tmp/berth-fifo");
    let _ = std::fs::remove_file(&fifo);
}

#[test]
fn a_device_cgroup_rule_lets_a_node_be_opened() {
    let mut command = shell(
        "noderule",
        "cat /dev/nodriver 2>&1 >/dev/null | sed 's/.*: //'",
    );
    command.device_nodes = vec![node("/dev/nodriver", 'c', Some((240, 7)))];
    command.device_cgroup_rules = vec![DeviceRule::char(Some(240), Some(7), "rw")];
    // Allowed: the open reaches the kernel, which has no driver for 240:7.
    assert_eq!(stdout_of(&command), "No such device or address\n");
}

#[test]
fn in_a_user_namespace_a_node_is_the_hosts_of_the_same_path() {
    let mut command = shell(
        "nodeuserns",
        "stat -c '%F %t:%T' /dev/full; head -c 2 /dev/full | od -An -tx1",
    );
    command.namespaces.user = NamespaceMode::Private;
    command.device_nodes = vec![DeviceNode {
        file_mode: Some(0o600),
        ..node("/dev/full", 'c', Some((1, 7)))
    }];
    let out = stdout_of(&command);
    assert_eq!(
        out.lines().next(),
        Some("character special file 1:7"),
        "{out}"
    );
    // A node the host does not have at that path cannot be bound: an error naming it.
    let mut command = shell("nodeuserns", "true");
    command.namespaces.user = NamespaceMode::Private;
    command.device_nodes = vec![node("/dev/berth-no-such-node", 'c', Some((1, 7)))];
    let err = run_output(&driver(), &command).unwrap_err();
    assert!(err.to_string().contains("/dev/berth-no-such-node"), "{err}");
}

#[test]
fn bad_device_nodes_are_refused_before_anything_is_made() {
    let cases: [(DeviceNode, &str); 6] = [
        (node("dev/x", 'c', Some((1, 3))), "device_nodes[0].path"),
        (node("/dev/../x", 'c', Some((1, 3))), "'..'"),
        (node("/dev/x", 'q', Some((1, 3))), "device_nodes[0].type"),
        (node("/dev/x", 'b', None), "device_nodes[0].major"),
        (
            node("/dev/null", 'c', Some((1, 5))),
            "1:3 in every container",
        ),
        (
            node("/dev/pts/0", 'c', Some((136, 0))),
            "berth's own /dev/pts",
        ),
    ];
    for (bad, wanted) in cases {
        let mut command = shell("badnode", "true");
        command.device_nodes = vec![bad];
        let err = run_output(&driver(), &command).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
        assert!(err.to_string().contains(wanted), "{err} lacks {wanted}");
    }
}

#[test]
fn a_linux32_personality_makes_uname_say_i686() {
    if std::env::consts::ARCH != "x86_64" {
        return;
    }
    let mut command = shell("persona", "uname -m");
    command.personality = Some(Personality {
        domain: "LINUX32".into(),
        flags: vec![],
    });
    assert_eq!(stdout_of(&command), "i686\n");
    command.personality = Some(Personality {
        domain: "LINUX".into(),
        flags: vec![],
    });
    assert_eq!(stdout_of(&command), "x86_64\n");
    command.personality = Some(Personality {
        domain: "LINUX".into(),
        flags: vec!["ADDR_NO_RANDOMIZE".into()],
    });
    let err = run_output(&driver(), &command).unwrap_err();
    assert!(err.to_string().contains("personality.flags"), "{err}");
}

#[test]
fn the_domain_name_is_the_containers_own() {
    let before = std::fs::read_to_string("/proc/sys/kernel/domainname").unwrap();
    let mut command = shell("domain", "cat /proc/sys/kernel/domainname; hostname");
    command.hostname = Some("box".into());
    command.domainname = Some("example.org".into());
    assert_eq!(stdout_of(&command), "example.org\nbox\n");
    assert_eq!(
        std::fs::read_to_string("/proc/sys/kernel/domainname").unwrap(),
        before
    );
    command.namespaces.uts = NamespaceMode::Host;
    command.hostname = None;
    let err = run_output(&driver(), &command).unwrap_err();
    assert!(
        err.to_string().contains("domainname") && err.to_string().contains("uts"),
        "{err}"
    );
}

/// The optional fields of the root's line in the container's mountinfo (`shared:N`,
/// `master:N`, `unbindable`).
fn root_propagation(propagation: Option<&str>) -> String {
    let mut command = shell(
        "rootprop",
        "awk '$5 == \"/\" { for (i = 7; $i != \"-\"; i++) printf \"%s \", $i; print \"\" }' \
         /proc/self/mountinfo",
    );
    command.rootfs_propagation = propagation.map(str::to_string);
    let out = stdout_of(&command);
    out.split_whitespace()
        .map(|field| field.split(':').next().unwrap().to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn the_root_takes_the_propagation_asked_for() {
    assert_eq!(root_propagation(None), "");
    assert_eq!(root_propagation(Some("rprivate")), "");
    assert_eq!(root_propagation(Some("rshared")), "shared");
    assert_eq!(root_propagation(Some("shared")), "shared");
    assert_eq!(root_propagation(Some("unbindable")), "unbindable");
    // A slave of the host's root, which is private here: a slave of nothing is private.
    assert_eq!(root_propagation(Some("rslave")), "");
    let mut command = shell("rootprop", "true");
    command.rootfs_propagation = Some("bogus".into());
    let err = run_output(&driver(), &command).unwrap_err();
    assert!(err.to_string().contains("rootfs_propagation"), "{err}");
}

#[test]
fn with_rslave_a_host_mount_made_later_reaches_the_container() {
    let dir = HostDir::new("rslave");
    // A shared mount on the host, as a daemon's volume directory would be.
    host(&[
        "mount",
        "--bind",
        dir.0.to_str().unwrap(),
        dir.0.to_str().unwrap(),
    ]);
    host(&["mount", "--make-shared", dir.0.to_str().unwrap()]);
    std::fs::create_dir(dir.0.join("late")).unwrap();
    for (propagation, seen) in [(Some("rslave"), "tmpfs"), (None, "ext2/ext3")] {
        let marker = dir.0.join("started");
        let _ = std::fs::remove_file(&marker);
        let mut command = shell(
            "rslave",
            "touch /data/started; i=0; while [ ! -e /data/late/go ] && [ $i -lt 50 ]; do \
             sleep 0.1; i=$((i+1)); done; stat -f -c %T /data/late",
        );
        command.rootfs_propagation = propagation.map(str::to_string);
        command
            .mounts
            .push(mount(Some(&dir.0), "/data", "bind", &["rbind"]));
        let driver = driver();
        let late = dir.0.join("late");
        let mounter = std::thread::spawn(move || {
            for _ in 0..100 {
                if marker.exists() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            host(&["mount", "-t", "tmpfs", "late", late.to_str().unwrap()]);
            std::fs::write(late.join("go"), "").unwrap();
            // The container sees the go only through the propagated tmpfs: without it,
            // it times out and reports its own /data/late.
        });
        let out = run_output(&driver, &command).expect("run");
        mounter.join().unwrap();
        host(&["umount", dir.0.join("late").to_str().unwrap()]);
        assert_eq!(out.stdout.trim(), seen, "{propagation:?}: {out:?}");
    }
}

#[test]
fn recursive_options_reach_the_submounts_of_a_bind() {
    let dir = HostDir::new("rro");
    std::fs::create_dir(dir.0.join("sub")).unwrap();
    host(&[
        "mount",
        "-t",
        "tmpfs",
        "sub",
        dir.0.join("sub").to_str().unwrap(),
    ]);
    let mut command = shell(
        "rro",
        "for f in /data/a /data/sub/b; do touch $f 2>/dev/null && echo wrote || echo refused; done",
    );
    command
        .mounts
        .push(mount(Some(&dir.0), "/data", "bind", &["rbind", "rro"]));
    assert_eq!(stdout_of(&command), "refused\nrefused\n");
    // rrw after rro: writable again.
    command.mounts[0].options.push("rrw".into());
    assert_eq!(stdout_of(&command), "wrote\nwrote\n");
}

#[test]
fn nosymfollow_stops_symlinks_but_not_readlink() {
    let mut command = shell(
        "nosym",
        "ln -s /etc/passwd /t/link; readlink /t/link; cat /t/link >/dev/null 2>&1 && echo followed || echo stopped",
    );
    command
        .mounts
        .push(mount(None, "/t", "tmpfs", &["nosymfollow"]));
    assert_eq!(stdout_of(&command), "/etc/passwd\nstopped\n");
    command.mounts[0].options = vec!["rnosymfollow".into()];
    assert_eq!(stdout_of(&command), "/etc/passwd\nstopped\n");
}

#[test]
fn tmpcopyup_fills_a_tmpfs_with_what_its_destination_held() {
    let image = Path::new(rootfs());
    let mut command = shell(
        "copyup",
        "stat -f -c %T /etc; grep -c root /etc/passwd; echo new > /etc/berth-copyup; \
         ls -ld /etc | cut -c1-10",
    );
    command
        .mounts
        .push(mount(None, "/etc", "tmpfs", &["tmpcopyup", "size=4m"]));
    let out = stdout_of(&command);
    let mode = {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(image.join("etc"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode, 0o755, "the busybox image's /etc");
    assert_eq!(out, "tmpfs\n1\ndrwxr-xr-x\n");
    assert!(!image.join("etc/berth-copyup").exists());
    // A bind or another type takes no tmpcopyup.
    let mut command = shell("copyup", "true");
    command
        .mounts
        .push(mount(None, "/m", "mqueue", &["tmpcopyup"]));
    let err = run_output(&driver(), &command).unwrap_err();
    assert!(err.to_string().contains("tmpcopyup"), "{err}");
}

#[test]
fn an_idmapped_bind_shows_host_root_files_as_container_roots() {
    let dir = HostDir::new("idmap");
    std::fs::write(dir.0.join("file"), "x").unwrap();
    let script = "stat -c %u:%g /data/file; touch /data/made && echo wrote || echo refused";
    for (options, owner, wrote) in [
        (vec!["rbind"], "65534:65534", "refused"),
        (vec!["rbind", "idmap"], "0:0", "wrote"),
        (vec!["rbind", "ridmap"], "0:0", "wrote"),
    ] {
        let mut command = shell("idmap", script);
        command.namespaces.user = NamespaceMode::Private;
        command
            .mounts
            .push(mount(Some(&dir.0), "/data", "bind", &options));
        assert_eq!(
            stdout_of(&command),
            format!("{owner}\n{wrote}\n"),
            "{options:?}"
        );
    }
    // What container root made is host root's on disk.
    use std::os::unix::fs::MetadataExt;
    assert_eq!(std::fs::metadata(dir.0.join("made")).unwrap().uid(), 0);
    // Mappings of its own, other than the container's: refused, naming them.
    let mut command = shell("idmap", "true");
    command.namespaces.user = NamespaceMode::Private;
    let mut own = mount(Some(&dir.0), "/data", "bind", &["idmap"]);
    own.uid_mappings = Some(vec![runtime_core::IdMapping {
        container_id: 0,
        host_id: 200_000,
        size: 10,
    }]);
    command.mounts.push(own);
    let err = run_output(&driver(), &command).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported, "{err}");
    assert!(err.to_string().contains("mounts[0].uid_mappings"), "{err}");
    // Without a user namespace of the container's, idmap has nothing to map through.
    let mut command = shell("idmap", "true");
    command
        .mounts
        .push(mount(Some(&dir.0), "/data", "bind", &["idmap"]));
    let err = run_output(&driver(), &command).unwrap_err();
    assert!(err.to_string().contains("namespaces.user"), "{err}");
}

#[test]
fn options_berth_cannot_honour_are_refused_naming_them() {
    for option in ["X-mount.mkdir", "remount", "iversion"] {
        let mut command = shell("xmount", "true");
        command
            .mounts
            .push(mount(None, "/t", "tmpfs", &["nosuid", option]));
        let err = run_output(&driver(), &command).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unsupported, "{err}");
        assert!(err.to_string().contains("mounts[0].options[1]"), "{err}");
    }
}

/// The super options of the host's cgroup2 hierarchy (`nsdelegate`, ...), from mountinfo.
fn host_cgroup2_options() -> Option<String> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .find_map(|line| {
            let (_, after) = line.split_once(" - ")?;
            let mut fields = after.split_whitespace();
            (fields.next() == Some("cgroup2")).then(|| fields.nth(1).unwrap_or("").to_string())
        })
}

#[test]
fn a_cgroup2_mount_in_the_hosts_cgroup_namespace_shows_the_hierarchy_and_changes_no_host_flag() {
    let driver = driver();
    let before = host_cgroup2_options();
    let host_ns = std::fs::read_link("/proc/self/ns/cgroup").unwrap();
    // The hierarchy's root shows the test driver's cgroup parent; the container stays in the
    // host's cgroup namespace (it asked for no other), although the helper mounted cgroup2
    // from a namespace of its own.
    let mut command = shell(
        "cg2host",
        &format!(
            "readlink /proc/self/ns/cgroup; [ -d /sys/fs/cgroup/{} ] && echo parent-seen",
            driver.cgroup_parent
        ),
    );
    command.namespaces.cgroup = NamespaceMode::Host;
    command.mounts.push(mount(
        Some(Path::new("cgroup2")),
        "/sys/fs/cgroup",
        "cgroup2",
        &["ro", "nosuid", "nodev", "noexec"],
    ));
    let out = run_output(&driver, &command).unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        out.stdout,
        format!("{}\nparent-seen\n", host_ns.display()),
        "{out:?}"
    );
    // In a cgroup namespace of its own, the root is the container's cgroup.
    let mut own = shell(
        "cg2own",
        &format!(
            "[ -d /sys/fs/cgroup/{} ] && echo parent-seen; readlink /proc/self/ns/cgroup",
            driver.cgroup_parent
        ),
    );
    own.namespaces.cgroup = NamespaceMode::Private;
    own.mounts = command.mounts.clone();
    let out = run_output(&driver, &own).unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_ne!(out.stdout.trim(), host_ns.to_string_lossy(), "{out:?}");
    assert!(!out.stdout.contains("parent-seen"), "{out:?}");
    // Neither reset the hierarchy's options (nsdelegate, memory_recursiveprot, ...).
    assert_eq!(host_cgroup2_options(), before);
}
