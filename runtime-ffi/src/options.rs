//! The options of `berth_driver_new`: which kind of driver, and that driver's settings.

use runtime_core::json::from_json;
use runtime_core::{Driver, Error};
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
        None | Some(Value::Null) => DEFAULT_KIND.to_string(),
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
        "native" => native_driver(options),
        "lxc" => lxc_driver(options),
        "windows" => windows_driver(options),
        other => Err(Error::invalid(
            "options.kind",
            format!("unknown driver kind {other:?}; expected {KINDS}"),
        )
        .into()),
    }
}

/// The kind a NULL `options_json` (or one without `kind`) gives: the platform's own driver.
#[cfg(not(windows))]
const DEFAULT_KIND: &str = "native";
#[cfg(windows)]
const DEFAULT_KIND: &str = "windows";

#[cfg(target_os = "linux")]
fn native_driver(options: Map<String, Value>) -> FfiResult<Box<dyn Driver>> {
    let native: runtime_linux::DriverOptions = from_value("options", options)?;
    Ok(Box::new(runtime_linux::LinuxDriver::new(native)?))
}

/// LXC's driver takes the native driver's options.
#[cfg(target_os = "linux")]
fn lxc_driver(options: Map<String, Value>) -> FfiResult<Box<dyn Driver>> {
    let native: runtime_linux::DriverOptions = from_value("options", options)?;
    Ok(Box::new(runtime_linux::LxcDriver::new(native)?))
}

#[cfg(not(target_os = "linux"))]
fn lxc_driver(_options: Map<String, Value>) -> FfiResult<Box<dyn Driver>> {
    Err(unsupported(
        "driver kind \"lxc\" runs only on Linux; this libberth was built for another system",
    ))
}

#[cfg(not(target_os = "linux"))]
fn native_driver(_options: Map<String, Value>) -> FfiResult<Box<dyn Driver>> {
    Err(unsupported(
        "driver kind \"native\" runs only on Linux; this libberth was built for another system",
    ))
}

#[cfg(not(windows))]
fn windows_driver(_options: Map<String, Value>) -> FfiResult<Box<dyn Driver>> {
    Err(unsupported(
        "driver kind \"windows\" runs only on Windows; use \"native\" on Linux",
    ))
}

/// The Windows driver over this machine's Host Compute Service (`computecore.dll`, loaded
/// when the driver is made: UNSUPPORTED, naming what is missing, where it is not there).
#[cfg(windows)]
fn windows_driver(options: Map<String, Value>) -> FfiResult<Box<dyn Driver>> {
    let windows: runtime_windows::WindowsOptions = from_value("options", options)?;
    Ok(Box::new(runtime_windows::HcsDriver::new(windows)?))
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
