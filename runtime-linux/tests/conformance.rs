//! The conformance suite (`berth-conformance`) against the native driver through its Rust API:
//! busybox programs in the test rootfs, a driver with its own state root and cgroup parent.

mod common;
#[path = "common/conformance.rs"]
mod linux;

use std::path::PathBuf;
use std::sync::Arc;

use linux::{Busybox, Fds};

fn main() {
    let driver = common::driver();
    let (root, parent): (PathBuf, String) = (driver.root.clone(), driver.cgroup_parent.clone());
    let fixture = Arc::new(Busybox {
        name: "native (Rust API)",
        driver,
        as_driver: |driver| &driver.driver,
        rootfs: common::rootfs().to_string(),
        root: root.clone(),
        cgroup_parent: parent.clone(),
        fds: Fds::default(),
        lxc: false,
    });
    let report = berth_conformance::run_all(fixture.clone());
    // The driver goes (its containers, threads, state root and cgroup parent with it) before
    // the verdict, so that a failure still cleans up.
    match Arc::try_unwrap(fixture) {
        Ok(fixture) => drop(fixture),
        Err(_) => eprintln!("warning: a hung case still holds the driver"),
    }
    let left = linux::left_after_driver(&root, &parent);
    if !left.is_empty() {
        eprintln!("left behind by the driver: {left:?}");
    }
    report.assert_passed();
    assert!(left.is_empty(), "left behind by the driver: {left:?}");
}
