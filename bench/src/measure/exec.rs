//! Measure 2: exec latency of `/bin/true` into a running container.

use std::ffi::CString;
use std::sync::Arc;

use runtime_core::{Driver, NoHooks, ProcessConfig};
use serde::{Deserialize, Serialize};

use super::{timed, Series};
use crate::runners::{self, Env, ExecOutcome, Oci};
use crate::util::{self, new_id};

/// The program every target container runs while it is exec'd into.
pub const SLEEP: [&str; 2] = ["/bin/sleep", "1000000"];

/// The result of measure 2.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExecLatency {
    pub iterations: usize,
    pub warmup: usize,
    pub series: Vec<Series>,
}

/// One sleeping container per runtime, then `warmup + iterations` rounds of one exec into
/// each, interleaved. berth's exec goes through `Driver::exec` and `berth_exec`; while the
/// driver answers Unsupported, its series says so and has no samples.
pub fn measure(env: &Env, iterations: usize, warmup: usize) -> Result<ExecLatency, String> {
    let driver = env.berth_driver()?;
    let ffi = env.ffi_driver()?;
    let lib_id = new_id("xlib");
    let ffi_id = new_id("xffi");
    let crun_id = new_id("xcrun");
    let runc_id = new_id("xrunc");
    let mut oci_pids: Vec<(Oci, String, Option<i32>)> = Vec::new();
    let ffi_id_c = CString::new(ffi_id.clone()).unwrap();

    let result = (|| {
        runners::berth_start(&driver, &env.command(&lib_id, SLEEP), Arc::new(NoHooks))?;
        let json =
            CString::new(serde_json::to_string(&env.command(&ffi_id, SLEEP)).unwrap()).unwrap();
        ffi.start(&json, &ffi_id_c)?;
        for (oci, id) in [(Oci::Crun, &crun_id), (Oci::Runc, &runc_id)] {
            let bundle = env.bundle(&env.command(id, SLEEP))?;
            let pid = env.oci_run_detached(oci, id, &bundle);
            oci_pids.push((oci, id.clone(), pid.as_ref().ok().copied()));
            pid?;
        }
        let floor_pid = oci_pids[0].2.unwrap_or(0);

        let process = ProcessConfig::new(["/bin/true"]);
        let process_json = CString::new(serde_json::to_string(&process).unwrap()).unwrap();
        let process_file = env.process_file("exec-true", &process)?;
        let mut series = vec![
            Series::new("berth-lib", "berth, Rust API in-process (`Driver::exec`)"),
            Series::new("berth-ffi", "berth, C ABI in-process (`berth_exec`)"),
            Series::new("crun", "crun (`crun exec --process`, wrapped)"),
            Series::new("runc", "runc (`runc exec --process`, wrapped)"),
            Series::new(
                "floor",
                "floor: `nsenter -t PID -pmuinC -r -w /bin/true` into the crun container",
            ),
        ];
        for round in 0..warmup + iterations {
            // In the round's shuffled order, as in the run measure.
            for k in util::round_order(series.len(), round) {
                let series = &mut series[k];
                if series.note.is_some() {
                    continue;
                }
                let mut unsupported = None;
                let sample = match k {
                    0 => timed(|| match runners::berth_exec(&driver, &lib_id, &process) {
                        ExecOutcome::Ok => Ok(()),
                        ExecOutcome::Unsupported(m) => {
                            unsupported = Some(m);
                            Ok(())
                        }
                        ExecOutcome::Failed(e) => Err(e),
                    }),
                    1 => timed(|| match ffi.exec(&ffi_id_c, &process_json) {
                        ExecOutcome::Ok => Ok(()),
                        ExecOutcome::Unsupported(m) => {
                            unsupported = Some(m);
                            Ok(())
                        }
                        ExecOutcome::Failed(e) => Err(e),
                    }),
                    2 => timed(|| env.oci_exec(Oci::Crun, &crun_id, &process_file)),
                    3 => timed(|| env.oci_exec(Oci::Runc, &runc_id, &process_file)),
                    _ => timed(|| env.nsenter(floor_pid)),
                };
                match (sample, unsupported) {
                    (_, Some(message)) => {
                        series.note = Some(format!("not available (Unsupported: {message})"))
                    }
                    (Ok(sample), None) if round >= warmup => series.push(sample),
                    (Ok(_), None) => {}
                    (Err(e), None) => series.note = Some(format!("failed: {e}")),
                }
            }
        }
        for s in &mut series {
            s.summarize();
        }
        Ok(ExecLatency {
            iterations,
            warmup,
            series,
        })
    })();

    let _ = driver.delete(&lib_id, true);
    ffi.delete(&ffi_id_c);
    for (oci, id, pid) in oci_pids {
        env.oci_delete(oci, &id, pid);
    }
    result
}
