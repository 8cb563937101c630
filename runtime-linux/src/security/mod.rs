//! The confinement of a container's processes: capabilities ([`caps`]), seccomp
//! ([`seccomp`]) and the device cgroup ([`devices`]).
//!
//! Each is split between the host, which checks and computes everything that can fail on
//! bad input (capability names, profiles, device rules) and compiles the seccomp filter, and
//! the helper, which only applies the result with a few system calls.
//!
//! The order in the container's init, around the identity switch (see `docs/architecture.md`):
//!
//! 1. `setgroups`, `setresgid` (still uid 0 with every capability);
//! 2. only when `no_new_privileges` is off: [`seccomp::SeccompProgram::load`] here, while
//!    `CAP_SYS_ADMIN` is still effective (a filter needs it or `no_new_privs`); the filter
//!    must then allow the init's remaining calls, which Docker's default profile does;
//! 3. [`caps::CapabilitySet::keep_across_setuid`], `setresuid`, then
//!    [`caps::CapabilitySet::apply`];
//! 4. `chdir`, the exec check, `no_new_privs`, close-on-exec, the ready report and the wait
//!    for start, all with the final capabilities;
//! 5. when `no_new_privileges` is on: [`seccomp::SeccompProgram::load`] last, right before
//!    `execve`, so that the profile need not allow any call of berth's.
//!
//! The device cgroup is the host's: [`devices::apply_v1`] or [`devices::apply_v2`] once the
//! container's cgroup exists, before the helper joins it.

pub mod caps;
pub mod devices;
pub mod seccomp;
pub mod seccomp_disk;
// capget, capset, the capability prctls, seccomp and bpf: raw system calls, each behind a
// safe function.
#[allow(unsafe_code)]
mod sys;
pub mod wire;

pub use caps::CapabilitySet;
pub use seccomp::{SeccompCache, SeccompProgram};
