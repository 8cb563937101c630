//! The exit record of a container with berth's init (`Command::init`): the program's exit
//! status, written by the init the moment the program ends, for a driver that takes the
//! container back after its host died and so cannot reap the init itself.
//!
//! The host creates `<state dir>/exit` (a regular file, mode 0600, write-only) before the
//! container starts and hands that fd to the init: the confined init gets no directory fd and
//! no path of the host (a directory fd would be an escape of the CVE-2016-9962 kind), and the
//! program never has the fd (close-on-exec, and closed in the program's process before its
//! exec). The init writes one JSON [`ExitStatus`] at offset 0; the driver reads at most
//! [`MAX_LEN`] bytes and takes only a status that is consistent (a code of 0 to 255, and `128 +
//! signal` with a signal), so a record that a process of the container managed to scribble on
//! (it would need to ptrace the non-dumpable init) can at worst lie about its own exit.

use std::io::Read;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use runtime_core::{ExitStatus, Result};

use crate::error::StepExt;

/// The record's name in the container's state directory.
pub const FILE: &str = "exit";

/// The most the driver reads of a record: a status is about 40 bytes.
pub const MAX_LEN: u64 = 128;

/// Creates the empty record in `state_dir` (new: `O_EXCL`, never through a link), write-only,
/// for the init.
pub fn create_for_init(state_dir: &Path) -> Result<OwnedFd> {
    let path = state_dir.join(FILE);
    nix::fcntl::open(
        &path,
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(0o600),
    )
    .step(|| format!("create the exit record {}", path.display()))
}

/// Writes `status` into the record (the init's side). A failure is not reported: the init
/// exits with the status anyway, and a driver that is the init's parent still sees it.
pub fn write(record: BorrowedFd<'_>, status: &ExitStatus) {
    if let Ok(text) = serde_json::to_vec(status) {
        let _ = nix::sys::uio::pwrite(record, &text, 0);
    }
}

/// The status recorded in `state_dir`, if there is a consistent one.
pub fn read(state_dir: &Path) -> Option<ExitStatus> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(state_dir.join(FILE))
        .ok()?;
    let mut text = Vec::new();
    file.take(MAX_LEN).read_to_end(&mut text).ok()?;
    let status: ExitStatus = serde_json::from_slice(&text).ok()?;
    consistent(&status).then_some(status)
}

/// Whether `status` is one an init can record: `exit(code)` with a code of 0 to 255, or a
/// death by a signal of 1 to 64 read as `128 + signal`; never the OOM flag, which the driver
/// reads from the cgroup.
fn consistent(status: &ExitStatus) -> bool {
    let code_ok = match status.signal {
        None => (0..=255).contains(&status.code),
        Some(signal) => (1..=64).contains(&signal) && status.code == 128 + i64::from(signal),
    };
    code_ok && !status.oom_killed
}

/// How the init of a container ended, from what its driver `observed` (the init's own exit,
/// or [`ExitStatus::unknown`] when it is not the driver's child), the init's record in
/// `state_dir` when it has one, and whether this driver `killed` it with SIGKILL while it was
/// alive (which ends an init before it can record anything).
pub fn resolve(observed: ExitStatus, state_dir: Option<&Path>, killed: bool) -> ExitStatus {
    if let Some(recorded) = state_dir.and_then(read) {
        return recorded;
    }
    if observed == ExitStatus::unknown() && killed {
        return ExitStatus::signaled(libc::SIGKILL);
    }
    observed
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn a_record_is_read_back_and_a_forged_one_is_not() {
        let dir = std::env::temp_dir().join(format!("berth-exit-record-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).unwrap();
        assert_eq!(read(&dir), None);
        let fd = create_for_init(&dir).unwrap();
        assert!(create_for_init(&dir).is_err(), "O_EXCL");
        assert_eq!(read(&dir), None, "empty");
        write(fd.as_fd(), &ExitStatus::signaled(15));
        assert_eq!(read(&dir), Some(ExitStatus::signaled(15)));
        let forged = [
            r#"{"code":1000,"signal":null}"#,
            r#"{"code":143,"signal":9}"#,
            r#"{"code":137,"signal":9,"oom_killed":true}"#,
            r#"{"code":0,"extra":1}"#,
        ];
        for text in forged {
            std::fs::write(dir.join(FILE), text).unwrap();
            assert_eq!(read(&dir), None, "{text}");
        }
        std::fs::write(dir.join(FILE), vec![b' '; 4096]).unwrap();
        assert_eq!(read(&dir), None, "too long");
        std::fs::write(dir.join(FILE), r#"{"code":3,"signal":null}"#).unwrap();
        assert_eq!(
            resolve(ExitStatus::unknown(), Some(&dir), true),
            ExitStatus::exited(3)
        );
        std::fs::remove_file(dir.join(FILE)).unwrap();
        std::os::unix::fs::symlink("/etc/hostname", dir.join(FILE)).unwrap();
        assert_eq!(read(&dir), None, "not through a link");
        assert_eq!(
            resolve(ExitStatus::unknown(), Some(&dir), true),
            ExitStatus::signaled(9)
        );
        assert_eq!(
            resolve(ExitStatus::unknown(), Some(&dir), false),
            ExitStatus::unknown()
        );
        assert_eq!(
            resolve(ExitStatus::exited(0), None, true),
            ExitStatus::exited(0)
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
