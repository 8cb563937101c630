//! Finding the `berth-init` helper executable.
//!
//! In order: the driver option `helper_path`, the environment variable `BERTH_HELPER`, then
//! `berth-init` beside the image that contains this code (`libberth.so`, or the executable
//! a static libberth is linked into) and beside the running executable, and in the
//! `../libexec` of each, where `make install` puts it. For `cargo test` binaries, which live
//! in `target/<profile>/deps`, the parent directory is tried as well.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, SealFlag};
use nix::sys::memfd::{memfd_create, MFdFlags};
use runtime_core::{Error, Result};

use crate::error::StepExt;

/// `MFD_EXEC` (Linux 6.3), which nix does not name yet.
const MFD_EXEC: libc::c_uint = 0x0010;

use crate::sys::image::own_image_path;

/// The helper's file name.
pub const HELPER_NAME: &str = "berth-init";
/// The environment variable that names the helper.
pub const HELPER_ENV: &str = "BERTH_HELPER";

/// Finds the helper, or says everywhere it looked.
pub fn find_helper(explicit: Option<&Path>) -> Result<PathBuf> {
    if let Some(path) = explicit {
        return check("helper_path", path);
    }
    if let Some(path) = std::env::var_os(HELPER_ENV) {
        return check(HELPER_ENV, Path::new(&path));
    }
    let mut tried = Vec::new();
    let images = [own_image_path(), std::env::current_exe().ok()];
    for image in images.into_iter().flatten() {
        let Some(dir) = image.parent() else { continue };
        let mut dirs = vec![dir.to_path_buf()];
        if let Some(prefix) = dir.parent() {
            dirs.push(prefix.join("libexec"));
            if dir.file_name().is_some_and(|name| name == "deps") {
                dirs.push(prefix.to_path_buf());
            }
        }
        for dir in dirs {
            let candidate = dir.join(HELPER_NAME);
            if is_executable(&candidate) {
                return Ok(candidate);
            }
            tried.push(candidate.display().to_string());
        }
    }
    Err(Error::NotFound {
        what: "helper executable",
        name: HELPER_NAME.into(),
        hint: format!(
            "; set the driver option helper_path or {HELPER_ENV} (tried {})",
            tried.join(", ")
        ),
    })
}

/// A sealed in-memory copy of the helper, made once per driver and executed for every
/// container: nothing in a container can reach a writable image of it (CVE-2019-5736, where a
/// container overwrote the runtime binary through `/proc/<pid>/exe`).
pub fn sealed_copy(path: &Path) -> Result<OwnedFd> {
    let shown = path.display();
    let flags = MFdFlags::MFD_CLOEXEC | MFdFlags::MFD_ALLOW_SEALING;
    // Kernels with vm.memfd_noexec want MFD_EXEC said out loud; older ones reject the flag.
    let memfd = match memfd_create(HELPER_NAME, flags | MFdFlags::from_bits_retain(MFD_EXEC)) {
        Err(Errno::EINVAL) => memfd_create(HELPER_NAME, flags),
        other => other,
    }
    .step(|| "memfd_create for the helper's sealed copy")?;
    let mut source = std::fs::File::open(path).step(|| format!("open {shown}"))?;
    let mut copy = std::fs::File::from(memfd.try_clone().step(|| "dup the memfd")?);
    std::io::copy(&mut source, &mut copy).step(|| format!("copy {shown} into a memfd"))?;
    let seals = SealFlag::F_SEAL_SEAL
        | SealFlag::F_SEAL_SHRINK
        | SealFlag::F_SEAL_GROW
        | SealFlag::F_SEAL_WRITE;
    // The copy goes through splice, whose page references the kernel drops a little later;
    // until then F_SEAL_WRITE answers EBUSY. Wait for them, briefly.
    let mut tries = 0;
    loop {
        match fcntl(&memfd, FcntlArg::F_ADD_SEALS(seals)) {
            Err(Errno::EBUSY) if tries < 50 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            other => break other.map(drop).step(|| "seal the helper's memfd")?,
        };
    }
    // Out of the way of the fds a spawn places (see sys::spawn).
    crate::sys::fds::dup_at_least(std::os::fd::AsFd::as_fd(&memfd), 10)
        .step(|| "move the helper's memfd above the spawn's fds")
}

fn check(origin: &str, path: &Path) -> Result<PathBuf> {
    if !path.is_absolute() {
        return Err(Error::invalid(
            origin,
            format!("{} is relative; give an absolute path", path.display()),
        ));
    }
    if !is_executable(path) {
        return Err(Error::NotFound {
            what: "helper executable",
            name: path.display().to_string(),
            hint: format!(" (from {origin})"),
        });
    }
    Ok(path.to_path_buf())
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}
