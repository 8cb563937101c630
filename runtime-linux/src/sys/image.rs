//! Where this code was loaded from: `libberth.so`, or the executable it is linked into.

use std::ffi::CStr;
use std::path::PathBuf;

/// The file of the shared object (or executable) that contains this function.
pub fn own_image_path() -> Option<PathBuf> {
    // SAFETY: Dl_info is plain data that dladdr fills on success.
    let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
    let address = own_image_path as *const libc::c_void;
    // SAFETY: dladdr only reads the loader's tables (under its own lock) for the address of
    // one of our functions, and writes one Dl_info into `info`, which outlives the call.
    if unsafe { libc::dladdr(address, &mut info) } == 0 || info.dli_fname.is_null() {
        return None;
    }
    // SAFETY: on success dli_fname is a NUL-terminated string owned by the loader, valid while
    // the object stays loaded, which ours does (this code runs from it); it is copied at once.
    let name = unsafe { CStr::from_ptr(info.dli_fname) };
    Some(PathBuf::from(name.to_str().ok()?))
}
