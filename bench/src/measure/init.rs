//! Measure 7: the cost of berth's built-in init. `LinuxDriver::run` of the `/bin/true`
//! container of measure 1 with `init: true` (berth-init stays pid 1 of the container and
//! forks the program as its child) against the same call without it, the two alone in their
//! own rounds: each round runs both, in the round's shuffled order, so that drift hits both
//! alike and neither always follows the other. In measure 1's rounds a run follows whichever
//! heavy runtime came before it, and its samples fall in two modes far apart; alone, the pair
//! is cheap enough for many rounds even in the smoke run.

use serde::{Deserialize, Serialize};

use super::{find, timed, Series};
use crate::runners::{self, Env};
use crate::util::{self, new_id, Summary};

/// The two series' keys: without the init, with it.
pub const WITHOUT: &str = "berth-lib";
pub const WITH: &str = "berth-lib-init";

/// The result of measure 7.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InitCost {
    pub iterations: usize,
    pub warmup: usize,
    /// Without the init ([`WITHOUT`]) and with it ([`WITH`]).
    pub series: Vec<Series>,
    /// The median with the init over the median without it (NaN without samples).
    pub ratio: f64,
    /// Each round's run with the init over its run without it.
    pub round_ratios: Summary,
}

impl InitCost {
    /// The series without the init, and the one with it.
    pub fn pair(&self) -> (Option<&Series>, Option<&Series>) {
        (find(&self.series, WITHOUT), find(&self.series, WITH))
    }
}

/// Runs both `warmup + iterations` times, interleaved, on one driver; the warm-up rounds are
/// not kept.
pub fn measure(env: &Env, iterations: usize, warmup: usize) -> Result<InitCost, String> {
    let driver = env.berth_driver()?;
    let mut series = vec![
        Series::new(
            WITHOUT,
            "berth, Rust API in-process (`LinuxDriver::run`), without the init",
        ),
        Series::new(
            WITH,
            "berth, Rust API in-process (`LinuxDriver::run`), with `init: true`",
        ),
    ];
    let mut round_ratios = Vec::new();
    for round in 0..warmup + iterations {
        let mut wall = [f64::NAN; 2];
        for k in util::round_order(2, round) {
            let id = new_id(if k == 0 { "init0" } else { "init1" });
            let mut command = env.command(&id, ["/bin/true"]);
            command.init = k == 1;
            let sample = timed(|| runners::berth_run(&driver, &command))
                .map_err(|e| format!("{}: {e}", series[k].key))?;
            if round >= warmup {
                wall[k] = sample.0.as_secs_f64();
                series[k].push(sample);
            }
        }
        if round >= warmup {
            round_ratios.push(wall[1] / wall[0]);
        }
    }
    for s in &mut series {
        s.summarize();
    }
    Ok(InitCost {
        iterations,
        warmup,
        ratio: series[1].median() / series[0].median(),
        round_ratios: Summary::of_values(&round_ratios),
        series,
    })
}
