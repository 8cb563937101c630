//! The conformance suite (`berth-conformance`) against the native driver through its Rust API:
//! busybox programs in the test rootfs, a driver with its own state root and cgroup parent.

mod common;
#[path = "common/conformance.rs"]
mod linux;

use std::io::{Read, Write};
use std::os::fd::RawFd;
use std::path::PathBuf;
use std::sync::Arc;

use berth_conformance::{Fixture, Program, Residue};
use linux::Fds;
use runtime_core::{Driver, ProcessConfig};

struct Native {
    driver: common::TestDriver,
    fds: Fds,
}

impl Fixture for Native {
    fn name(&self) -> String {
        "native (Rust API)".into()
    }
    fn driver(&self) -> &dyn Driver {
        &self.driver.driver
    }
    fn rootfs(&self) -> String {
        common::rootfs().to_string()
    }
    fn work_dir(&self) -> String {
        linux::WORK_DIR.into()
    }
    fn process(&self, program: &Program) -> ProcessConfig {
        linux::process(program)
    }
    fn pipe(&self) -> std::io::Result<(RawFd, RawFd)> {
        self.fds.pipe()
    }
    fn reader(&self, fd: RawFd) -> Box<dyn Read + Send> {
        self.fds.reader(fd)
    }
    fn writer(&self, fd: RawFd) -> Box<dyn Write + Send> {
        self.fds.writer(fd)
    }
    fn close(&self, fd: RawFd) {
        self.fds.close(fd)
    }
    fn residue(&self) -> Residue {
        linux::residue(&self.driver.root, &self.driver.cgroup_parent)
    }
}

fn main() {
    let driver = common::driver();
    let (root, parent): (PathBuf, String) = (driver.root.clone(), driver.cgroup_parent.clone());
    let fixture = Arc::new(Native {
        driver,
        fds: Fds::default(),
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
