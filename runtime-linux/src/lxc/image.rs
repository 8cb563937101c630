//! Checks of the image on the host, before LXC sees it.
//!
//! liblxc resolves mount targets by path and follows the image's symlinks, so everything it
//! will look up in the image is checked here first, through file descriptors: each lookup is
//! one `openat2` relative to an `O_PATH` fd of the rootfs (see
//! `crate::helper::rootfs::resolve`), so an image cannot redirect the check itself.
//!
//! - [`check_standard_dirs`]: `/proc`, `/sys` and `/dev` are real directories;
//! - [`check_mount_destinations`]: no symlink (and no non-directory) on the way to a mount's
//!   destination, since LXC would follow it;
//! - [`check_program`]: the program exists in the image, as the native init checks it;
//! - [`resolve_user`]: the uid, gid and groups, from the image's `/etc/passwd` and
//!   `/etc/group`, as the native init computes them.

use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::{fstat, Mode, SFlag};
use runtime_core::{Command, Error, Mount, ProcessConfig, Result};

use crate::error::{os_error, StepExt};
use crate::helper::rootfs::resolve::{components, is_under, Base, Kind, Lookup};

/// The most berth reads of the image's `/etc/passwd` or `/etc/group`.
const MAX_ID_FILE: u64 = 16 << 20;

/// Refuses an image whose `/proc`, `/sys` or `/dev` is a symlink or not a directory
/// (`crate::helper::rootfs::check_image`).
pub fn check_standard_dirs(rootfs: &str) -> Result<()> {
    crate::helper::rootfs::check_image(rootfs)
}

/// Every check of this module, in order: the standard directories, the mount destinations,
/// the program.
pub fn check(command: &Command) -> Result<()> {
    check_standard_dirs(&command.rootfs)?;
    check_mount_destinations(command)?;
    check_program(&command.rootfs, &command.process, &command.mounts)
}

/// An `O_PATH` fd of the rootfs directory itself.
fn open_rootfs(rootfs: &str) -> Result<OwnedFd> {
    nix::fcntl::open(
        rootfs,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .step(|| format!("open the rootfs {rootfs}"))
}

/// Whether a bind's source is something other than a directory (a file bind), by the host's
/// path, as LXC will bind it.
fn is_file_bind(mount: &Mount) -> bool {
    mount.is_bind()
        && mount
            .source
            .as_deref()
            .and_then(|source| std::fs::metadata(source).ok())
            .is_some_and(|meta| !meta.is_dir())
}

/// Every mount destination: each component of it that exists in the image must be a real
/// directory (the last one may be a file for a file bind), never a symlink, since LXC
/// resolves the destination by path and follows the image's symlinks. Components that do
/// not exist yet are created by LXC (`create=dir`/`create=file`), except under a read-only
/// rootfs, where LXC cannot create them (it makes the rootfs read-only first): that is
/// refused as unsupported.
///
/// The lookups use `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS` from an fd of the rootfs: a
/// symlink anywhere, the last component's included, fails with `ELOOP`. A `..` component
/// is refused before any lookup.
pub fn check_mount_destinations(command: &Command) -> Result<()> {
    if command.mounts.is_empty() {
        return Ok(());
    }
    let root = open_rootfs(&command.rootfs)?;
    let image = Base {
        fd: root.as_fd(),
        lookup: Lookup::Strict { cross_mounts: true },
        shown: &command.rootfs,
    };
    for (i, mount) in command.mounts.iter().enumerate() {
        check_destination(&image, i, mount, command.readonly_rootfs)?;
    }
    Ok(())
}

fn check_destination(image: &Base<'_>, i: usize, mount: &Mount, readonly: bool) -> Result<()> {
    let field = format!("mounts[{i}].destination");
    let dest = mount.destination.as_str();
    if mount.destination.split('/').any(|c| c == "..") {
        return Err(Error::invalid(
            field,
            format!("{dest}: a '..' component (LXC resolves the destination by path): refused"),
        ));
    }
    let parts = components(dest);
    let file_bind = is_file_bind(mount);
    for end in 1..=parts.len() {
        let prefix = format!("/{}", parts[..end].join("/"));
        let last = end == parts.len();
        match image.find(&prefix) {
            Ok(fd) => {
                let kind = Kind::of(fd.as_fd()).step(|| image.describe("stat", &prefix))?;
                if kind == Kind::File && !(last && file_bind) {
                    let what = if last {
                        "a file in the image, but the mount needs a directory"
                    } else {
                        "not a directory in the image"
                    };
                    return Err(Error::invalid(field, format!("{dest}: {prefix} is {what}")));
                }
                if last && file_bind && kind == Kind::Directory {
                    return Err(Error::invalid(
                        field,
                        format!(
                            "{dest}: {prefix} is a directory in the image, and the source a file"
                        ),
                    ));
                }
            }
            // The native driver resolves such a target inside the root; liblxc would follow
            // it by path: a limit of this driver, not a bad command.
            Err(Errno::ELOOP) => {
                return Err(Error::Unsupported(format!(
                    "{field}: {dest}: {prefix} is a symlink in the image, which LXC would \
                     follow (the LXC driver)"
                )))
            }
            Err(Errno::ENOENT) if readonly => {
                return Err(Error::Unsupported(format!(
                    "{field}: {prefix} does not exist in the read-only rootfs, and LXC makes the \
                     rootfs read-only before it creates mount targets (the LXC driver)"
                )))
            }
            // LXC creates the rest.
            Err(Errno::ENOENT) => return Ok(()),
            Err(errno) => return Err(errno).step(|| image.describe("resolve", &prefix)),
        }
    }
    Ok(())
}

/// The program, `args[0]`, resolved in the image as the native init resolves it (through
/// `PATH` from `process.env` when it has no `/`, relative names from `process.cwd`), with
/// `RESOLVE_IN_ROOT`: it must be a regular file with an execute bit.
///
/// The errors are the native init's: `find program "x" in PATH /bin:/usr/bin: ENOENT` (a
/// system error) for a name not found in `PATH`, `exec /bin/x: ENOENT` for a path that does
/// not exist, `exec /etc/passwd: EACCES` (permission) for one that is not an executable
/// file. The check is skipped when a mount's destination covers a directory the program may
/// come from (the program may be in the mount).
pub fn check_program(rootfs: &str, process: &ProcessConfig, mounts: &[Mount]) -> Result<()> {
    let name = process.args[0].as_str();
    let in_cwd = |path: &str| -> String {
        if path.starts_with('/') {
            path.to_string()
        } else {
            format!("{}/{path}", process.cwd.trim_end_matches('/'))
        }
    };
    let search_path = process.search_path();
    let candidates: Vec<String> = if name.contains('/') {
        vec![in_cwd(name)]
    } else {
        search_path
            .split(':')
            .filter(|dir| !dir.is_empty())
            .map(|dir| in_cwd(&format!("{}/{name}", dir.trim_end_matches('/'))))
            .collect()
    };
    let covered = candidates.iter().any(|candidate| {
        let dir = candidate.rsplit_once('/').map_or("/", |(dir, _)| dir);
        let dir = if dir.is_empty() { "/" } else { dir };
        mounts
            .iter()
            .any(|m| is_under(dir, &m.destination) || is_under(&m.destination, dir))
    });
    if covered {
        return Ok(());
    }
    let root = open_rootfs(rootfs)?;
    let image = Base {
        fd: root.as_fd(),
        lookup: Lookup::InRoot,
        shown: rootfs,
    };
    let mut denied = false;
    for candidate in &candidates {
        match image.find(candidate) {
            Ok(fd) => {
                let stat = fstat(fd.as_fd()).step(|| image.describe("stat", candidate))?;
                let regular = stat.st_mode & SFlag::S_IFMT.bits() == SFlag::S_IFREG.bits();
                if regular && stat.st_mode & 0o111 != 0 {
                    return Ok(());
                }
                denied = true;
            }
            Err(Errno::ENOENT | Errno::ENOTDIR | Errno::ELOOP) => {}
            Err(errno) => return Err(errno).step(|| image.describe("resolve", candidate)),
        }
    }
    if name.contains('/') {
        let errno = if denied { Errno::EACCES } else { Errno::ENOENT };
        Err(os_error(format!("exec {name}"), errno))
    } else {
        // The native init skips what is not an executable file, and fails with ENOENT.
        Err(os_error(
            format!("find program {name:?} in PATH {search_path}"),
            Errno::ENOENT,
        ))
    }
}

pub use crate::helper::Identity;

/// The uid, gid and supplementary gids of `process.user` and `process.additional_gids`, as
/// the native init computes them (see [`identity`]).
pub fn resolve_user(rootfs: &str, process: &ProcessConfig) -> Result<(u32, u32, Vec<u32>)> {
    let identity = identity(rootfs, process)?;
    Ok((identity.uid, identity.gid, identity.groups))
}

/// [`resolve_user`] with the home directory. As the native init: a numeric uid needs no
/// passwd entry; a name must have one; without a group, the user's primary group (0 for a
/// uid without an entry); the groups are the primary one, those of `/etc/group` that list the
/// user, and `additional_gids`. `/etc/passwd` and `/etc/group` are opened with
/// `RESOLVE_IN_ROOT` from an fd of the rootfs; a missing one reads as empty, and one that is
/// not a regular file is refused.
pub fn identity(rootfs: &str, process: &ProcessConfig) -> Result<Identity> {
    let root = open_rootfs(rootfs)?;
    let image = Base {
        fd: root.as_fd(),
        lookup: Lookup::InRoot,
        shown: rootfs,
    };
    let passwd = read_optional(&image, "/etc/passwd")?;
    let group = read_optional(&image, "/etc/group")?;
    Identity::from_image(process, &passwd, &group)
}

/// The text of `path` in the image, or empty when it does not exist. The file is found as an
/// `O_PATH` fd and checked to be a regular file before it is opened for reading (through
/// `/proc/self/fd`, the same inode), so that a FIFO or a device node of the image is never
/// opened by the host.
fn read_optional(image: &Base<'_>, path: &str) -> Result<String> {
    let found = match image.find(path) {
        Ok(fd) => fd,
        Err(Errno::ENOENT) => return Ok(String::new()),
        Err(errno) => return Err(errno).step(|| image.describe("resolve", path)),
    };
    let stat = fstat(found.as_fd()).step(|| image.describe("stat", path))?;
    if stat.st_mode & SFlag::S_IFMT.bits() != SFlag::S_IFREG.bits() {
        return Err(Error::invalid(
            "process.user",
            format!("{path} in the image is not a regular file"),
        ));
    }
    let file = reopen(found.as_fd()).step(|| image.describe("open", path))?;
    let mut text = String::new();
    std::fs::File::from(file)
        .take(MAX_ID_FILE)
        .read_to_string(&mut text)
        .step(|| image.describe("read", path))?;
    Ok(text)
}

/// Opens the file behind an `O_PATH` fd for reading.
fn reopen(fd: BorrowedFd<'_>) -> nix::Result<OwnedFd> {
    nix::fcntl::open(
        format!("/proc/self/fd/{}", fd.as_raw_fd()).as_str(),
        OFlag::O_RDONLY | OFlag::O_CLOEXEC | OFlag::O_NOCTTY,
        Mode::empty(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{symlink, PermissionsExt};
    use std::path::{Path, PathBuf};

    /// A small fake image in a temp dir, removed on drop.
    struct FakeImage(PathBuf);

    impl FakeImage {
        fn new(name: &str) -> FakeImage {
            let dir = std::env::temp_dir().join(format!(
                "berth-lxc-image-{name}-{}-{:?}",
                std::process::id(),
                std::thread::current().id()
            ));
            let _ = std::fs::remove_dir_all(&dir);
            for sub in ["proc", "sys", "dev", "bin", "etc", "data"] {
                std::fs::create_dir_all(dir.join(sub)).unwrap();
            }
            let image = FakeImage(dir);
            image.file("bin/sh", "#!", 0o755);
            image.file(
                "etc/passwd",
                "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:App:/home/app:/bin/sh\n",
                0o644,
            );
            image.file(
                "etc/group",
                "root:x:0:\nwheel:x:10:app,other\napp:x:1000:\naudio:x:29:app\nstaff:x:50:\n",
                0o644,
            );
            image
        }

        fn path(&self) -> &str {
            self.0.to_str().unwrap()
        }

        fn at(&self, relative: &str) -> PathBuf {
            self.0.join(relative)
        }

        fn file(&self, relative: &str, text: &str, mode: u32) {
            let path = self.at(relative);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, text).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        }

        fn command(&self, args: &[&str]) -> Command {
            Command::new("img", self.path(), ProcessConfig::new(args.iter().copied()))
        }
    }

    impl Drop for FakeImage {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn bind(source: &Path, destination: &str) -> Mount {
        Mount {
            source: Some(source.to_str().unwrap().to_string()),
            destination: destination.into(),
            kind: "bind".into(),
            options: vec!["rbind".into()],
            uid_mappings: None,
            gid_mappings: None,
        }
    }

    fn tmpfs(destination: &str) -> Mount {
        Mount {
            source: None,
            destination: destination.into(),
            kind: "tmpfs".into(),
            options: vec![],
            uid_mappings: None,
            gid_mappings: None,
        }
    }

    #[test]
    fn a_symlinked_proc_is_refused() {
        let image = FakeImage::new("proc");
        check_standard_dirs(image.path()).unwrap();
        std::fs::remove_dir(image.at("proc")).unwrap();
        symlink("/etc", image.at("proc")).unwrap();
        let err = check_standard_dirs(image.path()).unwrap_err();
        assert!(err.to_string().contains("symlink"), "{err}");
        assert!(check(&image.command(&["/bin/sh"])).is_err());
    }

    #[test]
    fn a_symlink_on_the_way_to_a_mount_destination_is_refused() {
        let image = FakeImage::new("dest");
        std::fs::create_dir_all(image.at("real")).unwrap();
        symlink("/real", image.at("data/link")).unwrap();
        let mut command = image.command(&["/bin/sh"]);
        command.mounts = vec![tmpfs("/data/new/deeper"), tmpfs("/data/link/x")];
        let err = check_mount_destinations(&command).unwrap_err();
        assert_eq!(err.kind(), runtime_core::ErrorKind::Unsupported);
        assert!(
            err.to_string().contains(
                "mounts[1].destination: /data/link/x: /data/link is a symlink in the image"
            ),
            "{err}"
        );
        // The symlink as the destination itself.
        command.mounts = vec![tmpfs("/data/link")];
        let err = check_mount_destinations(&command).unwrap_err();
        assert!(err.to_string().contains("mounts[0].destination"), "{err}");
        // A file on the way, and '..'.
        command.mounts = vec![tmpfs("/etc/passwd/x")];
        let err = check_mount_destinations(&command).unwrap_err();
        assert!(err.to_string().contains("not a directory"), "{err}");
        command.mounts = vec![tmpfs("/data/../../etc")];
        let err = check_mount_destinations(&command).unwrap_err();
        assert!(err.to_string().contains("'..'"), "{err}");
    }

    #[test]
    fn a_file_bind_may_end_on_a_file_a_directory_mount_may_not() {
        let image = FakeImage::new("filebind");
        let host = FakeImage::new("filebind-host");
        let mut command = image.command(&["/bin/sh"]);
        command.mounts = vec![bind(&host.at("etc/passwd"), "/etc/passwd")];
        check_mount_destinations(&command).unwrap();
        command.mounts = vec![bind(&host.at("etc"), "/etc/passwd")];
        let err = check_mount_destinations(&command).unwrap_err();
        assert!(err.to_string().contains("needs a directory"), "{err}");
        command.mounts = vec![tmpfs("/etc/passwd")];
        assert!(check_mount_destinations(&command).is_err());
    }

    #[test]
    fn a_missing_destination_is_unsupported_under_a_readonly_rootfs() {
        let image = FakeImage::new("ro");
        let mut command = image.command(&["/bin/sh"]);
        command.mounts = vec![tmpfs("/data"), tmpfs("/data/missing")];
        check_mount_destinations(&command).unwrap();
        command.readonly_rootfs = true;
        let err = check_mount_destinations(&command).unwrap_err();
        assert_eq!(err.kind(), runtime_core::ErrorKind::Unsupported);
        assert!(err.to_string().contains("mounts[1].destination"), "{err}");
    }

    #[test]
    fn a_missing_program_is_the_native_error() {
        let image = FakeImage::new("missing");
        let err = check_program(image.path(), &ProcessConfig::new(["nope"]), &[]).unwrap_err();
        assert_eq!(err.kind(), runtime_core::ErrorKind::System);
        assert!(
            err.to_string()
                .starts_with("find program \"nope\" in PATH /usr/local/sbin:"),
            "{err}"
        );
        let err = check_program(image.path(), &ProcessConfig::new(["/bin/nope"]), &[]).unwrap_err();
        assert!(err.to_string().contains("exec /bin/nope: ENOENT"), "{err}");
        let err =
            check_program(image.path(), &ProcessConfig::new(["/etc/passwd"]), &[]).unwrap_err();
        assert_eq!(err.kind(), runtime_core::ErrorKind::Permission);
        assert!(
            err.to_string().contains("exec /etc/passwd: EACCES"),
            "{err}"
        );
        // A directory is not a program either.
        assert!(check_program(image.path(), &ProcessConfig::new(["/bin"]), &[]).is_err());
    }

    #[test]
    fn a_program_is_found_through_path_and_inside_the_root() {
        let image = FakeImage::new("path");
        image.file("opt/tools/run", "#!", 0o750);
        let mut process = ProcessConfig::new(["run"]);
        assert!(check_program(image.path(), &process, &[]).is_err());
        process.env = vec!["PATH=/nowhere:/opt/tools".into()];
        check_program(image.path(), &process, &[]).unwrap();
        // Through an absolute symlink of the image: resolved inside the root, not the host's.
        symlink("/opt/tools/run", image.at("bin/linked")).unwrap();
        check_program(image.path(), &ProcessConfig::new(["/bin/linked"]), &[]).unwrap();
        symlink("/usr/bin/env", image.at("bin/hostish")).unwrap();
        assert!(check_program(image.path(), &ProcessConfig::new(["hostish"]), &[]).is_err());
        // The default PATH has /bin; a relative path is taken from the cwd.
        check_program(image.path(), &ProcessConfig::new(["sh"]), &[]).unwrap();
        let mut process = ProcessConfig::new(["./run"]);
        process.cwd = "/opt/tools".into();
        check_program(image.path(), &process, &[]).unwrap();
    }

    #[test]
    fn a_program_under_a_mount_is_not_checked() {
        let image = FakeImage::new("mounted");
        let process = ProcessConfig::new(["/app/bin/server"]);
        assert!(check_program(image.path(), &process, &[]).is_err());
        check_program(image.path(), &process, &[tmpfs("/app")]).unwrap();
        let mut process = ProcessConfig::new(["server"]);
        process.env = vec!["PATH=/app/bin".into()];
        check_program(image.path(), &process, &[tmpfs("/app/bin")]).unwrap();
        assert!(check_program(image.path(), &process, &[tmpfs("/other")]).is_err());
    }

    #[test]
    fn users_resolve_by_name_and_number_in_the_image() {
        let image = FakeImage::new("user");
        let mut process = ProcessConfig::new(["/bin/sh"]);
        assert_eq!(
            resolve_user(image.path(), &process).unwrap(),
            (0, 0, vec![0])
        );
        process.user = "app".into();
        process.additional_gids = vec![7, 10];
        assert_eq!(
            resolve_user(image.path(), &process).unwrap(),
            (1000, 1000, vec![7, 10, 29, 1000])
        );
        assert_eq!(identity(image.path(), &process).unwrap().home, "/home/app");
        process.user = "app:staff".into();
        process.additional_gids = vec![];
        assert_eq!(
            resolve_user(image.path(), &process).unwrap(),
            (1000, 50, vec![10, 29, 50])
        );
        process.user = "4242".into();
        let who = identity(image.path(), &process).unwrap();
        assert_eq!(
            (who.uid, who.gid, who.groups, who.home.as_str()),
            (4242, 0, vec![0], "/")
        );
        process.user = "ghost".into();
        let err = resolve_user(image.path(), &process).unwrap_err();
        assert!(err.to_string().contains("no user \"ghost\""), "{err}");
        process.user = "app:nogroup".into();
        assert!(resolve_user(image.path(), &process).is_err());
    }

    #[test]
    fn passwd_is_read_inside_the_root_and_must_be_a_file() {
        let image = FakeImage::new("passwd");
        // An absolute symlink stays in the image: /etc/passwd -> /data/pw of the image.
        image.file("data/pw", "svc:x:77:78::/srv:/bin/sh\n", 0o644);
        std::fs::remove_file(image.at("etc/passwd")).unwrap();
        symlink("/data/pw", image.at("etc/passwd")).unwrap();
        let mut process = ProcessConfig::new(["/bin/sh"]);
        process.user = "svc".into();
        assert_eq!(
            resolve_user(image.path(), &process).unwrap(),
            (77, 78, vec![78])
        );
        // A FIFO is never opened.
        std::fs::remove_file(image.at("data/pw")).unwrap();
        nix::unistd::mkfifo(&image.at("data/pw"), Mode::from_bits_truncate(0o644)).unwrap();
        let err = resolve_user(image.path(), &process).unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
        // Missing files read as empty: a number still works.
        std::fs::remove_file(image.at("data/pw")).unwrap();
        process.user = "5:6".into();
        assert_eq!(
            resolve_user(image.path(), &process).unwrap(),
            (5, 6, vec![6])
        );
    }
}
