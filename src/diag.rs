//! Diagnostics: every configuration or zone error, collected before failing.
//!
//! At the bottom of the layers: config, zone and snapshot all report here,
//! and nothing here imports from the rest of the crate.
//!
//! Errors read `FILE:LINE:COL: key.path: message` so an operator can jump to
//! the spot. Loaders push into a [`Diagnostics`] and keep going, so one run of
//! `dnslb check` reports every problem, not just the first.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::de::{DeTable, DeValue};

/// One problem found in an input file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: PathBuf,
    /// 1-based line, when known.
    pub line: Option<u32>,
    /// 1-based column, when known.
    pub col: Option<u32>,
    /// Dotted key path for TOML files (`names.www.ttl`), empty for zone files.
    pub key: String,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write(f, "")
    }
}

impl Diagnostic {
    /// This diagnostic as a warning: `FILE:LINE:COL: warning: key: message`
    /// (the compilers' form, so editors pick it up; a zone file's has no
    /// column and no key).
    pub fn as_warning(&self) -> impl fmt::Display + '_ {
        struct W<'a>(&'a Diagnostic);
        impl fmt::Display for W<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.write(f, "warning")
            }
        }
        W(self)
    }

    /// `FILE:LINE:COL: [LABEL: ]key: message`; without a file (a value
    /// built in code, not read), `[LABEL: ]key: message`.
    fn write(&self, f: &mut fmt::Formatter<'_>, label: &str) -> fmt::Result {
        let mut sep = "";
        if !self.file.as_os_str().is_empty() {
            write!(f, "{}", self.file.display())?;
            if let Some(line) = self.line {
                write!(f, ":{line}")?;
                if let Some(col) = self.col {
                    write!(f, ":{col}")?;
                }
            }
            sep = ": ";
        }
        if !label.is_empty() {
            write!(f, "{sep}{label}")?;
            sep = ": ";
        }
        if !self.key.is_empty() {
            write!(f, "{sep}{}", self.key)?;
            sep = ": ";
        }
        write!(f, "{sep}{}", self.message)
    }
}

/// Collected diagnostics for one load: errors, which stop a load (or a
/// zone), and warnings, which do not: something that works as written but
/// is probably not what was meant (out-of-zone data in a zone file, a geo
/// name without a default rule, an answer that can never fit a UDP reply).
/// This is the one place warnings go; `check` prints them, `serve` and
/// reloads log them.
/// [`len`](Self::len), [`is_empty`](Self::is_empty), [`iter`](Self::iter)
/// and `Display` are about errors only; warnings have their own accessors.
///
/// A capped collection ([`Diagnostics::capped`], one per file) keeps its
/// first errors and warnings and only counts the rest, so a file with a
/// million bad lines costs a counter, not a million messages; `len`
/// still counts every error.
#[derive(Debug, Default, Clone)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
    /// Most errors (and, apart, warnings) kept; `None`: all.
    cap: Option<usize>,
    /// Errors counted but not kept, past the cap.
    dropped: usize,
}

/// Errors (and warnings) reported per file at most: the zone files'
/// limit (`zone::records::Limits::max_errors`), for TOML files too. A file
/// with more has a broken generator, and a list that long helps no one.
pub const MAX_ERRORS_PER_FILE: usize = 1000;

impl Diagnostics {
    pub fn new() -> Self {
        Self::default()
    }

    /// A collection that keeps at most `cap` errors and `cap` warnings and
    /// counts the rest ([`dropped`](Self::dropped)).
    pub fn capped(cap: usize) -> Self {
        Self {
            cap: Some(cap),
            ..Self::default()
        }
    }

    /// True when the next error would only be counted: the caller may
    /// skip working out its position.
    pub fn is_full(&self) -> bool {
        self.cap.is_some_and(|c| self.items.len() >= c)
    }

    /// Errors counted past the cap, not kept.
    pub fn dropped(&self) -> usize {
        self.dropped
    }

    /// The error that stands for the ones past the cap, if any: at the
    /// position of the last error kept, so it sorts right after it.
    pub fn dropped_note(&self) -> Option<Diagnostic> {
        if self.dropped == 0 {
            return None;
        }
        let last = self.items.last()?;
        Some(Diagnostic {
            file: last.file.clone(),
            line: last.line,
            col: last.col,
            key: String::new(),
            message: format!(
                "{} more errors not shown (at most {} are reported per file)",
                self.dropped,
                self.items.len()
            ),
        })
    }

    fn keep(&mut self, d: Diagnostic) {
        if self.is_full() {
            self.dropped += 1;
        } else {
            self.items.push(d);
        }
    }

    fn keep_warning(&mut self, d: Diagnostic) {
        if self.cap.is_none_or(|c| self.warnings.len() < c) {
            self.warnings.push(d);
        }
    }

    /// Record an error at a known line (and optionally column) of `file`.
    pub fn error(
        &mut self,
        file: &Path,
        line: Option<u32>,
        col: Option<u32>,
        key: impl Into<String>,
        message: impl Into<String>,
    ) {
        if self.is_full() {
            self.dropped += 1;
            return;
        }
        self.items.push(Diagnostic {
            file: file.to_path_buf(),
            line,
            col,
            key: key.into(),
            message: message.into(),
        });
    }

    /// Record a warning: same form as an error, but the load goes on.
    pub fn warn(
        &mut self,
        file: &Path,
        line: Option<u32>,
        col: Option<u32>,
        key: impl Into<String>,
        message: impl Into<String>,
    ) {
        self.keep_warning(Diagnostic {
            file: file.to_path_buf(),
            line,
            col,
            key: key.into(),
            message: message.into(),
        });
    }

    pub fn push(&mut self, d: Diagnostic) {
        self.keep(d);
    }

    pub fn push_warning(&mut self, d: Diagnostic) {
        self.keep_warning(d);
    }

    /// The warnings, in the order they were found.
    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.warnings.iter()
    }

    /// Errors and warnings, separately; the errors past the cap, if any,
    /// as one last error saying how many ([`dropped_note`](Self::dropped_note)).
    pub fn into_parts(mut self) -> (Vec<Diagnostic>, Vec<Diagnostic>) {
        if let Some(note) = self.dropped_note() {
            self.items.push(note);
        }
        (self.items, self.warnings)
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty() && self.dropped == 0
    }

    /// Every error, the ones past the cap included.
    pub fn len(&self) -> usize {
        self.items.len() + self.dropped
    }

    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter()
    }

    /// The errors (warnings are dropped: see [`into_parts`](Self::into_parts)).
    pub fn into_vec(self) -> Vec<Diagnostic> {
        self.into_parts().0
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.items.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

/// A value read from a config file, with where it was written, so a
/// problem found later (a directory that cannot be read when the snapshot
/// is built) still points at the key that named it.
#[derive(Debug, Clone, PartialEq)]
pub struct Located<T> {
    pub value: T,
    /// The config file and the key's 1-based line and column in it (no
    /// position when the file does not set the key); `None` for a built-in
    /// default, whose errors name the value itself.
    pub at: Option<(PathBuf, Option<(u32, u32)>)>,
}

impl<T> Located<T> {
    /// A built-in default: no file, no position.
    pub fn default_value(value: T) -> Self {
        Self { value, at: None }
    }
}

impl Located<PathBuf> {
    /// Report `message` against `key` at this value's position in its
    /// config file, or against the path itself when it is a default.
    pub fn error(&self, diags: &mut Diagnostics, key: &str, message: impl Into<String>) {
        match &self.at {
            Some((file, pos)) => {
                diags.error(file, pos.map(|p| p.0), pos.map(|p| p.1), key, message)
            }
            None => diags.error(&self.value, None, None, key, message),
        }
    }
}

/// 1-based (line, column) of a byte offset in `text`; column counts chars.
/// It scans from the start: for many offsets in one text use a
/// [`LineIndex`].
pub fn line_col(text: &str, offset: usize) -> (u32, u32) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.bytes().filter(|&b| b == b'\n').count() as u32 + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let col = before[line_start..].chars().count() as u32 + 1;
    (line, col)
}

/// Line starts of a text, for many offset → (line, column) lookups
/// without rescanning (a 10,000-name policy file asks once per name).
#[derive(Debug, Clone)]
pub struct LineIndex<'t> {
    text: &'t str,
    starts: Vec<usize>,
}

impl<'t> LineIndex<'t> {
    pub fn new(text: &'t str) -> Self {
        let mut starts = vec![0];
        starts.extend(
            text.bytes()
                .enumerate()
                .filter(|&(_, b)| b == b'\n')
                .map(|(i, _)| i + 1),
        );
        Self { text, starts }
    }

    /// 1-based (line, column) of `offset`; column counts chars.
    pub fn line_col(&self, offset: usize) -> (u32, u32) {
        let offset = offset.min(self.text.len());
        let line = self.starts.partition_point(|&s| s <= offset);
        let start = self.starts[line - 1];
        let col = self
            .text
            .get(start..offset)
            .map_or(1, |s| s.chars().count() + 1);
        (line as u32, col as u32)
    }
}

/// `section.name`, quoting names that are not TOML bare keys (`names."@"`).
pub fn key_path(section: &str, name: &str) -> String {
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

/// Every key of a parsed TOML document, with its key path and offset: to
/// name the key a `duplicate key` syntax error repeats (toml's message
/// names none) by its full path and its first line.
pub struct TomlKeys(Vec<(String, usize)>);

impl TomlKeys {
    pub fn of(doc: &DeTable<'_>) -> Self {
        let mut out = Vec::new();
        key_spans(doc, "", &mut out);
        Self(out)
    }

    /// The key a `duplicate key` error at `span` of `text` repeats: its
    /// key path and the byte offset of its first occurrence.
    pub fn duplicate(&self, text: &str, span: Range<usize>) -> Option<(String, usize)> {
        duplicate_of(&self.0, text, span)
    }
}

/// Every key of `t` and below, as (key path, byte offset of the key).
fn key_spans(t: &DeTable<'_>, prefix: &str, out: &mut Vec<(String, usize)>) {
    for (k, v) in t {
        let path = key_path(prefix, k.get_ref());
        out.push((path.clone(), k.span().start));
        value_key_spans(v.get_ref(), &path, out);
    }
}

fn value_key_spans(v: &DeValue<'_>, path: &str, out: &mut Vec<(String, usize)>) {
    match v {
        DeValue::Table(t) => key_spans(t, path, out),
        DeValue::Array(a) => {
            for (i, item) in a.iter().enumerate() {
                value_key_spans(item.get_ref(), &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

/// The key a duplicate at `span` of `text` repeats: its key path and the
/// offset of its first occurrence. The first occurrence is the nearest
/// earlier key of the same name whose path ends with the same dotted key
/// as written (`a.b = 2` repeats `a.b`, not an `x.b` between them); each
/// table's keys are contiguous in the text, so it is in the same table.
fn duplicate_of(
    keys: &[(String, usize)],
    text: &str,
    span: Range<usize>,
) -> Option<(String, usize)> {
    let written = text.get(span.clone())?;
    let name = written.trim_matches(|c| c == '"' || c == '\'');
    // The dotted key as written up to the duplicate (`a.` of `a.b`).
    let line_start = text[..span.start]
        .rfind(['\n', '{', ',', '['])
        .map_or(0, |i| i + 1);
    let dotted: String = text[line_start..span.start]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let dotted = if dotted.ends_with('.') {
        format!("{}{}", dotted.replace(['"', '\''], ""), name)
    } else {
        name.to_owned()
    };
    let earlier = |k: &&(String, usize)| k.1 < span.start;
    let unquoted = |p: &str| p.replace('"', "");
    let pick = |want: &str| {
        keys.iter()
            .filter(earlier)
            .filter(|(p, _)| {
                let p = unquoted(p);
                p == want || p.ends_with(&format!(".{want}"))
            })
            .max_by_key(|k| k.1)
            .cloned()
    };
    pick(&dotted).or_else(|| pick(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_from_one() {
        let t = "a = 1\nbb = 2\n";
        assert_eq!(line_col(t, 0), (1, 1));
        assert_eq!(line_col(t, 6), (2, 1));
        assert_eq!(line_col(t, 9), (2, 4));
    }

    #[test]
    fn line_index_agrees_with_line_col() {
        let t = "a = 1\nbb = \"é\"\n\nlast";
        let idx = LineIndex::new(t);
        for off in 0..=t.len() {
            if t.is_char_boundary(off) {
                assert_eq!(idx.line_col(off), line_col(t, off), "offset {off}");
            }
        }
    }

    #[test]
    fn display_has_file_line_col_key() {
        let mut d = Diagnostics::new();
        d.error(
            Path::new("z.toml"),
            Some(3),
            Some(5),
            "names.www.ttl",
            "must be 1..=86400, got 0",
        );
        d.error(
            Path::new("a.zone"),
            Some(7),
            None,
            "",
            "CNAME beside other data",
        );
        assert_eq!(
            d.to_string(),
            "z.toml:3:5: names.www.ttl: must be 1..=86400, got 0\na.zone:7: CNAME beside other data"
        );
    }

    /// A capped collection keeps the first errors, counts all of them,
    /// and ends with one line for the rest.
    #[test]
    fn a_capped_collection_counts_what_it_does_not_keep() {
        let mut d = Diagnostics::capped(2);
        for line in 1..=5 {
            d.error(Path::new("p.toml"), Some(line), Some(1), "k", "bad");
            d.warn(Path::new("p.toml"), Some(line), None, "", "odd");
        }
        assert_eq!((d.len(), d.dropped(), d.is_full()), (5, 3, true));
        assert!(!d.is_empty());
        assert_eq!(d.warnings().count(), 2);
        let got: Vec<String> = d.into_vec().iter().map(ToString::to_string).collect();
        assert_eq!(
            got,
            [
                "p.toml:1:1: k: bad",
                "p.toml:2:1: k: bad",
                "p.toml:2:1: 3 more errors not shown (at most 2 are reported per file)",
            ]
        );
        let mut d = Diagnostics::new();
        for _ in 0..5000 {
            d.error(Path::new("z"), None, None, "", "x");
        }
        assert_eq!((d.len(), d.dropped()), (5000, 0), "uncapped keeps all");
    }

    #[test]
    fn warnings_are_kept_apart_from_errors() {
        let mut d = Diagnostics::new();
        d.warn(
            Path::new("z.toml"),
            Some(2),
            Some(8),
            "names.www",
            "no default",
        );
        assert!(d.is_empty(), "a warning is not an error");
        assert_eq!(d.len(), 0);
        assert_eq!(d.to_string(), "");
        d.warn(
            Path::new("a.zone"),
            Some(7),
            None,
            "",
            "ignoring out-of-zone data",
        );
        d.warn(Path::new(""), None, None, "names.x", "built in code");
        let w: Vec<String> = d.warnings().map(|w| w.as_warning().to_string()).collect();
        assert_eq!(
            w,
            [
                "z.toml:2:8: warning: names.www: no default",
                "a.zone:7: warning: ignoring out-of-zone data",
                "warning: names.x: built in code",
            ]
        );
    }
}
