//! Reading a policy file: toml's spanned tree, then each `section.NAME`
//! entry read field by field ([`crate::config::fields`]), so one bad entry
//! or one bad value does not hide the others.

use toml::Spanned;

use super::spec::{CheckSpec, GeoSpec, LatencySpec, NameSpec, PoolSpec, ReadSpec};
pub(super) use crate::config::fields::{Cx, key_path};
use crate::config::fields::{Fields, named_entries};
use toml::de::DeValue;

/// One `section.NAME` entry; `spec` is `None` when it is not a table
/// (already reported), so references to it stay quiet.
pub(super) struct Entry<T> {
    pub(super) name: Spanned<String>,
    pub(super) spec: Option<T>,
}

pub(super) struct FileSpec {
    pub(super) checks: Vec<Entry<CheckSpec>>,
    pub(super) pools: Vec<Entry<PoolSpec>>,
    pub(super) names: Vec<Entry<NameSpec>>,
    /// `[geo]` when present: `Some(None)` when it is not a table (already
    /// reported), so what depends on it stays quiet.
    pub(super) geo: Option<Option<GeoSpec>>,
    /// `[latency]` when present, as `geo`.
    pub(super) latency: Option<Option<LatencySpec>>,
}

const SECTIONS: &str = "unknown key, expected one of `checks`, `pools`, `names`, `geo`, `latency`";

pub(super) fn parse(cx: &mut Cx<'_>) -> Option<FileSpec> {
    let doc = cx.parse_document(cx.text)?;
    let mut root = Fields::root(doc);
    let file = FileSpec {
        checks: section(cx, &mut root, "checks"),
        pools: section(cx, &mut root, "pools"),
        names: section(cx, &mut root, "names"),
        geo: root
            .take("geo")
            .map(|v| Fields::new(cx, "geo".to_owned(), v).map(|f| GeoSpec::read(cx, f))),
        latency: root
            .take("latency")
            .map(|v| Fields::new(cx, "latency".to_owned(), v).map(|f| LatencySpec::read(cx, f))),
    };
    root.finish_with(cx, SECTIONS);
    Some(file)
}

/// Read every entry of a `[section]` table on its own.
fn section<T: ReadSpec>(
    cx: &mut Cx<'_>,
    root: &mut Fields<'_>,
    name: &'static str,
) -> Vec<Entry<T>> {
    let Some(value) = root.take(name) else {
        return Vec::new();
    };
    let Some(entries) = named_entries(cx, name, value) else {
        return Vec::new();
    };
    entries
        .into_iter()
        .map(
            |(name_key, value): (Spanned<String>, Spanned<DeValue<'_>>)| {
                let key = key_path(name, name_key.get_ref());
                let spec = Fields::new(cx, key, value).map(|f| T::read(cx, f));
                Entry {
                    name: name_key,
                    spec,
                }
            },
        )
        .collect()
}
