//! Measure 1: run latency of a `/bin/true` container, from the call to the exit status.

use std::ffi::CString;

use runtime_linux::LinuxDriver;
use serde::{Deserialize, Serialize};

use super::{timed, Series};
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
    Floor,
    Wrapper,
}

const ORDER: [Runner; 7] = [
    Runner::BerthLib,
    Runner::BerthFfi,
    Runner::BerthCli,
    Runner::Crun,
    Runner::Runc,
    Runner::Floor,
    Runner::Wrapper,
];

impl Runner {
    fn key(self) -> &'static str {
        match self {
            Runner::BerthLib => "berth-lib",
            Runner::BerthFfi => "berth-ffi",
            Runner::BerthCli => "berth-cli",
            Runner::Crun => "crun",
            Runner::Runc => "runc",
            Runner::Floor => "floor",
            Runner::Wrapper => "wrapper",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Runner::BerthLib => "berth, Rust API in-process (`LinuxDriver::run`)",
            Runner::BerthFfi => "berth, C ABI in-process (`berth_run`)",
            Runner::BerthCli => "berth, as a process (`berth-run`, wrapped)",
            Runner::Crun => "crun (`crun run`, wrapped)",
            Runner::Runc => "runc (`runc run`, wrapped)",
            Runner::Floor => "floor: `unshare -pfmuinC --mount-proc true`",
            Runner::Wrapper => "the wrapper alone, around `true`",
        }
    }
}

/// The result of measure 1.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunLatency {
    pub iterations: usize,
    pub warmup: usize,
    pub series: Vec<Series>,
}

/// Runs every runner `warmup + iterations` times, interleaved: each round runs every runner
/// once, in the round's shuffled order ([`util::round_order`]); the warm-up rounds are not
/// kept.
pub fn measure(env: &Env, iterations: usize, warmup: usize) -> Result<RunLatency, String> {
    let driver = env.berth_driver()?;
    let ffi = env.ffi_driver()?;
    let mut series: Vec<Series> = ORDER
        .iter()
        .map(|r| Series::new(r.key(), r.label()))
        .collect();
    for round in 0..warmup + iterations {
        for k in util::round_order(ORDER.len(), round) {
            let (runner, series) = (ORDER[k], &mut series[k]);
            if series.note.is_some() {
                continue;
            }
            match once(env, &driver, &ffi, runner) {
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
    })
}

fn once(
    env: &Env,
    driver: &LinuxDriver,
    ffi: &FfiDriver,
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
        Runner::BerthCli => {
            let file = env.command_file(&command)?;
            let result = timed(|| env.berth_proc_run(&file));
            let _ = std::fs::remove_file(&file);
            result
        }
        Runner::Crun | Runner::Runc => {
            let oci = if runner == Runner::Crun {
                Oci::Crun
            } else {
                Oci::Runc
            };
            let bundle = env.bundle(&command)?;
            let result = timed(|| env.oci_run(oci, &id, &bundle));
            env.oci_delete(oci, &id, None);
            result
        }
        Runner::Floor => timed(|| env.floor()),
        Runner::Wrapper => timed(|| env.wrapper_only()),
    }
}
