//! Stopping a thread that is blocked reading a pipe or a console.

use std::os::windows::io::AsRawHandle;
use std::thread::JoinHandle;

use windows_sys::Win32::System::IO::CancelSynchronousIo;

/// Makes a blocking `ReadFile` (a [`std::io::Read::read`] on a pipe, a file or a console
/// handle) in progress on `thread` return, with `ERROR_OPERATION_ABORTED`.
///
/// For a relay thread that copies a caller's stdin into a process and must stop when the
/// process exits: nothing else wakes a thread blocked on a handle it does not own. It only
/// cancels a read already in progress: call it again (or have the thread check a flag) if the
/// thread may be between reads. Does nothing when the thread has finished or is not in a
/// synchronous I/O call.
pub fn cancel_blocking_read(thread: &JoinHandle<()>) {
    let handle = thread.as_raw_handle();
    // SAFETY: `handle` is the thread's handle, owned by `thread`, which the borrow keeps open
    // for the call. CancelSynchronousIo only fails (ERROR_NOT_FOUND) when there is nothing to
    // cancel, which is fine here.
    unsafe { CancelSynchronousIo(handle) };
}
