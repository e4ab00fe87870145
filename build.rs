//! Generates the reference device's stack from `stack.toml`.
fn main() {
    emberstack_codegen::Builder::new()
        .config("stack.toml")
        .run_or_exit();
}
