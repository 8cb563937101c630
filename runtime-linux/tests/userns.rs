//! User namespaces: container root runs as an unprivileged host uid.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

use common::{driver, rootfs, run_output, run_output_with, shell, Recorder};
use runtime_core::{
    Command, Driver, IdMapping, Mount, NamespaceMode, NoHooks, ProcessConfig, Stdio,
};

fn in_userns(name: &str, script: &str) -> Command {
    let mut command = shell(name, script);
    command.namespaces.user = NamespaceMode::Private;
    command
}

/// The `Uid:` line of a host process: real, effective, saved, fs.
fn host_uids(pid: i32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .unwrap()
        .split_whitespace()
        .skip(1)
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn container_root_is_an_unprivileged_host_uid() {
    let driver = driver();
    let command = in_userns(
        "userns",
        "id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map | tr -s ' ' | tr '\\n' ';'; echo; sleep 0.3",
    );
    let hooks = Arc::new(Recorder::default());
    let pid_seen = Arc::new(std::sync::Mutex::new(String::new()));
    struct Watch(Arc<Recorder>, Arc<std::sync::Mutex<String>>);
    impl runtime_core::Hooks for Watch {
        fn on_start(&self, id: &str, pid: i32) {
            *self.1.lock().unwrap() = host_uids(pid);
            self.0.on_start(id, pid);
        }
    }
    let out = run_output_with(&driver, &command, Arc::new(Watch(hooks, pid_seen.clone()))).unwrap();
    assert_eq!(out.status.code, 0, "{out:?}");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines[0..2], ["0", "0"], "{out:?}");
    assert_eq!(
        lines[2].trim(),
        "0 100000 65536; 0 100000 65536;",
        "{out:?}"
    );
    assert_eq!(*pid_seen.lock().unwrap(), "100000 100000 100000 100000");
}

#[test]
fn custom_mappings_apply_and_an_exec_joins_the_same_namespace() {
    let driver = driver();
    let mut command = in_userns("userns-custom", "sleep 100");
    command.uid_mappings = Some(vec![
        IdMapping {
            container_id: 0,
            host_id: 200000,
            size: 1000,
        },
        IdMapping {
            container_id: 1000,
            host_id: 300000,
            size: 1,
        },
    ]);
    command.gid_mappings = Some(vec![IdMapping {
        container_id: 0,
        host_id: 200000,
        size: 2000,
    }]);
    driver
        .create(&command, &Stdio::null(), Arc::new(NoHooks))
        .unwrap();
    driver.start(&command.id).unwrap();
    let init = driver.state(&command.id).unwrap().pid;
    assert_eq!(host_uids(init), "200000 200000 200000 200000");
    let init_userns = std::fs::read_link(format!("/proc/{init}/ns/user")).unwrap();
    let (read, write) = common::pipe();
    let mut process = ProcessConfig::new(["/bin/sh", "-c", "id -u; readlink /proc/self/ns/user"]);
    process.user = "app".into();
    let stdio = Stdio {
        stdin: None,
        stdout: Some(std::os::fd::AsRawFd::as_raw_fd(&write)),
        stderr: None,
        extra: Vec::new(),
    };
    let status = driver
        .exec(&command.id, &process, &stdio, Arc::new(NoHooks))
        .unwrap();
    drop(write);
    let out = std::io::read_to_string(std::fs::File::from(read)).unwrap();
    assert!(status.success(), "{status:?}");
    assert_eq!(out, format!("1000\n{}\n", init_userns.display()));
    driver.delete(&command.id, true).unwrap();
}

#[test]
fn container_root_cannot_write_a_host_file_its_uid_does_not_own() {
    let driver = driver();
    let dir = std::env::temp_dir().join(format!("berth-userns-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(dir.join("hosts-own"), "host\n").unwrap(); // root-owned, 0644
    std::fs::write(dir.join("mapped-own"), "mapped\n").unwrap();
    std::os::unix::fs::chown(dir.join("mapped-own"), Some(100000), Some(100000)).unwrap();
    // Container root cannot make the mount point in a rootfs the host's root owns: it must be
    // there already (whether an earlier test made it or not).
    std::fs::create_dir_all(std::path::Path::new(rootfs()).join("data")).unwrap();
    let mut command = in_userns(
        "userns-bind",
        "cat /data/hosts-own; echo x >> /data/hosts-own 2>/dev/null && echo WROTE || echo refused; \
         echo y >> /data/mapped-own && echo wrote-own",
    );
    command.mounts.push(Mount {
        source: Some(dir.display().to_string()),
        destination: "/data".into(),
        kind: "bind".into(),
        options: vec![],
        uid_mappings: None,
        gid_mappings: None,
    });
    let out = run_output(&driver, &command).unwrap();
    assert_eq!(out.stdout, "host\nrefused\nwrote-own\n", "{out:?}");
    assert_eq!(
        std::fs::read_to_string(dir.join("hosts-own")).unwrap(),
        "host\n"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_user_namespace_container_has_its_devices_and_mounts() {
    let driver = driver();
    let out = run_output(
        &driver,
        &in_userns(
            "userns-dev",
            "echo x > /dev/null && head -c 3 /dev/zero | wc -c; ls /sys/class/net; touch /tmp/ok-$$ && rm /tmp/ok-$$ && echo tmp-ok",
        ),
    )
    .unwrap();
    assert_eq!(out.stdout, "3\nlo\ntmp-ok\n", "{out:?}");
}

#[test]
fn an_idmapped_rootfs_belongs_to_container_root() {
    let driver = driver();
    let marker = format!("/tmp/idmap-{}", std::process::id());
    let script = format!(
        "stat -c %u /etc/passwd; touch /etc/idmap-probe 2>/dev/null && echo wrote || echo refused; \
         touch {marker} && stat -c %u {marker}; rm -f /etc/idmap-probe {marker}"
    );
    // Without: host root's files are nobody's inside, and root cannot write them.
    let out = run_output(&driver, &in_userns("plain-rootfs", &script)).unwrap();
    assert_eq!(out.stdout, "65534\nrefused\n0\n", "{out:?}");
    let host_uid =
        |path: &str| std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(path).unwrap());
    // With: they are container root's, and what it creates is host root's on disk.
    let mut command = in_userns("idmapped-rootfs", &format!("{script}; touch {marker}"));
    command.idmapped_rootfs = true;
    let out = run_output(&driver, &command).unwrap();
    assert_eq!(out.stdout, "0\nwrote\n0\n", "{out:?}");
    let on_host = format!("{}{marker}", common::rootfs());
    assert_eq!(host_uid(&on_host), 0);
    std::fs::remove_file(on_host).unwrap();
}
