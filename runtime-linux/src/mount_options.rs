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
    /// The flags of the recursive options (`rro`, `rnosuid`, `rnoatime`, ...), set on the
    /// mount and every mount under it, after the others.
    pub recursive_flags: MsFlags,
    /// The flags the recursive options clear (`rrw`, `rsuid`, `ratime`, ...).
    pub recursive_cleared: MsFlags,
    /// `tmpcopyup`: a tmpfs gets a copy of what its destination held.
    pub copy_up: bool,
    /// `idmap` (`Some(false)`) or `ridmap` (`Some(true)`, the submounts too).
    pub idmap: Option<bool>,
}

/// `MS_NOSYMFOLLOW` (Linux 5.10), which nix does not name.
pub const MS_NOSYMFOLLOW: MsFlags = MsFlags::from_bits_retain(0x100);

/// A plain option: the flags it sets and those it clears (runc's table, without the ones
/// that mean nothing to a new mount).
fn plain_option(option: &str) -> Option<(MsFlags, MsFlags)> {
    let none = MsFlags::empty();
    Some(match option {
        "ro" => (MsFlags::MS_RDONLY, none),
        "rw" => (none, MsFlags::MS_RDONLY),
        "nosuid" => (MsFlags::MS_NOSUID, none),
        "suid" => (none, MsFlags::MS_NOSUID),
        "nodev" => (MsFlags::MS_NODEV, none),
        "dev" => (none, MsFlags::MS_NODEV),
        "noexec" => (MsFlags::MS_NOEXEC, none),
        "exec" => (none, MsFlags::MS_NOEXEC),
        "sync" => (MsFlags::MS_SYNCHRONOUS, none),
        "async" => (none, MsFlags::MS_SYNCHRONOUS),
        "dirsync" => (MsFlags::MS_DIRSYNC, none),
        "lazytime" => (MsFlags::MS_LAZYTIME, none),
        "nolazytime" => (none, MsFlags::MS_LAZYTIME),
        "mand" => (MsFlags::MS_MANDLOCK, none),
        "nomand" => (none, MsFlags::MS_MANDLOCK),
        "noatime" => (MsFlags::MS_NOATIME, none),
        "atime" => (none, MsFlags::MS_NOATIME),
        "nodiratime" => (MsFlags::MS_NODIRATIME, none),
        "diratime" => (none, MsFlags::MS_NODIRATIME),
        "relatime" => (MsFlags::MS_RELATIME, none),
        "norelatime" => (none, MsFlags::MS_RELATIME),
        "strictatime" => (MsFlags::MS_STRICTATIME, none),
        "nostrictatime" => (none, MsFlags::MS_STRICTATIME),
        "nosymfollow" => (MS_NOSYMFOLLOW, none),
        "symfollow" => (none, MS_NOSYMFOLLOW),
        _ => return None,
    })
}

/// A recursive option (`rro`, ...: `r` and a per-mount plain option) as the plain option.
fn recursive_option(option: &str) -> Option<(MsFlags, MsFlags)> {
    let plain = option.strip_prefix('r')?;
    const PER_MOUNT: [&str; 18] = [
        "ro",
        "rw",
        "nosuid",
        "suid",
        "nodev",
        "dev",
        "noexec",
        "exec",
        "nodiratime",
        "diratime",
        "relatime",
        "norelatime",
        "noatime",
        "atime",
        "strictatime",
        "nostrictatime",
        "nosymfollow",
        "symfollow",
    ];
    PER_MOUNT
        .contains(&plain)
        .then(|| plain_option(plain))
        .flatten()
}

/// Whether `option` is a recursive one (`rro`, `rnosuid`, ...).
pub fn is_recursive_option(option: &str) -> bool {
    recursive_option(option).is_some()
}

/// Options runc knows that berth refuses, and why.
fn refused_option(option: &str) -> Option<&'static str> {
    Some(match option {
        "remount" => "remounting is not a mount a container is made of",
        "iversion" | "noiversion" => {
            "i_version is a superblock flag the new mount API does not set"
        }
        "silent" | "loud" => "MS_SILENT is not a flag of the new mount API",
        _ if option.starts_with("X-") || option.starts_with("x-") => {
            "X-* options are for mount(8) and its helpers, not the kernel"
        }
        _ => return None,
    })
}

impl MountOptions {
    /// Parses the options of `mount`, whose JSON path is `field`.
    pub fn parse(field: &str, mount: &Mount) -> Result<MountOptions> {
        let mut flags = MsFlags::empty();
        let mut cleared = MsFlags::empty();
        let mut recursive_flags = MsFlags::empty();
        let mut recursive_cleared = MsFlags::empty();
        let mut recursive = false;
        let mut propagation = None;
        let mut copy_up = false;
        let mut idmap = None;
        let mut data = Vec::new();
        for (j, option) in mount.options.iter().enumerate() {
            if let Some((set, clear)) = plain_option(option) {
                flags.insert(set);
                flags.remove(clear);
                cleared.insert(clear);
                cleared.remove(set);
            } else if let Some((set, clear)) = recursive_option(option) {
                recursive_flags.insert(set);
                recursive_flags.remove(clear);
                recursive_cleared.insert(clear);
                recursive_cleared.remove(set);
            } else if let Some(why) = refused_option(option) {
                return Err(Error::Unsupported(format!(
                    "{field}.options[{j}]: the mount option {option:?} ({why})"
                )));
            } else {
                match option.as_str() {
                    "defaults" | "bind" => {}
                    "rbind" => recursive = true,
                    "tmpcopyup" => copy_up = true,
                    "idmap" => idmap = Some(false),
                    "ridmap" => idmap = Some(true),
                    other => match propagation_of(other) {
                        Some(kind) => propagation = Some(kind),
                        None => data.push(other.to_string()),
                    },
                }
            }
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
        if copy_up && (mount.is_bind() || mount.kind != "tmpfs") {
            return Err(Error::invalid(
                format!("{field}.options"),
                "tmpcopyup is for a tmpfs mount only",
            ));
        }
        if idmap.is_none() && (mount.uid_mappings.is_some() || mount.gid_mappings.is_some()) {
            idmap = Some(false);
        }
        Ok(MountOptions {
            flags,
            cleared,
            recursive,
            propagation,
            data: (!data.is_empty()).then(|| data.join(",")),
            recursive_flags,
            recursive_cleared,
            copy_up,
            idmap,
        })
    }
}

impl MountOptions {
    /// The per-mount attributes to set and clear (`mount_setattr`, `fsmount`). The access-time
    /// mode changes only when an option names one.
    pub fn attrs(&self) -> MountAttrs {
        attrs_of(self.flags, self.cleared)
    }

    /// The attributes of the recursive options, for `mount_setattr` with `AT_RECURSIVE`.
    pub fn recursive_attrs(&self) -> MountAttrs {
        attrs_of(self.recursive_flags, self.recursive_cleared)
    }
}

fn attrs_of(flags: MsFlags, cleared: MsFlags) -> MountAttrs {
    {
        const PLAIN: [(MsFlags, u64); 6] = [
            (MsFlags::MS_RDONLY, libc::MOUNT_ATTR_RDONLY),
            (MsFlags::MS_NOSUID, libc::MOUNT_ATTR_NOSUID),
            (MsFlags::MS_NODEV, libc::MOUNT_ATTR_NODEV),
            (MsFlags::MS_NOEXEC, libc::MOUNT_ATTR_NOEXEC),
            (MsFlags::MS_NODIRATIME, libc::MOUNT_ATTR_NODIRATIME),
            (MS_NOSYMFOLLOW, libc::MOUNT_ATTR_NOSYMFOLLOW),
        ];
        let mut attrs = MountAttrs::default();
        for (flag, attr) in PLAIN {
            if flags.contains(flag) {
                attrs.set |= attr;
            }
            if cleared.contains(flag) {
                attrs.clear |= attr;
            }
        }
        let atime = MsFlags::MS_NOATIME | MsFlags::MS_STRICTATIME | MsFlags::MS_RELATIME;
        if flags.intersects(atime) || cleared.intersects(atime) {
            attrs.clear |= libc::MOUNT_ATTR__ATIME;
            attrs.set |= if flags.contains(MsFlags::MS_NOATIME) {
                libc::MOUNT_ATTR_NOATIME
            } else if flags.contains(MsFlags::MS_STRICTATIME) {
                libc::MOUNT_ATTR_STRICTATIME
            } else {
                libc::MOUNT_ATTR_RELATIME
            };
        }
        attrs
    }
}

impl MountOptions {
    /// The superblock flags a new filesystem takes as `fsconfig` flags (`sync`, `dirsync`,
    /// `lazytime`, `mand`).
    /// A bind shares its source's superblock: they do not apply there.
    pub fn superblock_flags(&self) -> Vec<&'static str> {
        [
            (MsFlags::MS_SYNCHRONOUS, "sync"),
            (MsFlags::MS_DIRSYNC, "dirsync"),
            (MsFlags::MS_LAZYTIME, "lazytime"),
            (MsFlags::MS_MANDLOCK, "mand"),
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
            uid_mappings: None,
            gid_mappings: None,
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

    #[test]
    fn recursive_options_are_kept_apart_and_set_the_atime_mode() {
        let parsed = MountOptions::parse(
            "m",
            &mount("bind", &["rbind", "rro", "rnosuid", "rnoatime"]),
        )
        .unwrap();
        assert_eq!(parsed.attrs(), MountAttrs::default());
        let attrs = parsed.recursive_attrs();
        assert_eq!(
            attrs.set,
            libc::MOUNT_ATTR_RDONLY | libc::MOUNT_ATTR_NOSUID | libc::MOUNT_ATTR_NOATIME
        );
        assert_eq!(attrs.clear, libc::MOUNT_ATTR__ATIME);
        let parsed = MountOptions::parse("m", &mount("bind", &["rro", "rrw", "ratime"])).unwrap();
        let attrs = parsed.recursive_attrs();
        assert_eq!(attrs.set, libc::MOUNT_ATTR_RELATIME);
        assert_eq!(
            attrs.clear,
            libc::MOUNT_ATTR_RDONLY | libc::MOUNT_ATTR__ATIME
        );
        assert!(is_recursive_option("rnosymfollow"));
        assert!(!is_recursive_option("rbind"));
        assert!(!is_recursive_option("rshared"));
        assert!(!is_recursive_option("rsize=8192"));
    }

    #[test]
    fn nosymfollow_lazytime_copy_up_and_idmap() {
        let parsed = MountOptions::parse(
            "m",
            &mount("tmpfs", &["nosymfollow", "lazytime", "tmpcopyup"]),
        )
        .unwrap();
        assert_eq!(parsed.attrs().set, libc::MOUNT_ATTR_NOSYMFOLLOW);
        assert_eq!(parsed.superblock_flags(), ["lazytime"]);
        assert!(parsed.copy_up);
        assert_eq!(parsed.data, None);
        let err = MountOptions::parse("mounts[1]", &mount("proc", &["tmpcopyup"])).unwrap_err();
        assert!(err.to_string().contains("mounts[1].options"), "{err}");
        let parsed = MountOptions::parse("m", &mount("bind", &["rbind", "ridmap"])).unwrap();
        assert_eq!(parsed.idmap, Some(true));
        let mut mapped = mount("bind", &["defaults"]);
        mapped.uid_mappings = Some(vec![runtime_core::DEFAULT_ID_MAPPING]);
        assert_eq!(
            MountOptions::parse("m", &mapped).unwrap().idmap,
            Some(false)
        );
    }

    #[test]
    fn options_berth_cannot_honour_are_refused_by_name() {
        for option in [
            "remount",
            "iversion",
            "silent",
            "X-mount.mkdir",
            "x-systemd.automount",
        ] {
            let err =
                MountOptions::parse("mounts[0]", &mount("tmpfs", &["ro", option])).unwrap_err();
            assert_eq!(err.kind(), runtime_core::ErrorKind::Unsupported, "{err}");
            assert!(err.to_string().contains("mounts[0].options[1]"), "{err}");
            assert!(err.to_string().contains(option), "{err}");
        }
    }
}
