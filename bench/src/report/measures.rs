//! The values of measures 1 to 5: run and exec latency, throughput, idle cost, OOM.

use super::tables::{kib, median_of, outcome_note, ratio_table, series_table, table};
use super::template::Values;
use crate::chart::Charts;
use crate::util::{ms, ratio, Summary};
use crate::Results;

pub fn run(v: &mut Values, r: &Results, charts: &Charts) {
    v.text("run.outcome", outcome_note(&r.run));
    v.flag("run", r.run.done().is_some());
    let Some(run) = r.run.done() else { return };
    v.text("run.series", series_table(&run.series));
    v.text(
        "run.ratios",
        ratio_table(
            &run.series,
            &[
                ("berth-lib", "berth, Rust API"),
                ("berth-ffi", "berth, C ABI"),
                ("berth-cli", "berth, as a process (wrapped, like them)"),
            ],
            median_of(&run.series, "wrapper"),
        ),
    );
    let floor = median_of(&run.series, "floor");
    v.text("run.floor_ms", ms(floor));
    v.text(
        "run.lib_over_floor",
        ratio(median_of(&run.series, "berth-lib") / floor),
    );
    v.text("run.chart", charts.run_latency.clone().unwrap_or_default());
}

pub fn exec(v: &mut Values, r: &Results) {
    v.text("exec.outcome", outcome_note(&r.exec));
    v.flag("exec", r.exec.done().is_some());
    let Some(exec) = r.exec.done() else { return };
    v.text("exec.series", series_table(&exec.series));
    let wrapper = r
        .run
        .done()
        .map_or(0.0, |run| median_of(&run.series, "wrapper"));
    v.text(
        "exec.ratios",
        ratio_table(
            &exec.series,
            &[
                ("berth-lib", "berth, Rust API"),
                ("berth-ffi", "berth, C ABI"),
            ],
            wrapper,
        ),
    );
}

pub fn throughput(v: &mut Values, r: &Results) {
    v.text("throughput.outcome", outcome_note(&r.throughput));
    v.flag("throughput", r.throughput.done().is_some());
    let Some(t) = r.throughput.done() else { return };
    v.text("throughput.containers", t.containers.to_string());
    v.text("throughput.repetitions", t.repetitions.to_string());
    let cell = |runtime: &str, c: usize| -> (String, f64) {
        match t.cell(runtime, c) {
            Some(cell) if cell.error.is_none() && cell.summary.n > 0 => {
                let text = if cell.summary.n > 1 {
                    format!(
                        "**{:.1}** ({:.1}–{:.1})",
                        cell.summary.median, cell.summary.min, cell.summary.max
                    )
                } else {
                    format!("**{:.1}**", cell.summary.median)
                };
                (text, cell.summary.median)
            }
            Some(cell) => (
                format!("failed: {}", cell.error.clone().unwrap_or_default()),
                f64::NAN,
            ),
            None => ("–".into(), f64::NAN),
        }
    };
    let rows: Vec<Vec<String>> = t
        .callers
        .iter()
        .map(|&c| {
            let (b, bv) = cell("berth-lib", c);
            let (cr, cv) = cell("crun", c);
            let (rn, rv) = cell("runc", c);
            vec![c.to_string(), b, cr, rn, ratio(bv / cv), ratio(bv / rv)]
        })
        .collect();
    v.text(
        "throughput.table",
        table(
            &[
                "callers",
                "berth (Rust API) /s",
                "crun /s",
                "runc /s",
                "berth / crun",
                "berth / runc",
            ],
            &rows,
        ),
    );
}

pub fn idle(v: &mut Values, r: &Results, charts: &Charts) {
    v.text("idle.outcome", outcome_note(&r.idle));
    v.flag("idle", r.idle.done().is_some());
    let Some(idle) = r.idle.done() else { return };
    v.text(
        "idle.settle_s",
        format!("{:.1}", crate::measure::idle::SETTLE.as_secs_f64()),
    );
    v.text("idle.samples", idle.samples.to_string());
    v.text("idle.table", idle_table(idle));
    let helpers: Vec<String> = idle
        .rows
        .iter()
        .flat_map(|r| {
            r.helper_names
                .iter()
                .map(move |n| format!("{} at {}: `{n}`", r.runtime, r.containers))
        })
        .take(10)
        .collect();
    v.text("idle.helpers", helpers.join("; "));
    let phase_rows: Vec<Vec<String>> = idle
        .rows
        .iter()
        .filter(|r| r.runtime == "berth-lib" && !r.run_phases.is_empty())
        .map(|r| {
            let mut row = vec![r.containers.to_string()];
            row.extend(r.run_phases.iter().map(|(_, v)| ms(*v)));
            row.push(ms(r.run.median));
            row
        })
        .collect();
    v.text(
        "idle.phases",
        if phase_rows.is_empty() {
            String::new()
        } else {
            table(
                &["N", "create", "start", "wait", "delete", "total"],
                &phase_rows,
            )
        },
    );
    v.text("idle.chart", charts.scale.clone().unwrap_or_default());
}

fn idle_table(idle: &crate::measure::idle::Idle) -> String {
    let mut rows = Vec::new();
    for &size in &idle.sizes {
        for runtime in ["berth-lib", "crun", "runc"] {
            let Some(row) = idle.row(runtime, size) else {
                continue;
            };
            if let Some(e) = &row.error {
                let mut failed = vec![size.to_string(), runtime.into(), format!("failed: {e}")];
                failed.resize(13, String::new());
                rows.push(failed);
                continue;
            }
            let exec = match (&row.exec, &row.exec_note) {
                (Some(e), _) if e.n > 0 => {
                    format!("{} ({}–{})", ms(e.median), ms(e.p10), ms(e.p90))
                }
                (_, Some(note)) => note.clone(),
                _ => "–".into(),
            };
            rows.push(vec![
                size.to_string(),
                runtime.into(),
                format!("{:.0}", row.start_all_ms),
                format!("**{}**", kib(row.host_memory_per_container())),
                kib(row.rss_per_container),
                kib(row.heap_per_container),
                format!("**{}**", row.host_threads),
                format!("{:.2}", row.fds_per_container),
                format!("**{}**", row.helper_processes),
                kib(row.state_bytes_per_container),
                kib(row.cgroup_bytes_per_container),
                format!(
                    "{} ({}–{})",
                    ms(row.run.median),
                    ms(row.run.p10),
                    ms(row.run.p90)
                ),
                exec,
            ]);
        }
    }
    table(
        &[
            "N",
            "runtime",
            "start all, ms",
            "host memory / container",
            "caller RSS / container",
            "caller malloc'd / container",
            "host threads",
            "fds / container",
            "host processes besides containers",
            "state / container",
            "cgroup memory / container",
            "one more run, ms",
            "one exec, ms",
        ],
        &rows,
    )
}

pub fn oom(v: &mut Values, r: &Results) {
    v.text("oom.outcome", outcome_note(&r.oom));
    v.flag("oom", r.oom.done().is_some());
    let Some(o) = r.oom.done() else { return };
    v.text("oom.iterations", o.iterations.to_string());
    v.text(
        "oom.limit_mib",
        (crate::measure::oom::OOM_LIMIT >> 20).to_string(),
    );
    v.text("oom.program", crate::measure::oom::OOM_PROGRAM.join(" "));
    v.text("oom.method", o.method.clone());
    let row = |name: &str, s: &Summary| {
        if s.n == 0 {
            vec![
                name.to_string(),
                "–".into(),
                "–".into(),
                "–".into(),
                "0".into(),
            ]
        } else {
            vec![
                name.to_string(),
                format!("**{}**", ms(s.median)),
                ms(s.p10),
                ms(s.p90),
                s.n.to_string(),
            ]
        }
    };
    v.text(
        "oom.table",
        table(
            &["", "median ms", "p10 ms", "p90 ms", "n"],
            &[
                row(
                    "`on_oom` after the kernel's OOM event (the harness's eventfd)",
                    &o.from_event,
                ),
                row(
                    "`on_oom` after the `oom_kill` counter was seen to go up",
                    &o.from_counter,
                ),
                row("`on_exit` after `on_oom`", &o.exit_after_oom),
            ],
        ),
    );
    v.text("oom.with_callback", o.with_callback.to_string());
    v.text("oom.before_exit", o.before_exit.to_string());
    let quick = o
        .samples
        .iter()
        .filter(|s| s.from_event_ms.is_some_and(|d| d < 1.0))
        .count();
    v.text("oom.within_1ms", quick.to_string());
}
