//! Attacking images: rootfs directories shaped to lead the container's set-up astray (a
//! standard mount destination that is a symlink out, to `..`, to another destination, a chain
//! that a later mount hides, a file where a directory belongs, the same for user mounts), each
//! run through the driver in several configurations. A case must be refused with an error
//! naming the shaped path, or run with every standard mount where it belongs (the probe in
//! common/image.rs checks from inside); either way the host must not change.
//!
//! Its own harness: a line per driver, case and configuration, then "N passed, M failed". Every
//! case runs against the native driver, then against the LXC driver where LXC is installed.
//! An LXC refusal as unsupported (a configuration the LXC driver does not have, such as a
//! user namespace without its own network namespace) counts as refused where a refusal
//! passes (a case that must or may be refused), and apart, as unsupported, where the case
//! must run. Arguments are substring filters on "<case> [<config>]". Environment:
//!   BERTH_TEST_DRIVERS   `native`, `lxc` or both, comma-separated (default: both)
//!   BERTH_IMAGE_SEED     seed of the random images (default: fixed, printed)
//!   BERTH_IMAGE_SAMPLES  how many random images (default 150; 6 with the small scale)
//!   BERTH_IMAGE_VERBOSE  set: how each passing case passed (refused with what, or ran)
//!   BERTH_IMAGE_SCALE    `small`: each hand case in one configuration, rotating, instead of
//!                        all six, and /dev/null standing for the device nodes like it (the
//!                        cgroup v2 guest, where fork and exec are ~35x slower)

mod common;

use std::collections::BTreeSet;
use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use common::image::{
    dir, file, link, probe_script, probe_verdict, Entry, HostSnapshot, ImageStore, Node, Rng,
};
use common::{rootfs, run_output, suite_driver, Kind, SuiteDriver};
use runtime_core::{Command, ErrorKind, Hooks, Mount, NamespaceMode, ProcessConfig, Stdio};

/// Where berth mounts a filesystem of its own: a symlink or a file here must be refused.
const TOP_DESTINATIONS: [&str; 3] = ["/proc", "/sys", "/dev"];

/// What berth makes inside its fresh /dev tmpfs: image entries there are hidden by it.
const DEV_DESTINATIONS: [&str; 11] = [
    "/dev/pts",
    "/dev/shm",
    "/dev/mqueue",
    "/dev/console",
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/random",
    "/dev/urandom",
    "/dev/tty",
    "/dev/ptmx",
];

/// Names the generator shapes besides the standard destinations.
const SCRATCH: [&str; 5] = ["/c", "/x", "/dev/x", "/tmp/y", "/etc/z"];

const DEFAULT_SEED: u64 = 0x6265_7274_6869_6d67;
const DEFAULT_SAMPLES: usize = 150;
const SMALL_SAMPLES: usize = 6;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// `run` fails, naming the shaped path.
    Refused,
    /// The container runs and the probe finds everything in its place.
    Runs,
    Either,
}

/// A user mount of a case; its source is one of the host paths of `Sources`.
#[derive(Debug, Clone)]
struct UserMount {
    destination: String,
    kind: MountKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MountKind {
    BindDir,
    BindFile,
    RbindRoDir,
    RbindRoFile,
    Tmpfs,
}

impl MountKind {
    fn label(self) -> &'static str {
        match self {
            MountKind::BindDir => "bind",
            MountKind::BindFile => "bind-file",
            MountKind::RbindRoDir => "rbind-ro",
            MountKind::RbindRoFile => "rbind-ro-file",
            MountKind::Tmpfs => "tmpfs",
        }
    }
}

struct Case {
    name: String,
    entries: Vec<Entry>,
    mounts: Vec<UserMount>,
    expect: Expect,
    /// What a refusal must name (any one of them).
    shaped: Vec<String>,
    tty: bool,
    /// For random cases: the configuration picked for it.
    config: Option<Config>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Net {
    Private,
    Host,
    /// The net namespace of the rootful sleeper.
    Container,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Config {
    userns: bool,
    net: Net,
}

impl Config {
    const ALL: [Config; 6] = [
        Config::new(false, Net::Private),
        Config::new(false, Net::Host),
        Config::new(false, Net::Container),
        Config::new(true, Net::Private),
        Config::new(true, Net::Host),
        Config::new(true, Net::Container),
    ];

    const fn new(userns: bool, net: Net) -> Config {
        Config { userns, net }
    }

    fn label(self) -> String {
        let user = if self.userns { "userns" } else { "rootful" };
        let net = match self.net {
            Net::Private => "private",
            Net::Host => "host",
            Net::Container => "container",
        };
        format!("{user},net={net}")
    }
}

// ---------------------------------------------------------------------------------------
// The hand-written cases.

fn case(name: String, entries: Vec<Entry>, expect: Expect, shaped: &str) -> Case {
    let tty = shaped == "/dev/console" || shaped == "/dev/pts" || shaped == "/dev/ptmx";
    Case {
        name,
        entries,
        mounts: vec![],
        expect,
        shaped: vec![shaped.to_string()],
        tty,
        config: None,
    }
}

/// Another standard destination for `dest` to point at, written as an image would.
fn other_destination(dest: &str) -> &'static str {
    match dest {
        "/proc" => "/sys",
        "/sys" => "/proc",
        "/dev" => "/proc",
        "/dev/pts" | "/dev/mqueue" => "/sys",
        "/dev/shm" | "/dev/console" | "/dev/tty" => "/proc",
        "/dev/null" | "/dev/zero" | "/dev/full" => "/proc/sysrq-trigger",
        _ => "/proc/kcore",
    }
}

/// A chain through a name that a later standard mount hides, ending on an empty `/c`: the
/// first hop, and the entries it takes.
fn hidden_chain(dest: &str) -> Vec<Entry> {
    let hops = match dest {
        // The /dev tmpfs, mounted after /proc, hides x: procfs lands on /c.
        "/proc" => vec![link("/proc", "dev/x"), link("/dev/x", "../c")],
        // /dev/shm hides y (and /dev hides the whole /dev of the image).
        "/sys" => vec![link("/sys", "dev/shm/y"), link("/dev/shm/y", "../../c")],
        // /sys, mounted after /dev, hides x.
        "/dev" => vec![link("/dev", "sys/x"), link("/sys/x", "../c")],
        // Under /dev: everything is hidden by the /dev tmpfs itself.
        _ => vec![link(dest, "../x/y"), link("/x/y", "/c")],
    };
    let mut entries = vec![dir("/c")];
    entries.extend(hops);
    entries
}

/// Every shape of one standard destination.
fn destination_cases(dest: &str, expect: Expect, cases: &mut Vec<Case>) {
    let slug = dest.trim_start_matches('/').replace('/', "-");
    let shapes: Vec<(&str, Vec<Entry>)> = vec![
        ("link-abs-c", vec![dir("/c"), link(dest, "/c")]),
        ("link-abs-root", vec![link(dest, "/")]),
        ("link-abs-etc", vec![link(dest, "/etc")]),
        ("link-dotdot", vec![link(dest, "..")]),
        ("link-dotdot2", vec![link(dest, "../..")]),
        ("link-other", vec![link(dest, other_destination(dest))]),
        ("chain-hidden", hidden_chain(dest)),
    ];
    for (shape, entries) in shapes {
        cases.push(case(format!("{slug}-{shape}"), entries, expect, dest));
    }
    // The mismatch of kind: a file where berth wants a directory, or the reverse.
    let wants_dir = matches!(
        dest,
        "/proc" | "/sys" | "/dev" | "/dev/pts" | "/dev/shm" | "/dev/mqueue"
    );
    let (shape, entry) = if wants_dir {
        ("file", file(dest))
    } else {
        ("dir", dir(dest))
    };
    cases.push(case(format!("{slug}-{shape}"), vec![entry], expect, dest));
}

/// User mounts whose destination the image leads astray, in each kind.
fn user_mount_cases(cases: &mut Vec<Case>) {
    use Expect::*;
    let shapes: Vec<(&str, Vec<Entry>, Vec<&str>, Expect)> = vec![
        (
            "link-abs",
            vec![dir("/c"), link("/data", "/c")],
            vec!["/data"],
            Runs,
        ),
        (
            "link-abs-etc",
            vec![link("/data", "/etc")],
            vec!["/data"],
            Runs,
        ),
        (
            "link-dotdot",
            vec![link("/data", "..")],
            vec!["/data/m"],
            Runs,
        ),
        (
            "link-dotdot2",
            vec![link("/data", "../..")],
            vec!["/data/m"],
            Runs,
        ),
        (
            "into-proc",
            vec![link("/data", "/proc/sys")],
            vec!["/data"],
            Refused,
        ),
        (
            "into-proc-rel",
            vec![link("/data", "proc/sys/kernel")],
            vec!["/data"],
            Refused,
        ),
        (
            "into-dev",
            vec![link("/data", "/dev/shm")],
            vec!["/data"],
            Runs,
        ),
        (
            "into-sys",
            vec![link("/data", "/sys/fs")],
            vec!["/data"],
            Refused,
        ),
        (
            "into-sys-cgroup",
            vec![link("/data", "../sys/fs/cgroup")],
            vec!["/data"],
            Refused,
        ),
        // The second mount (a tmpfs on /mnt) hides the hop the first one went through.
        (
            "chain-hidden",
            vec![dir("/c"), link("/data", "mnt/x"), link("/mnt/x", "../c")],
            vec!["/data", "/mnt"],
            Runs,
        ),
        (
            "chain-hidden-proc",
            vec![link("/data", "mnt/x"), link("/mnt/x", "../proc/sys")],
            vec!["/data", "/mnt"],
            Refused,
        ),
        (
            "chain-hidden-sys",
            vec![link("/data", "mnt/x"), link("/mnt/x", "../sys/kernel")],
            vec!["/data", "/mnt"],
            Refused,
        ),
    ];
    let kinds = [MountKind::BindDir, MountKind::RbindRoDir, MountKind::Tmpfs];
    for (shape, entries, destinations, expect) in shapes {
        for kind in kinds {
            let mounts = destinations
                .iter()
                .enumerate()
                .map(|(i, dest)| UserMount {
                    destination: dest.to_string(),
                    // Only the first mount is the attack; the others hide its path.
                    kind: if i == 0 { kind } else { MountKind::Tmpfs },
                })
                .collect();
            cases.push(user_case(
                format!("mount-{}-{shape}", kind.label()),
                entries.clone(),
                mounts,
                expect,
            ));
        }
    }
    // Kind mismatches: a directory onto an image file, a file onto an image directory.
    for kind in [MountKind::BindDir, MountKind::RbindRoDir, MountKind::Tmpfs] {
        let mount = UserMount {
            destination: "/data".into(),
            kind,
        };
        let name = format!("mount-{}-onto-file", kind.label());
        cases.push(user_case(
            name,
            vec![file("/data")],
            vec![mount],
            Expect::Refused,
        ));
    }
    for kind in [MountKind::BindFile, MountKind::RbindRoFile] {
        let mount = UserMount {
            destination: "/data".into(),
            kind,
        };
        let name = format!("mount-{}-onto-dir", kind.label());
        cases.push(user_case(
            name,
            vec![dir("/data")],
            vec![mount],
            Expect::Refused,
        ));
    }
}

fn user_case(name: String, entries: Vec<Entry>, mounts: Vec<UserMount>, expect: Expect) -> Case {
    let shaped = vec![mounts[0].destination.clone(), "mounts[0]".to_string()];
    Case {
        name,
        entries,
        mounts,
        expect,
        shaped,
        tty: false,
        config: None,
    }
}

/// The device nodes that are made (or bound) just like /dev/null: the small scale leaves
/// them out.
const LIKE_DEV_NULL: [&str; 5] = [
    "/dev/zero",
    "/dev/full",
    "/dev/random",
    "/dev/urandom",
    "/dev/tty",
];

fn hand_cases(small: bool) -> Vec<Case> {
    let mut cases = Vec::new();
    // After the fix: an image whose /proc, /sys or /dev is a symlink or not a directory is
    // refused.
    for dest in TOP_DESTINATIONS {
        destination_cases(dest, Expect::Refused, &mut cases);
    }
    // What berth makes in /dev lives in a fresh tmpfs: the image's entries are hidden.
    for dest in DEV_DESTINATIONS {
        if !(small && LIKE_DEV_NULL.contains(&dest)) {
            destination_cases(dest, Expect::Runs, &mut cases);
        }
    }
    user_mount_cases(&mut cases);
    cases
}

// ---------------------------------------------------------------------------------------
// The generator.

/// The names random images shape.
fn pool() -> Vec<&'static str> {
    TOP_DESTINATIONS
        .iter()
        .chain(DEV_DESTINATIONS.iter())
        .chain(SCRATCH.iter())
        .copied()
        .collect()
}

/// `to` written relative to the directory holding `from` (both absolute).
fn relative(from: &str, to: &str) -> String {
    let depth = from.matches('/').count() - 1;
    format!("{}{}", "../".repeat(depth), to.trim_start_matches('/'))
}

fn random_target(rng: &mut Rng, path: &str, pool: &[&str]) -> String {
    let other = *rng.pick(pool);
    match rng.below(5) {
        0 => other.to_string(),
        1 => relative(path, other),
        2 => "..".into(),
        3 => "../..".into(),
        _ => rng.pick(&["/", "/etc", "/c", "dev/x", "../c"]).to_string(),
    }
}

fn random_case(rng: &mut Rng, index: usize) -> Case {
    let pool = pool();
    let mut entries = vec![];
    for _ in 0..1 + rng.below(4) {
        let path = *rng.pick(&pool);
        let node = match rng.below(10) {
            0 => Node::File,
            1 => Node::Dir,
            _ => Node::Symlink(random_target(rng, path, &pool)),
        };
        entries.push(Entry {
            path: path.into(),
            node,
        });
    }
    let mut mounts = vec![];
    if rng.one_in(3) {
        // Onto a scratch name only: a user mount straight onto /proc is the user's own doing,
        // not the image's.
        let kinds = [
            MountKind::BindDir,
            MountKind::BindFile,
            MountKind::RbindRoDir,
            MountKind::Tmpfs,
        ];
        mounts.push(UserMount {
            destination: rng.pick(&SCRATCH).to_string(),
            kind: *rng.pick(&kinds),
        });
    }
    let mut shaped: Vec<String> = entries.iter().map(|e| e.path.clone()).collect();
    shaped.extend(mounts.iter().map(|m| m.destination.clone()));
    shaped.push("mounts[0]".into());
    Case {
        name: format!("random-{index}"),
        entries,
        mounts,
        expect: Expect::Either,
        shaped,
        tty: rng.one_in(4),
        config: Some(*rng.pick(&Config::ALL)),
    }
}

fn describe(case: &Case) -> String {
    let entries: Vec<String> = case
        .entries
        .iter()
        .map(|e| match &e.node {
            Node::Symlink(target) => format!("{} -> {target}", e.path),
            Node::File => format!("{} file", e.path),
            Node::Dir => format!("{} dir", e.path),
        })
        .collect();
    let mounts: Vec<String> = case
        .mounts
        .iter()
        .map(|m| format!("{} on {}", m.kind.label(), m.destination))
        .collect();
    format!(
        "image [{}] mounts [{}]{}",
        entries.join(", "),
        mounts.join(", "),
        if case.tty { " tty" } else { "" }
    )
}

// ---------------------------------------------------------------------------------------
// Running a case.

/// The host paths bind mounts take: a directory with a marker in it, and a file.
struct Sources {
    dir: PathBuf,
    file: PathBuf,
    top: PathBuf,
}

impl Sources {
    fn new() -> Sources {
        let top = std::env::temp_dir().join(format!("berth-images-{}", std::process::id()));
        let dir = top.join("dir");
        let file = top.join("file");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("marker"), "from the host\n").unwrap();
        std::fs::write(&file, "a host file\n").unwrap();
        Sources { dir, file, top }
    }

    fn mount(&self, spec: &UserMount) -> Mount {
        let (source, kind, options): (Option<&Path>, &str, Vec<String>) = match spec.kind {
            MountKind::BindDir => (Some(&self.dir), "bind", vec![]),
            MountKind::BindFile => (Some(&self.file), "bind", vec![]),
            MountKind::RbindRoDir => (Some(&self.dir), "bind", vec!["rbind".into(), "ro".into()]),
            MountKind::RbindRoFile => (Some(&self.file), "bind", vec!["rbind".into(), "ro".into()]),
            MountKind::Tmpfs => (None, "tmpfs", vec![]),
        };
        Mount {
            source: source.map(|p| p.display().to_string()),
            destination: spec.destination.clone(),
            kind: kind.into(),
            options,
            uid_mappings: None,
            gid_mappings: None,
        }
    }
}

impl Drop for Sources {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.top);
    }
}

struct Env {
    driver: SuiteDriver,
    store: ImageStore,
    sources: Sources,
    /// A rootful container with a net namespace of its own, for `Net::Container`.
    sleeper: String,
    probe: String,
    devices_lists: Vec<PathBuf>,
}

impl Env {
    fn new(driver: SuiteDriver) -> Env {
        let sleeper = common::shell("sleeper", "sleep 100000");
        driver
            .create(&sleeper, &Stdio::null(), Arc::new(runtime_core::NoHooks))
            .expect("create the sleeper");
        driver.start(&sleeper.id).expect("start the sleeper");
        // The device rules of the v1 hierarchy's root and of the driver's cgroup parent.
        let devices_lists = runtime_linux::cgroups::CgroupManager::detect()
            .expect("detect cgroups")
            .v1_mounts()
            .into_iter()
            .find(|(name, _)| name.split(',').any(|n| n == "devices"))
            .map(|(_, root)| {
                vec![
                    root.join("devices.list"),
                    root.join(&driver.cgroup_parent).join("devices.list"),
                ]
            })
            .unwrap_or_default();
        Env {
            store: ImageStore::new(rootfs()),
            sources: Sources::new(),
            sleeper: sleeper.id,
            probe: probe_script(),
            devices_lists,
            driver,
        }
    }

    fn command(&self, case: &Case, config: Config, image: &Path) -> Command {
        let check = mount_check(case).unwrap_or_else(|| dev_check(case));
        let script = self
            .probe
            .replace("\necho probe ok\n", &format!("\n{check}\necho probe ok\n"));
        let mut process = ProcessConfig::new(["/bin/sh", "-c", script.as_str()]);
        process.tty = case.tty;
        let mut command = Command::new(common::id("image"), image.display().to_string(), process);
        if config.userns {
            command.namespaces.user = NamespaceMode::Private;
        }
        command.namespaces.net = match config.net {
            Net::Private => NamespaceMode::Private,
            Net::Host => NamespaceMode::Host,
            Net::Container => NamespaceMode::Container(self.sleeper.clone()),
        };
        command.mounts = case.mounts.iter().map(|m| self.sources.mount(m)).collect();
        command
    }

    /// Host paths a mount that went astray could create: each name the case uses, in each
    /// directory a symlink of the image could lead to from outside the container's root.
    fn watched(&self, case: &Case) -> BTreeSet<PathBuf> {
        let base = PathBuf::from(rootfs());
        let dirs = [
            PathBuf::from("/"),
            PathBuf::from("/etc"),
            PathBuf::from("/tmp"),
            PathBuf::from("/dev"),
            PathBuf::from("/dev/shm"),
            self.store.dir.clone(),
            self.store.dir.parent().unwrap().to_path_buf(),
            base.clone(),
            base.join("etc"),
            self.sources.dir.clone(),
        ];
        let mut names: BTreeSet<String> = ["c", "x", "y", "z", "m", "data", "mnt", "sys", "proc"]
            .iter()
            .map(|n| n.to_string())
            .collect();
        let paths = case.entries.iter().map(|e| e.path.as_str());
        let paths = paths.chain(case.mounts.iter().map(|m| m.destination.as_str()));
        for path in paths {
            names.extend(
                path.split('/')
                    .filter(|c| !c.is_empty())
                    .map(str::to_string),
            );
        }
        let mut watched: BTreeSet<PathBuf> = dirs
            .iter()
            .flat_map(|d| names.iter().map(move |n| d.join(n)))
            .collect();
        // And each path of the case as it is, on the host and in the base rootfs.
        for entry in &case.entries {
            watched.insert(PathBuf::from(&entry.path));
            watched.insert(base.join(entry.path.trim_start_matches('/')));
        }
        watched
    }
}

/// For a hand-written case that must run with one user mount: a check for the probe that the
/// mount is where the container looks (its destination resolved inside the container's root),
/// so that a mount left out does not pass. (With more than one mount, a later one may hide
/// the path the first went through; random cases may lead anywhere.)
fn mount_check(case: &Case) -> Option<String> {
    let [mount] = case.mounts.as_slice() else {
        return None;
    };
    if case.expect != Expect::Runs || case.config.is_some() {
        return None;
    }
    let dest = &mount.destination;
    Some(match mount.kind {
        MountKind::BindDir | MountKind::RbindRoDir => format!(
            r#"[ "$($bb cat {dest}/marker 2>&1)" = "from the host" ] || bad "the bind mount on {dest} is not there""#
        ),
        MountKind::BindFile | MountKind::RbindRoFile => format!(
            r#"[ "$($bb cat {dest} 2>&1)" = "a host file" ] || bad "the file bind mount on {dest} is not there""#
        ),
        MountKind::Tmpfs => format!(
            r#"[ "$($bb stat -f -c %T {dest}/ 2>&1)" = tmpfs ] || bad "the tmpfs on {dest} is not there""#
        ),
    })
}

/// For a case without user mounts: a check for the probe that the rest of what berth makes in
/// /dev is there, whatever the image had in its place (the probe itself checks /dev/null).
/// One stat for the nodes and one for the filesystems, by magic number (busybox has no name
/// for mqueue). With a user mount, the image may lead it onto one of them.
fn dev_check(case: &Case) -> String {
    if !case.mounts.is_empty() {
        return String::new();
    }
    let nodes = "/dev/zero 1:5 character special file,/dev/full 1:7 character special file,\
                 /dev/random 1:8 character special file,/dev/urandom 1:9 character special file,\
                 /dev/tty 5:0 character special file,";
    // DEVPTS_SUPER_MAGIC, TMPFS_MAGIC, MQUEUE_MAGIC.
    let filesystems = "/dev/pts 1cd1,/dev/shm 1021994,/dev/mqueue 19800202,";
    format!(
        r#"d=$($bb stat -c '%n %t:%T %F' /dev/zero /dev/full /dev/random /dev/urandom /dev/tty 2>&1 | $bb tr '\n' ',')
[ "$d" = "{nodes}" ] || bad "/dev's nodes are $d"
d=$($bb stat -f -c '%n %t' /dev/pts /dev/shm /dev/mqueue 2>&1 | $bb tr '\n' ',')
[ "$d" = "{filesystems}" ] || bad "/dev's filesystems are $d""#
    )
}

/// What `driver.run` gave: an error's text, or what the container printed and its exit code.
enum Outcome {
    Refused(String),
    /// The LXC driver refused the configuration as unsupported.
    Unsupported(String),
    Ran {
        code: i64,
        stdout: String,
    },
}

/// Why a case did not pass.
#[derive(Debug)]
enum NotPassed {
    Failed(String),
    /// Refused as unsupported by the LXC driver where the case must run: not tried.
    Unsupported(String),
}

impl From<String> for NotPassed {
    fn from(why: String) -> NotPassed {
        NotPassed::Failed(why)
    }
}

/// Runs one case in one configuration; `Err` says why it did not pass.
/// `Ok` says how it passed: "refused: <error>", "refused as unsupported: <error>" or "ran".
fn run_case(env: &Env, case: &Case, config: Config, index: usize) -> Result<String, NotPassed> {
    let image = env
        .store
        .build(&format!("case-{index}"), &case.entries, config.userns)
        .map_err(|e| format!("building the image: {e}"))?;
    let watched = env.watched(case);
    let before = HostSnapshot::take(&watched, &env.devices_lists);
    let command = env.command(case, config, &image.root);
    let outcome = run(env, &command);
    // A run that failed half-way must not leave the container behind.
    let _ = env.driver.delete(&command.id, true);
    let after = HostSnapshot::take(&watched, &env.devices_lists);
    let changes = before.changes_to(&after);
    let verdict = judge(case, &outcome, &image.root);
    drop(image);
    if !changes.is_empty() {
        return Err(format!("the host changed: {}", changes.join("; ")).into());
    }
    verdict
}

fn run(env: &Env, command: &Command) -> Outcome {
    let result = if command.process.tty {
        run_on_terminal(&env.driver, command)
    } else {
        run_output(&env.driver, command).map(|out| (out.status.code, out.stdout))
    };
    match result {
        Ok((code, stdout)) => Outcome::Ran { code, stdout },
        Err(err) if env.driver.kind == Kind::Lxc && err.kind() == ErrorKind::Unsupported => {
            Outcome::Unsupported(err.to_string())
        }
        Err(err) => Outcome::Refused(err.to_string()),
    }
}

/// Keeps the master of a tty run and reads everything the container writes to it.
#[derive(Default)]
struct Terminal {
    output: Mutex<Option<mpsc::Receiver<String>>>,
}

impl Hooks for Terminal {
    // The hook hands the master over as a number: owning it takes `from_raw_fd`, which is
    // unsafe (runtime-core's `Hooks` gives a raw fd, for the C ABI's sake).
    #[allow(unsafe_code)]
    fn on_console(&self, _id: &str, master: i32) {
        // SAFETY: the driver hands the master over to `on_console` and keeps no use of this
        // number (its own copy is another fd), so nothing else owns it: the reader thread
        // does from here on, and closes it once.
        let mut master = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(master) });
        let (send, receive) = mpsc::channel();
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            // Ends with EIO once the last slave is closed.
            let _ = master.read_to_end(&mut bytes);
            let _ = send.send(String::from_utf8_lossy(&bytes).replace('\r', ""));
        });
        *self.output.lock().unwrap() = Some(receive);
    }
}

fn run_on_terminal(driver: &SuiteDriver, command: &Command) -> runtime_core::Result<(i64, String)> {
    let terminal = Arc::new(Terminal::default());
    let status = driver.run(command, &Stdio::null(), terminal.clone())?;
    let output = terminal.output.lock().unwrap().take();
    // Bounded: a process left holding the slave must not hang the suite.
    let stdout = output
        .and_then(|r| r.recv_timeout(Duration::from_secs(5)).ok())
        .unwrap_or_else(|| "(no terminal output)".into());
    Ok((status.code, stdout))
}

/// Whether `outcome` is what `case` expects.
fn judge(case: &Case, outcome: &Outcome, image: &Path) -> Result<String, NotPassed> {
    match outcome {
        Outcome::Unsupported(error) => {
            let error = error.replace(&image.display().to_string(), "<image>");
            if case.expect == Expect::Runs {
                Err(NotPassed::Unsupported(error))
            } else {
                Ok(format!("refused as unsupported: {error}"))
            }
        }
        Outcome::Refused(error) => {
            // The image's own path is in most errors; only what follows it counts.
            let error = error.replace(&image.display().to_string(), "<image>");
            if case.expect == Expect::Runs {
                return Err(format!("refused: {error}").into());
            }
            if case.shaped.iter().any(|path| names(&error, path)) {
                Ok(format!("refused: {error}"))
            } else {
                Err(format!(
                    "refused without naming {}: {error}",
                    case.shaped.join(" or ")
                )
                .into())
            }
        }
        Outcome::Ran { code, stdout } => {
            let probe = probe_verdict(stdout);
            if case.expect == Expect::Refused {
                let probe = probe
                    .err()
                    .unwrap_or_else(|| "the probe found nothing".into());
                return Err(format!("ran instead of being refused (exit {code}; {probe})").into());
            }
            probe?;
            if *code != 0 {
                return Err(format!("the probe exited {code}").into());
            }
            Ok("ran".into())
        }
    }
}

/// Whether `text` names `path` itself: "/dev" in "mount tmpfs on <image>/dev: ..." but not in
/// "mask /proc/keys with /dev/null".
fn names(text: &str, path: &str) -> bool {
    let part_of_a_path = |c: char| c.is_ascii_alphanumeric() || "._-/".contains(c);
    text.match_indices(path).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + path.len()..].chars().next();
        !before.is_some_and(part_of_a_path) && !after.is_some_and(part_of_a_path)
    })
}

// ---------------------------------------------------------------------------------------
// The harness.

fn env_number(name: &str) -> Option<u64> {
    let value = std::env::var(name).ok().filter(|v| !v.is_empty())?;
    let parsed = match value.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => value.parse(),
    };
    Some(parsed.unwrap_or_else(|_| panic!("{name}={value} is not a number")))
}

/// Each case with the configurations it runs in.
fn plan(small: bool, seed: u64, samples: usize) -> Vec<(Case, Vec<Config>)> {
    let mut plan = Vec::new();
    for (i, case) in hand_cases(small).into_iter().enumerate() {
        let configs = if small {
            // One configuration each, rotating, so that all six are covered.
            vec![Config::ALL[i % Config::ALL.len()]]
        } else {
            Config::ALL.to_vec()
        };
        plan.push((case, configs));
    }
    let mut rng = Rng::new(seed);
    for i in 0..samples {
        let case = random_case(&mut rng, i);
        let config = case.config.unwrap();
        plan.push((case, vec![config]));
    }
    plan
}

fn main() {
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let small = std::env::var("BERTH_IMAGE_SCALE").is_ok_and(|s| s == "small");
    let verbose = std::env::var_os("BERTH_IMAGE_VERBOSE").is_some();
    let seed = env_number("BERTH_IMAGE_SEED").unwrap_or(DEFAULT_SEED);
    let samples = env_number("BERTH_IMAGE_SAMPLES")
        .map(|n| n as usize)
        .unwrap_or(if small {
            SMALL_SAMPLES
        } else {
            DEFAULT_SAMPLES
        });
    println!(
        "images: BERTH_IMAGE_SEED={seed:#x} BERTH_IMAGE_SAMPLES={samples} scale={}",
        if small { "small" } else { "full" }
    );
    let plan = plan(small, seed, samples);
    let (mut passed, mut failed, mut parts, mut ok) = (0, 0, Vec::new(), true);
    for kind in Kind::ALL {
        match run_plan(kind, &plan, &filter, verbose) {
            Some(t) => {
                passed += t.passed;
                failed += t.failed;
                // An unsupported case is not a pass; a driver that passed nothing is a failure.
                ok &= t.failed == 0 && (t.passed > 0 || t.unsupported == 0);
                parts.push(format!(
                    "{}: {} passed ({} refused as unsupported), {} failed, {} unsupported, {:.1}s",
                    kind.name(),
                    t.passed,
                    t.refused_unsupported,
                    t.failed,
                    t.unsupported,
                    t.secs
                ));
            }
            None => parts.push(format!("{}: skipped", kind.name())),
        }
    }
    println!("{passed} passed, {failed} failed, {}", parts.join("; "));
    if !ok {
        std::process::exit(1);
    }
}

/// What one driver's run of the plan came to.
#[derive(Default)]
struct Tally {
    passed: usize,
    /// Of `passed`: refused by the LXC driver as unsupported where a refusal passes.
    refused_unsupported: usize,
    failed: usize,
    unsupported: usize,
    secs: f64,
}

/// Runs the selected cases against a driver of `kind`; `None` if this host has none.
fn run_plan(
    kind: Kind,
    plan: &[(Case, Vec<Config>)],
    filter: &[String],
    verbose: bool,
) -> Option<Tally> {
    let label = kind.name();
    if !kind.selected() {
        println!("images [{label}]: skipped: not in BERTH_TEST_DRIVERS");
        return None;
    }
    let driver = match suite_driver(kind) {
        Ok(driver) => driver,
        Err(why) => {
            println!("images [{label}]: skipped: {why}");
            return None;
        }
    };
    let env = Env::new(driver);
    let started = Instant::now();
    let mut tally = Tally::default();
    let mut index = 0;
    for (case, configs) in plan {
        for &config in configs {
            let title = format!("{} [{}]", case.name, config.label());
            if !filter.is_empty() && !filter.iter().any(|f| title.contains(f.as_str())) {
                continue;
            }
            index += 1;
            match run_case(&env, case, config, index) {
                Ok(how) => {
                    tally.passed += 1;
                    if how.starts_with("refused as unsupported") {
                        tally.refused_unsupported += 1;
                    }
                    println!("case [{label}] {title} ... ok");
                    if verbose {
                        println!("    {how}");
                    }
                }
                Err(NotPassed::Unsupported(why)) => {
                    tally.unsupported += 1;
                    println!("case [{label}] {title} ... unsupported: {why}");
                }
                Err(NotPassed::Failed(why)) => {
                    tally.failed += 1;
                    println!(
                        "case [{label}] {title} ... FAILED: {why} ({})",
                        describe(case)
                    );
                }
            }
        }
    }
    let _ = env.driver.delete(&env.sleeper, true);
    tally.secs = started.elapsed().as_secs_f64();
    eprintln!("images [{label}]: {:.1}s", tally.secs);
    drop(env);
    println!(
        "images [{label}]: {} passed ({} refused as unsupported), {} failed, {} unsupported",
        tally.passed, tally.refused_unsupported, tally.failed, tally.unsupported
    );
    Some(tally)
}
