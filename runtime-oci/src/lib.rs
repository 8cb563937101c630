//! OCI runtime bundles for berth: an OCI `config.json` mapped to berth's [`Command`] (and its
//! hooks), and a [`Command`] written back as a `config.json` (for the benchmark's runc and
//! crun). The mapping's rule: everything in `config.json` that runc honours is honoured, or
//! refused with an [`OciError`] naming the field by its JSON path; what is ignored is
//! harmless, and `docs/oci.md` says why for each field.
//!
//! Platform-neutral: the only OS calls are reading the bundle's `config.json` and, for a new
//! uts namespace without a `hostname`, the host's name.

#![deny(unsafe_code)]

mod defaults;
mod error;
mod from_command;
mod strict;
mod to_command;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use oci_spec;
use oci_spec::runtime::{LinuxResources, Process, Spec};
use runtime_core::Command;

pub use defaults::{default_spec, features, rootless_spec};
pub use error::OciError;
pub use from_command::{process_to_oci, spec_from_command, Confinement, Identity};
pub use to_command::{command_from_spec, process_from_oci, resources_from_oci, seccomp_from_oci};

/// One bundle: its directory, its config as read, and the container berth runs for it.
#[derive(Debug, Clone)]
pub struct Bundle {
    /// The bundle's directory, absolute.
    pub dir: PathBuf,
    /// `config.json` as read.
    pub spec: Spec,
    /// The container.
    pub command: Command,
    /// The hooks the CLI runs (berth's library runs none of them).
    pub hooks: Hooks,
    /// `annotations`: not interpreted by berth; kept for the state (`berth state`) and hooks.
    pub annotations: BTreeMap<String, String>,
}

/// One OCI hook: a program run on the host with the container's state on its stdin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hook {
    /// Absolute path of the program.
    pub path: PathBuf,
    /// Its argv, `args[0]` included (may be empty: then the path).
    pub args: Vec<String>,
    /// Its whole environment, `KEY=VALUE`.
    pub env: Vec<String>,
    /// How long it may run before it is killed and counts as failed.
    pub timeout: Option<Duration>,
}

/// The hooks of a bundle, in the order the config lists them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hooks {
    /// Deprecated by the spec, still run by runc: after the namespaces exist, before
    /// `pivot_root`, on the host (as `create_runtime`, before it).
    pub prestart: Vec<Hook>,
    pub create_runtime: Vec<Hook>,
    /// Run in the container's namespaces (the CLI runs them with `LinuxDriver::run_hook`).
    pub create_container: Vec<Hook>,
    /// Run in the container's namespaces (the CLI runs them with `LinuxDriver::run_hook`).
    pub start_container: Vec<Hook>,
    pub poststart: Vec<Hook>,
    pub poststop: Vec<Hook>,
}

/// Reads `<dir>/config.json` and maps it; `id` becomes `command.id`. A relative `dir` is
/// taken from the current directory.
pub fn load(dir: &Path, id: &str) -> Result<Bundle, OciError> {
    let dir = if dir.is_absolute() {
        dir.to_path_buf()
    } else {
        std::env::current_dir()
            .map_err(|source| OciError::Io {
                path: dir.to_path_buf(),
                source,
            })?
            .join(dir)
    };
    let path = dir.join("config.json");
    let text = std::fs::read_to_string(&path).map_err(|source| OciError::Io {
        path: path.clone(),
        source,
    })?;
    let spec = spec_from_json(&text)?;
    let (command, hooks) = command_from_spec(&spec, &dir, id)?;
    let annotations = to_command::annotations(&spec);
    Ok(Bundle {
        dir,
        spec,
        command,
        hooks,
        annotations,
    })
}

/// Parses a `config.json`; a field berth does not know is refused by name (the `oci-spec`
/// types would drop it).
pub fn spec_from_json(text: &str) -> Result<Spec, OciError> {
    strict::parse(text, "")
}

/// Parses the `process` file of `berth exec --process`, as strictly.
pub fn process_from_json(text: &str) -> Result<Process, OciError> {
    strict::parse(text, "process")
}

/// Parses the `resources` file of `berth update --resources`, as strictly.
pub fn resources_from_json(text: &str) -> Result<LinuxResources, OciError> {
    strict::parse(text, "linux.resources")
}

#[cfg(test)]
mod tests;
