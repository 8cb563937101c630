//! A container's own user namespace: the helper writes its id maps from outside, and the init
//! waits for them before it does anything that needs its ids.

use std::io::{Read, Write};
use std::os::fd::OwnedFd;

use nix::unistd::{setresgid, setresuid, Gid, Uid};
use runtime_core::{Command, Error, IdMapping, Result};

use crate::error::StepExt;

/// In the helper, once the init is cloned: writes its uid and gid maps, then opens the gate.
/// With no gid mapped, `setgroups` is denied first, as the kernel asks of such a map.
pub fn write_maps(pid: i32, command: &Command, gate: OwnedFd) -> Result<()> {
    let (uids, gids) = command.effective_id_mappings();
    if gids.is_empty() {
        let path = format!("/proc/{pid}/setgroups");
        std::fs::write(&path, "deny").step(|| format!("write deny to {path}"))?;
    }
    for (name, mappings) in [("uid_map", &uids), ("gid_map", &gids)] {
        if mappings.is_empty() {
            continue;
        }
        let path = format!("/proc/{pid}/{name}");
        std::fs::write(&path, map_text(mappings)).step(|| format!("write {path}"))?;
    }
    std::fs::File::from(gate)
        .write_all(b"1")
        .step(|| "open the id-map gate")
}

/// In the init: blocks until the maps are written, then becomes root of the namespace where
/// container root is mapped (otherwise it keeps its unmapped ids, with the namespace's
/// capabilities, until it takes on the process's user).
pub fn wait_until_mapped(gate: OwnedFd) -> Result<()> {
    let mut byte = [0u8; 1];
    let read = std::fs::File::from(gate)
        .read(&mut byte)
        .step(|| "wait for the id maps")?;
    if read != 1 {
        return Err(Error::Internal("the helper closed the id-map gate".into()));
    }
    let root_gid = Gid::from_raw(0);
    let _ = setresgid(root_gid, root_gid, root_gid);
    let root = Uid::from_raw(0);
    let _ = setresuid(root, root, root);
    Ok(())
}

fn map_text(mappings: &[IdMapping]) -> String {
    mappings
        .iter()
        .map(|m| format!("{} {} {}\n", m.container_id, m.host_id, m.size))
        .collect()
}
