//! The values of measures 1 to 5 (run and exec latency, throughput, idle cost, OOM), of the
//! LXC driver against bare LXC (from measures 1 and 2), and of the cost of berth's init.

use super::tables::{kib, median_of, outcome_note, ratio_table, series_table, table, verdict};
use super::template::Values;
use crate::chart::Charts;
use crate::measure::{find, Series};
use crate::util::{ms, ratio, Summary};
use crate::Results;

pub fn run(v: &mut Values, r: &Results, charts: &Charts) {
    v.text("run.outcome", outcome_note(&r.run));
    v.flag("run", r.run.done().is_some());
    let Some(run) = r.run.done() else { return };
    v.text("run.series", series_table(&run.series));
    // Not with `--only lxc`, which runs the LXC runners alone.
    v.flag("run.others", find(&run.series, "berth-lib").is_some());
    v.text(
        "run.ratios",
        ratio_table(
            &run.series,
            &[
                ("berth-lib", "berth, Rust API"),
                ("berth-ffi", "berth, C ABI"),
                ("berth-cli", "berth CLI, as a process (wrapped, like them)"),
            ],
            median_of(&run.series, "wrapper"),
        ),
    );
    v.text("run.processes", process_table(&run.series));
    let floor = median_of(&run.series, "floor");
    v.text("run.floor_ms", ms(floor));
    v.text(
        "run.lib_over_floor",
        ratio(median_of(&run.series, "berth-lib") / floor),
    );
    v.text("run.chart", charts.run_latency.clone().unwrap_or_default());
}

/// berth's run with its built-in init against the same run without it (measure 7).
pub fn init(v: &mut Values, r: &Results) {
    v.text("init.outcome", outcome_note(&r.init));
    v.flag("init", r.init.done().is_some());
    let Some(init) = r.init.done() else { return };
    v.text("init.iterations", init.iterations.to_string());
    v.text("init.warmup", init.warmup.to_string());
    v.text("init.series", series_table(&init.series));
    let (without, with) = init.pair();
    let median = |s: Option<&Series>| s.map_or(f64::NAN, Series::median);
    let cpu = |s: Option<&Series>| s.map_or(f64::NAN, |s| s.cpu.median);
    v.text("init.ratio", ratio(init.ratio));
    v.text("init.with_ms", ms(median(with)));
    v.text("init.without_ms", ms(median(without)));
    v.text("init.extra_ms", ms(median(with) - median(without)));
    v.text("init.cpu_with_ms", ms(cpu(with)));
    v.text("init.cpu_without_ms", ms(cpu(without)));
    let rounds = &init.round_ratios;
    v.text("init.round_ratio", ratio(rounds.median));
    v.text("init.round_p10", ratio(rounds.p10));
    v.text("init.round_p90", ratio(rounds.p90));
}

pub fn exec(v: &mut Values, r: &Results) {
    v.text("exec.outcome", outcome_note(&r.exec));
    v.flag("exec", r.exec.done().is_some());
    let Some(exec) = r.exec.done() else { return };
    v.text("exec.series", series_table(&exec.series));
    v.flag("exec.others", find(&exec.series, "berth-lib").is_some());
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

/// The LXC driver's target: its median within this factor of bare LXC's, from the same run.
pub const LXC_TARGET: f64 = 1.2;

/// One row of the LXC table: the LXC driver's series `driver` against bare LXC's `bare` in
/// `series`, and whether it is within [`LXC_TARGET`]; `None` if the measure has neither.
pub fn lxc_row(name: &str, series: &[Series], bare: &str) -> Option<(Vec<String>, Option<bool>)> {
    let (d, b) = (find(series, "lxc-driver"), find(series, bare));
    if d.is_none() && b.is_none() {
        return None;
    }
    let median = |s: Option<&Series>| match s {
        Some(s) if !s.samples_ms.is_empty() => Ok(s.median()),
        Some(s) => Err(s.note.clone().unwrap_or_else(|| "no samples".into())),
        None => Err("no series".into()),
    };
    let cell = |m: &Result<f64, String>| match m {
        Ok(m) => format!("**{}**", ms(*m)),
        Err(why) => why.clone(),
    };
    let (dm, bm) = (median(d), median(b));
    let (r, met) = match (&dm, &bm) {
        (Ok(d), Ok(b)) => (ratio(d / b), Some(d / b <= LXC_TARGET)),
        (Err(why), _) | (_, Err(why)) => (why.clone(), None),
    };
    let row = vec![
        name.to_string(),
        cell(&dm),
        format!("{} (`{bare}`)", cell(&bm)),
        r,
        format!("within {LXC_TARGET}×"),
        verdict(met).into(),
    ];
    Some((row, met))
}

/// The LXC driver against bare LXC: its run and exec medians over `lxc-execute`'s and
/// `lxc-attach`'s from the same run, the target, and the two configs.
pub fn lxc(v: &mut Values, r: &Results) {
    let mut rows = Vec::new();
    if let Some(run) = r.run.done() {
        rows.extend(lxc_row("run `/bin/true`", &run.series, "lxc-execute"));
    }
    if let Some(exec) = r.exec.done() {
        rows.extend(lxc_row("exec `/bin/true`", &exec.series, "lxc-attach"));
    }
    v.flag("lxc", !rows.is_empty());
    v.text(
        "lxc.outcome",
        match (&r.run, &r.exec) {
            (crate::Outcome::Failed(_), _) | (_, crate::Outcome::Failed(_)) => {
                "**A measure failed** (see 1 and 2).".to_string()
            }
            (crate::Outcome::Skipped, crate::Outcome::Skipped) => {
                "Not run this time (`--only`).".into()
            }
            _ if rows.is_empty() => {
                "Not measured: these results are from a harness before the LXC runners.".into()
            }
            _ => String::new(),
        },
    );
    v.text("lxc.target_x", format!("{LXC_TARGET}"));
    v.text(
        "lxc.table",
        table(
            &[
                "",
                "LXC driver, median ms",
                "bare LXC, median ms",
                "LXC driver / bare LXC",
                "target",
                "verdict",
            ],
            &rows.into_iter().map(|(row, _)| row).collect::<Vec<_>>(),
        ),
    );
    let setup = r
        .run
        .done()
        .and_then(|run| run.lxc.as_ref())
        .or_else(|| r.exec.done().and_then(|exec| exec.lxc.as_ref()));
    v.flag("lxc.setup", setup.is_some());
    let code = |lines: &[String]| {
        super::tables::list(&lines.iter().map(|l| format!("`{l}`")).collect::<Vec<_>>())
    };
    let setup = setup.cloned().unwrap_or_default();
    v.text("lxc.dropped", code(&setup.dropped));
    v.text("lxc.added", code(&setup.added));
    v.text(
        "lxc.bare_config",
        format!("```\n{}\n```", setup.bare_config.trim_end()),
    );
}

/// The runtimes that are processes, on the same bundle under the same wrapper: `run`, and
/// `create` + `start` + `delete`.
fn process_table(series: &[Series]) -> String {
    let rows: Vec<Vec<String>> = [
        ("`run`", ["berth-cli", "crun", "runc"]),
        (
            "`create` + `start` + `delete --force`",
            ["berth-cli-csd", "crun-csd", "runc-csd"],
        ),
    ]
    .iter()
    .map(|(what, [b, c, n])| {
        let (b, c, n) = (
            median_of(series, b),
            median_of(series, c),
            median_of(series, n),
        );
        vec![
            what.to_string(),
            ms(b),
            ms(c),
            ms(n),
            ratio(b / c),
            ratio(b / n),
        ]
    })
    .collect();
    table(
        &[
            "",
            "berth CLI, median ms",
            "crun",
            "runc",
            "berth / crun",
            "berth / runc",
        ],
        &rows,
    )
}
