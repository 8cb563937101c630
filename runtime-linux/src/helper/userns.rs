//! A container's own user namespace: the helper writes its id maps from outside, and the init
//! waits for them before it does anything that needs its ids.

use std::os::fd::{AsFd, OwnedFd};

use nix::unistd::{setresgid, setresuid, Gid, Uid};
use runtime_core::{Command, Error, IdMapping, NamespaceKind, Result};

use super::host_proc::ProcessDir;

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
    let tree = if command.idmapped_rootfs && command.namespaces.is_new(NamespaceKind::Mount) {
        let userns = init.open("ns/user", nix::fcntl::OFlag::O_RDONLY)?;
        Some(
            sys::mount_api::idmapped_clone(&command.rootfs, userns.as_fd())
                .step(|| format!("make an idmapped copy of the rootfs {}", command.rootfs))?,
        )
    } else {
        None
    };
    let attached: Vec<_> = tree.iter().map(AsFd::as_fd).collect();
    gate.send(&true, &attached).step(|| "open the id-map gate")
}

/// In the init: blocks until the maps are written, then becomes root of the namespace where
/// container root is mapped (otherwise it keeps its unmapped ids, with the namespace's
/// capabilities, until it takes on the process's user). Returns the idmapped rootfs tree, if
/// one was made.
pub fn wait_until_mapped(gate: Channel) -> Result<Option<OwnedFd>> {
    let tree = match gate.recv::<bool>() {
        Ok(Some((true, mut fds))) => fds.pop(),
        _ => return Err(Error::Internal("the helper closed the id-map gate".into())),
    };
    let root_gid = Gid::from_raw(0);
    let _ = setresgid(root_gid, root_gid, root_gid);
    let root = Uid::from_raw(0);
    let _ = setresuid(root, root, root);
    super::stay_undumpable()?;
    Ok(tree)
}

fn map_text(mappings: &[IdMapping]) -> String {
    mappings
        .iter()
        .map(|m| format!("{} {} {}\n", m.container_id, m.host_id, m.size))
        .collect()
}
