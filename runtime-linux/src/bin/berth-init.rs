//! The helper executable that libberth spawns for every container. See
//! `runtime_linux::helper`.

#![deny(unsafe_code)]
#![warn(clippy::undocumented_unsafe_blocks)]

// Calls the helper's entry, whose promises only this `main` can make.
#[allow(unsafe_code)]
fn main() {
    // SAFETY: this is the whole of berth-init's `main`, run before anything else of ours:
    // the process has one thread (the Rust runtime starts none before `main`), and the host
    // spawns it with its end of the channel on fd 3 (`launcher`), which nothing here has
    // opened or owns.
    unsafe { runtime_linux::helper::main() }
}
