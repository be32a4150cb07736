//! Reading a policy file: toml's spanned tree, then each `section.NAME`
//! entry deserialized on its own so one bad entry does not hide the others.

use std::path::Path;

use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use super::spec::{CheckSpec, NameSpec, PoolSpec};
use crate::diag::Diagnostics;

pub(super) struct Cx<'a> {
    pub(super) path: &'a Path,
    pub(super) text: &'a str,
    pub(super) diags: &'a mut Diagnostics,
}

impl Cx<'_> {
    pub(super) fn error(
        &mut self,
        offset: usize,
        key: impl Into<String>,
        message: impl Into<String>,
    ) {
        self.diags
            .error_at_offset(self.path, self.text, offset, key, message);
    }

    /// The value of a [`crate::config::values`] check, or `None` after
    /// reporting its message at `offset` against `key`.
    pub(super) fn check<T>(
        &mut self,
        offset: usize,
        key: impl Into<String>,
        r: Result<T, String>,
    ) -> Option<T> {
        r.map_err(|m| self.error(offset, key, m)).ok()
    }
}

/// One `section.NAME` entry; `spec` is `None` when it failed to
/// deserialize (already reported), so references to it stay quiet.
pub(super) struct Entry<T> {
    pub(super) name: Spanned<String>,
    pub(super) spec: Option<T>,
}

pub(super) struct FileSpec {
    pub(super) checks: Vec<Entry<CheckSpec>>,
    pub(super) pools: Vec<Entry<PoolSpec>>,
    pub(super) names: Vec<Entry<NameSpec>>,
}

const SECTIONS: &str = "expected one of `checks`, `pools`, `names`";

pub(super) fn parse(cx: &mut Cx<'_>) -> Option<FileSpec> {
    let (doc, errors) = DeTable::parse_recoverable(cx.text);
    if !errors.is_empty() {
        // A damaged document would only produce follow-on noise.
        for e in errors {
            let at = e.span().map_or(0, |s| s.start);
            cx.error(at, "", e.message());
        }
        return None;
    }
    let mut file = FileSpec {
        checks: Vec::new(),
        pools: Vec::new(),
        names: Vec::new(),
    };
    for (key, value) in in_file_order(doc.into_inner()) {
        match key.get_ref().as_ref() {
            "checks" => section(cx, "checks", value, &mut file.checks),
            "pools" => section(cx, "pools", value, &mut file.pools),
            "names" => section(cx, "names", value, &mut file.names),
            other => cx.error(
                key.span().start,
                key_path("", other),
                format!("unknown key, {SECTIONS}"),
            ),
        }
    }
    Some(file)
}

pub(super) type DeEntry<'i> = (Spanned<std::borrow::Cow<'i, str>>, Spanned<DeValue<'i>>);

/// Table entries sorted by position, so errors come out in file order.
pub(super) fn in_file_order(t: DeTable<'_>) -> Vec<DeEntry<'_>> {
    let mut v: Vec<_> = t.into_iter().collect();
    v.sort_by_key(|(k, _)| k.span().start);
    v
}

/// Deserialize every entry of a `[section]` table on its own.
fn section<'i, T: Deserialize<'i>>(
    cx: &mut Cx<'_>,
    section: &str,
    value: Spanned<DeValue<'i>>,
    out: &mut Vec<Entry<T>>,
) {
    let at = value.span().start;
    let DeValue::Table(table) = value.into_inner() else {
        cx.error(at, section, "must be a table");
        return;
    };
    for (key, value) in in_file_order(table) {
        let name = Spanned::new(key.span(), key.into_inner().into_owned());
        let base = key_path(section, name.get_ref());
        let fallback_at = value.span().start;
        let tree = value.get_ref().clone();
        let spec = match T::deserialize(ValueDeserializer::from(value)) {
            Ok(spec) => Some(spec),
            Err(e) => {
                let at = e.span().map_or(fallback_at, |s| s.start);
                let mut path = base;
                refine_path(&mut path, &tree, at);
                cx.error(at, path, e.message());
                None
            }
        };
        out.push(Entry { name, spec });
    }
}

/// Extend `path` down to the innermost value of `v` that contains `at`, so
/// `pools.web: unknown field` becomes `pools.web.members[2]: unknown field`.
fn refine_path(path: &mut String, v: &DeValue<'_>, at: usize) {
    match v {
        DeValue::Table(t) => {
            if let Some((k, v)) = t.iter().find(|(_, v)| v.span().contains(&at)) {
                path.push('.');
                path.push_str(k.get_ref());
                refine_path(path, v.get_ref(), at);
            }
        }
        DeValue::Array(a) => {
            if let Some((i, v)) = a.iter().enumerate().find(|(_, v)| v.span().contains(&at)) {
                path.push_str(&format!("[{i}]"));
                refine_path(path, v.get_ref(), at);
            }
        }
        _ => {}
    }
}

/// `section.name`, quoting names that are not TOML bare keys (`names."@"`).
pub(super) fn key_path(section: &str, name: &str) -> String {
    let bare = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    let name = if bare {
        name.to_owned()
    } else {
        format!("{name:?}")
    };
    if section.is_empty() {
        name
    } else {
        format!("{section}.{name}")
    }
}
