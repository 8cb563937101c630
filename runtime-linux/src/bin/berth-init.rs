//! The helper executable that libberth spawns for every container. See
//! `runtime_linux::helper`.

#![deny(unsafe_code)]
#![warn(clippy::undocumented_unsafe_blocks)]

// Calls the helper's entry, whose promises only this `main` can make.
#[allow(unsafe_code)]
fn main() {
    // LXC runs berth-init by its path as a hook of an LXC container (see
    // `runtime_linux::helper::lxc_hook`), with arguments and no channel.
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some(runtime_linux::helper::lxc_hook::HOOK_ARGUMENT) {
        runtime_linux::helper::lxc_hook::main(&args)
    }
    // SAFETY: this is the whole of berth-init's `main`, run before anything else of ours:
    // the process has one thread (the Rust runtime starts none before `main`), and the host
    // spawns it with its end of the channel on fd 3 (`launcher`), which nothing here has
    // opened or owns.
    unsafe { runtime_linux::helper::main() }
}
