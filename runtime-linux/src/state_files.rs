//! How the native driver replaces a container's state file (`Platform::replace_file`).

use std::io;
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{renameat2, RenameFlags, AT_FDCWD};

/// Puts `temp` in the place of `target`, atomically: an existing `target` is exchanged with
/// `temp` (`RENAME_EXCHANGE`), then the old version, now at `temp`, is unlinked.
///
/// Why not a rename over it: ext4 (`auto_da_alloc`) takes a rename over an existing file for
/// an application's replace-by-rename and allocates and writes out the new file's blocks at
/// once, and the unlink of a written file then issues a discard. On a state root on ext4
/// (`/run` is not always a tmpfs: it is not on this project's CI machine) that was disk I/O
/// on every status change and every delete, about 1 ms of a CLI run. An exchanged file stays
/// in the page cache until the kernel's own writeback, which a container's state rarely
/// lives to see; after a power loss a state file may then be empty, which recovery already
/// treats as a container it cannot take back.
pub fn replace_by_exchange(temp: &Path, target: &Path) -> io::Result<()> {
    match renameat2(
        AT_FDCWD,
        temp,
        AT_FDCWD,
        target,
        RenameFlags::RENAME_EXCHANGE,
    ) {
        Ok(()) => match std::fs::remove_file(temp) {
            Err(err) if err.kind() != io::ErrorKind::NotFound => Err(err),
            _ => Ok(()),
        },
        // No target yet (the first save), or a file system that cannot exchange.
        Err(Errno::ENOENT | Errno::EINVAL | Errno::ENOSYS) => std::fs::rename(temp, target),
        Err(errno) => Err(io::Error::from(errno)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn a_file_replaced_again_and_again_holds_the_last_version_and_nothing_else_is_left() {
        let dir = std::env::temp_dir().join(format!("berth-replace-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir(&dir).unwrap();
        let (temp, target) = (dir.join("state.json.tmp"), dir.join("state.json"));
        for n in 0..3 {
            fs::write(&temp, format!("{n}")).unwrap();
            replace_by_exchange(&temp, &target).unwrap();
            assert_eq!(fs::read_to_string(&target).unwrap(), format!("{n}"));
            let names: Vec<_> = fs::read_dir(&dir)
                .unwrap()
                .flatten()
                .map(|e| e.file_name())
                .collect();
            assert_eq!(names, ["state.json"], "after version {n}");
        }
        fs::remove_dir_all(&dir).unwrap();
    }
}
