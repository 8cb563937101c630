//! Gives the shared library its soname, so that programs linked against `libberth.so` load
//! `libberth.so.0` at run time and a later incompatible `libberth.so.1` can sit beside it.

fn main() {
    let target_os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if target_os == "linux" {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libberth.so.0");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
