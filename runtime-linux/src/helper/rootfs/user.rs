//! What the command adds to the rootfs: host devices and the user's mounts. Their targets
//! may go through the image's symlinks (images often make `/etc/resolv.conf` one), but only
//! inside the root, never into a kernel interface such as `/proc` or `/sys` unless the
//! destination names it, and each is mounted through the fd it resolved to.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{fchmodat, fstatat, makedev, mkdirat, mknodat, FchmodatFlags, Mode, SFlag};
use nix::unistd::{fchownat, symlinkat, unlinkat, Gid, Uid, UnlinkatFlags};
use runtime_core::{DeviceNode, Error, Mount, Result};

use super::resolve::{beneath_which, components, is_under, Base, Kind};
use super::standard::{bind_host_node, dev_base, new_filesystem, FsOption};
use crate::cgroups::{Controller, Layout};
use crate::error::StepExt;
use crate::mount_options::MountOptions;
use crate::security::devices::ResolvedDevice;
use crate::sys::mount_api::{self, MountAttrs};

/// berth's `/proc` and `/sys`: a user mount may go there only where its destination says so.
pub struct KernelMounts<'a> {
    pub proc: BorrowedFd<'a>,
    pub sys: BorrowedFd<'a>,
}

/// Mounts `spec` (the `index`th of the command's mounts) in the rootfs `image`. `idmapped`
/// is the idmapped copy of its source the helper made, for an `idmap` or `ridmap` bind.
pub fn mount(
    image: &Base<'_>,
    kernel: &KernelMounts<'_>,
    index: usize,
    spec: &Mount,
    options: &MountOptions,
    idmapped: Option<OwnedFd>,
) -> Result<()> {
    let field = format!("mounts[{index}]");
    let dest = spec.destination.as_str();
    let (tree, kind, what) = if spec.is_bind() {
        let source = spec.source.as_deref().unwrap_or_default();
        let tree = match idmapped {
            Some(tree) => tree,
            None if options.idmap.is_some() => {
                return Err(Error::Internal(format!(
                    "no idmapped copy of {source} came for {field}"
                )))
            }
            None => mount_api::clone_path(source, options.recursive)
                .step(|| format!("copy the bind source {source} of {field} (open_tree)"))?,
        };
        // On the copy, before it is attached: the flags go exactly onto this mount (and its
        // submounts with rbind), and the source's other flags (nosuid, nodev) stay.
        let attrs = options.attrs();
        if attrs != MountAttrs::default() {
            mount_api::set_attrs(tree.as_fd(), attrs, true).step(|| {
                format!(
                    "set {:?} on the bind of {source} for {dest}",
                    spec.options.join(",")
                )
            })?;
        }
        let kind = Kind::of(tree.as_fd()).step(|| format!("stat the bind source {source}"))?;
        (tree, kind, source.to_string())
    } else {
        let source = spec.source.as_deref().unwrap_or(&spec.kind);
        let data: Vec<FsOption<'_>> = options
            .data
            .iter()
            .flat_map(|data| data.split(','))
            .filter(|option| !option.is_empty())
            .map(|option| match option.split_once('=') {
                Some((key, value)) => (key, Some(value)),
                None => (option, None),
            })
            .chain(
                options
                    .superblock_flags()
                    .into_iter()
                    .map(|flag| (flag, None)),
            )
            .collect();
        let tree = new_filesystem(&spec.kind, source, &data, options.attrs().set, dest)?;
        (tree, Kind::Directory, spec.kind.clone())
    };
    let recursive = options.recursive_attrs();
    if recursive != MountAttrs::default() {
        mount_api::set_attrs(tree.as_fd(), recursive, true).step(|| {
            format!("set the recursive options of {field} on {dest} (mount_setattr, AT_RECURSIVE)")
        })?;
    }
    let target = image.find_or_create(dest, kind)?;
    let found = Kind::of(target.as_fd()).step(|| image.describe("stat", dest))?;
    if found != kind {
        return Err(Error::invalid(
            format!("{field}.destination"),
            format!(
                "{dest} is a {} in the image, but {what} is a {}",
                found.name(),
                kind.name()
            ),
        ));
    }
    refuse_kernel_interface(kernel, target.as_fd(), dest, &field)?;
    if options.copy_up {
        super::copy::copy_up(target.as_fd(), tree.as_fd(), dest)?;
    }
    mount_api::attach_at(tree.as_fd(), target.as_fd())
        .step(|| format!("mount {what} on {dest} in {} ({field})", image.shown))?;
    if let Some((propagation, recursive)) = options.propagation_attr() {
        let attrs = MountAttrs {
            propagation,
            ..MountAttrs::default()
        };
        mount_api::set_attrs(tree.as_fd(), attrs, recursive)
            .step(|| format!("set the propagation of {dest} ({field})"))?;
    }
    Ok(())
}

/// A destination that the image's symlinks lead into berth's `/proc` or `/sys` (anywhere
/// under them, onto whatever is mounted there) is refused: the mount could hide a mask or a
/// read-only path. One that names such a place itself (lxcfs binds files over
/// `/proc/meminfo`) is the caller's choice.
fn refuse_kernel_interface(
    kernel: &KernelMounts<'_>,
    target: BorrowedFd<'_>,
    dest: &str,
    field: &str,
) -> Result<()> {
    if is_under(dest, "/proc") || is_under(dest, "/sys") {
        return Ok(());
    }
    let tops = [kernel.proc, kernel.sys];
    match beneath_which(target, &tops).step(|| format!("find where {dest} leads"))? {
        None => Ok(()),
        Some(i) => Err(Error::invalid(
            format!("{field}.destination"),
            format!(
                "{dest} leads into {} through a symlink of the image",
                ["/proc", "/sys"][i]
            ),
        )),
    }
}

/// What a node is made of, wherever it comes from.
struct NodeSpec<'a> {
    /// Where it goes in the container.
    path: &'a str,
    /// The host's node of the same numbers, bound where no node may be made.
    host_path: &'a str,
    kind: SFlag,
    major: u32,
    minor: u32,
    mode: u32,
    uid: u32,
    gid: u32,
    /// The JSON path in errors (`devices`, `device_nodes[0]`).
    field: &'a str,
}

/// A node for a host device the command asked for, like the host's (numbers, mode, owner);
/// bound from the host's node where no node may be made (a user namespace). Under `/dev` it
/// goes into berth's tmpfs (`dev`), through no symlink; elsewhere into the image.
pub fn host_device(image: &Base<'_>, dev: BorrowedFd<'_>, device: &ResolvedDevice) -> Result<()> {
    make_node(
        image,
        dev,
        &NodeSpec {
            path: &device.container_path,
            host_path: &device.host_path,
            kind: if device.kind == 'b' {
                SFlag::S_IFBLK
            } else {
                SFlag::S_IFCHR
            },
            major: device.major,
            minor: device.minor,
            mode: device.mode,
            uid: device.uid,
            gid: device.gid,
            field: "devices",
        },
    )
}

/// A node made from its numbers (OCI's `linux.devices`): `mknod`, or in a user namespace,
/// where the kernel denies it, a bind of the host's node at the same path, checked to be the
/// same device (as runc). A FIFO is made in a user namespace too.
pub fn device_node(
    image: &Base<'_>,
    dev: BorrowedFd<'_>,
    node: &DeviceNode,
    field: &str,
) -> Result<()> {
    make_node(
        image,
        dev,
        &NodeSpec {
            path: &node.path,
            host_path: &node.path,
            kind: match node.kind {
                'b' => SFlag::S_IFBLK,
                'p' => SFlag::S_IFIFO,
                _ => SFlag::S_IFCHR,
            },
            major: node.major.unwrap_or(0),
            minor: node.minor.unwrap_or(0),
            mode: node.file_mode.unwrap_or(0o666),
            uid: node.uid.unwrap_or(0),
            gid: node.gid.unwrap_or(0),
            field,
        },
    )
}

fn make_node(image: &Base<'_>, dev: BorrowedFd<'_>, node: &NodeSpec<'_>) -> Result<()> {
    let path = node.path;
    let field = node.field;
    let parts = components(path);
    let (name, parent) = match parts.split_last() {
        Some((name, parent)) if !matches!(*name, "..") => (*name, parent),
        _ => {
            return Err(Error::invalid(
                field,
                format!("{path} names no node in the container"),
            ))
        }
    };
    let in_dev = dev_base(dev);
    let dir = if parent.first() == Some(&"dev") && !parent.contains(&"..") {
        in_dev.find_or_create(&parent[1..].join("/"), Kind::Directory)?
    } else {
        image.find_or_create(&parent.join("/"), Kind::Directory)?
    };
    if Kind::of(dir.as_fd()).step(|| format!("stat the directory of {path}"))? != Kind::Directory {
        return Err(Error::invalid(
            field,
            format!("the parent of {path} is not a directory in the container"),
        ));
    }
    let number = makedev(u64::from(node.major), u64::from(node.minor));
    // One of berth's standard nodes given again (validated: with its own numbers) keeps its
    // inode, which the masks are bound from: only its mode and owner change. In a user
    // namespace it is the host's node, bound, and stays the host's, mode and owner too.
    if let Ok(found) = fstatat(dir.as_fd(), name, AtFlags::AT_SYMLINK_NOFOLLOW) {
        let found_kind = SFlag::from_bits_truncate(found.st_mode & SFlag::S_IFMT.bits());
        if found_kind == node.kind && found.st_rdev == number && node.kind != SFlag::S_IFIFO {
            let changed = fchmodat(
                dir.as_fd(),
                name,
                Mode::from_bits_truncate(node.mode),
                FchmodatFlags::FollowSymlink,
            )
            .and_then(|()| {
                fchownat(
                    dir.as_fd(),
                    name,
                    Some(Uid::from_raw(node.uid)),
                    Some(Gid::from_raw(node.gid)),
                    AtFlags::AT_SYMLINK_NOFOLLOW,
                )
            });
            return match changed {
                Ok(()) | Err(Errno::EPERM) => Ok(()),
                Err(errno) => Err(errno).step(|| format!("chmod and chown {path}")),
            };
        }
    }
    let _ = unlinkat(dir.as_fd(), name, UnlinkatFlags::NoRemoveDir);
    match mknodat(
        dir.as_fd(),
        name,
        node.kind,
        Mode::from_bits_truncate(node.mode),
        number,
    ) {
        Ok(()) => fchownat(
            dir.as_fd(),
            name,
            Some(Uid::from_raw(node.uid)),
            Some(Gid::from_raw(node.gid)),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .step(|| format!("chown {path} in the container")),
        Err(Errno::EPERM) if node.kind != SFlag::S_IFIFO => {
            bind_host_node(node.host_path, node.kind, number, dir.as_fd(), name)
        }
        Err(errno) => Err(errno).step(|| format!("mknod {path} in the container")),
    }
}

/// An OCI `cgroup` mount (`spec.kind == "cgroup"`), as runc makes it. On a host with cgroup
/// v1 hierarchies (v1 or hybrid): a tmpfs (`mode=755`) at the destination with, for each v1
/// hierarchy berth places containers in, a directory named as its mount point (`memory`,
/// `cpu,cpuacct`) holding the container's own cgroup of it (and a symlink per controller of
/// a co-mounted one, `cpu` → `cpu,cpuacct`). With a private cgroup namespace that is a new
/// mount of the hierarchy (whose root is then the container's cgroup); without one, a bind
/// of the container's cgroup directory on the host. The mount's flags go on each, and `ro`
/// on the tmpfs too, once it is filled. The hybrid host's cgroup2 hierarchy is left out, as
/// runc leaves it. On a cgroup v2 host: a `cgroup2` mount. The init has joined its cgroups
/// and made its cgroup namespace, and still sees the host's mounts and `/proc`.
pub fn cgroup_view(
    image: &Base<'_>,
    kernel: &KernelMounts<'_>,
    index: usize,
    spec: &Mount,
    options: &MountOptions,
    private_namespace: bool,
) -> Result<()> {
    let field = format!("mounts[{index}]");
    let dest = spec.destination.as_str();
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo")
        .step(|| format!("read the host's cgroup mounts for {field} (/proc/self/mountinfo)"))?;
    let layout = Layout::parse(&mountinfo)?;
    if layout.v1.is_empty() {
        let unified = Mount {
            kind: "cgroup2".into(),
            source: Some("cgroup2".into()),
            ..spec.clone()
        };
        return mount(image, kernel, index, &unified, options, None);
    }
    let own = std::fs::read_to_string("/proc/self/cgroup")
        .step(|| format!("read the container's cgroups for {field} (/proc/self/cgroup)"))?;
    let attrs = options.attrs();
    let readonly = attrs.set & libc::MOUNT_ATTR_RDONLY != 0;
    let tmpfs = new_filesystem(
        "tmpfs",
        "tmpfs",
        &[("mode", Some("755"))],
        attrs.set & !libc::MOUNT_ATTR_RDONLY,
        dest,
    )?;
    let target = image.find_or_create(dest, Kind::Directory)?;
    let found = Kind::of(target.as_fd()).step(|| image.describe("stat", dest))?;
    if found != Kind::Directory {
        return Err(Error::invalid(
            format!("{field}.destination"),
            format!("{dest} is a {} in the image, not a directory", found.name()),
        ));
    }
    refuse_kernel_interface(kernel, target.as_fd(), dest, &field)?;
    mount_api::attach_at(tmpfs.as_fd(), target.as_fd())
        .step(|| format!("mount a tmpfs on {dest} in {} ({field})", image.shown))?;
    // From here on, every name is made in berth's own tmpfs: nothing of the image's.
    for hierarchy in &layout.v1 {
        let name = hierarchy
            .mount
            .file_name()
            .and_then(|n| n.to_str())
            .filter(|n| !n.is_empty() && !n.contains('/'))
            .ok_or_else(|| {
                Error::Internal(format!(
                    "a cgroup hierarchy mounted at {} has no name",
                    hierarchy.mount.display()
                ))
            })?;
        let shown = format!("{dest}/{name}");
        mkdirat(tmpfs.as_fd(), name, Mode::from_bits_truncate(0o755))
            .step(|| format!("create {shown}"))?;
        let dir = nix::fcntl::openat(
            tmpfs.as_fd(),
            name,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .step(|| format!("open {shown}"))?;
        let tree = if private_namespace {
            let controllers: Vec<FsOption<'_>> = hierarchy
                .controllers
                .iter()
                .map(|c| (c.name(), None))
                .collect();
            new_filesystem("cgroup", "cgroup", &controllers, attrs.set, &shown)?
        } else {
            let path = own_cgroup(&own, &hierarchy.controllers).ok_or_else(|| {
                Error::Internal(format!(
                    "/proc/self/cgroup has no line for the hierarchy at {}",
                    hierarchy.mount.display()
                ))
            })?;
            let source = format!("{}{}", hierarchy.mount.display(), path);
            let tree = mount_api::clone_path(&source, true)
                .step(|| format!("copy the container's cgroup {source} for {shown} (open_tree)"))?;
            mount_api::set_attrs(tree.as_fd(), attrs, true)
                .step(|| format!("set {:?} on the bind of {source}", spec.options.join(",")))?;
            tree
        };
        mount_api::attach_at(tree.as_fd(), dir.as_fd())
            .step(|| format!("mount the cgroup hierarchy {name} on {shown} ({field})"))?;
        if name.contains(',') {
            for controller in name.split(',').filter(|c| !c.is_empty()) {
                symlinkat(name, tmpfs.as_fd(), controller)
                    .step(|| format!("link {dest}/{controller} to {name}"))?;
            }
        }
    }
    if readonly {
        mount_api::set_attrs(
            tmpfs.as_fd(),
            MountAttrs::set(libc::MOUNT_ATTR_RDONLY),
            false,
        )
        .step(|| format!("make the tmpfs on {dest} read-only ({field})"))?;
    }
    Ok(())
}

/// The path of the process's cgroup in the v1 hierarchy of `controllers`, from
/// `/proc/self/cgroup` (`ID:controllers:path` lines).
fn own_cgroup<'a>(text: &'a str, controllers: &[Controller]) -> Option<&'a str> {
    text.lines().find_map(|line| {
        let mut fields = line.splitn(3, ':');
        let (_, names, path) = (fields.next()?, fields.next()?, fields.next()?);
        let mut these: Vec<Controller> = names
            .split(',')
            .filter_map(Controller::from_v1_name)
            .collect();
        these.sort();
        (these == controllers && path.starts_with('/')).then_some(path)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_cgroup_finds_the_hierarchy_of_the_controllers() {
        let text = "12:hugetlb:/\n4:cpu,cpuacct:/docker/c1\n3:memory:/docker/c1\n\
                    1:name=systemd:/x\n0::/\n";
        assert_eq!(own_cgroup(text, &[Controller::Memory]), Some("/docker/c1"));
        assert_eq!(
            own_cgroup(text, &[Controller::Cpu, Controller::Cpuacct]),
            Some("/docker/c1")
        );
        assert_eq!(own_cgroup(text, &[Controller::Cpu]), None);
        assert_eq!(own_cgroup(text, &[Controller::Pids]), None);
    }
}
