//! The process path against a hostile container: the helper image cannot be written, and
//! nothing of the host leaks in.

mod common;

use std::sync::Arc;

use common::{driver, run_output, shell};
use runtime_core::{Driver, NamespaceMode, NoHooks, Stdio};

#[test]
fn the_image_of_an_init_in_flight_cannot_be_written_from_inside() {
    // CVE-2019-5736: a container overwrote the runtime through /proc/<pid>/exe of a runtime
    // process that had joined it. berth's in-flight processes run from a sealed memfd.
    let driver = driver();
    let helper = std::path::Path::new(env!("CARGO_BIN_EXE_berth-init"));
    let before = std::fs::read(helper).unwrap();

    let victim = shell("inflight", "true");
    let pid = driver
        .create(&victim, &Stdio::null(), Arc::new(NoHooks))
        .unwrap();
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap();
    assert!(
        exe.to_string_lossy().starts_with("/memfd:berth-init"),
        "{exe:?}"
    );
    // Not even the host's root can write it.
    let opened = std::fs::OpenOptions::new()
        .append(true)
        .open(format!("/proc/{pid}/exe"));
    assert!(opened.is_err(), "the init's image opened for writing");

    // An attacker sharing its pid namespace sees it as pid 1 and tries. With the default
    // capabilities it cannot even look: the init is non-dumpable and CAP_SYS_PTRACE is gone.
    let mut attacker = shell(
        "attacker",
        "readlink /proc/1/exe || echo hidden; echo pwned >> /proc/1/exe 2>/dev/null && echo WROTE || echo refused",
    );
    attacker.namespaces.pid = NamespaceMode::Container(victim.id.clone());
    let out = run_output(&driver, &attacker).unwrap();
    assert_eq!(out.stdout, "hidden\nrefused\n", "{out:?}");
    // Even with every capability, the image is sealed.
    attacker.id = format!("{}-privileged", attacker.id);
    attacker.process.privileged = true;
    let out = run_output(&driver, &attacker).unwrap();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(lines[0].starts_with("/memfd:berth-init"), "{out:?}");
    assert_eq!(lines[1], "refused", "{out:?}");

    driver.delete(&victim.id, true).unwrap();
    assert_eq!(
        std::fs::read(helper).unwrap(),
        before,
        "the helper on disk changed"
    );
}

#[test]
fn a_host_device_comes_with_exactly_the_access_asked_for() {
    let driver = driver();
    let device = common::LoopDevice::new();
    let disk = &device.path;
    // Opening for append writes nothing, even where it is allowed.
    let mut command = shell(
        "hostdev",
        &format!(
            "[ -b {disk} ] && echo node; head -c 512 {disk} | wc -c; \
             (: >> {disk}) 2>/dev/null && echo WRITABLE || echo read-only"
        ),
    );
    command.devices.push(runtime_core::HostDevice {
        path: disk.clone(),
        container_path: None,
        access: "r".into(),
    });
    let out = run_output(&driver, &command).unwrap();
    assert_eq!(out.stdout, "node\n512\nread-only\n", "{out:?}");
}

#[test]
fn privileged_allows_every_device() {
    let driver = driver();
    let device = common::LoopDevice::new();
    let (major, minor) = (device.major, device.minor);
    let script = format!(
        "mknod /tmp/disk-$$ b {major} {minor}; head -c 512 /tmp/disk-$$ | wc -c; rm /tmp/disk-$$"
    );
    let mut command = shell("privdev", &script);
    command.process.privileged = true;
    let out = run_output(&driver, &command).unwrap();
    assert_eq!(out.stdout, "512\n", "{out:?}");
    // The same without privileges: the node can be made, not read.
    let out = run_output(&driver, &shell("unprivdev", &script)).unwrap();
    assert_eq!(out.stdout, "0\n", "{out:?}");
}

#[test]
fn seccomp_takes_a_custom_profile_or_none() {
    let driver = driver();
    let script = "grep Seccomp: /proc/self/status | tr -d '\\t'; mkdir /tmp/seccomp-$$ 2>&1 && rmdir /tmp/seccomp-$$ && echo made";
    // The default: Docker's profile, in filter mode.
    let out = run_output(&driver, &shell("seccomp-default", script)).unwrap();
    assert_eq!(out.stdout, "Seccomp:2\nmade\n", "{out:?}");
    // A custom OCI profile: everything allowed but mkdir and mkdirat, which fail with EACCES.
    let profile: runtime_core::SeccompSetting = serde_json::from_str(
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}"#,
    )
    .unwrap();
    let mut command = shell("seccomp-custom", script);
    command.process.seccomp = Some(profile);
    let out = run_output(&driver, &command).unwrap();
    assert!(out.stdout.starts_with("Seccomp:2\n"), "{out:?}");
    assert!(
        out.stdout.contains("Permission denied") && !out.stdout.contains("made"),
        "{out:?}"
    );
    // Unconfined: no filter at all.
    let mut command = shell("seccomp-none", script);
    command.process.seccomp = Some(runtime_core::SeccompSetting::Unconfined);
    let out = run_output(&driver, &command).unwrap();
    assert_eq!(out.stdout, "Seccomp:0\nmade\n", "{out:?}");
    // A bad profile is refused before anything starts, naming the field.
    let mut command = shell("seccomp-bad", "true");
    command.process.seccomp =
        Some(serde_json::from_str(r#"{"defaultAction": "SCMP_ACT_SOMETIMES"}"#).unwrap());
    let err = run_output(&driver, &command).unwrap_err();
    assert!(err.to_string().contains("process.seccomp"), "{err}");
}
