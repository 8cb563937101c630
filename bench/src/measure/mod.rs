//! The five measures, the cost of berth's init, and the profile of berth's run.

pub mod exec;
pub mod idle;
pub mod init;
pub mod oom;
pub mod profile;
pub mod run;
pub mod throughput;

use std::time::{Duration, Instant};

use nix::sys::resource::{getrusage, UsageWho};
use serde::{Deserialize, Serialize};

use crate::util::Summary;

/// One runtime's samples in a latency measure.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Series {
    /// Short key: `berth-lib`, `crun`, ...
    pub key: String,
    /// What it is, for the report.
    pub label: String,
    /// Wall-clock milliseconds, from the call to the exit status.
    pub samples_ms: Vec<f64>,
    /// CPU milliseconds of this process and its waited-for descendants over the same span.
    pub cpu_ms: Vec<f64>,
    pub wall: Summary,
    pub cpu: Summary,
    /// Why there are no (or not all) samples: an error, or "not available".
    pub note: Option<String>,
}

impl Series {
    pub fn new(key: &str, label: &str) -> Series {
        Series {
            key: key.into(),
            label: label.into(),
            samples_ms: Vec::new(),
            cpu_ms: Vec::new(),
            wall: Summary::default(),
            cpu: Summary::default(),
            note: None,
        }
    }

    pub fn push(&mut self, (wall, cpu): (Duration, Duration)) {
        self.samples_ms.push(wall.as_secs_f64() * 1e3);
        self.cpu_ms.push(cpu.as_secs_f64() * 1e3);
    }

    /// Computes the summaries once the samples are in.
    pub fn summarize(&mut self) {
        self.wall = Summary::of_values(&self.samples_ms);
        self.cpu = Summary::of_values(&self.cpu_ms);
    }

    /// The median, or NaN without samples.
    pub fn median(&self) -> f64 {
        if self.samples_ms.is_empty() {
            f64::NAN
        } else {
            self.wall.median
        }
    }
}

/// The series with this key.
pub fn find<'a>(series: &'a [Series], key: &str) -> Option<&'a Series> {
    series.iter().find(|s| s.key == key)
}

/// CPU time used so far by this process (every thread) and by the descendants it has waited
/// for (their own waited-for descendants included).
pub fn cpu_now() -> Duration {
    let mut total = Duration::ZERO;
    for who in [UsageWho::RUSAGE_SELF, UsageWho::RUSAGE_CHILDREN] {
        let Ok(usage) = getrusage(who) else { continue };
        for tv in [usage.user_time(), usage.system_time()] {
            total += Duration::from_secs(tv.tv_sec() as u64)
                + Duration::from_micros(tv.tv_usec() as u64);
        }
    }
    total
}

/// Times `f`: wall clock and CPU.
pub fn timed(f: impl FnOnce() -> Result<(), String>) -> Result<(Duration, Duration), String> {
    let cpu = cpu_now();
    let start = Instant::now();
    f()?;
    let wall = start.elapsed();
    Ok((wall, cpu_now().saturating_sub(cpu)))
}
