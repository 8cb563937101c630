//! Gives the shared library its soname, so that programs linked against `libberth.so` load
//! `libberth.so.1` at run time and an incompatible one can sit beside it. The soname's number
//! is the ABI version less one: `libberth.so.0` was ABI 1, `libberth.so.1` is ABI 2.

fn main() {
    let target_os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if target_os == "linux" {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libberth.so.1");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
