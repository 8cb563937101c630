//! A container's own user namespace: the helper writes its id maps from outside, and the init
//! waits for them before it does anything that needs its ids.

use std::os::fd::AsFd;

use nix::unistd::{setresgid, setresuid, Gid, Uid};
use runtime_core::{Command, Error, IdMapping, NamespaceKind, Result};

use super::host_proc::ProcessDir;
use super::rootfs::IdmappedTrees;
use crate::mount_options::MountOptions;

use crate::channel::Channel;
use crate::error::StepExt;
use crate::sys;

/// In the helper, once the init is cloned: writes its uid and gid maps, then opens the gate,
/// handing over an idmapped copy of the rootfs if the command asks for one. With no gid
/// mapped, `setgroups` is denied first, as the kernel asks of such a map.
/// `init` is the init's `/proc` directory on the host's procfs: the helper may have joined
/// another container's mount namespace, whose `/proc` shows other processes.
pub fn write_maps(init: &ProcessDir, command: &Command, gate: Channel) -> Result<()> {
    let (uids, gids) = command.effective_id_mappings();
    if gids.is_empty() {
        init.write("setgroups", "deny")?;
    }
    for (name, mappings) in [("uid_map", &uids), ("gid_map", &gids)] {
        if mappings.is_empty() {
            continue;
        }
        init.write(name, &map_text(mappings))?;
    }
    // Only a new mount namespace gets the rootfs (and a joined one would resolve its path).
    // Only a new mount namespace gets the rootfs and the binds.
    let mut trees = Vec::new();
    if command.namespaces.is_new(NamespaceKind::Mount) {
        let userns = init.open("ns/user", nix::fcntl::OFlag::O_RDONLY)?;
        if command.idmapped_rootfs {
            trees.push(
                sys::mount_api::idmapped_clone(&command.rootfs, userns.as_fd())
                    .step(|| format!("make an idmapped copy of the rootfs {}", command.rootfs))?,
            );
        }
        // The idmap and ridmap binds, in order: through the container's user namespace
        // (mappings of their own, other than the container's, are refused on the host).
        for (i, mount) in command.mounts.iter().enumerate() {
            if !mount.is_idmapped() {
                continue;
            }
            let field = format!("mounts[{i}]");
            let options = MountOptions::parse(&field, mount)?;
            let source = mount.source.as_deref().unwrap_or_default();
            trees.push(
                sys::mount_api::idmapped_bind(
                    source,
                    options.recursive,
                    options.idmap == Some(true),
                    userns.as_fd(),
                )
                .step(|| format!("make an idmapped copy of {source} for {field}"))?,
            );
        }
    }
    let attached: Vec<_> = trees.iter().map(AsFd::as_fd).collect();
    gate.send(&true, &attached).step(|| "open the id-map gate")
}

/// In the init: blocks until the maps are written, then becomes root of the namespace where
/// container root is mapped (otherwise it keeps its unmapped ids, with the namespace's
/// capabilities, until it takes on the process's user). Returns the idmapped trees the helper
/// made for `command`.
pub fn wait_until_mapped(gate: Channel, command: &Command) -> Result<IdmappedTrees> {
    let mut fds = match gate.recv::<bool>() {
        Ok(Some((true, fds))) => fds.into_iter(),
        _ => return Err(Error::Internal("the helper closed the id-map gate".into())),
    };
    let mut trees = IdmappedTrees::default();
    if command.namespaces.is_new(NamespaceKind::Mount) {
        if command.idmapped_rootfs {
            trees.rootfs = fds.next();
        }
        for (i, mount) in command.mounts.iter().enumerate() {
            if mount.is_idmapped() {
                if let Some(fd) = fds.next() {
                    trees.mounts.insert(i, fd);
                }
            }
        }
    }
    let root_gid = Gid::from_raw(0);
    let _ = setresgid(root_gid, root_gid, root_gid);
    let root = Uid::from_raw(0);
    let _ = setresuid(root, root, root);
    super::stay_undumpable()?;
    Ok(trees)
}

fn map_text(mappings: &[IdMapping]) -> String {
    mappings
        .iter()
        .map(|m| format!("{} {} {}\n", m.container_id, m.host_id, m.size))
        .collect()
}
