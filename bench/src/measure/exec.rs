//! Measure 2: exec latency of `/bin/true` into a running container.

use std::ffi::CString;
use std::sync::Arc;

use runtime_core::{Driver, NoHooks, ProcessConfig};
use serde::{Deserialize, Serialize};

use super::run::Runners;
use super::{timed, Series};
use crate::lxc::{self, BareContainer, Lxc, LxcSetup};
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
    /// The LXC driver's config and the bare one (absent without LXC, and from the results of
    /// harnesses before the LXC runners).
    #[serde(default)]
    pub lxc: Option<LxcSetup>,
}

/// One sleeping container per runtime, then `warmup + iterations` rounds of one exec into
/// each, interleaved. berth's exec goes through `Driver::exec` and `berth_exec`; while the
/// driver answers Unsupported, its series says so and has no samples. The LXC driver's exec
/// goes into an LXC driver container, `lxc-attach` into a bare `lxc-execute` one; without
/// LXC, their series say so.
pub fn measure(
    env: &Env,
    iterations: usize,
    warmup: usize,
    runners: Runners,
) -> Result<ExecLatency, String> {
    let all = runners == Runners::All;
    let driver = env.berth_driver()?;
    let ffi = env.ffi_driver()?;
    let lxc = Lxc::new(env);
    let lib_id = new_id("xlib");
    let ffi_id = new_id("xffi");
    let crun_id = new_id("xcrun");
    let runc_id = new_id("xrunc");
    let lxc_id = new_id("xlxc");
    let bare_id = new_id("xlxcbare");
    let mut oci_pids: Vec<(Oci, String, Option<i32>)> = Vec::new();
    let mut lxc_started = false;
    let mut bare: Option<BareContainer> = None;
    let ffi_id_c = CString::new(ffi_id.clone()).unwrap();

    let result = (|| {
        if all {
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
        }
        let floor_pid = oci_pids.first().and_then(|p| p.2).unwrap_or(0);
        // Without LXC, or if its container cannot start, the LXC series say why.
        let (mut driver_note, mut bare_note) = match &lxc {
            Ok(_) => (None, None),
            Err(note) => (Some(note.clone()), Some(note.clone())),
        };
        if let Ok(lxc) = &lxc {
            let command = lxc::command(env, &lxc_id, SLEEP);
            match runners::berth_start(&lxc.driver, &command, Arc::new(NoHooks)) {
                Ok(_) => lxc_started = true,
                Err(e) => driver_note = Some(format!("failed: {e}")),
            }
            match lxc.bare_start(&bare_id, &SLEEP) {
                Ok(container) => bare = Some(container),
                Err(e) => bare_note = Some(format!("failed: {e}")),
            }
        }

        let process = ProcessConfig::new(["/bin/true"]);
        let process_json = CString::new(serde_json::to_string(&process).unwrap()).unwrap();
        let process_file = env.process_file("exec-true", &process)?;
        let mut series = Vec::new();
        if all {
            series.extend([
                Series::new("berth-lib", "berth, Rust API in-process (`Driver::exec`)"),
                Series::new("berth-ffi", "berth, C ABI in-process (`berth_exec`)"),
                Series::new("crun", "crun (`crun exec --process`, wrapped)"),
                Series::new("runc", "runc (`runc exec --process`, wrapped)"),
                Series::new(
                    "floor",
                    "floor: `nsenter -t PID -pmuinC -r -w /bin/true` into the crun container",
                ),
            ]);
        }
        for (key, label, note) in [
            (
                "lxc-driver",
                "berth's LXC driver, Rust API in-process (`LxcDriver::exec`)",
                driver_note,
            ),
            (
                "lxc-attach",
                "bare LXC (`lxc-attach -P DIR -n ID --clear-env -- /bin/true`) into an \
                 `lxc-execute` container",
                bare_note,
            ),
        ] {
            let mut s = Series::new(key, label);
            s.note = note;
            series.push(s);
        }
        for round in 0..warmup + iterations {
            // In the round's shuffled order, as in the run measure.
            for k in util::round_order(series.len(), round) {
                let series = &mut series[k];
                if series.note.is_some() {
                    continue;
                }
                let mut unsupported = None;
                let mut exec = |driver: &dyn Fn() -> ExecOutcome| {
                    timed(|| match driver() {
                        ExecOutcome::Ok => Ok(()),
                        ExecOutcome::Unsupported(m) => {
                            unsupported = Some(m);
                            Ok(())
                        }
                        ExecOutcome::Failed(e) => Err(e),
                    })
                };
                let sample = match series.key.as_str() {
                    "berth-lib" => exec(&|| runners::berth_exec(&driver, &lib_id, &process)),
                    "berth-ffi" => exec(&|| ffi.exec(&ffi_id_c, &process_json)),
                    "crun" => timed(|| env.oci_exec(Oci::Crun, &crun_id, &process_file)),
                    "runc" => timed(|| env.oci_exec(Oci::Runc, &runc_id, &process_file)),
                    "floor" => timed(|| env.nsenter(floor_pid)),
                    "lxc-driver" => match &lxc {
                        Ok(lxc) => exec(&|| runners::berth_exec(&lxc.driver, &lxc_id, &process)),
                        Err(e) => Err(e.clone()),
                    },
                    _ => match (&lxc, &bare) {
                        (Ok(lxc), Some(bare)) => timed(|| lxc.bare_attach(bare)),
                        _ => Err("no bare LXC container".into()),
                    },
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
            lxc: lxc.as_ref().ok().map(|l| l.setup.clone()),
        })
    })();

    if all {
        let _ = driver.delete(&lib_id, true);
        ffi.delete(&ffi_id_c);
    }
    for (oci, id, pid) in oci_pids {
        env.oci_delete(oci, &id, pid);
    }
    if let Ok(lxc) = &lxc {
        if lxc_started {
            let _ = lxc.driver.delete(&lxc_id, true);
        }
        if let Some(bare) = bare {
            lxc.bare_stop(bare);
        }
    }
    result
}
