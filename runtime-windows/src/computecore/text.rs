//! Strings across the HCS boundary: UTF-16 and NUL-terminated both ways, and the result
//! documents HCS allocates for the caller to free with `LocalFree`.

use windows_sys::core::{PCWSTR, PWSTR};
use windows_sys::Win32::Foundation::LocalFree;

/// `text` as a NUL-terminated UTF-16 string; an interior NUL is refused (HCS would read the
/// document only up to it).
pub(super) fn wide(text: &str) -> Result<Vec<u16>, String> {
    if let Some(at) = text.find('\0') {
        return Err(format!("the string has a NUL character at byte {at}"));
    }
    Ok(text.encode_utf16().chain(std::iter::once(0)).collect())
}

/// Reads the NUL-terminated UTF-16 string at `text` (unpaired surrogates become U+FFFD);
/// `None` for a null pointer.
///
/// # Safety
///
/// `text` is null or points to a readable UTF-16 string ending with a NUL.
pub(super) unsafe fn read_wide(text: PCWSTR) -> Option<String> {
    if text.is_null() {
        return None;
    }
    let mut len = 0;
    // SAFETY: the caller promises a NUL-terminated string: every unit up to the NUL is
    // readable, and the loop stops at it.
    while unsafe { *text.add(len) } != 0 {
        len += 1;
    }
    // SAFETY: the `len` units before the NUL were just read.
    let units = unsafe { std::slice::from_raw_parts(text, len) };
    Some(String::from_utf16_lossy(units))
}

/// A string HCS allocated for the caller (a result document): freed with `LocalFree` when
/// dropped.
pub(super) struct LocalString(pub(super) PWSTR);

impl LocalString {
    pub(super) fn null() -> LocalString {
        LocalString(std::ptr::null_mut())
    }

    /// The text, or `None` when HCS gave none (or an empty one).
    pub(super) fn text(&self) -> Option<String> {
        // SAFETY: HCS gives either null or a NUL-terminated string it allocated, which lives
        // until this value frees it.
        unsafe { read_wide(self.0) }.filter(|text| !text.is_empty())
    }
}

impl Drop for LocalString {
    fn drop(&mut self) {
        if !self.0.is_null() {
            // SAFETY: HCS allocated the string with LocalAlloc and handed it to the caller;
            // it is freed once, here, and the pointer is not used after.
            unsafe { LocalFree(self.0.cast()) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_go_to_utf16_and_back() {
        let text = "{\"Id\":\"é\u{1F600}\"}";
        let units = wide(text).unwrap();
        assert_eq!(units.last(), Some(&0));
        // SAFETY: `units` is NUL-terminated and alive.
        assert_eq!(unsafe { read_wide(units.as_ptr()) }.as_deref(), Some(text));
        assert!(wide("a\0b").unwrap_err().contains("byte 1"));
        // SAFETY: null is allowed.
        assert_eq!(unsafe { read_wide(std::ptr::null()) }, None);
    }
}
