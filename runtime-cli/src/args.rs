//! The command line, parsed as runc's (Go's `flag` package, through urfave/cli) is: a flag is
//! `-name` or `--name`, its value `--name value` or `--name=value`, a boolean takes
//! `--name=false`, and flags end at the first argument that is not one, or at `--`. Shims
//! call runc with all of these forms, so berth takes them all.

use std::collections::HashMap;

/// One flag a command takes: its names (the first is the canonical one) and whether it
/// takes a value.
#[derive(Debug, Clone, Copy)]
pub struct Flag {
    pub names: &'static [&'static str],
    pub value: bool,
}

/// A flag with a value.
pub const fn value(names: &'static [&'static str]) -> Flag {
    Flag { names, value: true }
}

/// A boolean flag.
pub const fn switch(names: &'static [&'static str]) -> Flag {
    Flag {
        names,
        value: false,
    }
}

/// Parsed flags and the arguments after them.
#[derive(Debug, Default)]
pub struct Parsed {
    values: HashMap<&'static str, Vec<String>>,
    pub positional: Vec<String>,
}

impl Parsed {
    /// The last value of a flag with a value.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values
            .get(name)
            .and_then(|v| v.last())
            .map(String::as_str)
    }

    /// Every value of a repeatable flag, in order.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.values.get(name).cloned().unwrap_or_default()
    }

    /// Whether a boolean flag is set (its last value).
    pub fn is_set(&self, name: &str) -> bool {
        self.get(name) == Some("true")
    }

    /// Whether a flag was given at all.
    pub fn given(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }
}

/// Parses `args` against `flags`. Errors read as Go's (`flag provided but not defined: -x`).
pub fn parse(args: &[String], flags: &[Flag]) -> Result<Parsed, String> {
    let mut parsed = Parsed::default();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        if arg == "--" {
            parsed.positional.extend(rest.cloned());
            break;
        }
        let Some(body) = flag_body(arg) else {
            parsed.positional.push(arg.clone());
            parsed.positional.extend(rest.cloned());
            break;
        };
        let (name, inline) = match body.split_once('=') {
            Some((name, value)) => (name, Some(value.to_string())),
            None => (body, None),
        };
        let flag = flags
            .iter()
            .find(|f| f.names.contains(&name))
            .ok_or_else(|| format!("flag provided but not defined: -{name}"))?;
        let value = if flag.value {
            match inline {
                Some(value) => value,
                None => rest
                    .next()
                    .cloned()
                    .ok_or_else(|| format!("flag needs an argument: -{name}"))?,
            }
        } else {
            match inline.as_deref() {
                None | Some("true" | "1" | "t" | "T" | "TRUE" | "True") => "true".to_string(),
                Some("false" | "0" | "f" | "F" | "FALSE" | "False") => "false".to_string(),
                Some(other) => {
                    return Err(format!(
                        "invalid boolean value {other:?} for -{name}: parse error"
                    ))
                }
            }
        };
        parsed.values.entry(flag.names[0]).or_default().push(value);
    }
    Ok(parsed)
}

/// The name part of a flag argument, or `None` for a positional one (`-` alone is one).
fn flag_body(arg: &str) -> Option<&str> {
    let body = arg.strip_prefix("--").or_else(|| arg.strip_prefix('-'))?;
    (!body.is_empty() && !body.starts_with('-')).then_some(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FLAGS: &[Flag] = &[
        value(&["bundle", "b"]),
        value(&["env", "e"]),
        switch(&["detach", "d"]),
    ];

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn takes_every_form_go_takes() {
        let parsed = parse(
            &strings(&[
                "-b",
                "x",
                "--env=A=1",
                "-e",
                "B=2",
                "--detach",
                "id",
                "-e",
                "C",
            ]),
            FLAGS,
        )
        .unwrap();
        assert_eq!(parsed.get("bundle"), Some("x"));
        assert_eq!(parsed.all("env"), ["A=1", "B=2"]);
        assert!(parsed.is_set("detach"));
        // Flags end at the first positional argument.
        assert_eq!(parsed.positional, ["id", "-e", "C"]);
    }

    #[test]
    fn booleans_take_an_explicit_value() {
        let parsed = parse(&strings(&["--detach=false", "id"]), FLAGS).unwrap();
        assert!(!parsed.is_set("detach"));
        assert!(parsed.given("detach"));
        let error = parse(&strings(&["--detach=maybe"]), FLAGS).unwrap_err();
        assert!(error.contains("invalid boolean value"), "{error}");
    }

    #[test]
    fn double_dash_ends_flags_and_unknown_flags_are_errors() {
        let parsed = parse(&strings(&["--", "-b"]), FLAGS).unwrap();
        assert_eq!(parsed.positional, ["-b"]);
        assert_eq!(
            parse(&strings(&["--nope"]), FLAGS).unwrap_err(),
            "flag provided but not defined: -nope"
        );
        assert_eq!(
            parse(&strings(&["--bundle"]), FLAGS).unwrap_err(),
            "flag needs an argument: -bundle"
        );
        // A lone `-` is an argument (stdin for `update --resources -`).
        let parsed = parse(&strings(&["-", "x"]), FLAGS).unwrap();
        assert_eq!(parsed.positional, ["-", "x"]);
    }
}
