//! The container's filesystem: the rootfs bind, the standard mounts and devices, the user's
//! mounts, `pivot_root`, and the masked and read-only paths.
//!
//! Every mount target is resolved inside the rootfs with `openat2(RESOLVE_IN_ROOT)` and
//! mounted through its `/proc/self/fd` path, so a symlink in the rootfs can never lead a
//! mount out of it.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{openat2, OFlag, OpenHow, ResolveFlag};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::stat::mkdirat;
use nix::sys::stat::{makedev, mknodat, Mode, SFlag};
use nix::sys::statvfs::{statvfs, FsFlags};
use nix::unistd::{fchdir, pivot_root, symlinkat};
use runtime_core::{Command, NamespaceKind, Result};

use crate::error::StepExt;
use crate::mount_options::MountOptions;
use crate::security::devices::ResolvedDevice;

/// What a missing mount target is created as.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Target {
    Directory,
    File,
}

/// Mounts the rootfs and everything in it, then makes it the process's root.
pub fn build(
    command: &Command,
    devices: &[ResolvedDevice],
    idmapped_tree: Option<OwnedFd>,
) -> Result<()> {
    let rootfs = command.rootfs.as_str();
    // Nothing mounted from here on may propagate back to the host.
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .step(|| "make / private (MS_REC|MS_PRIVATE)")?;
    // pivot_root needs the new root to be a mount point: the idmapped copy of the rootfs, or
    // the rootfs bound onto itself.
    match idmapped_tree {
        Some(tree) => crate::sys::mount_api::attach(tree.as_fd(), rootfs)
            .step(|| format!("attach the idmapped rootfs on {rootfs}"))?,
        None => mount(
            Some(rootfs),
            rootfs,
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None::<&str>,
        )
        .step(|| format!("bind-mount the rootfs {rootfs} onto itself"))?,
    }
    let root = nix::fcntl::open(
        rootfs,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .step(|| format!("open the rootfs {rootfs}"))?;
    let root = Rootfs {
        fd: root,
        path: rootfs,
    };

    root.standard_mounts(command)?;
    for device in devices {
        root.host_device(device)?;
    }
    for (i, spec) in command.mounts.iter().enumerate() {
        let options = MountOptions::parse(&format!("mounts[{i}]"), spec)?;
        root.user_mount(spec, &options)?;
    }
    enter(&root)
}

/// After `pivot_root`: masks, read-only paths and the read-only rootfs.
pub fn protect(command: &Command) -> Result<()> {
    for path in command.effective_masked_paths() {
        mask(&path)?;
    }
    for path in command.effective_readonly_paths() {
        make_readonly(&path)?;
    }
    if command.readonly_rootfs {
        remount_readonly("/")?;
    }
    Ok(())
}

struct Rootfs<'a> {
    fd: OwnedFd,
    path: &'a str,
}

impl Rootfs<'_> {
    /// Opens `path` (absolute, inside the container) as an `O_PATH` fd, creating what is
    /// missing. No component may resolve outside the rootfs.
    fn resolve(&self, path: &str, create: Target) -> Result<OwnedFd> {
        match self.open_in_root(path) {
            Err(Errno::ENOENT) => {}
            other => return other.step(|| self.describe("resolve", path)),
        }
        let components: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
        let mut parent = self.open_in_root("/").step(|| self.describe("open", "/"))?;
        for (i, name) in components.iter().enumerate() {
            let prefix = format!("/{}", components[..=i].join("/"));
            match self.open_in_root(&prefix) {
                Ok(fd) => {
                    parent = fd;
                    continue;
                }
                Err(Errno::ENOENT) => {}
                Err(errno) => return Err(errno).step(|| self.describe("resolve", &prefix)),
            }
            let last = i + 1 == components.len();
            let made = if last && create == Target::File {
                mknodat(
                    parent.as_fd(),
                    *name,
                    SFlag::S_IFREG,
                    Mode::from_bits_truncate(0o644),
                    0,
                )
            } else {
                mkdirat(parent.as_fd(), *name, Mode::from_bits_truncate(0o755))
            };
            match made {
                Ok(()) | Err(Errno::EEXIST) => {}
                Err(errno) => return Err(errno).step(|| self.describe("create", &prefix)),
            }
            parent = self
                .open_in_root(&prefix)
                .step(|| self.describe("resolve", &prefix))?;
        }
        Ok(parent)
    }

    fn open_in_root(&self, path: &str) -> nix::Result<OwnedFd> {
        let how = OpenHow::new()
            .flags(OFlag::O_PATH | OFlag::O_CLOEXEC)
            .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
        let relative = match path.trim_start_matches('/') {
            "" => ".",
            relative => relative,
        };
        loop {
            match openat2(self.fd.as_fd(), relative, how) {
                // openat2 asks for a retry when a rename raced with the lookup.
                Err(Errno::EAGAIN) => continue,
                other => return other,
            }
        }
    }

    fn describe(&self, verb: &str, path: &str) -> String {
        format!("{verb} {path} in the rootfs {}", self.path)
    }

    /// Mounts onto `path` inside the rootfs. `what` names the mount in errors.
    fn mount_at(
        &self,
        path: &str,
        create: Target,
        source: Option<&str>,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> Result<()> {
        let target = self.resolve(path, create)?;
        let through = proc_fd_path(&target);
        mount(source, through.as_str(), fstype, flags, data).step(|| {
            let what = fstype.or(source).unwrap_or("mount");
            format!("mount {what} on {}{path}", self.path)
        })
    }

    fn standard_mounts(&self, command: &Command) -> Result<()> {
        let plain = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
        self.mount_at(
            "/proc",
            Target::Directory,
            Some("proc"),
            Some("proc"),
            plain,
            None,
        )?;
        self.mount_at(
            "/dev",
            Target::Directory,
            Some("tmpfs"),
            Some("tmpfs"),
            MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME,
            Some("mode=755,size=65536k"),
        )?;
        self.device_nodes()?;
        self.mount_at(
            "/dev/pts",
            Target::Directory,
            Some("devpts"),
            Some("devpts"),
            MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
            Some("newinstance,ptmxmode=0666,mode=0620"),
        )?;
        self.mount_at(
            "/dev/shm",
            Target::Directory,
            Some("shm"),
            Some("tmpfs"),
            plain,
            Some("mode=1777,size=65536k"),
        )?;
        self.mount_at(
            "/dev/mqueue",
            Target::Directory,
            Some("mqueue"),
            Some("mqueue"),
            plain,
            None,
        )?;
        if command.namespaces.is_new(NamespaceKind::Net) {
            self.mount_at(
                "/sys",
                Target::Directory,
                Some("sysfs"),
                Some("sysfs"),
                plain | MsFlags::MS_RDONLY,
                None,
            )
        } else {
            // sysfs shows the network devices of the mounter's net namespace; with the host's
            // (or another's) a read-only recursive bind of the host's /sys is what works.
            self.mount_at(
                "/sys",
                Target::Directory,
                Some("/sys"),
                None,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                None,
            )?;
            remount_readonly(&format!("{}/sys", self.path))
        }
    }

    /// The device nodes every container has, made in the fresh `/dev` tmpfs, and the links.
    fn device_nodes(&self) -> Result<()> {
        const NODES: [(&str, u64, u64); 6] = [
            ("null", 1, 3),
            ("zero", 1, 5),
            ("full", 1, 7),
            ("random", 1, 8),
            ("urandom", 1, 9),
            ("tty", 5, 0),
        ];
        const LINKS: [(&str, &str); 5] = [
            ("fd", "/proc/self/fd"),
            ("stdin", "/proc/self/fd/0"),
            ("stdout", "/proc/self/fd/1"),
            ("stderr", "/proc/self/fd/2"),
            ("ptmx", "pts/ptmx"),
        ];
        let dev = self.resolve("/dev", Target::Directory)?;
        // An O_PATH fd cannot be a dirfd for mknodat; open /dev for real through it.
        let dev = nix::fcntl::open(
            proc_fd_path(&dev).as_str(),
            OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .step(|| self.describe("open", "/dev"))?;
        for (name, major, minor) in NODES {
            match mknodat(
                dev.as_fd(),
                name,
                SFlag::S_IFCHR,
                Mode::from_bits_truncate(0o666),
                makedev(major, minor),
            ) {
                Ok(()) => {}
                // In a user namespace no device can be made: bind the host's node instead.
                Err(Errno::EPERM) => self.bind_host_device(name)?,
                Err(errno) => {
                    return Err(errno)
                        .step(|| format!("mknod /dev/{name} in the rootfs {}", self.path))
                }
            }
        }
        for (name, target) in LINKS {
            symlinkat(target, dev.as_fd(), name)
                .step(|| format!("link /dev/{name} to {target} in the rootfs {}", self.path))?;
        }
        Ok(())
    }

    /// A node for a host device the command asked for, like the host's (numbers, mode,
    /// owner); bound from the host where no node may be made (a user namespace).
    fn host_device(&self, device: &ResolvedDevice) -> Result<()> {
        let path = device.container_path.as_str();
        let (parent, name) = path.rsplit_once('/').unwrap_or(("", path));
        let dir = self.resolve(
            if parent.is_empty() { "/" } else { parent },
            Target::Directory,
        )?;
        let dir = nix::fcntl::open(
            proc_fd_path(&dir).as_str(),
            OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .step(|| self.describe("open", parent))?;
        let kind = if device.kind == 'b' {
            SFlag::S_IFBLK
        } else {
            SFlag::S_IFCHR
        };
        let _ = nix::unistd::unlinkat(&dir, name, nix::unistd::UnlinkatFlags::NoRemoveDir);
        match mknodat(
            dir.as_fd(),
            name,
            kind,
            Mode::from_bits_truncate(device.mode),
            makedev(u64::from(device.major), u64::from(device.minor)),
        ) {
            Ok(()) => nix::unistd::fchownat(
                &dir,
                name,
                Some(nix::unistd::Uid::from_raw(device.uid)),
                Some(nix::unistd::Gid::from_raw(device.gid)),
                nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
            )
            .step(|| format!("chown {path} in the rootfs {}", self.path)),
            Err(Errno::EPERM) => {
                let target = self.resolve(path, Target::File)?;
                mount(
                    Some(path),
                    proc_fd_path(&target).as_str(),
                    None::<&str>,
                    MsFlags::MS_BIND,
                    None::<&str>,
                )
                .step(|| format!("bind the host's {path} into the rootfs {}", self.path))
            }
            Err(errno) => Err(errno).step(|| format!("mknod {path} in the rootfs {}", self.path)),
        }
    }

    fn bind_host_device(&self, name: &str) -> Result<()> {
        let target = self.resolve(&format!("/dev/{name}"), Target::File)?;
        let host = format!("/dev/{name}");
        mount(
            Some(host.as_str()),
            proc_fd_path(&target).as_str(),
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .step(|| format!("bind {host} onto /dev/{name} in the rootfs {}", self.path))
    }

    fn user_mount(&self, spec: &runtime_core::Mount, options: &MountOptions) -> Result<()> {
        let dest = spec.destination.as_str();
        if spec.is_bind() {
            let source = spec.source.as_deref().unwrap_or_default();
            let is_dir = std::fs::metadata(source)
                .step(|| format!("stat bind source {source}"))?
                .is_dir();
            let create = if is_dir {
                Target::Directory
            } else {
                Target::File
            };
            let mut bind = MsFlags::MS_BIND;
            if options.recursive {
                bind |= MsFlags::MS_REC;
            }
            let target = self.resolve(dest, create)?;
            let through = proc_fd_path(&target);
            mount(
                Some(source),
                through.as_str(),
                None::<&str>,
                bind,
                None::<&str>,
            )
            .step(|| format!("bind-mount {source} on {}{dest}", self.path))?;
            // Flags on a bind only take effect through a remount of it.
            if !options.flags.is_empty() {
                // Reopen: the fd above names the directory under the new mount.
                let target = self.resolve(dest, create)?;
                let through = proc_fd_path(&target);
                mount(
                    None::<&str>,
                    through.as_str(),
                    None::<&str>,
                    MsFlags::MS_BIND | MsFlags::MS_REMOUNT | options.flags,
                    None::<&str>,
                )
                .step(|| {
                    format!(
                        "remount {}{dest} with {:?}",
                        self.path,
                        spec.options.join(",")
                    )
                })?;
            }
        } else {
            self.mount_at(
                dest,
                Target::Directory,
                Some(spec.source.as_deref().unwrap_or(&spec.kind)),
                Some(&spec.kind),
                options.flags,
                options.data.as_deref(),
            )?;
        }
        if let Some(propagation) = options.propagation {
            let target = self.resolve(dest, Target::Directory)?;
            mount(
                None::<&str>,
                proc_fd_path(&target).as_str(),
                None::<&str>,
                propagation,
                None::<&str>,
            )
            .step(|| format!("set propagation of {}{dest}", self.path))?;
        }
        Ok(())
    }
}

/// `pivot_root` into the rootfs and drop the old root, without a directory to put it in:
/// both roots are stacked on `.` and the old one is detached from under the new one.
fn enter(root: &Rootfs<'_>) -> Result<()> {
    let rootfs = root.path;
    fchdir(&root.fd).step(|| format!("chdir into the rootfs {rootfs}"))?;
    pivot_root(".", ".").step(|| format!("pivot_root into {rootfs}"))?;
    umount2(".", MntFlags::MNT_DETACH).step(|| "detach the old root")?;
    nix::unistd::chdir("/").step(|| "chdir to / of the container")
}

fn proc_fd_path(fd: &OwnedFd) -> String {
    format!("/proc/self/fd/{}", fd.as_raw_fd())
}

/// Covers `path` so that nothing under it can be read: `/dev/null` over a file, an empty
/// read-only tmpfs over a directory. A path that does not exist needs no mask.
fn mask(path: &str) -> Result<()> {
    let is_dir = match std::fs::metadata(path) {
        Ok(meta) => meta.is_dir(),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(err) => return Err(err).step(|| format!("stat masked path {path}")),
    };
    if is_dir {
        mount(
            Some("tmpfs"),
            path,
            Some("tmpfs"),
            MsFlags::MS_RDONLY,
            Some("size=0,mode=0555"),
        )
        .step(|| format!("mask {path} with an empty tmpfs"))
    } else {
        mount(
            Some("/dev/null"),
            path,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .step(|| format!("mask {path} with /dev/null"))
    }
}

fn make_readonly(path: &str) -> Result<()> {
    if !Path::new(path).exists() {
        return Ok(());
    }
    mount(
        Some(path),
        path,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .step(|| format!("bind {path} onto itself"))?;
    remount_readonly(path)
}

/// Remounts the mount at `path` read-only, keeping its other flags (which the kernel requires
/// of a bind remount).
fn remount_readonly(path: &str) -> Result<()> {
    let current = statvfs(path).step(|| format!("statvfs {path}"))?.flags();
    let mut flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY;
    for (fs, ms) in [
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ] {
        if current.contains(fs) {
            flags |= ms;
        }
    }
    mount(None::<&str>, path, None::<&str>, flags, None::<&str>)
        .step(|| format!("remount {path} read-only"))
}
