//! The PNG charts: the distribution of run latency per runtime, and the cost against the
//! number of containers. Text is drawn with a TrueType font read at run time (DejaVu Sans,
//! from fonts-dejavu-core): no system library is needed.

use std::path::Path;
use std::sync::OnceLock;

use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};

use crate::Results;

/// What the report embeds: the file names of the charts drawn, and why any was not.
#[derive(Debug, Default)]
pub struct Charts {
    pub run_latency: Option<String>,
    pub scale: Option<String>,
    pub notes: Vec<String>,
}

const FONTS: [&str; 2] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
];

fn font() -> Result<(), String> {
    static LOADED: OnceLock<Result<(), String>> = OnceLock::new();
    LOADED
        .get_or_init(|| {
            let bytes = FONTS
                .iter()
                .find_map(|f| std::fs::read(f).ok())
                .ok_or_else(|| {
                    format!(
                        "no font found ({}): apt-get install fonts-dejavu-core",
                        FONTS[0]
                    )
                })?;
            let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            register_font("sans-serif", FontStyle::Normal, bytes)
                .map_err(|_| "the font file is not a font".to_string())
        })
        .clone()
}

/// A colour per runtime, the same in every chart.
fn color(key: &str) -> RGBColor {
    match key {
        "berth-lib" => RGBColor(0, 114, 178),
        "berth-ffi" => RGBColor(86, 180, 233),
        "berth-cli" | "berth-cli-csd" => RGBColor(0, 158, 115),
        "crun" => RGBColor(213, 94, 0),
        "runc" => RGBColor(204, 121, 167),
        "floor" => RGBColor(90, 90, 90),
        "wrapper" => RGBColor(170, 170, 170),
        "lxc-driver" => RGBColor(0, 60, 110),
        "lxc-execute" | "lxc-attach" => RGBColor(120, 60, 20),
        _ => RGBColor(230, 159, 0),
    }
}

pub fn draw_all(results: &Results, out: &Path) -> Charts {
    let mut charts = Charts::default();
    if let Err(e) = font() {
        charts.notes.push(format!("charts not drawn: {e}"));
        return charts;
    }
    if let Some(run) = results.run.done() {
        let name = "run-latency.png";
        match run_latency(run, results.sizes.smoke, &out.join(name)) {
            Ok(()) => charts.run_latency = Some(name.into()),
            Err(e) => charts.notes.push(format!("{name} not drawn: {e}")),
        }
    }
    if let Some(idle) = results.idle.done() {
        let name = "scale.png";
        match scale(idle, results.sizes.smoke, &out.join(name)) {
            Ok(()) => charts.scale = Some(name.into()),
            Err(e) => charts.notes.push(format!("{name} not drawn: {e}")),
        }
    }
    charts
}

/// Writes RGB pixels as a PNG, compressed as much as the encoder can.
fn write_png(path: &Path, (width, height): (u32, u32), pixels: &[u8]) -> Result<(), String> {
    let file = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Best);
    encoder.set_adaptive_filter(png::AdaptiveFilterType::Adaptive);
    let mut writer = encoder.write_header().map_err(err)?;
    writer.write_image_data(pixels).map_err(err)?;
    writer.finish().map_err(err)
}

fn format_ms(v: f64) -> String {
    if v >= 10.0 {
        format!("{v:.0}")
    } else if v >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn format_value(v: f64) -> String {
    if v.abs() >= 10.0 || v == v.round() {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

fn err<E: std::fmt::Debug>(e: E) -> String {
    format!("{e:?}")
}

/// The cumulative distribution of each runtime's run latency, on a log scale.
fn run_latency(
    run: &crate::measure::run::RunLatency,
    smoke: bool,
    path: &Path,
) -> Result<(), String> {
    let series: Vec<_> = run
        .series
        .iter()
        // `run` alone: create + start + delete (three processes) is in the tables.
        .filter(|s| !s.samples_ms.is_empty() && !s.key.ends_with("-csd"))
        .collect();
    if series.is_empty() {
        return Err("no samples".into());
    }
    let lo = series
        .iter()
        .flat_map(|s| s.samples_ms.iter().copied())
        .fold(f64::INFINITY, f64::min)
        .max(0.01);
    let hi = series
        .iter()
        .flat_map(|s| s.samples_ms.iter().copied())
        .fold(0.0, f64::max);
    const SIZE: (u32, u32) = (1200, 720);
    let mut pixels = vec![0u8; (SIZE.0 * SIZE.1 * 3) as usize];
    let root = BitMapBackend::with_buffer(&mut pixels, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let title = format!(
        "Run latency of a /bin/true container: distribution per runtime ({} runs each{})",
        run.iterations,
        if smoke { ", SMOKE RUN" } else { "" }
    );
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(64)
        .build_cartesian_2d((lo * 0.8..hi * 1.25).log_scale(), 0.0..100.0)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("milliseconds from the call to the exit status (log scale)")
        .y_desc("% of runs at or below")
        .x_label_formatter(&|v| format_ms(*v))
        .y_label_formatter(&|v| format!("{v:.0}"))
        .light_line_style(RGBColor(236, 236, 236))
        .label_style(("sans-serif", 15))
        .axis_desc_style(("sans-serif", 17))
        .draw()
        .map_err(err)?;
    for s in series {
        let mut sorted = s.samples_ms.clone();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len() as f64;
        let points: Vec<(f64, f64)> = sorted
            .iter()
            .enumerate()
            .flat_map(|(i, &v)| [(v, i as f64 / n * 100.0), (v, (i + 1) as f64 / n * 100.0)])
            .collect();
        let c = color(&s.key);
        let label = format!("{} — median {:.2} ms", s.key, s.wall.median);
        chart
            .draw_series(LineSeries::new(points, c.stroke_width(3)))
            .map_err(err)?
            .label(label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], c.stroke_width(3)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .label_font(("sans-serif", 16))
        .draw()
        .map_err(err)?;
    root.present().map_err(err)?;
    drop(chart);
    drop(root);
    write_png(path, SIZE, &pixels)
}

type Metric = fn(&crate::measure::idle::Row) -> Option<f64>;

/// Four panels against the number of sleeping containers: host memory per container, host
/// threads and processes, one more run, one exec.
fn scale(idle: &crate::measure::idle::Idle, smoke: bool, path: &Path) -> Result<(), String> {
    const SIZE: (u32, u32) = (1400, 950);
    let mut pixels = vec![0u8; (SIZE.0 * SIZE.1 * 3) as usize];
    let root = BitMapBackend::with_buffer(&mut pixels, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let title = format!(
        "Cost against the number of sleeping containers{}",
        if smoke {
            " (SMOKE RUN: small sizes)"
        } else {
            ""
        }
    );
    let (top, body) = root.split_vertically(44);
    top.draw(&Text::new(title, (16, 10), ("sans-serif", 24)))
        .map_err(err)?;
    let panels = body.split_evenly((2, 2));
    let metrics: [(&str, &str, Metric); 4] = [
        ("Host-side memory per container (KiB)", "KiB", |r| {
            Some((r.host_memory_per_container() / 1024.0).max(0.0))
        }),
        (
            "Host-side threads + helper processes' threads",
            "threads",
            |r| Some(r.host_threads.max(0) as f64),
        ),
        (
            "One more /bin/true run while they sleep (median ms)",
            "ms",
            |r| (r.run.n > 0).then_some(r.run.median),
        ),
        (
            "One exec of /bin/true into one of them (median ms)",
            "ms",
            |r| r.exec.filter(|e| e.n > 0).map(|e| e.median),
        ),
    ];
    // The sizes side by side, evenly spaced and labelled with their value.
    let sizes = idle.sizes.clone();
    let position = |n: usize| sizes.iter().position(|&s| s == n).unwrap_or(0) as f64;
    let last = sizes.len().saturating_sub(1) as f64;
    for (area, (caption, unit, metric)) in panels.iter().zip(metrics) {
        let mut top_value: f64 = 0.0;
        for row in &idle.rows {
            if let Some(v) = metric(row) {
                top_value = top_value.max(v);
            }
        }
        let y_max = if top_value > 0.0 {
            top_value * 1.2
        } else {
            1.0
        };
        let mut chart = ChartBuilder::on(area)
            .caption(caption, ("sans-serif", 16))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(-0.25..last + 0.25, 0.0..y_max)
            .map_err(err)?;
        let label = |v: &f64| {
            let i = v.round();
            if (v - i).abs() < 0.01 && i >= 0.0 && (i as usize) < sizes.len() {
                sizes[i as usize].to_string()
            } else {
                String::new()
            }
        };
        chart
            .configure_mesh()
            .x_desc("sleeping containers")
            .y_desc(unit)
            .x_labels(sizes.len() * 4 + 1)
            .x_label_formatter(&label)
            .y_label_formatter(&|v| format_value(*v))
            .light_line_style(RGBColor(236, 236, 236))
            .label_style(("sans-serif", 13))
            .axis_desc_style(("sans-serif", 14))
            .draw()
            .map_err(err)?;
        for runtime in ["berth-lib", "crun", "runc"] {
            let points: Vec<(f64, f64)> = idle
                .rows
                .iter()
                .filter(|r| r.runtime == runtime && r.error.is_none())
                .filter_map(|r| metric(r).map(|v| (position(r.containers), v)))
                .collect();
            if points.is_empty() {
                continue;
            }
            let c = color(runtime);
            chart
                .draw_series(LineSeries::new(points.clone(), c.stroke_width(3)))
                .map_err(err)?
                .label(runtime)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 24, y)], c.stroke_width(3))
                });
            chart
                .draw_series(PointSeries::of_element(points, 5, c, &|p, s, st| {
                    Circle::new(p, s, st.filled())
                }))
                .map_err(err)?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .label_font(("sans-serif", 13))
            .draw()
            .map_err(err)?;
    }
    root.present().map_err(err)?;
    drop(panels);
    drop(body);
    drop(top);
    drop(root);
    write_png(path, SIZE, &pixels)
}
