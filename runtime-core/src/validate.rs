//! Checks of a [`Command`] that need no OS: run before anything is created, each failure naming
//! its field.

use std::collections::HashSet;

use crate::command::{
    Command, DeviceNode, IdMapping, Mount, NamespaceKind, NamespaceMode, Namespaces, Resources,
    WindowsConfig, MAX_ID_MAPPINGS, ROOTFS_PROPAGATIONS,
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
        if let Some(domainname) = &self.domainname {
            validate_hostname(domainname).map_err(|_| {
                Error::invalid(
                    "domainname",
                    format!("{domainname:?} is not a domain name (1 to 64 of letters, digits, '-', '.')"),
                )
            })?;
            if !self.namespaces.is_new(NamespaceKind::Uts) {
                return Err(Error::invalid(
                    "domainname",
                    "setting a domain name needs a private uts namespace",
                ));
            }
        }
        if self.init_signal_group && !self.init {
            return Err(Error::invalid(
                "init_signal_group",
                "the init forwards signals: set init as well",
            ));
        }
        for (i, mount) in self.mounts.iter().enumerate() {
            validate_mount(&format!("mounts[{i}]"), mount)?;
            let field = format!("mounts[{i}]");
            for (name, mappings) in [
                ("uid_mappings", &mount.uid_mappings),
                ("gid_mappings", &mount.gid_mappings),
            ] {
                if let Some(mappings) = mappings {
                    check_mapping_list(&format!("{field}.{name}"), mappings)?;
                }
            }
            if mount.is_idmapped() {
                if !mount.is_bind() {
                    return Err(Error::invalid(
                        format!("{field}.options"),
                        "an idmapped mount (idmap, ridmap or mappings) must be a bind",
                    ));
                }
                if mount.uid_mappings.is_none()
                    && mount.gid_mappings.is_none()
                    && !self.namespaces.is_new(NamespaceKind::User)
                {
                    return Err(Error::invalid(
                        format!("{field}.options"),
                        "idmap without mappings of its own maps through the container's user \
                         namespace: it needs namespaces.user \"private\"",
                    ));
                }
            }
        }
        for (i, node) in self.device_nodes.iter().enumerate() {
            validate_device_node(&format!("device_nodes[{i}]"), node)?;
            let earlier = self.device_nodes[..i]
                .iter()
                .any(|other| same_path(&other.path, &node.path));
            let host = self
                .devices
                .iter()
                .any(|d| same_path(d.container_path.as_deref().unwrap_or(&d.path), &node.path));
            if earlier || host {
                return Err(Error::invalid(
                    format!("device_nodes[{i}].path"),
                    format!("{} is given twice (in device_nodes or devices)", node.path),
                ));
            }
        }
        if let Some(propagation) = &self.rootfs_propagation {
            if !ROOTFS_PROPAGATIONS.contains(&propagation.as_str()) {
                return Err(Error::invalid(
                    "rootfs_propagation",
                    format!(
                        "{propagation:?} is none of {}",
                        ROOTFS_PROPAGATIONS.join(", ")
                    ),
                ));
            }
            if !self.namespaces.is_new(NamespaceKind::Mount) {
                return Err(Error::invalid(
                    "rootfs_propagation",
                    "the propagation of the root needs a private mount namespace",
                ));
            }
        }
        if let Some(personality) = &self.personality {
            if !matches!(personality.domain.as_str(), "LINUX" | "LINUX32") {
                return Err(Error::invalid(
                    "personality.domain",
                    format!("{:?} is neither LINUX nor LINUX32", personality.domain),
                ));
            }
            if let Some(flag) = personality.flags.first() {
                return Err(Error::invalid(
                    "personality.flags",
                    format!("{flag:?}: the OCI runtime spec defines no personality flag"),
                ));
            }
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
        check_mapping_list(field, mappings)?;
    }
    Ok(())
}

/// The checks of one list of id ranges (`field` names it): at most the kernel's number, no
/// empty range, none past 2^32 - 1, no overlap on either side.
fn check_mapping_list(field: &str, mappings: &[IdMapping]) -> Result<()> {
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
            let overlap =
                |a: u32, b: u32| u64::from(a) < end(b, other.size) && u64::from(b) < end(a, m.size);
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
        if let Some(sets) = &self.capabilities {
            let others = [
                ("privileged", self.privileged),
                ("cap_add", !self.cap_add.is_empty()),
                ("cap_drop", !self.cap_drop.is_empty()),
            ];
            if let Some((other, _)) = others.iter().find(|(_, given)| *given) {
                return Err(Error::invalid(
                    format!("{field}.capabilities"),
                    format!("exclusive with {field}.{other}: the sets are exact, give them alone"),
                ));
            }
            for (list, names) in sets.lists() {
                for (i, name) in names.iter().enumerate() {
                    no_nul(&format!("{field}.capabilities.{list}[{i}]"), name)?;
                }
            }
        }
        if self.groups.is_some() && !self.additional_gids.is_empty() {
            return Err(Error::invalid(
                format!("{field}.groups"),
                format!(
                    "exclusive with {field}.additional_gids: groups is the exact list, \
                     additional_gids adds to berth's"
                ),
            ));
        }
        if let Some(umask) = self.umask {
            if umask > 0o777 {
                return Err(Error::invalid(
                    format!("{field}.umask"),
                    format!("{umask:#o} is out of range (0 to 0o777)"),
                ));
            }
        }
        if let Some(adj) = self.oom_score_adj {
            if !(-1000..=1000).contains(&adj) {
                return Err(Error::invalid(
                    format!("{field}.oom_score_adj"),
                    format!("{adj} is out of range (-1000 to 1000)"),
                ));
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

/// Whether two absolute paths name the same place, by their components.
fn same_path(a: &str, b: &str) -> bool {
    let parts = |p: &'_ str| -> Vec<String> {
        p.split('/')
            .filter(|c| !c.is_empty() && *c != ".")
            .map(str::to_string)
            .collect()
    };
    parts(a) == parts(b)
}

/// The largest major and minor numbers the kernel's `dev_t` holds (12 and 20 bits).
const MAX_MAJOR: u32 = (1 << 12) - 1;
const MAX_MINOR: u32 = (1 << 20) - 1;

fn validate_device_node(field: &str, node: &DeviceNode) -> Result<()> {
    validate_abs_path(&format!("{field}.path"), &node.path)?;
    let parts: Vec<&str> = node
        .path
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    if parts.contains(&"..") {
        return Err(Error::invalid(
            format!("{field}.path"),
            format!("{}: a '..' component is refused", node.path),
        ));
    }
    if parts.is_empty() || parts == ["dev"] {
        return Err(Error::invalid(
            format!("{field}.path"),
            format!("{} names no node", node.path),
        ));
    }
    if parts[0] == "dev" {
        // berth's own entries in /dev: links, mounts and the console it binds a terminal on.
        const RESERVED: [&str; 9] = [
            "fd", "stdin", "stdout", "stderr", "ptmx", "pts", "shm", "mqueue", "console",
        ];
        if parts.len() >= 2 && RESERVED.contains(&parts[1]) {
            return Err(Error::invalid(
                format!("{field}.path"),
                format!(
                    "{} is berth's own /dev/{} (a link, a mount or the console)",
                    node.path, parts[1]
                ),
            ));
        }
        // The standard nodes may be given again with their own numbers (another mode or
        // owner), never as another device: masks and programs rely on them.
        const STANDARD: [(&str, u32, u32); 6] = [
            ("null", 1, 3),
            ("zero", 1, 5),
            ("full", 1, 7),
            ("random", 1, 8),
            ("urandom", 1, 9),
            ("tty", 5, 0),
        ];
        if let (2, Some((name, major, minor))) = (
            parts.len(),
            STANDARD.iter().find(|(name, _, _)| *name == parts[1]),
        ) {
            let same = matches!(node.kind, 'c' | 'u')
                && node.major == Some(*major)
                && node.minor == Some(*minor);
            if !same {
                return Err(Error::invalid(
                    format!("{field}.path"),
                    format!(
                        "/dev/{name} is the character device {major}:{minor} in every container"
                    ),
                ));
            }
        }
    }
    match node.kind {
        'c' | 'u' | 'b' => {
            for (name, number, max) in [
                ("major", node.major, MAX_MAJOR),
                ("minor", node.minor, MAX_MINOR),
            ] {
                match number {
                    None => {
                        return Err(Error::invalid(
                            format!("{field}.{name}"),
                            format!("required for a device of type {}", node.kind),
                        ))
                    }
                    Some(n) if n > max => {
                        return Err(Error::invalid(
                            format!("{field}.{name}"),
                            format!("{n} is above the kernel's {max}"),
                        ))
                    }
                    Some(_) => {}
                }
            }
        }
        'p' => {
            if node.major.unwrap_or(0) != 0 || node.minor.unwrap_or(0) != 0 {
                return Err(Error::invalid(
                    format!("{field}.major"),
                    "a FIFO (type p) has no device numbers",
                ));
            }
        }
        other => {
            return Err(Error::invalid(
                format!("{field}.type"),
                format!("{other:?} is not a node type (c, u, b or p)"),
            ))
        }
    }
    if let Some(mode) = node.file_mode {
        if mode & !0o7777 != 0 {
            return Err(Error::invalid(
                format!("{field}.file_mode"),
                format!("{mode:#o} has bits beyond the permission bits (0o7777)"),
            ));
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

    fn process_error(process: &ProcessConfig) -> String {
        let error = process.validate("process").unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidArgument, "{error}");
        error.to_string()
    }

    #[test]
    fn explicit_capabilities_are_exclusive_with_the_other_capability_fields() {
        let mut process = ProcessConfig::new(["/bin/true"]);
        process.capabilities = Some(crate::process::CapabilitySets {
            bounding: vec!["CAP_CHOWN".into()],
            ..Default::default()
        });
        process.validate("process").unwrap();
        for other in ["privileged", "cap_add", "cap_drop"] {
            let mut both = process.clone();
            match other {
                "privileged" => both.privileged = true,
                "cap_add" => both.cap_add = vec!["KILL".into()],
                _ => both.cap_drop = vec!["KILL".into()],
            }
            let message = process_error(&both);
            assert_eq!(
                message,
                format!(
                    "invalid process.capabilities: exclusive with process.{other}: the sets \
                     are exact, give them alone"
                )
            );
        }
        let mut nul = process.clone();
        nul.capabilities.as_mut().unwrap().ambient = vec!["CAP_\0KILL".into()];
        assert!(
            process_error(&nul).contains("process.capabilities.ambient[0]"),
            "NUL in a name"
        );
    }

    #[test]
    fn umask_and_oom_score_adj_are_range_checked() {
        let mut process = ProcessConfig::new(["/bin/true"]);
        assert_eq!(process.effective_umask(), 0o022);
        for good in [0, 0o027, 0o777] {
            process.umask = Some(good);
            process.validate("process").unwrap();
            assert_eq!(process.effective_umask(), good);
        }
        process.umask = Some(0o1000);
        assert_eq!(
            process_error(&process),
            "invalid process.umask: 0o1000 is out of range (0 to 0o777)"
        );
        process.umask = None;
        for good in [-1000, 0, 1000] {
            process.oom_score_adj = Some(good);
            process.validate("process").unwrap();
        }
        for bad in [-1001, 1001, i32::MIN] {
            process.oom_score_adj = Some(bad);
            assert_eq!(
                process_error(&process),
                format!("invalid process.oom_score_adj: {bad} is out of range (-1000 to 1000)")
            );
        }
    }

    #[test]
    fn exact_groups_exclude_additional_gids() {
        let mut process = ProcessConfig::new(["/bin/true"]);
        process.groups = Some(vec![]);
        process.validate("process").unwrap();
        process.groups = Some(vec![5, 6]);
        process.validate("process").unwrap();
        process.additional_gids = vec![7];
        assert!(
            process_error(&process)
                .starts_with("invalid process.groups: exclusive with process.additional_gids"),
            "{process:?}"
        );
    }

    fn refused(command: &Command, wanted: &str) {
        let err = command.validate().expect_err(wanted);
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
        assert!(err.to_string().contains(wanted), "{err} lacks {wanted}");
    }

    #[test]
    fn the_oci_fields_are_checked_by_json_path() {
        let base = Command::new("c1", "/rootfs", ProcessConfig::new(["/bin/true"]));
        let node = |path: &str, kind: char, numbers: Option<(u32, u32)>| DeviceNode {
            path: path.into(),
            kind,
            major: numbers.map(|n| n.0),
            minor: numbers.map(|n| n.1),
            file_mode: None,
            uid: None,
            gid: None,
        };
        let mut ok = base.clone();
        ok.device_nodes = vec![
            node("/dev/fuse", 'c', Some((10, 229))),
            node("/dev/null", 'u', Some((1, 3))),
            node("/run/fifo", 'p', None),
        ];
        ok.rootfs_propagation = Some("rshared".into());
        ok.domainname = Some("example.org".into());
        ok.validate().unwrap();
        for (bad, wanted) in [
            (
                node("/dev/x", 'c', Some((4096, 0))),
                "device_nodes[0].major",
            ),
            (
                node("/dev/x", 'c', Some((1, 1 << 20))),
                "device_nodes[0].minor",
            ),
            (node("/dev/x", 'p', Some((1, 3))), "no device numbers"),
            (node("/dev", 'c', Some((1, 3))), "names no node"),
            (
                node("/dev/stdout", 'c', Some((1, 3))),
                "berth's own /dev/stdout",
            ),
            (
                node("/dev/tty", 'b', Some((5, 0))),
                "5:0 in every container",
            ),
        ] {
            let mut command = base.clone();
            command.device_nodes = vec![bad];
            refused(&command, wanted);
        }
        let mut twice = base.clone();
        twice.device_nodes = vec![
            node("/dev/a", 'c', Some((1, 3))),
            node("//dev/./a", 'c', Some((1, 5))),
        ];
        refused(&twice, "device_nodes[1].path");
        let mut mode = base.clone();
        mode.device_nodes = vec![DeviceNode {
            file_mode: Some(0o20666),
            ..node("/dev/a", 'c', Some((1, 3)))
        }];
        refused(&mode, "device_nodes[0].file_mode");
        let mut propagation = base.clone();
        propagation.rootfs_propagation = Some("rslave".into());
        propagation.namespaces.mount = NamespaceMode::Path("/proc/1/ns/mnt".into());
        refused(&propagation, "rootfs_propagation");
        let mut domain = base.clone();
        domain.domainname = Some("bad name".into());
        refused(&domain, "domainname");
        let mut group = base.clone();
        group.init_signal_group = true;
        refused(&group, "init_signal_group");
        group.init = true;
        group.validate().unwrap();
        let mut idmap = base.clone();
        idmap.mounts = vec![Mount {
            source: Some("/srv".into()),
            destination: "/srv".into(),
            kind: "tmpfs".into(),
            options: vec!["idmap".into()],
            uid_mappings: None,
            gid_mappings: None,
        }];
        refused(&idmap, "must be a bind");
        idmap.mounts[0].kind = "bind".into();
        refused(&idmap, "namespaces.user");
        idmap.mounts[0].uid_mappings = Some(vec![crate::command::IdMapping {
            container_id: 0,
            host_id: 1,
            size: 0,
        }]);
        refused(&idmap, "mounts[0].uid_mappings[0]");
    }
}
