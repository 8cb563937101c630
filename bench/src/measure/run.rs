//! Measure 1: run latency of a `/bin/true` container, from the call to the exit status; and,
//! for the runtimes that are processes (the berth CLI, crun, runc), `create` + `start` +
//! `delete` of the same container, three processes each, as an engine's shim calls them.

use std::ffi::CString;

use runtime_linux::LinuxDriver;
use serde::{Deserialize, Serialize};

use super::{timed, Series};
use crate::lxc::{self, Lxc, LxcSetup};
use crate::runners::{self, Env, FfiDriver, Oci};
use crate::util::{self, new_id};

/// The runners of this measure, in the order each round runs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Runner {
    BerthLib,
    BerthFfi,
    BerthCli,
    Crun,
    Runc,
    BerthCliCsd,
    CrunCsd,
    RuncCsd,
    Floor,
    Wrapper,
    LxcDriver,
    LxcExecute,
}

const ORDER: [Runner; 12] = [
    Runner::BerthLib,
    Runner::BerthFfi,
    Runner::BerthCli,
    Runner::Crun,
    Runner::Runc,
    Runner::BerthCliCsd,
    Runner::CrunCsd,
    Runner::RuncCsd,
    Runner::Floor,
    Runner::Wrapper,
    Runner::LxcDriver,
    Runner::LxcExecute,
];

/// Which runners a measure runs: every one, or the LXC pair alone (`--only lxc`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runners {
    All,
    Lxc,
}

impl Runner {
    fn key(self) -> &'static str {
        match self {
            Runner::BerthLib => "berth-lib",
            Runner::BerthFfi => "berth-ffi",
            Runner::BerthCli => "berth-cli",
            Runner::Crun => "crun",
            Runner::Runc => "runc",
            Runner::BerthCliCsd => "berth-cli-csd",
            Runner::CrunCsd => "crun-csd",
            Runner::RuncCsd => "runc-csd",
            Runner::Floor => "floor",
            Runner::Wrapper => "wrapper",
            Runner::LxcDriver => "lxc-driver",
            Runner::LxcExecute => "lxc-execute",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Runner::BerthLib => "berth, Rust API in-process (`LinuxDriver::run`)",
            Runner::BerthFfi => "berth, C ABI in-process (`berth_run`)",
            Runner::BerthCli => "berth CLI (`berth run`, wrapped)",
            Runner::Crun => "crun (`crun run`, wrapped)",
            Runner::Runc => "runc (`runc run`, wrapped)",
            Runner::BerthCliCsd => "berth CLI: `create`, `start`, `delete --force` (each wrapped)",
            Runner::CrunCsd => "crun: `create`, `start`, `delete --force` (each wrapped)",
            Runner::RuncCsd => "runc: `create`, `start`, `delete --force` (each wrapped)",
            Runner::Floor => "floor: `unshare -pfmuinC --mount-proc true`",
            Runner::Wrapper => "the wrapper alone, around `true`",
            Runner::LxcDriver => "berth's LXC driver, Rust API in-process (`LxcDriver::run`)",
            Runner::LxcExecute => "bare LXC (`lxc-execute -P DIR -n ID -f CONF -- /bin/true`)",
        }
    }

    fn is_lxc(self) -> bool {
        matches!(self, Runner::LxcDriver | Runner::LxcExecute)
    }
}

/// The result of measure 1.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunLatency {
    pub iterations: usize,
    pub warmup: usize,
    pub series: Vec<Series>,
    /// The LXC driver's config and the bare one (absent without LXC, and from the results of
    /// harnesses before the LXC runners).
    #[serde(default)]
    pub lxc: Option<LxcSetup>,
}

/// Runs every runner `warmup + iterations` times, interleaved: each round runs every runner
/// once, in the round's shuffled order ([`util::round_order`]); the warm-up rounds are not
/// kept. Without LXC, the LXC runners' series say so and have no samples.
pub fn measure(
    env: &Env,
    iterations: usize,
    warmup: usize,
    runners: Runners,
) -> Result<RunLatency, String> {
    let order: Vec<Runner> = ORDER
        .into_iter()
        .filter(|r| runners == Runners::All || r.is_lxc())
        .collect();
    let driver = env.berth_driver()?;
    let ffi = env.ffi_driver()?;
    let lxc = Lxc::new(env);
    let mut series: Vec<Series> = order
        .iter()
        .map(|r| {
            let mut s = Series::new(r.key(), r.label());
            if let (true, Err(note)) = (r.is_lxc(), &lxc) {
                s.note = Some(note.clone());
            }
            s
        })
        .collect();
    for round in 0..warmup + iterations {
        for k in util::round_order(order.len(), round) {
            let (runner, series) = (order[k], &mut series[k]);
            if series.note.is_some() {
                continue;
            }
            match once(env, &driver, &ffi, lxc.as_ref().ok(), runner) {
                Ok(sample) if round >= warmup => series.push(sample),
                Ok(_) => {}
                Err(e) => series.note = Some(format!("failed: {e}")),
            }
        }
    }
    for s in &mut series {
        s.summarize();
    }
    Ok(RunLatency {
        iterations,
        warmup,
        series,
        lxc: lxc.ok().map(|l| l.setup),
    })
}

fn once(
    env: &Env,
    driver: &LinuxDriver,
    ffi: &FfiDriver,
    lxc: Option<&Lxc>,
    runner: Runner,
) -> Result<(std::time::Duration, std::time::Duration), String> {
    let id = new_id(runner.key());
    let command = env.command(&id, ["/bin/true"]);
    match runner {
        Runner::BerthLib => timed(|| runners::berth_run(driver, &command)),
        Runner::BerthFfi => {
            let json = CString::new(serde_json::to_string(&command).unwrap()).unwrap();
            timed(|| ffi.run(&json))
        }
        Runner::BerthCli | Runner::Crun | Runner::Runc => {
            let oci = process_runtime(runner);
            let bundle = env.bundle(&command)?;
            let result = timed(|| env.oci_run(oci, &id, &bundle));
            env.oci_delete(oci, &id, None);
            result
        }
        Runner::BerthCliCsd | Runner::CrunCsd | Runner::RuncCsd => {
            let oci = process_runtime(runner);
            let bundle = env.bundle(&command)?;
            let result = timed(|| env.oci_create_start_delete(oci, &id, &bundle));
            env.oci_delete(oci, &id, None);
            result
        }
        Runner::Floor => timed(|| env.floor()),
        Runner::Wrapper => timed(|| env.wrapper_only()),
        Runner::LxcDriver | Runner::LxcExecute => {
            let lxc = lxc.ok_or("no LXC")?;
            if runner == Runner::LxcDriver {
                let command = lxc::command(env, &id, ["/bin/true"]);
                timed(|| runners::berth_run(&lxc.driver, &command))
            } else {
                let mut bare = lxc.bare_run(&id)?;
                timed(|| bare.run())
            }
        }
    }
}

/// The runtime a process runner calls.
fn process_runtime(runner: Runner) -> Oci {
    match runner {
        Runner::Crun | Runner::CrunCsd => Oci::Crun,
        Runner::Runc | Runner::RuncCsd => Oci::Runc,
        _ => Oci::Berth,
    }
}
