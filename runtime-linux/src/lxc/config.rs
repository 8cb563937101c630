//! TEMPORARY stand-in, replaced by the real renderer from branch lxc-config.
use crate::security::CapabilitySet;
use runtime_core::{Command, NamespaceKind, Result};
pub struct ConfigInputs<'a> {
    pub hook: &'a str,
    pub cgroup_container: &'a str,
    pub cgroup_monitor: &'a str,
    pub capabilities: CapabilitySet,
    pub seccomp_profile: Option<&'a std::path::Path>,
    pub namespace_shares: &'a [(NamespaceKind, String)],
    pub log_file: &'a std::path::Path,
    pub host_has_apparmor: bool,
}
pub fn render(command: &Command, inputs: &ConfigInputs<'_>) -> Result<String> {
    let mut out = String::new();
    let mut line = |k: &str, v: &str| out.push_str(&format!("{k} = {v}\n"));
    line("lxc.rootfs.path", &format!("dir:{}", command.rootfs));
    line(
        "lxc.uts.name",
        command.hostname.as_deref().unwrap_or(&command.id),
    );
    line("lxc.net.0.type", "empty");
    line("lxc.apparmor.profile", "unconfined");
    line("lxc.mount.auto", "proc:rw sys:ro cgroup:ro");
    line("lxc.autodev", "1");
    line("lxc.tty.max", "0");
    line("lxc.pty.max", "1024");
    line("lxc.console.path", "none");
    line("lxc.cgroup.dir.container", inputs.cgroup_container);
    line("lxc.cgroup.dir.monitor", inputs.cgroup_monitor);
    line("lxc.log.file", &inputs.log_file.display().to_string());
    line("lxc.log.level", "ERROR");
    line("lxc.hook.mount", inputs.hook);
    line("lxc.hook.start-host", inputs.hook);
    line("lxc.init.cwd", &command.process.cwd);
    for var in &command.process.env {
        line("lxc.environment", var);
    }
    let caps: Vec<String> = inputs
        .capabilities
        .names()
        .iter()
        .map(|n| n.trim_start_matches("CAP_").to_lowercase())
        .collect();
    line(
        "lxc.cap.keep",
        &if caps.is_empty() {
            "none".to_string()
        } else {
            caps.join(" ")
        },
    );
    Ok(out)
}
