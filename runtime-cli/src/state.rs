//! The OCI state of a container (runtime-spec `runtime.md`, "State"), as `berth state`
//! prints it and as hooks read it on their stdin, told from what is on disk and in `/proc`
//! after the process that created the container has gone.

use std::path::Path;

use runtime_core::Status;
use serde::Serialize;

use crate::error::CliResult;
use crate::store::Meta;

/// The version of the runtime spec berth's CLI implements.
pub const OCI_VERSION: &str = "1.2.0";

/// The state, with runc's additions (`rootfs`, `created`, `owner`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OciState {
    pub oci_version: String,
    pub id: String,
    pub pid: i32,
    pub status: String,
    pub bundle: String,
    pub rootfs: String,
    pub created: String,
    pub owner: String,
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub annotations: std::collections::BTreeMap<String, String>,
}

/// The status words of the runtime spec.
pub fn status_word(status: Status) -> &'static str {
    match status {
        Status::Creating => "creating",
        Status::Created => "created",
        Status::Running => "running",
        Status::Paused => "paused",
        Status::Stopped => "stopped",
    }
}

/// The container's status and pid now: from the library's state file in its driver root,
/// checked against `/proc` (no state file: stopped, cleaned up by a driver after its end).
pub fn current(driver_root: &Path, id: &str) -> CliResult<(Status, i32)> {
    Ok(
        match runtime_linux::peek::container_state(driver_root, id)? {
            Some(state) => (state.status, state.pid),
            None => (Status::Stopped, 0),
        },
    )
}

impl OciState {
    pub fn new(meta: &Meta, status: Status, pid: i32) -> OciState {
        OciState {
            oci_version: OCI_VERSION.to_string(),
            id: meta.id.clone(),
            pid,
            status: status_word(status).to_string(),
            bundle: meta.bundle.display().to_string(),
            rootfs: meta.rootfs.clone(),
            created: meta.created.clone(),
            owner: String::new(),
            annotations: meta.annotations.clone(),
        }
    }

    /// The state as a hook reads it: the spec's fields only.
    pub fn for_hook(&self) -> Vec<u8> {
        let mut value = serde_json::json!({
            "ociVersion": self.oci_version,
            "id": self.id,
            "status": self.status,
            "pid": self.pid,
            "bundle": self.bundle,
        });
        if !self.annotations.is_empty() {
            value["annotations"] = serde_json::json!(self.annotations);
        }
        value.to_string().into_bytes()
    }
}
