//! emberstack-codegen: turns a device's `stack.toml` into the Rust code that
//! configures the `emberstack` TCP/IP stack at build time.
//!
//! Use it from `build.rs` (prost-build style):
//!
//! ```no_run
//! // in build.rs's `fn main`:
//! emberstack_codegen::Builder::new().config("stack.toml").run_or_exit();
//! ```
//!
//! and pull the result in with `emberstack::include_stack!();`. The output
//! defines `Device` (an `impl emberstack::Config` with every table sized),
//! `Stack` and `RAM_BYTES`; see the crate README for the `stack.toml`
//! reference.
//!
//! A mistake in `stack.toml` fails the build with every problem listed the
//! way rustc lists them:
//!
//! ```text
//! error: stack.toml:7:11: [arp] entries: expected an integer from 1 to 64, found 0
//! error: stack.toml:9:1: [udp] socket: unknown key; did you mean `sockets`?
//! ```

mod compose;
mod diag;
mod generate;
mod reader;
pub mod schema;
#[cfg(test)]
mod tests;
pub mod web;

use std::env;
use std::path::{Path, PathBuf};

pub use diag::{Diagnostic, Error};
pub use schema::StackConfig;

/// Parses and validates a `stack.toml` held in memory.
///
/// `file_name` is only used in messages (`stack.toml:7:9: ...`). Returns
/// every problem found, never panics.
pub fn parse_config(file_name: &str, source: &str) -> Result<StackConfig, Error> {
    schema::parse(file_name, source)
}

/// Parses, validates and generates the Rust code for a `stack.toml` held in
/// memory: what [`Builder::generate`] writes, without touching files.
///
/// `[http] web_root` is read relative to the current directory; see
/// [`generate_from_str_in`].
pub fn generate_from_str(file_name: &str, source: &str) -> Result<String, Error> {
    generate_from_str_in(file_name, source, Path::new("."))
}

/// [`generate_from_str`] with `[http] web_root` relative to `dir` (the
/// directory `stack.toml` would be in).
pub fn generate_from_str_in(file_name: &str, source: &str, dir: &Path) -> Result<String, Error> {
    let cfg = parse_config(file_name, source)?;
    let web = web_rom(file_name, &cfg, dir)?;
    generate::generate(file_name, &cfg, web.as_ref(), file_name)
}

/// The web ROM when `[http]` is on.
fn web_rom(file_name: &str, cfg: &StackConfig, dir: &Path) -> Result<Option<web::WebRom>, Error> {
    if !cfg.http.enabled {
        return Ok(None);
    }
    web::build(&cfg.http, file_name, &dir.join(&cfg.http.web_root)).map(Some)
}

/// Configures and runs the generator from a build script.
///
/// Defaults: config `stack.toml` (relative to `CARGO_MANIFEST_DIR`), output
/// `$OUT_DIR/emberstack_config.rs`, the file `emberstack::include_stack!()`
/// includes.
#[derive(Clone, Debug)]
pub struct Builder {
    config: PathBuf,
    http_from: Option<PathBuf>,
    out_file: PathBuf,
    out_dir: Option<PathBuf>,
    cargo_directives: bool,
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new()
    }
}

/// What [`Builder::generate`] produced.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Generated {
    /// The validated configuration (with the [`Builder::http_from`]
    /// file's `[http]` when it had one).
    pub config: StackConfig,
    /// The generated Rust code.
    pub code: String,
    /// Where the code was written.
    pub out_path: PathBuf,
    /// The files and directories the output depends on (the config file,
    /// the [`Builder::http_from`] file, and the web root when `[http]`
    /// names one): what `cargo:rerun-if-changed` was printed for.
    pub watched: Vec<PathBuf>,
}

impl Builder {
    /// A builder with the defaults.
    pub fn new() -> Self {
        Builder {
            config: PathBuf::from("stack.toml"),
            http_from: None,
            out_file: PathBuf::from("emberstack_config.rs"),
            out_dir: None,
            cargo_directives: true,
        }
    }

    /// The `stack.toml` to read: relative to `CARGO_MANIFEST_DIR` (the
    /// package being built) unless absolute. Messages name it as given here.
    pub fn config(mut self, path: impl AsRef<Path>) -> Self {
        self.config = path.as_ref().to_path_buf();
        self
    }

    /// Takes `[http]` (the web server's settings, feature switches, forms
    /// and `web_root`, relative to that file's directory) from another
    /// `stack.toml` when that file has an `[http]` table that is on, in
    /// place of the config's own; without one the config's `[http]` stays.
    /// The rest of that file is validated but not used.
    ///
    /// For an application generated from one file and built into a
    /// firmware whose stack comes from another (the footprint builds:
    /// the demo application's site with the seed configuration's HTTP
    /// features). The path resolves as [`config`](Self::config)'s does.
    pub fn http_from(mut self, path: impl AsRef<Path>) -> Self {
        self.http_from = Some(path.as_ref().to_path_buf());
        self
    }

    /// The output file name inside the output directory (default
    /// `emberstack_config.rs`; pass another name to
    /// `emberstack::include_stack!("name.rs")` when a crate has several
    /// configurations).
    pub fn out_file(mut self, name: impl AsRef<Path>) -> Self {
        self.out_file = name.as_ref().to_path_buf();
        self
    }

    /// The output directory (default: `$OUT_DIR`, set by cargo for build
    /// scripts). For use outside build scripts.
    pub fn out_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.out_dir = Some(dir.as_ref().to_path_buf());
        self
    }

    /// Whether to print `cargo:rerun-if-changed` lines (default `true`;
    /// turn off when not running inside a build script).
    pub fn cargo_directives(mut self, on: bool) -> Self {
        self.cargo_directives = on;
        self
    }

    /// Reads, validates and generates; writes the output file (only when
    /// its contents change, so dependents are not rebuilt needlessly).
    ///
    /// Prints `cargo:rerun-if-changed` for the config file (and the
    /// [`http_from`](Self::http_from) file) and, when `[http] web_root` is
    /// given, for the web root directory (relative to the directory of the
    /// `stack.toml` the `[http]` came from).
    pub fn generate(&self) -> Result<Generated, Error> {
        let mut watched = Vec::new();
        let (shown, path, mut config) = self.read(&self.config, &mut watched)?;
        let mut dir = path.parent().unwrap_or(Path::new("")).to_path_buf();
        let mut web_file = shown.clone();
        if let Some(from) = &self.http_from {
            let (from_shown, from_path, from_config) = self.read(from, &mut watched)?;
            if from_config.http.enabled {
                config.http = from_config.http;
                dir = from_path.parent().unwrap_or(Path::new("")).to_path_buf();
                web_file = from_shown;
            }
        }
        if config.http.enabled {
            let web_root = dir.join(&config.http.web_root);
            if self.cargo_directives {
                println!("cargo:rerun-if-changed={}", web_root.display());
            }
            watched.push(web_root);
        }
        let web = web_rom(&web_file, &config, &dir)?;
        let code = generate::generate(&shown, &config, web.as_ref(), &web_file)?;

        let out_dir = match &self.out_dir {
            Some(d) => d.clone(),
            None => env::var_os("OUT_DIR").map(PathBuf::from).ok_or_else(|| {
                Error::other(
                    "",
                    "OUT_DIR is not set: run emberstack-codegen from a build script, or call \
                     Builder::out_dir"
                        .to_owned(),
                )
            })?,
        };
        let out_path = out_dir.join(&self.out_file);
        let unchanged = std::fs::read_to_string(&out_path).is_ok_and(|old| old == code);
        if !unchanged {
            std::fs::write(&out_path, &code).map_err(|e| {
                Error::other(&shown, format!("cannot write {}: {e}", out_path.display()))
            })?;
        }
        Ok(Generated {
            config,
            code,
            out_path,
            watched,
        })
    }

    /// Reads and validates one `stack.toml` (relative to
    /// `CARGO_MANIFEST_DIR` unless absolute), watching it: the name as
    /// given (for messages), the path read, the configuration.
    fn read(
        &self,
        file: &Path,
        watched: &mut Vec<PathBuf>,
    ) -> Result<(String, PathBuf, StackConfig), Error> {
        let shown = file.display().to_string();
        let path = if file.is_absolute() {
            file.to_path_buf()
        } else {
            match env::var_os("CARGO_MANIFEST_DIR") {
                Some(dir) => PathBuf::from(dir).join(file),
                None => file.to_path_buf(),
            }
        };
        if self.cargo_directives {
            println!("cargo:rerun-if-changed={}", path.display());
        }
        watched.push(path.clone());
        let source = std::fs::read_to_string(&path)
            .map_err(|e| Error::other(&shown, format!("cannot read {}: {e}", path.display())))?;
        let config = parse_config(&shown, &source)?;
        Ok((shown, path, config))
    }

    /// [`generate`](Self::generate) for build scripts: on error, prints
    /// every diagnostic to stderr (cargo shows it in the failed build's
    /// output) and exits with status 1.
    pub fn run_or_exit(&self) -> Generated {
        match self.generate() {
            Ok(g) => g,
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(1);
            }
        }
    }
}
