//! The options of `berth_driver_new`: which kind of driver, and that driver's settings.

use runtime_core::json::from_json;
use runtime_core::{Driver, Error};
use runtime_linux::{DriverOptions, LinuxDriver};
use serde_json::{Map, Value};

use crate::boundary::FfiResult;
use crate::types::{berth_error, berth_error_kind};

/// The kinds of driver berth knows, whether or not this build has them.
const KINDS: &str = "\"native\", \"lxc\" or \"windows\"";

/// Makes the driver that `options_json` describes; `None` gives the defaults.
///
/// `kind` is read here; every other key goes to the chosen driver's own options, which reject
/// keys they do not know.
pub(crate) fn new_driver(options_json: Option<&str>) -> FfiResult<Box<dyn Driver>> {
    let mut options: Map<String, Value> = match options_json {
        Some(text) => from_json("options", text)?,
        None => Map::new(),
    };
    let kind = match options.remove("kind") {
        None | Some(Value::Null) => "native".to_string(),
        Some(Value::String(kind)) => kind,
        Some(other) => {
            return Err(Error::invalid(
                "options.kind",
                format!("expected a string ({KINDS}), found {other}"),
            )
            .into())
        }
    };
    match kind.as_str() {
        "native" => {
            let native: DriverOptions = from_value("options", options)?;
            Ok(Box::new(LinuxDriver::new(native)?))
        }
        "lxc" => Err(unsupported(
            "driver kind \"lxc\" is not built into this libberth yet; use \"native\"",
        )),
        "windows" => Err(unsupported(
            "driver kind \"windows\" runs only on Windows; use \"native\" on Linux",
        )),
        other => Err(Error::invalid(
            "options.kind",
            format!("unknown driver kind {other:?}; expected {KINDS}"),
        )
        .into()),
    }
}

fn unsupported(message: &str) -> berth_error {
    berth_error::new(berth_error_kind::BERTH_ERROR_UNSUPPORTED, message.into())
}

/// Like [`from_json`], for a document parsed already: the error names the field by its path
/// (`options.root`). There is no line or column to give, as the text was checked before.
fn from_value<T: serde::de::DeserializeOwned>(
    what: &str,
    object: Map<String, Value>,
) -> Result<T, Error> {
    serde_path_to_error::deserialize(Value::Object(object)).map_err(|err| {
        let path = err.path().to_string();
        let field = if path == "." {
            what.to_string()
        } else {
            format!("{what}.{path}")
        };
        Error::invalid(field, err.into_inner().to_string())
    })
}
