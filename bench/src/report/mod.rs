//! `REPORT.md`, rendered from `results.json`: the prose is the template
//! `bench/report.md.tmpl`, filled with the numbers of the run and the tables made from them
//! (the placeholders are in [`template`]). Every number in it comes from the results.

mod measures;
mod profile;
mod summary;
mod tables;
mod template;

use std::path::{Path, PathBuf};

use crate::chart::{self, Charts};
use crate::Results;
use template::Values;

/// The report's text, with its placeholders.
const TEMPLATE: &str = include_str!("../../report.md.tmpl");

/// Reads `dir/results.json`, draws the charts beside it and writes `dir/REPORT.md`; returns
/// the report's path.
pub fn write(dir: &Path) -> Result<PathBuf, String> {
    let path = dir.join("results.json");
    let text =
        std::fs::read_to_string(&path).map_err(|e| format!("read {}: {e}", path.display()))?;
    let results: Results =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let charts = chart::draw_all(&results, dir);
    let report = dir.join("REPORT.md");
    std::fs::write(&report, render(&results, &charts)?)
        .map_err(|e| format!("write {}: {e}", report.display()))?;
    Ok(report)
}

/// The report of `r`, whose charts are `charts`.
pub fn render(r: &Results, charts: &Charts) -> Result<String, String> {
    let mut v = Values::default();
    run_and_machine(&mut v, r);
    isolation(&mut v, r);
    summary::headline(&mut v, r);
    summary::targets(&mut v, r);
    measures::run(&mut v, r, charts);
    measures::exec(&mut v, r);
    measures::throughput(&mut v, r);
    measures::idle(&mut v, r, charts);
    measures::oom(&mut v, r);
    measures::lxc(&mut v, r);
    measures::init(&mut v, r);
    profile::profile(&mut v, r);
    caveats(&mut v, r, charts);
    template::render(TEMPLATE, &v)
}

/// When, how big, and on what.
fn run_and_machine(v: &mut Values, r: &Results) {
    let s = &r.sizes;
    v.flag("smoke", s.smoke);
    v.text("title_suffix", if s.smoke { " — SMOKE RUN" } else { "" });
    v.text("script_flags", if s.smoke { " --smoke" } else { "" });
    v.text("started", r.started.clone());
    v.text("duration_s", format!("{:.0}", r.duration_s));
    v.text("load_before", r.machine.load_before.clone());
    v.text("load_after", r.load_after.clone());
    v.text("wrapper", r.wrapper.clone());
    v.text(
        "memory_limit_mib",
        (crate::runners::MEMORY_LIMIT >> 20).to_string(),
    );
    for (name, value) in [
        ("run_iterations", s.run_iterations.to_string()),
        ("warmup", s.warmup.to_string()),
        ("throughput_containers", s.throughput_containers.to_string()),
        ("throughput_callers", format!("{:?}", s.throughput_callers)),
        (
            "throughput_repetitions",
            s.throughput_repetitions.to_string(),
        ),
        ("idle_sizes", format!("{:?}", s.idle_sizes)),
        ("idle_samples", s.idle_samples.to_string()),
        ("oom_iterations", s.oom_iterations.to_string()),
        ("init_iterations", s.init_iterations.to_string()),
        ("profile_iterations", s.profile_iterations.to_string()),
        ("perf_runs", s.perf_runs.to_string()),
    ] {
        v.text(&format!("sizes.{name}"), value);
    }
    let m = &r.machine;
    for (name, value) in [
        ("kernel", m.kernel.clone()),
        ("os", m.os.clone()),
        ("cpu", m.cpu.clone()),
        ("cores", m.cores.to_string()),
        ("memory_gib", format!("{:.1}", m.memory_gib)),
        ("cgroups", m.cgroups.clone()),
        ("runc", m.runc.clone()),
        ("crun", m.crun.clone()),
        ("util_linux", m.util_linux.clone()),
        ("busybox", m.busybox.clone()),
        ("run_fs", m.run_fs.clone()),
        ("perf", m.perf.clone()),
        ("berth_commit", m.berth_commit.clone()),
        ("rustc", m.rustc.clone()),
    ] {
        v.text(&format!("machine.{name}"), value);
    }
}

/// What berth's probe container had, and the seccomp profile runc and crun were given.
fn isolation(v: &mut Values, r: &Results) {
    let iso = &r.isolation;
    v.text(
        "iso.cap_effective_count",
        iso.cap_effective.len().to_string(),
    );
    v.text("iso.cap_bounding_count", iso.cap_bounding.len().to_string());
    v.text(
        "iso.cap_inheritable_count",
        iso.cap_inheritable.len().to_string(),
    );
    v.text("iso.cap_ambient_count", iso.cap_ambient.len().to_string());
    v.text("iso.cap_effective", iso.cap_effective.join(", "));
    v.text("iso.seccomp_filters", iso.seccomp_filters.to_string());
    v.text(
        "iso.no_new_privs",
        if iso.no_new_privs { "set" } else { "not set" },
    );
    v.flag(
        "iso.devices_unrestricted",
        iso.device_rules.is_empty() || iso.device_rules == ["a *:* rwm"],
    );
    v.text("iso.device_rule_count", iso.device_rules.len().to_string());
    v.text("iso.device_rules", iso.device_rules.join(", "));
    v.text("iso.error", iso.error.clone().unwrap_or_default());
    v.text("seccomp_source", r.seccomp_source.clone());
}

/// Roughly how many drivers a run of these sizes makes (one per measure and per idle size,
/// one per profile sample, and the probe).
fn drivers_made(r: &Results) -> usize {
    1 + 3
        + usize::from(r.init.done().is_some())
        + r.sizes.idle_sizes.len()
        + 1
        + 1
        + r.sizes.profile_iterations.min(50)
        + 1
}

/// The caveats that depend on the run: failed drivers, and the notes of the probe, the
/// charts and the clean-up.
fn caveats(v: &mut Values, r: &Results, charts: &Charts) {
    let mut distinct: Vec<&String> = r.driver_failures.iter().collect();
    distinct.sort();
    distinct.dedup();
    let failures: Vec<String> = distinct.iter().map(|e| format!("`{e}`")).collect();
    v.text("driver_failures", failures.join("; "));
    v.text("driver_failures.count", r.driver_failures.len().to_string());
    v.text("driver_failures.drivers_made", drivers_made(r).to_string());
    let mut notes: Vec<String> = r.confinement_notes.clone();
    notes.extend(charts.notes.iter().cloned());
    if !r.left_behind.is_empty() {
        notes.push(format!("Clean-up left: {}", r.left_behind.join("; ")));
    }
    v.text("notes", tables::list(&notes));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Outcome;

    fn committed(name: &str) -> Results {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(name);
        let text = std::fs::read_to_string(&path).unwrap();
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    fn charts() -> Charts {
        Charts {
            run_latency: Some("run-latency.png".into()),
            scale: Some("scale.png".into()),
            notes: Vec::new(),
        }
    }

    /// The committed results still read, and every section of the template is filled.
    #[test]
    fn the_committed_results_render() {
        for name in ["results/results.json", "results/smoke/results.json"] {
            let results = committed(name);
            let report = render(&results, &charts()).unwrap();
            for heading in [
                "## Headline",
                "## Targets",
                "## Machine",
                "## Method",
                "### What differs between berth's container and runc's and crun's",
                "## 1. Run latency",
                "## 2. Exec latency",
                "## 3. Throughput",
                "## 4. Idle cost at scale",
                "## 5. OOM notification latency (berth only)",
                "## 6. The LXC driver against bare LXC",
                "## 7. The cost of berth's built-in init",
                "## Where berth's time goes",
                "## Caveats",
                "![Run latency distribution per runtime](run-latency.png)",
                "![Cost against the number of containers](scale.png)",
            ] {
                assert!(report.contains(heading), "{name}: no {heading:?}");
            }
            assert!(!report.contains("{{"), "{name}: a placeholder is left");
            assert!(!report.contains("\n\n\n"), "{name}: a gap is left");
            assert_eq!(report.contains("SMOKE RUN"), results.sizes.smoke);
        }
    }

    /// Without LXC, the LXC rows say so, and the rest of the report is as before.
    #[test]
    fn without_lxc_the_lxc_rows_say_so() {
        let mut results = committed("results/smoke/results.json");
        let not_installed = |key: &str| {
            let mut s = crate::measure::Series::new(key, key);
            s.note = Some(crate::lxc::NOT_INSTALLED.into());
            s
        };
        if let Outcome::Done(run) = &mut results.run {
            run.series.push(not_installed("lxc-driver"));
            run.series.push(not_installed("lxc-execute"));
        }
        if let Outcome::Done(exec) = &mut results.exec {
            exec.series.push(not_installed("lxc-driver"));
            exec.series.push(not_installed("lxc-attach"));
        }
        let report = render(&results, &charts()).unwrap();
        let section = &report[report.find("## 6.").unwrap()..report.find("## Where").unwrap()];
        assert!(
            section.contains("| run `/bin/true` | not measured: LXC not installed |"),
            "{section}"
        );
        assert!(section.contains("| exec `/bin/true` | not measured: LXC not installed |"));
        assert!(section.contains("not measurable"));
        assert!(report.contains("## Headline"));
    }

    /// A run of the LXC runners alone (`--only lxc`) has no headline and no berth ratios.
    #[test]
    fn an_lxc_only_run_renders() {
        let mut results = committed("results/smoke/results.json");
        results.throughput = Outcome::Skipped;
        results.idle = Outcome::Skipped;
        results.oom = Outcome::Skipped;
        results.profile = Outcome::Skipped;
        let lxc = |keys: [&str; 2]| {
            keys.iter()
                .map(|key| {
                    let mut s = crate::measure::Series::new(key, key);
                    s.samples_ms = vec![10.0, 11.0, 12.0];
                    s.cpu_ms = vec![1.0, 1.0, 1.0];
                    s.summarize();
                    s
                })
                .collect::<Vec<_>>()
        };
        if let Outcome::Done(run) = &mut results.run {
            run.series = lxc(["lxc-driver", "lxc-execute"]);
        }
        if let Outcome::Done(exec) = &mut results.exec {
            exec.series = lxc(["lxc-driver", "lxc-attach"]);
        }
        let report = render(&results, &charts()).unwrap();
        assert!(!report.contains("## Headline"));
        assert!(!report.contains("berth / crun |"));
        assert!(report.contains("| run `/bin/true` | **11.0** | **11.0** (`lxc-execute`) | 1.00× | within 1.2× | **met** |"));
    }

    fn series(key: &str, samples_ms: Vec<f64>) -> crate::measure::Series {
        let mut s = crate::measure::Series::new(key, key);
        s.cpu_ms = vec![1.0; samples_ms.len()];
        s.samples_ms = samples_ms;
        s.summarize();
        s
    }

    fn init_cost() -> crate::measure::init::InitCost {
        crate::measure::init::InitCost {
            iterations: 3,
            warmup: 1,
            series: vec![
                series("berth-lib", vec![4.0, 5.0, 6.0]),
                series("berth-lib-init", vec![5.0, 6.0, 7.0]),
            ],
            ratio: 1.2,
            round_ratios: crate::util::Summary::of_values(&[1.1, 1.2, 1.3]),
        }
    }

    /// The committed results, from before measure 7, say it did not run; with it, the report
    /// gives the ratio and both medians.
    #[test]
    fn the_init_cost_renders() {
        let mut results = committed("results/smoke/results.json");
        let before = render(&results, &charts()).unwrap();
        let section = |report: &str| {
            report[report.find("## 7.").unwrap()..report.find("## Where").unwrap()].to_string()
        };
        assert!(section(&before).contains("Not run this time"));
        results.init = Outcome::Done(init_cost());
        let report = render(&results, &charts()).unwrap();
        let init = section(&report);
        assert!(
            init.contains("medians: **1.20×** (6.00 ms against\n5.00 ms, 1.00 ms more;"),
            "{init}"
        );
        assert!(
            init.contains("median 1.20×, p10 1.12×, p90 1.28×"),
            "{init}"
        );
        assert!(init.contains("| `berth-lib-init` | berth-lib-init | **6.00** |"));
    }

    /// A run of measure 7 alone (`--only init`) renders, without a headline.
    #[test]
    fn an_init_only_run_renders() {
        let mut results = committed("results/smoke/results.json");
        results.run = Outcome::Skipped;
        results.exec = Outcome::Skipped;
        results.throughput = Outcome::Skipped;
        results.idle = Outcome::Skipped;
        results.oom = Outcome::Skipped;
        results.profile = Outcome::Skipped;
        results.init = Outcome::Done(init_cost());
        let report = render(&results, &Charts::default()).unwrap();
        assert!(report.contains("**1.20×**"));
        assert!(!report.contains("## Headline"));
        assert!(report.contains("No measure ran that a target applies to."));
    }

    /// A run whose measures all failed or were skipped still renders, saying so.
    #[test]
    fn a_run_without_numbers_renders() {
        let mut results = committed("results/smoke/results.json");
        results.run = Outcome::Failed("no runc".into());
        results.exec = Outcome::Skipped;
        results.throughput = Outcome::Skipped;
        results.idle = Outcome::Failed("no cgroup".into());
        results.oom = Outcome::Skipped;
        results.profile = Outcome::Skipped;
        results.isolation = crate::oci::Isolation::failed("no probe".into());
        results.confinement_notes = vec!["a note".into()];
        let report = render(&results, &Charts::default()).unwrap();
        assert!(report.contains("**This measure failed:** no runc"));
        assert!(report.contains("**This measure failed:** no cgroup"));
        assert!(report.contains("No measure ran that a target applies to."));
        assert!(!report.contains("## Headline"));
        assert!(report.contains("the probe of berth's container failed (no probe)"));
        assert!(report.contains("- a note"));
        assert!(!report.contains("!["));
    }
}
