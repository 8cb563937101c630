//! The headline and the targets: the report's first two tables.

use super::measures::{lxc_row, LXC_TARGET};
use super::tables::{kib, median_of, table, verdict};
use super::template::Values;
use crate::measure::{find, Series};
use crate::util::{ms, ratio};
use crate::Results;

pub fn headline(v: &mut Values, r: &Results) {
    let mut rows = Vec::new();
    let latency = |name: &str, series: &[Series]| {
        let lib = median_of(series, "berth-lib");
        let ffi = median_of(series, "berth-ffi");
        let crun = median_of(series, "crun");
        let runc = median_of(series, "runc");
        vec![
            format!("{name}, median ms"),
            ms(lib),
            ms(ffi),
            ms(crun),
            ms(runc),
            ratio(lib / crun),
            ratio(lib / runc),
        ]
    };
    // Not from a run of the LXC runners alone (`--only lxc`).
    let berth = |series: &[Series]| find(series, "berth-lib").is_some();
    if let Some(run) = r.run.done().filter(|run| berth(&run.series)) {
        rows.push(latency("run latency", &run.series));
    }
    if let Some(exec) = r.exec.done().filter(|exec| berth(&exec.series)) {
        rows.push(latency("exec latency", &exec.series));
    }
    if let Some(t) = r.throughput.done() {
        let most = t.callers.iter().copied().max().unwrap_or(1);
        let rate = |rt: &str| t.cell(rt, most).map_or(f64::NAN, |c| c.summary.median);
        let (b, c, n) = (rate("berth-lib"), rate("crun"), rate("runc"));
        rows.push(vec![
            format!("throughput with {most} callers, containers/s"),
            format!("{b:.0}"),
            "".into(),
            format!("{c:.0}"),
            format!("{n:.0}"),
            ratio(b / c),
            ratio(b / n),
        ]);
    }
    v.flag("headline", !rows.is_empty());
    v.text(
        "headline.table",
        table(
            &[
                "",
                "berth (Rust API)",
                "berth (C ABI)",
                "crun",
                "runc",
                "berth / crun",
                "berth / runc",
            ],
            &rows,
        ),
    );
}

/// The verdict of a "≤ 1/4" target, as measured and against the other runtime less the
/// wrapper.
fn quarter_verdict(measured: f64, strict: f64) -> String {
    let one = |r: f64| verdict(r.is_finite().then_some(r <= 0.25));
    format!(
        "{} as measured; {} against it less the wrapper",
        one(measured),
        one(strict)
    )
}

pub fn targets(v: &mut Values, r: &Results) {
    let mut rows = Vec::new();
    let wrapper = r
        .run
        .done()
        .map_or(0.0, |run| median_of(&run.series, "wrapper"));
    let berth = |series: &[Series]| find(series, "berth-lib").is_some();
    if let Some(run) = r.run.done().filter(|run| berth(&run.series)) {
        let lib = median_of(&run.series, "berth-lib");
        let crun = median_of(&run.series, "crun");
        let strict = lib / (crun - wrapper);
        rows.push(vec![
            "run latency through the library ≤ 1/4 of crun's median".into(),
            format!(
                "berth (Rust API) {} ms, crun {} ms: {} ({} against crun − wrapper {} ms)",
                ms(lib),
                ms(crun),
                ratio(lib / crun),
                ratio(strict),
                ms(crun - wrapper)
            ),
            quarter_verdict(lib / crun, strict),
        ]);
    }
    if let Some(exec) = r.exec.done().filter(|exec| berth(&exec.series)) {
        let crun = median_of(&exec.series, "crun");
        let (measured, judged) = match find(&exec.series, "berth-lib") {
            Some(s) if !s.samples_ms.is_empty() => {
                let strict = s.median() / (crun - wrapper);
                (
                    format!(
                        "berth (Rust API) {} ms, crun {} ms: {} ({} against crun − wrapper)",
                        ms(s.median()),
                        ms(crun),
                        ratio(s.median() / crun),
                        ratio(strict)
                    ),
                    quarter_verdict(s.median() / crun, strict),
                )
            }
            Some(s) => (
                format!(
                    "berth: {}; crun {} ms",
                    s.note.clone().unwrap_or_else(|| "no samples".into()),
                    ms(crun)
                ),
                verdict(None).into(),
            ),
            None => ("no berth series".into(), verdict(None).into()),
        };
        rows.push(vec![
            "exec latency ≤ 1/4 of crun's median".into(),
            measured,
            judged,
        ]);
    }
    for (name, series, bare) in [
        ("run", r.run.done().map(|m| &m.series), "lxc-execute"),
        ("exec", r.exec.done().map(|m| &m.series), "lxc-attach"),
    ] {
        let Some(series) = series else { continue };
        if let Some((row, met)) = lxc_row(name, series, bare) {
            rows.push(vec![
                format!(
                    "LXC driver {name} latency within {LXC_TARGET}× of bare LXC's (`{bare}`) median"
                ),
                format!("LXC driver {}, bare LXC {}: {}", row[1], row[2], row[3]),
                verdict(met).into(),
            ]);
        }
    }
    if let Some(run) = r.run.done().filter(|run| berth(&run.series)) {
        rows.extend(process_targets(&run.series, wrapper));
    }
    if let Some(p) = r.profile.done() {
        rows.extend(driver_targets(p));
    }
    if let Some(idle) = r.idle.done() {
        rows.extend(idle_targets(r, idle));
    }
    v.flag("targets", !rows.is_empty());
    v.text(
        "targets.table",
        table(&["target", "measured", "verdict"], &rows),
    );
}

fn idle_targets(r: &Results, idle: &crate::measure::idle::Idle) -> Vec<Vec<String>> {
    let max = idle.sizes.iter().copied().max().unwrap_or(0);
    let min = idle.sizes.iter().copied().min().unwrap_or(0);
    // A smoke run's sizes stop short of the targets' 1000.
    let at = if r.sizes.idle_sizes.iter().copied().max().unwrap_or(0) < 1000 {
        format!("at {max} containers (smoke; the target is at 1000)")
    } else {
        format!("at {max} containers")
    };
    let Some(row) = idle.row("berth-lib", max).filter(|row| row.error.is_none()) else {
        return vec![vec![
            format!("idle cost {at}"),
            "berth's idle measure failed at this size (see below)".into(),
            verdict(None).into(),
        ]];
    };
    let per = row.host_memory_per_container();
    let mut rows = vec![
        vec![
            format!("no process per container on the host side, {at}"),
            format!(
                "{} host-side processes besides the {} containers",
                row.helper_processes, row.container_processes
            ),
            verdict(Some(row.helper_processes == 0)).into(),
        ],
        vec![
            format!("≤ 2 supervisor threads, {at}"),
            format!("{} thread(s) added by the driver", row.host_threads),
            verdict(Some(row.host_threads <= 2)).into(),
        ],
        vec![
            format!("< 16 KiB host memory per container, {at}"),
            format!(
                "{} per container (the larger of the host process's RSS growth, {}, and its \
                 malloc'd bytes growth, {}, per container; plus {} in helper processes)",
                kib(per),
                kib(row.rss_per_container),
                kib(row.heap_per_container),
                kib(row.helper_rss_per_container)
            ),
            verdict(Some(per < 16.0 * 1024.0)).into(),
        ],
    ];
    if let Some(one) = idle.row("berth-lib", min).filter(|r| r.run.n > 0) {
        let growth = row.run.median / one.run.median - 1.0;
        rows.push(vec![
            format!("one more run {at} within 20% of the time at {min}"),
            format!(
                "{} ms at {max} vs {} ms at {min}: {:+.0}%",
                ms(row.run.median),
                ms(one.run.median),
                growth * 100.0
            ),
            verdict(Some(growth <= 0.20)).into(),
        ]);
    }
    rows
}

/// The CLI's targets: `berth run` and `create` + `start` + `delete` at most half of crun's,
/// all of them processes under the same wrapper.
fn process_targets(series: &[Series], wrapper: f64) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    for (what, berth, crun, wrappers) in [
        ("`berth run`", "berth-cli", "crun", 1.0),
        (
            "`berth create` + `start` + `delete`",
            "berth-cli-csd",
            "crun-csd",
            3.0,
        ),
    ] {
        let (b, c) = (median_of(series, berth), median_of(series, crun));
        if !b.is_finite() || !c.is_finite() {
            continue;
        }
        let w = wrapper * wrappers;
        rows.push(vec![
            format!("{what} ≤ 0.5× crun's median, both under the same wrapper"),
            format!(
                "berth CLI {} ms, crun {} ms: {} (the wrapper alone, ×{wrappers:.0}: {} ms, {} of \
                 crun's; less the wrapper: {})",
                ms(b),
                ms(c),
                ratio(b / c),
                ms(w),
                ratio(w / c),
                ratio((b - w) / (c - w))
            ),
            verdict(Some(b / c <= 0.5)).into(),
        ]);
    }
    rows
}

/// The driver's set-up under 2 ms (both APIs), and its first run within 20% of the next.
fn driver_targets(p: &crate::measure::profile::Profile) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let (lib, ffi) = (p.driver_new.median, p.ffi_driver_new.median);
    if p.driver_new.n > 0 && p.ffi_driver_new.n > 0 {
        rows.push(vec![
            "a driver's set-up (`LinuxDriver::new`, `berth_driver_new`) < 2 ms".into(),
            format!(
                "median {} ms and {} ms (p90 {} and {})",
                ms(lib),
                ms(ffi),
                ms(p.driver_new.p90),
                ms(p.ffi_driver_new.p90)
            ),
            verdict(Some(lib < 2.0 && ffi < 2.0)).into(),
        ]);
    }
    if p.first_run.n > 0 && p.next_runs.n > 0 {
        let growth = p.first_run.median / p.next_runs.median - 1.0;
        rows.push(vec![
            "the first run of a new driver within 20% of the next ones".into(),
            format!(
                "first {} ms ({} drivers), next {} ms: {:+.0}%",
                ms(p.first_run.median),
                p.first_run.n,
                ms(p.next_runs.median),
                growth * 100.0
            ),
            verdict(Some(growth <= 0.20)).into(),
        ]);
    }
    rows
}
