//! Namespace kinds as the host and `berth-init` both use them: the one map from a kind to its
//! `CLONE_NEW*` flag, and a set of kinds.

use nix::sched::CloneFlags;
use runtime_core::NamespaceKind;
use serde::{Deserialize, Serialize};

/// The `CLONE_NEW*` flag of a namespace kind (also `setns`'s type for it).
pub fn clone_flag(kind: NamespaceKind) -> CloneFlags {
    match kind {
        NamespaceKind::User => CloneFlags::CLONE_NEWUSER,
        NamespaceKind::Pid => CloneFlags::CLONE_NEWPID,
        NamespaceKind::Ipc => CloneFlags::CLONE_NEWIPC,
        NamespaceKind::Uts => CloneFlags::CLONE_NEWUTS,
        NamespaceKind::Mount => CloneFlags::CLONE_NEWNS,
        NamespaceKind::Net => CloneFlags::CLONE_NEWNET,
        NamespaceKind::Cgroup => CloneFlags::CLONE_NEWCGROUP,
    }
}

/// A set of namespace kinds; in JSON, the list of their names (or, as state files before
/// this type had it, the number of their `CLONE_NEW*` flags).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "Written", into = "Vec<NamespaceKind>")]
pub struct NamespaceSet(u8);

/// The forms a [`NamespaceSet`] is read from.
#[derive(Deserialize)]
#[serde(untagged)]
enum Written {
    Kinds(Vec<NamespaceKind>),
    CloneFlags(i32),
}

impl From<Written> for NamespaceSet {
    fn from(written: Written) -> Self {
        match written {
            Written::Kinds(kinds) => kinds.into_iter().collect(),
            Written::CloneFlags(bits) => NamespaceKind::ALL
                .into_iter()
                .filter(|&kind| bits & clone_flag(kind).bits() != 0)
                .collect(),
        }
    }
}

impl NamespaceSet {
    fn bit(kind: NamespaceKind) -> u8 {
        1 << NamespaceKind::ALL
            .iter()
            .position(|&k| k == kind)
            .expect("ALL holds every kind")
    }

    pub fn contains(self, kind: NamespaceKind) -> bool {
        self.0 & Self::bit(kind) != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The kinds in the set, in [`NamespaceKind::ALL`]'s order (user first).
    pub fn kinds(self) -> impl Iterator<Item = NamespaceKind> {
        NamespaceKind::ALL
            .into_iter()
            .filter(move |&kind| self.contains(kind))
    }

    /// The `CLONE_NEW*` flags of the set.
    pub fn clone_flags(self) -> CloneFlags {
        self.kinds()
            .fold(CloneFlags::empty(), |flags, kind| flags | clone_flag(kind))
    }
}

impl FromIterator<NamespaceKind> for NamespaceSet {
    fn from_iter<I: IntoIterator<Item = NamespaceKind>>(kinds: I) -> Self {
        NamespaceSet(kinds.into_iter().fold(0, |set, kind| set | Self::bit(kind)))
    }
}

impl From<NamespaceSet> for Vec<NamespaceKind> {
    fn from(set: NamespaceSet) -> Self {
        set.kinds().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_keeps_its_kinds_and_their_flags() {
        let set: NamespaceSet = [NamespaceKind::Mount, NamespaceKind::User]
            .into_iter()
            .collect();
        assert!(set.contains(NamespaceKind::User) && !set.contains(NamespaceKind::Net));
        assert_eq!(
            set.kinds().collect::<Vec<_>>(),
            [NamespaceKind::User, NamespaceKind::Mount]
        );
        assert_eq!(
            set.clone_flags(),
            CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNS
        );
        let json = serde_json::to_string(&set).unwrap();
        assert_eq!(json, r#"["user","mount"]"#);
        assert_eq!(serde_json::from_str::<NamespaceSet>(&json).unwrap(), set);
        // A state file written before: the CLONE_NEW* flags as a number.
        let flags = (CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNS).bits();
        assert_eq!(
            serde_json::from_str::<NamespaceSet>(&flags.to_string()).unwrap(),
            set
        );
    }

    #[test]
    fn every_kind_has_its_own_flag() {
        let flags: Vec<_> = NamespaceKind::ALL.into_iter().map(clone_flag).collect();
        for (i, a) in flags.iter().enumerate() {
            assert_eq!(a.bits().count_ones(), 1);
            assert!(flags[i + 1..].iter().all(|b| a != b));
        }
    }
}
