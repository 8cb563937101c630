//! Checks of a [`Command`] that need no OS: run before anything is created, each failure naming
//! its field.

use std::collections::HashSet;

use crate::command::{
    Command, Mount, NamespaceKind, NamespaceMode, Namespaces, Resources, WindowsConfig,
    MAX_ID_MAPPINGS,
};
use crate::error::{Error, Result};
use crate::process::{ProcessConfig, UserSpec};

/// Longest container id accepted.
pub const MAX_ID_LEN: usize = 128;

/// Highest signal number berth accepts (Linux's `SIGRTMAX`; the C ABI's `BERTH_SIGNAL_MAX`).
pub const SIGNAL_MAX: i32 = 64;

/// Checks a signal number for `kill`: 1 to [`SIGNAL_MAX`]. The one range check for every path
/// (the C boundary, the Rust API, every driver).
pub fn validate_signal(signal: i32) -> Result<()> {
    if (1..=SIGNAL_MAX).contains(&signal) {
        Ok(())
    } else {
        Err(Error::invalid(
            "signal",
            format!("signal {signal} is out of range (1 to {SIGNAL_MAX})"),
        ))
    }
}

impl Command {
    /// Checks every field; the first problem found is returned, naming its JSON path.
    pub fn validate(&self) -> Result<()> {
        validate_id("id", &self.id)?;
        validate_abs_path("rootfs", &self.rootfs)?;
        if self.rootfs == "/" {
            return Err(Error::invalid("rootfs", "the host's / cannot be a rootfs"));
        }
        self.process.validate("process")?;
        validate_namespaces(&self.namespaces, &self.id)?;
        if let Some(hostname) = &self.hostname {
            validate_hostname(hostname)?;
            if !self.namespaces.is_new(NamespaceKind::Uts) {
                return Err(Error::invalid(
                    "hostname",
                    "setting a hostname needs a private uts namespace",
                ));
            }
        }
        for (i, mount) in self.mounts.iter().enumerate() {
            validate_mount(&format!("mounts[{i}]"), mount)?;
        }
        validate_resources("resources", &self.resources)?;
        if let Some(parent) = &self.cgroup_parent {
            validate_cgroup_parent("cgroup_parent", parent)?;
        }
        if let Some(path) = &self.cgroup_path {
            if self.cgroup_parent.is_some() {
                return Err(Error::invalid(
                    "cgroup_path",
                    "given together with cgroup_parent; give one of them",
                ));
            }
            validate_cgroup_parent("cgroup_path", path)?;
        }
        for (field, paths) in [
            ("masked_paths", &self.masked_paths),
            ("readonly_paths", &self.readonly_paths),
        ] {
            for (i, path) in paths.iter().flatten().enumerate() {
                validate_abs_path(&format!("{field}[{i}]"), path)?;
            }
        }
        for (key, value) in &self.sysctls {
            validate_sysctl(key, value, &self.namespaces)?;
        }
        validate_id_mappings(self)?;
        if let Some(windows) = &self.windows {
            validate_windows(windows)?;
        }
        Ok(())
    }
}

/// The `windows` section's own checks. How many layer folders it needs, and what its values
/// mean, is the Windows driver's to check; a Linux driver refuses the section whole.
fn validate_windows(windows: &WindowsConfig) -> Result<()> {
    for (i, folder) in windows.layer_folders.iter().enumerate() {
        validate_abs_path(&format!("windows.layer_folders[{i}]"), folder)?;
    }
    if let Some(hyperv) = &windows.hyperv {
        if let Some(path) = &hyperv.utility_vm_path {
            validate_abs_path("windows.hyperv.utility_vm_path", path)?;
        }
    }
    if let Some(namespace) = &windows.network_namespace {
        no_nul("windows.network_namespace", namespace)?;
    }
    for (i, suffix) in windows.dns_search_list.iter().enumerate() {
        no_nul(&format!("windows.dns_search_list[{i}]"), suffix)?;
    }
    Ok(())
}

fn validate_id_mappings(command: &Command) -> Result<()> {
    let private = command.namespaces.is_new(NamespaceKind::User);
    if command.idmapped_rootfs && !private {
        return Err(Error::invalid(
            "idmapped_rootfs",
            "needs namespaces.user \"private\"",
        ));
    }
    for (field, given) in [
        ("uid_mappings", &command.uid_mappings),
        ("gid_mappings", &command.gid_mappings),
    ] {
        let Some(mappings) = given else { continue };
        if !private {
            return Err(Error::invalid(field, "needs namespaces.user \"private\""));
        }
        if field == "uid_mappings" && mappings.is_empty() {
            return Err(Error::invalid(
                field,
                "empty: container root needs a host uid",
            ));
        }
        if mappings.len() > MAX_ID_MAPPINGS {
            return Err(Error::invalid(
                field,
                format!(
                    "{} ranges; the kernel takes at most {MAX_ID_MAPPINGS}",
                    mappings.len()
                ),
            ));
        }
        let end = |start: u32, size: u32| u64::from(start) + u64::from(size);
        for (i, m) in mappings.iter().enumerate() {
            let at = format!("{field}[{i}]");
            if m.size == 0 {
                return Err(Error::invalid(at, "size 0 maps nothing"));
            }
            for (side, start) in [("container_id", m.container_id), ("host_id", m.host_id)] {
                if end(start, m.size) > u64::from(u32::MAX) {
                    return Err(Error::invalid(
                        at,
                        format!("{side} {start} + size {} goes past 2^32 - 1", m.size),
                    ));
                }
            }
            for (j, other) in mappings[..i].iter().enumerate() {
                let overlap = |a: u32, b: u32| {
                    u64::from(a) < end(b, other.size) && u64::from(b) < end(a, m.size)
                };
                if overlap(m.container_id, other.container_id) {
                    return Err(Error::invalid(
                        at,
                        format!("its container ids overlap those of {field}[{j}]"),
                    ));
                }
                if overlap(m.host_id, other.host_id) {
                    return Err(Error::invalid(
                        at,
                        format!("its host ids overlap those of {field}[{j}]"),
                    ));
                }
            }
        }
    }
    Ok(())
}

impl ProcessConfig {
    /// Checks every field of the process; `field` is its JSON path (`process`).
    pub fn validate(&self, field: &str) -> Result<()> {
        if self.args.is_empty() {
            return Err(Error::invalid(
                format!("{field}.args"),
                "empty: a process needs a program to run",
            ));
        }
        if self.args[0].is_empty() {
            return Err(Error::invalid(
                format!("{field}.args[0]"),
                "the program name is empty",
            ));
        }
        for (i, arg) in self.args.iter().enumerate() {
            no_nul(&format!("{field}.args[{i}]"), arg)?;
        }
        for (i, kv) in self.env.iter().enumerate() {
            let at = format!("{field}.env[{i}]");
            no_nul(&at, kv)?;
            match kv.split_once('=') {
                Some((key, _)) if !key.is_empty() => {}
                _ => return Err(Error::invalid(at, format!("{kv:?} is not KEY=VALUE"))),
            }
        }
        validate_abs_path(&format!("{field}.cwd"), &self.cwd)?;
        UserSpec::parse(&self.user).map_err(|why| Error::invalid(format!("{field}.user"), why))?;
        if let Some(size) = self.console_size {
            if size.rows == 0 || size.cols == 0 {
                return Err(Error::invalid(
                    format!("{field}.console_size"),
                    "rows and cols must be at least 1",
                ));
            }
        }
        for (list, names) in [("cap_add", &self.cap_add), ("cap_drop", &self.cap_drop)] {
            for (i, name) in names.iter().enumerate() {
                no_nul(&format!("{field}.{list}[{i}]"), name)?;
            }
        }
        let mut seen = HashSet::new();
        for (i, limit) in self.rlimits.iter().enumerate() {
            let at = format!("{field}.rlimits[{i}]");
            let Some(name) = limit.canonical_name() else {
                return Err(Error::invalid(
                    at,
                    format!("unknown resource limit {:?}", limit.kind),
                ));
            };
            if limit.soft > limit.hard {
                return Err(Error::invalid(
                    at,
                    format!(
                        "{name}: soft limit {} is above hard limit {}",
                        limit.soft, limit.hard
                    ),
                ));
            }
            if !seen.insert(name) {
                return Err(Error::invalid(at, format!("{name} is given twice")));
            }
        }
        Ok(())
    }
}

/// Checks a container id: 1 to [`MAX_ID_LEN`] of `[A-Za-z0-9_.-]`, starting with a letter or
/// digit.
pub fn validate_id(field: &str, id: &str) -> Result<()> {
    if id.is_empty() {
        return Err(Error::invalid(field, "empty"));
    }
    if id.len() > MAX_ID_LEN {
        return Err(Error::invalid(
            field,
            format!("{} characters long; at most {MAX_ID_LEN}", id.len()),
        ));
    }
    if !id.as_bytes()[0].is_ascii_alphanumeric() {
        return Err(Error::invalid(
            field,
            format!("{id:?} must start with a letter or digit"),
        ));
    }
    if let Some(bad) = id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
    {
        return Err(Error::invalid(
            field,
            format!("{id:?} has {bad:?}; only letters, digits, '_', '.' and '-' are allowed"),
        ));
    }
    Ok(())
}

fn no_nul(field: &str, text: &str) -> Result<()> {
    if text.contains('\0') {
        return Err(Error::invalid(field, "contains a NUL character"));
    }
    Ok(())
}

/// Checks an absolute path: `/`-rooted everywhere, and on Windows also the absolute forms of
/// Windows (see [`is_absolute_path`]).
fn validate_abs_path(field: &str, path: &str) -> Result<()> {
    if path.is_empty() {
        return Err(Error::invalid(field, "empty; an absolute path is required"));
    }
    no_nul(field, path)?;
    if !is_absolute_path(path, cfg!(windows)) {
        return Err(Error::invalid(
            field,
            format!("{path:?} is relative; an absolute path is required"),
        ));
    }
    Ok(())
}

/// Whether `path` is absolute: `/`-rooted, or, with `windows_forms`, one of Windows' absolute
/// forms: a drive (`X:\...` or `X:/...`), a device or verbatim path (`\\.\...`,
/// `\\?\...`), or a share (`\\server\share...`). A drive-relative `X:dir` or a rooted
/// `\dir` (relative to the current drive) is not.
///
/// Validation passes `cfg!(windows)`: a command for a Linux driver keeps Linux's rule.
pub fn is_absolute_path(path: &str, windows_forms: bool) -> bool {
    path.starts_with('/') || (windows_forms && is_windows_absolute(path))
}

fn is_windows_absolute(path: &str) -> bool {
    let bytes = path.as_bytes();
    let drive = bytes.len() >= 3
        && bytes[0].is_ascii_alphabetic()
        && bytes[1] == b':'
        && matches!(bytes[2], b'\\' | b'/');
    if drive {
        return true;
    }
    let Some(rest) = path.strip_prefix(r"\\") else {
        return false;
    };
    if rest.starts_with(r"?\") || rest.starts_with(r".\") {
        return rest.len() > 2;
    }
    // A share: a server and a share name, each non-empty.
    match rest.split_once('\\') {
        Some((server, share)) => {
            !server.is_empty() && !share.is_empty() && !share.starts_with('\\')
        }
        None => false,
    }
}

fn validate_hostname(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with(['-', '.'])
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "hostname",
            format!("{name:?} is not a hostname (1 to 64 of letters, digits, '-', '.')"),
        ))
    }
}

fn validate_namespaces(namespaces: &Namespaces, own_id: &str) -> Result<()> {
    for kind in NamespaceKind::ALL {
        let field = format!("namespaces.{}", kind.field());
        match namespaces.get(kind) {
            NamespaceMode::Private => {}
            NamespaceMode::None if kind == NamespaceKind::Net => {}
            NamespaceMode::None => {
                return Err(Error::invalid(
                    field,
                    "\"none\" applies only to net; use \"private\", \"host\", {\"path\": ...} or {\"container\": ...}",
                ))
            }
            NamespaceMode::Host if kind == NamespaceKind::Mount => {
                return Err(Error::invalid(
                    field,
                    "\"host\" is not allowed: the rootfs needs a mount namespace of its own",
                ))
            }
            NamespaceMode::Host => {}
            NamespaceMode::Path(path) => validate_abs_path(&format!("{field}.path"), path)?,
            NamespaceMode::Container(other) => {
                validate_id(&format!("{field}.container"), other)?;
                if other == own_id {
                    return Err(Error::invalid(
                        format!("{field}.container"),
                        "a container cannot share a namespace with itself",
                    ));
                }
            }
        }
    }
    Ok(())
}

fn validate_mount(field: &str, mount: &Mount) -> Result<()> {
    validate_abs_path(&format!("{field}.destination"), &mount.destination)?;
    if mount.destination.trim_end_matches('/').is_empty() {
        return Err(Error::invalid(
            format!("{field}.destination"),
            "cannot mount over the container's /",
        ));
    }
    if mount.kind.is_empty() {
        return Err(Error::invalid(format!("{field}.type"), "empty"));
    }
    no_nul(&format!("{field}.type"), &mount.kind)?;
    if mount.is_bind() {
        match &mount.source {
            Some(source) => validate_abs_path(&format!("{field}.source"), source)?,
            None => {
                return Err(Error::invalid(
                    format!("{field}.source"),
                    "a bind mount needs an absolute source path",
                ))
            }
        }
    } else if let Some(source) = &mount.source {
        no_nul(&format!("{field}.source"), source)?;
    }
    for (i, option) in mount.options.iter().enumerate() {
        let at = format!("{field}.options[{i}]");
        no_nul(&at, option)?;
        if option.is_empty() {
            return Err(Error::invalid(at, "empty option"));
        }
    }
    Ok(())
}

/// Checks resource limits; `at` is their JSON path (`resources`).
pub(crate) fn validate_resources(at: &str, r: &Resources) -> Result<()> {
    let positive = |field: &str, value: Option<i64>, unlimited_ok: bool| -> Result<()> {
        match value {
            None => Ok(()),
            Some(-1) if unlimited_ok => Ok(()),
            Some(v) if v > 0 => Ok(()),
            Some(v) => Err(Error::invalid(
                format!("{at}.{field}"),
                if unlimited_ok {
                    format!("{v}: must be positive, or -1 for unlimited")
                } else {
                    format!("{v}: must be positive")
                },
            )),
        }
    };
    positive("memory_limit", r.memory_limit, false)?;
    positive("memory_reservation", r.memory_reservation, false)?;
    positive("memory_swap", r.memory_swap, true)?;
    positive("cpu_quota", r.cpu_quota, true)?;
    positive("pids_limit", r.pids_limit, true)?;
    if let (Some(swap), Some(limit)) = (r.memory_swap, r.memory_limit) {
        if swap != -1 && swap < limit {
            return Err(Error::invalid(
                format!("{at}.memory_swap"),
                format!("{swap} is below memory_limit {limit}; it counts memory plus swap"),
            ));
        }
    }
    if r.memory_swap.is_some() && r.memory_limit.is_none() {
        return Err(Error::invalid(
            format!("{at}.memory_swap"),
            "needs memory_limit as well",
        ));
    }
    if let (Some(reservation), Some(limit)) = (r.memory_reservation, r.memory_limit) {
        if reservation > limit {
            return Err(Error::invalid(
                format!("{at}.memory_reservation"),
                format!("{reservation} is above memory_limit {limit}"),
            ));
        }
    }
    if let Some(shares) = r.cpu_shares {
        if !(2..=262_144).contains(&shares) {
            return Err(Error::invalid(
                format!("{at}.cpu_shares"),
                format!("{shares}: must be 2 to 262144"),
            ));
        }
    }
    if let Some(period) = r.cpu_period {
        if !(1_000..=1_000_000).contains(&period) {
            return Err(Error::invalid(
                format!("{at}.cpu_period"),
                format!("{period}: must be 1000 to 1000000 microseconds"),
            ));
        }
    }
    if let Some(quota) = r.cpu_quota {
        if quota != -1 && quota < 1_000 {
            return Err(Error::invalid(
                format!("{at}.cpu_quota"),
                format!("{quota}: must be at least 1000 microseconds, or -1"),
            ));
        }
    }
    if let Some(weight) = r.blkio_weight {
        if !(10..=1000).contains(&weight) {
            return Err(Error::invalid(
                format!("{at}.blkio_weight"),
                format!("{weight}: must be 10 to 1000"),
            ));
        }
    }
    for (field, list) in [
        ("cpuset_cpus", &r.cpuset_cpus),
        ("cpuset_mems", &r.cpuset_mems),
    ] {
        if let Some(list) = list {
            parse_id_list(list).map_err(|why| Error::invalid(format!("{at}.{field}"), why))?;
        }
    }
    validate_more_resources(at, r)
}

/// A weight of blkio: 10 to 1000.
fn weight_in_range(field: String, weight: Option<u16>) -> Result<()> {
    match weight {
        Some(w) if !(10..=1000).contains(&w) => {
            Err(Error::invalid(field, format!("{w}: must be 10 to 1000")))
        }
        _ => Ok(()),
    }
}

/// The kernel's limits on device numbers (12 bits of major, 20 of minor).
fn device_numbers(field: &str, major: u32, minor: u32) -> Result<()> {
    if major >= 1 << 12 {
        return Err(Error::invalid(
            format!("{field}.major"),
            format!("{major} is out of range (0 to 4095)"),
        ));
    }
    if minor >= 1 << 20 {
        return Err(Error::invalid(
            format!("{field}.minor"),
            format!("{minor} is out of range (0 to 1048575)"),
        ));
    }
    Ok(())
}

/// Whether `size` is a huge page size as cgroup files name it: digits and `KB`, `MB`, `GB`
/// (`2MB`, `1GB`).
pub fn is_page_size_name(size: &str) -> bool {
    let digits = size.trim_end_matches(['K', 'M', 'G', 'T', 'B']);
    let unit = &size[digits.len()..];
    !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
        && matches!(unit, "KB" | "MB" | "GB" | "TB")
}

/// The fields beyond the first ten (memory and CPU extras, per-device block I/O, huge
/// pages, network classes and priorities, unified).
fn validate_more_resources(at: &str, r: &Resources) -> Result<()> {
    if let Some(swappiness) = r.memory_swappiness {
        if swappiness > 100 {
            return Err(Error::invalid(
                format!("{at}.memory_swappiness"),
                format!("{swappiness}: must be 0 to 100"),
            ));
        }
    }
    if r.memory_use_hierarchy == Some(false) {
        return Err(Error::invalid(
            format!("{at}.memory_use_hierarchy"),
            "false: the kernel accounts memory hierarchically in every cgroup, and no longer \
             lets it be turned off",
        ));
    }
    if let Some(runtime) = r.cpu_realtime_runtime {
        if runtime < -1 {
            return Err(Error::invalid(
                format!("{at}.cpu_realtime_runtime"),
                format!("{runtime}: must be 0 or more microseconds, or -1 for no limit"),
            ));
        }
    }
    if let Some(period) = r.cpu_realtime_period {
        if !(1..=1_000_000_000).contains(&period) {
            return Err(Error::invalid(
                format!("{at}.cpu_realtime_period"),
                format!("{period}: must be 1 to 1000000000 microseconds"),
            ));
        }
        if let Some(runtime) = r.cpu_realtime_runtime {
            if runtime > 0 && runtime as u64 > period {
                return Err(Error::invalid(
                    format!("{at}.cpu_realtime_runtime"),
                    format!("{runtime} is above cpu_realtime_period {period}"),
                ));
            }
        }
    }
    if let Some(idle) = r.cpu_idle {
        if !(0..=1).contains(&idle) {
            return Err(Error::invalid(
                format!("{at}.cpu_idle"),
                format!("{idle}: must be 0 or 1"),
            ));
        }
    }
    if let (Some(burst), Some(quota)) = (r.cpu_burst, r.cpu_quota) {
        if quota > 0 && burst > quota as u64 {
            return Err(Error::invalid(
                format!("{at}.cpu_burst"),
                format!("{burst} is above cpu_quota {quota}"),
            ));
        }
    }
    weight_in_range(format!("{at}.blkio_leaf_weight"), r.blkio_leaf_weight)?;
    for (i, device) in r.blkio_weight_device.iter().enumerate() {
        let field = format!("{at}.blkio_weight_device[{i}]");
        device_numbers(&field, device.major, device.minor)?;
        if device.weight.is_none() && device.leaf_weight.is_none() {
            return Err(Error::invalid(
                field,
                "gives neither weight nor leaf_weight",
            ));
        }
        weight_in_range(format!("{field}.weight"), device.weight)?;
        weight_in_range(format!("{field}.leaf_weight"), device.leaf_weight)?;
    }
    for (name, list) in [
        (
            "blkio_throttle_read_bps_device",
            &r.blkio_throttle_read_bps_device,
        ),
        (
            "blkio_throttle_write_bps_device",
            &r.blkio_throttle_write_bps_device,
        ),
        (
            "blkio_throttle_read_iops_device",
            &r.blkio_throttle_read_iops_device,
        ),
        (
            "blkio_throttle_write_iops_device",
            &r.blkio_throttle_write_iops_device,
        ),
    ] {
        for (i, device) in list.iter().enumerate() {
            device_numbers(&format!("{at}.{name}[{i}]"), device.major, device.minor)?;
        }
    }
    for (i, limit) in r.hugepage_limits.iter().enumerate() {
        if !is_page_size_name(&limit.page_size) {
            return Err(Error::invalid(
                format!("{at}.hugepage_limits[{i}].page_size"),
                format!("{:?} is no page size like 2MB or 1GB", limit.page_size),
            ));
        }
        if r.hugepage_limits[..i]
            .iter()
            .any(|other| other.page_size == limit.page_size)
        {
            return Err(Error::invalid(
                format!("{at}.hugepage_limits[{i}].page_size"),
                format!("{} is given twice", limit.page_size),
            ));
        }
    }
    for (i, priority) in r.network_priorities.iter().enumerate() {
        let name = &priority.name;
        if name.is_empty()
            || name.len() > 15
            || name == "."
            || name == ".."
            || name.contains(['/', ' ', '\n', '\0'])
        {
            return Err(Error::invalid(
                format!("{at}.network_priorities[{i}].name"),
                format!("{name:?} is no network interface name"),
            ));
        }
    }
    for (key, value) in &r.unified {
        let field = format!("{at}.unified");
        let plain = !key.is_empty()
            && key != "."
            && key != ".."
            && !key.contains(['/', '\0'])
            && key
                .split_once('.')
                .is_some_and(|(c, p)| !c.is_empty() && !p.is_empty());
        if !plain {
            return Err(Error::invalid(
                field,
                format!(
                    "{key:?} is no interface file name like memory.high (a file of the \
                     container's own cgroup: no '/', '.' or '..')"
                ),
            ));
        }
        no_nul(&format!("{field}.{key}"), value)?;
    }
    Ok(())
}

/// Parses a kernel list such as `0-2,4` into its members, sorted.
pub fn parse_id_list(list: &str) -> std::result::Result<Vec<u32>, String> {
    let mut ids = Vec::new();
    for part in list.trim().split(',') {
        let bad = || format!("{list:?} is not a list like 0-2,4");
        let (first, last) = match part.split_once('-') {
            Some((a, b)) => (
                a.parse::<u32>().map_err(|_| bad())?,
                b.parse::<u32>().map_err(|_| bad())?,
            ),
            None => {
                let n = part.parse::<u32>().map_err(|_| bad())?;
                (n, n)
            }
        };
        if first > last || last - first > 65_536 {
            return Err(bad());
        }
        ids.extend(first..=last);
    }
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

fn validate_cgroup_parent(field: &str, parent: &str) -> Result<()> {
    no_nul(field, parent)?;
    let trimmed = parent.trim_matches('/');
    if trimmed.is_empty() {
        return Err(Error::invalid(
            field,
            "empty; containers must not sit in the root cgroup",
        ));
    }
    for part in trimmed.split('/') {
        if part.is_empty() || part == "." || part == ".." {
            return Err(Error::invalid(
                field,
                format!("{parent:?} has an empty, '.' or '..' component"),
            ));
        }
    }
    Ok(())
}

/// Sysctl prefixes that belong to a namespace the container has of its own, and which one.
const NAMESPACED_SYSCTLS: &[(&str, NamespaceKind)] = &[
    ("kernel.shm", NamespaceKind::Ipc),
    ("kernel.msg", NamespaceKind::Ipc),
    ("kernel.sem", NamespaceKind::Ipc),
    ("fs.mqueue.", NamespaceKind::Ipc),
    ("net.", NamespaceKind::Net),
];

fn validate_sysctl(key: &str, value: &str, namespaces: &Namespaces) -> Result<()> {
    let field = format!("sysctls.{key}");
    let well_formed = !key.is_empty()
        && !key.starts_with('.')
        && !key.contains("..")
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'/'));
    if !well_formed {
        return Err(Error::invalid(field, "not a sysctl name"));
    }
    no_nul(&field, value)?;
    let Some((_, kind)) = NAMESPACED_SYSCTLS
        .iter()
        .find(|(prefix, _)| key.starts_with(prefix))
    else {
        return Err(Error::invalid(
            field,
            "not a namespaced sysctl (kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*, net.*)",
        ));
    };
    if !namespaces.is_new(*kind) {
        return Err(Error::invalid(
            field,
            format!(
                "needs a private {} namespace; it would change the host's",
                kind.field()
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::{HyperV, WindowsConfig};
    use crate::error::ErrorKind;

    fn windows_command(layer_folders: &[&str]) -> Command {
        let mut command = Command::new("c1", "/rootfs", ProcessConfig::new(["/bin/true"]));
        command.windows = Some(WindowsConfig {
            layer_folders: layer_folders.iter().map(|f| f.to_string()).collect(),
            ..WindowsConfig::default()
        });
        command
    }

    #[test]
    fn slash_rooted_paths_are_absolute_everywhere() {
        for windows_forms in [false, true] {
            assert!(is_absolute_path("/", windows_forms));
            assert!(is_absolute_path("/abs/path", windows_forms));
            assert!(is_absolute_path("//server/share", windows_forms));
            assert!(!is_absolute_path("relative", windows_forms));
            assert!(!is_absolute_path("./x", windows_forms));
            assert!(!is_absolute_path("", windows_forms));
        }
    }

    #[test]
    fn windows_absolute_forms_count_only_when_asked_for() {
        let absolute = [
            r"C:\",
            r"C:\layers\base",
            "c:/layers/base",
            r"\\?\Volume{5c1f6a3e-0b6e-4c8e-9f1a-3d2b7e4c9a10}\",
            r"\\?\C:\very\long\path",
            r"\\.\pipe\docker_engine",
            r"\\server\share",
            r"\\server\share\dir",
        ];
        for path in absolute {
            assert!(is_absolute_path(path, true), "{path}");
            assert!(!is_absolute_path(path, false), "{path}");
        }
        let relative = [
            r"C:",
            r"C:dir",
            r"\dir",
            r"dir\file",
            r"\\",
            r"\\server",
            r"\\server\",
            r"\\?\",
            r"\\.\",
            "1:/x",
        ];
        for path in relative {
            assert!(!is_absolute_path(path, true), "{path}");
        }
    }

    #[test]
    fn validation_takes_windows_forms_only_on_windows() {
        let command = windows_command(&[r"C:\layers\base", r"C:\layers\scratch"]);
        if cfg!(windows) {
            command.validate().unwrap();
        } else {
            // Linux keeps its rule: a Windows path is relative there.
            let error = command.validate().unwrap_err();
            assert_eq!(error.kind(), ErrorKind::InvalidArgument);
            assert!(
                error.to_string().contains("windows.layer_folders[0]"),
                "{error}"
            );
        }
        let mut cwd = Command::new("c1", "/rootfs", ProcessConfig::new(["/bin/true"]));
        cwd.process.cwd = r"C:\app".into();
        assert_eq!(cwd.validate().is_ok(), cfg!(windows));
    }

    #[test]
    fn layer_folders_must_be_absolute_paths_without_nul() {
        windows_command(&["/layers/base", "/layers/scratch"])
            .validate()
            .unwrap();
        // Their number is the Windows driver's to check.
        windows_command(&[]).validate().unwrap();
        for (folders, field) in [
            (&["/layers/base", ""][..], "windows.layer_folders[1]"),
            (&["layers/base"][..], "windows.layer_folders[0]"),
            (&["/layers/\0base"][..], "windows.layer_folders[0]"),
        ] {
            let error = windows_command(folders).validate().unwrap_err();
            assert_eq!(error.kind(), ErrorKind::InvalidArgument);
            assert!(error.to_string().contains(field), "{error}");
        }
    }

    #[test]
    fn the_rest_of_the_windows_section_has_no_nul() {
        let mut command = windows_command(&["/layers/base", "/layers/scratch"]);
        let windows = command.windows.as_mut().unwrap();
        windows.dns_search_list = vec!["ok".into(), "bad\0".into()];
        let error = command.validate().unwrap_err();
        assert!(
            error.to_string().contains("windows.dns_search_list[1]"),
            "{error}"
        );

        let mut command = windows_command(&["/layers/base", "/layers/scratch"]);
        command.windows.as_mut().unwrap().network_namespace = Some("\0".into());
        let error = command.validate().unwrap_err();
        assert!(
            error.to_string().contains("windows.network_namespace"),
            "{error}"
        );

        let mut command = windows_command(&["/layers/base", "/layers/scratch"]);
        command.windows.as_mut().unwrap().hyperv = Some(HyperV {
            utility_vm_path: Some("relative".into()),
        });
        let error = command.validate().unwrap_err();
        assert!(
            error.to_string().contains("windows.hyperv.utility_vm_path"),
            "{error}"
        );
    }

    #[test]
    fn linux_paths_are_checked_as_before() {
        let mut command = Command::new("c1", "rootfs", ProcessConfig::new(["/bin/true"]));
        let error = command.validate().unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid rootfs: \"rootfs\" is relative; an absolute path is required"
        );
        command.rootfs = "/rootfs".into();
        command.validate().unwrap();
    }
}
