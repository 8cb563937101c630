//! From berth's [`Command`] and [`ProcessConfig`] to the documents of HCS schema 2.1, and
//! back from HCS's documents to berth's [`Stats`] and exit codes. Every field either maps to
//! a field of HCS or is refused with [`Error::Unsupported`] naming it; none is ignored.
//!
//! STUB: the translation is being written; these signatures are the contract.

use runtime_core::{Command, Error, ProcessConfig, Resources, Result, Stats, Stdio};

/// The documents of one container, computed before any side effect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The [`crate::schema::ComputeSystem`] document.
    pub system: String,
    /// The container's init process.
    pub init: ProcessPlan,
}

/// One process to create: its [`crate::schema::ProcessParameters`] document, and which of its
/// standard pipes HCS creates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessPlan {
    pub parameters: String,
    /// `EmulateConsole`: output comes on stdout only.
    pub tty: bool,
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
}

/// How a signal of the C ABI (Linux's numbers) is delivered on Windows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// `HcsSignalProcess` with this [`crate::schema::SignalProcessOptions`] document.
    Signal(String),
    /// `HcsTerminateProcess`.
    Terminate,
}

/// The documents for `command`; `layer_id` gives the id of a layer folder.
pub fn plan(command: &Command, layer_id: &dyn Fn(&str) -> Result<String>) -> Result<Plan> {
    let _ = (command, layer_id);
    Err(Error::Unsupported(
        "the Windows translation (not written yet)".into(),
    ))
}

/// The process document for `process` (at JSON path `field`), with the pipes `stdio` needs.
pub fn process(process: &ProcessConfig, field: &str, stdio: &Stdio) -> Result<ProcessPlan> {
    let _ = (process, field, stdio);
    Err(Error::Unsupported(
        "the Windows translation (not written yet)".into(),
    ))
}

/// How `signal` is delivered.
pub fn delivery(signal: i32) -> Result<Delivery> {
    let _ = signal;
    Err(Error::Unsupported("signals (not written yet)".into()))
}

/// The [`crate::schema::ProcessModifyRequest`] document that resizes a console.
pub fn console_size(rows: u16, cols: u16) -> String {
    let _ = (rows, cols);
    String::new()
}

/// The [`crate::schema::ModifySettingRequest`] documents that set `resources` on a running
/// container.
pub fn update(resources: &Resources) -> Result<Vec<String>> {
    let _ = resources;
    Err(Error::Unsupported("update (not written yet)".into()))
}

/// The [`crate::schema::PropertyQuery`] document for the statistics.
pub fn statistics_query() -> String {
    String::new()
}

/// berth's stats from a [`crate::schema::Properties`] document with statistics.
pub fn stats(properties: &str) -> Result<Stats> {
    let _ = properties;
    Err(Error::Unsupported("stats (not written yet)".into()))
}

/// The exit code in a [`crate::schema::ProcessStatus`] document: `None` while the process
/// runs.
pub fn exit_code(status: &str) -> Result<Option<u32>> {
    let _ = status;
    Err(Error::Unsupported("exit codes (not written yet)".into()))
}
