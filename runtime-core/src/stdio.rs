//! The standard streams of a container process, as the platform's raw handles.

/// A raw file descriptor on Unix.
#[cfg(not(windows))]
pub type RawStdio = i32;

/// A raw `HANDLE` value on Windows.
#[cfg(windows)]
pub type RawStdio = isize;

/// The three standard streams given to a process. `None` is the null device.
///
/// The caller keeps ownership: a driver duplicates what it needs before the call returns, so
/// the caller may close its handles afterwards.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stdio {
    pub stdin: Option<RawStdio>,
    pub stdout: Option<RawStdio>,
    pub stderr: Option<RawStdio>,
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
}
