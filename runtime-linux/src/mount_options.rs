//! Mount options as `mount(2)` wants them: the flag bits, the propagation, and the rest as the
//! filesystem's data string. Parsed on the host to reject bad input early, and again in the
//! init, which applies them.

use nix::mount::MsFlags;
use runtime_core::{Error, Mount, Result};

use crate::sys::mount_api::MountAttrs;

/// A [`Mount`]'s options, sorted out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountOptions {
    /// Flags to set.
    pub flags: MsFlags,
    /// Flags the options clear (`rw`, `suid`, `dev`, `exec`, `atime`...): on a bind, these are
    /// the only flags of the source that change, besides the ones set.
    pub cleared: MsFlags,
    /// Whether a bind is recursive (`rbind`).
    pub recursive: bool,
    /// Propagation to apply after mounting (`MS_PRIVATE`, `MS_SHARED | MS_REC`, ...).
    pub propagation: Option<MsFlags>,
    /// Options the filesystem itself reads (`size=16m,mode=755`).
    pub data: Option<String>,
}

impl MountOptions {
    /// Parses the options of `mount`, whose JSON path is `field`.
    pub fn parse(field: &str, mount: &Mount) -> Result<MountOptions> {
        let mut flags = MsFlags::empty();
        let mut cleared = MsFlags::empty();
        let mut recursive = false;
        let mut propagation = None;
        let mut data = Vec::new();
        for option in &mount.options {
            let (set, clear) = match option.as_str() {
                "ro" => (MsFlags::MS_RDONLY, MsFlags::empty()),
                "rw" => (MsFlags::empty(), MsFlags::MS_RDONLY),
                "nosuid" => (MsFlags::MS_NOSUID, MsFlags::empty()),
                "suid" => (MsFlags::empty(), MsFlags::MS_NOSUID),
                "nodev" => (MsFlags::MS_NODEV, MsFlags::empty()),
                "dev" => (MsFlags::empty(), MsFlags::MS_NODEV),
                "noexec" => (MsFlags::MS_NOEXEC, MsFlags::empty()),
                "exec" => (MsFlags::empty(), MsFlags::MS_NOEXEC),
                "sync" => (MsFlags::MS_SYNCHRONOUS, MsFlags::empty()),
                "async" => (MsFlags::empty(), MsFlags::MS_SYNCHRONOUS),
                "dirsync" => (MsFlags::MS_DIRSYNC, MsFlags::empty()),
                "noatime" => (MsFlags::MS_NOATIME, MsFlags::empty()),
                "atime" => (MsFlags::empty(), MsFlags::MS_NOATIME),
                "nodiratime" => (MsFlags::MS_NODIRATIME, MsFlags::empty()),
                "diratime" => (MsFlags::empty(), MsFlags::MS_NODIRATIME),
                "relatime" => (MsFlags::MS_RELATIME, MsFlags::empty()),
                "norelatime" => (MsFlags::empty(), MsFlags::MS_RELATIME),
                "strictatime" => (MsFlags::MS_STRICTATIME, MsFlags::empty()),
                "nostrictatime" => (MsFlags::empty(), MsFlags::MS_STRICTATIME),
                "bind" => (MsFlags::empty(), MsFlags::empty()),
                "rbind" => {
                    recursive = true;
                    (MsFlags::empty(), MsFlags::empty())
                }
                other => {
                    if let Some(kind) = propagation_of(other) {
                        propagation = Some(kind);
                    } else {
                        data.push(other.to_string());
                    }
                    (MsFlags::empty(), MsFlags::empty())
                }
            };
            flags.insert(set);
            flags.remove(clear);
            cleared.insert(clear);
            cleared.remove(set);
        }
        if mount.is_bind() && !data.is_empty() {
            return Err(Error::invalid(
                format!("{field}.options"),
                format!(
                    "unknown option {:?}; a bind mount takes only mount flags",
                    data[0]
                ),
            ));
        }
        Ok(MountOptions {
            flags,
            cleared,
            recursive,
            propagation,
            data: (!data.is_empty()).then(|| data.join(",")),
        })
    }
}

impl MountOptions {
    /// The per-mount attributes to set and clear (`mount_setattr`, `fsmount`). The access-time
    /// mode changes only when an option names one.
    pub fn attrs(&self) -> MountAttrs {
        const PLAIN: [(MsFlags, u64); 5] = [
            (MsFlags::MS_RDONLY, libc::MOUNT_ATTR_RDONLY),
            (MsFlags::MS_NOSUID, libc::MOUNT_ATTR_NOSUID),
            (MsFlags::MS_NODEV, libc::MOUNT_ATTR_NODEV),
            (MsFlags::MS_NOEXEC, libc::MOUNT_ATTR_NOEXEC),
            (MsFlags::MS_NODIRATIME, libc::MOUNT_ATTR_NODIRATIME),
        ];
        let mut attrs = MountAttrs::default();
        for (flag, attr) in PLAIN {
            if self.flags.contains(flag) {
                attrs.set |= attr;
            }
            if self.cleared.contains(flag) {
                attrs.clear |= attr;
            }
        }
        let atime = MsFlags::MS_NOATIME | MsFlags::MS_STRICTATIME | MsFlags::MS_RELATIME;
        if self.flags.intersects(atime) || self.cleared.intersects(atime) {
            attrs.clear |= libc::MOUNT_ATTR__ATIME;
            attrs.set |= if self.flags.contains(MsFlags::MS_NOATIME) {
                libc::MOUNT_ATTR_NOATIME
            } else if self.flags.contains(MsFlags::MS_STRICTATIME) {
                libc::MOUNT_ATTR_STRICTATIME
            } else {
                libc::MOUNT_ATTR_RELATIME
            };
        }
        attrs
    }

    /// The superblock flags a new filesystem takes as `fsconfig` flags (`sync`, `dirsync`).
    /// A bind shares its source's superblock: they do not apply there.
    pub fn superblock_flags(&self) -> Vec<&'static str> {
        [
            (MsFlags::MS_SYNCHRONOUS, "sync"),
            (MsFlags::MS_DIRSYNC, "dirsync"),
        ]
        .into_iter()
        .filter(|(flag, _)| self.flags.contains(*flag))
        .map(|(_, name)| name)
        .collect()
    }

    /// The propagation as `mount_setattr` takes it, and whether it applies to the submounts.
    pub fn propagation_attr(&self) -> Option<(u64, bool)> {
        self.propagation.map(|flags| {
            let recursive = flags.contains(MsFlags::MS_REC);
            ((flags - MsFlags::MS_REC).bits(), recursive)
        })
    }
}

fn propagation_of(option: &str) -> Option<MsFlags> {
    let (base, recursive) = match option.strip_prefix('r') {
        Some(rest) if matches!(rest, "private" | "shared" | "slave" | "unbindable") => {
            (rest, MsFlags::MS_REC)
        }
        _ => (option, MsFlags::empty()),
    };
    let kind = match base {
        "private" => MsFlags::MS_PRIVATE,
        "shared" => MsFlags::MS_SHARED,
        "slave" => MsFlags::MS_SLAVE,
        "unbindable" => MsFlags::MS_UNBINDABLE,
        _ => return None,
    };
    Some(kind | recursive)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mount(kind: &str, options: &[&str]) -> Mount {
        Mount {
            source: Some("/src".into()),
            destination: "/dst".into(),
            kind: kind.into(),
            options: options.iter().map(|o| o.to_string()).collect(),
        }
    }

    #[test]
    fn sorts_flags_propagation_and_data() {
        let parsed = MountOptions::parse(
            "m",
            &mount("tmpfs", &["ro", "nosuid", "size=16m", "rslave"]),
        )
        .unwrap();
        assert_eq!(parsed.flags, MsFlags::MS_RDONLY | MsFlags::MS_NOSUID);
        assert_eq!(
            parsed.propagation,
            Some(MsFlags::MS_SLAVE | MsFlags::MS_REC)
        );
        assert_eq!(parsed.data.as_deref(), Some("size=16m"));
        assert!(!parsed.recursive);
    }

    #[test]
    fn later_options_win_and_rbind_is_recursive() {
        let parsed = MountOptions::parse("m", &mount("bind", &["rbind", "ro", "rw"])).unwrap();
        assert!(parsed.recursive);
        assert_eq!(parsed.flags, MsFlags::empty());
        assert_eq!(parsed.cleared, MsFlags::MS_RDONLY);
    }

    #[test]
    fn attributes_set_and_clear_only_what_the_options_name() {
        let parsed = MountOptions::parse("m", &mount("bind", &["ro", "dev", "noatime"])).unwrap();
        let attrs = parsed.attrs();
        assert_eq!(
            attrs.set,
            libc::MOUNT_ATTR_RDONLY | libc::MOUNT_ATTR_NOATIME
        );
        assert_eq!(
            attrs.clear,
            libc::MOUNT_ATTR_NODEV | libc::MOUNT_ATTR__ATIME
        );
        // No option about nosuid: the source's nosuid stays.
        let parsed = MountOptions::parse("m", &mount("bind", &["rbind", "ro"])).unwrap();
        assert_eq!(parsed.attrs().clear, 0);
        let parsed = MountOptions::parse("m", &mount("tmpfs", &["rshared", "sync"])).unwrap();
        assert_eq!(
            parsed.propagation_attr(),
            Some((MsFlags::MS_SHARED.bits(), true))
        );
        assert_eq!(parsed.superblock_flags(), ["sync"]);
    }

    #[test]
    fn a_bind_mount_rejects_filesystem_data() {
        let err = MountOptions::parse("mounts[0]", &mount("bind", &["size=1m"])).unwrap_err();
        assert!(err.to_string().contains("mounts[0].options"), "{err}");
    }
}
