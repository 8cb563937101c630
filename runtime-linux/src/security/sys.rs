//! The system calls of the security settings that neither std nor nix wrap: `capget`,
//! `capset`, the capability `prctl`s, `seccomp` and `bpf`. Each is a small safe function over
//! one `unsafe` call; every pointer handed to the kernel points to memory that lives across
//! the call and has the size the kernel is told.

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use nix::errno::Errno;

/// `_LINUX_CAPABILITY_VERSION_3`: 64-bit sets, as two 32-bit halves.
const CAPABILITY_VERSION_3: u32 = 0x2008_0522;

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// The calling thread's effective, permitted and inheritable sets, as bit masks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CapSets {
    pub effective: u64,
    pub permitted: u64,
    pub inheritable: u64,
}

/// `capget(2)` on the calling thread.
pub fn capget() -> nix::Result<CapSets> {
    let mut header = CapHeader {
        version: CAPABILITY_VERSION_3,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    // SAFETY: version 3 makes the kernel write exactly two `CapData`, which `data` holds;
    // both pointers are to live locals.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_capget,
            &mut header as *mut CapHeader,
            data.as_mut_ptr(),
        )
    };
    Errno::result(rc)?;
    let join = |low: u32, high: u32| u64::from(low) | (u64::from(high) << 32);
    Ok(CapSets {
        effective: join(data[0].effective, data[1].effective),
        permitted: join(data[0].permitted, data[1].permitted),
        inheritable: join(data[0].inheritable, data[1].inheritable),
    })
}

/// `capset(2)` on the calling thread.
pub fn capset(sets: CapSets) -> nix::Result<()> {
    let mut header = CapHeader {
        version: CAPABILITY_VERSION_3,
        pid: 0,
    };
    let split = |bits: u64, half: u32| (bits >> (32 * half)) as u32;
    let data = [0, 1].map(|half| CapData {
        effective: split(sets.effective, half),
        permitted: split(sets.permitted, half),
        inheritable: split(sets.inheritable, half),
    });
    // SAFETY: version 3 makes the kernel read exactly two `CapData` from `data`; both
    // pointers are to live locals.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_capset,
            &mut header as *mut CapHeader,
            data.as_ptr(),
        )
    };
    Errno::result(rc).map(drop)
}

fn prctl(option: libc::c_int, arg: libc::c_ulong) -> nix::Result<libc::c_int> {
    // SAFETY: the options used here (capability bounding set, keepcaps, ambient set) take
    // integers only, no pointer; unused arguments must be zero.
    Errno::result(unsafe { libc::prctl(option, arg, 0 as libc::c_ulong, 0 as libc::c_ulong, 0) })
}

/// `PR_CAPBSET_READ`: whether `cap` is in the bounding set; `EINVAL` when the kernel does not
/// know `cap`.
pub fn bounding_has(cap: u32) -> nix::Result<bool> {
    prctl(libc::PR_CAPBSET_READ, cap.into()).map(|on| on == 1)
}

/// `PR_CAPBSET_DROP` (needs `CAP_SETPCAP` in the effective set).
pub fn bounding_drop(cap: u32) -> nix::Result<()> {
    prctl(libc::PR_CAPBSET_DROP, cap.into()).map(drop)
}

/// `PR_SET_KEEPCAPS`: whether the permitted set survives a switch from uid 0 to another.
pub fn set_keepcaps(keep: bool) -> nix::Result<()> {
    prctl(libc::PR_SET_KEEPCAPS, keep.into()).map(drop)
}

/// `PR_CAP_AMBIENT_CLEAR_ALL`.
pub fn ambient_clear() -> nix::Result<()> {
    // SAFETY: integers only; the two unused arguments must be zero.
    let rc = unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        )
    };
    Errno::result(rc).map(drop)
}

/// `PR_CAP_AMBIENT_RAISE`: `EPERM` unless `cap` is in the permitted and inheritable sets.
pub fn ambient_raise(cap: u32) -> nix::Result<()> {
    // SAFETY: integers only; the two unused arguments must be zero.
    let rc = unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_RAISE as libc::c_ulong,
            libc::c_ulong::from(cap),
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        )
    };
    Errno::result(rc).map(drop)
}

/// `seccomp(SECCOMP_SET_MODE_FILTER, flags, prog)` with the classic BPF program `program`,
/// one instruction (`struct sock_filter`, in the host's byte order) per `u64`.
pub fn seccomp_set_filter(program: &[u64], flags: libc::c_ulong) -> nix::Result<()> {
    let len = u16::try_from(program.len()).map_err(|_| Errno::EINVAL)?;
    let fprog = libc::sock_fprog {
        len,
        // A `sock_filter` is 8 bytes ({u16, u8, u8, u32}, alignment 4) and any bit pattern is
        // one; a `u64` has its size and a stricter alignment.
        filter: program.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: `fprog` points to `len` instructions that live across the call; the kernel
    // copies them and does not keep the pointer.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER as libc::c_ulong,
            flags,
            &fprog as *const libc::sock_fprog,
        )
    };
    Errno::result(rc).map(drop)
}

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;

/// The `BPF_PROG_LOAD` part of `union bpf_attr` (up to `expected_attach_type`), with no
/// padding.
#[repr(C)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

/// The `BPF_PROG_ATTACH` part of `union bpf_attr`, padded explicitly to 8 bytes.
#[repr(C)]
struct ProgAttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
    zero: u32,
}

/// `bpf(BPF_PROG_LOAD)`: loads the eBPF program `insns` (one `struct bpf_insn` per `u64`, in
/// the host's byte order). On failure, the verifier's log (when it wrote one) comes back with
/// the errno.
pub fn bpf_prog_load(
    prog_type: u32,
    expected_attach_type: u32,
    insns: &[u64],
    name: &str,
) -> Result<OwnedFd, (Errno, String)> {
    let license = c"Apache-2.0";
    let mut prog_name = [0u8; 16];
    for (slot, byte) in prog_name.iter_mut().zip(name.bytes().take(15)) {
        *slot = byte;
    }
    let insn_cnt = u32::try_from(insns.len()).map_err(|_| (Errno::E2BIG, String::new()))?;
    let load = |log: &mut [u8], log_level: u32| {
        let attr = ProgLoadAttr {
            prog_type,
            insn_cnt,
            insns: insns.as_ptr() as u64,
            license: license.as_ptr() as u64,
            log_level,
            log_size: log.len() as u32,
            log_buf: if log.is_empty() {
                0
            } else {
                log.as_mut_ptr() as u64
            },
            kern_version: 0,
            prog_flags: 0,
            prog_name,
            prog_ifindex: 0,
            expected_attach_type,
        };
        // SAFETY: `attr` is fully initialised and has no padding; the instructions, the
        // license and the log buffer it points to live across the call and have the sizes
        // given. The kernel returns a new fd, which we own from here.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_bpf,
                BPF_PROG_LOAD,
                &attr as *const ProgLoadAttr,
                std::mem::size_of::<ProgLoadAttr>() as libc::c_uint,
            )
        };
        Errno::result(rc).map(|fd| {
            // SAFETY: a successful BPF_PROG_LOAD returns a new fd that nothing else owns.
            unsafe { OwnedFd::from_raw_fd(fd as libc::c_int) }
        })
    };
    match load(&mut [], 0) {
        Ok(fd) => Ok(fd),
        Err(errno) => {
            // Again with a log, to say why.
            let mut log = vec![0u8; 64 * 1024];
            let second = load(&mut log, 1);
            let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
            let text = String::from_utf8_lossy(&log[..end]).trim().to_string();
            match second {
                Ok(fd) => Ok(fd),
                Err(_) => Err((errno, text)),
            }
        }
    }
}

/// `bpf(BPF_PROG_ATTACH)`: attaches `prog` to the cgroup `target` (a directory fd).
pub fn bpf_prog_attach(
    target: BorrowedFd<'_>,
    prog: BorrowedFd<'_>,
    attach_type: u32,
    flags: u32,
) -> nix::Result<()> {
    let attr = ProgAttachAttr {
        target_fd: target.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type,
        attach_flags: flags,
        replace_bpf_fd: 0,
        zero: 0,
    };
    // SAFETY: `attr` is fully initialised, has no padding, and lives across the call; the
    // two fds are borrowed, so open.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_PROG_ATTACH,
            &attr as *const ProgAttachAttr,
            std::mem::size_of::<ProgAttachAttr>() as libc::c_uint,
        )
    };
    Errno::result(rc).map(drop)
}
