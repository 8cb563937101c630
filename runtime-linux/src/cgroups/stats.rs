//! [`Stats`] from the files cgroup v1 and v2 keep. A file that does not exist (controller not
//! in use, kernel too old) leaves its fields `None`.

use std::path::Path;

use runtime_core::status::{CpuStats, IoStats, MemoryStats, PidsStats};
use runtime_core::{Result, Stats};

use super::fs::CgFs;

/// `key value` lines (memory.stat, cpu.stat, memory.events, memory.oom_control): the value of
/// `key`.
pub(crate) fn flat_key(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let (k, v) = line.split_once(char::is_whitespace)?;
        if k == key {
            v.trim().parse().ok()
        } else {
            None
        }
    })
}

/// A single-number file; `max` (v2) is `None`.
pub(crate) fn single(text: &str) -> Option<u64> {
    let text = text.trim();
    if text == "max" {
        None
    } else {
        text.parse().ok()
    }
}

/// v1 reports "no limit" as the largest page-aligned `i64`; anything that large means none.
fn v1_limit(text: &str) -> Option<u64> {
    single(text).filter(|v| *v < (i64::MAX as u64) / 2)
}

/// Bytes read and written over all devices of a v2 `io.stat`:
/// `8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=5 dios=6`.
pub(crate) fn io_stat(text: &str) -> (u64, u64) {
    let (mut read, mut write) = (0u64, 0u64);
    for word in text.split_whitespace() {
        if let Some((key, value)) = word.split_once('=') {
            let value: u64 = value.parse().unwrap_or(0);
            match key {
                "rbytes" => read = read.saturating_add(value),
                "wbytes" => write = write.saturating_add(value),
                _ => {}
            }
        }
    }
    (read, write)
}

/// Bytes read and written over all devices of a v1 `blkio.*io_service_bytes*`:
/// `8:0 Read 123` lines, and a `Total N` line at the end that is not per device.
pub(crate) fn blkio_service_bytes(text: &str) -> (u64, u64) {
    let (mut read, mut write) = (0u64, 0u64);
    for line in text.lines() {
        let mut words = line.split_whitespace();
        let (Some(_device), Some(op), Some(value)) = (words.next(), words.next(), words.next())
        else {
            continue;
        };
        let value: u64 = value.parse().unwrap_or(0);
        match op {
            "Read" => read = read.saturating_add(value),
            "Write" => write = write.saturating_add(value),
            _ => {}
        }
    }
    (read, write)
}

fn read_opt(fs: &CgFs, dir: &Path, file: &str) -> Result<Option<String>> {
    fs.read_opt(&dir.join(file))
}

/// Statistics of a v2 cgroup.
pub(crate) fn v2(fs: &CgFs, dir: &Path) -> Result<Stats> {
    let mut stats = Stats::default();
    let memory_stat = read_opt(fs, dir, "memory.stat")?;
    stats.memory = MemoryStats {
        usage: read_opt(fs, dir, "memory.current")?
            .as_deref()
            .and_then(single),
        // memory.peak came with Linux 5.19.
        max_usage: read_opt(fs, dir, "memory.peak")?
            .as_deref()
            .and_then(single),
        limit: read_opt(fs, dir, "memory.max")?.as_deref().and_then(single),
        cache: memory_stat.as_deref().and_then(|t| flat_key(t, "file")),
        rss: memory_stat.as_deref().and_then(|t| flat_key(t, "anon")),
    };
    if let Some(cpu) = read_opt(fs, dir, "cpu.stat")? {
        let ns = |key| flat_key(&cpu, key).map(|us| us.saturating_mul(1000));
        stats.cpu = CpuStats {
            total_ns: ns("usage_usec"),
            user_ns: ns("user_usec"),
            system_ns: ns("system_usec"),
            throttled_periods: flat_key(&cpu, "nr_throttled"),
            throttled_ns: ns("throttled_usec"),
        };
    }
    stats.pids = PidsStats {
        current: read_opt(fs, dir, "pids.current")?
            .as_deref()
            .and_then(single),
        limit: read_opt(fs, dir, "pids.max")?.as_deref().and_then(single),
    };
    if let Some(io) = read_opt(fs, dir, "io.stat")? {
        let (read, write) = io_stat(&io);
        stats.io = IoStats {
            read_bytes: Some(read),
            write_bytes: Some(write),
        };
    }
    Ok(stats)
}

/// The v1 directories of one container, per controller.
pub(crate) struct V1Dirs<'a> {
    pub memory: Option<&'a Path>,
    pub cpu: Option<&'a Path>,
    pub cpuacct: Option<&'a Path>,
    pub pids: Option<&'a Path>,
    pub blkio: Option<&'a Path>,
}

/// `cpuacct.stat` counts in USER_HZ, which the kernel fixes at 100 for user space on every
/// architecture.
const USER_HZ_NS: u64 = 1_000_000_000 / 100;

/// Statistics of a v1 container, read from each controller's hierarchy.
pub(crate) fn v1(fs: &CgFs, dirs: &V1Dirs<'_>) -> Result<Stats> {
    let mut stats = Stats::default();
    if let Some(dir) = dirs.memory {
        let memory_stat = read_opt(fs, dir, "memory.stat")?;
        // total_* include child cgroups, as v2's memory.stat does; plain cache/rss otherwise.
        let stat = |key: &str| {
            let text = memory_stat.as_deref()?;
            flat_key(text, &format!("total_{key}")).or_else(|| flat_key(text, key))
        };
        stats.memory = MemoryStats {
            usage: read_opt(fs, dir, "memory.usage_in_bytes")?
                .as_deref()
                .and_then(single),
            max_usage: read_opt(fs, dir, "memory.max_usage_in_bytes")?
                .as_deref()
                .and_then(single),
            limit: read_opt(fs, dir, "memory.limit_in_bytes")?
                .as_deref()
                .and_then(v1_limit),
            cache: stat("cache"),
            rss: stat("rss"),
        };
    }
    if let Some(dir) = dirs.cpuacct {
        stats.cpu.total_ns = read_opt(fs, dir, "cpuacct.usage")?
            .as_deref()
            .and_then(single);
        let user = read_opt(fs, dir, "cpuacct.usage_user")?;
        let sys = read_opt(fs, dir, "cpuacct.usage_sys")?;
        if let (Some(user), Some(sys)) = (user, sys) {
            stats.cpu.user_ns = single(&user);
            stats.cpu.system_ns = single(&sys);
        } else if let Some(stat) = read_opt(fs, dir, "cpuacct.stat")? {
            // Kernels before 4.7 have only the tick counts.
            stats.cpu.user_ns = flat_key(&stat, "user").map(|t| t.saturating_mul(USER_HZ_NS));
            stats.cpu.system_ns = flat_key(&stat, "system").map(|t| t.saturating_mul(USER_HZ_NS));
        }
    }
    if let Some(dir) = dirs.cpu {
        if let Some(cpu) = read_opt(fs, dir, "cpu.stat")? {
            stats.cpu.throttled_periods = flat_key(&cpu, "nr_throttled");
            stats.cpu.throttled_ns = flat_key(&cpu, "throttled_time");
        }
    }
    if let Some(dir) = dirs.pids {
        stats.pids = PidsStats {
            current: read_opt(fs, dir, "pids.current")?
                .as_deref()
                .and_then(single),
            limit: read_opt(fs, dir, "pids.max")?.as_deref().and_then(single),
        };
    }
    if let Some(dir) = dirs.blkio {
        // The recursive file counts child cgroups too, like v2's io.stat; older kernels lack it.
        let text = match read_opt(fs, dir, "blkio.throttle.io_service_bytes_recursive")? {
            Some(text) => Some(text),
            None => read_opt(fs, dir, "blkio.throttle.io_service_bytes")?,
        };
        if let Some(text) = text {
            let (read, write) = blkio_service_bytes(&text);
            stats.io = IoStats {
                read_bytes: Some(read),
                write_bytes: Some(write),
            };
        }
    }
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::testutil::TempDir;

    #[test]
    fn parsers() {
        let events = "low 0\nhigh 0\nmax 12\noom 3\noom_kill 2\noom_group_kill 0\n";
        assert_eq!(flat_key(events, "oom_kill"), Some(2));
        assert_eq!(flat_key(events, "oom"), Some(3));
        assert_eq!(flat_key(events, "nope"), None);
        assert_eq!(single("max\n"), None);
        assert_eq!(single("42\n"), Some(42));
        assert_eq!(v1_limit("9223372036854771712\n"), None);
        assert_eq!(v1_limit("67108864\n"), Some(64 << 20));
        assert_eq!(
            io_stat(
                "8:16 rbytes=1459200 wbytes=314773504 rios=192 wios=353 dbytes=0 dios=0\n\
                 8:0 rbytes=90430464 wbytes=299008000 rios=8950 wios=1252 dbytes=50331648 dios=3021\n"
            ),
            (1_459_200 + 90_430_464, 314_773_504 + 299_008_000)
        );
        assert_eq!(io_stat(""), (0, 0));
        assert_eq!(
            blkio_service_bytes(
                "8:0 Read 123\n8:0 Write 456\n8:0 Sync 500\n8:0 Async 79\n8:0 Discard 0\n\
                 8:0 Total 579\n8:16 Read 1\n8:16 Write 2\nTotal 582\n"
            ),
            (124, 458)
        );
    }

    #[test]
    fn v2_stats_from_kernel_files() {
        let dir = TempDir::new("v2-stats");
        dir.write("memory.current", "1048576\n");
        dir.write("memory.peak", "2097152\n");
        dir.write("memory.max", "67108864\n");
        dir.write(
            "memory.stat",
            "anon 786432\nfile 262144\nkernel 65536\nkernel_stack 16384\nshmem 0\n\
             file_mapped 0\nanon_thp 0\n",
        );
        dir.write(
            "cpu.stat",
            "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\ncore_sched.force_idle_usec 0\n\
             nr_periods 10\nnr_throttled 3\nthrottled_usec 250\nnr_bursts 0\nburst_usec 0\n",
        );
        dir.write("pids.current", "3\n");
        dir.write("pids.max", "max\n");
        dir.write(
            "io.stat",
            "8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n\
             253:0 rbytes=4096 wbytes=0 rios=1 wios=0 dbytes=0 dios=0\n",
        );
        let stats = v2(&CgFs::real(), dir.path()).unwrap();
        assert_eq!(
            stats,
            Stats {
                memory: MemoryStats {
                    usage: Some(1 << 20),
                    max_usage: Some(2 << 20),
                    limit: Some(64 << 20),
                    cache: Some(262_144),
                    rss: Some(786_432),
                },
                cpu: CpuStats {
                    total_ns: Some(1_500_000),
                    user_ns: Some(1_000_000),
                    system_ns: Some(500_000),
                    throttled_periods: Some(3),
                    throttled_ns: Some(250_000),
                },
                pids: PidsStats {
                    current: Some(3),
                    limit: None,
                },
                io: IoStats {
                    read_bytes: Some(8192),
                    write_bytes: Some(8192),
                },
            }
        );
    }

    #[test]
    fn v2_stats_without_controllers() {
        // A cgroup with no controller enabled has only the core files.
        let dir = TempDir::new("v2-bare");
        dir.write("cpu.stat", "usage_usec 7\nuser_usec 4\nsystem_usec 3\n");
        let stats = v2(&CgFs::real(), dir.path()).unwrap();
        assert_eq!(stats.cpu.total_ns, Some(7000));
        assert_eq!(stats.cpu.throttled_periods, None);
        assert_eq!(stats.memory, MemoryStats::default());
        assert_eq!(stats.pids, PidsStats::default());
        assert_eq!(stats.io, IoStats::default());
    }

    #[test]
    fn v1_stats_from_kernel_files() {
        let root = TempDir::new("v1-stats");
        let memory = root.subdir("memory");
        memory.write("memory.usage_in_bytes", "3145728\n");
        memory.write("memory.max_usage_in_bytes", "4194304\n");
        memory.write("memory.limit_in_bytes", "9223372036854771712\n");
        memory.write(
            "memory.stat",
            "cache 4096\nrss 8192\nrss_huge 0\nshmem 0\nmapped_file 0\n\
             hierarchical_memory_limit 9223372036854771712\n\
             total_cache 12288\ntotal_rss 16384\n",
        );
        let cpuacct = root.subdir("cpuacct");
        cpuacct.write("cpuacct.usage", "123456789\n");
        cpuacct.write("cpuacct.usage_user", "100000000\n");
        cpuacct.write("cpuacct.usage_sys", "23456789\n");
        let cpu = root.subdir("cpu");
        cpu.write(
            "cpu.stat",
            "nr_periods 20\nnr_throttled 5\nthrottled_time 7000000\nnr_bursts 0\nburst_time 0\n",
        );
        let pids = root.subdir("pids");
        pids.write("pids.current", "2\n");
        pids.write("pids.max", "64\n");
        let blkio = root.subdir("blkio");
        blkio.write(
            "blkio.throttle.io_service_bytes",
            "8:0 Read 123\n8:0 Write 456\n8:0 Sync 579\n8:0 Async 0\n8:0 Discard 0\n\
             8:0 Total 579\nTotal 579\n",
        );
        let dirs = V1Dirs {
            memory: Some(memory.path()),
            cpu: Some(cpu.path()),
            cpuacct: Some(cpuacct.path()),
            pids: Some(pids.path()),
            blkio: Some(blkio.path()),
        };
        let stats = v1(&CgFs::real(), &dirs).unwrap();
        assert_eq!(
            stats,
            Stats {
                memory: MemoryStats {
                    usage: Some(3 << 20),
                    max_usage: Some(4 << 20),
                    limit: None,
                    cache: Some(12_288),
                    rss: Some(16_384),
                },
                cpu: CpuStats {
                    total_ns: Some(123_456_789),
                    user_ns: Some(100_000_000),
                    system_ns: Some(23_456_789),
                    throttled_periods: Some(5),
                    throttled_ns: Some(7_000_000),
                },
                pids: PidsStats {
                    current: Some(2),
                    limit: Some(64),
                },
                io: IoStats {
                    read_bytes: Some(123),
                    write_bytes: Some(456),
                },
            }
        );
    }

    #[test]
    fn v1_stats_old_kernel_fallbacks() {
        let root = TempDir::new("v1-old");
        let cpuacct = root.subdir("cpuacct");
        cpuacct.write("cpuacct.usage", "5\n");
        cpuacct.write("cpuacct.stat", "user 3\nsystem 2\n");
        let memory = root.subdir("memory");
        memory.write("memory.stat", "cache 10\nrss 20\n");
        memory.write("memory.limit_in_bytes", "1048576\n");
        let dirs = V1Dirs {
            memory: Some(memory.path()),
            cpu: None,
            cpuacct: Some(cpuacct.path()),
            pids: None,
            blkio: None,
        };
        let stats = v1(&CgFs::real(), &dirs).unwrap();
        assert_eq!(stats.cpu.user_ns, Some(30_000_000));
        assert_eq!(stats.cpu.system_ns, Some(20_000_000));
        assert_eq!(stats.memory.cache, Some(10));
        assert_eq!(stats.memory.rss, Some(20));
        assert_eq!(stats.memory.limit, Some(1 << 20));
        assert_eq!(stats.memory.usage, None);
        assert_eq!(stats.io, IoStats::default());
    }
}
