//! Typed, span-keeping access to one TOML table, collecting diagnostics.
//!
//! Every section of `stack.toml` is read through a [`TableReader`]: it
//! checks each declared key's value (typed errors with the value's span),
//! hands the valid ones to serde, and reports every other key as unknown
//! with the nearest declared one as a suggestion. The document root asks
//! for its key and sections by name the same way.

use toml::de::{DeTable, DeValue};
use toml::Spanned;

use crate::diag::{Diagnostics, Span};
use crate::schema::key::{Check, Key};

/// The outcome of reading one key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Field<T> {
    /// The key is not in the table.
    Absent,
    /// The key is there but its value is wrong; an error was recorded.
    Invalid,
    /// The key's value and the span of that value.
    Value(T, Span),
}

/// Reads the keys of one table (a section, or the document root).
pub(crate) struct TableReader<'a, 'i, 's> {
    /// `[arp]` for a section, empty for the root.
    path: String,
    header: Span,
    table: Option<&'a DeTable<'i>>,
    known: Vec<&'static str>,
    /// The subset of `known` that are tables (sections).
    sections: Vec<&'static str>,
    /// Unknown keys are already reported (the table was read by serde).
    reported: bool,
    /// The declared keys whose values passed their checks.
    accepted: Vec<&'static str>,
    diags: &'a mut Diagnostics<'s>,
}

impl<'a, 'i, 's> TableReader<'a, 'i, 's> {
    /// A reader for `table`, whose header (or, for an absent table, the
    /// place a missing-key error points at) is `header`. `name` is the
    /// section name, empty for the document root.
    pub(crate) fn new(
        name: &str,
        header: Span,
        table: Option<&'a DeTable<'i>>,
        diags: &'a mut Diagnostics<'s>,
    ) -> Self {
        let path = if name.is_empty() {
            String::new()
        } else {
            format!("[{name}]")
        };
        TableReader {
            path,
            header,
            table,
            known: Vec::new(),
            sections: Vec::new(),
            reported: false,
            accepted: Vec::new(),
            diags,
        }
    }

    /// The span errors about the whole table point at (its header).
    pub(crate) fn header(&self) -> Span {
        self.header.clone()
    }

    /// Whether the table is in the file (a section may be absent).
    pub(crate) fn is_present(&self) -> bool {
        self.table.is_some()
    }

    /// Where the table's header is (for errors about the whole section).
    pub(crate) fn header_span(&self) -> Span {
        self.header.clone()
    }

    /// The diagnostics collector (for errors that are not about one key).
    pub(crate) fn diags(&mut self) -> &mut Diagnostics<'s> {
        self.diags
    }

    /// `[arp] entries` — how messages name `key` in this table.
    pub(crate) fn key_path(&self, key: &str) -> String {
        if self.path.is_empty() {
            display_key(key)
        } else {
            format!("{} {}", self.path, display_key(key))
        }
    }

    /// Records an error about `key` at `span`: `[arp] entries: {message}`.
    pub(crate) fn error(&mut self, key: &str, span: Span, message: impl Into<String>) {
        let path = self.key_path(key);
        self.diags
            .error(span, format!("{path}: {}", message.into()));
    }

    /// Records that the required `key` is missing (pointing at the header),
    /// if the table is present at all (an absent required table is
    /// reported once, by whoever requires it).
    pub(crate) fn missing(&mut self, key: &str, why: &str) {
        if self.table.is_some() {
            let span = self.header.clone();
            self.error(key, span, format!("missing key; {why}"));
        }
    }

    /// The raw value of `key`, marking it known.
    pub(crate) fn raw(&mut self, key: &'static str) -> Option<&'a Spanned<DeValue<'i>>> {
        self.known.push(key);
        self.table?.get(key)
    }

    /// Checks that `v`, the value of `key`, is an integer in `min..=max`.
    pub(crate) fn int_value(
        &mut self,
        key: &str,
        v: &Spanned<DeValue<'_>>,
        min: i64,
        max: i64,
    ) -> Option<i64> {
        let expected = format!("expected an integer from {min} to {max}");
        let span = v.span();
        match v.get_ref() {
            DeValue::Integer(i) => {
                match i128::from_str_radix(i.as_str(), i.radix())
                    .ok()
                    .filter(|n| (i128::from(min)..=i128::from(max)).contains(n))
                    .and_then(|n| i64::try_from(n).ok())
                {
                    Some(n) => Some(n),
                    None => {
                        let found = self.found(v);
                        self.error(key, span, format!("{expected}, found {found}"));
                        None
                    }
                }
            }
            DeValue::String(s) if s.trim().parse::<i64>().is_ok() => {
                let found = self.found(v);
                let hint = s.trim();
                self.error(
                    key,
                    span,
                    format!("{expected}, found {found}; did you mean `{hint}` (without quotes)?"),
                );
                None
            }
            _ => {
                let found = self.found(v);
                self.error(key, span, format!("{expected}, found {found}"));
                None
            }
        }
    }

    /// Checks that `v`, the value of `key`, is a boolean.
    pub(crate) fn bool_value(&mut self, key: &str, v: &Spanned<DeValue<'_>>) -> Option<bool> {
        let span = v.span();
        match v.get_ref() {
            DeValue::Boolean(b) => Some(*b),
            other => {
                let found = self.found(v);
                let hint = match other {
                    DeValue::String(s) => match s.trim().to_ascii_lowercase().as_str() {
                        "true" | "yes" | "on" | "1" => "; did you mean `true` (without quotes)?",
                        "false" | "no" | "off" | "0" => "; did you mean `false` (without quotes)?",
                        _ => "",
                    },
                    DeValue::Integer(i) if i.as_str() == "1" => "; did you mean `true`?",
                    DeValue::Integer(i) if i.as_str() == "0" => "; did you mean `false`?",
                    _ => "",
                };
                self.error(
                    key,
                    span,
                    format!("expected a boolean (`true` or `false`), found {found}{hint}"),
                );
                None
            }
        }
    }

    /// Checks that `v`, the value of `key`, is a string (`what` describes
    /// the expected content for the wrong-type message).
    pub(crate) fn string_value(
        &mut self,
        key: &str,
        v: &Spanned<DeValue<'_>>,
        what: &str,
    ) -> Option<String> {
        match v.get_ref() {
            DeValue::String(s) => Some(s.to_string()),
            _ => {
                let found = self.found(v);
                self.error(key, v.span(), format!("expected {what}, found {found}"));
                None
            }
        }
    }

    /// Checks that `v`, the value of `key`, is one of `options`.
    pub(crate) fn choice_value(
        &mut self,
        key: &str,
        v: &Spanned<DeValue<'_>>,
        options: &[&'static str],
    ) -> Option<&'static str> {
        let list = options
            .iter()
            .map(|o| format!("\"{o}\""))
            .collect::<Vec<_>>()
            .join(" or ");
        let s = self.string_value(key, v, &format!("one of {list}"))?;
        match options.iter().find(|o| **o == s) {
            Some(o) => Some(o),
            None => {
                let hint = match nearest(&s, options) {
                    Some(n) => format!("; did you mean \"{n}\"?"),
                    None => String::new(),
                };
                self.error(
                    key,
                    v.span(),
                    format!("expected one of {list}, found {}{hint}", quote_str(&s)),
                );
                None
            }
        }
    }

    /// A sub-table (section), marking `key` known. A present non-table
    /// value is reported and treated as absent.
    pub(crate) fn table(&mut self, key: &'static str) -> Field<&'a DeTable<'i>> {
        self.sections.push(key);
        let Some(v) = self.raw(key) else {
            return Field::Absent;
        };
        match v.get_ref() {
            DeValue::Table(t) => Field::Value(t, v.span()),
            _ => {
                let found = self.found(v);
                self.diags.error(
                    v.span(),
                    format!("[{key}]: expected a table (a `[{key}]` section), found {found}"),
                );
                Field::Invalid
            }
        }
    }

    /// The span of the part `range` of a string value `value` at `span`,
    /// when the string is written without escapes (so positions inside it
    /// are exact); otherwise the whole value's span.
    pub(crate) fn sub_span(&self, span: &Span, value: &str, range: Span) -> Span {
        let source = self.diags.source();
        let written = source.get(span.clone()).unwrap_or("");
        let plain = written.len() == value.len() + 2
            && (written.starts_with('"') || written.starts_with('\''))
            && written.get(1..written.len() - 1) == Some(value);
        if plain && range.end <= value.len() && range.start <= range.end {
            span.start + 1 + range.start..span.start + 1 + range.end
        } else {
            span.clone()
        }
    }

    /// Where the value of `key` is, when the key is written (valid or not).
    pub(crate) fn span(&self, key: &str) -> Option<Span> {
        self.table?.get(key).map(|v| v.span())
    }

    /// Where the value of `key` is, when it is written and passed its check.
    pub(crate) fn accepted(&self, key: &str) -> Option<Span> {
        if self.accepted.contains(&key) {
            self.span(key)
        } else {
            None
        }
    }

    /// Reads the table with serde into `S`, after checking each key
    /// declared in `keys` (a key that fails its check is reported and left
    /// out, so `S` takes its default there; an invalid file is never
    /// generated). Keys not declared, or declared but not read by serde,
    /// are reported with the nearest declared key; a required key that is
    /// missing is reported at the header.
    pub(crate) fn deserialize<S>(&mut self, keys: &[&Key]) -> S
    where
        S: serde::de::DeserializeOwned + Default,
    {
        for key in keys
            .iter()
            .filter(|k| !matches!(k.check, Check::Refused(_)))
        {
            self.known.push(key.name);
        }
        let mut input = DeTable::new();
        if let Some(table) = self.table {
            for (name, value) in table.iter() {
                match keys.iter().find(|k| k.name == name.get_ref().as_ref()) {
                    Some(key) if !key.accepts(self, value) => {}
                    Some(key) => {
                        self.accepted.push(key.name);
                        input.insert(name.clone(), value.clone());
                    }
                    None => {
                        let is_table = matches!(value.get_ref(), DeValue::Table(_));
                        self.unknown(name.get_ref(), name.span(), is_table);
                    }
                }
            }
            for key in keys {
                if let (Some(how), None) = (key.required, table.get(key.name)) {
                    self.missing(key.name, how);
                }
            }
        }
        let mut ignored = Vec::new();
        let de = toml::de::Deserializer::from(Spanned::new(self.header.clone(), input));
        let read = serde_ignored::deserialize(de, |path| {
            ignored.push(match path {
                serde_ignored::Path::Map {
                    parent: serde_ignored::Path::Root,
                    key,
                } => key,
                other => other.to_string(),
            })
        });
        self.reported = true;
        for name in ignored {
            let span = self
                .table
                .and_then(|t| t.get_key_value(name.as_str()))
                .map_or(self.header.clone(), |(k, _)| k.span());
            self.unknown(&name, span, false);
        }
        match read {
            Ok(s) => s,
            Err(e) => {
                // The checks above let only valid values through, so this
                // is a schema whose checks and types disagree.
                let span = e.span().unwrap_or(self.header.clone());
                self.diags
                    .error(span, format!("{}: {}", self.path, e.message()));
                S::default()
            }
        }
    }

    /// Reports every key not asked for, with the nearest known key.
    pub(crate) fn finish(mut self) {
        let Some(table) = self.table else {
            return;
        };
        if self.reported {
            return;
        }
        for (key, value) in table.iter() {
            let name = key.get_ref().as_ref();
            if self.known.contains(&name) {
                continue;
            }
            let is_section = matches!(value.get_ref(), DeValue::Table(_));
            self.unknown(name, key.span(), is_section);
        }
    }

    /// Reports the unknown key `name` (written at `span`) with the nearest
    /// known key, or, for a table at the document root, as an unknown
    /// section.
    fn unknown(&mut self, name: &str, span: Span, is_table: bool) {
        let is_section = self.path.is_empty() && is_table;
        let message = if is_section {
            let mut m = format!("[{}]: unknown section", display_key(name));
            match nearest(name, &self.sections) {
                Some(s) => m.push_str(&format!("; did you mean `[{s}]`?")),
                None => m.push_str(&format!("; expected one of {}", list(&self.sections, true))),
            }
            m
        } else {
            let mut m = format!("{}: unknown key", self_key_path(&self.path, name));
            let top_level =
                !self.path.is_empty() && crate::schema::TOP_KEYS.iter().any(|k| k.name == name);
            match nearest(name, &self.known) {
                _ if top_level => m.push_str(&format!(
                    "; `{name}` is a top-level key: move it above the first section"
                )),
                Some(s) => m.push_str(&format!("; did you mean `{s}`?")),
                None if self.known.is_empty() => m.push_str("; this section has no keys"),
                None => m.push_str(&format!("; expected one of {}", list(&self.known, false))),
            }
            m
        };
        self.diags.error(span, message);
    }

    /// How a value is shown after "found": scalars as written (strings
    /// quoted, long ones cut), compound values by kind.
    pub(crate) fn found(&self, v: &Spanned<DeValue<'_>>) -> String {
        found(self.diags.source(), v)
    }
}

fn self_key_path(path: &str, key: &str) -> String {
    if path.is_empty() {
        display_key(key)
    } else {
        format!("{path} {}", display_key(key))
    }
}

/// How a value is shown after "found" in a message.
pub(crate) fn found(source: &str, v: &Spanned<DeValue<'_>>) -> String {
    match v.get_ref() {
        DeValue::String(s) => quote_str(s),
        DeValue::Array(a) if !a.is_empty() && a.iter().all(|v| v.get_ref().is_table()) => {
            "an array of tables".to_owned()
        }
        DeValue::Array(_) => "an array".to_owned(),
        DeValue::Table(_) => "a table".to_owned(),
        DeValue::Integer(_) | DeValue::Float(_) | DeValue::Boolean(_) | DeValue::Datetime(_) => {
            match source.get(v.span()) {
                Some(text) if !text.is_empty() && !text.contains('\n') => cut(text.trim()),
                _ => match v.get_ref() {
                    DeValue::Integer(i) => cut(i.as_str()),
                    DeValue::Float(f) => cut(f.as_str()),
                    DeValue::Boolean(b) => b.to_string(),
                    DeValue::Datetime(d) => d.to_string(),
                    _ => "a value".to_owned(),
                },
            }
        }
    }
}

/// `s` as a double-quoted string with escapes, at most ~40 characters.
pub(crate) fn quote_str(s: &str) -> String {
    let escaped: String = s.escape_debug().collect();
    format!("\"{}\"", cut(&escaped))
}

fn cut(s: &str) -> String {
    const MAX: usize = 40;
    if s.chars().count() <= MAX {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(MAX).collect();
        t.push('…');
        t
    }
}

/// A key as written in TOML: bare when it can be, else quoted.
pub(crate) fn display_key(key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if bare {
        key.to_owned()
    } else {
        quote_str(key)
    }
}

/// `` `a`, `b` or `c` `` (as sections `` `[a]` `` when `sections`).
fn list(items: &[&str], sections: bool) -> String {
    let shown: Vec<String> = items
        .iter()
        .map(|k| {
            if sections {
                format!("`[{k}]`")
            } else {
                format!("`{k}`")
            }
        })
        .collect();
    match shown.split_last() {
        None => "nothing".to_owned(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

/// The known name closest to `name` by edit distance (case-insensitive,
/// transpositions count once), if it is close enough to be a likely typo.
pub(crate) fn nearest<'k>(name: &str, known: &[&'k str]) -> Option<&'k str> {
    let lower = name.to_ascii_lowercase();
    let limit = match lower.chars().count() {
        0..=3 => 1,
        4..=6 => 2,
        _ => 3,
    };
    known
        .iter()
        .map(|k| (strsim::damerau_levenshtein(&lower, k), *k))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_finds_typos() {
        let known = ["entries", "lifetime"];
        assert_eq!(nearest("entires", &known), Some("entries"));
        assert_eq!(nearest("Entries", &known), Some("entries"));
        assert_eq!(nearest("lifetim", &known), Some("lifetime"));
        assert_eq!(nearest("colour", &known), None);
        assert_eq!(nearest("", &known), None);
    }

    #[test]
    fn keys_and_lists_render_as_toml() {
        assert_eq!(display_key("entries"), "entries");
        assert_eq!(display_key("a b"), "\"a b\"");
        assert_eq!(display_key(""), "\"\"");
        assert_eq!(list(&["a"], false), "`a`");
        assert_eq!(list(&["a", "b", "c"], true), "`[a]`, `[b]` or `[c]`");
        assert_eq!(cut(&"x".repeat(41)), format!("{}…", "x".repeat(40)));
    }
}
