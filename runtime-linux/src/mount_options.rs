//! Mount options as `mount(2)` wants them: the flag bits, the propagation, and the rest as the
//! filesystem's data string. Parsed on the host to reject bad input early, and again in the
//! init, which applies them.

use nix::mount::MsFlags;
use runtime_core::{Error, Mount, Result};

/// A [`Mount`]'s options, sorted out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountOptions {
    /// Flags to set.
    pub flags: MsFlags,
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
            recursive,
            propagation,
            data: (!data.is_empty()).then(|| data.join(",")),
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
    }

    #[test]
    fn a_bind_mount_rejects_filesystem_data() {
        let err = MountOptions::parse("mounts[0]", &mount("bind", &["size=1m"])).unwrap_err();
        assert!(err.to_string().contains("mounts[0].options"), "{err}");
    }
}
