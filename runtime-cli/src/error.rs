//! The CLI's one error: a message a person can act on (the container, the bundle, the field,
//! the step), and the exit code runc gives for it (1).

use std::fmt;

/// An error of one invocation.
#[derive(Debug)]
pub struct CliError {
    pub message: String,
}

impl CliError {
    pub fn new(message: impl Into<String>) -> CliError {
        CliError {
            message: message.into(),
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<runtime_core::Error> for CliError {
    fn from(error: runtime_core::Error) -> CliError {
        CliError::new(error.to_string())
    }
}

impl From<runtime_oci::OciError> for CliError {
    fn from(error: runtime_oci::OciError) -> CliError {
        CliError::new(error.to_string())
    }
}

pub type CliResult<T> = Result<T, CliError>;

/// `Result::map_err` into a [`CliError`] that says what failed.
pub trait Step<T> {
    fn step(self, what: impl FnOnce() -> String) -> CliResult<T>;
}

impl<T, E: fmt::Display> Step<T> for Result<T, E> {
    fn step(self, what: impl FnOnce() -> String) -> CliResult<T> {
        self.map_err(|error| CliError::new(format!("{}: {error}", what())))
    }
}
