//! Where the cgroup hierarchies are mounted, read from `/proc/self/mountinfo`.

use std::path::PathBuf;

use runtime_core::{Error, Result};

/// How the host's cgroup hierarchies are set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgroupMode {
    /// One cgroup2 hierarchy holds every controller.
    Unified,
    /// Only cgroup v1 hierarchies.
    Legacy,
    /// Controllers on v1 hierarchies, plus a cgroup2 hierarchy (usually
    /// `/sys/fs/cgroup/unified`) that berth uses for `cgroup.kill` and `cgroup.freeze` only.
    Hybrid,
}

/// The controllers berth uses. v1 and v2 share the names except v1 `blkio`, which v2 calls
/// `io`, and `cpuacct`, `devices`, `freezer`, `net_cls` and `net_prio`, which exist in v1
/// only; `rdma` and `misc` berth knows on v2 only (for `unified` keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Controller {
    Cpuset,
    Cpu,
    Cpuacct,
    Io,
    Blkio,
    Memory,
    Pids,
    Devices,
    Freezer,
    Hugetlb,
    NetCls,
    NetPrio,
    Rdma,
    Misc,
}

impl Controller {
    /// The v1 controllers a container's cgroup is created under, where they are mounted.
    pub const V1: [Controller; 11] = [
        Controller::Memory,
        Controller::Pids,
        Controller::Cpu,
        Controller::Cpuacct,
        Controller::Cpuset,
        Controller::Blkio,
        Controller::Devices,
        Controller::Freezer,
        Controller::Hugetlb,
        Controller::NetCls,
        Controller::NetPrio,
    ];

    /// The name the kernel uses in mount options and `cgroup.controllers`.
    pub fn name(self) -> &'static str {
        match self {
            Controller::Cpuset => "cpuset",
            Controller::Cpu => "cpu",
            Controller::Cpuacct => "cpuacct",
            Controller::Io => "io",
            Controller::Blkio => "blkio",
            Controller::Memory => "memory",
            Controller::Pids => "pids",
            Controller::Devices => "devices",
            Controller::Freezer => "freezer",
            Controller::Hugetlb => "hugetlb",
            Controller::NetCls => "net_cls",
            Controller::NetPrio => "net_prio",
            Controller::Rdma => "rdma",
            Controller::Misc => "misc",
        }
    }

    /// The v1 controller of this name.
    pub fn from_v1_name(name: &str) -> Option<Controller> {
        Controller::V1.into_iter().find(|c| c.name() == name)
    }

    /// The v2 controller of this name, among those berth uses.
    pub fn from_v2_name(name: &str) -> Option<Controller> {
        [
            Controller::Cpuset,
            Controller::Cpu,
            Controller::Io,
            Controller::Memory,
            Controller::Pids,
            Controller::Hugetlb,
            Controller::Rdma,
            Controller::Misc,
        ]
        .into_iter()
        .find(|c| c.name() == name)
    }
}

/// One mounted v1 hierarchy with at least one controller berth uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct V1Hierarchy {
    /// Sorted; more than one when co-mounted (`cpu,cpuacct`).
    pub controllers: Vec<Controller>,
    pub mount: PathBuf,
}

/// The hierarchies berth uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Layout {
    pub v1: Vec<V1Hierarchy>,
    /// The cgroup2 mount, if any.
    pub unified: Option<PathBuf>,
}

impl Layout {
    /// Reads the cgroup mounts out of a mountinfo text (proc(5)).
    pub fn parse(mountinfo: &str) -> Result<Layout> {
        let mut layout = Layout {
            v1: Vec::new(),
            unified: None,
        };
        for line in mountinfo.lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // The optional fields end at a lone "-"; fstype, source and super options follow.
            let Some(dash) = fields.iter().position(|f| *f == "-") else {
                continue;
            };
            if dash < 5 || fields.len() < dash + 3 {
                continue;
            }
            let mount = PathBuf::from(unescape_octal(fields[4]));
            match fields[dash + 1] {
                // A second cgroup2 mount is the same hierarchy seen again (bind mount).
                "cgroup2" if layout.unified.is_none() => layout.unified = Some(mount),
                "cgroup" => {
                    let mut controllers: Vec<Controller> = fields[dash + 3]
                        .split(',')
                        .filter_map(Controller::from_v1_name)
                        .collect();
                    controllers.sort();
                    controllers.dedup();
                    // Named hierarchies (name=systemd) have no controllers: not ours to use.
                    if controllers.is_empty() {
                        continue;
                    }
                    let seen = layout
                        .v1
                        .iter()
                        .any(|h| h.controllers.iter().any(|c| controllers.contains(c)));
                    if !seen {
                        layout.v1.push(V1Hierarchy { controllers, mount });
                    }
                }
                _ => {}
            }
        }
        Ok(layout)
    }

    /// The mode, or an error if no hierarchy is usable.
    pub fn mode(&self) -> Result<CgroupMode> {
        match (self.v1.is_empty(), self.unified.is_some()) {
            (true, true) => Ok(CgroupMode::Unified),
            (false, false) => Ok(CgroupMode::Legacy),
            (false, true) => Ok(CgroupMode::Hybrid),
            (true, false) => Err(Error::Unsupported(
                "a host with no cgroup hierarchy mounted (no cgroup or cgroup2 line in \
                 /proc/self/mountinfo)"
                    .into(),
            )),
        }
    }

    /// The v1 hierarchy holding `controller`.
    pub fn v1_hierarchy(&self, controller: Controller) -> Option<&V1Hierarchy> {
        self.v1.iter().find(|h| h.controllers.contains(&controller))
    }
}

/// Undoes the `\ooo` escapes mountinfo uses for space, tab, newline and backslash.
fn unescape_octal(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 4 <= bytes.len() {
            let digits = &bytes[i + 1..i + 4];
            if digits.iter().all(|d| (b'0'..=b'7').contains(d)) {
                let value = digits
                    .iter()
                    .fold(0u32, |acc, d| acc * 8 + u32::from(d - b'0'));
                if let Ok(value) = u8::try_from(value) {
                    out.push(value);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// This host's layout: hybrid, cpu and cpuacct apart, name=systemd, controller-less cgroup2.
    pub const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    /// A systemd legacy host: cpu,cpuacct and net_cls,net_prio co-mounted, optional fields.
    const LEGACY: &str = "\
25 30 0:23 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
26 25 0:24 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:8 - tmpfs tmpfs ro,mode=755
27 26 0:25 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:9 - cgroup cgroup rw,xattr,name=systemd
30 26 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:12 - cgroup cgroup rw,cpu,cpuacct
31 26 0:29 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid,nodev,noexec,relatime shared:13 - cgroup cgroup rw,net_cls,net_prio
32 26 0:30 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,memory
33 26 0:31 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,pids
34 26 0:32 / /sys/fs/cgroup/freezer rw,nosuid,nodev,noexec,relatime shared:16 - cgroup cgroup rw,freezer
35 99 0:30 / /srv/chroot/sys/fs/cgroup/memory rw,relatime shared:14 - cgroup cgroup rw,memory
";

    const UNIFIED: &str = "\
24 30 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:2 - sysfs sysfs rw
26 24 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
";

    #[test]
    fn hybrid_with_separate_cpu_and_cpuacct() {
        let layout = Layout::parse(HYBRID).unwrap();
        assert_eq!(layout.mode().unwrap(), CgroupMode::Hybrid);
        assert_eq!(
            layout.unified,
            Some(PathBuf::from("/sys/fs/cgroup/unified"))
        );
        assert_eq!(layout.v1.len(), 8);
        let cpu = layout.v1_hierarchy(Controller::Cpu).unwrap();
        assert_eq!(cpu.controllers, vec![Controller::Cpu]);
        assert_eq!(
            layout.v1_hierarchy(Controller::Cpuacct).unwrap().mount,
            PathBuf::from("/sys/fs/cgroup/cpuacct")
        );
        assert!(layout
            .v1
            .iter()
            .all(|h| !h.mount.ends_with("systemd") && !h.controllers.is_empty()));
    }

    #[test]
    fn legacy_with_comounted_cpu_cpuacct() {
        let layout = Layout::parse(LEGACY).unwrap();
        assert_eq!(layout.mode().unwrap(), CgroupMode::Legacy);
        let mounts: Vec<_> = layout.v1.iter().map(|h| h.mount.clone()).collect();
        // The chroot's memory is a repeat.
        assert_eq!(
            mounts,
            [
                "cpu,cpuacct",
                "net_cls,net_prio",
                "memory",
                "pids",
                "freezer"
            ]
            .iter()
            .map(|m| PathBuf::from("/sys/fs/cgroup").join(m))
            .collect::<Vec<_>>()
        );
        let cpu = layout.v1_hierarchy(Controller::Cpuacct).unwrap();
        assert_eq!(cpu.controllers, vec![Controller::Cpu, Controller::Cpuacct]);
        assert!(layout.v1_hierarchy(Controller::Cpuset).is_none());
    }

    #[test]
    fn unified() {
        let layout = Layout::parse(UNIFIED).unwrap();
        assert_eq!(layout.mode().unwrap(), CgroupMode::Unified);
        assert_eq!(layout.unified, Some(PathBuf::from("/sys/fs/cgroup")));
    }

    #[test]
    fn none_is_an_error() {
        let layout = Layout::parse("24 30 0:22 / /sys rw - sysfs sysfs rw\n").unwrap();
        let err = layout.mode().unwrap_err();
        assert_eq!(err.kind(), runtime_core::ErrorKind::Unsupported);
    }

    #[test]
    fn escaped_mount_points() {
        let text = "41 31 0:38 / /tmp/my\\040cgroups\\134x rw - cgroup2 cgroup2 rw\n";
        let layout = Layout::parse(text).unwrap();
        assert_eq!(layout.unified, Some(PathBuf::from("/tmp/my cgroups\\x")));
        assert_eq!(unescape_octal("a\\04"), "a\\04");
    }
}
