//! Real `cargo build`s of fixture crates under `tests/fixtures/`: a wrong
//! `stack.toml` fails the build with our diagnostics in cargo's output; a
//! right one compiles (against a stand-in runtime) under
//! `deny(missing_docs, warnings)`; a too-small `ram_budget` fails to compile
//! with the budget message.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long one fixture build may take (it compiles the generator's
/// dependencies the first time).
const TIMEOUT: Duration = Duration::from_secs(600);

struct Output {
    success: bool,
    stderr: String,
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// `cargo build` in `dir`, `--offline` first and online if the offline
/// build could not resolve dependencies. Bounded by [`TIMEOUT`].
fn cargo_build(dir: &Path, env: &[(&str, &str)]) -> Output {
    let out = run_cargo(dir, env, true);
    if !out.success && offline_registry_problem(&out.stderr) {
        return run_cargo(dir, env, false);
    }
    out
}

fn offline_registry_problem(stderr: &str) -> bool {
    [
        "--offline",
        "offline mode",
        "failed to download",
        "no matching package",
        "failed to load source",
    ]
    .iter()
    .any(|s| stderr.contains(s))
}

fn run_cargo(dir: &Path, env: &[(&str, &str)], offline: bool) -> Output {
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fixtures");
    std::fs::create_dir_all(&target).unwrap();
    let tag = if offline { "offline" } else { "online" };
    let name = dir.file_name().unwrap().to_string_lossy().into_owned();
    let stderr_path = target.join(format!("{name}-{tag}-{}.stderr", std::process::id()));
    let stderr_file = std::fs::File::create(&stderr_path).unwrap();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut cmd = Command::new(cargo);
    cmd.arg("build")
        .arg("--quiet")
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", &target)
        .env_remove("FIXTURE_STACK_TOML")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr_file);
    if offline {
        cmd.arg("--offline");
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("run cargo");
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("cargo build in {} took over {TIMEOUT:?}", dir.display());
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    let _ = std::fs::remove_file(&stderr_path);
    Output {
        success: status.success(),
        stderr,
    }
}

#[test]
fn bad_stack_toml_fails_the_build_with_diagnostics() {
    let out = cargo_build(&fixture("bad_device"), &[]);
    assert!(!out.success, "build should fail; stderr:\n{}", out.stderr);
    for expected in [
        "error: stack.toml:7:11: [arp] entries: expected an integer from 1 to 64, found 0",
        "error: stack.toml:10:1: [udp] socket: unknown key; did you mean `sockets`?",
    ] {
        assert!(
            out.stderr.contains(expected),
            "missing `{expected}` in stderr:\n{}",
            out.stderr
        );
    }
}

#[test]
fn good_stack_toml_compiles_and_ram_budget_is_enforced() {
    let dir = fixture("good_device");
    let out = cargo_build(&dir, &[]);
    assert!(out.success, "build should succeed; stderr:\n{}", out.stderr);

    let out = cargo_build(&dir, &[("FIXTURE_STACK_TOML", "over_budget.toml")]);
    assert!(
        !out.success,
        "build should fail on the budget; stderr:\n{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("over_budget.toml: ram_budget = 16 bytes is less than RAM_BYTES"),
        "stderr:\n{}",
        out.stderr
    );
}
