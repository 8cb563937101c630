//! Small tools of the harness: statistics, the host process's own counters, ids, and running
//! a command to read its output.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

/// Median, p10 and p90 of a sample, in milliseconds.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct Summary {
    pub n: usize,
    pub p10: f64,
    pub median: f64,
    pub p90: f64,
    pub min: f64,
    pub max: f64,
}

impl Summary {
    /// The summary of durations.
    pub fn of(samples: &[Duration]) -> Summary {
        let ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e3).collect();
        Summary::of_values(&ms)
    }

    /// The summary of values (any unit).
    pub fn of_values(values: &[f64]) -> Summary {
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        if sorted.is_empty() {
            return Summary::default();
        }
        Summary {
            n: sorted.len(),
            p10: percentile(&sorted, 10.0),
            median: percentile(&sorted, 50.0),
            p90: percentile(&sorted, 90.0),
            min: sorted[0],
            max: sorted[sorted.len() - 1],
        }
    }
}

/// The `p`th percentile of sorted values, interpolated linearly between ranks.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = p / 100.0 * (sorted.len() - 1) as f64;
    let low = rank.floor() as usize;
    let high = rank.ceil() as usize;
    let weight = rank - low as f64;
    sorted[low] * (1.0 - weight) + sorted[high] * weight
}

/// The order of `n` runtimes in round `round`: a shuffle (xorshift, seeded by the round, so
/// every run of the harness uses the same orders). Over many rounds every runtime comes first,
/// last and after every other one about as often: a runtime's exit leaves kernel work behind
/// (namespace and cgroup teardown) that slows whatever comes next, and a fixed or merely
/// rotated order would always charge that to the same neighbour.
pub fn round_order(n: usize, round: usize) -> Vec<usize> {
    let mut state = 0x9E37_79B9_7F4A_7C15u64 ^ (round as u64).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = (next() % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
    order
}

/// The median of durations, in milliseconds.
pub fn median_ms(samples: &[Duration]) -> f64 {
    Summary::of(samples).median
}

/// A container id no other run of this harness uses: `bb-<tag>-<pid>-<n>`.
pub fn new_id(tag: &str) -> String {
    static COUNT: AtomicUsize = AtomicUsize::new(0);
    format!(
        "bb-{tag}-{}-{}",
        std::process::id(),
        COUNT.fetch_add(1, Ordering::Relaxed)
    )
}

/// What this process holds now.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct SelfCounters {
    /// Resident set size, bytes.
    pub rss: u64,
    /// Bytes malloc has handed out and not taken back (glibc `mallinfo2`).
    pub heap: u64,
    pub threads: u64,
    pub fds: u64,
}

/// Reads this process's counters.
pub fn self_counters() -> SelfCounters {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    SelfCounters {
        rss: field("VmRSS:") * 1024,
        heap: crate::sys::heap_in_use(),
        threads: field("Threads:"),
        fds: std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count() as u64),
    }
}

/// The resident set of another process, bytes (0 if it is gone).
pub fn rss_of(pid: i32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|v| v.parse::<u64>().ok())
        })
        .map_or(0, |kib| kib * 1024)
}

/// Every pid on the host.
pub fn all_pids() -> Vec<i32> {
    std::fs::read_dir("/proc")
        .map(|dir| {
            dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// The parent pid of a process.
pub fn ppid_of(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command may hold spaces and parentheses: the fields start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// The command line of a process, its arguments joined by spaces.
pub fn cmdline_of(pid: i32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| {
            String::from_utf8_lossy(&b)
                .split('\0')
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}

/// The cgroup lines of a process (`/proc/<pid>/cgroup`).
pub fn cgroups_of(pid: i32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default()
}

/// Runs a program and returns its standard output, trimmed; `None` if it cannot run or fails.
pub fn output_of(program: &str, args: &[&str]) -> Option<String> {
    let out = std::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The sum of the sizes of the files under `dir`, each rounded up to a 4 KiB page (what they
/// take on a tmpfs or in ext4 blocks), and the number of files.
pub fn dir_usage(dir: &Path) -> (u64, u64) {
    let mut bytes = 0;
    let mut files = 0;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return (0, 0);
    };
    for entry in entries.flatten() {
        let Ok(meta) = entry.metadata() else { continue };
        if meta.is_dir() {
            let (b, f) = dir_usage(&entry.path());
            bytes += b;
            files += f;
        } else {
            bytes += meta.len().div_ceil(4096) * 4096;
            files += 1;
        }
    }
    (bytes, files)
}

/// Raises the soft limit of open files to the hard limit (1000 containers need a few fds each).
pub fn raise_nofile() {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    if let Ok((_, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
    }
}

/// Makes this process the reaper of its orphaned descendants: the init of a container that
/// `runc run --detach` started is re-parented here when runc exits (the machine's pid 1 may
/// not reap), and [`reap`] collects it by pid once it is killed. berth's own children are
/// never waited for here: only pids that runc or crun reported.
pub fn become_subreaper() {
    let _ = nix::sys::prctl::set_child_subreaper(true);
}

/// Collects one exited child by pid, waiting up to `timeout` for it to exit.
pub fn reap(pid: i32, timeout: Duration) {
    if pid <= 0 {
        return;
    }
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let got = waitpid(Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG));
        if !matches!(got, Ok(WaitStatus::StillAlive)) || std::time::Instant::now() >= deadline {
            return;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Collects every exited child. Only for the very end, once no berth driver is left (berth
/// must be the one to reap its containers).
pub fn reap_all_exited() {
    // Until there is no child (ECHILD) or none has exited yet.
    while let Ok(status) = waitpid(None::<Pid>, Some(WaitPidFlag::WNOHANG)) {
        if status == WaitStatus::StillAlive {
            return;
        }
    }
}

/// Formats a number of milliseconds for a table.
pub fn ms(value: f64) -> String {
    if value.is_nan() {
        "–".into()
    } else if value >= 100.0 {
        format!("{value:.0}")
    } else if value >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

/// Formats a ratio for a table.
pub fn ratio(value: f64) -> String {
    if value.is_finite() {
        format!("{value:.2}×")
    } else {
        "–".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_orders_are_permutations_that_vary() {
        let orders: Vec<Vec<usize>> = (0..50).map(|r| round_order(5, r)).collect();
        for order in &orders {
            let mut sorted = order.clone();
            sorted.sort();
            assert_eq!(sorted, [0, 1, 2, 3, 4]);
        }
        // Runtime 0 is not always preceded by the same one.
        let before: std::collections::HashSet<usize> = orders
            .iter()
            .filter_map(|o| {
                o.iter()
                    .position(|&x| x == 0)
                    .filter(|&p| p > 0)
                    .map(|p| o[p - 1])
            })
            .collect();
        assert!(before.len() >= 3, "{before:?}");
    }

    #[test]
    fn percentiles_interpolate() {
        let s = Summary::of_values(&[4.0, 1.0, 3.0, 2.0, 5.0]);
        assert_eq!((s.p10, s.median, s.p90), (1.4, 3.0, 4.6));
    }
}
