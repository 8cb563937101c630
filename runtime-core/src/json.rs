//! The JSON wire form: parsing that names the offending field, and printing.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::command::Command;
use crate::error::{Error, Result};
use crate::process::ProcessConfig;
use crate::validated::Validated;

/// Parses JSON into `T`, turning serde's error into [`Error::InvalidArgument`] whose field is
/// the JSON path of the problem (`namespaces.pid`), or `what` when the document itself is
/// malformed.
pub fn from_json<T: DeserializeOwned>(what: &str, text: &str) -> Result<T> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let value: T = serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
        let path = err.path().to_string();
        // Only a data error sits at a meaningful path; a syntax error's path is a guess.
        let field = if path == "." || !err.inner().is_data() {
            what.to_string()
        } else {
            format!("{what}.{path}")
        };
        Error::invalid(field, err.into_inner().to_string())
    })?;
    deserializer
        .end()
        .map_err(|err| Error::invalid(what, err.to_string()))?;
    Ok(value)
}

/// Serializes `value` as compact JSON.
pub fn to_json<T: Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|err| Error::Internal(format!("serialize: {err}")))
}

impl Command {
    /// Parses and validates a command from its JSON form.
    pub fn from_json(text: &str) -> Result<Validated<Command>> {
        Command::parse_json(text)?.validated()
    }

    /// Parses a command from its JSON form without validating it: for a caller that hands it
    /// to a driver, which validates it once.
    pub fn parse_json(text: &str) -> Result<Command> {
        from_json("command", text)
    }
}

impl ProcessConfig {
    /// Parses and validates a process from its JSON form.
    pub fn from_json(text: &str) -> Result<Validated<ProcessConfig>> {
        ProcessConfig::parse_json(text)?.validated("process")
    }

    /// Parses a process from its JSON form without validating it (see
    /// [`Command::parse_json`]).
    pub fn parse_json(text: &str) -> Result<ProcessConfig> {
        from_json("process", text)
    }
}
