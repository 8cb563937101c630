//! TEMPORARY stand-in, replaced by the real translation from branch lxc-config.
use crate::security::CapabilitySet;
use runtime_core::{ProcessConfig, Result};
pub fn render(
    _process: &ProcessConfig,
    _caps: CapabilitySet,
    _field: &str,
) -> Result<Option<String>> {
    Ok(None)
}
