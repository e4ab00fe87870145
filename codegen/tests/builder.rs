//! `Builder`: paths, output file, watched paths and file errors.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};

use emberstack_codegen::Builder;

/// A fresh scratch directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("builder")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const DEVICE: &str = "[device]\nname = \"E\"\nmac = \"02:00:00:00:00:02\"\n";

#[test]
fn writes_the_output_file_and_lists_watched_paths() {
    let dir = scratch("writes");
    std::fs::write(
        dir.join("my.toml"),
        format!("{DEVICE}[tcp]\n[http]\nweb_root = \"www\"\n"),
    )
    .unwrap();
    std::fs::create_dir_all(dir.join("www")).unwrap();
    std::fs::write(dir.join("www/index.html"), "<p>{{hello}}</p>").unwrap();
    let g = Builder::new()
        .config(dir.join("my.toml"))
        .out_dir(&dir)
        .out_file("cfg.rs")
        .cargo_directives(false)
        .generate()
        .unwrap();
    assert_eq!(g.out_path, dir.join("cfg.rs"));
    assert_eq!(std::fs::read_to_string(&g.out_path).unwrap(), g.code);
    assert_eq!(g.watched, [dir.join("my.toml"), dir.join("www")]);
    assert_eq!(g.config.device.name, "E");
    assert!(g.code.contains("pub mod web"), "{}", g.code);
    assert!(g.code.contains("fn hello(&mut self"), "{}", g.code);

    // Unchanged output is not rewritten (dependents are not rebuilt).
    let before = std::fs::metadata(&g.out_path).unwrap().modified().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    let again = Builder::new()
        .config(dir.join("my.toml"))
        .out_dir(&dir)
        .out_file("cfg.rs")
        .cargo_directives(false)
        .generate()
        .unwrap();
    assert_eq!(again.code, g.code);
    let after = std::fs::metadata(&g.out_path).unwrap().modified().unwrap();
    assert_eq!(before, after);
}

#[test]
fn disabled_http_web_root_is_not_watched() {
    let dir = scratch("disabled");
    std::fs::write(
        dir.join("stack.toml"),
        format!("{DEVICE}[http]\nenabled = false\nweb_root = \"www\"\n"),
    )
    .unwrap();
    let g = Builder::new()
        .config(dir.join("stack.toml"))
        .out_dir(&dir)
        .cargo_directives(false)
        .generate()
        .unwrap();
    assert_eq!(g.out_path, dir.join("emberstack_config.rs"));
    assert_eq!(g.watched, [dir.join("stack.toml")]);
}

#[test]
fn missing_config_file_is_an_error_naming_it() {
    let dir = scratch("missing");
    let e = Builder::new()
        .config(dir.join("nope.toml"))
        .out_dir(&dir)
        .cargo_directives(false)
        .generate()
        .unwrap_err();
    let shown = e.to_string();
    let path = dir.join("nope.toml").display().to_string();
    assert!(
        shown.starts_with(&format!("error: {path}: cannot read {path}: ")),
        "{shown}"
    );
    assert_eq!(e.diagnostics()[0].line_col(), None);
}

#[test]
fn config_errors_are_reported_with_the_name_as_given() {
    let dir = scratch("invalid");
    std::fs::write(dir.join("stack.toml"), "[device]\nname = \"E\"\n").unwrap();
    let e = Builder::new()
        .config(dir.join("stack.toml"))
        .out_dir(&dir)
        .cargo_directives(false)
        .generate()
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "error: {}:1:1: [device] mac: missing key; expected the MAC address, e.g. \
             `mac = \"02:00:00:00:00:01\"`",
            dir.join("stack.toml").display()
        )
    );
    assert!(!dir.join("emberstack_config.rs").exists());
}

#[test]
fn relative_config_is_relative_to_the_manifest_dir() {
    // CARGO_MANIFEST_DIR is this crate's directory while its tests run;
    // the bad fixture's file exists there.
    let dir = scratch("relative");
    let e = Builder::new()
        .config("tests/fixtures/bad_device/stack.toml")
        .out_dir(&dir)
        .cargo_directives(false)
        .generate()
        .unwrap_err();
    assert!(e
        .to_string()
        .starts_with("error: tests/fixtures/bad_device/stack.toml:7:11: [arp] entries:"));
}

#[test]
fn without_out_dir_outside_a_build_script_is_an_error() {
    if std::env::var_os("OUT_DIR").is_some() {
        return; // only meaningful where cargo did not set it
    }
    let dir = scratch("no_out_dir");
    std::fs::write(dir.join("stack.toml"), DEVICE).unwrap();
    let e = Builder::new()
        .config(dir.join("stack.toml"))
        .cargo_directives(false)
        .generate()
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "error: OUT_DIR is not set: run emberstack-codegen from a build script, or call \
         Builder::out_dir"
    );
}

/// A base config with its own site in `www/`, and another file in `fw/`
/// whose `[http]` (if any) `http_from` reads.
fn base_and_other(name: &str, other_http: &str) -> (PathBuf, PathBuf) {
    let dir = scratch(name);
    std::fs::write(
        dir.join("stack.toml"),
        format!("{DEVICE}[tcp]\nsockets = 4\n[http]\nweb_root = \"www\"\nsockets = 2\n"),
    )
    .unwrap();
    std::fs::create_dir_all(dir.join("www")).unwrap();
    std::fs::write(dir.join("www/index.html"), "<p>{{hello}}</p>").unwrap();
    std::fs::create_dir_all(dir.join("fw")).unwrap();
    std::fs::write(
        dir.join("fw/other.toml"),
        format!("[device]\nname = \"OTHER\"\nmac = \"02:00:00:00:00:09\"\n[tcp]\n{other_http}"),
    )
    .unwrap();
    (dir.join("stack.toml"), dir.join("fw/other.toml"))
}

#[test]
fn http_from_a_file_with_http_takes_its_section_and_site() {
    let (base, other) = base_and_other(
        "http_from",
        "[http]\nweb_root = \"../www\"\nsockets = 1\ngzip = false\netag = false\n",
    );
    let dir = base.parent().unwrap().to_path_buf();
    let g = Builder::new()
        .config(&base)
        .http_from(&other)
        .out_dir(&dir)
        .cargo_directives(false)
        .generate()
        .unwrap();
    // The stack is the base's; the web server is the other file's.
    assert_eq!(g.config.device.name, "E");
    assert_eq!(g.config.http.sockets, 1);
    assert!(!g.config.http.gzip && !g.config.http.etag && g.config.http.multipart);
    assert_eq!(
        g.watched,
        [base.clone(), other.clone(), dir.join("fw/../www")]
    );
    let code = g.code.replace(char::is_whitespace, "");
    assert!(code.contains("constGZIP:bool=false;"), "{}", g.code);
    assert!(code.contains("HttpServer<1,"), "{}", g.code);
    assert!(code.contains("fnhello(&mutself"), "{}", g.code);
    assert!(
        g.code
            .contains(&format!("(`[http]` in `{}`)", other.display())),
        "{}",
        g.code
    );
    assert!(
        g.code.contains(&format!("from `{}`", base.display())),
        "{}",
        g.code
    );
}

#[test]
fn http_from_a_file_without_http_changes_nothing() {
    let (base, other) = base_and_other("http_from_none", "");
    let dir = base.parent().unwrap().to_path_buf();
    let alone = Builder::new()
        .config(&base)
        .out_dir(&dir)
        .out_file("alone.rs")
        .cargo_directives(false)
        .generate()
        .unwrap();
    let with = Builder::new()
        .config(&base)
        .http_from(&other)
        .out_dir(&dir)
        .out_file("with.rs")
        .cargo_directives(false)
        .generate()
        .unwrap();
    assert_eq!(with.code, alone.code);
    assert_eq!(with.watched, [base, other, dir.join("www")]);
}

#[test]
fn http_from_errors_name_that_file() {
    // A form on a page its web root does not have: reported against the
    // file the `[http]` came from.
    let (base, other) = base_and_other(
        "http_from_bad",
        "[http]\nweb_root = \"../www\"\n[http.forms]\nsettings = \"/nope.html\"\n",
    );
    let e = Builder::new()
        .config(&base)
        .http_from(&other)
        .out_dir(base.parent().unwrap())
        .cargo_directives(false)
        .generate()
        .unwrap_err();
    let shown = e.to_string();
    assert!(
        shown.starts_with(&format!(
            "error: {}:8:1: [http] forms.settings: no file /nope.html",
            other.display()
        )),
        "{shown}"
    );
    // A missing file is an error, not "no [http]".
    let e = Builder::new()
        .config(&base)
        .http_from(base.parent().unwrap().join("missing.toml"))
        .out_dir(base.parent().unwrap())
        .cargo_directives(false)
        .generate()
        .unwrap_err();
    assert!(e.to_string().contains("cannot read"), "{e}");
}
