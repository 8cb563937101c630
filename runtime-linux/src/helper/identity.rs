//! Who the container's program runs as, and the program itself: the user and groups from the
//! container's own `/etc/passwd` and `/etc/group`, rlimits, the working directory, and the
//! path of the executable.

use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;

use nix::errno::Errno;
use nix::sys::resource::{setrlimit, Resource};
use nix::sys::stat::{umask, Mode};
use nix::unistd::{access, setgroups, setresgid, setresuid, AccessFlags, Gid, Uid};
use runtime_core::{Error, IdOrName, ProcessConfig, Result, Rlimit, UserSpec};

use crate::error::{os_error, StepExt};
use crate::protocol::Confinement;
use crate::security::CapabilitySet;

/// What a [`Prepared`] process executes.
pub enum Program {
    /// A path in the container, found in `PATH` or given as it is.
    Path(CString),
    /// An open file (a hook's program on the host), executed by fd. `script`: it starts with
    /// `#!`, and the interpreter reads it through `/dev/fd/N`, so the fd stays open across
    /// the exec (it would be `ENOENT` otherwise).
    Fd { fd: OwnedFd, script: bool },
}

impl Program {
    fn describe(&self) -> String {
        match self {
            Program::Path(path) => path.to_string_lossy().into_owned(),
            Program::Fd { fd, .. } => format!("the hook's program (fd {})", fd.as_raw_fd()),
        }
    }
}

/// A process ready to exec: every lookup done, nothing applied yet.
pub struct Prepared {
    program: Program,
    argv: Vec<CString>,
    envp: Vec<CString>,
    uid: u32,
    gid: u32,
    groups: Vec<u32>,
    cwd: String,
    umask: u32,
    rlimits: Vec<(Resource, u64, u64)>,
    no_new_privileges: bool,
    confinement: Confinement,
    /// The user namespace denies `setgroups`: there are no groups to set.
    groups_locked: bool,
}

/// One line of `/etc/passwd`.
pub struct PasswdEntry {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: String,
}

/// Who a process runs as: its uid, gid and groups, and the home directory of its passwd entry
/// (`/` without one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
    pub home: String,
}

impl Identity {
    /// `process.user` and `process.additional_gids` against the image's `/etc/passwd` and
    /// `/etc/group` (their text, empty where missing). A numeric uid needs no passwd entry, a
    /// name must have one; without a group, the user's primary group (Docker's rule: 0 for a
    /// uid without an entry); the groups, as initgroups(3) makes them, are the primary one,
    /// those that list the user, and the ones asked for, or exactly `process.groups` when it
    /// is given (OCI's semantics, as runc's for a `uid:gid`). The native init, the LXC driver
    /// and the benchmark's OCI configs all use this one computation.
    pub fn from_image(process: &ProcessConfig, passwd: &str, group: &str) -> Result<Identity> {
        let spec =
            UserSpec::parse(&process.user).map_err(|why| Error::invalid("process.user", why))?;
        let entry = match &spec.user {
            IdOrName::Id(uid) => find_passwd(passwd, |e| e.uid == *uid),
            IdOrName::Name(name) => {
                Some(find_passwd(passwd, |e| &e.name == name).ok_or_else(|| {
                    Error::invalid(
                        "process.user",
                        format!("no user {name:?} in the container's /etc/passwd"),
                    )
                })?)
            }
        };
        let uid = match (&spec.user, &entry) {
            (IdOrName::Id(uid), _) => *uid,
            (_, Some(entry)) => entry.uid,
            _ => unreachable!("a named user was found above"),
        };
        let gid = match &spec.group {
            Some(IdOrName::Id(gid)) => *gid,
            Some(IdOrName::Name(name)) => find_group_id(group, name).ok_or_else(|| {
                Error::invalid(
                    "process.user",
                    format!("no group {name:?} in the container's /etc/group"),
                )
            })?,
            None => entry.as_ref().map_or(0, |e| e.gid),
        };
        let mut groups = match &process.groups {
            Some(exact) => exact.clone(),
            None => {
                let mut groups = vec![gid];
                if let Some(entry) = &entry {
                    groups.extend(supplementary_groups(group, &entry.name));
                }
                groups.extend(&process.additional_gids);
                groups
            }
        };
        groups.sort_unstable();
        groups.dedup();
        Ok(Identity {
            uid,
            gid,
            groups,
            home: entry.map_or_else(|| "/".to_string(), |e| e.home),
        })
    }
}

impl Prepared {
    /// Looks up the user and the program inside the current root (the container's).
    /// `groups_locked`: the process's user namespace denies `setgroups` (it maps no group).
    pub fn new(
        process: &ProcessConfig,
        confinement: &Confinement,
        groups_locked: bool,
    ) -> Result<Prepared> {
        let passwd = read_optional("/etc/passwd")?;
        let group = read_optional("/etc/group")?;
        let Identity {
            uid,
            gid,
            groups,
            home,
        } = Identity::from_image(process, &passwd, &group)?;

        let mut env = process.effective_env();
        if !env.iter().any(|kv| kv.starts_with("HOME=")) {
            env.push(format!("HOME={home}"));
        }
        let program = find_program(&process.args[0], &process.search_path())?;
        Prepared::with(
            process,
            Program::Path(cstring(program)?),
            env,
            Identity {
                uid,
                gid,
                groups,
                home,
            },
            confinement,
            groups_locked,
        )
    }

    /// A hook of the container (see `crate::hook`): `program`, with `process.args` and
    /// `process.env` exactly as they are, as the user of `process` (the container's root).
    pub fn hook(
        process: &ProcessConfig,
        program: Program,
        confinement: &Confinement,
        groups_locked: bool,
    ) -> Result<Prepared> {
        let passwd = read_optional("/etc/passwd")?;
        let group = read_optional("/etc/group")?;
        let identity = Identity::from_image(process, &passwd, &group)?;
        let env = process.env.clone();
        Prepared::with(process, program, env, identity, confinement, groups_locked)
    }

    fn with(
        process: &ProcessConfig,
        program: Program,
        env: Vec<String>,
        identity: Identity,
        confinement: &Confinement,
        groups_locked: bool,
    ) -> Result<Prepared> {
        let Identity {
            uid, gid, groups, ..
        } = identity;
        Ok(Prepared {
            program,
            argv: process
                .args
                .iter()
                .map(|a| cstring(a.clone()))
                .collect::<Result<_>>()?,
            envp: env.into_iter().map(cstring).collect::<Result<_>>()?,
            uid,
            gid,
            groups,
            cwd: process.cwd.clone(),
            umask: process.effective_umask(),
            rlimits: process.rlimits.iter().map(rlimit).collect::<Result<_>>()?,
            no_new_privileges: process.no_new_privileges,
            confinement: confinement.clone(),
            groups_locked,
        })
    }

    /// Applies the umask, rlimits, groups, user, capabilities and working directory, and
    /// checks that the program can be executed as that user. The order around the user switch
    /// is the one `crate::security` explains.
    pub fn become_user(&self) -> Result<()> {
        // Validated: 0 to 0o777.
        umask(Mode::from_bits_truncate(self.umask));
        for &(resource, soft, hard) in &self.rlimits {
            setrlimit(resource, soft, hard).step(|| format!("setrlimit {resource:?}"))?;
        }
        let groups: Vec<Gid> = self.groups.iter().map(|&g| Gid::from_raw(g)).collect();
        match setgroups(&groups) {
            // Denied in a user namespace that maps no group: there are none to set.
            Err(Errno::EPERM) if self.groups_locked => {}
            other => other.step(|| format!("set supplementary groups {:?}", self.groups))?,
        }
        let gid = Gid::from_raw(self.gid);
        setresgid(gid, gid, gid).step(|| format!("set group id {}", self.gid))?;
        super::stay_undumpable()?;
        if !self.no_new_privileges {
            // Without no_new_privs a filter needs CAP_SYS_ADMIN, which goes below.
            self.load_seccomp()?;
        }
        CapabilitySet::keep_across_setuid()?;
        let uid = Uid::from_raw(self.uid);
        setresuid(uid, uid, uid).step(|| format!("set user id {}", self.uid))?;
        super::stay_undumpable()?;
        self.confinement.capabilities.apply()?;
        nix::unistd::chdir(self.cwd.as_str()).step(|| format!("chdir to {}", self.cwd))?;
        // A cwd reached through an fd of the host (CVE-2024-21626) lies outside the root, and
        // getcwd says so: ENOENT, or a path that does not start with '/'.
        match nix::unistd::getcwd() {
            Ok(path) if path.starts_with("/") => {}
            _ => {
                return Err(Error::invalid(
                    "process.cwd",
                    format!("{} leads outside the container", self.cwd),
                ))
            }
        }
        // A program given by fd is checked by its exec alone.
        if let Program::Path(path) = &self.program {
            access(path.as_c_str(), AccessFlags::X_OK)
                .step(|| format!("exec {}", path.to_string_lossy()))?;
        }
        if self.no_new_privileges {
            nix::sys::prctl::set_no_new_privs().step(|| "set no_new_privs")?;
        }
        Ok(())
    }

    fn load_seccomp(&self) -> Result<()> {
        match &self.confinement.seccomp {
            Some(program) => program.load(),
            None => Ok(()),
        }
    }

    /// Loads the seccomp filter into this process as [`Prepared::exec`] would before the
    /// exec: for berth's init, which stays the program's parent and is confined as the program
    /// is. Without no_new_privileges [`Prepared::become_user`] loaded it already.
    pub fn confine_self(&self) -> Result<()> {
        if self.no_new_privileges {
            self.load_seccomp()
        } else {
            Ok(())
        }
    }

    /// Replaces this process with the program. Returns only on failure. With
    /// no_new_privileges the seccomp filter goes on last, so that it need not allow any call
    /// of berth's.
    pub fn exec(&self) -> Error {
        if self.no_new_privileges {
            if let Err(error) = self.load_seccomp() {
                return error;
            }
        }
        let executed = match &self.program {
            Program::Path(path) => nix::unistd::execve(path, &self.argv, &self.envp),
            Program::Fd { fd, script } => {
                if *script {
                    if let Err(errno) = nix::fcntl::fcntl(
                        fd,
                        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty()),
                    ) {
                        return os_error("keep the hook's script open for its interpreter", errno);
                    }
                }
                nix::unistd::execveat(
                    fd,
                    c"",
                    &self.argv,
                    &self.envp,
                    nix::fcntl::AtFlags::AT_EMPTY_PATH,
                )
            }
        };
        let errno = match executed {
            Err(errno) => errno,
            Ok(never) => match never {},
        };
        os_error(format!("exec {}", self.program.describe()), errno)
    }
}

fn cstring(text: String) -> Result<CString> {
    CString::new(text).map_err(|_| Error::invalid("process", "a string contains NUL"))
}

fn read_optional(path: &str) -> Result<String> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(text),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(err) => Err(err).step(|| format!("read the container's {path}")),
    }
}

pub fn find_passwd(text: &str, wanted: impl Fn(&PasswdEntry) -> bool) -> Option<PasswdEntry> {
    text.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            if fields.len() < 7 {
                return None;
            }
            Some(PasswdEntry {
                name: fields[0].to_string(),
                uid: fields[2].parse().ok()?,
                gid: fields[3].parse().ok()?,
                home: fields[5].to_string(),
            })
        })
        .find(|entry| wanted(entry))
}

/// `name:password:gid:member,member`
fn group_lines(text: &str) -> impl Iterator<Item = (&str, u32, &str)> {
    text.lines().filter_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.len() >= 4).then_some(())?;
        Some((fields[0], fields[2].parse().ok()?, fields[3]))
    })
}

pub fn find_group_id(text: &str, name: &str) -> Option<u32> {
    group_lines(text)
        .find(|(n, _, _)| *n == name)
        .map(|(_, gid, _)| gid)
}

pub fn supplementary_groups(text: &str, user: &str) -> Vec<u32> {
    group_lines(text)
        .filter(|(_, _, members)| members.split(',').any(|m| m == user))
        .map(|(_, gid, _)| gid)
        .collect()
}

/// The program's path: `name` itself when it has a `/`, else the first executable regular
/// file called `name` in `search_path`.
fn find_program(name: &str, search_path: &str) -> Result<String> {
    if name.contains('/') {
        return Ok(name.to_string());
    }
    for dir in search_path.split(':').filter(|d| !d.is_empty()) {
        let candidate = format!("{}/{name}", dir.trim_end_matches('/'));
        if let Ok(meta) = std::fs::metadata(&candidate) {
            if meta.is_file() && meta.permissions().mode() & 0o111 != 0 {
                return Ok(candidate);
            }
        }
    }
    Err(os_error(
        format!("find program {name:?} in PATH {search_path}"),
        Errno::ENOENT,
    ))
}

fn rlimit(limit: &Rlimit) -> Result<(Resource, u64, u64)> {
    let resource = match limit.canonical_name() {
        Some("RLIMIT_AS") => Resource::RLIMIT_AS,
        Some("RLIMIT_CORE") => Resource::RLIMIT_CORE,
        Some("RLIMIT_CPU") => Resource::RLIMIT_CPU,
        Some("RLIMIT_DATA") => Resource::RLIMIT_DATA,
        Some("RLIMIT_FSIZE") => Resource::RLIMIT_FSIZE,
        Some("RLIMIT_LOCKS") => Resource::RLIMIT_LOCKS,
        Some("RLIMIT_MEMLOCK") => Resource::RLIMIT_MEMLOCK,
        Some("RLIMIT_MSGQUEUE") => Resource::RLIMIT_MSGQUEUE,
        Some("RLIMIT_NICE") => Resource::RLIMIT_NICE,
        Some("RLIMIT_NOFILE") => Resource::RLIMIT_NOFILE,
        Some("RLIMIT_NPROC") => Resource::RLIMIT_NPROC,
        Some("RLIMIT_RSS") => Resource::RLIMIT_RSS,
        Some("RLIMIT_RTPRIO") => Resource::RLIMIT_RTPRIO,
        Some("RLIMIT_RTTIME") => Resource::RLIMIT_RTTIME,
        Some("RLIMIT_SIGPENDING") => Resource::RLIMIT_SIGPENDING,
        Some("RLIMIT_STACK") => Resource::RLIMIT_STACK,
        _ => {
            return Err(Error::invalid(
                "process.rlimits",
                format!("unknown resource limit {:?}", limit.kind),
            ))
        }
    };
    Ok((resource, limit.soft, limit.hard))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:App:/home/app:/bin/sh\n";
    const GROUP: &str = "root:x:0:\nwheel:x:10:app,other\napp:x:1000:\naudio:x:29:app\n";

    #[test]
    fn finds_users_and_their_groups() {
        let app = find_passwd(PASSWD, |e| e.name == "app").unwrap();
        assert_eq!(
            (app.uid, app.gid, app.home.as_str()),
            (1000, 1000, "/home/app")
        );
        assert_eq!(supplementary_groups(GROUP, "app"), vec![10, 29]);
        assert_eq!(find_group_id(GROUP, "wheel"), Some(10));
        assert!(find_passwd(PASSWD, |e| e.uid == 7).is_none());
    }

    #[test]
    fn a_program_with_a_slash_is_taken_as_is() {
        assert_eq!(find_program("./x", "/bin").unwrap(), "./x");
        let err = find_program("surely-not-a-program", "/nonexistent").unwrap_err();
        assert!(err.to_string().contains("find program"), "{err}");
    }
}
