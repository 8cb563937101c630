//! `berth-run COMMAND.json`: runs one container with berth and exits with its code, the way
//! `runc run` and `crun run` do. The benchmark's process-based berth measurement: a process
//! start, a driver, one `Driver::run`, and the driver's teardown.
//!
//! The driver state goes under /run/berth-bench and the cgroup under the command's
//! `cgroup_parent`; `berth-init` is found beside this program.

#![deny(unsafe_code)]

use std::sync::Arc;

use runtime_core::{Command, Driver, NoHooks, Stdio};
use runtime_linux::{DriverOptions, LinuxDriver};

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(path), None) = (args.next(), args.next()) else {
        eprintln!("usage: berth-run COMMAND.json");
        std::process::exit(2);
    };
    let code = match run(&path) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("berth-run: {message}");
            125
        }
    };
    std::process::exit(code);
}

fn run(path: &str) -> Result<i32, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let command = Command::from_json(&text).map_err(|e| e.to_string())?;
    let driver = LinuxDriver::new(DriverOptions {
        root: Some("/run/berth-bench".into()),
        helper_path: None,
        ..DriverOptions::default()
    })
    .map_err(|e| e.to_string())?;
    let status = driver
        .run(
            &command,
            &Stdio {
                stdin: Some(0),
                stdout: Some(1),
                stderr: Some(2),
                extra: Vec::new(),
            },
            Arc::new(NoHooks),
        )
        .map_err(|e| e.to_string())?;
    // A Linux exit code is 0 to 255; -1 (an exit berth could not see) becomes 255.
    Ok(i32::try_from(status.code).unwrap_or(255))
}
