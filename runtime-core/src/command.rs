//! The container: [`Command`] and what it is made of. Its JSON form is the wire form of the C ABI
//! (see `docs/command.md`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::process::ProcessConfig;
use crate::security::{DeviceRule, HostDevice};

/// Everything a driver needs to run one container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Command {
    /// Unique per driver: 1 to 128 of `[A-Za-z0-9_.-]`, starting with a letter or digit.
    pub id: String,
    /// Absolute path of the root filesystem on the host.
    pub rootfs: String,
    /// Mount the rootfs read-only.
    #[serde(default)]
    pub readonly_rootfs: bool,
    /// With a private user namespace: mount the rootfs id-mapped through it, so that files
    /// owned by host root belong to container root (needs Linux 5.12 and a filesystem that
    /// allows idmapped mounts).
    #[serde(default)]
    pub idmapped_rootfs: bool,
    /// Mount the container's `/sys` read-write (a privileged container's: OCI's `sysfs` at
    /// `/sys` without `ro`). berth's `/sys` is read-only otherwise.
    #[serde(default)]
    pub writable_sysfs: bool,
    /// Hostname inside a private UTS namespace (default: the id, cut to 63 characters).
    #[serde(default)]
    pub hostname: Option<String>,
    /// The container's init process.
    pub process: ProcessConfig,
    /// Which namespaces are new, shared with the host, or joined.
    #[serde(default)]
    pub namespaces: Namespaces,
    /// Mounts applied in order after the standard ones.
    #[serde(default)]
    pub mounts: Vec<Mount>,
    /// Cgroup limits.
    #[serde(default)]
    pub resources: Resources,
    /// Parent of the container's cgroup, relative to each hierarchy's root (default `berth`).
    #[serde(default)]
    pub cgroup_parent: Option<String>,
    /// The container's cgroup itself, relative to each hierarchy's root, used instead of
    /// `<cgroup_parent>/<id>` (OCI's `linux.cgroupsPath`); its last component need not be the
    /// id. Exclusive with `cgroup_parent`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroup_path: Option<String>,
    /// Paths made unreadable inside the container. `None`: the default list.
    #[serde(default)]
    pub masked_paths: Option<Vec<String>>,
    /// Paths made read-only inside the container. `None`: the default list.
    #[serde(default)]
    pub readonly_paths: Option<Vec<String>>,
    /// Namespaced kernel parameters, `net.ipv4.ip_forward = "1"`.
    #[serde(default)]
    pub sysctls: BTreeMap<String, String>,
    /// Host devices to make in the container, with their access (`rwm`).
    #[serde(default)]
    pub devices: Vec<HostDevice>,
    /// More device cgroup rules, beyond the standard nodes and `devices`.
    #[serde(default)]
    pub device_cgroup_rules: Vec<DeviceRule>,
    /// Device nodes made from their numbers (OCI's `linux.devices`), unlike `devices`, which
    /// copy a host node. They add no device cgroup rule (as runc): allow them with
    /// `device_cgroup_rules`.
    #[serde(default)]
    pub device_nodes: Vec<DeviceNode>,
    /// The propagation of the container's root mount (OCI's `linux.rootfsPropagation`):
    /// `private`, `rprivate`, `slave`, `rslave`, `shared`, `rshared`, `unbindable` or
    /// `runbindable`. None: every mount of the container is private.
    #[serde(default)]
    pub rootfs_propagation: Option<String>,
    /// The execution domain of the init (OCI's `linux.personality`).
    #[serde(default)]
    pub personality: Option<Personality>,
    /// The NIS domain name inside a private UTS namespace (OCI's `domainname`).
    #[serde(default)]
    pub domainname: Option<String>,
    /// Let the container's processes keep the session keyring of whoever started them,
    /// instead of a new one of their own, named `_ses.<id>` (runc's `--no-new-keyring`).
    #[serde(default)]
    pub share_session_keyring: bool,
    /// Mount the container's `/dev` tmpfs `noexec` as well (podman's `/dev` is): nothing in it
    /// can be executed. Off by default, as runc's and Docker's `/dev`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dev_noexec: bool,
    /// Run berth's own small init as the container's pid 1, with the program as its child (as
    /// `docker run --init`): it reaps every zombie, forwards every signal it can catch to the
    /// program and exits with the program's status, which it also records for a driver that
    /// takes the container back after its host died (see `docs/recovery.md`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub init: bool,
    /// With `init`: forward signals to the program's process group instead of the program
    /// alone (tini's `-g`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub init_signal_group: bool,
    /// With a private user namespace: how container uids map to host uids (default
    /// [`DEFAULT_ID_MAPPING`]).
    #[serde(default)]
    pub uid_mappings: Option<Vec<IdMapping>>,
    /// The same for gids. An empty list maps no group: `setgroups` is then denied in the
    /// container.
    #[serde(default)]
    pub gid_mappings: Option<Vec<IdMapping>>,
    /// What only a Windows container has (its image layers, its isolation, its network
    /// namespace, its CPU count and maximum), modelled on the OCI runtime spec's `windows`
    /// object. Required by the Windows driver; the Linux drivers refuse it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub windows: Option<WindowsConfig>,
}

/// A device node made in the container from its numbers (OCI's `linux.devices` entry).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceNode {
    /// Where the node goes in the container (absolute, no `..`).
    pub path: String,
    /// `c` (or `u`, unbuffered: the same), `b`, or `p` (a FIFO).
    #[serde(rename = "type")]
    pub kind: char,
    /// Required for `c`, `u` and `b`; a FIFO has none.
    #[serde(default)]
    pub major: Option<u32>,
    #[serde(default)]
    pub minor: Option<u32>,
    /// The permission bits (default `0o666`).
    #[serde(default)]
    pub file_mode: Option<u32>,
    /// The owner (default 0:0), as seen in the container.
    #[serde(default)]
    pub uid: Option<u32>,
    #[serde(default)]
    pub gid: Option<u32>,
}

/// The propagation values of [`Command::rootfs_propagation`].
pub const ROOTFS_PROPAGATIONS: [&str; 8] = [
    "private",
    "rprivate",
    "slave",
    "rslave",
    "shared",
    "rshared",
    "unbindable",
    "runbindable",
];

/// An execution domain (OCI's `linux.personality`), set with `personality(2)` before the
/// init's exec.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Personality {
    /// `LINUX` or `LINUX32`.
    pub domain: String,
    /// The OCI spec defines none; any is refused.
    #[serde(default)]
    pub flags: Vec<String>,
}

/// The Windows-only part of a [`Command`] (the OCI runtime spec's `windows` object, in
/// berth's snake case).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowsConfig {
    /// The image's layer folders, from the topmost read-only layer down to the base layer,
    /// then the container's own scratch (sandbox) folder last, as in OCI's `layerFolders`.
    /// `rootfs` is the volume mounted from them (`\\?\Volume{...}\`).
    pub layer_folders: Vec<String>,
    /// Hyper-V isolation: the container runs in a utility VM instead of a silo of the host.
    #[serde(default)]
    pub hyperv: Option<HyperV>,
    /// The id (a GUID) of the HCN network namespace the container joins; none: no network.
    #[serde(default)]
    pub network_namespace: Option<String>,
    /// Whether DNS may resolve unqualified names.
    #[serde(default)]
    pub allow_unqualified_dns_query: bool,
    /// DNS suffixes to search.
    #[serde(default)]
    pub dns_search_list: Vec<String>,
    /// How many of the host's processors the container may use.
    #[serde(default)]
    pub cpu_count: Option<u32>,
    /// The share of processor time it may use, in hundredths of a percent of all the host's
    /// processors: 1 to 10000.
    #[serde(default)]
    pub cpu_maximum: Option<u32>,
}

/// Hyper-V isolation (OCI's `windows.hyperv`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HyperV {
    /// The utility VM image's folder; none: the one matching the base layer.
    #[serde(default)]
    pub utility_vm_path: Option<String>,
}

/// A range of ids: `container_id..container_id+size` inside is `host_id..host_id+size`
/// outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdMapping {
    pub container_id: u32,
    pub host_id: u32,
    pub size: u32,
}

/// The mapping a private user namespace gets when the command gives none: container root is
/// host uid (and gid) 100000, and 65536 ids follow it.
pub const DEFAULT_ID_MAPPING: IdMapping = IdMapping {
    container_id: 0,
    host_id: 100_000,
    size: 65_536,
};

/// The kernel's limit on the lines of a uid or gid map.
pub const MAX_ID_MAPPINGS: usize = 340;

/// Paths masked by default (Docker's list): a file is covered with `/dev/null`, a directory
/// with an empty read-only tmpfs.
pub const DEFAULT_MASKED_PATHS: &[&str] = &[
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
];

/// Paths made read-only by default (Docker's list).
pub const DEFAULT_READONLY_PATHS: &[&str] = &[
    "/proc/asound",
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// The default cgroup parent.
pub const DEFAULT_CGROUP_PARENT: &str = "berth";

impl Command {
    /// A container with the given id, rootfs and init process, and every other field at its
    /// default.
    pub fn new(id: impl Into<String>, rootfs: impl Into<String>, process: ProcessConfig) -> Self {
        Command {
            id: id.into(),
            rootfs: rootfs.into(),
            readonly_rootfs: false,
            idmapped_rootfs: false,
            writable_sysfs: false,
            hostname: None,
            process,
            namespaces: Namespaces::default(),
            mounts: Vec::new(),
            resources: Resources::default(),
            cgroup_parent: None,
            cgroup_path: None,
            masked_paths: None,
            readonly_paths: None,
            sysctls: BTreeMap::new(),
            uid_mappings: None,
            gid_mappings: None,
            devices: Vec::new(),
            device_cgroup_rules: Vec::new(),
            device_nodes: Vec::new(),
            rootfs_propagation: None,
            personality: None,
            domainname: None,
            share_session_keyring: false,
            dev_noexec: false,
            init: false,
            init_signal_group: false,
            windows: None,
        }
    }

    /// The uid and gid mappings that apply with a private user namespace.
    pub fn effective_id_mappings(&self) -> (Vec<IdMapping>, Vec<IdMapping>) {
        let or_default = |given: &Option<Vec<IdMapping>>| {
            given.clone().unwrap_or_else(|| vec![DEFAULT_ID_MAPPING])
        };
        (
            or_default(&self.uid_mappings),
            or_default(&self.gid_mappings),
        )
    }

    /// The hostname the container gets.
    pub fn effective_hostname(&self) -> String {
        match &self.hostname {
            Some(name) => name.clone(),
            None => self.id.chars().take(63).collect(),
        }
    }

    /// The cgroup parent the container's cgroup sits under.
    pub fn effective_cgroup_parent(&self) -> &str {
        self.cgroup_parent
            .as_deref()
            .unwrap_or(DEFAULT_CGROUP_PARENT)
    }

    /// The container's cgroup, relative to each hierarchy's root: `cgroup_path` when given,
    /// else `<parent>/<id>` with the command's `cgroup_parent` or, without one,
    /// `default_parent` (a driver's own default).
    pub fn effective_cgroup_path(&self, default_parent: Option<&str>) -> String {
        if let Some(path) = &self.cgroup_path {
            return path.trim_matches('/').to_string();
        }
        let parent = self
            .cgroup_parent
            .as_deref()
            .or(default_parent)
            .unwrap_or(DEFAULT_CGROUP_PARENT);
        format!("{}/{}", parent.trim_matches('/'), self.id)
    }

    /// The masked paths that apply: the given list, or the default one.
    pub fn effective_masked_paths(&self) -> Vec<String> {
        match &self.masked_paths {
            Some(paths) => paths.clone(),
            None => DEFAULT_MASKED_PATHS.iter().map(|p| p.to_string()).collect(),
        }
    }

    /// The read-only paths that apply: the given list, or the default one.
    pub fn effective_readonly_paths(&self) -> Vec<String> {
        match &self.readonly_paths {
            Some(paths) => paths.clone(),
            None => DEFAULT_READONLY_PATHS
                .iter()
                .map(|p| p.to_string())
                .collect(),
        }
    }
}

/// How one namespace is provided.
///
/// In JSON: `"private"`, `"host"`, `"none"` (net only), `{"path": "/proc/N/ns/net"}` or
/// `{"container": "other-id"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NamespaceMode {
    /// A new namespace.
    Private,
    /// The host's own namespace.
    Host,
    /// Net only: a new namespace holding just `lo`, brought up.
    None,
    /// Join the namespace at this path.
    Path(String),
    /// Share the namespace of another container of the same driver.
    Container(String),
}

/// The kinds of namespace a container has. In JSON, as its field in [`Namespaces`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NamespaceKind {
    User,
    Pid,
    Ipc,
    Uts,
    Mount,
    Net,
    Cgroup,
}

impl NamespaceKind {
    /// Every kind, in the order namespaces are joined (user first, so that the others are
    /// joined with its privileges).
    pub const ALL: [NamespaceKind; 7] = [
        NamespaceKind::User,
        NamespaceKind::Pid,
        NamespaceKind::Ipc,
        NamespaceKind::Uts,
        NamespaceKind::Net,
        NamespaceKind::Cgroup,
        NamespaceKind::Mount,
    ];

    /// The field name in [`Namespaces`] and the file name under `/proc/<pid>/ns/`.
    pub fn name(self) -> &'static str {
        match self {
            NamespaceKind::User => "user",
            NamespaceKind::Pid => "pid",
            NamespaceKind::Ipc => "ipc",
            NamespaceKind::Uts => "uts",
            NamespaceKind::Mount => "mnt",
            NamespaceKind::Net => "net",
            NamespaceKind::Cgroup => "cgroup",
        }
    }

    /// The JSON field that configures this kind.
    pub fn field(self) -> &'static str {
        match self {
            NamespaceKind::Mount => "mount",
            other => other.name(),
        }
    }
}

/// The namespaces of a container. Missing fields: every namespace private, net `none`, and the
/// host's user namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Namespaces {
    pub pid: NamespaceMode,
    pub ipc: NamespaceMode,
    pub uts: NamespaceMode,
    pub mount: NamespaceMode,
    pub net: NamespaceMode,
    pub cgroup: NamespaceMode,
    pub user: NamespaceMode,
}

impl Default for Namespaces {
    fn default() -> Self {
        Namespaces {
            pid: NamespaceMode::Private,
            ipc: NamespaceMode::Private,
            uts: NamespaceMode::Private,
            mount: NamespaceMode::Private,
            net: NamespaceMode::None,
            cgroup: NamespaceMode::Private,
            user: NamespaceMode::Host,
        }
    }
}

impl Namespaces {
    /// The mode of one kind.
    pub fn get(&self, kind: NamespaceKind) -> &NamespaceMode {
        match kind {
            NamespaceKind::User => &self.user,
            NamespaceKind::Pid => &self.pid,
            NamespaceKind::Ipc => &self.ipc,
            NamespaceKind::Uts => &self.uts,
            NamespaceKind::Mount => &self.mount,
            NamespaceKind::Net => &self.net,
            NamespaceKind::Cgroup => &self.cgroup,
        }
    }

    /// Whether the container gets a new namespace of this kind (`private`, or `none` for net).
    pub fn is_new(&self, kind: NamespaceKind) -> bool {
        matches!(self.get(kind), NamespaceMode::Private | NamespaceMode::None)
    }
}

/// One mount inside the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mount {
    /// Host path for `bind`; the device or a label for other types (optional).
    #[serde(default)]
    pub source: Option<String>,
    /// Absolute path inside the container, created if missing.
    pub destination: String,
    /// `bind`, `tmpfs`, or another filesystem type the kernel knows.
    #[serde(rename = "type")]
    pub kind: String,
    /// `ro`, `rbind`, `nosuid`, ... and filesystem data such as `size=16m`.
    #[serde(default)]
    pub options: Vec<String>,
    /// With `idmap` or `ridmap`: the mapping of the idmapped bind (OCI's `uidMappings`);
    /// none: the container's user namespace's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid_mappings: Option<Vec<IdMapping>>,
    /// The same for gids.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gid_mappings: Option<Vec<IdMapping>>,
}

impl Mount {
    /// Whether this is a bind mount (type `bind`, or a `bind`/`rbind` option).
    pub fn is_bind(&self) -> bool {
        self.kind == "bind" || self.options.iter().any(|o| o == "bind" || o == "rbind")
    }

    /// Whether this is an idmapped bind (`idmap`, `ridmap`, or mappings given).
    pub fn is_idmapped(&self) -> bool {
        self.uid_mappings.is_some()
            || self.gid_mappings.is_some()
            || self.options.iter().any(|o| o == "idmap" || o == "ridmap")
    }
}

/// Cgroup limits. Every field is optional; `None` (or an empty list) leaves the kernel's
/// default. The fields follow OCI's `linux.resources`, in snake case.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Resources {
    /// Hard memory limit in bytes.
    pub memory_limit: Option<i64>,
    /// Soft memory limit in bytes.
    pub memory_reservation: Option<i64>,
    /// Memory plus swap in bytes; -1 for unlimited swap.
    pub memory_swap: Option<i64>,
    /// How eagerly the kernel swaps the container's memory, 0 to 100 (cgroup v1 only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_swappiness: Option<u64>,
    /// Turn the OOM killer off for the container: a task that hits the limit waits for memory
    /// instead (cgroup v1 only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_disable_oom_killer: Option<bool>,
    /// Kernel memory limit in bytes: accepted and ignored, as runc does since 1.1 (the kernel
    /// charges kernel memory to `memory_limit` too, and has deprecated the separate limit).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_kernel: Option<i64>,
    /// TCP buffer memory limit in bytes: accepted and ignored, as runc does (v2 charges socket
    /// buffers to `memory_limit`; on v1 the system's `tcp_mem` bounds them).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_kernel_tcp: Option<i64>,
    /// Hierarchical memory accounting: `true` is what every cgroup has (the kernel no longer
    /// lets it be turned off); `false` is refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_use_hierarchy: Option<bool>,
    /// On `update`, refuse a `memory_limit` (or `memory_swap`) at or below what the container
    /// uses now instead of making the kernel reclaim or OOM-kill.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_check_before_update: Option<bool>,
    /// Relative CPU weight, 2 to 262144 (cgroup v1 shares).
    pub cpu_shares: Option<u64>,
    /// CPU time in microseconds per `cpu_period`; -1 for no limit.
    pub cpu_quota: Option<i64>,
    /// Length of a CPU accounting period in microseconds, 1000 to 1000000.
    pub cpu_period: Option<u64>,
    /// Real-time CPU time in microseconds per `cpu_realtime_period`; -1 for no limit (cgroup
    /// v1 with `CONFIG_RT_GROUP_SCHED`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_realtime_runtime: Option<i64>,
    /// Real-time accounting period in microseconds (cgroup v1, as `cpu_realtime_runtime`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_realtime_period: Option<u64>,
    /// 1: the container's tasks run at the scheduler's idle priority (`SCHED_IDLE`); 0: not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_idle: Option<i64>,
    /// CPU time in microseconds the container may bank beyond `cpu_quota`, at most the quota.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_burst: Option<u64>,
    /// CPUs the container may use, `0-2,4`.
    pub cpuset_cpus: Option<String>,
    /// Memory nodes the container may use, `0-1`.
    pub cpuset_mems: Option<String>,
    /// Maximum number of processes; -1 for no limit.
    pub pids_limit: Option<i64>,
    /// Relative block I/O weight, 10 to 1000.
    pub blkio_weight: Option<u16>,
    /// The weight of the container's own tasks against its child cgroups', 10 to 1000 (cgroup
    /// v1 with CFQ).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blkio_leaf_weight: Option<u16>,
    /// Per-device block I/O weights.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub blkio_weight_device: Vec<WeightDevice>,
    /// Per-device read limits in bytes per second.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub blkio_throttle_read_bps_device: Vec<ThrottleDevice>,
    /// Per-device write limits in bytes per second.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub blkio_throttle_write_bps_device: Vec<ThrottleDevice>,
    /// Per-device read limits in I/O operations per second.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub blkio_throttle_read_iops_device: Vec<ThrottleDevice>,
    /// Per-device write limits in I/O operations per second.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub blkio_throttle_write_iops_device: Vec<ThrottleDevice>,
    /// Huge page limits, per page size this host has.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hugepage_limits: Vec<HugepageLimit>,
    /// The class id tagged on the container's network packets (cgroup v1 `net_cls`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_class_id: Option<u32>,
    /// The priority of the container's traffic per network interface (cgroup v1 `net_prio`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub network_priorities: Vec<NetworkPriority>,
    /// cgroup v2 only: interface files of the container's cgroup and the values written to
    /// them, after every other resource (OCI's `unified`): `{"memory.high": "50000000"}`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub unified: BTreeMap<String, String>,
}

impl Resources {
    /// The names of the fields that are set, as in JSON.
    pub fn set_fields(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        let mut add = |set: bool, name: &'static str| {
            if set {
                out.push(name);
            }
        };
        add(self.memory_limit.is_some(), "memory_limit");
        add(self.memory_reservation.is_some(), "memory_reservation");
        add(self.memory_swap.is_some(), "memory_swap");
        add(self.memory_swappiness.is_some(), "memory_swappiness");
        add(
            self.memory_disable_oom_killer.is_some(),
            "memory_disable_oom_killer",
        );
        add(self.memory_kernel.is_some(), "memory_kernel");
        add(self.memory_kernel_tcp.is_some(), "memory_kernel_tcp");
        add(self.memory_use_hierarchy.is_some(), "memory_use_hierarchy");
        add(
            self.memory_check_before_update.is_some(),
            "memory_check_before_update",
        );
        add(self.cpu_shares.is_some(), "cpu_shares");
        add(self.cpu_quota.is_some(), "cpu_quota");
        add(self.cpu_period.is_some(), "cpu_period");
        add(self.cpu_realtime_runtime.is_some(), "cpu_realtime_runtime");
        add(self.cpu_realtime_period.is_some(), "cpu_realtime_period");
        add(self.cpu_idle.is_some(), "cpu_idle");
        add(self.cpu_burst.is_some(), "cpu_burst");
        add(self.cpuset_cpus.is_some(), "cpuset_cpus");
        add(self.cpuset_mems.is_some(), "cpuset_mems");
        add(self.pids_limit.is_some(), "pids_limit");
        add(self.blkio_weight.is_some(), "blkio_weight");
        add(self.blkio_leaf_weight.is_some(), "blkio_leaf_weight");
        add(!self.blkio_weight_device.is_empty(), "blkio_weight_device");
        add(
            !self.blkio_throttle_read_bps_device.is_empty(),
            "blkio_throttle_read_bps_device",
        );
        add(
            !self.blkio_throttle_write_bps_device.is_empty(),
            "blkio_throttle_write_bps_device",
        );
        add(
            !self.blkio_throttle_read_iops_device.is_empty(),
            "blkio_throttle_read_iops_device",
        );
        add(
            !self.blkio_throttle_write_iops_device.is_empty(),
            "blkio_throttle_write_iops_device",
        );
        add(!self.hugepage_limits.is_empty(), "hugepage_limits");
        add(self.network_class_id.is_some(), "network_class_id");
        add(!self.network_priorities.is_empty(), "network_priorities");
        add(!self.unified.is_empty(), "unified");
        out
    }
}

/// A block device's I/O weight (OCI's `weightDevice`): `weight` and `leaf_weight` 10 to
/// 1000, at least one of them given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeightDevice {
    pub major: u32,
    pub minor: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leaf_weight: Option<u16>,
}

/// A block device's throttle: `rate` bytes or operations per second.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThrottleDevice {
    pub major: u32,
    pub minor: u32,
    pub rate: u64,
}

/// A limit on the huge pages of one size, in bytes: `{"page_size": "2MB", "limit": 0}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HugepageLimit {
    /// As the kernel names it in cgroup files: `64KB`, `2MB`, `1GB`.
    pub page_size: String,
    pub limit: u64,
}

/// The priority of the traffic on one network interface.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkPriority {
    /// The interface, `eth0`.
    pub name: String,
    pub priority: u32,
}
