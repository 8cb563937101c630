//! The conformance suite (`berth-conformance`) against the Windows driver over the fake HCS:
//! the same cases as the Linux drivers, with those Windows cannot do marked as such.

#[cfg(unix)]
mod common;

/// The suite over the fake, whose pipes are this system's: Unix only (the Windows build's
/// tests are those of `computecore.rs`, under wine).
#[cfg(unix)]
mod suite {
    use std::io::{Read, Write};
    use std::path::PathBuf;
    use std::sync::Arc;

    use super::common::{self, Fds};
    use berth_conformance::{Case, Fixture, Program, Residue};
    use runtime_core::{Command, Driver, ExitStatus, ProcessConfig, RawStdio};
    use runtime_windows::fake::{FakeHcs, TERMINATED_EXIT_CODE};
    use runtime_windows::HcsDriver;

    struct WindowsFake {
        driver: HcsDriver<FakeHcs>,
        hcs: FakeHcs,
        root: PathBuf,
        fds: Fds,
    }

    impl Fixture for WindowsFake {
        fn name(&self) -> String {
            "windows (fake HCS)".into()
        }

        fn driver(&self) -> &dyn Driver {
            &self.driver
        }

        fn rootfs(&self) -> String {
            common::ROOTFS.into()
        }

        fn work_dir(&self) -> String {
            "/Users/ContainerUser".into()
        }

        fn process(&self, program: &Program) -> ProcessConfig {
            let args: Vec<String> = match program {
                Program::Exit(code) => vec!["exit".into(), code.to_string()],
                Program::Print { stdout, stderr } => {
                    vec!["print".into(), stdout.clone(), stderr.clone()]
                }
                Program::Cat => vec!["cat".into()],
                Program::PrintEnv(name) => vec!["printenv".into(), name.clone()],
                Program::PrintCwd => vec!["printcwd".into()],
                Program::PrintIds => vec!["printids".into()],
                Program::PrintHostname => vec!["hostname".into()],
                Program::IsTerminal => vec!["isatty".into()],
                Program::ExitOnSignal { signal, code } => {
                    let event = if *signal == berth_conformance::SIGTERM {
                        "CtrlShutdown"
                    } else {
                        "CtrlC"
                    };
                    vec!["on".into(), event.into(), code.to_string()]
                }
                Program::Counter => vec!["counter".into()],
                // The cases of these two are not applicable here.
                Program::Sleep | Program::ParentIgnoring { .. } | Program::Hog => {
                    vec!["sleep".into()]
                }
                Program::Missing => return ProcessConfig::new(["C:\\no\\such\\program.exe"]),
            };
            common::program(args)
        }

        fn prepare(&self, command: &mut Command) {
            common::with_layers(command);
        }

        fn pipe(&self) -> std::io::Result<(RawStdio, RawStdio)> {
            self.fds.pipe()
        }

        fn reader(&self, handle: RawStdio) -> Box<dyn Read + Send> {
            self.fds.reader(handle)
        }

        fn writer(&self, handle: RawStdio) -> Box<dyn Write + Send> {
            self.fds.writer(handle)
        }

        fn close(&self, handle: RawStdio) {
            drop(self.fds.take(handle));
        }

        fn residue(&self) -> Residue {
            common::process_residue(&self.hcs, &self.root)
        }

        fn unsupported(&self) -> Vec<(Case, String)> {
            vec![(
                Case::User,
                "a Windows user is a name, with no uid, gid or supplementary groups".into(),
            )]
        }

        fn not_applicable(&self) -> Vec<(Case, String)> {
            vec![
                (
                    Case::Oom,
                    "Windows has no OOM killer: a memory limit fails allocations, so on_oom never \
                     fires and oom_killed stays false (tests/driver.rs)"
                        .into(),
                ),
                (
                    Case::KillAll,
                    "there is no signal to every process: kill with all shuts the compute system \
                     down, terminating it if that hangs (tests/driver.rs)"
                        .into(),
                ),
            ]
        }

        fn killed_status(&self, signal: i32) -> ExitStatus {
            ExitStatus {
                code: i64::from(TERMINATED_EXIT_CODE),
                signal: Some(signal),
                oom_killed: false,
            }
        }

        fn hands_console_master(&self) -> bool {
            false
        }

        fn pid_at_create(&self) -> bool {
            false
        }
    }

    pub fn main() {
        let hcs = FakeHcs::new();
        let root = common::fresh_root("conformance");
        let fixture = Arc::new(WindowsFake {
            driver: common::driver_on(&hcs, &root),
            hcs: hcs.clone(),
            root: root.clone(),
            fds: Fds::default(),
        });
        let report = berth_conformance::run_all(fixture.clone());
        match Arc::try_unwrap(fixture) {
            Ok(fixture) => drop(fixture),
            Err(_) => eprintln!("warning: a hung case still holds the driver"),
        }
        let _ = std::fs::remove_dir(&root);
        report.assert_passed();
        assert!(
            hcs.open_handles().is_empty() && hcs.live_systems().is_empty(),
            "left behind by the driver: handles {:?}, systems {:?}",
            hcs.open_handles(),
            hcs.live_systems()
        );
    }
}

fn main() {
    #[cfg(unix)]
    suite::main();
    #[cfg(not(unix))]
    eprintln!("skipped: the fake HCS's conformance run is a Unix test (fds for pipes)");
}
