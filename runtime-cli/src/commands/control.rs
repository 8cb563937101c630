//! `kill`, `pause`, `resume` and `update`: each opens the container's driver, which takes
//! the container back, and asks it one thing.

use std::io::Read;
use std::str::FromStr;

use nix::sys::signal::Signal;
use runtime_core::{Driver, Resources, Status};

use super::parse;
use crate::args::{switch, value, Flag};
use crate::context::{one_id, Context};
use crate::error::{CliError, CliResult, Step};
use crate::state;

/// A signal by number (`9`) or name (`KILL`, `SIGKILL`, `sigkill`).
pub fn parse_signal(text: &str) -> CliResult<i32> {
    if let Ok(number) = text.parse::<i32>() {
        return if (1..=64).contains(&number) {
            Ok(number)
        } else {
            Err(CliError::new(format!(
                "invalid signal {text}: out of range 1-64"
            )))
        };
    }
    let upper = text.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    if let Some(offset) = name.strip_prefix("SIGRTMIN") {
        let offset = if offset.is_empty() {
            Ok(0)
        } else {
            offset.trim_start_matches('+').parse::<i32>()
        };
        if let Ok(offset) = offset {
            let number = libc::SIGRTMIN() + offset;
            if number <= libc::SIGRTMAX() {
                return Ok(number);
            }
        }
    }
    Signal::from_str(&name)
        .map(|s| s as i32)
        .map_err(|_| CliError::new(format!("invalid signal {text:?}")))
}

const KILL_FLAGS: &[Flag] = &[switch(&["all", "a"])];

pub fn kill(ctx: &Context, args: &[String]) -> CliResult<()> {
    let parsed = parse("kill", args, KILL_FLAGS)?;
    let id = one_id("kill", &parsed.positional)?;
    let signal = match parsed.positional.get(1) {
        Some(text) => parse_signal(text)?,
        None => libc::SIGTERM,
    };
    let locked = ctx.root.open_container(id)?;
    let (status, _) = state::current(&locked.driver_root(), id)?;
    if status == Status::Stopped {
        return Err(CliError::new(format!("container {id} is not running")));
    }
    let driver = ctx.driver(&locked)?;
    driver
        .kill(id, signal, parsed.is_set("all"))
        .map_err(|e| CliError::new(format!("kill container {id}: {e}")))
}

pub fn pause(ctx: &Context, args: &[String]) -> CliResult<()> {
    let parsed = parse("pause", args, &[])?;
    let id = one_id("pause", &parsed.positional)?;
    let locked = ctx.root.open_container(id)?;
    let driver = ctx.driver(&locked)?;
    driver
        .pause(id)
        .map_err(|e| CliError::new(format!("pause container {id}: {e}")))
}

pub fn resume(ctx: &Context, args: &[String]) -> CliResult<()> {
    let parsed = parse("resume", args, &[])?;
    let id = one_id("resume", &parsed.positional)?;
    let locked = ctx.root.open_container(id)?;
    let driver = ctx.driver(&locked)?;
    driver
        .resume(id)
        .map_err(|e| CliError::new(format!("resume container {id}: {e}")))
}

const UPDATE_FLAGS: &[Flag] = &[
    value(&["resources", "r"]),
    value(&["memory"]),
    value(&["memory-reservation"]),
    value(&["memory-swap"]),
    value(&["cpu-shares"]),
    value(&["cpu-quota"]),
    value(&["cpu-period"]),
    value(&["cpuset-cpus"]),
    value(&["cpuset-mems"]),
    value(&["pids-limit"]),
    value(&["blkio-weight"]),
];

pub fn update(ctx: &Context, args: &[String]) -> CliResult<()> {
    let parsed = parse("update", args, UPDATE_FLAGS)?;
    let id = one_id("update", &parsed.positional)?;
    let mut resources = match parsed.get("resources") {
        Some(source) => {
            let text = if source == "-" {
                let mut text = String::new();
                std::io::stdin()
                    .read_to_string(&mut text)
                    .step(|| "read the resources from stdin".to_string())?;
                text
            } else {
                std::fs::read_to_string(source).step(|| format!("read {source}"))?
            };
            runtime_oci::resources_from_json(&text)
                .and_then(|resources| runtime_oci::resources_from_oci(&resources))
                .map_err(|e| CliError::new(format!("--resources {source}: {e}")))?
        }
        None => Resources::default(),
    };
    apply_flags(&parsed, &mut resources)?;
    let locked = ctx.root.open_container(id)?;
    let driver = ctx.driver(&locked)?;
    driver
        .update(id, &resources)
        .map_err(|e| CliError::new(format!("update container {id}: {e}")))
}

/// runc's single-value flags, over what `--resources` gave.
fn apply_flags(parsed: &crate::args::Parsed, r: &mut Resources) -> CliResult<()> {
    fn number<T: FromStr>(flag: &str, text: &str) -> CliResult<T> {
        text.parse()
            .map_err(|_| CliError::new(format!("update: --{flag} {text:?}: not a number")))
    }
    if let Some(v) = parsed.get("memory") {
        r.memory_limit = Some(bytes("memory", v)?);
    }
    if let Some(v) = parsed.get("memory-reservation") {
        r.memory_reservation = Some(bytes("memory-reservation", v)?);
    }
    if let Some(v) = parsed.get("memory-swap") {
        r.memory_swap = Some(bytes("memory-swap", v)?);
    }
    if let Some(v) = parsed.get("cpu-shares") {
        r.cpu_shares = Some(number("cpu-shares", v)?);
    }
    if let Some(v) = parsed.get("cpu-quota") {
        r.cpu_quota = Some(number("cpu-quota", v)?);
    }
    if let Some(v) = parsed.get("cpu-period") {
        r.cpu_period = Some(number("cpu-period", v)?);
    }
    if let Some(v) = parsed.get("cpuset-cpus") {
        r.cpuset_cpus = Some(v.to_string());
    }
    if let Some(v) = parsed.get("cpuset-mems") {
        r.cpuset_mems = Some(v.to_string());
    }
    if let Some(v) = parsed.get("pids-limit") {
        r.pids_limit = Some(number("pids-limit", v)?);
    }
    if let Some(v) = parsed.get("blkio-weight") {
        r.blkio_weight = Some(number("blkio-weight", v)?);
    }
    Ok(())
}

/// A size as runc's flags take it: bytes, or with a unit (`64m`, `1G`, `512k`); `-1` is
/// unlimited.
fn bytes(flag: &str, text: &str) -> CliResult<i64> {
    if text == "-1" {
        return Ok(-1);
    }
    let lower = text.to_ascii_lowercase();
    let trimmed = lower.trim_end_matches('b');
    let (digits, scale) = match trimmed.chars().last() {
        Some('k') => (&trimmed[..trimmed.len() - 1], 1i64 << 10),
        Some('m') => (&trimmed[..trimmed.len() - 1], 1 << 20),
        Some('g') => (&trimmed[..trimmed.len() - 1], 1 << 30),
        Some('t') => (&trimmed[..trimmed.len() - 1], 1 << 40),
        _ => (trimmed, 1),
    };
    digits
        .parse::<i64>()
        .ok()
        .and_then(|n| n.checked_mul(scale))
        .ok_or_else(|| CliError::new(format!("update: --{flag} {text:?}: not a size")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_by_name_and_number() {
        assert_eq!(parse_signal("9").unwrap(), 9);
        assert_eq!(parse_signal("KILL").unwrap(), 9);
        assert_eq!(parse_signal("SIGTERM").unwrap(), 15);
        assert_eq!(parse_signal("sigusr1").unwrap(), libc::SIGUSR1);
        assert_eq!(parse_signal("RTMIN+2").unwrap(), libc::SIGRTMIN() + 2);
        assert!(parse_signal("0").is_err());
        assert!(parse_signal("NOPE").is_err());
    }

    #[test]
    fn sizes_take_units() {
        assert_eq!(bytes("m", "64m").unwrap(), 64 << 20);
        assert_eq!(bytes("m", "1G").unwrap(), 1 << 30);
        assert_eq!(bytes("m", "4096").unwrap(), 4096);
        assert_eq!(bytes("m", "-1").unwrap(), -1);
        assert!(bytes("m", "lots").is_err());
    }
}
