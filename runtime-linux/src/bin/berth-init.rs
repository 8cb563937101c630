//! The helper executable that libberth spawns for every container. See
//! `runtime_linux::helper`.

fn main() {
    runtime_linux::helper::main()
}
