//! Extra fds (`Stdio::extra`, runc's `--preserve-fds`): the n-th becomes fd 3 + n of the
//! container's init or of an exec'd process, open across its exec, and nothing else above 2
//! reaches it.

mod common;

use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::Arc;

use common::{driver, pipe, shell};
use runtime_core::{Driver, ErrorKind, ExitStatus, NoHooks, ProcessConfig, Stdio};

/// The script's view of its fds: what it read from 3 and 4, then every fd `ls` finds open
/// (its own directory fd among them) with what it points to.
const READ_AND_LIST: &str = "read a <&3; read b <&4; echo \"3=$a 4=$b\"; \
                             ls -l /proc/self/fd | sed -n 's/.* \\([0-9]*\\) -> \\(.*\\)/\\1 \\2/p'";

/// Two pipes whose write ends hold `first` and `second`, already written and closed; the
/// read ends are the extra fds.
fn two_pipes(first: &str, second: &str) -> [OwnedFd; 2] {
    [first, second].map(|text| {
        let (read, write) = pipe();
        std::fs::File::from(write)
            .write_all(format!("{text}\n").as_bytes())
            .unwrap();
        read
    })
}

/// Runs `script` and returns its stdout, with `extra` after the standard streams.
fn stdout_of(extra: &[&OwnedFd], run: impl FnOnce(&Stdio) -> ExitStatus) -> String {
    let (read, write) = pipe();
    let stdio = Stdio {
        stdin: None,
        stdout: Some(write.as_raw_fd()),
        stderr: None,
        extra: extra.iter().map(|fd| fd.as_raw_fd()).collect(),
    };
    let reader = std::thread::spawn(move || {
        std::fs::read_to_string(format!("/proc/self/fd/{}", read.as_raw_fd()))
            .map(|text| (text, read))
    });
    let status = run(&stdio);
    drop(write);
    let (text, _read) = reader.join().unwrap().unwrap();
    assert_eq!(status, ExitStatus::exited(0), "{text}");
    text
}

/// The fds above 2 in `ls`'s listing, without the one `ls` itself opened on /proc/self/fd.
fn open_above_stdio(listing: &str) -> Vec<(u32, String)> {
    listing
        .lines()
        .skip(1)
        .filter_map(|line| {
            let (fd, target) = line.split_once(' ')?;
            Some((fd.parse().ok()?, target.to_string()))
        })
        .filter(|(fd, target)| *fd > 2 && !target.starts_with("/proc/"))
        .collect()
}

#[test]
fn the_init_reads_its_fds_3_and_4_and_has_no_other() {
    let driver = driver();
    let [first, second] = two_pipes("alpha", "beta");
    let command = shell("extra-fds", READ_AND_LIST);
    let out = stdout_of(&[&first, &second], |stdio| {
        driver.run(&command, stdio, Arc::new(NoHooks)).unwrap()
    });
    assert_eq!(out.lines().next(), Some("3=alpha 4=beta"), "{out}");
    let open = open_above_stdio(&out);
    assert_eq!(
        open.iter().map(|(fd, _)| *fd).collect::<Vec<_>>(),
        [3, 4],
        "{out}"
    );
    assert!(
        open.iter().all(|(_, target)| target.starts_with("pipe:")),
        "{out}"
    );
}

#[test]
fn an_exec_gets_its_own_extra_fds() {
    let driver = driver();
    let command = shell("extra-exec", "sleep 1000");
    let [first, second] = two_pipes("one", "two");
    // The init is given one extra fd of its own, which the exec must not see.
    let [init_fd, _] = two_pipes("init", "unused");
    driver
        .create(
            &command,
            &Stdio {
                extra: vec![init_fd.as_raw_fd()],
                ..Stdio::null()
            },
            Arc::new(NoHooks),
        )
        .unwrap();
    driver.start(&command.id).unwrap();
    let process = ProcessConfig::new(["/bin/sh", "-c", READ_AND_LIST]);
    let out = stdout_of(&[&first, &second], |stdio| {
        driver
            .exec(&command.id, &process, stdio, Arc::new(NoHooks))
            .unwrap()
    });
    assert_eq!(out.lines().next(), Some("3=one 4=two"), "{out}");
    assert_eq!(
        open_above_stdio(&out)
            .iter()
            .map(|(fd, _)| *fd)
            .collect::<Vec<_>>(),
        [3, 4],
        "{out}"
    );
    driver.delete(&command.id, true).unwrap();
}

#[test]
fn a_closed_extra_fd_is_refused_naming_it() {
    let driver = driver();
    let [open, _] = two_pipes("x", "y");
    // Far above anything this process opens (tests run in parallel, so a number just closed
    // could be reused at once).
    let closed_number = 1 << 20;
    let command = shell("extra-bad", "true");
    let stdio = Stdio {
        extra: vec![open.as_raw_fd(), closed_number],
        ..Stdio::null()
    };
    let error = driver
        .create(&command, &stdio, Arc::new(NoHooks))
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidArgument, "{error}");
    assert!(error.to_string().contains("stdio.extra[1]"), "{error}");
    assert!(driver.list().unwrap().is_empty());
    let too_many = Stdio {
        extra: vec![open.as_raw_fd(); runtime_core::MAX_EXTRA_FDS + 1],
        ..Stdio::null()
    };
    let error = driver
        .create(&command, &too_many, Arc::new(NoHooks))
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidArgument, "{error}");
    assert!(error.to_string().contains("stdio.extra"), "{error}");
}

#[test]
fn many_extra_fds_land_in_order() {
    let driver = driver();
    let pipes: Vec<OwnedFd> = (0..40)
        .map(|n| {
            let (read, write) = pipe();
            std::fs::File::from(write)
                .write_all(format!("{n}\n").as_bytes())
                .unwrap();
            read
        })
        .collect();
    let script = "for fd in $(seq 3 42); do read v <&$fd; printf '%s ' $v; done";
    let command = shell("extra-many", script);
    let out = stdout_of(&pipes.iter().collect::<Vec<_>>(), |stdio| {
        driver.run(&command, stdio, Arc::new(NoHooks)).unwrap()
    });
    let expected: Vec<String> = (0..40).map(|n| n.to_string()).collect();
    assert_eq!(out.split_whitespace().collect::<Vec<_>>(), expected);
}

#[test]
fn the_lxc_driver_refuses_extra_fds_at_create_and_takes_them_at_exec() {
    let driver = match common::suite_driver(common::Kind::Lxc) {
        Ok(driver) => driver,
        Err(why) => {
            eprintln!("skipped: {why}");
            return;
        }
    };
    let [first, _] = two_pipes("x", "y");
    let command = shell("extra-lxc", "true");
    let stdio = Stdio {
        extra: vec![first.as_raw_fd()],
        ..Stdio::null()
    };
    let error = driver
        .create(&command, &stdio, Arc::new(NoHooks))
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Unsupported, "{error}");
    assert!(error.to_string().contains("stdio.extra"), "{error}");
    assert!(driver.list().unwrap().is_empty());

    // Its exec is the native driver's, extra fds and all.
    let command = shell("extra-lxc-exec", "sleep 1000");
    driver
        .create(&command, &Stdio::null(), Arc::new(NoHooks))
        .unwrap();
    driver.start(&command.id).unwrap();
    let [first, second] = two_pipes("uno", "dos");
    let process = ProcessConfig::new(["/bin/sh", "-c", READ_AND_LIST]);
    let out = stdout_of(&[&first, &second], |stdio| {
        driver
            .exec(&command.id, &process, stdio, Arc::new(NoHooks))
            .unwrap()
    });
    assert_eq!(out.lines().next(), Some("3=uno 4=dos"), "{out}");
    assert_eq!(
        open_above_stdio(&out)
            .iter()
            .map(|(fd, _)| *fd)
            .collect::<Vec<_>>(),
        [3, 4],
        "{out}"
    );
    driver.delete(&command.id, true).unwrap();
}
