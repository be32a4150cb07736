//! Domain names in uncompressed wire format, lowercased, as lookup keys.
//!
//! The query path never builds a hickory `Name`: it lowercases the question
//! into a stack buffer and looks up sub-slices at label boundaries. These
//! helpers convert to and from hickory's `Name` when the snapshot is built.

use hickory_proto::rr::Name;

/// A domain name as written in a master file or as a policy file's
/// `[names.OWNER]`: `@`, absolute (trailing dot) or relative to `origin`.
/// Any octet is allowed in a label, as BIND, NSD and Knot allow (hickory's
/// own parser applies IDNA rules and refuses `a_b`); `\.` and `\DDD`
/// escapes work. The one owner-name rule of the crate: zone files and
/// policy files both use it. Errors read after the name ("has an empty
/// label").
pub fn parse_owner(tok: &str, origin: &Name) -> Result<Name, String> {
    if tok == "@" {
        return Ok(origin.clone());
    }
    if tok.is_empty() {
        // hickory reads "" as the empty relative name, i.e. the origin.
        return Err("is empty".into());
    }
    let n = Name::from_ascii(tok).map_err(|e| owner_problem(tok, &e.to_string()))?;
    if n.is_fqdn() {
        Ok(n)
    } else {
        n.append_domain(origin)
            .map_err(|e| owner_problem(tok, &e.to_string()))
    }
}

/// Say what is wrong with an owner hickory refused, in words an operator
/// can act on; hickory's own text ("Malformed label: ") as the fallback.
fn owner_problem(tok: &str, hickory: &str) -> String {
    let body = tok.strip_suffix('.').unwrap_or(tok);
    let mut labels = Vec::new();
    let (mut start, mut escaped) = (0, false);
    for (i, c) in body.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '.' => {
                labels.push(&body[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    labels.push(&body[start..]);
    if labels.iter().any(|l| l.is_empty()) {
        "has an empty label".into()
    } else if let Some(l) = labels.iter().find(|l| l.len() > 63) {
        format!("has a label longer than 63 characters: {l:?}")
    } else if body.len() > 253 {
        "is longer than 253 characters".into()
    } else {
        format!("is not a valid name: {hickory}")
    }
}

/// Maximum length of a wire-format name (RFC 1035 §2.3.4).
pub const MAX_NAME_LEN: usize = 255;

/// Lowercased uncompressed wire form of `name` (terminated by the root label).
pub fn to_wire_lower(name: &Name) -> Box<[u8]> {
    let mut out = Vec::with_capacity(name.len() + 2);
    for label in name.iter() {
        out.push(label.len() as u8);
        out.extend(label.iter().map(|b| b.to_ascii_lowercase()));
    }
    out.push(0);
    out.into_boxed_slice()
}

/// Uncompressed wire form of `name`, case preserved.
pub fn to_wire(name: &Name) -> Vec<u8> {
    let mut out = Vec::with_capacity(name.len() + 2);
    for label in name.iter() {
        out.push(label.len() as u8);
        out.extend_from_slice(label);
    }
    out.push(0);
    out
}

/// Offsets of every label start in an uncompressed wire name, the root's
/// terminating zero included last. Returns the count written.
pub fn label_offsets(wire: &[u8], out: &mut [u8; 128]) -> usize {
    let mut n = 0;
    let mut i = 0usize;
    while i < wire.len() && n < out.len() {
        out[n] = i as u8;
        n += 1;
        let len = wire[i] as usize;
        if len == 0 {
            break;
        }
        i += len + 1;
    }
    n
}

/// Presentation form of a wire name, for logs and errors.
pub fn display(wire: &[u8]) -> String {
    let mut s = String::new();
    let mut i = 0;
    while i < wire.len() {
        let len = wire[i] as usize;
        if len == 0 {
            break;
        }
        for &b in &wire[i + 1..(i + 1 + len).min(wire.len())] {
            match b {
                b'.' | b'\\' => {
                    s.push('\\');
                    s.push(b as char);
                }
                0x21..=0x7e => s.push(b as char),
                _ => s.push_str(&format!("\\{b:03}")),
            }
        }
        s.push('.');
        i += len + 1;
    }
    if s.is_empty() {
        s.push('.');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_parse_as_in_zone_files() {
        let origin = Name::from_ascii("t.test.").unwrap();
        let p = |s: &str| parse_owner(s, &origin).map(|n| n.to_ascii());
        assert_eq!(p("@"), Ok("t.test.".into()));
        assert_eq!(p("www"), Ok("www.t.test.".into()));
        assert_eq!(p("a_b.x"), Ok("a_b.x.t.test.".into()));
        assert_eq!(p("www.other."), Ok("www.other.".into()));
        assert_eq!(p(""), Err("is empty".into()));
        assert_eq!(p("a..b"), Err("has an empty label".into()));
        let long = "a".repeat(64);
        assert_eq!(
            p(&long),
            Err(format!("has a label longer than 63 characters: {long:?}"))
        );
        assert!(p("a b").unwrap_err().starts_with("is not a valid name: "));
    }

    #[test]
    fn wire_roundtrip_and_offsets() {
        let n = Name::from_ascii("WwW.Example.test.").unwrap();
        let w = to_wire_lower(&n);
        assert_eq!(&*w, b"\x03www\x07example\x04test\x00");
        let mut offs = [0u8; 128];
        let k = label_offsets(&w, &mut offs);
        assert_eq!(&offs[..k], &[0, 4, 12, 17]);
        assert_eq!(display(&w), "www.example.test.");
        assert_eq!(display(b"\x00"), ".");
    }
}
