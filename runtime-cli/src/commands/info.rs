//! What needs no container: `--version`, `features`, `spec`.

use std::path::PathBuf;

use super::parse;
use crate::args::{switch, value, Flag};
use crate::error::{CliError, CliResult, Step};
use crate::state::OCI_VERSION;

/// `berth --version`, in runc's shape (the first line is the name and version).
pub fn version() -> String {
    format!(
        "berth version {}\nspec: {OCI_VERSION}\n",
        env!("CARGO_PKG_VERSION")
    )
}

pub fn features(args: &[String]) -> CliResult<i32> {
    parse("features", args, &[])?;
    let features = runtime_oci::features();
    println!(
        "{}",
        serde_json::to_string_pretty(&features).step(|| "encode the features".to_string())?
    );
    Ok(0)
}

const SPEC_FLAGS: &[Flag] = &[value(&["bundle", "b"]), switch(&["rootless"])];

/// Writes a default `config.json` into the bundle (default: the current directory), as
/// `runc spec` does; an existing one is left alone.
pub fn spec(args: &[String]) -> CliResult<i32> {
    let parsed = parse("spec", args, SPEC_FLAGS)?;
    let dir = PathBuf::from(parsed.get("bundle").unwrap_or("."));
    let path = dir.join("config.json");
    if path.exists() {
        return Err(CliError::new(format!(
            "spec: {} exists; remove it first",
            path.display()
        )));
    }
    let spec = runtime_oci::default_spec(parsed.is_set("rootless"));
    let text = serde_json::to_string_pretty(&spec).step(|| "encode the spec".to_string())?;
    std::fs::write(&path, text + "\n").step(|| format!("write {}", path.display()))?;
    Ok(0)
}
