//! The conformance suite (`berth-conformance`) against the LXC driver, with real LXC: the
//! same busybox programs and residue count as the native driver's fixture.

mod common;
#[path = "common/conformance.rs"]
mod linux;

use std::path::PathBuf;
use std::sync::Arc;

use linux::{Busybox, Fds};
use runtime_linux::{DriverOptions, LxcDriver};

fn main() {
    let Some((driver, root, parent)) = lxc_driver() else {
        eprintln!("skipped: LXC is not installed (the test script installs it)");
        return;
    };
    let fixture = Arc::new(Busybox {
        name: "lxc (Rust API)",
        driver,
        as_driver: |driver| driver,
        rootfs: common::rootfs().to_string(),
        root: root.clone(),
        cgroup_parent: parent.clone(),
        fds: Fds::default(),
        lxc: true,
    });
    let report = berth_conformance::run_all(fixture.clone());
    match Arc::try_unwrap(fixture) {
        Ok(fixture) => drop(fixture),
        Err(_) => eprintln!("warning: a hung case still holds the driver"),
    }
    let _ = std::fs::remove_dir(&root);
    let _ = runtime_linux::cgroups::CgroupManager::detect()
        .and_then(|cgroups| cgroups.remove_parent_if_empty(&parent));
    let left = linux::left_after_driver(&root, &parent);
    report.assert_passed();
    assert!(left.is_empty(), "left behind by the driver: {left:?}");
}

fn lxc_driver() -> Option<(LxcDriver, PathBuf, String)> {
    let name = format!("berth-lxc-test-{}", std::process::id());
    let base = std::env::var_os("BERTH_TEST_STATE_ROOT")
        .filter(|dir| !dir.is_empty())
        .map_or_else(|| PathBuf::from("/run"), PathBuf::from);
    let root = base.join(&name);
    let driver = LxcDriver::new(DriverOptions {
        root: Some(root.clone()),
        helper_path: Some(PathBuf::from(env!("CARGO_BIN_EXE_berth-init"))),
        cgroup_parent: Some(name.clone()),
        ..DriverOptions::default()
    });
    match driver {
        Ok(driver) => Some((driver, root, name)),
        Err(error) if error.kind() == runtime_core::ErrorKind::Unsupported => None,
        Err(error) => panic!("LxcDriver::new: {error}"),
    }
}
