//! The one error type of berth. Every variant maps to a stable [`ErrorKind`], which the C ABI
//! exposes as a number that never changes meaning.

use std::fmt;

/// Stable classification of an [`Error`]. The numbers are part of the C ABI: never reuse one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum ErrorKind {
    /// The caller passed something malformed or out of range.
    InvalidArgument = 1,
    /// No container (or other object) with that name exists.
    NotFound = 2,
    /// A container with that id exists already.
    AlreadyExists = 3,
    /// The container exists but is not in a state that allows the operation.
    InvalidState = 4,
    /// The driver or platform does not implement the operation or option.
    Unsupported = 5,
    /// The operating system refused for lack of privilege.
    Permission = 6,
    /// A system call or OS service failed.
    System = 7,
    /// A bug in berth: a broken invariant or a caught panic.
    Internal = 8,
}

impl ErrorKind {
    /// A short lowercase name, as used in messages and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidArgument => "invalid argument",
            ErrorKind::NotFound => "not found",
            ErrorKind::AlreadyExists => "already exists",
            ErrorKind::InvalidState => "invalid state",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::Permission => "permission denied",
            ErrorKind::System => "system error",
            ErrorKind::Internal => "internal error",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An OS-level failure: which step failed, and the platform's error code and its name.
///
/// `code` is an errno on Unix and an HRESULT or Win32 error on Windows; `name` is its symbolic
/// name and description (for example `ENOENT: No such file or directory`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OsFailure {
    /// What berth was doing, naming the object: `mount /proc on /abs/rootfs/proc`.
    pub step: String,
    /// The raw platform error code.
    pub code: i32,
    /// The symbolic name and description of `code`.
    pub name: String,
}

impl fmt::Display for OsFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.step, self.name)
    }
}

/// Everything that can go wrong in berth.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A field of the input is malformed; `field` is its JSON path (`process.cwd`).
    #[error("invalid {field}: {reason}")]
    InvalidArgument { field: String, reason: String },

    /// The named object does not exist; `hint` (empty, or starting with "; ") says where it was
    /// looked for or what to do.
    #[error("{what} {name:?} not found{hint}")]
    NotFound {
        what: &'static str,
        name: String,
        hint: String,
    },

    /// A container with this id exists already.
    #[error("container {id:?} already exists")]
    AlreadyExists { id: String },

    /// The container is not in a state that allows the operation.
    #[error("container {id:?} is {state}: cannot {operation}")]
    InvalidState {
        id: String,
        state: String,
        operation: &'static str,
    },

    /// The driver does not (yet) implement this operation or option.
    #[error("{0} is not supported by this driver")]
    Unsupported(String),

    /// The OS refused for lack of privilege.
    #[error("{0}")]
    Permission(OsFailure),

    /// A system call or OS service failed.
    #[error("{0}")]
    System(OsFailure),

    /// A bug in berth.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// The stable kind of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::InvalidArgument { .. } => ErrorKind::InvalidArgument,
            Error::NotFound { .. } => ErrorKind::NotFound,
            Error::AlreadyExists { .. } => ErrorKind::AlreadyExists,
            Error::InvalidState { .. } => ErrorKind::InvalidState,
            Error::Unsupported(_) => ErrorKind::Unsupported,
            Error::Permission(_) => ErrorKind::Permission,
            Error::System(_) => ErrorKind::System,
            Error::Internal(_) => ErrorKind::Internal,
        }
    }

    /// Shorthand for [`Error::InvalidArgument`].
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidArgument {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// Shorthand for a missing container.
    pub fn no_container(id: impl Into<String>) -> Self {
        Error::NotFound {
            what: "container",
            name: id.into(),
            hint: String::new(),
        }
    }

    /// The error for a failed `std::io` call while doing `step`: [`Error::Permission`] when the
    /// OS refused for lack of privilege, [`Error::System`] otherwise.
    pub fn io(step: impl Into<String>, err: &std::io::Error) -> Self {
        let failure = OsFailure {
            step: step.into(),
            code: err.raw_os_error().unwrap_or(-1),
            name: err.to_string(),
        };
        if err.kind() == std::io::ErrorKind::PermissionDenied {
            Error::Permission(failure)
        } else {
            Error::System(failure)
        }
    }

    /// The OS failure behind a [`Error::System`] or [`Error::Permission`], if that is what this is.
    pub fn os_failure(&self) -> Option<&OsFailure> {
        match self {
            Error::System(f) | Error::Permission(f) => Some(f),
            _ => None,
        }
    }
}

/// The result type of berth.
pub type Result<T, E = Error> = std::result::Result<T, E>;
