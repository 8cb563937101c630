//! `berth`: an OCI runtime with runc's command line, over the berth library. A shim
//! (containerd's, conmon) or a person calls it once per operation on one container; it keeps
//! no process of its own per container.
//!
//! Reading one `create` from here: [`commands::lifecycle::create`] maps the bundle's
//! `config.json` with `runtime_oci::load`, makes the container's directory
//! ([`store::Root::create`], locked), opens a driver on that container's own library root
//! ([`context::Context::driver`]) and calls `Driver::create`, which spawns `berth-init`; the
//! init waits for `start` on its start socket, which a later `berth start` connects to.

mod args;
mod commands;
mod console;
mod context;
mod error;
#[allow(unsafe_code)]
mod fd;
mod hooks;
mod log;
mod signals;
mod state;
mod store;

use std::path::PathBuf;

use args::{switch, value, Flag};
use context::Context;
use error::{CliError, CliResult};

const GLOBAL_FLAGS: &[Flag] = &[
    value(&["root"]),
    value(&["log"]),
    value(&["log-format"]),
    value(&["criu"]),
    value(&["rootless"]),
    switch(&["debug"]),
    switch(&["systemd-cgroup"]),
    switch(&["version", "v"]),
    switch(&["help", "h"]),
];

const USAGE: &str = "usage: berth [global options] command [command options] [arguments...]

An OCI runtime with runc's command line, over the berth library.

commands:
  create    create a container from a bundle (it waits for start)
  start     run the user's program of a created container
  run       create and start a container (-d: detached)
  state     print a container's OCI state
  list      list the containers (--format table|json, -q)
  kill      send a signal to a container's init (--all: to every process)
  delete    delete a stopped container (--force: any)
  exec      run a process in a container
  pause     freeze a container's processes
  resume    thaw them
  ps        list a container's processes (--format table|json)
  events    print a container's events and stats as JSON (--stats: once)
  update    change a container's resource limits (--resources FILE|-)
  features  print the runtime-spec features JSON
  spec      write a default config.json
  checkpoint, restore   not supported

global options:
  --root DIR         state directory (default /run/berth-oci)
  --log FILE         log file (default: stderr)
  --log-format FMT   text or json
  --debug            log debug messages
  --systemd-cgroup   refused: berth manages cgroupfs directly
  --version, -v      print the version";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    std::process::exit(run(&args));
}

/// Runs one invocation; returns the process's exit code.
fn run(args: &[String]) -> i32 {
    let parsed = match args::parse(args, GLOBAL_FLAGS) {
        Ok(parsed) => parsed,
        Err(message) => {
            eprintln!("berth: {message}");
            return 1;
        }
    };
    let format = match log::Format::parse(parsed.get("log-format").unwrap_or("text")) {
        Ok(format) => format,
        Err(message) => {
            eprintln!("berth: {message}");
            return 1;
        }
    };
    if let Err(message) = log::init(parsed.get("log"), format, parsed.is_set("debug")) {
        eprintln!("berth: {message}");
        return 1;
    }
    if parsed.is_set("version") {
        print!("{}", commands::info::version());
        return 0;
    }
    let Some((command, rest)) = parsed.positional.split_first() else {
        println!("{USAGE}");
        return if parsed.is_set("help") { 0 } else { 1 };
    };
    log::debug(&format!("berth {}", args.join(" ")));
    match dispatch(&parsed, command, rest) {
        Ok(code) => code,
        Err(error) => {
            log::error(&error.message);
            1
        }
    }
}

fn dispatch(global: &args::Parsed, command: &str, rest: &[String]) -> CliResult<i32> {
    // Commands that need no state root.
    match command {
        "features" => return commands::info::features(rest),
        "spec" => return commands::info::spec(rest),
        "checkpoint" | "restore" => {
            return Err(CliError::new(format!(
                "{command} is not supported: berth has no checkpoint/restore (CRIU) support"
            )))
        }
        "help" => {
            println!("{USAGE}");
            return Ok(0);
        }
        _ => {}
    }
    if global.is_set("systemd-cgroup") {
        return Err(CliError::new(
            "--systemd-cgroup is not supported: berth manages cgroups through cgroupfs \
             itself and there is no systemd here; leave the flag out (containerd: \
             SystemdCgroup = false; podman: --cgroup-manager cgroupfs)",
        ));
    }
    if global.given("rootless") && !matches!(global.get("rootless"), Some("false" | "auto")) {
        return Err(CliError::new(
            "--rootless is not supported: berth runs as root (--rootless=false or auto only)",
        ));
    }
    let root = PathBuf::from(global.get("root").unwrap_or(store::DEFAULT_ROOT));
    let ctx = Context::new(&root)?;
    use commands::*;
    match command {
        "create" => lifecycle::create(&ctx, rest).map(|()| 0),
        "start" => lifecycle::start(&ctx, rest).map(|()| 0),
        "run" => lifecycle::run(&ctx, rest),
        "delete" => lifecycle::delete(&ctx, rest).map(|()| 0),
        "state" => query::state(&ctx, rest).map(|()| 0),
        "list" => query::list(&ctx, rest).map(|()| 0),
        "ps" => query::ps(&ctx, rest).map(|()| 0),
        "events" => query::events(&ctx, rest).map(|()| 0),
        "kill" => control::kill(&ctx, rest).map(|()| 0),
        "pause" => control::pause(&ctx, rest).map(|()| 0),
        "resume" => control::resume(&ctx, rest).map(|()| 0),
        "update" => control::update(&ctx, rest).map(|()| 0),
        "exec" => exec::exec(&ctx, rest),
        other => Err(CliError::new(format!(
            "no such command: {other} (berth --help lists them)"
        ))),
    }
}
