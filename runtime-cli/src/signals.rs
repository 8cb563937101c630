//! A foreground `run` or `exec` forwards the signals it gets to the container's process, as
//! runc's signal proxy does: blocked in every thread (before the driver starts its own), then
//! taken by one thread with `sigwait`.

use nix::sys::signal::{SigSet, SigmaskHow, Signal};

/// The signals forwarded: all that a process can catch and that mean something to the
/// program, not to the CLI's own terminal handling.
const FORWARDED: &[Signal] = &[
    Signal::SIGHUP,
    Signal::SIGINT,
    Signal::SIGQUIT,
    Signal::SIGTERM,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGALRM,
    Signal::SIGCONT,
];

/// Blocks the forwarded signals in this thread, so that every thread started after it (the
/// driver's included) has them blocked. Call before the driver is made.
pub fn block() -> SigSet {
    let mut set = SigSet::empty();
    for signal in FORWARDED {
        set.add(*signal);
    }
    let _ = nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&set), None);
    set
}

/// Forwards each signal of `set` to `forward` until the process exits.
pub fn forward(set: SigSet, forward: impl Fn(i32) + Send + 'static) {
    std::thread::spawn(move || loop {
        match set.wait() {
            Ok(signal) => forward(signal as i32),
            Err(_) => return,
        }
    });
}
