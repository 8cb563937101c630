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

/// Logs the capabilities of `process` that berth leaves out, as runc does: one this kernel
/// does not know is a warning ("ignoring unknown or unavailable capabilities"); one berth
/// does not hold in the bounding or ambient set, or an ambient one not in both permitted
/// and inheritable (`runc spec`'s own config has three), only with `--debug`, since runc
/// says nothing of them. What is refused instead, the driver reports.
pub fn warn_skipped_capabilities(process: &runtime_core::ProcessConfig) {
    let skipped = runtime_linux::security::caps::ProcessCapabilities::skipped(process, "process");
    let Ok(skipped) = skipped else { return };
    let (unknown, other): (Vec<String>, Vec<String>) = skipped
        .into_iter()
        .partition(|s| s.contains("not known to this kernel"));
    if !unknown.is_empty() {
        crate::log::warn(&format!(
            "ignoring unknown or unavailable capabilities: {}",
            unknown.join("; ")
        ));
    }
    if !other.is_empty() {
        crate::log::debug(&format!("capabilities left out: {}", other.join("; ")));
    }
}
