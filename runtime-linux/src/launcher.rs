//! The host's half of starting a container: spawn `berth-init`, hand it the plan, collect the
//! init's pidfd and its ready (or failure) report, then later give it the go.
//!
//! Nothing here runs between fork and exec: the helper is started with `posix_spawn`, and
//! everything else is socket and file I/O in the calling thread.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use runtime_core::{Error, Result, Stdio};
use serde::{Deserialize, Serialize};

use crate::channel::{Channel, Listener, START_SOCKET};
use crate::error::{os_error, StepExt};
use crate::protocol::{Report, Request};
use crate::sys;

/// How long the host waits for a report before it gives up on the helper. Generous: a slow
/// emulated machine takes a second where this one takes a millisecond.
pub(crate) const REPORT_TIMEOUT: Duration = Duration::from_secs(120);

/// The helper executable: where it was found, and the sealed copy that is run (about 0.5 ms
/// for the 1.2 MB release helper), made when the driver is set up, by a thread of its own
/// meanwhile, or at the first spawn ([`HelperSeal`]). Every spawn runs the sealed copy, never
/// the file at `path` (CVE-2019-5736).
#[derive(Debug)]
pub struct Helper {
    path: std::path::PathBuf,
    image: OnceLock<OwnedFd>,
    /// The copy being made in the background ([`HelperSeal::Background`]).
    pending: parking_lot::Mutex<Option<std::thread::JoinHandle<Result<OwnedFd>>>>,
}

impl Helper {
    /// The helper at `path` (found and checked by [`crate::locate::find_helper`]), sealed.
    pub fn seal(path: std::path::PathBuf) -> Result<Helper> {
        let helper = Helper::seal_when_used(path);
        helper.image()?;
        Ok(helper)
    }

    /// The helper at `path`, sealed by the first [`Helper::image`]: for a driver that may
    /// never spawn one (a command-line tool's `start`, `kill` or `delete`).
    pub fn seal_when_used(path: std::path::PathBuf) -> Helper {
        Helper {
            path,
            image: OnceLock::new(),
            pending: parking_lot::Mutex::new(None),
        }
    }

    /// The helper at `path`, sealed by a thread of its own from now on, while the caller does
    /// other work; the first [`Helper::image`] waits for it (and gives its error).
    pub fn seal_in_background(path: std::path::PathBuf) -> Result<Helper> {
        let helper = Helper::seal_when_used(path.clone());
        let thread = std::thread::Builder::new()
            .name("berth-seal".into())
            .spawn(move || crate::locate::sealed_copy(&path))
            .map_err(|error| Error::io("start the thread that seals the helper", &error))?;
        *helper.pending.lock() = Some(thread);
        Ok(helper)
    }

    /// Where the helper was found.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The sealed copy, made now (or waited for) if it was not yet.
    pub fn image(&self) -> Result<BorrowedFd<'_>> {
        if let Some(image) = self.image.get() {
            return Ok(image.as_fd());
        }
        // Held while the copy is made, so that two first uses make one copy.
        let mut pending = self.pending.lock();
        if let Some(image) = self.image.get() {
            return Ok(image.as_fd());
        }
        let sealed = match pending.take() {
            Some(thread) => thread.join().map_err(|_| {
                Error::Internal("the thread that seals the helper panicked".into())
            })??,
            None => crate::locate::sealed_copy(&self.path)?,
        };
        Ok(self.image.get_or_init(|| sealed).as_fd())
    }
}

/// When a driver makes the helper's sealed copy (the driver option `helper_seal`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HelperSeal {
    /// When the driver is set up: a set-up that succeeds can spawn, and the copy's fd is
    /// there from the start (an in-process host that counts its fds sees none appear).
    #[default]
    SetUp,
    /// By a thread of the driver's own, started at set-up, while the caller goes on (a
    /// command-line tool's `create`, which maps its config and makes its cgroups meanwhile);
    /// the first spawn waits for it.
    Background,
    /// At the first spawn, for a container, an exec or a hook: a driver that may spawn
    /// nothing (a command-line tool's `start`, `kill` or `delete`) never copies.
    FirstUse,
}
/// A container's init, set up and waiting for [`start`].
#[derive(Debug)]
pub struct Launched {
    pub pid: i32,
    pub pidfd: OwnedFd,
    pub channel: Channel,
    /// The master of the process's terminal, when it asked for one.
    pub console: Option<OwnedFd>,
}

/// Spawns the helper with `stdio`, sends it `request` with `attached` fds and then
/// `stdio.extra` (whose count the request's plan gives), and waits until the init is ready.
/// On failure nothing is left running: the helper is reaped and the init, if it was born,
/// killed and reaped.
pub fn launch(
    helper: &Helper,
    stdio: &Stdio,
    request: &Request,
    attached: &[BorrowedFd<'_>],
) -> Result<Launched> {
    let image = helper.image()?;
    let extra = dup_extra(stdio)?;
    let attached: Vec<BorrowedFd<'_>> = attached
        .iter()
        .copied()
        .chain(extra.iter().map(AsFd::as_fd))
        .collect();
    let stdio = dup_stdio(stdio)?;
    let (host_end, helper_end) = Channel::pair().step(|| "create the helper's socketpair")?;
    host_end
        .set_receive_timeout(REPORT_TIMEOUT)
        .step(|| "set the helper socket's timeout")?;
    let helper_fd = dup_above_stdio(helper_end.as_fd()).step(|| "dup the helper's socket")?;
    let raw_stdio = [
        stdio[0].as_raw_fd(),
        stdio[1].as_raw_fd(),
        stdio[2].as_raw_fd(),
    ];
    let helper_pid = sys::spawn::spawn_with_fds(
        sys::spawn::Program::Image(image.as_raw_fd()),
        raw_stdio,
        helper_fd.as_raw_fd(),
    )
    .step(|| format!("spawn the sealed copy of {}", helper.path.display()))?;
    // The helper is our unreaped child, so its pid cannot be reused before this pidfd exists.
    let helper_pidfd =
        sys::pidfd::open(helper_pid.as_raw()).step(|| "open a pidfd for berth-init")?;
    // Our copies: the helper has its own now, and end-of-file must mean the init is gone.
    drop((stdio, helper_end, helper_fd));

    let outcome = host_end
        .send(request, &attached)
        .step(|| "send the plan to berth-init")
        .map_err(|error| Collected {
            error: Some(error),
            init: None,
        })
        .and_then(|()| collect(&host_end));
    // The helper exits right after it reports the init's birth (or a failure before it).
    let helper_status = reap(&helper_pidfd, outcome.is_err());
    match outcome {
        Ok((pid, pidfd, console)) => Ok(Launched {
            pid,
            pidfd,
            channel: host_end,
            console,
        }),
        Err(Collected { error, init }) => {
            if let Some(pidfd) = init {
                kill_and_reap(&pidfd);
            }
            Err(error.unwrap_or_else(|| {
                Error::Internal(format!(
                    "berth-init ended ({}) before reporting",
                    describe(helper_status)
                ))
            }))
        }
    }
}

/// Makes the start socket in the container's new state directory `state_dir`: its listener
/// goes to the helper with the create plan, and the init waits on it too, so that a later
/// driver can start the container once this one has let it go (see [`start_through_socket`]).
/// The host keeps no copy of it.
pub fn start_socket(state_dir: &Path) -> Result<Listener> {
    Listener::bind(state_dir).step(|| {
        format!(
            "make the start socket {}",
            state_dir.join(START_SOCKET).display()
        )
    })
}

/// Lets an init that a driver before this one created exec the program: through the start
/// socket in its state directory, with the same exchange as on the launch's channel.
pub fn start_through_socket(state_dir: &Path) -> Result<()> {
    let path = state_dir.join(START_SOCKET);
    let channel = Channel::connect(state_dir)
        .step(|| format!("connect to the container's start socket {}", path.display()))?;
    channel
        .set_receive_timeout(REPORT_TIMEOUT)
        .step(|| "set the start socket's timeout")?;
    start(channel)
}

/// Lets the init exec the program. `Ok` once it has: the init's end of the socket is
/// close-on-exec, so the exec shows as end-of-file.
pub fn start(channel: Channel) -> Result<()> {
    channel
        .send(&Request::Start, &[])
        .step(|| "send start to the container's init")?;
    match channel.recv::<Report>() {
        Ok(None) => Ok(()),
        Ok(Some((Report::Failed(failure), _))) => Err(failure.into()),
        Ok(Some((other, _))) => Err(Error::Internal(format!(
            "unexpected report after start: {other:?}"
        ))),
        Err(errno) => Err(os_error("wait for the container's program to start", errno)),
    }
}

/// Sends SIGKILL and reaps: for an init that must not live on.
pub fn kill_and_reap(pidfd: &OwnedFd) {
    let _ = sys::pidfd::send_signal(pidfd.as_fd(), libc::SIGKILL);
    let _ = sys::pidfd::wait(pidfd.as_fd(), false);
}

struct Collected {
    error: Option<Error>,
    init: Option<OwnedFd>,
}

/// Reads reports until the init is born and has said ready, or something failed.
fn collect(channel: &Channel) -> Result<(i32, OwnedFd, Option<OwnedFd>), Collected> {
    let mut init: Option<(i32, OwnedFd)> = None;
    let mut ready = false;
    let mut console = None;
    loop {
        let fail = |error: Option<Error>, init: Option<(i32, OwnedFd)>| Collected {
            error,
            init: init.map(|(_, fd)| fd),
        };
        match channel.recv::<Report>() {
            Ok(Some((Report::Spawned { pid }, mut fds))) if fds.len() == 1 => {
                init = Some((pid, fds.remove(0)));
            }
            Ok(Some((Report::Ready, mut fds))) => {
                ready = true;
                console = fds.pop();
            }
            Ok(Some((Report::Failed(failure), _))) => {
                // The init may fail before the helper's birth report is read: take it too,
                // so that the init can be reaped.
                if init.is_none() {
                    if let Ok(Some((Report::Spawned { pid }, mut fds))) = channel.recv::<Report>() {
                        if fds.len() == 1 {
                            init = Some((pid, fds.remove(0)));
                        }
                    }
                }
                return Err(fail(Some(failure.into()), init));
            }
            Ok(Some((other, _))) => {
                let error = Error::Internal(format!("unexpected report {other:?}"));
                return Err(fail(Some(error), init));
            }
            Ok(None) => {
                let error = init.is_some().then(|| {
                    Error::Internal("the container's init died before it was ready".into())
                });
                return Err(fail(error, init));
            }
            Err(Errno::EAGAIN) => {
                let error = Error::Internal(format!(
                    "berth-init did not report within {}s",
                    REPORT_TIMEOUT.as_secs()
                ));
                return Err(fail(Some(error), init));
            }
            Err(errno) => {
                return Err(fail(Some(os_error("read from berth-init", errno)), init));
            }
        }
        if ready {
            if let Some((pid, pidfd)) = init.take() {
                return Ok((pid, pidfd, console));
            }
        }
    }
}

fn reap(helper: &OwnedFd, kill_first: bool) -> Option<runtime_core::ExitStatus> {
    if kill_first {
        let _ = sys::pidfd::send_signal(helper.as_fd(), libc::SIGKILL);
    }
    sys::pidfd::wait(helper.as_fd(), false).ok().flatten()
}

fn describe(status: Option<runtime_core::ExitStatus>) -> String {
    match status {
        Some(s) => match s.signal {
            Some(signal) => format!("signal {signal}"),
            None => format!("exit code {}", s.code),
        },
        None => "status unknown".into(),
    }
}

/// Duplicates the caller's stdio (or `/dev/null` for `None`) to fds above the ones the helper
/// receives them as, so that no dup2 in the spawn clobbers another's source.
pub(crate) fn dup_stdio(stdio: &Stdio) -> Result<[OwnedFd; 3]> {
    const NAMES: [&str; 3] = ["stdin", "stdout", "stderr"];
    let mut out = Vec::with_capacity(3);
    for (fd, name) in stdio.as_array().into_iter().zip(NAMES) {
        let owned = match fd {
            Some(raw) => {
                sys::fds::dup_callers_fd(raw, FIRST_FREE_FD).map_err(|errno| match errno {
                    Errno::EBADF => {
                        Error::invalid(format!("stdio.{name}"), format!("fd {raw} is not open"))
                    }
                    other => os_error(format!("dup {name} fd {raw}"), other),
                })?
            }
            None => {
                let null =
                    nix::fcntl::open("/dev/null", OFlag::O_RDWR | OFlag::O_CLOEXEC, Mode::empty())
                        .step(|| "open /dev/null")?;
                dup_above_stdio(null.as_fd()).step(|| "dup /dev/null")?
            }
        };
        out.push(owned);
    }
    Ok(out.try_into().expect("three streams"))
}

/// Duplicates the caller's extra fds (`stdio.extra`), which go to the helper attached to the
/// plan. One that is not open is `invalid stdio.extra[n]`.
fn dup_extra(stdio: &Stdio) -> Result<Vec<OwnedFd>> {
    stdio
        .extra
        .iter()
        .enumerate()
        .map(|(index, &raw)| {
            sys::fds::dup_callers_fd(raw, FIRST_FREE_FD).map_err(|errno| match errno {
                Errno::EBADF => Error::invalid(
                    format!("stdio.extra[{index}]"),
                    format!("fd {raw} is not open"),
                ),
                other => os_error(format!("dup extra fd {raw}"), other),
            })
        })
        .collect()
}

/// Above 3, the helper's channel: see [`sys::spawn::spawn_with_fds`].
const FIRST_FREE_FD: RawFd = 10;

fn dup_above_stdio(fd: BorrowedFd<'_>) -> nix::Result<OwnedFd> {
    sys::fds::dup_at_least(fd, FIRST_FREE_FD)
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsRawFd;

    use nix::fcntl::{fcntl, FcntlArg, SealFlag};

    use super::Helper;

    #[test]
    fn the_helper_runs_from_a_sealed_copy_of_its_bytes() {
        let path = std::path::PathBuf::from("/bin/true");
        let helper = Helper::seal(path.clone()).unwrap();
        let image = helper.image().unwrap();
        let seals = SealFlag::from_bits_truncate(fcntl(image, FcntlArg::F_GET_SEALS).unwrap());
        for seal in [
            SealFlag::F_SEAL_SEAL,
            SealFlag::F_SEAL_SHRINK,
            SealFlag::F_SEAL_GROW,
            SealFlag::F_SEAL_WRITE,
        ] {
            assert!(seals.contains(seal), "{seals:?} lacks {seal:?}");
        }
        // Above the fds a spawn places, and the helper's bytes.
        assert!(image.as_raw_fd() >= 10, "{}", image.as_raw_fd());
        let copied = std::fs::read(format!("/proc/self/fd/{}", image.as_raw_fd())).unwrap();
        assert_eq!(copied, std::fs::read(&path).unwrap());
    }

    #[test]
    fn a_helper_sealed_when_used_is_sealed_once_at_its_first_use() {
        let path = std::path::PathBuf::from("/bin/true");
        let helper = Helper::seal_when_used(path.clone());
        assert!(helper.image.get().is_none(), "sealed before any use");
        let first = helper.image().unwrap().as_raw_fd();
        let seals = SealFlag::from_bits_truncate(
            fcntl(helper.image().unwrap(), FcntlArg::F_GET_SEALS).unwrap(),
        );
        assert!(seals.contains(SealFlag::F_SEAL_WRITE | SealFlag::F_SEAL_SEAL));
        // The same copy for every later spawn.
        assert_eq!(helper.image().unwrap().as_raw_fd(), first);
        let copied = std::fs::read(format!("/proc/self/fd/{first}")).unwrap();
        assert_eq!(copied, std::fs::read(&path).unwrap());
    }

    #[test]
    fn a_helper_sealed_in_the_background_is_waited_for_at_its_first_use() {
        let path = std::path::PathBuf::from("/bin/true");
        let helper = Helper::seal_in_background(path.clone()).unwrap();
        let image = helper.image().unwrap().as_raw_fd();
        assert!(helper.pending.lock().is_none(), "the thread was joined");
        let seals = SealFlag::from_bits_truncate(
            fcntl(helper.image().unwrap(), FcntlArg::F_GET_SEALS).unwrap(),
        );
        assert!(seals.contains(SealFlag::F_SEAL_WRITE | SealFlag::F_SEAL_SEAL));
        assert_eq!(helper.image().unwrap().as_raw_fd(), image);
        let copied = std::fs::read(format!("/proc/self/fd/{image}")).unwrap();
        assert_eq!(copied, std::fs::read(&path).unwrap());
        // Its failure is the first use's.
        let failing = Helper::seal_in_background("/nonexistent/berth-init".into()).unwrap();
        let error = failing.image().unwrap_err().to_string();
        assert!(error.contains("/nonexistent/berth-init"), "{error}");
    }

    #[test]
    fn a_helper_that_cannot_be_sealed_fails_its_first_use_not_its_set_up() {
        let helper = Helper::seal_when_used("/nonexistent/berth-init".into());
        let error = helper.image().unwrap_err().to_string();
        assert!(error.contains("/nonexistent/berth-init"), "{error}");
        assert!(helper.image.get().is_none());
    }
}
