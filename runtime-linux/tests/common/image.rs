//! Container images shaped to attack the set-up: hard-linked copies of the busybox rootfs with
//! some entries replaced (a symlink, a file, a directory), the probe that checks a container of
//! one from inside, a snapshot of what the host must keep, and a tiny PRNG for the generator.

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

use runtime_core::command::{DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS};

/// The uid and gid of container root in a user namespace with the default mapping.
pub const USERNS_ROOT: u32 = runtime_core::command::DEFAULT_ID_MAPPING.host_id;

/// What an image entry is replaced with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Symlink(String),
    File,
    Dir,
}

/// One entry of an image: an absolute path inside it and what it becomes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub path: String,
    pub node: Node,
}

pub fn link(path: &str, target: &str) -> Entry {
    Entry {
        path: path.into(),
        node: Node::Symlink(target.into()),
    }
}

pub fn file(path: &str) -> Entry {
    Entry {
        path: path.into(),
        node: Node::File,
    }
}

pub fn dir(path: &str) -> Entry {
    Entry {
        path: path.into(),
        node: Node::Dir,
    }
}

/// Where the images live: `<rootfs>-images-<pid>`, beside the rootfs so that hard links work.
/// Removed, with whatever is left in it, when dropped.
pub struct ImageStore {
    pub dir: PathBuf,
    base: PathBuf,
}

impl ImageStore {
    pub fn new(base: &str) -> ImageStore {
        let dir = PathBuf::from(format!("{base}-images-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create the image store");
        ImageStore {
            dir,
            base: PathBuf::from(base),
        }
    }

    /// A copy of the base rootfs named `name` with `entries` applied in order. An entry whose
    /// parent in the image is not a plain directory (a symlink, a file) is skipped: creating it
    /// would follow the image's own symlink out of it. For a user namespace, directories and
    /// unshared symlinks go to container root, who must be able to create mount targets.
    pub fn build(&self, name: &str, entries: &[Entry], userns: bool) -> Result<Image, String> {
        let root = self.dir.join(name);
        copy_tree(&self.base, &root)?;
        let image = Image { root };
        for entry in entries {
            image.place(entry)?;
        }
        if userns {
            give_to_userns_root(&image.root)?;
        }
        Ok(image)
    }
}

impl Drop for ImageStore {
    fn drop(&mut self) {
        if mounted_at_or_under(&self.dir) {
            eprintln!(
                "images: something is mounted under {}; left in place",
                self.dir.display()
            );
            return;
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// One image; removed when dropped (unless something got mounted in it on the host, which
/// `remove_dir_all` would go into).
pub struct Image {
    pub root: PathBuf,
}

impl Image {
    /// The host path of `path` inside the image, without following anything.
    pub fn host_path(&self, path: &str) -> PathBuf {
        self.root.join(path.trim_start_matches('/'))
    }

    fn place(&self, entry: &Entry) -> Result<(), String> {
        if !self.make_parents(&entry.path)? {
            return Ok(());
        }
        let path = self.host_path(&entry.path);
        remove_entry(&path)?;
        let made = match &entry.node {
            Node::Symlink(target) => std::os::unix::fs::symlink(target, &path),
            // A new file, never one of the shared hard links.
            Node::File => fs::write(&path, b""),
            Node::Dir => fs::create_dir(&path),
        };
        made.map_err(|e| format!("make {}: {e}", path.display()))
    }

    /// Creates the missing parents of `path` as directories; false when one exists and is
    /// not a plain directory.
    fn make_parents(&self, path: &str) -> Result<bool, String> {
        let mut at = self.root.clone();
        let parent = Path::new(path).parent().unwrap_or(Path::new("/"));
        for component in parent.components() {
            let Component::Normal(name) = component else {
                continue;
            };
            at.push(name);
            match fs::symlink_metadata(&at) {
                Ok(meta) if meta.is_dir() => {}
                Ok(_) => return Ok(false),
                Err(_) => {
                    fs::create_dir(&at).map_err(|e| format!("mkdir {}: {e}", at.display()))?
                }
            }
        }
        Ok(true)
    }
}

impl Drop for Image {
    fn drop(&mut self) {
        if !mounted_at_or_under(&self.root) {
            let _ = fs::remove_dir_all(&self.root);
        }
    }
}

/// `cp -al` (hard links: fast, and no space), or `cp -a` where the store is on another
/// filesystem.
fn copy_tree(from: &Path, to: &Path) -> Result<(), String> {
    let copy = |flags: &str| {
        std::process::Command::new("cp")
            .arg(flags)
            .arg(from)
            .arg(to)
            .output()
            .map_err(|e| format!("run cp: {e}"))
    };
    let out = copy("-al")?;
    if out.status.success() {
        return Ok(());
    }
    let _ = fs::remove_dir_all(to);
    if !String::from_utf8_lossy(&out.stderr).contains("cross-device") {
        return Err(format!("cp -al: {}", String::from_utf8_lossy(&out.stderr)));
    }
    let out = copy("-a")?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("cp -a: {}", String::from_utf8_lossy(&out.stderr)))
    }
}

/// Removes whatever is at `path` (a directory with what is in it: only links to the base's
/// files, never the files themselves).
fn remove_entry(path: &Path) -> Result<(), String> {
    let removed = match fs::symlink_metadata(path) {
        Err(_) => return Ok(()),
        Ok(meta) if meta.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
    };
    removed.map_err(|e| format!("remove {}: {e}", path.display()))
}

/// lchowns every directory and every symlink of the image's own (a symlink with one link:
/// `cp -al` hard-links the base's symlinks too, and those must stay as they are) to container
/// root of a user namespace. Regular files are never touched: they are the base's.
fn give_to_userns_root(root: &Path) -> Result<(), String> {
    let mut pending = vec![root.to_path_buf()];
    while let Some(path) = pending.pop() {
        let meta = fs::symlink_metadata(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let ours = meta.is_dir() || (meta.file_type().is_symlink() && meta.nlink() == 1);
        if ours {
            std::os::unix::fs::lchown(&path, Some(USERNS_ROOT), Some(USERNS_ROOT))
                .map_err(|e| format!("lchown {}: {e}", path.display()))?;
        }
        if meta.is_dir() {
            for child in fs::read_dir(&path).map_err(|e| format!("{}: {e}", path.display()))? {
                pending.push(child.map_err(|e| e.to_string())?.path());
            }
        }
    }
    Ok(())
}

/// Whether the host (this process's mount namespace) has a mount at or under `path`.
pub fn mounted_at_or_under(path: &Path) -> bool {
    let path = path.display().to_string();
    fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .any(|point| point == path || point.starts_with(&format!("{path}/")))
}

/// What a container of an attacking image must leave as it was on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostSnapshot {
    mountinfo: String,
    core_pattern: String,
    core_uses_pid: String,
    /// The test process's own cgroups: a container that reached the host's cgroup files
    /// could move it.
    cgroups: String,
    /// The device rules of the given v1 devices.list files (none on a cgroup2-only host),
    /// as far as they exist yet.
    devices_lists: Vec<(PathBuf, Option<String>)>,
    /// Which of the watched paths exist.
    existing: BTreeSet<PathBuf>,
}

impl HostSnapshot {
    /// `watched`: paths a mount that went astray would create on the host; `devices_lists`:
    /// the v1 devices.list files whose rules must not move.
    pub fn take(watched: &BTreeSet<PathBuf>, devices_lists: &[PathBuf]) -> HostSnapshot {
        let read = |path: &str| fs::read_to_string(path).unwrap_or_default();
        HostSnapshot {
            mountinfo: read("/proc/self/mountinfo"),
            core_pattern: read("/proc/sys/kernel/core_pattern"),
            core_uses_pid: read("/proc/sys/kernel/core_uses_pid"),
            cgroups: read("/proc/self/cgroup"),
            devices_lists: devices_lists
                .iter()
                .map(|path| (path.clone(), fs::read_to_string(path).ok()))
                .collect(),
            existing: watched
                .iter()
                .filter(|p| fs::symlink_metadata(p).is_ok())
                .cloned()
                .collect(),
        }
    }

    /// What changed since `self`, in words; empty if nothing did.
    pub fn changes_to(&self, after: &HostSnapshot) -> Vec<String> {
        let mut changes = Vec::new();
        if self.mountinfo != after.mountinfo {
            let old: BTreeSet<&str> = self.mountinfo.lines().collect();
            let new: BTreeSet<&str> = after.mountinfo.lines().collect();
            let added: Vec<&&str> = new.difference(&old).collect();
            let gone: Vec<&&str> = old.difference(&new).collect();
            changes.push(format!(
                "host mountinfo changed (added {added:?}, gone {gone:?})"
            ));
        }
        if self.core_pattern != after.core_pattern {
            changes.push(format!("core_pattern became {:?}", after.core_pattern));
        }
        if self.core_uses_pid != after.core_uses_pid {
            changes.push(format!("core_uses_pid became {:?}", after.core_uses_pid));
        }
        if self.cgroups != after.cgroups {
            changes.push(format!(
                "the test process's cgroups became {:?}",
                after.cgroups
            ));
        }
        // The parent's list appears with the first container: only a change of an existing
        // one counts.
        for ((path, old), (_, new)) in self.devices_lists.iter().zip(&after.devices_lists) {
            if let (Some(old), Some(new)) = (old, new) {
                if old != new {
                    changes.push(format!("{} became {new:?}", path.display()));
                }
            }
        }
        for created in after.existing.difference(&self.existing) {
            changes.push(format!("{} was created on the host", created.display()));
        }
        changes
    }
}

/// The probe: a script for `/bin/sh -c` that checks, from inside, that the container got
/// its standard mounts where they belong. It prints "ESCAPED <why>" for each thing wrong
/// and ends with "probe ok".
pub fn probe_script() -> String {
    let masked = DEFAULT_MASKED_PATHS.join(" ");
    let readonly = DEFAULT_READONLY_PATHS.join(" ");
    // mountinfo fields: 5 mount point, 6 per-mount options; the fstype follows the "-".
    format!(
        r#"PATH=/bin
# Every tool by its full name: an applet that busybox runs through /proc/self/exe fails
# when /proc is not where it belongs, which is what the probe looks at.
bb=/bin/busybox
bad() {{ echo "ESCAPED $*"; }}
t=$($bb stat -f -c %T /proc 2>&1); [ "$t" = proc ] || bad "/proc is $t, not proc"
# Where procfs really is: /proc, or wherever a symlink of the image led it.
p=/proc
if [ ! -r /proc/self/mountinfo ]; then
  for m in /*/self/mountinfo /*/*/self/mountinfo; do [ -r "$m" ] && {{ p=${{m%/self/mountinfo}}; break; }}; done
fi
mi=$p/self/mountinfo
[ -r $mi ] || bad "no procfs anywhere"
$bb awk '{{ for (i = 7; $i != "-"; i++) ; fs = $(i + 1); at = $5
  if (fs == "proc") {{ if (at == "/proc") p++; else if (index(at, "/proc/") != 1) print "ESCAPED proc mounted on " at }}
  if (fs == "sysfs") {{ if (at == "/sys") s++; else if (index(at, "/sys/") != 1) print "ESCAPED sysfs mounted on " at }}
  if ((at == "/sys" || index(at, "/sys/") == 1) && index("," $6 ",", ",ro,") == 0) print "ESCAPED writable " fs " on " at
}} END {{ if (!p) print "ESCAPED no proc on /proc"; if (!s) print "ESCAPED no sysfs on /sys" }}' $mi 2>&1
mounted() {{ $bb awk -v at="$1" '$5 == at {{ print $6 }}' $mi 2>/dev/null | $bb tail -n 1; }}
for m in {masked}; do
  [ -e $m ] || continue
  [ -n "$(mounted $m)" ] || bad "masked $m is not a mount point"
  if [ -d $m ]; then [ -z "$($bb ls -A $m 2>/dev/null)" ] || bad "masked $m has entries"
  else [ "$($bb head -c 1 $m 2>/dev/null | $bb wc -c)" = 0 ] || bad "masked $m reads"; fi
done
for r in {readonly}; do
  [ -e $r ] || continue
  o=$(mounted $r); [ -n "$o" ] || bad "read-only $r is not a mount point"
  case ",$o," in *,ro,*) ;; *) bad "read-only $r is mounted $o" ;; esac
done
# `<>` creates a missing file: only what exists is tried.
writable() {{ [ -e "$1" ] && (exec 3<>"$1") 2>/dev/null; }}
for q in /proc $p; do
  [ "$q" = "${{seen:-}}" ] && continue; seen=$q
  writable $q/sys/kernel/core_uses_pid && bad "$q/sys/kernel/core_uses_pid opens for writing"
  writable $q/sysrq-trigger && bad "$q/sysrq-trigger opens for writing"
done
for f in $($bb find /sys/fs/cgroup -name cgroup.procs 2>/dev/null); do
  writable $f && bad "$f opens for writing"
done
d=$($bb stat -c '%t:%T %F' /dev/null 2>&1); [ "$d" = "1:3 character special file" ] || bad "/dev/null is $d"
echo probe ok
"#
    )
}

/// What the probe said: its complaints, or that it got to the end.
pub fn probe_verdict(stdout: &str) -> Result<(), String> {
    let escaped: Vec<&str> = stdout.lines().filter(|l| l.contains("ESCAPED")).collect();
    // The first few say what went wrong; the rest (one line per cgroup.procs) would drown it.
    const SHOWN: usize = 5;
    if escaped.len() > SHOWN {
        let more = escaped.len() - SHOWN;
        return Err(format!("{}; and {more} more", escaped[..SHOWN].join("; ")));
    }
    if !escaped.is_empty() {
        return Err(escaped.join("; "));
    }
    match stdout.lines().last() {
        Some("probe ok") => Ok(()),
        _ => Err(format!("the probe did not finish: {stdout:?}")),
    }
}

/// xorshift64*: reproducible images from a seed, without a crate.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        // Zero is xorshift's one fixed point.
        Rng(seed ^ 0x9e37_79b9_7f4a_7c15)
    }

    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// True one time in `n`.
    pub fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }
}
