//! The report's generated Markdown: tables, and the numbers in them.

use crate::measure::{find, Series};
use crate::util::{ms, ratio};
use crate::Outcome;

/// A Markdown table, without a newline after its last row.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut lines = vec![
        format!("| {} |", header.join(" | ")),
        format!("|{}|", vec!["---"; header.len()].join("|")),
    ];
    lines.extend(rows.iter().map(|row| format!("| {} |", row.join(" | "))));
    lines.join("\n")
}

/// A Markdown list, one item a line.
pub fn list(items: &[String]) -> String {
    items
        .iter()
        .map(|item| format!("- {item}"))
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn kib(bytes: f64) -> String {
    format!("{:.1} KiB", bytes / 1024.0)
}

/// What the report says instead of a measure's section when it has no numbers; empty when it
/// has.
pub fn outcome_note<T>(outcome: &Outcome<T>) -> String {
    match outcome {
        Outcome::Done(_) => String::new(),
        Outcome::Failed(e) => format!("**This measure failed:** {e}"),
        Outcome::Skipped => "Not run this time (`--only`).".into(),
    }
}

pub fn median_of(series: &[Series], key: &str) -> f64 {
    find(series, key).map_or(f64::NAN, Series::median)
}

/// A target's verdict.
pub fn verdict(met: Option<bool>) -> &'static str {
    match met {
        Some(true) => "**met**",
        Some(false) => "**missed**",
        None => "not measurable",
    }
}

/// Every series of a latency measure: its median, spread, CPU and count, or why it has none.
pub fn series_table(series: &[Series]) -> String {
    let rows: Vec<Vec<String>> = series
        .iter()
        .map(|s| {
            if s.samples_ms.is_empty() {
                vec![
                    format!("`{}`", s.key),
                    s.label.clone(),
                    s.note.clone().unwrap_or_else(|| "no samples".into()),
                    "".into(),
                    "".into(),
                    "".into(),
                    "0".into(),
                ]
            } else {
                vec![
                    format!("`{}`", s.key),
                    s.label.clone(),
                    format!("**{}**", ms(s.wall.median)),
                    ms(s.wall.p10),
                    ms(s.wall.p90),
                    ms(s.cpu.median),
                    format!(
                        "{}{}",
                        s.wall.n,
                        s.note
                            .as_ref()
                            .map(|n| format!(" ({n})"))
                            .unwrap_or_default()
                    ),
                ]
            }
        })
        .collect();
    table(
        &[
            "",
            "runtime",
            "median ms",
            "p10 ms",
            "p90 ms",
            "CPU ms (median)",
            "n",
        ],
        &rows,
    )
}

/// berth's medians over crun's and runc's, as measured and less the wrapper's median.
pub fn ratio_table(series: &[Series], berth: &[(&str, &str)], wrapper: f64) -> String {
    let crun = median_of(series, "crun");
    let runc = median_of(series, "runc");
    let rows: Vec<Vec<String>> = berth
        .iter()
        .filter_map(|(key, label)| {
            let b = find(series, key)?;
            if b.samples_ms.is_empty() {
                let why = b.note.clone().unwrap_or_else(|| "no samples".into());
                return Some(vec![label.to_string(), why.clone(), why.clone(), why]);
            }
            let m = b.median();
            Some(vec![
                label.to_string(),
                ratio(m / crun),
                ratio(m / runc),
                format!(
                    "{} / {}",
                    ratio(m / (crun - wrapper)),
                    ratio(m / (runc - wrapper))
                ),
            ])
        })
        .collect();
    table(
        &[
            "",
            "berth / crun",
            "berth / runc",
            "against crun / runc less the wrapper",
        ],
        &rows,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_and_lists_are_markdown() {
        assert_eq!(
            table(&["", "a"], &[vec!["x".into(), "1".into()]]),
            "|  | a |\n|---|---|\n| x | 1 |"
        );
        assert_eq!(list(&["a".into(), "b".into()]), "- a\n- b");
        assert_eq!(list(&[]), "");
    }
}
