//! The standard streams of a container process, as the platform's raw handles.

use crate::error::{Error, Result};

/// A raw file descriptor on Unix.
#[cfg(not(windows))]
pub type RawStdio = i32;

/// A raw `HANDLE` value on Windows.
#[cfg(windows)]
pub type RawStdio = isize;

/// The most [`Stdio::extra`] fds a process may be given.
pub const MAX_EXTRA_FDS: usize = 200;

/// The three standard streams given to a process, and any more fds for it. `None` is the null
/// device.
///
/// The caller keeps ownership: a driver duplicates what it needs before the call returns, so
/// the caller may close its handles afterwards.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stdio {
    pub stdin: Option<RawStdio>,
    pub stdout: Option<RawStdio>,
    pub stderr: Option<RawStdio>,
    /// More fds for the process, as runc's `--preserve-fds`: the n-th becomes the process's fd
    /// `3 + n` (the first is fd 3), open across the program's `execve`; every other fd above 2
    /// is closed as always. At most [`MAX_EXTRA_FDS`]. Only the native Linux driver takes
    /// them; the others refuse a non-empty list as unsupported (`stdio.extra`).
    pub extra: Vec<RawStdio>,
}

impl Stdio {
    /// Every stream on the null device.
    pub fn null() -> Self {
        Stdio::default()
    }

    /// The streams in order: stdin, stdout, stderr.
    pub fn as_array(&self) -> [Option<RawStdio>; 3] {
        [self.stdin, self.stdout, self.stderr]
    }

    /// The three standard streams of `self`, without the extra fds.
    pub fn standard(&self) -> Stdio {
        Stdio {
            stdin: self.stdin,
            stdout: self.stdout,
            stderr: self.stderr,
            extra: Vec::new(),
        }
    }

    /// Checks what can be checked without the OS: no more than [`MAX_EXTRA_FDS`] extra fds.
    /// Whether each is open is the driver's to check (`invalid stdio.extra[1]: fd 9 is not
    /// open`).
    pub fn validate(&self) -> Result<()> {
        if self.extra.len() > MAX_EXTRA_FDS {
            return Err(Error::invalid(
                "stdio.extra",
                format!(
                    "{} fds; at most {MAX_EXTRA_FDS} may be given",
                    self.extra.len()
                ),
            ));
        }
        Ok(())
    }

    /// The error of a driver that cannot give a process extra fds, when `self` has some.
    pub fn refuse_extra(&self) -> Result<()> {
        if self.extra.is_empty() {
            Ok(())
        } else {
            Err(Error::Unsupported(
                "stdio.extra (fds beyond stdin, stdout and stderr)".into(),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_fds_are_bounded_and_refusable() {
        let mut stdio = Stdio::null();
        assert!(stdio.validate().is_ok());
        assert!(stdio.refuse_extra().is_ok());
        stdio.extra = vec![5; MAX_EXTRA_FDS + 1];
        let error = stdio.validate().unwrap_err();
        assert_eq!(error.kind(), crate::ErrorKind::InvalidArgument);
        assert!(error.to_string().contains("stdio.extra"), "{error}");
        let error = stdio.refuse_extra().unwrap_err();
        assert_eq!(error.kind(), crate::ErrorKind::Unsupported);
        assert!(error.to_string().starts_with("stdio.extra"), "{error}");
        assert_eq!(stdio.standard(), Stdio::null());
    }
}
