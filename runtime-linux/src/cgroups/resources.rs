//! [`Resources`] as the interface-file writes of cgroup v1 and v2.
//!
//! One model for both versions. Where v2 has no file of the same meaning, the kernel's v2
//! documentation and the OCI conversions decide: `memory.low` for the soft limit,
//! `memory.swap.max` counting swap alone, `cpu.weight` from shares.

use runtime_core::{Resources, ThrottleDevice};

use super::layout::Controller;

/// One value to write into a container's cgroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Setting {
    /// The `resources.` field it comes from, for error messages.
    pub field: &'static str,
    pub controller: Controller,
    /// The file and the value to write to it. With more than one, the first file that exists
    /// is written (the weight file depends on the I/O scheduler).
    pub choices: Vec<(String, String)>,
}

impl Setting {
    fn one(
        field: &'static str,
        controller: Controller,
        file: impl Into<String>,
        value: String,
    ) -> Self {
        Setting {
            field,
            controller,
            choices: vec![(file.into(), value)],
        }
    }

    fn first_of(field: &'static str, controller: Controller, choices: &[(&str, String)]) -> Self {
        Setting {
            field,
            controller,
            choices: choices
                .iter()
                .map(|(file, value)| (file.to_string(), value.clone()))
                .collect(),
        }
    }
}

/// The per-device throttles, each with its v1 file and its v2 `io.max` key.
fn throttles(r: &Resources) -> [(&'static str, &[ThrottleDevice], &'static str, &'static str); 4] {
    [
        (
            "blkio_throttle_read_bps_device",
            &r.blkio_throttle_read_bps_device,
            "blkio.throttle.read_bps_device",
            "rbps",
        ),
        (
            "blkio_throttle_write_bps_device",
            &r.blkio_throttle_write_bps_device,
            "blkio.throttle.write_bps_device",
            "wbps",
        ),
        (
            "blkio_throttle_read_iops_device",
            &r.blkio_throttle_read_iops_device,
            "blkio.throttle.read_iops_device",
            "riops",
        ),
        (
            "blkio_throttle_write_iops_device",
            &r.blkio_throttle_write_iops_device,
            "blkio.throttle.write_iops_device",
            "wiops",
        ),
    ]
}

/// The v2 `cpu.weight` (1 to 10000, default 100) for v1 shares (2 to 262144, default 1024),
/// as OCI runtimes convert it: the two ranges mapped linearly onto each other.
pub(crate) fn shares_to_weight(shares: u64) -> u64 {
    let shares = shares.clamp(2, 262_144);
    1 + ((shares - 2) * 9999) / 262_142
}

/// The v2 `cpu.max` line. One number alone sets the quota and keeps the period.
pub(crate) fn cpu_max(quota: Option<i64>, period: Option<u64>) -> Option<String> {
    let quota = quota.map(|q| {
        if q < 0 {
            "max".to_string()
        } else {
            q.to_string()
        }
    });
    match (quota, period) {
        (None, None) => None,
        (Some(q), None) => Some(q),
        (q, Some(p)) => Some(format!("{} {p}", q.as_deref().unwrap_or("max"))),
    }
}

/// The v2 `memory.swap.max`: berth's `memory_swap` counts memory plus swap, v2 counts swap
/// alone.
pub(crate) fn swap_max(memory_swap: i64, memory_limit: Option<i64>) -> String {
    if memory_swap < 0 {
        return "max".into();
    }
    (memory_swap - memory_limit.unwrap_or(0)).max(0).to_string()
}

fn limit_or(value: i64, unlimited: &str) -> String {
    if value < 0 {
        unlimited.to_string()
    } else {
        value.to_string()
    }
}

/// The writes whose files are named alike in v1 and v2: cpuset and pids.
fn same_in_v1_and_v2(r: &Resources) -> Vec<Setting> {
    use Controller::*;
    let mut out = Vec::new();
    if let Some(v) = &r.cpuset_cpus {
        out.push(Setting::one(
            "cpuset_cpus",
            Cpuset,
            "cpuset.cpus",
            v.clone(),
        ));
    }
    if let Some(v) = &r.cpuset_mems {
        out.push(Setting::one(
            "cpuset_mems",
            Cpuset,
            "cpuset.mems",
            v.clone(),
        ));
    }
    if let Some(v) = r.pids_limit {
        out.push(Setting::one(
            "pids_limit",
            Pids,
            "pids.max",
            limit_or(v, "max"),
        ));
    }
    out
}

/// The v1 writes, in the order they must happen in a fresh cgroup: the memory limit before
/// memory+swap (which may never be below it), the CFS period before the quota.
pub(crate) fn v1_settings(r: &Resources) -> Vec<Setting> {
    use Controller::*;
    let mut out = Vec::new();
    if let Some(v) = r.memory_limit {
        out.push(Setting::one(
            "memory_limit",
            Memory,
            "memory.limit_in_bytes",
            v.to_string(),
        ));
    }
    if let Some(v) = r.memory_reservation {
        out.push(Setting::one(
            "memory_reservation",
            Memory,
            "memory.soft_limit_in_bytes",
            v.to_string(),
        ));
    }
    if let Some(v) = r.memory_swap {
        out.push(Setting::one(
            "memory_swap",
            Memory,
            "memory.memsw.limit_in_bytes",
            limit_or(v, "-1"),
        ));
    }
    if let Some(v) = r.memory_swappiness {
        out.push(Setting::one(
            "memory_swappiness",
            Memory,
            "memory.swappiness",
            v.to_string(),
        ));
    }
    if let Some(v) = r.memory_disable_oom_killer {
        out.push(Setting::one(
            "memory_disable_oom_killer",
            Memory,
            "memory.oom_control",
            u8::from(v).to_string(),
        ));
    }
    if let Some(v) = r.cpu_shares {
        out.push(Setting::one("cpu_shares", Cpu, "cpu.shares", v.to_string()));
    }
    // The real-time period first: the kernel checks the runtime against it.
    if let Some(v) = r.cpu_realtime_period {
        out.push(Setting::one(
            "cpu_realtime_period",
            Cpu,
            "cpu.rt_period_us",
            v.to_string(),
        ));
    }
    if let Some(v) = r.cpu_realtime_runtime {
        out.push(Setting::one(
            "cpu_realtime_runtime",
            Cpu,
            "cpu.rt_runtime_us",
            v.to_string(),
        ));
    }
    if let Some(v) = r.cpu_period {
        out.push(Setting::one(
            "cpu_period",
            Cpu,
            "cpu.cfs_period_us",
            v.to_string(),
        ));
    }
    if let Some(v) = r.cpu_quota {
        out.push(Setting::one(
            "cpu_quota",
            Cpu,
            "cpu.cfs_quota_us",
            limit_or(v, "-1"),
        ));
    }
    // After the quota: the kernel keeps the burst at or below it.
    if let Some(v) = r.cpu_burst {
        out.push(Setting::one(
            "cpu_burst",
            Cpu,
            "cpu.cfs_burst_us",
            v.to_string(),
        ));
    }
    if let Some(v) = r.cpu_idle {
        out.push(Setting::one("cpu_idle", Cpu, "cpu.idle", v.to_string()));
    }
    out.extend(same_in_v1_and_v2(r));
    if let Some(v) = r.blkio_weight {
        out.push(Setting::first_of(
            "blkio_weight",
            Blkio,
            &[
                ("blkio.weight", v.to_string()),
                ("blkio.bfq.weight", v.to_string()),
            ],
        ));
    }
    if let Some(v) = r.blkio_leaf_weight {
        out.push(Setting::one(
            "blkio_leaf_weight",
            Blkio,
            "blkio.leaf_weight",
            v.to_string(),
        ));
    }
    for device in &r.blkio_weight_device {
        let number = format!("{}:{}", device.major, device.minor);
        if let Some(weight) = device.weight {
            let line = format!("{number} {weight}");
            out.push(Setting::first_of(
                "blkio_weight_device",
                Blkio,
                &[
                    ("blkio.weight_device", line.clone()),
                    ("blkio.bfq.weight_device", line),
                ],
            ));
        }
        if let Some(leaf) = device.leaf_weight {
            out.push(Setting::one(
                "blkio_weight_device",
                Blkio,
                "blkio.leaf_weight_device",
                format!("{number} {leaf}"),
            ));
        }
    }
    for (field, devices, file, _) in throttles(r) {
        for device in devices {
            out.push(Setting::one(
                field,
                Blkio,
                file,
                format!("{}:{} {}", device.major, device.minor, device.rate),
            ));
        }
    }
    for limit in &r.hugepage_limits {
        out.push(Setting::one(
            "hugepage_limits",
            Hugetlb,
            format!("hugetlb.{}.limit_in_bytes", limit.page_size),
            limit.limit.to_string(),
        ));
    }
    if let Some(v) = r.network_class_id {
        out.push(Setting::one(
            "network_class_id",
            NetCls,
            "net_cls.classid",
            v.to_string(),
        ));
    }
    for priority in &r.network_priorities {
        out.push(Setting::one(
            "network_priorities",
            NetPrio,
            "net_prio.ifpriomap",
            format!("{} {}", priority.name, priority.priority),
        ));
    }
    out
}

/// The values of a running container that a v2 write needs where the update does not give
/// them: `memory.swap.max` is derived from the memory limit, and `cpu.max` holds the quota
/// together with the period.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Current {
    /// `memory.max` in bytes (`None`: no limit).
    pub memory_limit: Option<i64>,
    /// The quota of `cpu.max` (-1: `max`).
    pub cpu_quota: Option<i64>,
}

/// The v2 writes into a new cgroup.
pub(crate) fn v2_settings(r: &Resources) -> Vec<Setting> {
    v2_settings_keeping(r, Current::default())
}

/// The v2 writes of `r` into a cgroup whose other values are `current`: a period alone keeps
/// the current quota, and swap alone is counted from the current memory limit.
pub(crate) fn v2_settings_keeping(r: &Resources, current: Current) -> Vec<Setting> {
    use Controller::*;
    let mut out = Vec::new();
    if let Some(v) = r.memory_limit {
        out.push(Setting::one(
            "memory_limit",
            Memory,
            "memory.max",
            v.to_string(),
        ));
    }
    if let Some(v) = r.memory_reservation {
        out.push(Setting::one(
            "memory_reservation",
            Memory,
            "memory.low",
            v.to_string(),
        ));
    }
    if let Some(v) = r.memory_swap {
        out.push(Setting::one(
            "memory_swap",
            Memory,
            "memory.swap.max",
            swap_max(v, r.memory_limit.or(current.memory_limit)),
        ));
    }
    if let Some(v) = r.cpu_shares {
        out.push(Setting::one(
            "cpu_shares",
            Cpu,
            "cpu.weight",
            shares_to_weight(v).to_string(),
        ));
    }
    let quota = r.cpu_quota.or(r.cpu_period.and(current.cpu_quota));
    if let Some(v) = cpu_max(quota, r.cpu_period) {
        let field = if r.cpu_quota.is_some() {
            "cpu_quota"
        } else {
            "cpu_period"
        };
        out.push(Setting::one(field, Cpu, "cpu.max", v));
    }
    // After cpu.max: the kernel keeps the burst at or below the quota.
    if let Some(v) = r.cpu_burst {
        out.push(Setting::one(
            "cpu_burst",
            Cpu,
            "cpu.max.burst",
            v.to_string(),
        ));
    }
    if let Some(v) = r.cpu_idle {
        out.push(Setting::one("cpu_idle", Cpu, "cpu.idle", v.to_string()));
    }
    out.extend(same_in_v1_and_v2(r));
    if let Some(v) = r.blkio_weight {
        // BFQ's own file first: with BFQ as scheduler, io.weight (iocost) has no effect.
        out.push(Setting::first_of(
            "blkio_weight",
            Io,
            &[
                ("io.bfq.weight", v.to_string()),
                ("io.weight", format!("default {v}")),
            ],
        ));
    }
    // A device's weight is BFQ's alone, as runc writes it (leaf weights are refused on v2).
    for device in &r.blkio_weight_device {
        if let Some(weight) = device.weight {
            out.push(Setting::one(
                "blkio_weight_device",
                Io,
                "io.bfq.weight",
                format!("{}:{} {weight}", device.major, device.minor),
            ));
        }
    }
    for (field, devices, _, key) in throttles(r) {
        for device in devices {
            out.push(Setting::one(
                field,
                Io,
                "io.max",
                format!("{}:{} {key}={}", device.major, device.minor, device.rate),
            ));
        }
    }
    for limit in &r.hugepage_limits {
        out.push(Setting::one(
            "hugepage_limits",
            Hugetlb,
            format!("hugetlb.{}.max", limit.page_size),
            limit.limit.to_string(),
        ));
    }
    // Last, as runc does: a unified value overrides what the fields above wrote.
    for (file, value) in &r.unified {
        // A cgroup.* file has no controller; on v2, where this list is written, every
        // setting goes into the one directory and the controller only names what to enable.
        let controller = unified_controller(file).unwrap_or(Controller::Pids);
        out.push(Setting::one(
            "unified",
            controller,
            file.clone(),
            value.clone(),
        ));
    }
    out
}

/// The controller of a `unified` key (`memory.high`: memory); `None` for `cgroup.*` files,
/// which every cgroup has, and for controllers berth does not know.
pub(crate) fn unified_controller(file: &str) -> Option<Controller> {
    let (prefix, _) = file.split_once('.')?;
    Controller::from_v2_name(prefix)
}

/// The v2 controllers a container's cgroup gets, before intersecting with what the host
/// has: the ones whose statistics and OOM events berth reads always, cpuset only when asked
/// for (it restricts placement otherwise inherited for free).
pub(crate) fn v2_wanted(r: &Resources) -> Vec<Controller> {
    let mut wanted = vec![
        Controller::Cpu,
        Controller::Io,
        Controller::Memory,
        Controller::Pids,
    ];
    if r.cpuset_cpus.is_some() || r.cpuset_mems.is_some() {
        wanted.insert(0, Controller::Cpuset);
    }
    if !r.hugepage_limits.is_empty() {
        wanted.push(Controller::Hugetlb);
    }
    for file in r.unified.keys() {
        if let Some(controller) = unified_controller(file) {
            if !wanted.contains(&controller) {
                wanted.push(controller);
            }
        }
    }
    wanted.sort();
    wanted
}

/// Each `resources.` field that is set, with the controller it needs in this version.
pub(crate) fn fields_and_controllers(r: &Resources, v2: bool) -> Vec<(&'static str, Controller)> {
    let io = if v2 {
        Controller::Io
    } else {
        Controller::Blkio
    };
    let mut out = Vec::new();
    let mut need = |set: bool, field, controller| {
        if set {
            out.push((field, controller));
        }
    };
    need(r.memory_limit.is_some(), "memory_limit", Controller::Memory);
    need(
        r.memory_reservation.is_some(),
        "memory_reservation",
        Controller::Memory,
    );
    need(r.memory_swap.is_some(), "memory_swap", Controller::Memory);
    need(r.cpu_shares.is_some(), "cpu_shares", Controller::Cpu);
    need(r.cpu_quota.is_some(), "cpu_quota", Controller::Cpu);
    need(r.cpu_period.is_some(), "cpu_period", Controller::Cpu);
    need(r.cpuset_cpus.is_some(), "cpuset_cpus", Controller::Cpuset);
    need(r.cpuset_mems.is_some(), "cpuset_mems", Controller::Cpuset);
    need(r.pids_limit.is_some(), "pids_limit", Controller::Pids);
    need(r.blkio_weight.is_some(), "blkio_weight", io);
    need(
        r.memory_swappiness.is_some(),
        "memory_swappiness",
        Controller::Memory,
    );
    need(
        r.memory_disable_oom_killer.is_some(),
        "memory_disable_oom_killer",
        Controller::Memory,
    );
    need(
        r.memory_check_before_update == Some(true),
        "memory_check_before_update",
        Controller::Memory,
    );
    need(
        r.cpu_realtime_runtime.is_some(),
        "cpu_realtime_runtime",
        Controller::Cpu,
    );
    need(
        r.cpu_realtime_period.is_some(),
        "cpu_realtime_period",
        Controller::Cpu,
    );
    need(r.cpu_idle.is_some(), "cpu_idle", Controller::Cpu);
    need(r.cpu_burst.is_some(), "cpu_burst", Controller::Cpu);
    need(r.blkio_leaf_weight.is_some(), "blkio_leaf_weight", io);
    need(!r.blkio_weight_device.is_empty(), "blkio_weight_device", io);
    for (field, devices, _, _) in throttles(r) {
        need(!devices.is_empty(), field, io);
    }
    need(
        !r.hugepage_limits.is_empty(),
        "hugepage_limits",
        Controller::Hugetlb,
    );
    need(
        r.network_class_id.is_some(),
        "network_class_id",
        Controller::NetCls,
    );
    need(
        !r.network_priorities.is_empty(),
        "network_priorities",
        Controller::NetPrio,
    );
    if v2 {
        for file in r.unified.keys() {
            if let Some(controller) = unified_controller(file) {
                need(true, "unified", controller);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(settings: &[Setting]) -> Vec<(&str, String)> {
        settings
            .iter()
            .map(|s| (s.choices[0].0.as_str(), s.choices[0].1.clone()))
            .collect()
    }

    #[test]
    fn shares_to_weight_matches_the_oci_conversion() {
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(512), 20);
        assert_eq!(shares_to_weight(262_144), 10_000);
        // Out-of-range values (rejected by validation) still give a weight the kernel takes.
        assert_eq!(shares_to_weight(0), 1);
        assert_eq!(shares_to_weight(u64::MAX), 10_000);
    }

    #[test]
    fn cpu_max_lines() {
        assert_eq!(cpu_max(None, None), None);
        assert_eq!(cpu_max(Some(50_000), None).as_deref(), Some("50000"));
        assert_eq!(
            cpu_max(Some(50_000), Some(100_000)).as_deref(),
            Some("50000 100000")
        );
        assert_eq!(
            cpu_max(Some(-1), Some(20_000)).as_deref(),
            Some("max 20000")
        );
        assert_eq!(cpu_max(None, Some(20_000)).as_deref(), Some("max 20000"));
        assert_eq!(cpu_max(Some(-1), None).as_deref(), Some("max"));
    }

    #[test]
    fn swap_is_memory_plus_swap_in_v1_and_swap_alone_in_v2() {
        let r = Resources {
            memory_limit: Some(64 << 20),
            memory_swap: Some(96 << 20),
            ..Default::default()
        };
        assert_eq!(
            files(&v1_settings(&r)),
            vec![
                ("memory.limit_in_bytes", "67108864".to_string()),
                ("memory.memsw.limit_in_bytes", "100663296".to_string()),
            ]
        );
        assert_eq!(
            files(&v2_settings(&r)),
            vec![
                ("memory.max", "67108864".to_string()),
                ("memory.swap.max", "33554432".to_string()),
            ]
        );
        assert_eq!(swap_max(-1, Some(10)), "max");
        assert_eq!(swap_max(10, Some(10)), "0");
        let unlimited = Resources {
            memory_limit: Some(1 << 20),
            memory_swap: Some(-1),
            ..Default::default()
        };
        assert_eq!(
            files(&v1_settings(&unlimited))[1],
            ("memory.memsw.limit_in_bytes", "-1".to_string())
        );
    }

    fn everything() -> Resources {
        Resources {
            memory_limit: Some(1 << 30),
            memory_reservation: Some(1 << 29),
            memory_swap: Some(-1),
            cpu_shares: Some(512),
            cpu_quota: Some(-1),
            cpu_period: Some(50_000),
            cpuset_cpus: Some("0-1".into()),
            cpuset_mems: Some("0".into()),
            pids_limit: Some(-1),
            blkio_weight: Some(300),
            ..Default::default()
        }
    }

    #[test]
    fn v1_files_and_order() {
        let settings = v1_settings(&everything());
        assert_eq!(
            files(&settings),
            vec![
                ("memory.limit_in_bytes", "1073741824".into()),
                ("memory.soft_limit_in_bytes", "536870912".into()),
                ("memory.memsw.limit_in_bytes", "-1".into()),
                ("cpu.shares", "512".into()),
                ("cpu.cfs_period_us", "50000".into()),
                ("cpu.cfs_quota_us", "-1".into()),
                ("cpuset.cpus", "0-1".into()),
                ("cpuset.mems", "0".into()),
                ("pids.max", "max".into()),
                ("blkio.weight", "300".into()),
            ]
        );
        assert_eq!(
            settings[9].choices[1],
            ("blkio.bfq.weight".into(), "300".into())
        );
        assert_eq!(settings[9].controller, Controller::Blkio);
    }

    #[test]
    fn v2_files() {
        let settings = v2_settings(&everything());
        assert_eq!(
            files(&settings),
            vec![
                ("memory.max", "1073741824".into()),
                ("memory.low", "536870912".into()),
                ("memory.swap.max", "max".into()),
                ("cpu.weight", "20".into()),
                ("cpu.max", "max 50000".into()),
                ("cpuset.cpus", "0-1".into()),
                ("cpuset.mems", "0".into()),
                ("pids.max", "max".into()),
                ("io.bfq.weight", "300".into()),
            ]
        );
        assert_eq!(
            settings[8].choices[1],
            ("io.weight".into(), "default 300".into())
        );
        assert!(v2_settings(&Resources::default()).is_empty());
        assert!(v1_settings(&Resources::default()).is_empty());
    }

    #[test]
    fn wanted_v2_controllers() {
        use Controller::*;
        assert_eq!(
            v2_wanted(&Resources::default()),
            vec![Cpu, Io, Memory, Pids]
        );
        assert_eq!(
            v2_wanted(&everything()),
            vec![Cpuset, Cpu, Io, Memory, Pids]
        );
        let fields = fields_and_controllers(&everything(), true);
        assert_eq!(fields.len(), 10);
        assert_eq!(fields[9], ("blkio_weight", Io));
        assert_eq!(
            fields_and_controllers(&everything(), false)[9],
            ("blkio_weight", Blkio)
        );
    }
}
