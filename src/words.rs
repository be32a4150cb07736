//! Word tables: the one list of words of a keyword enum.
//!
//! A keyword that appears in a config file (`policy = "failover"`,
//! `state = "drain"`, `initial_state = "down"`) and is printed back (logs,
//! `dnslb explain`, error messages) is spelled in exactly one place: a
//! [`Words`] table next to the runtime type. The config loaders parse with
//! it, `Display` prints with it, and the "expected one of" part of an error
//! is generated from it, so the three can never disagree.
//!
//! This module sits at the bottom of the layers (it imports nothing from
//! the crate): runtime types in `health` and `policy` own their tables, and
//! `config` reads them.

/// `(word, value)` pairs of a field-less keyword enum, in the order the
/// documentation lists them. Every value appears once.
#[derive(Debug)]
pub struct Words<T: 'static>(pub &'static [(&'static str, T)]);

impl<T: Copy + PartialEq> Words<T> {
    /// The value spelled `word` (exact, case-sensitive match).
    pub fn parse(&self, word: &str) -> Option<T> {
        self.0.iter().find(|(w, _)| *w == word).map(|&(_, v)| v)
    }

    /// How `value` is spelled. Every value of the enum is in its table (a
    /// unit test per table checks it); `"?"` would only show a missing row.
    pub fn word(&self, value: T) -> &'static str {
        self.0
            .iter()
            .find(|(_, v)| *v == value)
            .map_or("?", |&(w, _)| w)
    }

    /// Every word, for error messages: `a, b, c or d`.
    pub fn expected(&self) -> String {
        let words: Vec<&str> = self.0.iter().map(|&(w, _)| w).collect();
        match words.split_last() {
            None => String::new(),
            Some((last, [])) => (*last).to_owned(),
            Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        }
    }

    /// Every value, in table order (tests walk whole tables with it).
    #[cfg(test)]
    pub(crate) fn values(&self) -> impl Iterator<Item = T> + '_ {
        self.0.iter().map(|&(_, v)| v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Copy, Clone, Debug, PartialEq)]
    enum E {
        A,
        B,
        C,
    }

    const TABLE: Words<E> = Words(&[("a", E::A), ("bee", E::B), ("c", E::C)]);

    #[test]
    fn parses_prints_and_lists() {
        for v in TABLE.values() {
            assert_eq!(TABLE.parse(TABLE.word(v)), Some(v));
        }
        assert_eq!(TABLE.parse("B"), None);
        assert_eq!(TABLE.expected(), "a, bee or c");
        assert_eq!(Words(&[("x", 1)]).expected(), "x");
    }
}
