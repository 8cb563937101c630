//! `tmpcopyup`: a new tmpfs gets a copy of what its destination in the image held, before it
//! is attached there. The image is hostile: every entry is reached from the fd of its
//! directory with no symlink followed (`RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`), symlinks are
//! copied as symlinks, and the copy goes into the detached tmpfs, which nothing else sees yet.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use nix::dir::Dir;
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{fchmodat, fstatat, mkdirat, mknodat, FchmodatFlags, Mode, SFlag};
use nix::unistd::{fchownat, symlinkat, Gid, Uid};
use runtime_core::{Error, Result};

use super::resolve::{Base, Lookup};
use crate::error::StepExt;

/// How deep a tree is copied; deeper is refused rather than risk the init's stack.
const MAX_DEPTH: usize = 128;

/// Copies the directory `source` (an `O_PATH` fd of the destination, `dest` in messages) into
/// the root of the detached tmpfs `tmpfs`, whose root takes the directory's mode and owner.
pub fn copy_up(source: BorrowedFd<'_>, tmpfs: BorrowedFd<'_>, dest: &str) -> Result<()> {
    let step = || format!("tmpcopyup: copy {dest} into its tmpfs");
    let stat = fstatat(source, "", AtFlags::AT_EMPTY_PATH).step(step)?;
    fchmodat(
        tmpfs,
        ".",
        Mode::from_bits_truncate(stat.st_mode & 0o7777),
        FchmodatFlags::FollowSymlink,
    )
    .step(step)?;
    fchownat(
        tmpfs,
        ".",
        Some(Uid::from_raw(stat.st_uid)),
        Some(Gid::from_raw(stat.st_gid)),
        AtFlags::empty(),
    )
    .step(step)?;
    copy_dir(source, tmpfs, dest, 0)
}

fn strict(fd: BorrowedFd<'_>) -> Base<'_> {
    Base {
        fd,
        lookup: Lookup::Strict { cross_mounts: true },
        shown: "the image",
    }
}

fn copy_dir(from: BorrowedFd<'_>, to: BorrowedFd<'_>, shown: &str, depth: usize) -> Result<()> {
    if depth > MAX_DEPTH {
        return Err(Error::invalid(
            "mounts",
            format!("tmpcopyup: {shown} is more than {MAX_DEPTH} directories deep"),
        ));
    }
    let listed = strict(from)
        .open(".", OFlag::O_RDONLY | OFlag::O_DIRECTORY)
        .step(|| format!("tmpcopyup: open {shown}"))?;
    let mut dir = Dir::from_fd(listed).step(|| format!("tmpcopyup: list {shown}"))?;
    let mut names = Vec::new();
    for entry in dir.iter() {
        let entry = entry.step(|| format!("tmpcopyup: list {shown}"))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name != "." && name != ".." {
            names.push(name);
        }
    }
    drop(dir);
    for name in names {
        let path = format!("{}/{name}", shown.trim_end_matches('/'));
        copy_entry(from, to, &name, &path, depth)?;
    }
    Ok(())
}

fn copy_entry(
    from: BorrowedFd<'_>,
    to: BorrowedFd<'_>,
    name: &str,
    shown: &str,
    depth: usize,
) -> Result<()> {
    let step = || format!("tmpcopyup: copy {shown}");
    let stat = fstatat(from, name, AtFlags::AT_SYMLINK_NOFOLLOW).step(step)?;
    let mode = Mode::from_bits_truncate(stat.st_mode & 0o7777);
    let kind = SFlag::from_bits_truncate(stat.st_mode & SFlag::S_IFMT.bits());
    match kind {
        SFlag::S_IFDIR => {
            mkdirat(to, name, mode).step(step)?;
            let open = |base: BorrowedFd<'_>| -> Result<OwnedFd> {
                strict(base)
                    .open(name, OFlag::O_PATH | OFlag::O_DIRECTORY)
                    .step(step)
            };
            let (sub_from, sub_to) = (open(from)?, open(to)?);
            copy_dir(sub_from.as_fd(), sub_to.as_fd(), shown, depth + 1)?;
        }
        SFlag::S_IFREG => {
            let source = strict(from)
                .open(name, OFlag::O_RDONLY | OFlag::O_NOFOLLOW)
                .step(step)?;
            let target = nix::fcntl::openat(
                to,
                name,
                OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_CLOEXEC,
                mode,
            )
            .step(step)?;
            std::io::copy(
                &mut std::fs::File::from(source),
                &mut std::fs::File::from(target),
            )
            .map_err(|err| Error::Internal(format!("tmpcopyup: copy {shown}: {err}")))?;
        }
        SFlag::S_IFLNK => {
            let target = nix::fcntl::readlinkat(from, name).step(step)?;
            symlinkat(target.as_os_str(), to, name).step(step)?;
        }
        SFlag::S_IFIFO | SFlag::S_IFCHR | SFlag::S_IFBLK => {
            mknodat(to, name, kind, mode, stat.st_rdev).step(step)?;
        }
        _ => {
            return Err(Error::invalid(
                "mounts",
                format!("tmpcopyup: {shown} is a socket, which cannot be copied"),
            ))
        }
    }
    fchownat(
        to,
        name,
        Some(Uid::from_raw(stat.st_uid)),
        Some(Gid::from_raw(stat.st_gid)),
        AtFlags::AT_SYMLINK_NOFOLLOW,
    )
    .step(step)?;
    if kind != SFlag::S_IFLNK && mode.bits() & 0o7000 != 0 {
        // chown clears set-id bits: give them back (on the entry just made, no symlink).
        fchmodat(to, name, mode, FchmodatFlags::FollowSymlink).step(step)?;
    }
    Ok(())
}
