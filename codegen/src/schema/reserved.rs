//! Reserved sections (`[http]`): accepted with any content, kept as
//! written, generating nothing yet.

use std::collections::BTreeMap;

use toml::de::{DeTable, DeValue};
use toml::Spanned;

use crate::reader::{Field, TableReader};

/// A section whose schema a later version defines. Its keys are not checked
/// now (only `enabled`, which must be a boolean); it generates nothing.
#[derive(Clone, Debug, PartialEq)]
pub struct ReservedSection {
    name: &'static str,
    enabled: bool,
    span_start: usize,
    table: BTreeMap<String, RawValue>,
}

impl ReservedSection {
    /// The section name (`"http"`).
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// `enabled` (default `true`); `enabled = false` turns the section off
    /// without deleting its settings.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// The value of `key` as written, if present.
    pub fn get(&self, key: &str) -> Option<&RawValue> {
        self.table.get(key)
    }

    /// The string value of `key`, if present and a string.
    pub fn string(&self, key: &str) -> Option<&str> {
        match self.get(key) {
            Some(RawValue::String(s)) => Some(s),
            _ => None,
        }
    }

    /// All keys and values, sorted by key.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &RawValue)> {
        self.table.iter().map(|(k, v)| (k.as_str(), v))
    }

    pub(crate) fn span_start(&self) -> usize {
        self.span_start
    }
}

/// A TOML value kept as written, for sections not yet given a schema.
#[derive(Clone, Debug, PartialEq)]
pub enum RawValue {
    /// A string.
    String(String),
    /// An integer.
    Integer(i64),
    /// A float.
    Float(f64),
    /// A boolean.
    Boolean(bool),
    /// A date/time, as TOML prints it.
    Datetime(String),
    /// An array.
    Array(Vec<RawValue>),
    /// A table, sorted by key.
    Table(BTreeMap<String, RawValue>),
}

impl RawValue {
    fn from_de(v: &DeValue<'_>) -> RawValue {
        match v {
            DeValue::String(s) => RawValue::String(s.to_string()),
            // TOML integers are 64-bit; the parser has already rejected
            // anything else, so the fallback is never taken.
            DeValue::Integer(i) => {
                RawValue::Integer(i64::from_str_radix(i.as_str(), i.radix()).unwrap_or_default())
            }
            DeValue::Float(f) => RawValue::Float(f.as_str().parse().unwrap_or(f64::NAN)),
            DeValue::Boolean(b) => RawValue::Boolean(*b),
            DeValue::Datetime(d) => RawValue::Datetime(d.to_string()),
            DeValue::Array(a) => {
                RawValue::Array(a.iter().map(|v| RawValue::from_de(v.get_ref())).collect())
            }
            DeValue::Table(t) => RawValue::Table(table(t)),
        }
    }
}

fn table(t: &DeTable<'_>) -> BTreeMap<String, RawValue> {
    t.iter()
        .map(|(k, v): (&Spanned<_>, &Spanned<DeValue<'_>>)| {
            (k.get_ref().to_string(), RawValue::from_de(v.get_ref()))
        })
        .collect()
}

/// Reads reserved section `name` from the root table, if present.
pub(super) fn parse(
    name: &'static str,
    root: &mut TableReader<'_, '_, '_>,
) -> Option<ReservedSection> {
    let Field::Value(t, span) = root.table(name) else {
        return None;
    };
    let mut r = TableReader::new(name, span.clone(), Some(t), root.diags());
    let enabled = r.bool("enabled").or(true);
    // Not `r.finish()`: the other keys are not checked yet.
    Some(ReservedSection {
        name,
        enabled,
        span_start: span.start,
        table: table(t),
    })
}
