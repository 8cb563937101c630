//! What a driver on a root would report about one container, read from its state file and
//! `/proc` without taking it over: for a short-lived process (the OCI command line's `state`
//! and `list`) that must not adopt, kill or clean up containers it only looks at.

use std::path::Path;

use runtime_core::lifecycle::Saved;
use runtime_core::{ContainerState, Error, Result, Status};

use crate::instance::NativeSaved;
use crate::recovery::{process_start_time, process_state};

/// The state of container `id` under the driver root `root`: `None` when it has no state
/// file (never created there, or deleted, or cleaned up by a driver after it stopped).
/// A container whose init is gone, is a zombie, or whose pid now names another process
/// (another start time) is `stopped` with pid 0, whatever its file says.
pub fn container_state(root: &Path, id: &str) -> Result<Option<ContainerState>> {
    let path = root.join(id).join("state.json");
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(Error::io(format!("read {}", path.display()), &err)),
    };
    let saved: Saved<NativeSaved> = serde_json::from_str(&text)
        .map_err(|err| Error::Internal(format!("{}: {err}", path.display())))?;
    let alive = matches!(
        saved.status,
        Status::Created | Status::Running | Status::Paused
    ) && runs(saved.pid, saved.platform.pid_start_time);
    Ok(Some(ContainerState {
        id: saved.id,
        pid: if alive { saved.pid } else { 0 },
        status: if alive { saved.status } else { Status::Stopped },
        created: saved.created,
        cgroup_path: saved.platform.cgroup_path,
        rootfs: saved.rootfs,
        exit_status: saved.exit_status,
    }))
}

/// Whether `pid` is the process that started at `start_time` and has not exited (a zombie
/// has exited: its parent has not reaped it yet).
fn runs(pid: i32, start_time: u64) -> bool {
    if pid <= 0 || start_time == 0 || process_start_time(pid) != start_time {
        return false;
    }
    !matches!(process_state(pid), Some('Z' | 'X' | 'x') | None)
}
