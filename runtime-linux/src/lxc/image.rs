//! TEMPORARY stand-in, replaced by the real checks from branch lxc-config.
use runtime_core::{Command, Result};
pub fn check(command: &Command) -> Result<()> {
    crate::helper::rootfs::check_image(&command.rootfs)
}
