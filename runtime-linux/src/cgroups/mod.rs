//! Cgroup management (v1, v2 and hybrid). Being written: see the cgroups work item.
