//! Reading a TOML table field by field, so every problem in it is reported.
//!
//! serde's derived `Deserialize` stops at the first error of a struct: with
//! `deny_unknown_fields`, a typo in one key hides every bad value beside
//! it, and `weight = 1.5` in one member of a list hides the range errors of
//! every other member. So a file is parsed once into toml's spanned tree
//! ([`DeTable`]), and each table is read with a [`Fields`]: every key a
//! `*Spec` asks for is deserialized on its own (serde, one value at a time),
//! a bad value is reported and read as absent, nested tables and lists of
//! tables get their own [`Fields`], and [`Fields::finish`] reports the keys
//! nobody asked for. The messages are serde's own (`invalid type: ...`,
//! `unknown field ..., expected one of ...`, `missing field ...`).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use serde::de::{DeserializeOwned, IgnoredAny};
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use std::cell::OnceCell;

pub(crate) use crate::diag::key_path;
use crate::diag::{Diagnostics, LineIndex, TomlKeys};

/// One file being read: its path and text (for positions) and where its
/// problems go.
pub(crate) struct Cx<'a> {
    pub(crate) path: &'a Path,
    pub(crate) text: &'a str,
    pub(crate) diags: &'a mut Diagnostics,
    /// The text's line starts, found once on the first problem: each
    /// position is then a binary search, not a scan from the start (which
    /// made a file with N errors cost N² time).
    lines: OnceCell<LineIndex<'a>>,
}

impl<'a> Cx<'a> {
    pub(crate) fn new(path: &'a Path, text: &'a str, diags: &'a mut Diagnostics) -> Self {
        Self {
            path,
            text,
            diags,
            lines: OnceCell::new(),
        }
    }

    /// 1-based (line, column) of byte `offset` of the text.
    pub(crate) fn line_col(&self, offset: usize) -> (u32, u32) {
        self.lines
            .get_or_init(|| LineIndex::new(self.text))
            .line_col(offset)
    }

    /// Report `message` at byte `offset` of the text, against `key`.
    pub(crate) fn error(
        &mut self,
        offset: usize,
        key: impl Into<String>,
        message: impl Into<String>,
    ) {
        if self.diags.is_full() {
            // Only counted: no position needed.
            self.diags.error(self.path, None, None, "", "");
            return;
        }
        let (line, col) = self.line_col(offset);
        self.diags
            .error(self.path, Some(line), Some(col), key, message);
    }

    /// A warning at byte `offset` of the text, against `key`: the file
    /// loads, but `check` and the server's log say it.
    pub(crate) fn warn(
        &mut self,
        offset: usize,
        key: impl Into<String>,
        message: impl Into<String>,
    ) {
        let (line, col) = self.line_col(offset);
        self.diags
            .warn(self.path, Some(line), Some(col), key, message);
    }

    /// The value of a [`crate::config::values`] check, or `None` after
    /// reporting its message at `offset` against `key`.
    pub(crate) fn check<T>(
        &mut self,
        offset: usize,
        key: impl Into<String>,
        r: Result<T, String>,
    ) -> Option<T> {
        r.map_err(|m| self.error(offset, key, m)).ok()
    }

    /// Parse the whole text into toml's spanned tree; `None` after
    /// reporting every syntax error (a damaged document would only give
    /// follow-on noise).
    pub(crate) fn parse_document<'i>(&mut self, text: &'i str) -> Option<DeTable<'i>> {
        let (doc, clean) = self.parse_document_partial(text);
        clean.then_some(doc)
    }

    /// Parse the whole text into toml's spanned tree, reporting every
    /// syntax error; the tree holds what parsed (for a duplicate key, its
    /// first value), and the flag says whether there was no error. A
    /// duplicate key is reported with its full key path
    /// (`pools.web.members[0].address`) and the line of its first value.
    pub(crate) fn parse_document_partial<'i>(&mut self, text: &'i str) -> (DeTable<'i>, bool) {
        let (doc, errors) = DeTable::parse_recoverable(text);
        let doc = doc.into_inner();
        let clean = errors.is_empty();
        let mut keys = None;
        for e in errors {
            let span = e.span().unwrap_or(0..0);
            let first = (e.message() == "duplicate key")
                .then(|| {
                    keys.get_or_insert_with(|| TomlKeys::of(&doc))
                        .duplicate(text, span.clone())
                })
                .flatten();
            match first {
                Some((path, at)) => {
                    let (line, _) = self.line_col(at);
                    let m = format!("duplicate key: first set on line {line}");
                    self.error(span.start, path, m);
                }
                None => self.error(span.start, "", e.message()),
            }
        }
        (doc, clean)
    }
}

/// Keys of one table whose values were present but bad (already
/// reported), so rules that depend on them stay quiet instead of adding a
/// follow-on error ("required", "must be less than").
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BadKeys(Vec<&'static str>);

impl BadKeys {
    /// True when `key` was written with a value of the wrong type.
    pub fn has(&self, key: &str) -> bool {
        self.0.contains(&key)
    }

    /// True when any key had a bad value.
    pub fn any(&self) -> bool {
        !self.0.is_empty()
    }
}

type DeEntry<'i> = (Spanned<Cow<'i, str>>, Spanned<DeValue<'i>>);

/// A table being read: its key path (for messages), where it starts (for
/// missing keys), the entries not read yet, and the keys asked for so far.
pub(crate) struct Fields<'i> {
    key: String,
    at: usize,
    entries: Vec<Option<DeEntry<'i>>>,
    asked: Vec<&'static str>,
    bad: Vec<&'static str>,
}

impl<'i> Fields<'i> {
    /// `value`, which must be a table, at key path `key`; `None` after
    /// reporting when it is something else.
    pub(crate) fn new(cx: &mut Cx<'_>, key: String, value: Spanned<DeValue<'i>>) -> Option<Self> {
        let at = value.span().start;
        match value.into_inner() {
            DeValue::Table(t) => Some(Self::of_table(key, at, t)),
            other => {
                let v = Spanned::new(at..at, other);
                let e = BTreeMap::<String, IgnoredAny>::deserialize(ValueDeserializer::from(v))
                    .err()
                    .map_or_else(|| "must be a table".to_owned(), |e| e.message().to_owned());
                cx.error(at, key, e);
                None
            }
        }
    }

    /// The document's root table.
    pub(crate) fn root(doc: DeTable<'i>) -> Self {
        Self::of_table(String::new(), 0, doc)
    }

    fn of_table(key: String, at: usize, t: DeTable<'i>) -> Self {
        let mut entries: Vec<DeEntry<'i>> = t.into_iter().collect();
        entries.sort_by_key(|(k, _)| k.span().start);
        Self {
            key,
            at,
            entries: entries.into_iter().map(Some).collect(),
            asked: Vec::new(),
            bad: Vec::new(),
        }
    }

    /// Byte offset where this table starts (its `[header]`, or its `{`),
    /// for errors about the table as a whole.
    pub(crate) fn at(&self) -> usize {
        self.at
    }

    /// The key path of `name` inside this table.
    pub(crate) fn child(&self, name: &str) -> String {
        if self.key.is_empty() {
            name.to_owned()
        } else {
            format!("{}.{name}", self.key)
        }
    }

    /// Take the value of `name`, if written; remembers that it was asked for.
    pub(crate) fn take(&mut self, name: &'static str) -> Option<Spanned<DeValue<'i>>> {
        if !self.asked.contains(&name) {
            self.asked.push(name);
        }
        let slot = self
            .entries
            .iter_mut()
            .find(|e| e.as_ref().is_some_and(|(k, _)| k.get_ref() == name))?;
        slot.take().map(|(_, v)| v)
    }

    /// Mark `name` as present with a bad value (reported by the caller).
    pub(crate) fn mark_bad(&mut self, name: &'static str) {
        self.bad.push(name);
    }

    /// An optional key: `None` when absent, or after reporting a value of
    /// the wrong type.
    pub(crate) fn opt<T: DeserializeOwned>(
        &mut self,
        cx: &mut Cx<'_>,
        name: &'static str,
    ) -> Option<Spanned<T>> {
        let v = self.take(name)?;
        let key = self.child(name);
        let r = value_of(cx, key, v);
        if r.is_none() {
            self.mark_bad(name);
        }
        r
    }

    /// A required key: as [`Fields::opt`], and `missing field` at the
    /// table when it is absent.
    pub(crate) fn req<T: DeserializeOwned>(
        &mut self,
        cx: &mut Cx<'_>,
        name: &'static str,
    ) -> Option<Spanned<T>> {
        if self.is_missing(name) {
            self.asked.push(name);
            cx.error(self.at, self.key.clone(), format!("missing field `{name}`"));
            return None;
        }
        self.opt(cx, name)
    }

    /// A nested table, read with its own [`Fields`]; `None` when absent,
    /// or after reporting a value that is not a table.
    pub(crate) fn table(&mut self, cx: &mut Cx<'_>, name: &'static str) -> Option<Fields<'i>> {
        let v = self.take(name)?;
        let f = Fields::new(cx, self.child(name), v);
        if f.is_none() {
            self.mark_bad(name);
        }
        f
    }

    /// A list whose elements are read one by one (each table of a list of
    /// tables with its own [`Fields`]); `None` after reporting a value
    /// that is not a list, or a missing required one.
    pub(crate) fn list(
        &mut self,
        cx: &mut Cx<'_>,
        name: &'static str,
        required: bool,
    ) -> Option<Spanned<Vec<Spanned<DeValue<'i>>>>> {
        if required && self.is_missing(name) {
            self.asked.push(name);
            cx.error(self.at, self.key.clone(), format!("missing field `{name}`"));
            return None;
        }
        let v = self.take(name)?;
        let span = v.span();
        match v.into_inner() {
            DeValue::Array(a) => Some(Spanned::new(span, a.into_iter().collect())),
            other => {
                let v = Spanned::new(span.clone(), other);
                let msg = Vec::<IgnoredAny>::deserialize(ValueDeserializer::from(v))
                    .err()
                    .map_or_else(|| "must be a list".to_owned(), |e| e.message().to_owned());
                cx.error(span.start, self.child(name), msg);
                self.mark_bad(name);
                None
            }
        }
    }

    fn is_missing(&self, name: &str) -> bool {
        !self
            .entries
            .iter()
            .flatten()
            .any(|(k, _)| k.get_ref() == name)
    }

    /// Report every key nobody asked for (serde's message, listing the
    /// keys asked for in order), and hand back the keys whose values were
    /// bad.
    pub(crate) fn finish(self, cx: &mut Cx<'_>) -> BadKeys {
        let mut expected_keys = None;
        for (k, _) in self.entries.into_iter().flatten() {
            let expected = expected_keys.get_or_insert_with(|| expected(&self.asked));
            let msg = format!("unknown field `{}`, {expected}", k.get_ref());
            cx.error(k.span().start, self.key.clone(), msg);
        }
        BadKeys(self.bad)
    }

    /// Report every key nobody asked for with `message` (for tables whose
    /// keys are sections, not fields), against the key's own path.
    pub(crate) fn finish_with(self, cx: &mut Cx<'_>, message: &str) {
        for (k, _) in self.entries.into_iter().flatten() {
            let key = key_path(&self.key, k.get_ref());
            cx.error(k.span().start, key, message);
        }
    }
}

/// The entries of a table whose keys are names the operator picks
/// (`[pools.NAME]`), in file order; `None` after reporting a non-table.
pub(crate) fn named_entries<'i>(
    cx: &mut Cx<'_>,
    key: &str,
    value: Spanned<DeValue<'i>>,
) -> Option<Vec<(Spanned<String>, Spanned<DeValue<'i>>)>> {
    let f = Fields::new(cx, key.to_owned(), value)?;
    Some(
        f.entries
            .into_iter()
            .flatten()
            .map(|(k, v)| (Spanned::new(k.span(), k.into_inner().into_owned()), v))
            .collect(),
    )
}

/// serde's "expected" phrase for an unknown field.
fn expected(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    match quoted.as_slice() {
        [] => "there are no fields".to_owned(),
        [one] => format!("expected {one}"),
        [a, b] => format!("expected {a} or {b}"),
        all => format!("expected one of {}", all.join(", ")),
    }
}

/// One value deserialized on its own; `None` after reporting its error at
/// the innermost value it concerns (`headers.X`, `expect_status[2]`).
pub(crate) fn value_of<T: DeserializeOwned>(
    cx: &mut Cx<'_>,
    key: String,
    v: Spanned<DeValue<'_>>,
) -> Option<Spanned<T>> {
    let fallback_at = v.span().start;
    // Only a list or table has an inner value to point at.
    let tree =
        matches!(v.get_ref(), DeValue::Table(_) | DeValue::Array(_)).then(|| v.get_ref().clone());
    match Spanned::<T>::deserialize(ValueDeserializer::from(v)) {
        Ok(t) => Some(t),
        Err(e) => {
            let at = e.span().map_or(fallback_at, |s| s.start);
            let mut path = key;
            if let Some(tree) = &tree {
                refine_path(&mut path, tree, at);
            }
            cx.error(at, path, e.message());
            None
        }
    }
}

/// Extend `path` down to the innermost value of `v` that contains `at`, so
/// `checks.c.headers: invalid type` becomes `checks.c.headers.X: invalid type`.
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
