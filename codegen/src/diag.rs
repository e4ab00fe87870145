//! Diagnostics: what went wrong, where, rendered like rustc.

use std::fmt;
use std::ops::Range;

/// A byte range into the `stack.toml` source.
pub(crate) type Span = Range<usize>;

/// One problem found in a configuration (or while reading/writing files).
///
/// Renders as one line, `error: stack.toml:7:9: [arp] entries: expected an
/// integer from 1 to 64, found 0`, so it reads like a compiler error in the
/// output of `cargo build`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    file: String,
    location: Option<(usize, usize)>,
    message: String,
}

impl Diagnostic {
    /// A diagnostic at a 1-based line and column of `file`.
    pub(crate) fn at(file: &str, line_col: (usize, usize), message: String) -> Self {
        Diagnostic {
            file: file.to_owned(),
            location: Some(line_col),
            message,
        }
    }

    /// A diagnostic about a file as a whole (for example, it cannot be read).
    pub(crate) fn file(file: &str, message: String) -> Self {
        Diagnostic {
            file: file.to_owned(),
            location: None,
            message,
        }
    }

    /// The file the diagnostic is about, as the caller named it.
    pub fn file_name(&self) -> &str {
        &self.file
    }

    /// 1-based line and column (in characters) the diagnostic points at, if
    /// it points into the file.
    pub fn line_col(&self) -> Option<(usize, usize)> {
        self.location
    }

    /// The message without the `error: file:line:col:` prefix: the key path,
    /// what was expected and what was found.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.location {
            Some((line, col)) => write!(f, "error: {}:{line}:{col}: {}", self.file, self.message),
            None if self.file.is_empty() => write!(f, "error: {}", self.message),
            None => write!(f, "error: {}: {}", self.file, self.message),
        }
    }
}

/// Everything wrong with a configuration: all problems found, not just the
/// first, in file order.
///
/// `Display` prints one [`Diagnostic`] per line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    diagnostics: Vec<Diagnostic>,
}

impl Error {
    /// An error made of the given diagnostics.
    pub(crate) fn new(diagnostics: Vec<Diagnostic>) -> Self {
        Error { diagnostics }
    }

    /// An error that is not about a place in the file (I/O, environment).
    pub(crate) fn other(file: &str, message: String) -> Self {
        Error::new(vec![Diagnostic::file(file, message)])
    }

    /// The individual problems, in file order.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.diagnostics
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.diagnostics.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        if self.diagnostics.len() > 1 {
            write!(
                f,
                "\nerror: aborting due to {} errors in the stack configuration",
                self.diagnostics.len()
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

/// Collects diagnostics while a file is checked, with the source at hand to
/// turn byte spans into lines and columns.
pub(crate) struct Diagnostics<'s> {
    file: &'s str,
    source: &'s str,
    found: Vec<(usize, Diagnostic)>,
}

impl<'s> Diagnostics<'s> {
    /// An empty collector for `source`, named `file` in messages.
    pub(crate) fn new(file: &'s str, source: &'s str) -> Self {
        Diagnostics {
            file,
            source,
            found: Vec::new(),
        }
    }

    /// The source text.
    pub(crate) fn source(&self) -> &'s str {
        self.source
    }

    /// Records an error at the start of `span`.
    pub(crate) fn error(&mut self, span: Span, message: String) {
        let at = span.start.min(self.source.len());
        let d = Diagnostic::at(self.file, line_col(self.source, at), message);
        self.found.push((at, d));
    }

    /// `Ok(value)` when nothing was recorded, else all errors in file order.
    pub(crate) fn finish<T>(mut self, value: T) -> Result<T, Error> {
        if self.found.is_empty() {
            return Ok(value);
        }
        self.found.sort_by_key(|(at, _)| *at);
        Err(Error::new(self.found.into_iter().map(|(_, d)| d).collect()))
    }
}

/// 1-based line and column (counted in characters, as rustc does) of byte
/// offset `at`. Offsets past the end or inside a character are clamped.
pub(crate) fn line_col(source: &str, at: usize) -> (usize, usize) {
    let mut at = at.min(source.len());
    while !source.is_char_boundary(at) {
        at -= 1;
    }
    let before = source.get(..at).unwrap_or("");
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters() {
        let s = "ab\ncé d\n";
        assert_eq!(line_col(s, 0), (1, 1));
        assert_eq!(line_col(s, 3), (2, 1));
        assert_eq!(line_col(s, 6), (2, 3)); // after 'é' (2 bytes)
        assert_eq!(line_col(s, 5), (2, 2)); // inside 'é' → clamped back
        assert_eq!(line_col(s, 1000), (3, 1));
        assert_eq!(line_col("", 5), (1, 1));
    }
}
