//! [`Validated`]: a value that has passed its checks. Only the checks make one, so a driver's
//! platform part, which takes a `Validated<Command>`, cannot be handed a command nobody
//! checked, and nothing checks a command twice.

use std::ops::Deref;

use serde::Serialize;

use crate::command::{Command, Resources};
use crate::error::Result;
use crate::process::ProcessConfig;

/// A `T` that has passed validation. Read it through `Deref`; it cannot be changed. It
/// serializes as the `T` it holds, and never deserializes: a parsed value is checked again.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct Validated<T>(T);

impl<T> Validated<T> {
    /// The checked value, no longer marked as checked.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> Deref for Validated<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl Command {
    /// Checks every field (see [`Command::validate`]) and returns the command marked as checked.
    pub fn validated(self) -> Result<Validated<Command>> {
        self.validate()?;
        Ok(Validated(self))
    }
}

impl ProcessConfig {
    /// Checks every field (see [`ProcessConfig::validate`]; `field` is its JSON path) and
    /// returns the process marked as checked.
    pub fn validated(self, field: &str) -> Result<Validated<ProcessConfig>> {
        self.validate(field)?;
        Ok(Validated(self))
    }
}

impl Resources {
    /// Checks every field, as for a command's `resources` (`field` is the JSON path), and
    /// returns the resources marked as checked.
    pub fn validated(self, field: &str) -> Result<Validated<Resources>> {
        crate::validate::validate_resources(field, &self)?;
        Ok(Validated(self))
    }
}
