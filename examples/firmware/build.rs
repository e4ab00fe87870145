//! Puts `memory.x` on the linker path (the cortex-m-rt pattern) and, when
//! `EMBER_FIRMWARE_TOML` names a stack.toml (an absolute path), generates
//! that configuration for the firmware instead of the reference device's
//! (the footprint script's "everything on" and seed builds; the
//! application code stays the same). When that file has an `[http]` table,
//! the application's build script (the root `build.rs`) generates its web
//! server from it: the stack and the web server then both come from it.
use std::{env, fs, path::PathBuf};

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR is set by cargo"));
    fs::write(out.join("memory.x"), include_bytes!("memory.x")).expect("write memory.x");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=memory.x");
    println!("cargo:rerun-if-changed=build.rs");

    println!("cargo::rustc-check-cfg=cfg(custom_config)");
    println!("cargo:rerun-if-env-changed=EMBER_FIRMWARE_TOML");
    if let Some(toml) = env::var_os("EMBER_FIRMWARE_TOML").filter(|p| !p.is_empty()) {
        emberstack_codegen::Builder::new()
            .config(PathBuf::from(toml))
            .run_or_exit();
        println!("cargo:rustc-cfg=custom_config");
    }
}
