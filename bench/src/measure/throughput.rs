//! Measure 3: throughput, containers per second, with 1, 2 and 8 concurrent callers.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use runtime_core::Command;
use runtime_linux::LinuxDriver;
use serde::{Deserialize, Serialize};

use crate::runners::{self, Env, Oci};
use crate::util::{new_id, Summary};

/// The runtimes of this measure.
pub const RUNTIMES: [&str; 3] = ["berth-lib", "crun", "runc"];

/// One runtime at one concurrency.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Cell {
    pub runtime: String,
    pub callers: usize,
    /// Containers per second, one value per repetition.
    pub per_second: Vec<f64>,
    pub summary: Summary,
    pub error: Option<String>,
}

/// The result of measure 3.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Throughput {
    pub containers: usize,
    pub repetitions: usize,
    pub callers: Vec<usize>,
    pub cells: Vec<Cell>,
}

impl Throughput {
    pub fn cell(&self, runtime: &str, callers: usize) -> Option<&Cell> {
        self.cells
            .iter()
            .find(|c| c.runtime == runtime && c.callers == callers)
    }
}

/// For each repetition, each number of callers, each runtime in turn: `containers` runs of
/// `/bin/true` shared among that many callers (berth: threads calling `Driver::run`; runc and
/// crun: threads each waiting for one wrapped `run` process at a time).
pub fn measure(
    env: &Env,
    containers: usize,
    callers: &[usize],
    repetitions: usize,
) -> Result<Throughput, String> {
    let driver = env.berth_driver()?;
    let mut cells: Vec<Cell> = Vec::new();
    for &c in callers {
        for runtime in RUNTIMES {
            cells.push(Cell {
                runtime: runtime.into(),
                callers: c,
                per_second: Vec::new(),
                summary: Summary::default(),
                error: None,
            });
        }
    }
    for repetition in 0..repetitions {
        // Within each caller count, the runtimes in a shuffled order, another each time.
        let mut order: Vec<usize> = Vec::new();
        for (g, group) in (0..cells.len())
            .collect::<Vec<_>>()
            .chunks(RUNTIMES.len())
            .enumerate()
        {
            let shuffle = crate::util::round_order(group.len(), repetition * 31 + g);
            order.extend(shuffle.into_iter().map(|i| group[i]));
        }
        for i in order {
            let cell = &mut cells[i];
            if cell.error.is_some() {
                continue;
            }
            match batch(env, &driver, &cell.runtime, containers, cell.callers) {
                Ok(rate) => cell.per_second.push(rate),
                Err(e) => cell.error = Some(e),
            }
        }
    }
    for cell in &mut cells {
        cell.summary = Summary::of_values(&cell.per_second);
    }
    Ok(Throughput {
        containers,
        repetitions,
        callers: callers.to_vec(),
        cells,
    })
}

/// Runs `n` containers with `callers` concurrent callers; containers per second.
fn batch(
    env: &Env,
    driver: &LinuxDriver,
    runtime: &str,
    n: usize,
    callers: usize,
) -> Result<f64, String> {
    let oci = match runtime {
        "crun" => Some(Oci::Crun),
        "runc" => Some(Oci::Runc),
        _ => None,
    };
    let commands: Vec<Command> = (0..n)
        .map(|_| env.command(&new_id(&format!("t{runtime}")), ["/bin/true"]))
        .collect();
    let bundles: Vec<PathBuf> = match oci {
        Some(_) => commands
            .iter()
            .map(|c| env.bundle(c))
            .collect::<Result<_, _>>()?,
        None => Vec::new(),
    };
    let next = AtomicUsize::new(0);
    let error: Mutex<Option<String>> = Mutex::new(None);
    let start = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..callers {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return;
                }
                let result = match oci {
                    Some(oci) => env.oci_run(oci, &commands[i].id, &bundles[i]),
                    None => runners::berth_run(driver, &commands[i]),
                };
                if let Err(e) = result {
                    error.lock().unwrap().get_or_insert(e);
                }
            });
        }
    });
    let elapsed = start.elapsed();
    if let Some(oci) = oci {
        for command in &commands {
            env.oci_delete(oci, &command.id, None);
        }
    }
    match error.into_inner().unwrap() {
        Some(e) => Err(e),
        None => Ok(n as f64 / elapsed.as_secs_f64()),
    }
}
