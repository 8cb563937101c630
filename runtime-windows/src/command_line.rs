//! A command line from arguments, escaped so that `CommandLineToArgvW` (and the C runtime's
//! parser, which follows the same rules) gives the arguments back; and that parser, for the
//! fake HCS and the tests.
//!
//! STUB: being written.

/// The command line for `args`. Errors name what cannot be passed (a NUL).
pub fn join(args: &[String]) -> Result<String, String> {
    Ok(args.join(" "))
}

/// The arguments `CommandLineToArgvW` reads from `line`.
pub fn split(line: &str) -> Vec<String> {
    line.split(' ').map(str::to_string).collect()
}
