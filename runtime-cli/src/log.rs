//! `--log FILE` and `--log-format text|json`: where runc writes its diagnostics. In JSON, one
//! object per line, `{"level","msg","time"}`: containerd's shim reads the last `error` line of
//! this file and shows its `msg` to the user, so every error goes there as well as to stderr.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::sync::{Mutex, OnceLock};

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

impl Format {
    pub fn parse(text: &str) -> Result<Format, String> {
        match text {
            "text" => Ok(Format::Text),
            "json" => Ok(Format::Json),
            other => Err(format!(
                "invalid --log-format {other:?}: expected \"text\" or \"json\""
            )),
        }
    }
}

/// A level of a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Debug,
    Warn,
    Error,
}

impl Level {
    fn name(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Warn => "warning",
            Level::Error => "error",
        }
    }
}

struct Logger {
    format: Format,
    file: Option<Mutex<File>>,
    debug: bool,
}

static LOGGER: OnceLock<Logger> = OnceLock::new();

/// Sets the log up for this invocation. Without `--log`, lines go to stderr.
pub fn init(path: Option<&str>, format: Format, debug: bool) -> Result<(), String> {
    let file = match path {
        Some(path) if !path.is_empty() => Some(Mutex::new(
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|err| format!("open the log file {path}: {err}"))?,
        )),
        _ => None,
    };
    let _ = LOGGER.set(Logger {
        format,
        file,
        debug,
    });
    Ok(())
}

/// Writes one line at `level`. Debug lines need `--debug`.
pub fn log(level: Level, msg: &str) {
    let Some(logger) = LOGGER.get() else {
        if level >= Level::Warn {
            eprintln!("berth: {msg}");
        }
        return;
    };
    if level == Level::Debug && !logger.debug {
        return;
    }
    let line = render(
        logger.format,
        level,
        msg,
        &runtime_core::time::now_rfc3339(),
    );
    match &logger.file {
        Some(file) => {
            if let Ok(mut file) = file.lock() {
                let _ = file.write_all(line.as_bytes());
            }
        }
        None => {
            let _ = std::io::stderr().write_all(line.as_bytes());
        }
    }
}

/// An error: to the log, and to stderr as well when the log is a file (what a person at a
/// terminal sees; runc does the same).
pub fn error(msg: &str) {
    if LOGGER.get().is_some_and(|l| l.file.is_some()) {
        eprintln!("berth: {msg}");
    }
    log(Level::Error, msg);
}

pub fn warn(msg: &str) {
    log(Level::Warn, msg);
}

pub fn debug(msg: &str) {
    log(Level::Debug, msg);
}

fn render(format: Format, level: Level, msg: &str, time: &str) -> String {
    match format {
        Format::Json => {
            let mut line =
                serde_json::json!({"level": level.name(), "msg": msg, "time": time}).to_string();
            line.push('\n');
            line
        }
        Format::Text => format!("time=\"{time}\" level={} msg={msg:?}\n", level.name()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_lines_are_what_containerd_reads() {
        let line = render(
            Format::Json,
            Level::Error,
            "bad \"x\"",
            "2026-12-01T00:00:00Z",
        );
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["level"], "error");
        assert_eq!(value["msg"], "bad \"x\"");
        assert_eq!(value["time"], "2026-12-01T00:00:00Z");
        assert!(line.ends_with('\n'));
        let text = render(Format::Text, Level::Warn, "w", "t");
        assert_eq!(text, "time=\"t\" level=warning msg=\"w\"\n");
    }
}
