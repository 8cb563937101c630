//! Everything the native platform checks before a side effect: the rootfs and bind sources,
//! options not supported yet, resources against this host's cgroups, the confinement (its
//! seccomp filter compiled), devices and their rules, and the namespaces to join, opened.

use std::os::fd::OwnedFd;

use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use runtime_core::lifecycle::Peers;
use runtime_core::{
    Command, DeviceRule, Error, NamespaceKind, NamespaceMode, ProcessConfig, Result, Validated,
};

use crate::mount_options::MountOptions;
use crate::platform::NativePlatform;
use crate::protocol::Confinement;
use crate::security::caps::ProcessCapabilities;
use crate::security::devices::ResolvedDevice;
use crate::security::{self, SeccompCache};

/// What [`check`] found and computed.
pub struct Checked {
    /// The namespaces the container joins, each with its fd: the fd is what the helper uses,
    /// so a path that goes away or a container that exits later changes nothing.
    pub join: Vec<(NamespaceKind, OwnedFd)>,
    pub confinement: Confinement,
    pub devices: Vec<ResolvedDevice>,
    pub device_rules: Vec<DeviceRule>,
}

/// A command's `windows` section is the Windows driver's: a Linux driver refuses it rather
/// than run an image meant for another system.
pub fn refuse_windows(command: &Command) -> Result<()> {
    match command.windows {
        Some(_) => Err(Error::Unsupported(
            "windows: the Windows section of a command (a Linux driver)".into(),
        )),
        None => Ok(()),
    }
}

pub fn check(
    platform: &NativePlatform,
    command: &Validated<Command>,
    peers: &Peers<'_, NativePlatform>,
) -> Result<Checked> {
    refuse_windows(command)?;
    check_rootfs(command)?;
    for (i, mount) in command.mounts.iter().enumerate() {
        let field = format!("mounts[{i}]");
        MountOptions::parse(&field, mount)?;
        if let (true, Some(source)) = (mount.is_bind(), &mount.source) {
            if let Err(err) = std::fs::metadata(source) {
                return Err(Error::invalid(
                    format!("{field}.source"),
                    format!("{source}: {err}"),
                ));
            }
        }
    }
    check_supported(command)?;
    check_idmapped_mounts(command)?;
    platform.cgroups.check(&command.resources)?;
    let confinement = confinement(&platform.seccomp, &command.process, "process")?;
    let mut devices = Vec::new();
    for (i, rule) in command.device_cgroup_rules.iter().enumerate() {
        security::devices::validate(rule, &format!("device_cgroup_rules[{i}]"))?;
    }
    let mut device_rules = Vec::new();
    for (i, device) in command.devices.iter().enumerate() {
        let resolved = security::devices::resolve_host_device(device, &format!("devices[{i}]"))?;
        device_rules.push(resolved.rule.clone());
        devices.push(resolved);
    }
    let device_rules = security::devices::rules(
        command.process.privileged,
        &command.device_cgroup_rules,
        &device_rules,
    );
    security::devices::policy(&device_rules)?;
    Ok(Checked {
        join: namespaces_to_join(command, peers)?,
        confinement,
        devices,
        device_rules,
    })
}

fn check_rootfs(command: &Command) -> Result<()> {
    match std::fs::metadata(&command.rootfs) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => {
            return Err(Error::invalid(
                "rootfs",
                format!("{} is not a directory", command.rootfs),
            ))
        }
        Err(err) => {
            return Err(Error::invalid(
                "rootfs",
                format!("{}: {err}", command.rootfs),
            ))
        }
    }
    if command.namespaces.is_new(NamespaceKind::Mount) {
        crate::helper::rootfs::check_image(&command.rootfs)?;
    }
    Ok(())
}

/// The capabilities and seccomp filter of a process, checked and compiled.
pub fn confinement(
    cache: &SeccompCache,
    process: &ProcessConfig,
    field: &str,
) -> Result<Confinement> {
    let capabilities = ProcessCapabilities::for_process(process, field)?;
    let seccomp = security::seccomp::program_for(
        process.seccomp.as_ref(),
        process.privileged,
        capabilities.bounding,
        cache,
        &format!("{field}.seccomp"),
    )?;
    Ok(Confinement {
        capabilities,
        seccomp: seccomp.map(|program| (*program).clone()),
    })
}

/// Options whose issue has not landed yet are refused rather than ignored.
fn check_supported(command: &Command) -> Result<()> {
    if matches!(
        command.namespaces.user,
        NamespaceMode::Path(_) | NamespaceMode::Container(_)
    ) {
        return Err(Error::Unsupported(
            "joining an existing user namespace (namespaces.user path or container)".into(),
        ));
    }
    Ok(())
}

/// An idmapped bind maps through the container's own user namespace: mappings of its own are
/// taken only when they are the container's (a user namespace of their own is not made).
fn check_idmapped_mounts(command: &Command) -> Result<()> {
    let (uids, gids) = command.effective_id_mappings();
    for (i, mount) in command.mounts.iter().enumerate() {
        for (name, given, container) in [
            ("uid_mappings", &mount.uid_mappings, &uids),
            ("gid_mappings", &mount.gid_mappings, &gids),
        ] {
            let Some(given) = given else { continue };
            if !command.namespaces.is_new(NamespaceKind::User) || given != container {
                return Err(Error::Unsupported(format!(
                    "mounts[{i}].{name}: an idmapped mount with mappings other than the \
                     container's own user namespace's"
                )));
            }
        }
    }
    Ok(())
}

/// Opens the namespaces the container joins.
fn namespaces_to_join(
    command: &Command,
    peers: &Peers<'_, NativePlatform>,
) -> Result<Vec<(NamespaceKind, OwnedFd)>> {
    let mut join = Vec::new();
    for kind in NamespaceKind::ALL {
        let field = format!("namespaces.{}", kind.field());
        let fd = match command.namespaces.get(kind) {
            NamespaceMode::Path(path) => open_namespace(path)
                .map_err(|errno| Error::invalid(field, format!("{path}: {}", errno.desc())))?,
            NamespaceMode::Container(other) => {
                let peer = peers.get(other).ok_or_else(|| {
                    Error::invalid(&field, format!("no container {other:?} in this driver"))
                })?;
                let path = format!("/proc/{}/ns/{}", peer.pid(), kind.name());
                let fd = open_namespace(&path)
                    .map_err(|errno| Error::invalid(&field, format!("{path}: {}", errno.desc())))?;
                // The pid could have been reused between the lookup and the open.
                if peer.has_exited() {
                    return Err(Error::invalid(
                        field,
                        format!("container {other:?} is not running"),
                    ));
                }
                fd
            }
            _ => continue,
        };
        join.push((kind, fd));
    }
    Ok(join)
}

fn open_namespace(path: &str) -> nix::Result<OwnedFd> {
    nix::fcntl::open(path, OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty())
}
