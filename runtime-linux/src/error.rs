//! Turning errno values into berth's typed errors, always with the step that failed.

use nix::errno::Errno;
use runtime_core::{Error, OsFailure};

/// The error for an OS call that failed with `errno` while doing `step`. `EPERM` and `EACCES`
/// become [`Error::Permission`], everything else [`Error::System`].
pub fn os_error(step: impl Into<String>, errno: Errno) -> Error {
    let failure = OsFailure {
        step: step.into(),
        code: errno as i32,
        name: errno_name(errno),
    };
    match errno {
        Errno::EPERM | Errno::EACCES => Error::Permission(failure),
        _ => Error::System(failure),
    }
}

/// The same, from an `std::io::Error`.
pub fn io_error(step: impl Into<String>, err: &std::io::Error) -> Error {
    os_error(
        step,
        Errno::from_raw(err.raw_os_error().unwrap_or(libc::EIO)),
    )
}

/// `ENOENT: No such file or directory`.
pub fn errno_name(errno: Errno) -> String {
    format!("{errno:?}: {}", errno.desc())
}

/// Adds the step to a failed OS call: `mkdir(...).step(|| format!("create {path}"))`.
pub trait StepExt<T> {
    fn step<S: Into<String>>(self, step: impl FnOnce() -> S) -> runtime_core::Result<T>;
}

impl<T> StepExt<T> for nix::Result<T> {
    fn step<S: Into<String>>(self, step: impl FnOnce() -> S) -> runtime_core::Result<T> {
        self.map_err(|errno| os_error(step(), errno))
    }
}

impl<T> StepExt<T> for std::io::Result<T> {
    fn step<S: Into<String>>(self, step: impl FnOnce() -> S) -> runtime_core::Result<T> {
        self.map_err(|err| io_error(step(), &err))
    }
}
