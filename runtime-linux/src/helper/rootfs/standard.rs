//! The mounts every container has: `/proc`, the `/dev` tmpfs with its nodes, links, `pts`,
//! `shm` and `mqueue`, and `/sys`. Each is a new filesystem made as an fd, checked with
//! `fstatfs`, and attached onto a real directory of the image (never a symlink) or one that
//! berth made in its own tmpfs.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::{fstat, makedev, mkdirat, mknodat, Mode, SFlag};
use nix::sys::statfs::{fstatfs, FsType};
use nix::unistd::symlinkat;
use runtime_core::{Error, Result};

use super::resolve::{create, Base, Kind, Lookup};
use crate::error::{os_error, StepExt};
use crate::sys::mount_api::{self, FsContext, MountAttrs};

/// `MQUEUE_MAGIC`, which nix does not name.
const MQUEUE_MAGIC: FsType = FsType(0x1980_0202);

const PLAIN: u64 = libc::MOUNT_ATTR_NOSUID | libc::MOUNT_ATTR_NODEV | libc::MOUNT_ATTR_NOEXEC;

/// The standard mounts, as fds of their roots, and the container's `/dev/null`.
pub struct Standard {
    pub proc: OwnedFd,
    pub dev: OwnedFd,
    pub sys: OwnedFd,
    pub null: OwnedFd,
}

/// An option of a new filesystem: `key=value`, or a flag.
pub type FsOption<'a> = (&'a str, Option<&'a str>);

/// Mounts `/proc`, `/dev` and everything in it, and `/sys` into the rootfs whose root is
/// `root` (shown as `rootfs` in messages); `/dev` also `noexec` with `dev_noexec`, `/sys`
/// read-write with `writable_sysfs`.
pub fn mount_all(
    root: BorrowedFd<'_>,
    rootfs: &str,
    dev_noexec: bool,
    writable_sysfs: bool,
) -> Result<Standard> {
    let onto_image = |name: &str, tree: &OwnedFd| {
        let target = image_directory(root, rootfs, name)?;
        attach(tree.as_fd(), target.as_fd(), &format!("/{name}"))
    };
    let proc = checked_filesystem(
        ("proc", "proc", &[]),
        PLAIN,
        nix::sys::statfs::PROC_SUPER_MAGIC,
        "/proc",
    )?;
    onto_image("proc", &proc)?;
    let dev = checked_filesystem(
        (
            "tmpfs",
            "tmpfs",
            &[("mode", Some("755")), ("size", Some("65536k"))],
        ),
        libc::MOUNT_ATTR_NOSUID
            | libc::MOUNT_ATTR_STRICTATIME
            | if dev_noexec {
                libc::MOUNT_ATTR_NOEXEC
            } else {
                0
            },
        nix::sys::statfs::TMPFS_MAGIC,
        "/dev",
    )?;
    onto_image("dev", &dev)?;
    let null = device_nodes(dev.as_fd())?;
    dev_mounts(dev.as_fd())?;

    let sys = sysfs(writable_sysfs)?;
    attach(
        sys.as_fd(),
        image_directory(root, rootfs, "sys")?.as_fd(),
        "/sys",
    )?;
    Ok(Standard {
        proc,
        dev,
        sys,
        null,
    })
}

/// The fd of `/<name>` of the image, which must be a directory (one is made if it is
/// missing). A symlink or anything else is refused: it could lead the mount elsewhere, and
/// a later mount could hide where.
fn image_directory(root: BorrowedFd<'_>, rootfs: &str, name: &str) -> Result<OwnedFd> {
    let image = Base {
        fd: root,
        lookup: Lookup::Strict { cross_mounts: true },
        shown: rootfs,
    };
    let refuse = |what: String| {
        Error::invalid(
            "rootfs",
            format!(
                "/{name} in the image {rootfs} is {what}; berth mounts /{name} only on a directory"
            ),
        )
    };
    for _ in 0..2 {
        // O_PATH|O_NOFOLLOW: a symlink at the end is opened itself, to be seen and refused.
        match image.open(name, OFlag::O_PATH | OFlag::O_NOFOLLOW) {
            Ok(fd) => {
                let mode = fstat(&fd).step(|| image.describe("stat", name))?.st_mode;
                return match SFlag::from_bits_truncate(mode & SFlag::S_IFMT.bits()) {
                    SFlag::S_IFDIR => Ok(fd),
                    SFlag::S_IFLNK => {
                        let target = nix::fcntl::readlinkat(root, name).unwrap_or_default();
                        Err(refuse(format!("a symlink (to {target:?})")))
                    }
                    _ => Err(refuse("not a directory".into())),
                };
            }
            Err(Errno::ENOENT) => match create(root, name, Kind::Directory) {
                Ok(()) | Err(Errno::EEXIST) => {}
                Err(errno) => return Err(errno).step(|| image.describe("create", name)),
            },
            Err(errno) => return Err(errno).step(|| image.describe("open", name)),
        }
    }
    Err(refuse("changing under berth".into()))
}

/// The error for an image whose `/<name>` (`proc`, `sys`, `dev`) is `what` instead of a
/// directory. The host says the same before any side effect.
pub fn refusal(rootfs: &str, name: &str, what: &str) -> Error {
    Error::invalid(
        "rootfs",
        format!(
            "/{name} in the image {rootfs} is {what}; berth mounts /{name} only on a directory"
        ),
    )
}

/// The directories of the image that berth mounts its filesystems on.
pub const DESTINATIONS: [&str; 3] = ["proc", "dev", "sys"];

/// The device nodes every container has, made in the fresh `/dev` tmpfs, and the links.
/// Returns the fd of `null`.
fn device_nodes(dev: BorrowedFd<'_>) -> Result<OwnedFd> {
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
    for (name, major, minor) in NODES {
        let number = makedev(major, minor);
        match mknodat(
            dev,
            name,
            SFlag::S_IFCHR,
            Mode::from_bits_truncate(0o666),
            number,
        ) {
            Ok(()) => {}
            // In a user namespace no device can be made: bind the host's node instead.
            Err(Errno::EPERM) => {
                bind_host_node(&format!("/dev/{name}"), SFlag::S_IFCHR, number, dev, name)?
            }
            Err(errno) => return Err(errno).step(|| format!("mknod /dev/{name}")),
        }
    }
    for (name, target) in LINKS {
        symlinkat(target, dev, name).step(|| format!("link /dev/{name} to {target}"))?;
    }
    let in_dev = dev_base(dev);
    let null = in_dev
        .open("null", OFlag::O_PATH)
        .step(|| in_dev.describe("open", "null"))?;
    expect_null(null.as_fd(), "the container's /dev/null")?;
    Ok(null)
}

/// Checks that `fd` is the character device 1:3.
pub fn expect_null(fd: BorrowedFd<'_>, shown: &str) -> Result<()> {
    let stat = fstat(fd).step(|| format!("stat {shown}"))?;
    if SFlag::from_bits_truncate(stat.st_mode & SFlag::S_IFMT.bits()) != SFlag::S_IFCHR
        || stat.st_rdev != makedev(1, 3)
    {
        return Err(Error::Internal(format!(
            "{shown} is not the character device 1:3"
        )));
    }
    Ok(())
}

/// `pts`, `shm` and `mqueue`, on directories made in the `/dev` tmpfs.
fn dev_mounts(dev: BorrowedFd<'_>) -> Result<()> {
    let mounts: [(&str, &str, &[FsOption<'_>], u64, FsType); 3] = [
        (
            "pts",
            "devpts",
            &[
                ("newinstance", None),
                ("ptmxmode", Some("0666")),
                ("mode", Some("0620")),
            ],
            libc::MOUNT_ATTR_NOSUID | libc::MOUNT_ATTR_NOEXEC,
            nix::sys::statfs::DEVPTS_SUPER_MAGIC,
        ),
        (
            "shm",
            "tmpfs",
            &[("mode", Some("1777")), ("size", Some("65536k"))],
            PLAIN,
            nix::sys::statfs::TMPFS_MAGIC,
        ),
        ("mqueue", "mqueue", &[], PLAIN, MQUEUE_MAGIC),
    ];
    let in_dev = dev_base(dev);
    for (name, fstype, options, attrs, magic) in mounts {
        let shown = format!("/dev/{name}");
        mkdirat(dev, name, Mode::from_bits_truncate(0o755)).step(|| format!("create {shown}"))?;
        let target = in_dev
            .open(name, OFlag::O_PATH | OFlag::O_DIRECTORY)
            .step(|| in_dev.describe("open", name))?;
        let source = if fstype == "tmpfs" { name } else { fstype };
        let mounted = checked_filesystem((fstype, source, options), attrs, magic, &shown)?;
        attach(mounted.as_fd(), target.as_fd(), &shown)?;
    }
    Ok(())
}

/// A fresh read-only sysfs, which shows the devices of the container's net namespace. Where
/// the kernel refuses one (a user namespace that does not own the net namespace, as with
/// the host's network), a copy of the host's `/sys`, read-only all the way down: its
/// cgroup hierarchies, tracefs and the rest included. With `writable` (a privileged
/// container's), neither is made read-only.
fn sysfs(writable: bool) -> Result<OwnedFd> {
    let attrs = if writable {
        PLAIN
    } else {
        libc::MOUNT_ATTR_RDONLY | PLAIN
    };
    let tree = match FsContext::open("sysfs") {
        Ok(context) => configure_and_mount(&context, "sysfs", "sysfs", &[], attrs, "/sys")?,
        Err(Errno::EPERM) => {
            let tree =
                mount_api::clone_path("/sys", true).step(|| "copy the host's /sys (open_tree)")?;
            mount_api::set_attrs(tree.as_fd(), MountAttrs::set(attrs), true)
                .step(|| "set nosuid,nodev,noexec (and ro) on the copy of the host's /sys")?;
            tree
        }
        Err(errno) => return Err(errno).step(|| "open a sysfs filesystem for /sys"),
    };
    expect_filesystem(tree.as_fd(), nix::sys::statfs::SYSFS_MAGIC, "/sys")?;
    Ok(tree)
}

/// A new filesystem (type, source, options) with `attrs`, checked to be of the type `magic`.
fn checked_filesystem(
    (fstype, source, options): (&str, &str, &[FsOption<'_>]),
    attrs: u64,
    magic: FsType,
    shown: &str,
) -> Result<OwnedFd> {
    let tree = new_filesystem(fstype, source, options, attrs, shown)?;
    expect_filesystem(tree.as_fd(), magic, shown)?;
    Ok(tree)
}

/// A detached mount of a new `fstype` filesystem from `source` with `options`, and the
/// mount attributes `attrs`. `shown` names it in errors, with what the filesystem said.
pub fn new_filesystem(
    fstype: &str,
    source: &str,
    options: &[FsOption<'_>],
    attrs: u64,
    shown: &str,
) -> Result<OwnedFd> {
    let context =
        FsContext::open(fstype).step(|| format!("open a {fstype} filesystem for {shown}"))?;
    configure_and_mount(&context, fstype, source, options, attrs, shown)
}

fn configure_and_mount(
    context: &FsContext,
    fstype: &str,
    source: &str,
    options: &[FsOption<'_>],
    attrs: u64,
    shown: &str,
) -> Result<OwnedFd> {
    let failed = |what: String, errno: Errno| {
        let said = context.messages();
        let said = if said.is_empty() {
            String::new()
        } else {
            format!(" ({fstype} says: {said})")
        };
        os_error(format!("{what} for {shown}{said}"), errno)
    };
    context
        .string("source", source)
        .map_err(|errno| failed(format!("set the source {source:?} of {fstype}"), errno))?;
    for (key, value) in options {
        match value {
            Some(value) => context.string(key, value),
            None => context.flag(key),
        }
        .map_err(|errno| failed(format!("set the {fstype} option {key}"), errno))?;
    }
    let mounted = if fstype == "cgroup2" {
        outside_the_cgroup_namespace(|| context.mount(attrs))?
    } else {
        context.mount(attrs)
    };
    mounted.map_err(|errno| failed(format!("mount {fstype}"), errno))
}

/// Runs `create` (the `FSCONFIG_CMD_CREATE` of a cgroup2 context opened in this cgroup
/// namespace) from a new cgroup namespace, then comes back to this one.
///
/// Created from the initial cgroup namespace, a cgroup2 instance applies its mount options
/// to the whole hierarchy (Linux's `apply_cgroup_root_flags`): it would reset the host's
/// `nsdelegate`, `memory_recursiveprot` and `favordynmods` to the container's (none), and
/// it takes the global `cgroup_threadgroup_rwsem` for writing, which waits for an RCU grace
/// period (6 to 15 ms here, most of a container's start). From another namespace it does
/// neither; the mount's root is still the one of the namespace the context was opened in
/// (the hierarchy's root in the initial one), so the container sees the same tree.
///
/// Only where this thread may come back (it may `setns` into its own cgroup namespace:
/// not in a user namespace of the container's, which owns no cgroup namespace of the
/// host's); otherwise `create` runs here, as it would without this. Failing to come back is
/// an error: the container never runs in a cgroup namespace it did not ask for.
fn outside_the_cgroup_namespace<T>(
    create: impl FnOnce() -> nix::Result<T>,
) -> Result<nix::Result<T>> {
    use nix::sched::{setns, unshare, CloneFlags};
    let own = nix::fcntl::open(
        "/proc/thread-self/ns/cgroup",
        OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    );
    let Ok(own) = own else {
        return Ok(create());
    };
    // Joining the namespace it is in changes nothing, but checks the right to come back.
    if setns(&own, CloneFlags::CLONE_NEWCGROUP).is_err()
        || unshare(CloneFlags::CLONE_NEWCGROUP).is_err()
    {
        return Ok(create());
    }
    let created = create();
    setns(&own, CloneFlags::CLONE_NEWCGROUP)
        .step(|| "come back to the container's cgroup namespace after mounting cgroup2")?;
    Ok(created)
}

/// Binds the host's device node at `host_path` onto a new empty file `name` in `dir`, once it
/// is checked to be the `kind` device `number`.
pub fn bind_host_node(
    host_path: &str,
    kind: SFlag,
    number: u64,
    dir: BorrowedFd<'_>,
    name: &str,
) -> Result<()> {
    let host = nix::fcntl::open(host_path, OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty())
        .step(|| format!("open the host's {host_path}"))?;
    let stat = fstat(&host).step(|| format!("stat the host's {host_path}"))?;
    if SFlag::from_bits_truncate(stat.st_mode & SFlag::S_IFMT.bits()) != kind
        || stat.st_rdev != number
    {
        return Err(Error::invalid(
            "devices",
            format!(
                "the host's {host_path} is no longer the device {}:{}",
                nix::sys::stat::major(number),
                nix::sys::stat::minor(number)
            ),
        ));
    }
    let tree = mount_api::clone_tree(host.as_fd(), "", false)
        .step(|| format!("copy the host's {host_path} (open_tree)"))?;
    create(dir, name, Kind::File).step(|| format!("create {name} for the host's {host_path}"))?;
    let target = Base {
        fd: dir,
        lookup: Lookup::Strict {
            cross_mounts: false,
        },
        shown: "the container",
    }
    .open(name, OFlag::O_PATH)
    .step(|| format!("open {name} for the host's {host_path}"))?;
    attach(tree.as_fd(), target.as_fd(), host_path)
}

/// Checks that the mount `fd` names is of the filesystem `magic`.
pub fn expect_filesystem(fd: BorrowedFd<'_>, magic: FsType, shown: &str) -> Result<()> {
    let found = fstatfs(fd)
        .step(|| format!("statfs {shown}"))?
        .filesystem_type();
    if found == magic {
        Ok(())
    } else {
        Err(Error::Internal(format!(
            "{shown} is a filesystem of type {:#x}, not {:#x}",
            found.0, magic.0
        )))
    }
}

/// Attaches `tree` onto `target`; `shown` names it in errors.
pub fn attach(tree: BorrowedFd<'_>, target: BorrowedFd<'_>, shown: &str) -> Result<()> {
    mount_api::attach_at(tree, target).step(|| format!("mount {shown} (move_mount)"))
}

/// Lookups in berth's `/dev` tmpfs, onto the mounts berth made there but through no symlink.
pub fn dev_base(dev: BorrowedFd<'_>) -> Base<'_> {
    Base {
        fd: dev,
        lookup: Lookup::Strict { cross_mounts: true },
        shown: "the container's /dev",
    }
}
