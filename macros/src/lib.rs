//! Proc-macros for emberstack.
//!
//! The macros bind application handlers to the slots `emberstack-codegen`
//! generated from `stack.toml`; they never read `stack.toml` themselves
//! (a proc-macro cannot track a file). The first of them, `#[http_var]`,
//! arrives with the HTTP server; until then this crate exports nothing.
