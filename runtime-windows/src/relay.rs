//! The standard streams of a process in a compute system. HCS gives the host's ends of the
//! process's pipes ([`ProcessInfo`]); berth's caller gives its own handles ([`CallerStdio`]).
//! A thread per stream copies between them, as Docker's Windows driver did: output until the
//! process's end of the pipe closes, input until the caller's stream ends or the process is
//! gone.
//!
//! The process's exit is reported only once its output has drained ([`Relays::finish`]), so
//! that a caller who reads its pipe to the end after `wait` has everything.

use std::fs::File;
use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::Duration;

use runtime_core::{Error, Result, Stdio};

use crate::handles;
use crate::hcs::ProcessInfo;

/// The name of the relay threads.
pub const THREAD_NAME: &str = "berth-hcs-io";

/// How often a stdin relay looks at its stop flag while the caller writes nothing.
#[cfg(unix)]
const STOP_POLL: Duration = Duration::from_millis(50);

/// The caller's streams, duplicated when the call that lent them was made.
#[derive(Debug, Default)]
pub struct CallerStdio {
    pub stdin: Option<File>,
    pub stdout: Option<File>,
    pub stderr: Option<File>,
}

impl CallerStdio {
    /// Duplicates the handles of `stdio`.
    pub fn duplicate(stdio: &Stdio) -> Result<CallerStdio> {
        let dup = |handle: Option<runtime_core::RawStdio>, name: &str| {
            handle
                .map(|raw| {
                    handles::duplicate(raw)
                        .map_err(|err| Error::io(format!("duplicate the caller's {name}"), &err))
                })
                .transpose()
        };
        Ok(CallerStdio {
            stdin: dup(stdio.stdin, "stdin")?,
            stdout: dup(stdio.stdout, "stdout")?,
            stderr: dup(stdio.stderr, "stderr")?,
        })
    }
}

/// The relays of one process.
pub struct Relays {
    /// One per output stream; each sends once when it has copied everything.
    outputs: Vec<(JoinHandle<()>, mpsc::Receiver<()>)>,
    input: Option<InputPump>,
    /// The process's stdin when nothing feeds it (a console's, which HCS needs open): held
    /// until the process has ended.
    held_stdin: Option<Box<dyn Write + Send>>,
}

struct InputPump {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl Relays {
    /// Starts copying between the process's pipes in `info` and the caller's streams.
    pub fn start(info: &mut ProcessInfo, caller: CallerStdio) -> Result<Relays> {
        let mut relays = Relays {
            outputs: Vec::new(),
            input: None,
            held_stdin: None,
        };
        let outputs = [
            (info.stdout.take(), caller.stdout),
            (info.stderr.take(), caller.stderr),
        ];
        for (from, to) in outputs {
            // A pipe HCS made is drained even if the caller gave nothing, or the process
            // would block on a full pipe.
            if let Some(from) = from {
                relays.outputs.push(spawn_output(from, to)?);
            }
        }
        match (info.stdin.take(), caller.stdin) {
            (Some(to), Some(from)) => relays.input = Some(spawn_input(from, to)?),
            (Some(to), None) => relays.held_stdin = Some(to),
            (None, _) => {}
        }
        Ok(relays)
    }

    /// After the process has ended: waits (at most `grace` for each) for its output to drain,
    /// stops feeding its input, and lets go of its pipes. An output still open after `grace`
    /// (a process of the container that kept the pipe) is left to end by itself.
    pub fn finish(mut self, grace: Duration) {
        for (thread, done) in std::mem::take(&mut self.outputs) {
            if done.recv_timeout(grace).is_ok() {
                let _ = thread.join();
            }
        }
        self.stop_input();
        self.held_stdin = None;
    }

    fn stop_input(&mut self) {
        if let Some(pump) = self.input.take() {
            pump.stop.store(true, Ordering::Release);
            #[cfg(windows)]
            crate::computecore::cancel_blocking_read(&pump.thread);
            let _ = pump.thread.join();
        }
    }
}

impl Drop for Relays {
    fn drop(&mut self) {
        self.stop_input();
    }
}

fn spawn_named(job: impl FnOnce() + Send + 'static) -> Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name(THREAD_NAME.into())
        .spawn(job)
        .map_err(|err| Error::io("start a thread for a process's stream", &err))
}

fn spawn_output(
    mut from: Box<dyn Read + Send>,
    mut to: Option<File>,
) -> Result<(JoinHandle<()>, mpsc::Receiver<()>)> {
    let (done, finished) = mpsc::channel();
    let thread = spawn_named(move || {
        let mut buffer = [0u8; 16 * 1024];
        loop {
            match from.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => {
                    // A caller that closed its end loses the rest; the pipe is still drained.
                    if let Some(out) = to.as_mut() {
                        if out.write_all(&buffer[..n]).is_err() {
                            to = None;
                        }
                    }
                }
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
        drop(to);
        let _ = done.send(());
    })?;
    Ok((thread, finished))
}

fn spawn_input(mut from: File, mut to: Box<dyn Write + Send>) -> Result<InputPump> {
    let stop = Arc::new(AtomicBool::new(false));
    let stopped = stop.clone();
    let thread = spawn_named(move || {
        let mut buffer = [0u8; 16 * 1024];
        while !stopped.load(Ordering::Acquire) {
            #[cfg(unix)]
            match handles::readable_within(&from, STOP_POLL) {
                Ok(true) => {}
                Ok(false) => continue,
                Err(_) => break,
            }
            match from.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => {
                    if to
                        .write_all(&buffer[..n])
                        .and_then(|()| to.flush())
                        .is_err()
                    {
                        break;
                    }
                }
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
        // Dropping the process's end tells it its input has ended.
    })?;
    Ok(InputPump { stop, thread })
}
