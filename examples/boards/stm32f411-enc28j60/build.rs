//! Generates the stack from this board's `stack.toml` and puts `memory.x`
//! on the linker path (the cortex-m-rt pattern).
use std::{env, fs, path::PathBuf};

fn main() {
    emberstack_codegen::Builder::new()
        .config("stack.toml")
        .run_or_exit();
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR is set by cargo"));
    fs::write(out.join("memory.x"), include_bytes!("memory.x")).expect("write memory.x");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=memory.x");
    println!("cargo:rerun-if-changed=stack.toml");
    println!("cargo:rerun-if-changed=build.rs");
}
