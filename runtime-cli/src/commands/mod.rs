//! One module per group of commands: the container's life (`create`, `start`, `run`,
//! `delete`), looking at it (`state`, `list`, `ps`, `events`), acting on it (`kill`, `pause`,
//! `resume`, `update`), `exec`, and what needs no container (`features`, `spec`, `--version`).

pub mod control;
pub mod exec;
pub mod info;
pub mod lifecycle;
pub mod query;

use crate::args::{self, Flag, Parsed};
use crate::error::{CliError, CliResult};

/// Parses a command's flags, with the command's name in the error.
pub fn parse(command: &str, args: &[String], flags: &[Flag]) -> CliResult<Parsed> {
    args::parse(args, flags).map_err(|message| CliError::new(format!("{command}: {message}")))
}

/// Logs, as runc warns, the capabilities of `process` that berth leaves out (one this kernel
/// does not know, one berth does not hold in the bounding or ambient set, an ambient one not
/// in both permitted and inheritable). What is refused instead, the driver reports.
pub fn warn_skipped_capabilities(process: &runtime_core::ProcessConfig) {
    let skipped = runtime_linux::security::caps::ProcessCapabilities::skipped(process, "process");
    if let Ok(skipped) = skipped {
        if !skipped.is_empty() {
            crate::log::warn(&format!(
                "ignoring unknown or unavailable capabilities: {}",
                skipped.join("; ")
            ));
        }
    }
}
