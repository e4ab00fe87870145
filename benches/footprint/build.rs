//! Generates the stack from `$EMBERSTACK_TOML` (default: the reference
//! device's `../../stack.toml`) and puts `memory.x` on the linker path.
use std::{env, fs, path::PathBuf};

fn main() {
    println!("cargo:rerun-if-env-changed=EMBERSTACK_TOML");
    let config = env::var_os("EMBERSTACK_TOML")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("../../stack.toml"));
    emberstack_codegen::Builder::new()
        .config(config)
        .run_or_exit();

    // The cortex-m-rt pattern: memory.x in OUT_DIR, OUT_DIR on the search path.
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR is set by cargo"));
    fs::write(out.join("memory.x"), include_bytes!("memory.x")).expect("write memory.x");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=memory.x");
    println!("cargo:rerun-if-changed=build.rs");
}
