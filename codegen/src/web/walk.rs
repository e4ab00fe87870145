//! Walk: the files under the web root, and the check that the root is a
//! directory at all.

use std::path::{Path, PathBuf};

use crate::diag::{Diagnostic, Error};
use crate::schema::HttpSection;

/// Files under `dir`, recursively, sorted; dot files and directories are
/// skipped.
pub(super) fn walk(dir: &Path, out: &mut Vec<PathBuf>, errors: &mut Vec<Diagnostic>, shown: &str) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            errors.push(Diagnostic::file(
                shown,
                format!("cannot read directory: {e}"),
            ));
            return;
        }
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.starts_with('.') {
            continue;
        }
        let shown_p = format!("{shown}/{name}");
        if p.is_dir() {
            walk(&p, out, errors, &shown_p);
        } else {
            out.push(p);
        }
    }
}

/// Checks that the web root is a directory, with an error at `web_root`
/// in `stack.toml` when it is not.
pub(super) fn check_root(cfg: &HttpSection, toml_file: &str, root: &Path) -> Result<(), Error> {
    if root.is_dir() {
        return Ok(());
    }
    let what = if root.exists() {
        "is not a directory"
    } else {
        "does not exist"
    };
    Err(Error::new(vec![Diagnostic::at(
        toml_file,
        cfg.web_root_at,
        format!(
            "[http] web_root: {:?} {what} ({}); create it or fix the path (relative to the directory of {toml_file})",
            cfg.web_root,
            root.display()
        ),
    )]))
}
