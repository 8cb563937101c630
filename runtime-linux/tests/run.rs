//! A container seen from inside: exit codes, isolation, identity, mounts and limits.

mod common;

use std::sync::Arc;

use common::{driver, rootfs, run_output, run_output_with, sh, shell, Recorder};
use runtime_core::{Driver, Mount, NamespaceMode, Resources};

#[test]
fn exit_codes_come_back_exactly() {
    let driver = driver();
    for code in [0, 7, 255] {
        let out = run_output(&driver, &shell("exit", &format!("exit {code}"))).unwrap();
        assert_eq!(out.status.code, code);
        assert_eq!(out.status.signal, None);
        assert!(!out.status.oom_killed);
    }
}

#[test]
fn a_signal_exit_is_128_plus_the_signal() {
    let driver = driver();
    // The kernel ignores a signal sent to a pid namespace's init from inside that namespace
    // (as in Docker without --init), so a program that kills itself with `kill -9 $$` does
    // so where it is not such an init: with the host's pid namespace.
    let mut command = shell("sig", "kill -9 $$; echo still here");
    command.namespaces.pid = NamespaceMode::Host;
    let out = run_output(&driver, &command).unwrap();
    assert_eq!(
        (out.status.code, out.status.signal),
        (137, Some(9)),
        "{out:?}"
    );
    assert_eq!(out.stdout, "");

    // As pid 1 of its own namespace, the same program survives its own kill...
    let out = run_output(&driver, &shell("sig", "kill -9 $$; echo still here")).unwrap();
    assert_eq!((out.status.code, out.stdout.as_str()), (0, "still here\n"));

    // ...but not one from outside.
    let command = shell("sig", "sleep 100");
    driver
        .create(
            &command,
            &runtime_core::Stdio::null(),
            std::sync::Arc::new(runtime_core::NoHooks),
        )
        .unwrap();
    driver.start(&command.id).unwrap();
    driver.kill(&command.id, 9, false).unwrap();
    let status = driver.wait(&command.id).unwrap();
    assert_eq!((status.code, status.signal), (137, Some(9)));
    driver.delete(&command.id, false).unwrap();
}

#[test]
fn the_program_is_pid_1_and_sees_only_its_own_processes() {
    let driver = driver();
    let out = sh(
        &driver,
        "echo $$; sleep 5 & ls /proc | grep -E '^[0-9]+$' | sort -n | tr '\\n' ' '",
    );
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("1"));
    let pids: Vec<u32> = lines
        .next()
        .unwrap()
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect();
    // sh itself, sleep, and the ls/grep/sort/tr of the pipeline: a handful, all small.
    assert!(pids.contains(&1), "{pids:?}");
    assert!(pids.len() <= 8 && pids.iter().all(|&p| p < 20), "{pids:?}");
}

#[test]
fn hostname_env_and_cwd_are_as_asked() {
    let driver = driver();
    let mut command = shell("ident", "hostname; echo $FOO; pwd; echo $HOME");
    command.hostname = Some("box".into());
    command.process.env = vec!["FOO=bar baz".into(), "PATH=/bin:/usr/bin".into()];
    command.process.cwd = "/tmp".into();
    let out = run_output(&driver, &command).unwrap();
    assert_eq!(out.stdout, "box\nbar baz\n/tmp\n/root\n", "{out:?}");
}

#[test]
fn a_default_path_is_set_when_env_has_none() {
    let driver = driver();
    assert_eq!(
        sh(&driver, "echo $PATH"),
        "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"
    );
}

#[test]
fn the_user_and_groups_come_from_the_containers_passwd() {
    let driver = driver();
    let cases = [
        (
            "1000:1000",
            "uid=1000(app) gid=1000(app) groups=10(wheel),29(audio),1000(app)",
        ),
        (
            "app",
            "uid=1000(app) gid=1000(app) groups=10(wheel),29(audio),1000(app)",
        ),
        (
            "app:audio",
            "uid=1000(app) gid=29(audio) groups=10(wheel),29(audio)",
        ),
        ("4242", "uid=4242 gid=0(root) groups=0(root)"),
        ("0:0", "uid=0(root) gid=0(root) groups=0(root)"),
    ];
    for (user, expected) in cases {
        let mut command = shell("user", "id");
        command.process.user = user.into();
        let out = run_output(&driver, &command).unwrap();
        assert_eq!(out.stdout.trim(), expected, "user {user}: {out:?}");
    }
    let mut command = shell("user", "id -G");
    command.process.user = "app".into();
    command.process.additional_gids = vec![4000];
    let out = run_output(&driver, &command).unwrap();
    assert_eq!(out.stdout.trim(), "1000 10 29 4000", "{out:?}");
}

#[test]
fn an_unknown_user_is_an_invalid_argument() {
    let driver = driver();
    let mut command = shell("nouser", "id");
    command.process.user = "ghost".into();
    let err = run_output(&driver, &command).unwrap_err();
    assert_eq!(err.kind(), runtime_core::ErrorKind::InvalidArgument);
    assert!(err.to_string().contains("no user \"ghost\""), "{err}");
}

#[test]
fn net_none_has_only_lo_and_it_is_up() {
    let driver = driver();
    let out = sh(&driver, "ls /sys/class/net; cat /sys/class/net/lo/operstate; ping -c1 -W1 127.0.0.1 >/dev/null && echo ping-ok");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "lo", "{out}");
    assert_eq!(lines[1], "unknown", "{out}"); // lo reports "unknown" when up
    assert_eq!(lines[2], "ping-ok", "{out}");
}

#[test]
fn host_network_is_shared_when_asked() {
    let driver = driver();
    let mut command = shell("hostnet", "ls /sys/class/net | wc -l");
    command.namespaces.net = NamespaceMode::Host;
    let out = run_output(&driver, &command).unwrap();
    let host = std::fs::read_dir("/sys/class/net").unwrap().count();
    assert_eq!(out.stdout.trim(), host.to_string());
}

#[test]
fn a_read_only_bind_mount_cannot_be_written() {
    let driver = driver();
    let host_dir = tempdir("bind-ro");
    std::fs::write(host_dir.join("hello"), "from the host\n").unwrap();
    let mut command = shell(
        "bindro",
        "cat /data/hello; touch /data/new 2>/dev/null && echo wrote || echo refused",
    );
    command.mounts.push(Mount {
        source: Some(host_dir.display().to_string()),
        destination: "/data".into(),
        kind: "bind".into(),
        options: vec!["rbind".into(), "ro".into()],
        uid_mappings: None,
        gid_mappings: None,
    });
    let out = run_output(&driver, &command).unwrap();
    assert_eq!(out.stdout, "from the host\nrefused\n", "{out:?}");
    assert!(!host_dir.join("new").exists());
    std::fs::remove_dir_all(host_dir).unwrap();
}

#[test]
fn a_writable_bind_mount_writes_through_to_the_host() {
    let driver = driver();
    let host_dir = tempdir("bind-rw");
    let mut command = shell("bindrw", "echo inside > /deep/er/out");
    command.mounts.push(Mount {
        source: Some(host_dir.display().to_string()),
        destination: "/deep/er".into(),
        kind: "bind".into(),
        options: vec![],
        uid_mappings: None,
        gid_mappings: None,
    });
    run_output(&driver, &command).unwrap();
    assert_eq!(
        std::fs::read_to_string(host_dir.join("out")).unwrap(),
        "inside\n"
    );
    std::fs::remove_dir_all(host_dir).unwrap();
    // The missing target was created inside the rootfs, not on the host.
    assert!(std::path::Path::new(rootfs()).join("deep/er").is_dir());
    std::fs::remove_dir_all(std::path::Path::new(rootfs()).join("deep")).unwrap();
}

#[test]
fn a_file_bind_goes_where_an_image_symlink_inside_the_root_leads() {
    // Images often make /etc/resolv.conf a symlink; the bind lands on what it names, inside
    // the root, read-only as asked.
    let driver = driver();
    let name = format!("berth-resolv-{}", std::process::id());
    let in_image = std::path::Path::new(rootfs());
    std::fs::write(in_image.join("tmp").join(&name), "").unwrap();
    std::os::unix::fs::symlink(format!("/tmp/{name}"), in_image.join(&name)).unwrap();
    let host_file = std::env::temp_dir().join(format!("{name}-source"));
    std::fs::write(&host_file, "nameserver 192.0.2.1\n").unwrap();
    let mut command = shell(
        "file-bind",
        &format!("cat /tmp/{name}; (echo more >> /{name}) 2>/dev/null && echo writable || echo read-only"),
    );
    command.mounts.push(Mount {
        source: Some(host_file.display().to_string()),
        destination: format!("/{name}"),
        kind: "bind".into(),
        options: vec!["ro".into()],
        uid_mappings: None,
        gid_mappings: None,
    });
    let out = run_output(&driver, &command);
    let _ = std::fs::remove_file(in_image.join(&name));
    let _ = std::fs::remove_file(in_image.join("tmp").join(&name));
    let host_text = std::fs::read_to_string(&host_file).unwrap();
    std::fs::remove_file(&host_file).unwrap();
    let out = out.unwrap();
    assert_eq!(out.stdout, "nameserver 192.0.2.1\nread-only\n", "{out:?}");
    assert_eq!(host_text, "nameserver 192.0.2.1\n");
}

#[test]
fn tmpfs_gets_its_size() {
    let driver = driver();
    let mut command = shell(
        "tmpfs",
        "df -k /scratch | tail -1 | awk '{print $2}'; grep ' /scratch ' /proc/mounts",
    );
    command.mounts.push(Mount {
        source: None,
        destination: "/scratch".into(),
        kind: "tmpfs".into(),
        options: vec!["size=16m".into(), "nosuid".into()],
        uid_mappings: None,
        gid_mappings: None,
    });
    let out = run_output(&driver, &command).unwrap();
    let mut lines = out.stdout.lines();
    assert_eq!(lines.next(), Some("16384"), "{out:?}");
    assert!(lines.next().unwrap().contains("nosuid"), "{out:?}");
}

#[test]
fn a_read_only_rootfs_refuses_writes_but_tmpfs_mounts_stay_writable() {
    let driver = driver();
    let mut command = shell(
        "rorootfs",
        "touch /etc/x 2>/dev/null && echo wrote || echo refused; touch /dev/shm/y && echo shm-ok",
    );
    command.readonly_rootfs = true;
    let out = run_output(&driver, &command).unwrap();
    assert_eq!(out.stdout, "refused\nshm-ok\n", "{out:?}");
}

#[test]
fn the_standard_mounts_and_devices_are_there() {
    let driver = driver();
    let out = sh(
        &driver,
        "for d in null zero full random urandom tty; do [ -c /dev/$d ] && printf '%s ' $d; done; echo; \
         for l in fd stdin stdout stderr ptmx; do printf '%s ' $(readlink /dev/$l); done; echo; \
         for m in /proc /dev /dev/pts /dev/shm /dev/mqueue /sys; do grep -q \" $m \" /proc/mounts && printf '%s ' $m; done; echo; \
         grep ' /sys ' /proc/mounts | grep -q ' ro,' && echo sys-ro; \
         head -c 4 /dev/zero | wc -c; echo x > /dev/null && echo null-ok",
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0].trim(),
        "null zero full random urandom tty",
        "{out}"
    );
    assert_eq!(
        lines[1].trim(),
        "/proc/self/fd /proc/self/fd/0 /proc/self/fd/1 /proc/self/fd/2 pts/ptmx"
    );
    assert_eq!(
        lines[2].trim(),
        "/proc /dev /dev/pts /dev/shm /dev/mqueue /sys"
    );
    assert_eq!(&lines[3..], ["sys-ro", "4", "null-ok"], "{out}");
}

#[test]
fn masked_and_read_only_proc_paths_are_protected() {
    let driver = driver();
    let out = sh(
        &driver,
        "wc -c < /proc/timer_list; wc -c < /proc/keys; ls /proc/acpi | wc -l; \
         echo 1 > /proc/sysrq-trigger 2>/dev/null && echo wrote || echo refused; \
         echo 1 > /proc/sys/kernel/ns_last_pid 2>/dev/null && echo wrote || echo refused",
    );
    // Unmasked, root reads a long timer_list and its keys; masked, both are empty.
    assert!(std::fs::read_to_string("/proc/timer_list").unwrap().len() > 100);
    assert_eq!(out, "0\n0\n0\nrefused\nrefused\n", "{out}");
}

#[test]
fn the_memory_limit_kills_a_hog() {
    let driver = driver();
    let mut command = shell(
        "hog",
        "a=$(head -c 200000000 /dev/zero | tr '\\0' x); echo survived ${#a}",
    );
    command.resources = Resources {
        memory_limit: Some(32 << 20),
        ..Resources::default()
    };
    let out = run_output(&driver, &command).unwrap();
    assert!(!out.stdout.contains("survived"), "{out:?}");
    assert!(out.status.oom_killed, "{out:?}");
    assert_eq!(out.status.code, 137, "{out:?}");
}

#[test]
fn the_pids_limit_stops_a_fork_bomb() {
    let driver = driver();
    let mut command = shell(
        "forkbomb",
        // Only builtins after the bomb: there is no process left to fork for anything else.
        // (busybox sh exits when a fork fails, hence the subshell.)
        "(for i in $(seq 1 40); do sleep 30 & done) 2>/dev/null; set -- /proc/[0-9]*; echo $#",
    );
    command.resources = Resources {
        pids_limit: Some(10),
        ..Resources::default()
    };
    let out = run_output(&driver, &command).unwrap();
    let count: u32 = out
        .stdout
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("{out:?}"));
    assert!(
        (6..=10).contains(&count),
        "{count} processes under a limit of 10: {out:?}"
    );
}

#[test]
fn the_start_hook_gets_the_host_pid_and_the_exit_hook_the_status() {
    let driver = driver();
    let hooks = Arc::new(Recorder::default());
    let command = shell("hooks", "exit 3");
    let out = run_output_with(&driver, &command, hooks.clone()).unwrap();
    assert_eq!(out.status.code, 3);
    let started = hooks.started.lock().unwrap().clone();
    assert_eq!(started.len(), 1);
    assert_eq!(started[0].0, command.id);
    assert!(started[0].1 > 1);
    let exited = hooks.exited.lock().unwrap().clone();
    assert_eq!(exited, vec![(command.id.clone(), out.status)]);
}

fn tempdir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("berth-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn namespaced_sysctls_are_set_in_the_container_only() {
    let driver = driver();
    let host = std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start").unwrap();
    let mut command = shell(
        "sysctl",
        "cat /proc/sys/net/ipv4/ip_unprivileged_port_start /proc/sys/kernel/msgmax",
    );
    command
        .sysctls
        .insert("net.ipv4.ip_unprivileged_port_start".into(), "80".into());
    command
        .sysctls
        .insert("kernel.msgmax".into(), "4096".into());
    let out = run_output(&driver, &command).unwrap();
    assert_eq!(out.stdout, "80\n4096\n", "{out:?}");
    assert_eq!(
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start").unwrap(),
        host
    );
    // A key that is not namespaced is refused before anything starts.
    command.sysctls.insert("vm.swappiness".into(), "0".into());
    let err = run_output(&driver, &command).unwrap_err();
    assert!(err.to_string().contains("sysctls.vm.swappiness"), "{err}");
}
