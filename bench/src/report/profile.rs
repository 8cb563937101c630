//! The values of "Where berth's time goes": the steps of a run, CPU against wall clock, the
//! system-call traces and the CPU profiles.

use super::tables::{median_of, outcome_note, table};
use super::template::Values;
use crate::measure::find;
use crate::measure::profile::{Profile, TraceRow};
use crate::util::ms;
use crate::Results;

pub fn profile(v: &mut Values, r: &Results) {
    v.text("profile.outcome", outcome_note(&r.profile));
    v.flag("profile", r.profile.done().is_some());
    let Some(p) = r.profile.done() else { return };
    v.text("profile.iterations", p.iterations.to_string());
    v.text("profile.phases", phase_table(p));
    v.text(
        "profile.helper_mb",
        format!("{:.1}", p.helper_bytes as f64 / 1e6),
    );
    v.text("profile.driver_new_ms", ms(p.driver_new.median));
    v.text("profile.driver_drop_ms", ms(p.driver_drop.median));
    v.text("profile.driver_new_p90", ms(p.driver_new.p90));
    v.text("profile.driver_drop_p90", ms(p.driver_drop.p90));
    v.text("profile.ffi_driver_new_ms", ms(p.ffi_driver_new.median));
    v.text("profile.ffi_driver_free_ms", ms(p.ffi_driver_free.median));
    v.text("profile.first_run_ms", ms(p.first_run.median));
    v.text("profile.next_runs_ms", ms(p.next_runs.median));
    v.text("profile.first_drivers", p.first_run.n.to_string());
    v.text("profile.cli_runs", p.cli_runs.to_string());
    v.flag("profile.cli", !p.cli_steps.is_empty());
    v.text(
        "profile.cli_missing",
        p.cli_note.clone().unwrap_or_else(|| "not measured".into()),
    );
    v.text("profile.cli_steps", cli_table(p));
    cpu(v, r);
    trace(v, p);
    perf(v, p);
}

fn phase_table(p: &Profile) -> String {
    let total: f64 = p.phases.iter().map(|(_, s)| s.median).sum();
    let rows: Vec<Vec<String>> = p
        .phases
        .iter()
        .map(|(name, s)| {
            let what = match name.as_str() {
                "create" => "checks, state dir, cgroup with its limits, posix_spawn of berth-init, the plan over the socket, setns/clone3 in the helper, the init's mounts, pivot_root and setup up to *ready*, the supervisor watches",
                "start" => "the start message; the init execs (its close-on-exec socket end tells the host); on_start",
                "wait" => "the program runs and exits; the supervisor sees the pidfd, reaps, empties and removes the cgroup, on_exit",
                _ => "forget the container, remove its state dir",
            };
            vec![
                name.clone(),
                format!("**{}**", ms(s.median)),
                ms(s.p10),
                ms(s.p90),
                format!("{:.0}%", s.median / total * 100.0),
                what.into(),
            ]
        })
        .collect();
    table(
        &["step", "median ms", "p10", "p90", "share", "what happens"],
        &rows,
    )
}

/// CPU against wall clock, from the run latency measure.
fn cpu(v: &mut Values, r: &Results) {
    let run = r.run.done();
    let lib = run.and_then(|run| find(&run.series, "berth-lib").filter(|s| s.wall.n > 0));
    v.flag("cpu", lib.is_some());
    let (Some(run), Some(lib)) = (run, lib) else {
        return;
    };
    let cpu_of = |key: &str| find(&run.series, key).map_or("–".into(), |s| ms(s.cpu.median));
    v.text("cpu.berth_wall", ms(lib.wall.median));
    v.text("cpu.berth_cpu", ms(lib.cpu.median));
    v.text("cpu.crun_wall", ms(median_of(&run.series, "crun")));
    v.text("cpu.crun_cpu", cpu_of("crun"));
    v.text("cpu.runc_wall", ms(median_of(&run.series, "runc")));
    v.text("cpu.runc_cpu", cpu_of("runc"));
}

/// What a process name in the trace is.
fn who(comm: &str) -> &str {
    match comm {
        "berth-bench" => "host: the calling thread",
        "berth-supervise" => "host: supervisor thread",
        "berth-events" => "host: event worker",
        "berth-init" => "berth-init (the helper)",
        "true" => "container init, then `true`",
        other => other,
    }
}

/// The driver's threads waiting for work: time that is not on any run's path.
fn idle_wait(r: &TraceRow) -> bool {
    (r.comm == "berth-supervise" && r.syscall == "epoll_wait")
        || (r.comm == "berth-events" && r.syscall == "futex")
}

fn trace(v: &mut Values, p: &Profile) {
    v.flag("trace", !p.trace.is_empty());
    v.text("trace.note", p.trace_note.clone().unwrap_or_default());
    v.text("trace.runs", p.trace_runs.to_string());
    let tables: Vec<String> = p
        .trace
        .iter()
        .map(|(background, rows)| {
            let shown: Vec<Vec<String>> = rows
                .iter()
                .filter(|r| r.ms_per_run >= 0.05 && !idle_wait(r))
                .take(24)
                .map(|r| {
                    vec![
                        who(&r.comm).to_string(),
                        format!("`{}`", r.syscall),
                        format!("{:.1}", r.calls_per_run),
                        format!("**{}**", ms(r.ms_per_run)),
                        ms(r.max_ms),
                    ]
                })
                .collect();
            format!(
                "**With {background} other container(s) sleeping:**\n\n{}",
                table(
                    &[
                        "process",
                        "system call",
                        "calls / run",
                        "ms / run",
                        "longest call, ms"
                    ],
                    &shown
                )
            )
        })
        .collect();
    v.text("trace.tables", tables.join("\n\n"));
    let (most, grown) = trace_growth(p);
    v.text("trace.most", most.to_string());
    v.text("trace.grown", grown);
}

/// The calls that grew most per run from the first trace to the last (the one with the most
/// containers sleeping), and that number of containers; empty with fewer than two traces.
fn trace_growth(p: &Profile) -> (usize, String) {
    let (Some((_, first)), Some((most, last))) = (p.trace.first(), p.trace.last()) else {
        return (0, String::new());
    };
    if p.trace.len() < 2 {
        return (*most, String::new());
    }
    let mut grown: Vec<(f64, String)> = last
        .iter()
        .filter(|r| !idle_wait(r))
        .map(|r| {
            let before = first
                .iter()
                .find(|f| f.comm == r.comm && f.syscall == r.syscall)
                .map_or(0.0, |f| f.ms_per_run);
            (
                r.ms_per_run - before,
                format!("{} `{}`", who(&r.comm), r.syscall),
            )
        })
        .filter(|(delta, _)| *delta >= 0.1)
        .collect();
    grown.sort_by(|a, b| b.0.total_cmp(&a.0));
    let list: Vec<String> = grown
        .iter()
        .take(8)
        .map(|(delta, what)| format!("{what} +{} ms", ms(*delta)))
        .collect();
    (*most, list.join(", "))
}

fn perf(v: &mut Values, p: &Profile) {
    v.flag("perf", !p.perf.is_empty());
    v.text("perf.runs", p.perf_runs.to_string());
    v.text("perf.note", p.perf_note.clone().unwrap_or_default());
    v.text(
        "perf.missing",
        p.perf_note
            .clone()
            .unwrap_or_else(|| "perf gave nothing".into()),
    );
    let profiles: Vec<String> = p
        .perf
        .iter()
        .map(|perf| {
            format!(
                "**With {} other container(s) sleeping.** Self time by process and binary:\n\n\
                 ```\n{}\n```\n\n\
                 Inclusive time (a function and what it calls), above 2.5%: the system calls \
                 and kernel paths of a run.\n\n```\n{}\n```",
                perf.background, perf.by_process, perf.by_function
            )
        })
        .collect();
    v.text("perf.profiles", profiles.join("\n\n"));
}

/// The steps of a wrapped `berth run`, with their shares.
fn cli_table(p: &Profile) -> String {
    let total: f64 = p.cli_steps.iter().map(|(_, s)| s.median).sum();
    let rows: Vec<Vec<String>> = p
        .cli_steps
        .iter()
        .map(|(name, s)| {
            let what = match name.as_str() {
                "wrapper" => "the wrapper: `unshare -m`, `sh`, `umount` of the cgroup2 mount, until berth's exec (crun and runc pay it too)",
                "start" => "berth's process start, the bundle's config.json read and mapped, the state root locked, the driver set up (cgroup layout, supervisor; the helper's sealed copy made by a thread of its own meanwhile), `create`'s checks, seccomp filter (from the cache), state dir, cgroups with their limits, until berth-init's exec",
                "helper" => "berth-init: the plan, the cgroup joins, clone3 of the init; the init's mounts, pivot_root and setup; ready; the start message, until the program's exec",
                "program" => "`/bin/true` runs and exits",
                _ => "berth: the exit seen and reaped, the cgroups removed, the container's state deleted, the driver dropped, until its exit",
            };
            vec![
                format!("`{name}`"),
                format!("**{}**", ms(s.median)),
                ms(s.p10),
                ms(s.p90),
                format!("{:.0}%", 100.0 * s.median / total),
                what.into(),
            ]
        })
        .collect();
    table(
        &["step", "median ms", "p10", "p90", "share", "what happens"],
        &rows,
    )
}
