//! The benchmark's only `unsafe`: the two calls that neither std nor nix wraps safely.

use std::ffi::CStr;

use berth::berth_error;

/// The bytes glibc's allocator has handed out and not taken back (`mallinfo2`: the arenas'
/// `uordblks` and the mmapped `hblkhd`).
pub fn heap_in_use() -> u64 {
    // SAFETY: mallinfo2 takes no argument and returns a plain struct of counters by value;
    // glibc takes the arenas' locks itself while it reads them.
    let info = unsafe { libc::mallinfo2() };
    (info.uordblks + info.hblkhd) as u64
}

/// A copy of the message of an error the C ABI returned, not yet freed. Safe to call exactly
/// when `berth_error_message(err)` is: `err` is NULL or a live error of berth's.
pub fn error_message(err: *const berth_error) -> String {
    let message = berth::berth_error_message(err);
    // SAFETY: berth_error_message never returns NULL: it returns a NUL-terminated string
    // owned by `err`, valid until berth_error_free (a static one for NULL), and it is copied
    // here before any free.
    unsafe { CStr::from_ptr(message) }
        .to_string_lossy()
        .into_owned()
}
