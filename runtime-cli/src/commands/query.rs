//! `state`, `list`, `ps` and `events`: they look, and change nothing. `state` and `list`
//! read what is on disk and in `/proc` without opening a driver, so they never take a
//! container over.

use std::time::{Duration, Instant};

use runtime_core::{Stats, Status};
use runtime_linux::cgroups::{CgroupManager, ContainerCgroup};
use serde_json::{json, Value};

use super::parse;
use crate::args::{switch, value, Flag};
use crate::context::{one_id, Context};
use crate::error::{CliError, CliResult, Step};
use crate::state::{self, OciState};
use crate::store::not_exist;

pub fn state(ctx: &Context, args: &[String]) -> CliResult<()> {
    let parsed = parse("state", args, &[])?;
    let id = one_id("state", &parsed.positional)?;
    // Read without the lock, as runc reads it: a long operation on the container must not
    // hold up a shim that asks how it is.
    let meta = ctx.root.peek_meta(id).map_err(|_| not_exist(id))?;
    let (status, pid) = state::current(&ctx.root.path().join(id).join("driver"), id)?;
    let state = OciState::new(&meta, status, pid);
    println!(
        "{}",
        serde_json::to_string_pretty(&state).step(|| "encode the state".to_string())?
    );
    Ok(())
}

const LIST_FLAGS: &[Flag] = &[value(&["format", "f"]), switch(&["quiet", "q"])];

pub fn list(ctx: &Context, args: &[String]) -> CliResult<()> {
    let parsed = parse("list", args, LIST_FLAGS)?;
    let mut states = Vec::new();
    for id in ctx.root.ids() {
        // A container being deleted right now may vanish between the listing and the read.
        let Ok(meta) = ctx.root.peek_meta(&id) else {
            continue;
        };
        let (status, pid) = state::current(&ctx.root.path().join(&id).join("driver"), &id)?;
        states.push(OciState::new(&meta, status, pid));
    }
    if parsed.is_set("quiet") {
        for state in &states {
            println!("{}", state.id);
        }
        return Ok(());
    }
    match parsed.get("format").unwrap_or("table") {
        "json" => println!(
            "{}",
            serde_json::to_string(&states).step(|| "encode the list".to_string())?
        ),
        "table" => print!("{}", table(&states)),
        other => {
            return Err(CliError::new(format!(
                "list: invalid --format {other:?}: expected table or json"
            )))
        }
    }
    Ok(())
}

/// runc's table: ID, PID, STATUS, BUNDLE, CREATED, OWNER, in columns.
fn table(states: &[OciState]) -> String {
    let mut rows = vec![["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"].map(String::from)];
    for s in states {
        rows.push([
            s.id.clone(),
            s.pid.to_string(),
            s.status.clone(),
            s.bundle.clone(),
            s.created.clone(),
            if s.owner.is_empty() {
                "root".into()
            } else {
                s.owner.clone()
            },
        ]);
    }
    let widths: Vec<usize> = (0..6)
        .map(|c| rows.iter().map(|r| r[c].len()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in rows {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        out.push_str(line.join("   ").trim_end());
        out.push('\n');
    }
    out
}

/// The container's cgroup, found from its state without a driver.
fn cgroup_of(ctx: &Context, id: &str) -> CliResult<(Status, ContainerCgroup)> {
    let locked = ctx.root.open_container(id)?;
    let driver_root = locked.driver_root();
    let state = runtime_linux::peek::container_state(&driver_root, id)?
        .filter(|s| s.status != Status::Stopped)
        .ok_or_else(|| CliError::new(format!("container {id} is not running")))?;
    let manager = CgroupManager::detect()?;
    let (parent, name) = state
        .cgroup_path
        .rsplit_once('/')
        .unwrap_or(("", state.cgroup_path.as_str()));
    Ok((state.status, manager.open(parent, name)))
}

const PS_FLAGS: &[Flag] = &[value(&["format", "f"])];

pub fn ps(ctx: &Context, args: &[String]) -> CliResult<()> {
    let parsed = parse("ps", args, PS_FLAGS)?;
    let id = one_id("ps", &parsed.positional)?;
    let (_, cgroup) = cgroup_of(ctx, id)?;
    let mut pids = cgroup.pids()?;
    pids.sort_unstable();
    match parsed.get("format").unwrap_or("table") {
        "json" => {
            println!("{}", json!(pids));
            Ok(())
        }
        "table" => {
            let ps_args: Vec<String> = match &parsed.positional[1..] {
                [] => vec!["-ef".into()],
                given => given.to_vec(),
            };
            let output = std::process::Command::new("ps")
                .args(&ps_args)
                .output()
                .step(|| format!("run ps {}", ps_args.join(" ")))?;
            if !output.status.success() {
                return Err(CliError::new(format!(
                    "ps {}: {}",
                    ps_args.join(" "),
                    String::from_utf8_lossy(&output.stderr).trim()
                )));
            }
            print!(
                "{}",
                filter_ps(&String::from_utf8_lossy(&output.stdout), &pids)?
            );
            Ok(())
        }
        other => Err(CliError::new(format!(
            "ps: invalid --format {other:?}: expected table or json"
        ))),
    }
}

/// The header of `ps`'s output and the lines whose PID column is one of `pids`.
fn filter_ps(output: &str, pids: &[i32]) -> CliResult<String> {
    let mut lines = output.lines();
    let header = lines.next().unwrap_or_default();
    let column = header
        .split_whitespace()
        .position(|h| h == "PID")
        .ok_or_else(|| CliError::new("ps: its output has no PID column"))?;
    let mut out = format!("{header}\n");
    for line in lines {
        let pid = line
            .split_whitespace()
            .nth(column)
            .and_then(|p| p.parse::<i32>().ok());
        if pid.is_some_and(|pid| pids.contains(&pid)) {
            out.push_str(line);
            out.push('\n');
        }
    }
    Ok(out)
}

const EVENTS_FLAGS: &[Flag] = &[value(&["interval"]), switch(&["stats"])];

pub fn events(ctx: &Context, args: &[String]) -> CliResult<()> {
    let parsed = parse("events", args, EVENTS_FLAGS)?;
    let id = one_id("events", &parsed.positional)?;
    let interval = match parsed.get("interval") {
        Some(text) => parse_duration(text)?,
        None => Duration::from_secs(5),
    };
    let (_, cgroup) = cgroup_of(ctx, id)?;
    if parsed.is_set("stats") {
        println!("{}", stats_event(id, &cgroup.stats()?));
        return Ok(());
    }
    // Stats every interval and an `oom` event as soon as the kernel's OOM-kill count rises,
    // until the container stops.
    let mut ooms = cgroup.oom_kill_count().unwrap_or(0);
    let mut next_stats = Instant::now();
    loop {
        // The OOM count first: the kill that ends the container is reported before its end.
        let now_ooms = cgroup.oom_kill_count().unwrap_or(ooms);
        if now_ooms > ooms {
            println!("{}", json!({"type": "oom", "id": id}));
            ooms = now_ooms;
        }
        let (status, _) = state::current(&ctx.root.path().join(id).join("driver"), id)?;
        if status == Status::Stopped || !cgroup.exists() {
            return Ok(());
        }
        if Instant::now() >= next_stats {
            if let Ok(stats) = cgroup.stats() {
                println!("{}", stats_event(id, &stats));
            }
            next_stats = Instant::now() + interval;
        }
        std::thread::sleep(Duration::from_millis(100).min(interval));
    }
}

/// A `stats` event with runc's field names (`runc events --stats`).
fn stats_event(id: &str, stats: &Stats) -> Value {
    json!({
        "type": "stats",
        "id": id,
        "data": {
            "cpu": {
                "usage": {
                    "total": stats.cpu.total_ns.unwrap_or(0),
                    "user": stats.cpu.user_ns.unwrap_or(0),
                    "kernel": stats.cpu.system_ns.unwrap_or(0),
                },
                "throttling": {
                    "throttledPeriods": stats.cpu.throttled_periods.unwrap_or(0),
                    "throttledTime": stats.cpu.throttled_ns.unwrap_or(0),
                },
            },
            "memory": {
                "usage": {
                    "usage": stats.memory.usage.unwrap_or(0),
                    "max": stats.memory.max_usage.unwrap_or(0),
                    "limit": stats.memory.limit.unwrap_or(0),
                },
                "cache": stats.memory.cache.unwrap_or(0),
                "raw": {"rss": stats.memory.rss.unwrap_or(0)},
            },
            "pids": serde_json::to_value(&stats.pids).unwrap_or(Value::Null),
            "blkio": serde_json::to_value(&stats.io).unwrap_or(Value::Null),
        }
    })
}

/// Go's duration syntax for `--interval`: `5s`, `100ms`, `1m`.
fn parse_duration(text: &str) -> CliResult<Duration> {
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| CliError::new(format!("--interval {text:?}: not a duration")))?;
    let seconds = match unit {
        "ns" => number / 1e9,
        "us" | "µs" => number / 1e6,
        "ms" => number / 1e3,
        "s" | "" => number,
        "m" => number * 60.0,
        "h" => number * 3600.0,
        _ => return Err(CliError::new(format!("--interval {text:?}: unknown unit"))),
    };
    if seconds <= 0.0 {
        return Err(CliError::new(format!(
            "--interval {text:?}: must be positive"
        )));
    }
    Ok(Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ps_output_is_filtered_by_the_pid_column() {
        let output = "UID PID PPID C STIME TTY TIME CMD\nroot 1 0 0 10:00 ? 00:00:01 init\nroot 42 1 0 10:00 ? 00:00:00 sh\n";
        assert_eq!(
            filter_ps(output, &[42]).unwrap(),
            "UID PID PPID C STIME TTY TIME CMD\nroot 42 1 0 10:00 ? 00:00:00 sh\n"
        );
        assert!(filter_ps("A B\n", &[1]).is_err());
    }

    #[test]
    fn durations_read_as_go_writes_them() {
        assert_eq!(parse_duration("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("1m").unwrap(), Duration::from_secs(60));
        assert!(parse_duration("x").is_err());
        assert!(parse_duration("0s").is_err());
    }
}
