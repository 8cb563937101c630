//! The container's filesystem: the rootfs, the standard mounts and devices, the user's
//! mounts and `pivot_root` ([`build`]), then the masks, read-only paths and sysctls
//! ([`Mounted::protect`]).
//!
//! The image is hostile: its symlinks must not move a mount, and nothing it contains may
//! hide one. So every mount is made as a file descriptor (the new mount API), checked with
//! `fstatfs`, and attached onto the fd of a target resolved once (see [`resolve`] for the
//! two lookup rules). `/proc`, `/sys` and `/dev` must be real directories of the image;
//! what berth puts in `/dev` it creates in its own tmpfs. After `pivot_root`, `/proc`,
//! `/sys` and `/dev` are reached only through the fds kept in [`Mounted`], never by a path.

mod copy;
mod protect;
pub(crate) mod resolve;
mod standard;
mod user;

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use nix::fcntl::OFlag;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::stat::Mode;
use nix::sys::statfs::FsType;
use nix::sys::statvfs::{fstatvfs, FsFlags};
use nix::unistd::{fchdir, pivot_root};
use runtime_core::{Command, NamespaceKind, Result};

use crate::error::StepExt;
use crate::mount_options::MountOptions;
use crate::security::devices::ResolvedDevice;
use crate::sys::mount_api::{self, MountAttrs};
use resolve::{Base, Lookup};

/// The mounts berth made, held open for the steps after `pivot_root`. Every fd is
/// close-on-exec; drop it before the user's program runs anyway.
pub struct Mounted {
    /// The root of the rootfs mount, the container's `/`.
    root: OwnedFd,
    /// berth's procfs, sysfs (or read-only copy of the host's) and `/dev` tmpfs.
    proc: OwnedFd,
    sys: OwnedFd,
    dev: OwnedFd,
    /// The container's `/dev/null`, checked to be the character device 1:3: what file
    /// masks are bound from.
    null: OwnedFd,
}

/// On the host, before any side effect: refuses an image whose `/proc`, `/sys` or `/dev` is
/// a symlink or not a directory (a missing one is made). The init checks again, by fd.
pub fn check_image(rootfs: &str) -> Result<()> {
    for name in standard::DESTINATIONS {
        let path = std::path::Path::new(rootfs).join(name);
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(&path).unwrap_or_default();
            let what = format!("a symlink (to {:?})", target.display().to_string());
            return Err(standard::refusal(rootfs, name, &what));
        }
        if !meta.is_dir() {
            return Err(standard::refusal(rootfs, name, "not a directory"));
        }
    }
    Ok(())
}

/// The idmapped trees the helper made through the container's user namespace: the rootfs
/// (with `idmapped_rootfs`) and the sources of the `idmap` and `ridmap` binds, by index.
#[derive(Default)]
pub struct IdmappedTrees {
    pub rootfs: Option<OwnedFd>,
    pub mounts: std::collections::BTreeMap<usize, OwnedFd>,
}

/// `rootfs_propagation` as mount flags (validated: one of the eight names).
pub fn propagation_flags(name: &str) -> MsFlags {
    let (base, recursive) = match name.strip_prefix('r') {
        Some(rest) => (rest, MsFlags::MS_REC),
        None => (name, MsFlags::empty()),
    };
    recursive
        | match base {
            "shared" => MsFlags::MS_SHARED,
            "slave" => MsFlags::MS_SLAVE,
            "unbindable" => MsFlags::MS_UNBINDABLE,
            _ => MsFlags::MS_PRIVATE,
        }
}

/// Mounts the rootfs and everything in it, then makes it the process's root.
/// `idmapped` holds the idmapped trees to use instead of plain binds.
pub fn build(
    command: &Command,
    devices: &[ResolvedDevice],
    mut idmapped: IdmappedTrees,
) -> Result<Mounted> {
    match command.rootfs_propagation.as_deref().map(propagation_flags) {
        // Nothing mounted from here on may propagate back to the host.
        None => mount(
            None::<&str>,
            "/",
            None::<&str>,
            MsFlags::MS_REC | MsFlags::MS_PRIVATE,
            None::<&str>,
        )
        .step(|| "make / private (MS_REC|MS_PRIVATE)")?,
        // As runc: / takes the propagation asked for, and the mount the rootfs lies on is
        // made private (slave, for a slave propagation), so that attaching the rootfs onto
        // itself is not seen by the host. The root itself takes it after pivot_root.
        Some(flags) => {
            mount(None::<&str>, "/", None::<&str>, flags, None::<&str>)
                .step(|| format!("make / {:?}", command.rootfs_propagation))?;
            let parent = if flags.contains(MsFlags::MS_SLAVE) {
                MsFlags::MS_SLAVE
            } else {
                MsFlags::MS_PRIVATE
            };
            let holder = mount_root_of(&command.rootfs)?;
            mount(
                None::<&str>,
                holder.as_str(),
                None::<&str>,
                parent,
                None::<&str>,
            )
            .step(|| format!("make {holder}, the mount the rootfs lies on, {parent:?}"))?;
        }
    }
    let root = attach_rootfs(command, idmapped.rootfs.take())?;
    let image = Base {
        fd: root.as_fd(),
        lookup: Lookup::InRoot,
        shown: &command.rootfs,
    };
    let standard = standard::mount_all(
        root.as_fd(),
        &command.rootfs,
        command.dev_noexec,
        command.writable_sysfs,
    )?;
    for device in devices {
        user::host_device(&image, standard.dev.as_fd(), device)?;
    }
    for (i, node) in command.device_nodes.iter().enumerate() {
        user::device_node(
            &image,
            standard.dev.as_fd(),
            node,
            &format!("device_nodes[{i}]"),
        )?;
    }
    let kernel = user::KernelMounts {
        proc: standard.proc.as_fd(),
        sys: standard.sys.as_fd(),
    };
    for (i, spec) in command.mounts.iter().enumerate() {
        let options = MountOptions::parse(&format!("mounts[{i}]"), spec)?;
        if spec.kind == "cgroup" {
            let private = command.namespaces.is_new(NamespaceKind::Cgroup);
            user::cgroup_view(&image, &kernel, i, spec, &options, private)?;
            continue;
        }
        user::mount(
            &image,
            &kernel,
            i,
            spec,
            &options,
            idmapped.mounts.remove(&i),
        )?;
    }
    enter(root.as_fd(), &command.rootfs)?;
    let mounted = Mounted {
        root,
        proc: standard.proc,
        sys: standard.sys,
        dev: standard.dev,
        null: standard.null,
    };
    mounted.check_in_place(command)?;
    Ok(mounted)
}

/// Attaches a copy of the rootfs (recursive, with whatever the host mounted inside it) onto
/// itself, since `pivot_root` needs a mount point, and returns the fd of its root. With
/// `readonly_rootfs`, what came along is made read-only right away, all the way down; the
/// top stays writable until berth has made its mount points ([`Mounted::protect`] finishes).
fn attach_rootfs(command: &Command, idmapped_tree: Option<OwnedFd>) -> Result<OwnedFd> {
    let rootfs = command.rootfs.as_str();
    let tree = match idmapped_tree {
        Some(tree) => tree,
        None => mount_api::clone_path(rootfs, true)
            .step(|| format!("clone the rootfs {rootfs} (open_tree)"))?,
    };
    let already_readonly = fstatvfs(&tree)
        .step(|| format!("statvfs the rootfs {rootfs}"))?
        .flags()
        .contains(FsFlags::ST_RDONLY);
    if command.readonly_rootfs && !already_readonly {
        mount_api::set_attrs(tree.as_fd(), MountAttrs::set(libc::MOUNT_ATTR_RDONLY), true)
            .step(|| format!("make the rootfs {rootfs} read-only, recursively"))?;
        let writable_top = MountAttrs {
            clear: libc::MOUNT_ATTR_RDONLY,
            ..MountAttrs::default()
        };
        mount_api::set_attrs(tree.as_fd(), writable_top, false)
            .step(|| format!("keep the top of the rootfs {rootfs} writable for now"))?;
    }
    mount_api::attach(tree.as_fd(), rootfs)
        .step(|| format!("attach the copy of the rootfs on {rootfs}"))?;
    Ok(tree)
}

/// The mount point of the host mount the directory `path` lies on: the last directory on the
/// way up with the same mount id (a host path, the caller's, looked at before pivot_root).
fn mount_root_of(path: &str) -> Result<String> {
    let id_of = |path: &str| -> Result<Option<u64>> {
        let fd = nix::fcntl::open(
            path,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .step(|| format!("open {path}"))?;
        mount_api::mount_id(fd.as_fd()).step(|| format!("statx {path}"))
    };
    let mut here = std::path::PathBuf::from(path);
    let id = id_of(path)?;
    while let Some(parent) = here.parent().map(std::path::Path::to_path_buf) {
        let shown = parent.to_string_lossy().into_owned();
        if id_of(&shown)? != id {
            break;
        }
        here = parent;
    }
    Ok(here.to_string_lossy().into_owned())
}

/// `pivot_root` into the rootfs and drop the old root, without a directory to put it in:
/// both roots are stacked on `.` and the old one is detached from under the new one.
fn enter(root: BorrowedFd<'_>, rootfs: &str) -> Result<()> {
    let old_root = nix::fcntl::open(
        "/",
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .step(|| "open the old root")?;
    fchdir(root).step(|| format!("chdir into the rootfs {rootfs}"))?;
    pivot_root(".", ".").step(|| format!("pivot_root into {rootfs}"))?;
    // The old root may be shared (a shared rootfs_propagation): its detach must not reach
    // the host. From inside it, "." is the old root's own mount.
    fchdir(&old_root).step(|| "chdir into the old root")?;
    mount(
        None::<&str>,
        ".",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .step(|| "make the old root private (MS_REC|MS_PRIVATE)")?;
    umount2(".", MntFlags::MNT_DETACH).step(|| "detach the old root")?;
    nix::unistd::chdir("/").step(|| "chdir to / of the container")
}

impl Mounted {
    /// For berth's LXC hook, which has joined the mount namespace of LXC's init after LXC's
    /// `pivot_root`: the mounts LXC made on the container's root `root` (`/` there), each
    /// reached through no symlink and checked to be a procfs, a sysfs and a tmpfs. The masks
    /// are bound from the container's `/dev/null` (LXC's autodev node), checked to be the
    /// device 1:3.
    pub fn of_lxc(root: &str) -> Result<Mounted> {
        let root = nix::fcntl::open(
            root,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .step(|| format!("open LXC's rootfs mount {root}"))?;
        let image = Base {
            fd: root.as_fd(),
            lookup: Lookup::Strict { cross_mounts: true },
            shown: "the container",
        };
        let standard = |name: &str, magic: FsType| -> Result<OwnedFd> {
            let fd = image
                .open(name, OFlag::O_PATH | OFlag::O_DIRECTORY)
                .step(|| image.describe("open", name))?;
            standard::expect_filesystem(fd.as_fd(), magic, &format!("/{name} of the container"))?;
            Ok(fd)
        };
        let proc = standard("proc", nix::sys::statfs::PROC_SUPER_MAGIC)?;
        let sys = standard("sys", nix::sys::statfs::SYSFS_MAGIC)?;
        let dev = standard("dev", nix::sys::statfs::TMPFS_MAGIC)?;
        let null = image
            .open("dev/null", OFlag::O_PATH)
            .step(|| image.describe("open", "dev/null"))?;
        standard::expect_null(null.as_fd(), "the container's /dev/null")?;
        Ok(Mounted {
            root,
            proc,
            sys,
            dev,
            null,
        })
    }

    /// The last step of the rootfs, after the masks: the root takes `rootfs_propagation`
    /// (with the `r` forms, every mount of the container), unless it is a private one, which
    /// every mount has already.
    pub fn finish_propagation(&self, command: &Command) -> Result<()> {
        let Some(flags) = command.rootfs_propagation.as_deref().map(propagation_flags) else {
            return Ok(());
        };
        if flags.contains(MsFlags::MS_PRIVATE) {
            return Ok(());
        }
        let attrs = MountAttrs {
            propagation: (flags - MsFlags::MS_REC).bits(),
            ..MountAttrs::default()
        };
        mount_api::set_attrs(self.root.as_fd(), attrs, flags.contains(MsFlags::MS_REC)).step(|| {
            format!(
                "make the root {:?} (rootfs_propagation)",
                command.rootfs_propagation
            )
        })
    }

    /// A new pty multiplexer of berth's devpts, reached through berth's `/dev`.
    pub fn open_ptmx(&self) -> Result<OwnedFd> {
        standard::dev_base(self.dev.as_fd())
            .open(
                "pts/ptmx",
                nix::fcntl::OFlag::O_RDWR | nix::fcntl::OFlag::O_NOCTTY,
            )
            .step(|| "open /dev/pts/ptmx of the container")
    }

    /// Binds a terminal's slave onto `/dev/console`, a file made in berth's `/dev` tmpfs.
    pub fn bind_console(&self, slave: BorrowedFd<'_>) -> Result<()> {
        match resolve::create(self.dev.as_fd(), "console", resolve::Kind::File) {
            // A device the command asked for at /dev/console is covered like the file.
            Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
            Err(errno) => return Err(errno).step(|| "create /dev/console"),
        }
        let in_dev = Base {
            fd: self.dev.as_fd(),
            lookup: Lookup::Strict {
                cross_mounts: false,
            },
            shown: "the container's /dev",
        };
        let target = in_dev
            .open("console", nix::fcntl::OFlag::O_PATH)
            .step(|| in_dev.describe("open", "console"))?;
        let tree = mount_api::clone_tree(slave, "", false)
            .step(|| "copy the terminal's slave (open_tree)")?;
        standard::attach(tree.as_fd(), target.as_fd(), "/dev/console")
    }
}
