//! Compiled seccomp programs kept on disk, so that a short-lived process (the berth CLI, one
//! driver per command) does not compile the same profile with libseccomp on every container
//! (about 10 ms for Docker's default profile, the largest part of a `berth create`).
//!
//! The cache is a trusted artefact: a program read from it is loaded into a container as its
//! filter. So it is used only as a root-owned (the caller's effective uid) directory that no
//! one else can write, opened without following a symlink, and every entry is checked before
//! use through its fd: a regular file with one link, owned by the caller, writable by no one
//! else. An entry holds the whole of what went into its program (the profile, the
//! capabilities, the architecture, the kernel release, libseccomp's version and berth's), and
//! is used only if that equals the key of the program asked for byte for byte: its name is a
//! hash, which picks the file and decides nothing. A corrupt, foreign or untrusted entry is
//! ignored and replaced. Entries are written to a temporary file and renamed into place, so
//! that a reader never sees half of one.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use nix::fcntl::{openat, renameat, OFlag};
use nix::sys::stat::{fstat, Mode, SFlag};
use nix::unistd::{unlinkat, Uid, UnlinkatFlags};
use serde::{Deserialize, Serialize};

use super::caps::CapabilitySet;
use super::seccomp::{native_scmp_arch, SeccompProfile, SeccompProgram};

/// The largest entry read (Docker's default profile makes one of about 60 KB).
const MAX_ENTRY_BYTES: u64 = 4 << 20;

/// An on-disk cache of compiled programs in one directory.
#[derive(Debug)]
pub struct DiskCache {
    dir: PathBuf,
}

/// One entry: the key it was compiled for and its program.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    key: String,
    program: SeccompProgram,
}

/// Where a program came from (for the tests, which prove each path).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Disk,
    Compiled,
}

impl DiskCache {
    /// A cache in `dir`, created (mode 0700) when it is first written. Nothing is checked
    /// here: every use checks the directory again.
    pub fn new(dir: PathBuf) -> DiskCache {
        DiskCache { dir }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Everything that goes into the program of `profile` for `caps` on this host.
    pub fn key(profile: &SeccompProfile, caps: CapabilitySet) -> Option<String> {
        let profile = serde_json::to_string(profile).ok()?;
        let caps = serde_json::to_string(&caps).ok()?;
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").ok()?;
        let lib = libseccomp::ScmpVersion::current().ok()?;
        Some(format!(
            "berth-seccomp-cache 1\nberth {}\nlibseccomp {}.{}.{}\narch {}\nkernel {}\ncaps {caps}\nprofile {profile}",
            env!("CARGO_PKG_VERSION"),
            lib.major,
            lib.minor,
            lib.micro,
            native_scmp_arch(),
            kernel.trim(),
        ))
    }

    /// The program for `key` from the cache, if a trusted entry holds exactly that key.
    pub fn get(&self, key: &str) -> Option<SeccompProgram> {
        let dir = self.open_dir(false)?;
        let fd = openat(
            &dir,
            entry_name(key).as_str(),
            OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_NONBLOCK,
            Mode::empty(),
        )
        .ok()?;
        let stat = fstat(&fd).ok()?;
        let regular = SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT == SFlag::S_IFREG;
        if !regular
            || stat.st_nlink != 1
            || stat.st_uid != Uid::effective().as_raw()
            || stat.st_mode & 0o022 != 0
            || stat.st_size as u64 > MAX_ENTRY_BYTES
        {
            return None;
        }
        let mut text = String::new();
        std::fs::File::from(fd)
            .take(MAX_ENTRY_BYTES)
            .read_to_string(&mut text)
            .ok()?;
        let entry: Entry = serde_json::from_str(&text).ok()?;
        (entry.key == key).then_some(entry.program)
    }

    /// Stores `program` for `key`, replacing whatever entry was there. Best effort: a cache
    /// that cannot be written is only slower.
    pub fn put(&self, key: &str, program: &SeccompProgram) {
        let Some(dir) = self.open_dir(true) else {
            return;
        };
        let Ok(text) = serde_json::to_string(&Entry {
            key: key.to_string(),
            program: program.clone(),
        }) else {
            return;
        };
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let name = entry_name(key);
        let temporary = format!(
            ".{name}.{}.{}.tmp",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let Ok(fd) = openat(
            &dir,
            temporary.as_str(),
            OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o600),
        ) else {
            return;
        };
        let written = std::fs::File::from(fd).write_all(text.as_bytes()).is_ok()
            && renameat(&dir, temporary.as_str(), &dir, name.as_str()).is_ok();
        if !written {
            let _ = unlinkat(&dir, temporary.as_str(), UnlinkatFlags::NoRemoveDir);
        }
    }

    /// The directory, opened without following a symlink, if it is the caller's and no one
    /// else can write it; created first when `create`.
    fn open_dir(&self, create: bool) -> Option<OwnedFd> {
        if create {
            match nix::unistd::mkdir(&self.dir, Mode::from_bits_truncate(0o700)) {
                Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
                Err(_) => return None,
            }
        }
        let dir = nix::fcntl::open(
            &self.dir,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .ok()?;
        let stat = fstat(dir.as_fd()).ok()?;
        (stat.st_uid == Uid::effective().as_raw() && stat.st_mode & 0o022 == 0).then_some(dir)
    }
}

/// The file name of `key`'s entry: a hash, which only picks the file (the entry's own key
/// decides whether it is used).
fn entry_name(key: &str) -> String {
    let mut hasher = DefaultHasher::new();
    key.hash(&mut hasher);
    format!("{:016x}.json", hasher.finish())
}

/// The program of `profile` for `caps`: from `disk` when it holds it, else compiled (and
/// stored there).
pub fn compile_cached(
    disk: Option<&DiskCache>,
    profile: &SeccompProfile,
    caps: CapabilitySet,
    field: &str,
) -> runtime_core::Result<(Option<SeccompProgram>, Source)> {
    let key = disk.and_then(|_| DiskCache::key(profile, caps));
    if let (Some(disk), Some(key)) = (disk, &key) {
        if let Some(program) = disk.get(key) {
            return Ok((Some(program), Source::Disk));
        }
    }
    let program = super::seccomp::compile(profile, caps, field)?;
    if let (Some(disk), Some(key), Some(program)) = (disk, &key, &program) {
        disk.put(key, program);
    }
    Ok((program, Source::Compiled))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    use super::*;
    use crate::security::seccomp::{compile, default_profile};

    fn caps() -> CapabilitySet {
        let process = runtime_core::ProcessConfig::new(["/bin/true"]);
        CapabilitySet::for_process(&process, "process").unwrap()
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "berth-seccomp-cache-test-{name}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn only_entry(dir: &Path) -> PathBuf {
        let entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(entries.len(), 1, "{entries:?}");
        entries[0].clone()
    }

    /// Compiles into a fresh cache and returns it with the program and its entry's path.
    fn filled(name: &str) -> (DiskCache, SeccompProgram, PathBuf) {
        let cache = DiskCache::new(temp_dir(name).join("cache"));
        std::fs::create_dir_all(cache.dir().parent().unwrap()).unwrap();
        let (program, source) =
            compile_cached(Some(&cache), default_profile(), caps(), "process.seccomp").unwrap();
        assert_eq!(source, Source::Compiled);
        let entry = only_entry(cache.dir());
        (cache, program.unwrap(), entry)
    }

    fn again(cache: &DiskCache) -> (SeccompProgram, Source) {
        let (program, source) =
            compile_cached(Some(cache), default_profile(), caps(), "process.seccomp").unwrap();
        (program.unwrap(), source)
    }

    #[test]
    fn a_hit_gives_the_program_a_compile_gives() {
        let (cache, program, entry) = filled("hit");
        let meta = std::fs::metadata(&entry).unwrap();
        assert_eq!(meta.mode() & 0o777, 0o600);
        assert_eq!(
            std::fs::metadata(cache.dir()).unwrap().mode() & 0o777,
            0o700
        );
        // Another cache on the same directory (another process) reads it.
        let (read, source) = again(&DiskCache::new(cache.dir().to_path_buf()));
        assert_eq!(source, Source::Disk);
        assert_eq!(read, program);
        let fresh = compile(default_profile(), caps(), "process.seccomp")
            .unwrap()
            .unwrap();
        assert_eq!(read, fresh);
        // Other capabilities are another key, another entry.
        let mut more = caps();
        more.insert(crate::security::caps::number_of("CAP_SYS_ADMIN").unwrap());
        let (_, source) =
            compile_cached(Some(&cache), default_profile(), more, "process.seccomp").unwrap();
        assert_eq!(source, Source::Compiled);
        assert_eq!(std::fs::read_dir(cache.dir()).unwrap().count(), 2);
        let _ = std::fs::remove_dir_all(cache.dir().parent().unwrap());
    }

    #[test]
    fn a_tampered_entry_is_refused_and_rebuilt() {
        let (cache, program, entry) = filled("tampered");
        let text = std::fs::read_to_string(&entry).unwrap();
        // Corrupt: not an entry.
        std::fs::write(&entry, &text[..text.len() / 2]).unwrap();
        assert_eq!(again(&cache), (program.clone(), Source::Compiled));
        assert_eq!(
            std::fs::read_to_string(&entry).unwrap(),
            text,
            "not rebuilt"
        );
        // Another key under this entry's name (a program for another host, say): refused.
        let foreign = text.replacen("kernel ", "kernel 0.0-other ", 1);
        std::fs::write(&entry, &foreign).unwrap();
        assert_eq!(again(&cache), (program.clone(), Source::Compiled));
        assert_eq!(std::fs::read_to_string(&entry).unwrap(), text);
        let _ = std::fs::remove_dir_all(cache.dir().parent().unwrap());
    }

    #[test]
    fn an_entry_someone_else_could_write_is_refused_and_rebuilt() {
        let (cache, program, entry) = filled("foreign");
        // Owned by another user.
        std::os::unix::fs::chown(&entry, Some(4242), Some(4242)).unwrap();
        assert_eq!(again(&cache), (program.clone(), Source::Compiled));
        assert_eq!(
            std::fs::metadata(&entry).unwrap().uid(),
            Uid::effective().as_raw()
        );
        assert_eq!(again(&cache).1, Source::Disk);
        // Writable by the group or others.
        for mode in [0o620, 0o602] {
            std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(mode)).unwrap();
            assert_eq!(
                again(&cache),
                (program.clone(), Source::Compiled),
                "{mode:o}"
            );
            assert_eq!(again(&cache).1, Source::Disk);
        }
        // A second link (an attacker's name for it) or a symlink in its place.
        let link = cache.dir().parent().unwrap().join("link");
        std::fs::hard_link(&entry, &link).unwrap();
        assert_eq!(again(&cache).1, Source::Compiled);
        std::fs::remove_file(&link).unwrap();
        let target = cache.dir().parent().unwrap().join("elsewhere");
        std::fs::rename(&entry, &target).unwrap();
        std::os::unix::fs::symlink(&target, &entry).unwrap();
        assert_eq!(again(&cache), (program, Source::Compiled));
        assert!(!std::fs::symlink_metadata(&entry).unwrap().is_symlink());
        let _ = std::fs::remove_dir_all(cache.dir().parent().unwrap());
    }

    #[test]
    fn a_directory_someone_else_could_write_is_not_used() {
        let (cache, program, _) = filled("dir");
        std::fs::set_permissions(cache.dir(), std::fs::Permissions::from_mode(0o777)).unwrap();
        assert_eq!(again(&cache), (program.clone(), Source::Compiled));
        std::fs::set_permissions(cache.dir(), std::fs::Permissions::from_mode(0o700)).unwrap();
        std::os::unix::fs::chown(cache.dir(), Some(4242), None).unwrap();
        assert_eq!(again(&cache), (program.clone(), Source::Compiled));
        // A symlink to a good directory is not followed either.
        std::os::unix::fs::chown(cache.dir(), Some(Uid::effective().as_raw()), None).unwrap();
        let link = cache.dir().parent().unwrap().join("cache-link");
        std::os::unix::fs::symlink(cache.dir(), &link).unwrap();
        assert_eq!(again(&DiskCache::new(link)), (program, Source::Compiled));
        let _ = std::fs::remove_dir_all(cache.dir().parent().unwrap());
    }
}
