//! Master-file tokenizer (RFC 1035 §5.1), byte by byte, as BIND 9 reads it.
//!
//! The text is bytes, not UTF-8: BIND accepts any octet in comments, quoted
//! strings and names, and so do we. A UTF-8 byte-order mark at the very start
//! is skipped (editors on Windows write one; BIND 9.18 would read it as part
//! of the first owner name and fail).
//!
//! Tokens keep their escapes undecoded (`\.`, `\DDD`, `\X`), because what an
//! escape means depends on the field: in a name `\.` is a dot inside a label,
//! in a character-string it is just a dot. [`decode_string`] and
//! `name::parse_name_text` decode them. Lexical rules, checked against
//! `named-compilezone` 9.18:
//! - `;` starts a comment to the end of the line, outside quotes.
//! - `(` and `)` group lines; inside them a newline is white space. They
//!   also end a word: `a(b)c` is three tokens.
//! - `"` starts a quoted token anywhere (it ends the word before it) and a
//!   second `"` ends it; a newline inside quotes is an error unless escaped.
//! - `\` escapes the next byte in a word (so `a\ b` is one token) except a
//!   newline, which still ends the line (the token keeps a dangling `\` and
//!   fails to decode, as in BIND).
//! - A line that begins with a space or tab has a blank owner: the record
//!   belongs to the previous owner.
//! - Space, tab and CR are white space.

/// One token: a byte range of the source, escapes undecoded, without the
/// quotes of a quoted token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tok {
    pub start: u32,
    pub end: u32,
    pub quoted: bool,
    /// 1-based line the token starts on.
    pub line: u32,
}

impl Tok {
    /// The raw bytes of the token in `src`.
    pub fn raw<'a>(&self, src: &'a [u8]) -> &'a [u8] {
        &src[self.start as usize..self.end as usize]
    }
}

/// One logical entry (a directive or a record), tokens in order.
#[derive(Debug, Default)]
pub struct Entry {
    /// 1-based line the entry starts on.
    pub line: u32,
    /// The line began with white space: the owner is the previous one.
    pub blank_owner: bool,
    pub toks: Vec<Tok>,
}

/// A lexical error: the line it is on and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LexError {
    pub line: u32,
    pub message: &'static str,
}

/// Pull-style tokenizer: [`Lexer::next_entry`] fills a reused [`Entry`], so
/// a million-record file costs no allocation per record.
pub struct Lexer<'a> {
    src: &'a [u8],
    pos: usize,
    line: u32,
}

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

impl<'a> Lexer<'a> {
    pub fn new(src: &'a [u8]) -> Self {
        let pos = if src.starts_with(UTF8_BOM) { 3 } else { 0 };
        Self { src, pos, line: 1 }
    }

    /// The text being read.
    pub fn src(&self) -> &'a [u8] {
        self.src
    }

    /// Read the next non-empty entry into `e`. Returns `None` at the end of
    /// the text. A lexical error ends the entry it is in: the entry is
    /// returned with `Err` and its tokens so far, and reading goes on at the
    /// next line (parentheses reset), so later errors are still reported.
    pub fn next_entry(&mut self, e: &mut Entry) -> Option<Result<(), LexError>> {
        e.toks.clear();
        let src = self.src;
        loop {
            if self.pos >= src.len() {
                return None;
            }
            let line_start = self.line;
            let blank = matches!(src[self.pos], b' ' | b'\t');
            let r = self.read_line_entry(e);
            if !e.toks.is_empty() || r.is_err() {
                e.line = line_start;
                e.blank_owner = blank;
                return Some(r);
            }
        }
    }

    /// Tokens up to the end of the logical line (through any parentheses).
    fn read_line_entry(&mut self, e: &mut Entry) -> Result<(), LexError> {
        let src = self.src;
        let mut depth = 0u32;
        let mut paren_line = 0u32;
        while self.pos < src.len() {
            let c = src[self.pos];
            match c {
                b'\n' => {
                    self.pos += 1;
                    self.line += 1;
                    if depth == 0 {
                        return Ok(());
                    }
                }
                b' ' | b'\t' | b'\r' => self.pos += 1,
                b';' => {
                    while self.pos < src.len() && src[self.pos] != b'\n' {
                        self.pos += 1;
                    }
                }
                b'(' => {
                    if depth == 0 {
                        paren_line = self.line;
                    }
                    depth += 1;
                    self.pos += 1;
                }
                b')' => {
                    self.pos += 1;
                    if depth == 0 {
                        let line = self.line;
                        self.skip_line();
                        return Err(LexError {
                            line,
                            message: "unbalanced parentheses: ')' without '('",
                        });
                    }
                    depth -= 1;
                }
                b'"' => {
                    let line = self.line;
                    self.pos += 1;
                    let start = self.pos;
                    loop {
                        if self.pos >= src.len() {
                            return Err(LexError {
                                line,
                                message: "unbalanced quotes: no closing '\"'",
                            });
                        }
                        match src[self.pos] {
                            b'"' => break,
                            b'\\' if self.pos + 1 < src.len() => {
                                if src[self.pos + 1] == b'\n' {
                                    self.line += 1;
                                }
                                self.pos += 2;
                            }
                            b'\n' => {
                                let l = self.line;
                                self.skip_line();
                                return Err(LexError {
                                    line: l,
                                    message: "unbalanced quotes: newline inside a quoted string",
                                });
                            }
                            _ => self.pos += 1,
                        }
                    }
                    e.toks.push(Tok {
                        start: start as u32,
                        end: self.pos as u32,
                        quoted: true,
                        line,
                    });
                    self.pos += 1;
                }
                _ => {
                    let start = self.pos;
                    while self.pos < src.len() {
                        match src[self.pos] {
                            b' ' | b'\t' | b'\r' | b'\n' | b';' | b'(' | b')' | b'"' => break,
                            b'\\' => {
                                self.pos += 1;
                                if self.pos < src.len() && src[self.pos] != b'\n' {
                                    self.pos += 1;
                                }
                            }
                            _ => self.pos += 1,
                        }
                    }
                    e.toks.push(Tok {
                        start: start as u32,
                        end: self.pos as u32,
                        quoted: false,
                        line: self.line,
                    });
                }
            }
        }
        if depth > 0 {
            return Err(LexError {
                line: paren_line,
                message: "unbalanced parentheses: '(' without ')'",
            });
        }
        Ok(())
    }

    fn skip_line(&mut self) {
        while self.pos < self.src.len() && self.src[self.pos] != b'\n' {
            self.pos += 1;
        }
    }
}

/// Decode the escapes of a character-string or word (RFC 1035 §5.1):
/// `\DDD` is the octet with decimal value DDD (three digits, at most 255),
/// `\X` is X. Appends to `out`.
pub fn decode_string(raw: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
    let mut i = 0;
    while i < raw.len() {
        let c = raw[i];
        if c != b'\\' {
            out.push(c);
            i += 1;
            continue;
        }
        let (b, n) = decode_escape(&raw[i..])?;
        out.push(b);
        i += n;
    }
    Ok(())
}

/// One escape at the start of `s` (which begins with `\`): the octet and
/// how many bytes the escape took.
pub fn decode_escape(s: &[u8]) -> Result<(u8, usize), String> {
    match s.get(1) {
        None => Err("dangling '\\' at the end of a token".into()),
        Some(d) if d.is_ascii_digit() => {
            let digits = s.get(1..4).filter(|d| d.iter().all(u8::is_ascii_digit));
            let Some(digits) = digits else {
                return Err(format!(
                    "bad escape {:?}: \\DDD needs three decimal digits",
                    String::from_utf8_lossy(&s[..s.len().min(4)])
                ));
            };
            let v = digits
                .iter()
                .fold(0u32, |a, &d| a * 10 + u32::from(d - b'0'));
            if v > 255 {
                return Err(format!(
                    "bad escape \\{}: decimal value above 255",
                    String::from_utf8_lossy(digits)
                ));
            }
            Ok((v as u8, 4))
        }
        Some(&c) => Ok((c, 2)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Seen = (u32, bool, Vec<(String, bool)>, bool);

    fn entries(text: &[u8]) -> Vec<Seen> {
        let mut lx = Lexer::new(text);
        let mut e = Entry::default();
        let mut out = Vec::new();
        while let Some(r) = lx.next_entry(&mut e) {
            let toks = e
                .toks
                .iter()
                .map(|t| (String::from_utf8_lossy(t.raw(text)).into_owned(), t.quoted))
                .collect();
            out.push((e.line, e.blank_owner, toks, r.is_ok()));
        }
        out
    }

    fn words(v: &[(String, bool)]) -> Vec<&str> {
        v.iter().map(|(s, _)| s.as_str()).collect()
    }

    #[test]
    fn comments_parens_quotes_and_blank_owners() {
        let text =
            b"a IN TXT ( \"x;y\" ; c\n  z )\n  IN A 1.2.3.4\n\n; only\nb\\ c\\;d x(y)z \"q\"r\n";
        let e = entries(text);
        assert_eq!(e.len(), 3);
        assert_eq!(e[0].0, 1);
        assert_eq!(words(&e[0].2), ["a", "IN", "TXT", "x;y", "z"]);
        assert!(e[0].2[3].1);
        assert_eq!((e[1].0, e[1].1), (3, true));
        assert_eq!(e[2].0, 6);
        assert_eq!(words(&e[2].2), ["b\\ c\\;d", "x", "y", "z", "q", "r"]);
    }

    #[test]
    fn bom_and_non_utf8_bytes() {
        let e = entries(b"\xEF\xBB\xBFa TXT \"caf\xE9\" ; \xFF\xFE\n");
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].2[0].0, "a");
        assert_eq!(e[0].2[2].0.as_bytes(), "caf\u{FFFD}".as_bytes());
    }

    #[test]
    fn lexical_errors_name_their_line_and_reading_goes_on() {
        let e = entries(b"a TXT \"x\nb TXT y )\nc TXT (\n");
        assert_eq!(e.len(), 3);
        assert!(!e[0].3 && !e[1].3 && !e[2].3);
        let mut lx = Lexer::new(b"ok A 1\nc TXT ( x\n");
        let mut en = Entry::default();
        assert!(lx.next_entry(&mut en).unwrap().is_ok());
        assert_eq!(
            lx.next_entry(&mut en).unwrap(),
            Err(LexError {
                line: 2,
                message: "unbalanced parentheses: '(' without ')'"
            })
        );
    }

    #[test]
    fn escaped_newline_in_quotes_continues_the_string() {
        let e = entries(b"a TXT \"x\\\ny\"\nb A 1\n");
        assert_eq!(e.len(), 2);
        assert_eq!(e[1].0, 3);
    }

    #[test]
    fn decode_escapes() {
        let mut o = Vec::new();
        decode_string(b"v=DMARC1\\;\\065\\066\\\\\\\"\\1234", &mut o).unwrap();
        assert_eq!(o, b"v=DMARC1;AB\\\"{4");
        assert!(decode_string(b"\\300", &mut Vec::new()).is_err());
        assert!(decode_string(b"\\12", &mut Vec::new()).is_err());
        assert!(decode_string(b"a\\", &mut Vec::new()).is_err());
    }
}
