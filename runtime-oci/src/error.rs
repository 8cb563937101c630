//! [`OciError`]: every failure of the mapping names the field of `config.json` (or of the
//! `process` or `resources` file given to `exec` or `update`) by its JSON path.

use std::path::PathBuf;

/// What went wrong with a bundle. Every variant names the field by its JSON path in
/// `config.json`: `linux.resources.memory.swappiness`, `mounts[3].options`.
#[derive(Debug, thiserror::Error)]
pub enum OciError {
    /// A value berth understands but that is malformed or out of range.
    #[error("config.json: {field}: {reason}")]
    Invalid { field: String, reason: String },
    /// A field runc honours and berth does not: refused, never dropped.
    #[error("config.json: {field}: not supported: {reason}")]
    Unsupported { field: String, reason: String },
    /// The file could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file is not JSON of the OCI form; `field` is where the parser stopped (empty: the
    /// document itself).
    #[error("config.json: {}{reason}", if field.is_empty() { String::new() } else { format!("{field}: ") })]
    Json { field: String, reason: String },
}

impl OciError {
    /// An [`OciError::Invalid`].
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> OciError {
        OciError::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// An [`OciError::Unsupported`].
    pub fn unsupported(field: impl Into<String>, reason: impl Into<String>) -> OciError {
        OciError::Unsupported {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// The field the error names (empty for an I/O error).
    pub fn field(&self) -> &str {
        match self {
            OciError::Invalid { field, .. }
            | OciError::Unsupported { field, .. }
            | OciError::Json { field, .. } => field,
            OciError::Io { .. } => "",
        }
    }
}

/// The CLI reports a bundle's errors as berth's: invalid argument, or unsupported.
impl From<OciError> for runtime_core::Error {
    fn from(error: OciError) -> runtime_core::Error {
        match error {
            OciError::Unsupported { .. } => runtime_core::Error::Unsupported(error.to_string()),
            OciError::Io {
                ref path,
                ref source,
            } => runtime_core::Error::io(format!("read {}", path.display()), source),
            OciError::Invalid { field, reason } | OciError::Json { field, reason } => {
                runtime_core::Error::InvalidArgument {
                    field: format!("config.json: {field}"),
                    reason,
                }
            }
        }
    }
}
