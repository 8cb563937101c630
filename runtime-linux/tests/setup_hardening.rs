//! The set-up against hostile or shared state: namespaces joined from another container,
//! a destination that would resolve differently a second time, a device in a user
//! namespace, and credentials that reset the dumpable flag. Each test failed before its fix.

mod common;

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::Arc;

use common::{driver, rootfs, run_output, shell};
use runtime_core::{Driver, HostDevice, Mount, NamespaceMode, NoHooks, Stdio};

/// The host's view of a process's cgroups, one `id:controllers:path` per line (named v1
/// hierarchies such as `name=systemd` are not berth's).
fn host_cgroups(pid: i32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap()
}

/// A container created (not started) whose namespaces others can join.
fn created(driver: &common::TestDriver, name: &str) -> runtime_core::Command {
    let command = shell(name, "sleep 100");
    driver
        .create(&command, &Stdio::null(), Arc::new(NoHooks))
        .unwrap();
    command
}

#[test]
fn a_container_joining_another_mount_namespace_is_born_in_its_own_cgroups() {
    // The helper used to join the cgroups after setns: their host paths then resolved in the
    // other container's mounts (a read-only sysfs there, or whatever its image put there).
    let driver = driver();
    let owner = created(&driver, "mnt-owner");
    let mut joiner = shell("mnt-joiner", "sleep 100");
    joiner.namespaces.mount = NamespaceMode::Container(owner.id.clone());
    let pid = driver
        .create(&joiner, &Stdio::null(), Arc::new(NoHooks))
        .expect("create a container in another's mount namespace");
    let cgroups = host_cgroups(pid);
    assert!(
        cgroups
            .lines()
            .filter(|line| !line.contains(":name="))
            .all(|line| line.contains(&joiner.id)),
        "{cgroups}"
    );
    assert_eq!(
        std::fs::read_link(format!("/proc/{pid}/ns/mnt")).unwrap(),
        std::fs::read_link(format!(
            "/proc/{}/ns/mnt",
            driver.state(&owner.id).unwrap().pid
        ))
        .unwrap()
    );
    driver.delete(&joiner.id, true).unwrap();
    driver.delete(&owner.id, true).unwrap();
}

#[test]
fn a_user_namespace_container_can_join_another_mount_namespace() {
    // The id maps used to be written through /proc/<pid>: after the helper joined another
    // container's mount namespace, that was the other container's procfs, where the number
    // names another process or none.
    let driver = driver();
    let owner = created(&driver, "userns-mnt-owner");
    let mut joiner = shell("userns-mnt-joiner", "sleep 100");
    joiner.namespaces.mount = NamespaceMode::Container(owner.id.clone());
    joiner.namespaces.user = NamespaceMode::Private;
    let pid = driver
        .create(&joiner, &Stdio::null(), Arc::new(NoHooks))
        .expect("create a user-namespace container in another's mount namespace");
    let map = std::fs::read_to_string(format!("/proc/{pid}/uid_map")).unwrap();
    assert_eq!(
        map.split_whitespace().collect::<Vec<_>>(),
        ["0", "100000", "65536"]
    );
    driver.delete(&joiner.id, true).unwrap();
    driver.delete(&owner.id, true).unwrap();
}

#[test]
fn a_read_only_bind_stays_read_only_when_its_destination_would_resolve_anew() {
    // The destination /<dir>/l is a link to "." in the image, so it resolves to /<dir>; the
    // source holds its own "l", a link to "/". The bind flags used to be applied by
    // resolving the destination again, now through the source: to the rootfs, leaving the
    // bind writable.
    let driver = driver();
    let dir = format!("berth-reresolve-{}", std::process::id());
    let in_image = Path::new(rootfs()).join(&dir);
    std::fs::create_dir_all(&in_image).unwrap();
    std::os::unix::fs::symlink(".", in_image.join("l")).unwrap();
    let source = std::env::temp_dir().join(format!("{dir}-source"));
    std::fs::create_dir_all(&source).unwrap();
    std::os::unix::fs::symlink("/", source.join("l")).unwrap();

    let mut command = shell(
        "reresolve",
        &format!(
            "touch /{dir}/w 2>/dev/null && echo bind-writable || echo bind-read-only; \
             touch /tmp/reresolve-$$ 2>/dev/null && echo rootfs-writable || echo rootfs-read-only; \
             rm -f /tmp/reresolve-$$"
        ),
    );
    command.mounts.push(Mount {
        source: Some(source.display().to_string()),
        destination: format!("/{dir}/l"),
        kind: "bind".into(),
        options: vec!["ro".into()],
        uid_mappings: None,
        gid_mappings: None,
    });
    let out = run_output(&driver, &command);
    let wrote = source.join("w").exists();
    let _ = std::fs::remove_dir_all(&in_image);
    let _ = std::fs::remove_dir_all(&source);
    let out = out.unwrap();
    assert_eq!(out.stdout, "bind-read-only\nrootfs-writable\n", "{out:?}");
    assert!(!wrote, "the read-only bind's source was written");
}

#[test]
fn a_host_device_in_a_user_namespace_is_bound_from_its_host_path() {
    // No node can be made in a user namespace, so the host's is bound; it used to be bound
    // from the container path, which on the host is some other file or none.
    let driver = driver();
    let device = common::LoopDevice::new();
    let mut command = shell(
        "userns-device",
        "[ -b /dev/berth-disk ] && stat -c '%t:%T' /dev/berth-disk",
    );
    command.namespaces.user = NamespaceMode::Private;
    command.devices.push(HostDevice {
        path: device.path.clone(),
        container_path: Some("/dev/berth-disk".into()),
        access: "r".into(),
    });
    let out = run_output(&driver, &command).expect("run with a host device in a user namespace");
    assert_eq!(
        out.stdout.trim(),
        format!("{:x}:{:x}", device.major, device.minor),
        "{out:?}"
    );
}

/// Sets `fs.suid_dumpable` for the life of the guard and puts the old value back. Only in
/// the throw-away guest: on a real host it is a global setting.
struct SuidDumpable(Option<String>);

impl SuidDumpable {
    const PATH: &'static str = "/proc/sys/fs/suid_dumpable";

    fn set_in_guest(value: &str) -> SuidDumpable {
        if std::env::var_os("BERTH_TEST_IN_GUEST").is_none() {
            return SuidDumpable(None);
        }
        let old = std::fs::read_to_string(Self::PATH).unwrap();
        std::fs::write(Self::PATH, value).unwrap();
        SuidDumpable(Some(old))
    }
}

impl Drop for SuidDumpable {
    fn drop(&mut self) {
        if let Some(old) = &self.0 {
            let _ = std::fs::write(Self::PATH, old.trim());
        }
    }
}

#[test]
fn the_init_stays_non_dumpable_after_it_takes_on_its_user() {
    // setresuid sets the dumpable flag to fs.suid_dumpable; with 1, the init (still berth's
    // code, waiting for start) could be ptraced and its /proc files opened by the container's
    // user. The kernel shows a non-dumpable process's /proc files as root's. In the guest the
    // test sets suid_dumpable to 1 to reach the case; here it is what this host has.
    let _dumpable = SuidDumpable::set_in_guest("1");
    let driver = driver();
    let mut command = shell("dumpable", "true");
    command.process.user = "1000:1000".into();
    let pid = driver
        .create(&command, &Stdio::null(), Arc::new(NoHooks))
        .unwrap();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    assert!(
        status
            .lines()
            .any(|l| l.starts_with("Uid:") && l.contains("1000")),
        "the init has not taken on its user yet: {status}"
    );
    let owner = std::fs::metadata(format!("/proc/{pid}/environ"))
        .unwrap()
        .uid();
    driver.delete(&command.id, true).unwrap();
    assert_eq!(owner, 0, "the init waiting for start is dumpable");
}

/// A tmpfs mounted on the host for the life of the guard (nosuid, nodev), for a bind source
/// with a submount.
struct HostTmpfs(std::path::PathBuf);

impl HostTmpfs {
    fn mount(at: &Path) -> HostTmpfs {
        std::fs::create_dir_all(at).unwrap();
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "nosuid,nodev,size=1m", "berth-test"])
            .arg(at)
            .status()
            .unwrap();
        assert!(status.success(), "mount a tmpfs on {}", at.display());
        HostTmpfs(at.to_path_buf())
    }
}

impl Drop for HostTmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_read_only_rbind_is_read_only_all_the_way_down_and_keeps_the_sources_flags() {
    // ro used to be applied by remounting the top of the bind only: its submounts stayed
    // writable, and the remount could drop the source's nosuid and nodev.
    let driver = driver();
    let source = std::env::temp_dir().join(format!("berth-rbind-{}", std::process::id()));
    let submount = HostTmpfs::mount(&source.join("sub"));
    let mut command = shell(
        "rbind-ro",
        "touch /rbind/sub/x 2>/dev/null && echo writable || echo read-only; \
         awk '$5 == \"/rbind/sub\" {print $6}' /proc/self/mountinfo",
    );
    command.mounts.push(Mount {
        source: Some(source.display().to_string()),
        destination: "/rbind".into(),
        kind: "bind".into(),
        options: vec!["rbind".into(), "ro".into()],
        uid_mappings: None,
        gid_mappings: None,
    });
    let out = run_output(&driver, &command);
    drop(submount);
    let _ = std::fs::remove_dir_all(&source);
    let _ = std::fs::remove_dir(Path::new(rootfs()).join("rbind"));
    let out = out.unwrap();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.first(), Some(&"read-only"), "{out:?}");
    let flags: Vec<&str> = lines.get(1).unwrap_or(&"").split(',').collect();
    for flag in ["ro", "nosuid", "nodev"] {
        assert!(
            flags.contains(&flag),
            "{flag} missing on the submount: {out:?}"
        );
    }
}
