//! A [`Command`] as the text of an LXC 5 container configuration (`lxc.container.conf(5)`),
//! for `lxc-execute -f`.
//!
//! Every field of the command is either rendered here, handled elsewhere by the driver (the
//! program's arguments go on `lxc-execute`'s command line; cgroup limits and device rules are
//! written by berth into the cgroup LXC creates; masked and read-only paths and sysctls are
//! applied by berth's mount hook; the terminal is the host's), or refused with
//! [`Error::Unsupported`] naming it. `docs/lxc.md` has the table.
//!
//! LXC's configuration is line based, and its values lose their leading and trailing
//! whitespace: a value with a newline, or one whose ends are whitespace, is refused; mount
//! entries are fstab lines, so their paths and options may hold no whitespace at all.

use std::fmt::Write as _;
use std::path::Path;

use runtime_core::{Command, Error, Mount, NamespaceKind, NamespaceMode, ProcessConfig, Result};

use super::image;
use crate::mount_options::MountOptions;
use crate::security::CapabilitySet;

/// What the driver computes for the configuration, besides the command.
pub struct ConfigInputs<'a> {
    /// The hook command prefix, already shell-quoted, e.g.
    /// `'/usr/lib/berth/berth-init' lxc-hook '/run/berth/ID'`. Rendered as
    /// `lxc.hook.start-host` (LXC appends NAME, `lxc`, TYPE).
    pub hook: &'a str,
    /// Cgroup dirs relative to the hierarchy root: `lxc.cgroup.dir.container` and
    /// `lxc.cgroup.dir.monitor`.
    pub cgroup_container: &'a str,
    pub cgroup_monitor: &'a str,
    /// The bounding/effective set the init must keep
    /// ([`CapabilitySet::for_process`]): `lxc.cap.keep`.
    pub capabilities: CapabilitySet,
    /// Where the LXC seccomp profile text ([`super::seccomp::render`]) was written, if the
    /// process has a filter: `lxc.seccomp.profile`.
    pub seccomp_profile: Option<&'a Path>,
    /// Namespaces joined from other containers or paths: (kind, path like `/proc/PID/ns/net`)
    /// for `lxc.namespace.share.*`. Exactly the kinds whose mode is a path or a container.
    pub namespace_shares: &'a [(NamespaceKind, String)],
    /// `lxc.log.file` (level ERROR).
    pub log_file: &'a Path,
    /// Whether the host has AppArmor enabled (`/sys/module/apparmor/parameters/enabled`
    /// reads `Y`): refused for now; without it, `lxc.apparmor.profile = unconfined`.
    pub host_has_apparmor: bool,
}

/// How LXC mounts `/proc` and `/sys` (`lxc.mount.auto`):
/// - `proc:rw`, not `proc:mixed`: berth's hook applies Docker's masks and read-only paths to
///   `/proc` by fd, so LXC must not make `/proc/sys` a separate read-only bind;
/// - `sys:ro`: a fresh read-only sysfs, as the native driver's `/sys`.
///
/// No `cgroup`: every `cgroup:*` mode puts a writable tmpfs on `/sys/fs/cgroup` (LXC's
/// choice), which the attack suite counts as a writable mount under `/sys`; the native
/// driver mounts no cgroup filesystem either.
pub const MOUNT_AUTO: &str = "proc:rw sys:ro";
/// The same with a read-write sysfs, for `writable_sysfs` (a privileged container).
pub const MOUNT_AUTO_WRITABLE_SYS: &str = "proc:rw sys:rw";

/// What the native driver mounts in `/dev` besides LXC's autodev nodes and `pts`: POSIX
/// shared memory and message queues, new filesystems of the container's own.
const DEV_MOUNTS: [&str; 2] = [
    "shm dev/shm tmpfs rw,nosuid,nodev,noexec,mode=1777,create=dir 0 0",
    "mqueue dev/mqueue mqueue rw,nosuid,nodev,noexec,create=dir 0 0",
];

/// The configuration text of `command`. Reads the image's `/etc/passwd` and `/etc/group`
/// ([`image::identity`]) for the user and groups, and stats bind sources on the host (a file
/// bind gets `create=file`).
pub fn render(command: &Command, inputs: &ConfigInputs<'_>) -> Result<String> {
    let mut out = Config::default();
    let process = &command.process;

    // The rootfs.
    let rootfs = fstab_word("rootfs", &command.rootfs)?;
    out.key("lxc.rootfs.path", format!("dir:{rootfs}"));
    let mut rootfs_options = Vec::new();
    if command.readonly_rootfs {
        rootfs_options.push("ro");
    }
    if command.idmapped_rootfs {
        rootfs_options.push("idmap=container");
    }
    if !rootfs_options.is_empty() {
        out.key("lxc.rootfs.options", rootfs_options.join(","));
    }

    namespaces(command, inputs, &mut out)?;

    // The standard filesystems and /dev.
    out.key(
        "lxc.mount.auto",
        if command.writable_sysfs {
            MOUNT_AUTO_WRITABLE_SYS
        } else {
            MOUNT_AUTO
        },
    );
    out.key("lxc.autodev", "1");
    out.key("lxc.tty.max", "0");
    out.key("lxc.pty.max", "1024");
    out.key("lxc.console.path", "none");
    for entry in DEV_MOUNTS {
        out.key("lxc.mount.entry", entry);
    }

    for (i, mount) in command.mounts.iter().enumerate() {
        out.key("lxc.mount.entry", mount_entry(i, mount)?);
    }
    for (field, set, why) in [
        (
            "device_nodes",
            !command.device_nodes.is_empty(),
            "LXC 5.0.2 makes no device nodes for a configuration entry",
        ),
        (
            "rootfs_propagation",
            command.rootfs_propagation.is_some(),
            "berth does not map the root's propagation to LXC's lxc.rootfs.options",
        ),
        (
            "personality",
            command.personality.is_some(),
            "berth does not map it to LXC's lxc.arch",
        ),
        (
            "domainname",
            command.domainname.is_some(),
            "LXC sets no NIS domain name",
        ),
        (
            "dev_noexec",
            command.dev_noexec,
            "LXC's lxc.autodev mounts /dev with options of its own",
        ),
        (
            "init",
            command.init,
            "lxc-execute runs LXC's own init (init.lxc) as pid 1; berth's would be a second one",
        ),
    ] {
        if set {
            return Err(unsupported(field, why));
        }
    }
    // LXC gives its init a new session keyring by default, as berth's native driver does.
    if command.share_session_keyring {
        out.key("lxc.keyring.session", "0");
    }
    if !command.devices.is_empty() {
        return Err(unsupported(
            "devices",
            "LXC 5.0.2 makes no device nodes for a configuration entry, and a bind of the \
             host's node would share its inode (a chmod inside would change the host's)",
        ));
    }

    // The process. Its arguments go on lxc-execute's command line.
    refuse_process_fields(process)?;
    let identity = image::identity(&command.rootfs, process)?;
    let mut env = process.effective_env();
    if !env.iter().any(|kv| kv.starts_with("HOME=")) {
        env.push(format!("HOME={}", identity.home));
    }
    for (i, kv) in env.iter().enumerate() {
        let at = if i < process.env.len() {
            format!("process.env[{i}]")
        } else {
            "process.env".to_string()
        };
        let (key, _) = kv.split_once('=').unwrap_or((kv, ""));
        if key.chars().any(char::is_whitespace) {
            return Err(unsupported(
                &at,
                "a variable name with whitespace cannot be written in LXC's configuration",
            ));
        }
        out.key("lxc.environment", value(&at, kv)?);
    }
    out.key("lxc.init.cwd", value("process.cwd", &process.cwd)?);
    out.key("lxc.init.uid", identity.uid.to_string());
    out.key("lxc.init.gid", identity.gid.to_string());
    let groups: Vec<String> = identity.groups.iter().map(u32::to_string).collect();
    out.key("lxc.init.groups", groups.join(","));
    out.key(
        "lxc.no_new_privs",
        if process.no_new_privileges { "1" } else { "0" },
    );
    for (i, limit) in process.rlimits.iter().enumerate() {
        let name = limit.canonical_name().ok_or_else(|| {
            Error::invalid(
                format!("process.rlimits[{i}]"),
                format!("unknown resource limit {:?}", limit.kind),
            )
        })?;
        let number = |n: u64| {
            if n == u64::MAX {
                "unlimited".to_string()
            } else {
                n.to_string()
            }
        };
        out.key(
            &format!(
                "lxc.prlimit.{}",
                name["RLIMIT_".len()..].to_ascii_lowercase()
            ),
            format!("{}:{}", number(limit.soft), number(limit.hard)),
        );
    }
    out.key("lxc.cap.keep", cap_keep(inputs.capabilities));
    if let Some(profile) = inputs.seccomp_profile {
        out.key(
            "lxc.seccomp.profile",
            path_value("seccomp profile", profile)?,
        );
    }
    if inputs.host_has_apparmor {
        return Err(unsupported(
            "process",
            "this host has AppArmor enabled, and berth has no AppArmor profile for LXC yet",
        ));
    }
    out.key("lxc.apparmor.profile", "unconfined");

    // The cgroups LXC creates; berth writes the limits and device rules into them.
    out.key(
        "lxc.cgroup.dir.container",
        value("cgroup_parent", inputs.cgroup_container)?,
    );
    out.key(
        "lxc.cgroup.dir.monitor",
        value("cgroup_parent", inputs.cgroup_monitor)?,
    );

    out.key("lxc.log.file", path_value("log file", inputs.log_file)?);
    out.key("lxc.log.level", "ERROR");

    let hook = value("hook", inputs.hook)?;
    out.key("lxc.hook.version", "0");
    out.key("lxc.hook.start-host", hook);
    Ok(out.text)
}

#[derive(Default)]
struct Config {
    text: String,
}

impl Config {
    fn key(&mut self, key: &str, value: impl AsRef<str>) {
        let _ = writeln!(self.text, "{key} = {}", value.as_ref());
    }
}

/// The init's fields LXC has no plain key for. (An exec goes through berth's helper, as the
/// native driver's, and has them all.)
fn refuse_process_fields(process: &ProcessConfig) -> Result<()> {
    let refusals = [
        (
            "process.capabilities",
            process.capabilities.is_some(),
            "exact capability sets (LXC keeps one set, lxc.cap.keep, and sets the others its way)",
        ),
        (
            "process.umask",
            process.umask.is_some(),
            "a umask (LXC has no key for the init's)",
        ),
        (
            "process.oom_score_adj",
            process.oom_score_adj.is_some(),
            "an oom_score_adj (not mapped to lxc.proc.oom_score_adj yet)",
        ),
    ];
    match refusals.into_iter().find(|(_, given, _)| *given) {
        Some((field, _, what)) => Err(unsupported(field, what)),
        None => Ok(()),
    }
}

fn unsupported(field: &str, why: &str) -> Error {
    Error::Unsupported(format!("{field}: {why} (the LXC driver)"))
}

/// A value for one line: no newline (LXC's configuration is line based), and no whitespace
/// at either end (LXC trims it).
fn value<'v>(field: &str, text: &'v str) -> Result<&'v str> {
    if text.contains(['\n', '\r', '\0']) {
        return Err(unsupported(
            field,
            "a newline cannot be written in LXC's line-based configuration",
        ));
    }
    if text.trim() != text {
        return Err(unsupported(
            field,
            "LXC trims the whitespace at the ends of a configuration value",
        ));
    }
    Ok(text)
}

fn path_value<'p>(what: &str, path: &'p Path) -> Result<&'p str> {
    let text = path
        .to_str()
        .ok_or_else(|| Error::Internal(format!("the {what} path {path:?} is not UTF-8")))?;
    value(what, text).map_err(|_| {
        Error::Internal(format!(
            "the {what} path {text:?} cannot be written in LXC's configuration"
        ))
    })
}

/// A word of an fstab line (or of `lxc.rootfs.path`): no whitespace at all.
fn fstab_word<'w>(field: &str, text: &'w str) -> Result<&'w str> {
    if text.is_empty() || text.chars().any(char::is_whitespace) {
        return Err(unsupported(
            field,
            "LXC reads mount entries as fstab lines, so the path cannot hold whitespace",
        ));
    }
    Ok(text)
}

/// `lxc.cap.keep`: LXC's lowercase names without `cap_`, or `none`.
fn cap_keep(set: CapabilitySet) -> String {
    if set.bits() == 0 {
        return "none".to_string();
    }
    set.names()
        .iter()
        .map(|name| name.trim_start_matches("CAP_").to_ascii_lowercase())
        .collect::<Vec<_>>()
        .join(" ")
}

/// `lxc.namespace.clone` (the `/proc/PID/ns` names), `lxc.namespace.share.*`, the user
/// namespace's `lxc.idmap`, the hostname and the network.
fn namespaces(command: &Command, inputs: &ConfigInputs<'_>, out: &mut Config) -> Result<()> {
    let ns = &command.namespaces;
    let mut clone = Vec::new();
    let mut shares = Vec::new();
    for kind in NamespaceKind::ALL {
        let field = format!("namespaces.{}", kind.field());
        match ns.get(kind) {
            NamespaceMode::Private | NamespaceMode::None => clone.push(kind.name()),
            NamespaceMode::Host if kind == NamespaceKind::Mount => {
                return Err(Error::invalid(field, "\"host\" is not allowed"))
            }
            NamespaceMode::Host => {}
            NamespaceMode::Path(_) | NamespaceMode::Container(_) => {
                if kind == NamespaceKind::Mount {
                    return Err(unsupported(
                        &field,
                        "LXC builds the rootfs in a mount namespace of its own",
                    ));
                }
                if kind == NamespaceKind::User {
                    return Err(unsupported(
                        &field,
                        "joining a user namespace needs LXC to know its id mapping",
                    ));
                }
                let mut paths = inputs.namespace_shares.iter().filter(|(k, _)| *k == kind);
                let Some((_, path)) = paths.next() else {
                    return Err(Error::Internal(format!(
                        "{field}: no namespace path was given for it"
                    )));
                };
                shares.push((kind, value(&field, path)?));
            }
        }
    }
    if let Some((kind, _)) = inputs.namespace_shares.iter().find(|(kind, _)| {
        !matches!(
            ns.get(*kind),
            NamespaceMode::Path(_) | NamespaceMode::Container(_)
        )
    }) {
        return Err(Error::Internal(format!(
            "a namespace path was given for namespaces.{}, which is not joined",
            kind.field()
        )));
    }
    // LXC's order: as the kernel's flags; any order is accepted.
    out.key("lxc.namespace.clone", clone.join(" "));
    for (kind, path) in shares {
        out.key(&format!("lxc.namespace.share.{}", kind.name()), path);
    }
    if ns.is_new(NamespaceKind::User) {
        if !ns.is_new(NamespaceKind::Net) {
            return Err(unsupported(
                "namespaces.net",
                "with a private user namespace, a network namespace it does not own: the \
                 kernel refuses LXC's sysfs mount (sys:ro) there",
            ));
        }
        let (uids, gids) = command.effective_id_mappings();
        if gids.is_empty() {
            return Err(unsupported(
                "gid_mappings",
                "LXC maps groups for the container's setup and cannot run without a gid \
                 mapping",
            ));
        }
        for (letter, mappings) in [("u", &uids), ("g", &gids)] {
            for m in mappings.iter() {
                out.key(
                    "lxc.idmap",
                    format!("{letter} {} {} {}", m.container_id, m.host_id, m.size),
                );
            }
        }
    }
    if ns.is_new(NamespaceKind::Uts) {
        out.key(
            "lxc.uts.name",
            value("hostname", &command.effective_hostname())?,
        );
    }
    if ns.is_new(NamespaceKind::Net) {
        // A namespace with only lo, brought up as the native driver brings it up.
        out.key("lxc.net.0.type", "empty");
        out.key("lxc.net.0.flags", "up");
    }
    Ok(())
}

/// Options LXC reads itself in a mount entry: never from the command.
const LXC_OPTIONS: [&str; 4] = ["create=", "optional", "relative", "remount"];

/// `SRC DEST TYPE OPTIONS 0 0`, DEST relative to the rootfs.
fn mount_entry(i: usize, mount: &Mount) -> Result<String> {
    let field = format!("mounts[{i}]");
    // Checks the options as the native driver does (a bind takes no filesystem data).
    MountOptions::parse(&field, mount)?;
    if mount.uid_mappings.is_some() || mount.gid_mappings.is_some() {
        return Err(unsupported(
            &format!("{field}.uid_mappings"),
            "berth does not give LXC idmapped mounts",
        ));
    }
    for (j, option) in mount.options.iter().enumerate() {
        let at = format!("{field}.options[{j}]");
        if crate::mount_options::is_recursive_option(option)
            || matches!(
                option.as_str(),
                "tmpcopyup"
                    | "idmap"
                    | "ridmap"
                    | "nosymfollow"
                    | "symfollow"
                    | "lazytime"
                    | "nolazytime"
                    | "mand"
                    | "nomand"
            )
        {
            return Err(unsupported(
                &at,
                &format!("the mount option {option:?} is the native driver's (berth does not pass it to LXC)"),
            ));
        }
        fstab_word(&at, option)?;
        if option.contains(',')
            || LXC_OPTIONS
                .iter()
                .any(|lxc| option == lxc.trim_end_matches('=') || option.starts_with(lxc))
        {
            return Err(Error::invalid(
                at,
                format!("{option:?} is not a mount option"),
            ));
        }
    }
    let parts = crate::helper::rootfs::resolve::components(&mount.destination);
    if parts.contains(&"..") {
        return Err(Error::invalid(
            format!("{field}.destination"),
            format!(
                "{}: a '..' component (LXC resolves the destination by path): refused",
                mount.destination
            ),
        ));
    }
    let dest = parts.join("/");
    fstab_word(&format!("{field}.destination"), &dest)?;
    let mut options: Vec<String> = Vec::new();
    let (source, kind, create) = if mount.is_bind() {
        let source = mount.source.as_deref().unwrap_or_default();
        fstab_word(&format!("{field}.source"), source)?;
        if !mount.options.iter().any(|o| o == "bind" || o == "rbind") {
            options.push("bind".into());
        }
        let is_dir = std::fs::metadata(source).map_or(true, |meta| meta.is_dir());
        (
            source,
            "none",
            if is_dir { "create=dir" } else { "create=file" },
        )
    } else if mount.kind == "cgroup" {
        // The container's view of its cgroups: the native driver makes runc's v1 layout on a
        // v1 host; LXC is given the unified hierarchy, all of it on a cgroup v2 host.
        ("cgroup2", "cgroup2", "create=dir")
    } else {
        let source = mount.source.as_deref().unwrap_or(&mount.kind);
        fstab_word(&format!("{field}.source"), source)?;
        fstab_word(&format!("{field}.type"), &mount.kind)?;
        (source, mount.kind.as_str(), "create=dir")
    };
    options.extend(mount.options.iter().cloned());
    options.push(create.into());
    Ok(format!("{source} {dest} {kind} {} 0 0", options.join(",")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use runtime_core::{HostDevice, IdMapping, Rlimit};
    use std::path::PathBuf;

    /// A rootfs with an /etc/passwd and /etc/group, removed on drop.
    struct Rootfs(PathBuf);

    impl Rootfs {
        fn new(name: &str) -> Rootfs {
            let dir = std::env::temp_dir()
                .join(format!("berth-lxc-config-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(dir.join("etc")).unwrap();
            std::fs::write(
                dir.join("etc/passwd"),
                "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n",
            )
            .unwrap();
            std::fs::write(dir.join("etc/group"), "root:x:0:\nwheel:x:10:app\n").unwrap();
            Rootfs(dir)
        }

        fn command(&self) -> Command {
            Command::new(
                "c1",
                self.0.to_str().unwrap(),
                ProcessConfig::new(["/bin/sh"]),
            )
        }
    }

    impl Drop for Rootfs {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn inputs() -> ConfigInputs<'static> {
        ConfigInputs {
            hook: "'/usr/lib/berth/berth-init' lxc-hook '/run/berth/c1'",
            cgroup_container: "berth/c1",
            cgroup_monitor: "berth/c1.monitor",
            capabilities: CapabilitySet::docker_default(),
            seccomp_profile: Some(Path::new("/run/berth/c1/seccomp")),
            namespace_shares: &[],
            log_file: Path::new("/run/berth/c1/lxc.log"),
            host_has_apparmor: false,
        }
    }

    fn lines(text: &str) -> Vec<&str> {
        text.lines().collect()
    }

    fn has(text: &str, line: &str) -> bool {
        text.lines().any(|l| l == line)
    }

    fn unsupported_naming(result: Result<String>, field: &str) {
        let err = result.unwrap_err();
        assert_eq!(err.kind(), runtime_core::ErrorKind::Unsupported, "{err}");
        assert!(
            err.to_string().contains(&format!("{field}: ")),
            "{err} lacks {field}"
        );
        assert!(err.to_string().contains("(the LXC driver)"), "{err}");
    }

    #[test]
    fn the_default_command_renders_the_measured_base() {
        let rootfs = Rootfs::new("base");
        let command = rootfs.command();
        let text = render(&command, &inputs()).unwrap();
        let root = rootfs.0.to_str().unwrap();
        let expected = format!(
            "lxc.rootfs.path = dir:{root}\n\
             lxc.namespace.clone = pid ipc uts net cgroup mnt\n\
             lxc.uts.name = c1\n\
             lxc.net.0.type = empty\n\
             lxc.net.0.flags = up\n\
             lxc.mount.auto = proc:rw sys:ro\n\
             lxc.autodev = 1\n\
             lxc.tty.max = 0\n\
             lxc.pty.max = 1024\n\
             lxc.console.path = none\n\
             lxc.mount.entry = shm dev/shm tmpfs rw,nosuid,nodev,noexec,mode=1777,create=dir 0 0\n\
             lxc.mount.entry = mqueue dev/mqueue mqueue rw,nosuid,nodev,noexec,create=dir 0 0\n\
             lxc.environment = PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n\
             lxc.environment = HOME=/root\n\
             lxc.init.cwd = /\n\
             lxc.init.uid = 0\n\
             lxc.init.gid = 0\n\
             lxc.init.groups = 0\n\
             lxc.no_new_privs = 1\n\
             lxc.cap.keep = chown dac_override fowner fsetid kill setgid setuid setpcap \
             net_bind_service net_raw sys_chroot mknod audit_write setfcap\n\
             lxc.seccomp.profile = /run/berth/c1/seccomp\n\
             lxc.apparmor.profile = unconfined\n\
             lxc.cgroup.dir.container = berth/c1\n\
             lxc.cgroup.dir.monitor = berth/c1.monitor\n\
             lxc.log.file = /run/berth/c1/lxc.log\n\
             lxc.log.level = ERROR\n\
             lxc.hook.version = 0\n\
             lxc.hook.start-host = '/usr/lib/berth/berth-init' lxc-hook '/run/berth/c1'\n"
        );
        assert_eq!(text, expected);
        // The arguments are not in the configuration.
        assert!(!text.contains("/bin/sh"));
    }

    #[test]
    fn a_writable_sysfs_and_the_cgroup_mount() {
        let rootfs = Rootfs::new("sysfs");
        let mut command = rootfs.command();
        command.writable_sysfs = true;
        command.mounts.push(Mount {
            source: Some("cgroup".into()),
            destination: "/sys/fs/cgroup".into(),
            kind: "cgroup".into(),
            options: vec!["ro".into(), "nosuid".into()],
            uid_mappings: None,
            gid_mappings: None,
        });
        let text = render(&command, &inputs()).unwrap();
        assert!(has(&text, "lxc.mount.auto = proc:rw sys:rw"), "{text}");
        assert!(
            has(
                &text,
                "lxc.mount.entry = cgroup2 sys/fs/cgroup cgroup2 ro,nosuid,create=dir 0 0"
            ),
            "{text}"
        );
    }

    #[test]
    fn the_rootfs_options() {
        let rootfs = Rootfs::new("rootfs");
        let mut command = rootfs.command();
        command.readonly_rootfs = true;
        assert!(has(
            &render(&command, &inputs()).unwrap(),
            "lxc.rootfs.options = ro"
        ));
        command.namespaces.user = NamespaceMode::Private;
        command.idmapped_rootfs = true;
        assert!(has(
            &render(&command, &inputs()).unwrap(),
            "lxc.rootfs.options = ro,idmap=container"
        ));
        let mut command = rootfs.command();
        command.rootfs = "/srv/with space".into();
        unsupported_naming(render(&command, &inputs()), "rootfs");
    }

    #[test]
    fn namespaces_are_cloned_kept_or_shared() {
        let rootfs = Rootfs::new("ns");
        let mut command = rootfs.command();
        command.namespaces.net = NamespaceMode::Host;
        command.namespaces.pid = NamespaceMode::Host;
        command.namespaces.uts = NamespaceMode::Container("other".into());
        command.namespaces.ipc = NamespaceMode::Path("/proc/42/ns/ipc".into());
        let shares = [
            (NamespaceKind::Uts, "/proc/7/ns/uts".to_string()),
            (NamespaceKind::Ipc, "/proc/42/ns/ipc".to_string()),
        ];
        let mut given = inputs();
        given.namespace_shares = &shares;
        let text = render(&command, &given).unwrap();
        assert!(has(&text, "lxc.namespace.clone = cgroup mnt"), "{text}");
        assert!(has(&text, "lxc.namespace.share.ipc = /proc/42/ns/ipc"));
        assert!(has(&text, "lxc.namespace.share.uts = /proc/7/ns/uts"));
        // No hostname without a uts namespace of its own, no net.0 with the host's network.
        assert!(
            !text.contains("lxc.uts.name") && !text.contains("lxc.net."),
            "{text}"
        );
        assert!(!text.contains("namespace.keep"));
        // A joined kind without its path, or a path for a kind that is not joined.
        let mut missing = inputs();
        missing.namespace_shares = &shares[..1];
        let err = render(&command, &missing).unwrap_err();
        assert_eq!(err.kind(), runtime_core::ErrorKind::Internal, "{err}");
        let mut extra = inputs();
        extra.namespace_shares = &shares;
        assert!(render(&rootfs.command(), &extra).is_err());
    }

    #[test]
    fn joining_a_mount_or_user_namespace_is_unsupported() {
        let rootfs = Rootfs::new("nsjoin");
        let shares = [
            (NamespaceKind::Mount, "/proc/7/ns/mnt".to_string()),
            (NamespaceKind::User, "/proc/7/ns/user".to_string()),
        ];
        let mut given = inputs();
        given.namespace_shares = &shares;
        let mut command = rootfs.command();
        command.namespaces.mount = NamespaceMode::Container("other".into());
        unsupported_naming(render(&command, &given), "namespaces.mount");
        let mut command = rootfs.command();
        command.namespaces.user = NamespaceMode::Path("/proc/7/ns/user".into());
        unsupported_naming(render(&command, &given), "namespaces.user");
    }

    #[test]
    fn a_user_namespace_maps_ids() {
        let rootfs = Rootfs::new("userns");
        let mut command = rootfs.command();
        command.namespaces.user = NamespaceMode::Private;
        let text = render(&command, &inputs()).unwrap();
        assert!(text.contains("lxc.namespace.clone = user pid"), "{text}");
        assert!(has(&text, "lxc.idmap = u 0 100000 65536"));
        assert!(has(&text, "lxc.idmap = g 0 100000 65536"));
        command.uid_mappings = Some(vec![
            IdMapping {
                container_id: 0,
                host_id: 200000,
                size: 1,
            },
            IdMapping {
                container_id: 1,
                host_id: 300001,
                size: 999,
            },
        ]);
        let text = render(&command, &inputs()).unwrap();
        assert!(has(&text, "lxc.idmap = u 0 200000 1"));
        assert!(has(&text, "lxc.idmap = u 1 300001 999"));
        command.gid_mappings = Some(vec![]);
        unsupported_naming(render(&command, &inputs()), "gid_mappings");
        command.gid_mappings = None;
        command.namespaces.net = NamespaceMode::Host;
        unsupported_naming(render(&command, &inputs()), "namespaces.net");
    }

    #[test]
    fn the_environment_is_one_line_per_variable() {
        let rootfs = Rootfs::new("env");
        let mut command = rootfs.command();
        command.process.env = vec!["PATH=/bin".into(), "A=b c".into(), "HOME=/h".into()];
        let text = render(&command, &inputs()).unwrap();
        let env: Vec<&str> = lines(&text)
            .into_iter()
            .filter(|l| l.starts_with("lxc.environment"))
            .collect();
        assert_eq!(
            env,
            [
                "lxc.environment = PATH=/bin",
                "lxc.environment = A=b c",
                "lxc.environment = HOME=/h"
            ]
        );
        for bad in ["A=x\ny", "A=trailing ", "A=x\r"] {
            command.process.env = vec!["PATH=/bin".into(), bad.into()];
            unsupported_naming(render(&command, &inputs()), "process.env[1]");
        }
        command.process.env = vec!["MY VAR=1".into()];
        unsupported_naming(render(&command, &inputs()), "process.env[0]");
    }

    #[test]
    fn the_user_and_groups_come_from_the_image() {
        let rootfs = Rootfs::new("user");
        let mut command = rootfs.command();
        command.process.user = "app".into();
        command.process.additional_gids = vec![5];
        command.process.cwd = "/home/app".into();
        let text = render(&command, &inputs()).unwrap();
        assert!(has(&text, "lxc.init.uid = 1000"));
        assert!(has(&text, "lxc.init.gid = 1000"));
        assert!(has(&text, "lxc.init.groups = 5,10,1000"));
        assert!(has(&text, "lxc.init.cwd = /home/app"));
        assert!(has(&text, "lxc.environment = HOME=/home/app"));
        command.process.user = "nobody".into();
        let err = render(&command, &inputs()).unwrap_err();
        assert!(err.to_string().contains("no user \"nobody\""), "{err}");
        command.process.user = "0".into();
        command.process.cwd = "/a\nb".into();
        unsupported_naming(render(&command, &inputs()), "process.cwd");
    }

    #[test]
    fn exact_groups_replace_the_computed_ones() {
        let rootfs = Rootfs::new("exact-groups");
        let mut command = rootfs.command();
        command.process.user = "app".into();
        command.process.groups = Some(vec![7, 5]);
        let text = render(&command, &inputs()).unwrap();
        assert!(has(&text, "lxc.init.gid = 1000"));
        assert!(has(&text, "lxc.init.groups = 5,7"));
        // None at all: LXC reads the empty value as "drop every group".
        command.process.groups = Some(vec![]);
        let text = render(&command, &inputs()).unwrap();
        assert!(text
            .lines()
            .any(|line| line.trim_end() == "lxc.init.groups ="));
    }

    #[test]
    fn the_init_s_exact_capabilities_umask_and_oom_score_adj_are_unsupported() {
        let rootfs = Rootfs::new("proc-fields");
        let mut command = rootfs.command();
        command.process.capabilities = Some(runtime_core::CapabilitySets::default());
        unsupported_naming(render(&command, &inputs()), "process.capabilities");
        command.process.capabilities = None;
        command.process.umask = Some(0o077);
        unsupported_naming(render(&command, &inputs()), "process.umask");
        command.process.umask = None;
        command.process.oom_score_adj = Some(100);
        unsupported_naming(render(&command, &inputs()), "process.oom_score_adj");
    }

    #[test]
    fn privileges_rlimits_and_capabilities() {
        let rootfs = Rootfs::new("privs");
        let mut command = rootfs.command();
        command.process.no_new_privileges = false;
        command.process.rlimits = vec![
            Rlimit {
                kind: "RLIMIT_NOFILE".into(),
                soft: 512,
                hard: 1024,
            },
            Rlimit {
                kind: "core".into(),
                soft: 0,
                hard: u64::MAX,
            },
        ];
        let mut given = inputs();
        given.capabilities = CapabilitySet::empty();
        given.seccomp_profile = None;
        let text = render(&command, &given).unwrap();
        assert!(has(&text, "lxc.no_new_privs = 0"));
        assert!(has(&text, "lxc.prlimit.nofile = 512:1024"));
        assert!(has(&text, "lxc.prlimit.core = 0:unlimited"));
        assert!(has(&text, "lxc.cap.keep = none"));
        assert!(!text.contains("lxc.seccomp"));
        let mut admin = CapabilitySet::empty();
        admin.insert(21);
        admin.insert(40);
        assert_eq!(cap_keep(admin), "sys_admin checkpoint_restore");
    }

    #[test]
    fn apparmor_hosts_are_unsupported() {
        let rootfs = Rootfs::new("aa");
        let mut given = inputs();
        given.host_has_apparmor = true;
        unsupported_naming(render(&rootfs.command(), &given), "process");
    }

    #[test]
    fn host_devices_are_unsupported() {
        let rootfs = Rootfs::new("dev");
        let mut command = rootfs.command();
        command.devices = vec![HostDevice {
            path: "/dev/fuse".into(),
            container_path: None,
            access: "rwm".into(),
        }];
        unsupported_naming(render(&command, &inputs()), "devices");
    }

    #[test]
    fn the_oci_fields_of_the_native_driver_are_unsupported() {
        let rootfs = Rootfs::new("oci");
        type Set = fn(&mut Command);
        let sets: [(&str, Set); 6] = [
            ("device_nodes", |c| {
                c.device_nodes = vec![runtime_core::DeviceNode {
                    path: "/dev/x".into(),
                    kind: 'c',
                    major: Some(1),
                    minor: Some(3),
                    file_mode: None,
                    uid: None,
                    gid: None,
                }]
            }),
            ("rootfs_propagation", |c| {
                c.rootfs_propagation = Some("rslave".into())
            }),
            ("personality", |c| {
                c.personality = Some(runtime_core::Personality {
                    domain: "LINUX32".into(),
                    flags: vec![],
                })
            }),
            ("domainname", |c| c.domainname = Some("example.org".into())),
            ("dev_noexec", |c| c.dev_noexec = true),
            ("init", |c| c.init = true),
        ];
        for (field, set) in sets {
            let mut command = rootfs.command();
            set(&mut command);
            unsupported_naming(render(&command, &inputs()), field);
        }
        for option in ["rro", "tmpcopyup", "nosymfollow", "ridmap"] {
            let mut command = rootfs.command();
            command.mounts = vec![Mount {
                source: None,
                destination: "/t".into(),
                kind: "tmpfs".into(),
                options: vec!["nosuid".into(), option.into()],
                uid_mappings: None,
                gid_mappings: None,
            }];
            if option == "ridmap" {
                command.mounts[0].kind = "bind".into();
                command.mounts[0].source = Some("/srv".into());
            }
            unsupported_naming(render(&command, &inputs()), "mounts[0].options[1]");
        }
    }

    #[test]
    fn mounts_are_fstab_lines_relative_to_the_rootfs() {
        let rootfs = Rootfs::new("mounts");
        let host_file = rootfs.0.join("etc/passwd");
        let host_file = host_file.to_str().unwrap();
        let mut command = rootfs.command();
        command.mounts = vec![
            Mount {
                source: Some("/srv/data".into()),
                destination: "/data/x/".into(),
                kind: "bind".into(),
                options: vec!["rbind".into(), "ro".into(), "nosuid".into()],
                uid_mappings: None,
                gid_mappings: None,
            },
            Mount {
                source: Some(host_file.into()),
                destination: "//etc/./hostfile".into(),
                kind: "bind".into(),
                options: vec![],
                uid_mappings: None,
                gid_mappings: None,
            },
            Mount {
                source: None,
                destination: "/scratch".into(),
                kind: "tmpfs".into(),
                options: vec!["size=16m".into(), "mode=755".into(), "rshared".into()],
                uid_mappings: None,
                gid_mappings: None,
            },
            Mount {
                source: Some("/srv/ro".into()),
                destination: "/ro".into(),
                kind: "none".into(),
                options: vec!["bind".into(), "ro".into()],
                uid_mappings: None,
                gid_mappings: None,
            },
        ];
        let text = render(&command, &inputs()).unwrap();
        let entries: Vec<&str> = lines(&text)
            .into_iter()
            .filter(|l| l.starts_with("lxc.mount.entry"))
            .skip(DEV_MOUNTS.len())
            .collect();
        assert_eq!(
            entries,
            [
                "lxc.mount.entry = /srv/data data/x none rbind,ro,nosuid,create=dir 0 0"
                    .to_string(),
                format!("lxc.mount.entry = {host_file} etc/hostfile none bind,create=file 0 0"),
                "lxc.mount.entry = tmpfs scratch tmpfs size=16m,mode=755,rshared,create=dir 0 0"
                    .to_string(),
                "lxc.mount.entry = /srv/ro ro none bind,ro,create=dir 0 0".to_string(),
            ]
        );
    }

    #[test]
    fn mounts_lxc_cannot_write_are_refused() {
        let rootfs = Rootfs::new("badmounts");
        let tmpfs = |destination: &str, options: &[&str]| Mount {
            source: None,
            destination: destination.into(),
            kind: "tmpfs".into(),
            options: options.iter().map(|o| o.to_string()).collect(),
            uid_mappings: None,
            gid_mappings: None,
        };
        let mut command = rootfs.command();
        command.mounts = vec![tmpfs("/with space", &[])];
        unsupported_naming(render(&command, &inputs()), "mounts[0].destination");
        command.mounts = vec![tmpfs("/ok", &[]), tmpfs("/x", &["mode=7 55"])];
        unsupported_naming(render(&command, &inputs()), "mounts[1].options[0]");
        command.mounts = vec![Mount {
            source: Some("/srv/a b".into()),
            ..tmpfs("/x", &["bind"])
        }];
        unsupported_naming(render(&command, &inputs()), "mounts[0].source");
        // LXC's own options, '..', and what the native driver refuses too.
        for options in [&["create=dir"][..], &["optional"], &["size=1m,mode=700"]] {
            command.mounts = vec![tmpfs("/x", options)];
            let err = render(&command, &inputs()).unwrap_err();
            assert_eq!(
                err.kind(),
                runtime_core::ErrorKind::InvalidArgument,
                "{err}"
            );
            assert!(err.to_string().contains("mounts[0].options[0]"), "{err}");
        }
        command.mounts = vec![tmpfs("/x/../../etc", &[])];
        let err = render(&command, &inputs()).unwrap_err();
        assert!(err.to_string().contains("mounts[0].destination"), "{err}");
        command.mounts = vec![Mount {
            source: Some("/srv".into()),
            ..tmpfs("/x", &["bind", "size=1m"])
        }];
        let err = render(&command, &inputs()).unwrap_err();
        assert!(err.to_string().contains("mounts[0].options"), "{err}");
    }
}
