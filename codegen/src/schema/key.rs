//! The keys of a section, declared once: what each accepts (checked with a
//! spanned error before serde reads the value), its default, its range and
//! its meaning. The checks in [`super::section`] and the reference tables in
//! `codegen/README.md` ([`super::readme`]) both read these declarations.

use crate::diag::Span;
use crate::reader::TableReader;

/// Checks the text of a string value beyond its type (a MAC address, an
/// IPv4 address): reports each problem through the reader (with a span
/// inside the string where it can) and says whether the value is valid.
pub(crate) type Content = fn(&mut TableReader<'_, '_, '_>, &'static str, &str, &Span) -> bool;

/// What a key's value must be.
#[derive(Clone, Copy)]
pub(crate) enum Check {
    /// An integer from `min` to `max`.
    Int { min: i64, max: i64 },
    /// A boolean.
    Bool,
    /// A string; `what` says what it should look like (for the wrong-type
    /// message) and `content`, when set, checks its text.
    Str {
        what: &'static str,
        content: Option<Content>,
    },
    /// One of these strings.
    Choice(&'static [&'static str]),
    /// Read by the section itself (a sub-table such as `[http.forms]`),
    /// not by serde.
    Manual,
    /// Not a key of this section although people try it (the NetBIOS name
    /// is `[device] name`): always an error with this message.
    Refused(&'static str),
}

/// A key's default, as the reference shows it.
#[derive(Clone, Copy)]
#[cfg_attr(not(test), allow(dead_code))] // shown by the README generator (a test)
pub(crate) enum KeyDefault {
    /// A TOML value (`4`, `true`, `"regenerate"`): shown as code, and a
    /// test checks that writing it changes nothing.
    Value(&'static str),
    /// Prose (`none`, `required`, "`[ipv4] dhcp`").
    Text(&'static str),
}

/// One key of a section (or of the document root).
#[derive(Clone, Copy)]
#[cfg_attr(not(test), allow(dead_code))] // the columns are read by the README generator (a test)
pub(crate) struct Key {
    /// The key as written in `stack.toml`.
    pub(crate) name: &'static str,
    /// What the value must be.
    pub(crate) check: Check,
    /// The unit of an integer (`seconds`), shown as `integer (seconds)`.
    unit: &'static str,
    /// The Type column when the kind does not say it (`string "A.B.C.D"`).
    ty: &'static str,
    /// The default.
    pub(crate) default: KeyDefault,
    /// The Range column when the check does not say it all; appended to
    /// the integer range when `range_more` is set.
    range: &'static str,
    range_more: bool,
    /// The Meaning column (Markdown, one paragraph).
    pub(crate) doc: &'static str,
    /// When the key is required: the hint after "missing key; ".
    pub(crate) required: Option<&'static str>,
}

impl Key {
    const fn new(name: &'static str, check: Check) -> Key {
        Key {
            name,
            check,
            unit: "",
            ty: "",
            default: KeyDefault::Text("none"),
            range: "",
            range_more: false,
            doc: "",
            required: None,
        }
    }

    /// An integer from `min` to `max`.
    pub(crate) const fn int(name: &'static str, min: i64, max: i64) -> Key {
        Key::new(name, Check::Int { min, max })
    }

    /// A boolean.
    pub(crate) const fn bool(name: &'static str) -> Key {
        Key::new(name, Check::Bool)
    }

    /// A string that looks like `what` (`a MAC address like "02:…"`).
    pub(crate) const fn string(name: &'static str, what: &'static str) -> Key {
        Key::new(
            name,
            Check::Str {
                what,
                content: None,
            },
        )
    }

    /// One of `options`.
    pub(crate) const fn choice(name: &'static str, options: &'static [&'static str]) -> Key {
        Key::new(name, Check::Choice(options))
    }

    /// A key the section reads itself (not shown in the key table).
    pub(crate) const fn manual(name: &'static str) -> Key {
        Key::new(name, Check::Manual)
    }

    /// A key that is always an error with `message` (not shown).
    pub(crate) const fn refused(name: &'static str, message: &'static str) -> Key {
        Key::new(name, Check::Refused(message))
    }

    /// Checks a string's text with `content`.
    pub(crate) const fn content(mut self, content: Content) -> Key {
        if let Check::Str { what, .. } = self.check {
            self.check = Check::Str {
                what,
                content: Some(content),
            };
        }
        self
    }

    /// The unit of an integer.
    pub(crate) const fn unit(mut self, unit: &'static str) -> Key {
        self.unit = unit;
        self
    }

    /// The Type column, written out.
    pub(crate) const fn ty(mut self, ty: &'static str) -> Key {
        self.ty = ty;
        self
    }

    /// The default as a TOML value.
    pub(crate) const fn default(mut self, value: &'static str) -> Key {
        self.default = KeyDefault::Value(value);
        self
    }

    /// The default in words.
    pub(crate) const fn default_text(mut self, text: &'static str) -> Key {
        self.default = KeyDefault::Text(text);
        self
    }

    /// The Range column, written out.
    pub(crate) const fn range(mut self, range: &'static str) -> Key {
        self.range = range;
        self.range_more = false;
        self
    }

    /// More to the integer range (`at least rto_min_ms`).
    pub(crate) const fn range_more(mut self, more: &'static str) -> Key {
        self.range = more;
        self.range_more = true;
        self
    }

    /// The meaning.
    pub(crate) const fn doc(mut self, doc: &'static str) -> Key {
        self.doc = doc;
        self
    }

    /// Required, with how to add it.
    pub(crate) const fn required(mut self, how: &'static str) -> Key {
        self.required = Some(how);
        self.default = KeyDefault::Text("required");
        self
    }

    /// Whether the key is one serde reads (and the reference lists).
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn is_plain(&self) -> bool {
        !matches!(self.check, Check::Manual | Check::Refused(_))
    }

    /// Checks `value` (a key of the table `r` reads), recording what is
    /// wrong; true when serde may read it.
    pub(crate) fn accepts(
        &self,
        r: &mut TableReader<'_, '_, '_>,
        value: &toml::Spanned<toml::de::DeValue<'_>>,
    ) -> bool {
        match self.check {
            Check::Int { min, max } => r.int_value(self.name, value, min, max).is_some(),
            Check::Bool => r.bool_value(self.name, value).is_some(),
            Check::Choice(options) => r.choice_value(self.name, value, options).is_some(),
            Check::Str { what, content } => match r.string_value(self.name, value, what) {
                Some(text) => content.is_none_or(|check| check(r, self.name, &text, &value.span())),
                None => false,
            },
            Check::Manual => false,
            Check::Refused(message) => {
                r.error(self.name, value.span(), message);
                false
            }
        }
    }

    /// The row of the reference table.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn row(&self) -> String {
        let ty = match (self.ty, self.check) {
            ("", Check::Int { .. }) if self.unit.is_empty() => "integer".to_owned(),
            ("", Check::Int { .. }) => format!("integer ({})", self.unit),
            ("", Check::Bool) => "boolean".to_owned(),
            ("", Check::Choice(options)) => options
                .iter()
                .map(|o| format!("`\"{o}\"`"))
                .collect::<Vec<_>>()
                .join(" or "),
            ("", _) => "string".to_owned(),
            (ty, _) => ty.to_owned(),
        };
        let default = match self.default {
            KeyDefault::Value(v) => format!("`{v}`"),
            KeyDefault::Text(t) => t.to_owned(),
        };
        let range = match self.check {
            Check::Int { min, max } if self.range_more => format!("{min} to {max}, {}", self.range),
            Check::Int { min, max } if self.range.is_empty() => format!("{min} to {max}"),
            _ => self.range.to_owned(),
        };
        let name = self.name;
        let doc = self.doc;
        // An empty cell is written `| |`, as by hand.
        format!("| `{name}` | {ty} | {default} | {range} | {doc} |").replace("|  |", "| |")
    }
}

/// The reference table of `keys` (the shown ones), with its header.
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) fn table(keys: &[Key]) -> String {
    let mut out =
        String::from("| Key | Type | Default | Range | Meaning |\n|---|---|---|---|---|\n");
    for key in keys.iter().filter(|k| k.is_plain()) {
        out.push_str(&key.row());
        out.push('\n');
    }
    out
}
