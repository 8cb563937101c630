//! A command line from arguments, escaped so that `CommandLineToArgvW` (and the C runtime's
//! parser, which agrees with it on every line [`join`] writes) gives the arguments back; and
//! that parser, [`split`], for the fake HCS and the tests.
//!
//! Windows passes a process one string, not an argument vector: each program splits it
//! itself, nearly always by these rules. HCS's `ProcessParameters` takes that one string
//! (`CommandLine`), so the driver must write it such that the program reads back exactly
//! berth's `args`.
//!
//! The rules, for every argument but the first:
//!
//! - arguments are separated by spaces and tabs; a `"` toggles quoting, inside which spaces
//!   and tabs are part of the argument;
//! - `2n` backslashes followed by a `"` are `n` backslashes, and the `"` is a quote; `2n + 1`
//!   backslashes followed by a `"` are `n` backslashes and a literal `"`; backslashes not
//!   followed by a `"` are literal;
//! - inside quotes, `""` is a literal `"` and ends the quoting (`CommandLineToArgvW`'s rule;
//!   the C runtime since 2008 stays in quotes instead; [`join`] never writes `""` inside
//!   quotes, so both read its lines alike).
//!
//! The first argument, the program, is read with no escapes at all: when it starts with a
//! `"` it runs to the next `"`, otherwise to the first space or control character. So it can
//! never hold a `"`.

use std::fmt;

/// Why an argument cannot be put on a command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinError {
    /// The index of the argument in `args`.
    pub index: usize,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "args[{}] {}", self.index, self.reason)
    }
}

impl std::error::Error for JoinError {}

/// The command line for `args`. Errors name what cannot be passed (a NUL anywhere, a `"` in
/// the program name): `args[2] contains a NUL character`.
pub fn join(args: &[String]) -> Result<String, String> {
    try_join(args).map_err(|error| error.to_string())
}

/// [`join`], with the error as a value that gives the argument's index.
pub fn try_join(args: &[String]) -> Result<String, JoinError> {
    let mut line = String::new();
    for (index, arg) in args.iter().enumerate() {
        if arg.contains('\0') {
            // The command line is a NUL-terminated string: the rest would be cut off.
            return Err(JoinError {
                index,
                reason: "contains a NUL character",
            });
        }
        if index == 0 {
            push_program(&mut line, arg).map_err(|reason| JoinError { index, reason })?;
        } else {
            line.push(' ');
            push_argument(&mut line, arg);
        }
    }
    Ok(line)
}

/// The program name takes no escapes: quote it whole when it is empty or holds what would end
/// it unquoted (a space or a control character).
fn push_program(line: &mut String, program: &str) -> Result<(), &'static str> {
    if program.contains('"') {
        return Err("contains a '\"', which a program name cannot hold on Windows");
    }
    if program.is_empty() || program.chars().any(|c| c <= ' ') {
        line.push('"');
        line.push_str(program);
        line.push('"');
    } else {
        line.push_str(program);
    }
    Ok(())
}

/// An argument after the program, quoted when it must be, with its backslashes doubled only
/// where a `"` follows them (an escaped one, or the closing one).
fn push_argument(line: &mut String, arg: &str) {
    let needs_quotes = arg.is_empty() || arg.contains([' ', '\t', '"']);
    if !needs_quotes {
        line.push_str(arg);
        return;
    }
    line.push('"');
    let mut backslashes = 0;
    for c in arg.chars() {
        match c {
            '\\' => backslashes += 1,
            '"' => {
                // 2n + 1 backslashes: the n that were there, and one to escape the quote.
                push_backslashes(line, 2 * backslashes + 1);
                line.push('"');
                backslashes = 0;
            }
            other => {
                push_backslashes(line, backslashes);
                line.push(other);
                backslashes = 0;
            }
        }
    }
    // Before the closing quote, 2n backslashes read back as the n there were.
    push_backslashes(line, 2 * backslashes);
    line.push('"');
}

fn push_backslashes(line: &mut String, count: usize) {
    line.push_str(&"\\".repeat(count));
}

/// The arguments `CommandLineToArgvW` reads from `line`. An empty line gives no arguments
/// (where `CommandLineToArgvW` would give the calling program's own path).
pub fn split(line: &str) -> Vec<String> {
    let chars: Vec<char> = line.chars().collect();
    if chars.is_empty() {
        return Vec::new();
    }
    let mut args = Vec::new();
    let mut at = split_program(&chars, &mut args);

    loop {
        while at < chars.len() && is_separator(chars[at]) {
            at += 1;
        }
        if at >= chars.len() {
            break;
        }
        let mut arg = String::new();
        // 0 outside quotes, 1 inside (see `push_quote_run` for how a run of them counts).
        let mut quotes = 0;
        while at < chars.len() {
            let c = chars[at];
            if is_separator(c) && quotes == 0 {
                break;
            }
            match c {
                '\\' => {
                    let start = at;
                    while at < chars.len() && chars[at] == '\\' {
                        at += 1;
                    }
                    let count = at - start;
                    if at < chars.len() && chars[at] == '"' {
                        arg.push_str(&"\\".repeat(count / 2));
                        if count % 2 == 1 {
                            arg.push('"');
                            at += 1;
                        }
                        // With an even count the quote is read as a quote, just below.
                    } else {
                        arg.push_str(&"\\".repeat(count));
                    }
                }
                '"' => at = push_quote_run(&chars, at, &mut arg, &mut quotes),
                other => {
                    arg.push(other);
                    at += 1;
                }
            }
        }
        args.push(arg);
    }
    args
}

/// The program name: to the next `"` when it starts with one, else to the first space or
/// control character; no escapes. Returns where the rest of the line starts.
fn split_program(chars: &[char], args: &mut Vec<String>) -> usize {
    if chars[0] == '"' {
        let end = chars[1..]
            .iter()
            .position(|&c| c == '"')
            .map_or(chars.len(), |p| p + 1);
        args.push(chars[1..end].iter().collect());
        (end + 1).min(chars.len())
    } else {
        let end = chars.iter().position(|&c| c <= ' ').unwrap_or(chars.len());
        args.push(chars[..end].iter().collect());
        end
    }
}

/// A run of unescaped quotes starting at `at`, as `CommandLineToArgvW` counts them: each
/// quote moves `quotes` on by one, and the third in a row (counting the one that opened the
/// quoting) is a literal `"` and leaves the quoting; after the run, two mean the quoting was
/// opened and closed. Returns where the run ends.
fn push_quote_run(chars: &[char], mut at: usize, arg: &mut String, quotes: &mut u8) -> usize {
    while at < chars.len() && chars[at] == '"' {
        *quotes += 1;
        if *quotes == 3 {
            arg.push('"');
            *quotes = 0;
        }
        at += 1;
    }
    if *quotes == 2 {
        *quotes = 0;
    }
    at
}

fn is_separator(c: char) -> bool {
    c == ' ' || c == '\t'
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    fn joined(args: &[&str]) -> String {
        join(&strings(args)).unwrap()
    }

    #[track_caller]
    fn round_trip(args: &[&str]) {
        let line = joined(args);
        assert_eq!(split(&line), strings(args), "through {line:?}");
    }

    #[test]
    fn plain_arguments_are_written_as_they_are() {
        assert_eq!(joined(&["cmd.exe", "/c", "dir"]), "cmd.exe /c dir");
        assert_eq!(
            joined(&[r"C:\bin\tool.exe", r"C:\dir\"]),
            r"C:\bin\tool.exe C:\dir\"
        );
    }

    #[test]
    fn spaces_tabs_quotes_and_empty_arguments_are_quoted() {
        assert_eq!(joined(&["a", "b c"]), r#"a "b c""#);
        assert_eq!(joined(&["a", "b\tc"]), "a \"b\tc\"");
        assert_eq!(joined(&["a", ""]), r#"a """#);
        assert_eq!(joined(&["a", r#"say "hi""#]), r#"a "say \"hi\"""#);
    }

    #[test]
    fn backslashes_are_doubled_only_before_a_quote() {
        // Literal: no quote follows.
        assert_eq!(joined(&["a", r"x\\y"]), r"a x\\y");
        // Before an escaped quote: 2n + 1.
        assert_eq!(joined(&["a", r#"x\"y"#]), r#"a "x\\\"y""#);
        // Before the closing quote: 2n.
        assert_eq!(
            joined(&["a", r"dir with space\"]),
            r#"a "dir with space\\""#
        );
        assert_eq!(joined(&["a", r"two\\ "]), r#"a "two\\ ""#);
    }

    #[test]
    fn the_program_name_is_quoted_whole_and_never_escaped() {
        assert_eq!(
            joined(&[r"C:\Program Files\app\"]),
            r#""C:\Program Files\app\""#
        );
        assert_eq!(joined(&[""]), r#""""#);
        assert_eq!(
            split(r#""C:\Program Files\app\" x"#),
            strings(&[r"C:\Program Files\app\", "x"])
        );
    }

    #[test]
    fn a_nul_or_a_quoted_program_name_is_refused_with_its_index() {
        assert_eq!(
            join(&strings(&["a", "b", "c\0d"])),
            Err("args[2] contains a NUL character".to_string())
        );
        let error = try_join(&strings(&[r#"odd"name"#])).unwrap_err();
        assert_eq!(error.index, 0);
        assert!(error.to_string().starts_with("args[0] contains a '\"'"));
    }

    #[test]
    fn awkward_arguments_round_trip() {
        round_trip(&["prog"]);
        round_trip(&["prog", ""]);
        round_trip(&["prog", "", "", ""]);
        round_trip(&["prog", r"trailing\"]);
        round_trip(&["prog", r"trailing\\"]);
        round_trip(&["prog", r"trailing space\ "]);
        round_trip(&["prog", r"with space\"]);
        round_trip(&["prog", r"with space\\\"]);
        round_trip(&["prog", "\""]);
        round_trip(&["prog", "\"\""]);
        round_trip(&["prog", r#"\""#]);
        round_trip(&["prog", r#"\\""#]);
        round_trip(&["prog", r#"a\"b"#]);
        round_trip(&["prog", r#"a\\"b c"#]);
        round_trip(&["prog", r#"" leading quote"#]);
        round_trip(&["prog", r#"ends with quote""#]);
        round_trip(&["prog", " ", "\t", " \t "]);
        round_trip(&["prog", r"\\server\share\dir\"]);
        round_trip(&[
            "prog",
            "línea",
            "日本語 テキスト",
            "emoji 🚢",
            "\u{00a0}nbsp",
        ]);
        round_trip(&["prog", "new\nline", "cr\rlf"]);
        round_trip(&[r"C:\Program Files\x.exe", r#"-Command=Write-Host "a b""#]);
        round_trip(&["ümlaut prog", "x"]);
    }

    #[test]
    fn every_combination_of_the_awkward_characters_round_trips() {
        // Every string of up to four characters drawn from the ones the rules treat apart.
        let alphabet = ['\\', '"', ' ', '\t', 'a'];
        let mut cases = vec![String::new()];
        for _ in 0..4 {
            let longer: Vec<String> = cases
                .iter()
                .filter(|s| s.chars().count() < 4)
                .flat_map(|s| alphabet.iter().map(move |c| format!("{s}{c}")))
                .collect();
            cases.extend(longer);
        }
        cases.sort();
        cases.dedup();
        for case in &cases {
            let args = vec!["prog".to_string(), case.clone(), "end".to_string()];
            let line = join(&args).unwrap();
            assert_eq!(split(&line), args, "through {line:?}");
        }
    }

    #[test]
    fn split_follows_the_backslash_rules() {
        // 2n backslashes and a quote: n backslashes, and the quote toggles.
        assert_eq!(split(r#"p a\\"b c""#), strings(&["p", r"a\b c"]));
        // 2n + 1: n backslashes and a literal quote.
        assert_eq!(split(r#"p a\\\"b"#), strings(&["p", r#"a\"b"#]));
        // No quote after them: literal.
        assert_eq!(split(r"p a\\\b"), strings(&["p", r"a\\\b"]));
        assert_eq!(split(r"p a\"), strings(&["p", r"a\"]));
    }

    #[test]
    fn split_reads_double_quotes_as_command_line_to_argv_w_does() {
        // Inside quotes, "" is a literal quote and ends the quoting.
        assert_eq!(split(r#"p "a""b c""#), strings(&["p", r#"a"b"#, "c"]));
        // Outside, "" is an empty quoting: an empty argument, or nothing within one.
        assert_eq!(split(r#"p "" x"#), strings(&["p", "", "x"]));
        assert_eq!(split(r#"p a""b"#), strings(&["p", "ab"]));
        // Three in a row outside quotes: a literal quote.
        assert_eq!(split(r#"p """"#), strings(&["p", "\""]));
        // An unclosed quote runs to the end of the line.
        assert_eq!(split(r#"p "a b"#), strings(&["p", "a b"]));
    }

    #[test]
    fn split_reads_the_program_name_without_escapes() {
        assert_eq!(split(r#""a\"b c"#), strings(&[r"a\", "b", "c"]));
        assert_eq!(split(r#""prog"rest"#), strings(&["prog", "rest"]));
        assert_eq!(split(r"C:\dir\p.exe x"), strings(&[r"C:\dir\p.exe", "x"]));
        // A line starting with a space has an empty program name.
        assert_eq!(split(" x y"), strings(&["", "x", "y"]));
        assert_eq!(split(r#""unclosed prog"#), strings(&["unclosed prog"]));
    }

    #[test]
    fn split_skips_runs_of_separators() {
        assert_eq!(split("p  a \t b  "), strings(&["p", "a", "b"]));
        assert_eq!(split(""), Vec::<String>::new());
    }
}
