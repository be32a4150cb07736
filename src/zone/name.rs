//! Domain names in uncompressed wire format, lowercased, as lookup keys.
//!
//! The query path never builds a hickory `Name`: it lowercases the question
//! into a stack buffer and looks up sub-slices at label boundaries. These
//! helpers convert to and from hickory's `Name` when the snapshot is built.

use hickory_proto::rr::Name;

/// A domain name as written in a master file or as a policy file's
/// `[names.OWNER]`: `@`, absolute (trailing dot) or relative to `origin`.
/// The one owner-name rule of the crate, [`parse_name_text`] (zone files
/// call it on bytes, policy files and the command line through this
/// function): any octet is allowed in a label, as BIND, NSD and Knot
/// allow; `\.` and `\DDD` escapes work. Errors read after the name
/// ("is not a valid name: empty label").
pub fn parse_owner(tok: &str, origin: &Name) -> Result<Name, String> {
    if tok.is_empty() {
        return Err("is empty".into());
    }
    parse_name_text(tok.as_bytes(), &to_wire(origin))
        .and_then(|w| from_wire(&w))
        .map_err(|e| format!("is not a valid name: {e}"))
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

/// Presentation form of a wire name, for logs, errors and `zone dump`:
/// absolute, with BIND's escapes (`\\.` and the other master-file specials,
/// `\\DDD` for bytes outside printable ASCII).
pub fn display(wire: &[u8]) -> String {
    let mut s = String::new();
    push_text(wire, &mut s);
    s
}

/// Append the presentation form of a wire name to `s` (see [`display`]).
pub fn push_text(wire: &[u8], s: &mut String) {
    let mut i = 0;
    let start = s.len();
    while i < wire.len() {
        let len = wire[i] as usize;
        if len == 0 {
            break;
        }
        for &b in &wire[i + 1..(i + 1 + len).min(wire.len())] {
            match b {
                b'.' | b'\\' | b'"' | b'(' | b')' | b';' | b'@' | b'$' => {
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
    if s.len() == start {
        s.push('.');
    }
}

/// Parse a domain name as written in a master file (RFC 1035 §5.1) into
/// uncompressed wire form, case preserved. `@` alone is `origin`; a name
/// without a trailing dot is relative to `origin` (a wire name). Labels may
/// hold any octet: `\\.` is a dot inside a label, `\\DDD` a decimal octet,
/// `\\X` the byte X. Errors: empty label, label over 63 octets, name over
/// 255 octets (RFC 1035 §2.3.4), bad escapes.
pub fn parse_name_text(raw: &[u8], origin: &[u8]) -> Result<Vec<u8>, String> {
    if raw == b"@" {
        return Ok(origin.to_vec());
    }
    if raw.is_empty() {
        return Err("empty name".into());
    }
    let mut out = Vec::with_capacity(raw.len() + origin.len() + 2);
    if raw == b"." {
        out.push(0);
        return Ok(out);
    }
    let mut label_start = 0usize;
    out.push(0);
    let mut i = 0;
    let mut absolute = false;
    while i < raw.len() {
        let c = raw[i];
        let byte = match c {
            b'.' => {
                let len = out.len() - label_start - 1;
                if len == 0 {
                    return Err("empty label".into());
                }
                if len > 63 {
                    return Err(format!("label longer than 63 octets ({len})"));
                }
                out[label_start] = len as u8;
                i += 1;
                if i == raw.len() {
                    absolute = true;
                    break;
                }
                label_start = out.len();
                out.push(0);
                continue;
            }
            b'\\' => {
                let (b, n) = super::lexer::decode_escape(&raw[i..])?;
                i += n;
                b
            }
            _ => {
                i += 1;
                c
            }
        };
        out.push(byte);
    }
    if !absolute {
        let len = out.len() - label_start - 1;
        if len > 63 {
            return Err(format!("label longer than 63 octets ({len})"));
        }
        out[label_start] = len as u8;
        out.extend_from_slice(origin);
    } else {
        out.push(0);
    }
    if out.len() > MAX_NAME_LEN {
        return Err(format!("name longer than 255 octets ({})", out.len()));
    }
    Ok(out)
}

/// Length of the uncompressed wire name at the start of `data`, checked
/// (labels under 64 octets, at most 255 octets, no compression pointers).
pub fn wire_name_len(data: &[u8]) -> Option<usize> {
    let mut i = 0;
    loop {
        let len = *data.get(i)? as usize;
        if len > 63 {
            return None;
        }
        i += len + 1;
        if i > MAX_NAME_LEN || i > data.len() {
            return None;
        }
        if len == 0 {
            return Some(i);
        }
    }
}

/// Lowercase copy of a wire name (ASCII letters only, RFC 4343).
pub fn lower(wire: &[u8]) -> Box<[u8]> {
    let mut out: Box<[u8]> = wire.into();
    let mut i = 0;
    while i < out.len() {
        let len = out[i] as usize;
        for b in &mut out[i + 1..(i + 1 + len).min(wire.len())] {
            b.make_ascii_lowercase();
        }
        i += len + 1;
    }
    out
}

/// A hickory `Name` from an uncompressed wire name (labels taken as raw
/// bytes, so dots and any other octet inside a label survive).
pub fn from_wire(wire: &[u8]) -> Result<Name, String> {
    use hickory_proto::rr::domain::Label;
    let mut labels = Vec::new();
    let mut i = 0;
    while i < wire.len() && wire[i] != 0 {
        let len = wire[i] as usize;
        let l = wire
            .get(i + 1..i + 1 + len)
            .ok_or_else(|| "truncated name".to_string())?;
        labels.push(Label::from_raw_bytes(l).map_err(|e| e.to_string())?);
        i += len + 1;
    }
    let mut n = Name::from_labels(labels).map_err(|e| e.to_string())?;
    n.set_fqdn(true);
    Ok(n)
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
        assert_eq!(p("a\\.b"), Ok("a\\.b.t.test.".into()));
        assert_eq!(p("a..b"), Err("is not a valid name: empty label".into()));
        assert_eq!(
            p(&"a".repeat(64)),
            Err("is not a valid name: label longer than 63 octets (64)".into())
        );
        assert_eq!(
            p("a\\256"),
            Err("is not a valid name: bad escape \\256: decimal value above 255".into())
        );
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

    #[test]
    fn parse_text_names() {
        let o = b"\x07example\x04test\x00";
        let p = |t: &str| parse_name_text(t.as_bytes(), o);
        assert_eq!(p("dec\\101").unwrap(), b"\x04dece\x07example\x04test\x00");
        assert_eq!(p("a\\046b").unwrap(), b"\x03a.b\x07example\x04test\x00");
        assert_eq!(p("0/26").unwrap(), b"\x040/26\x07example\x04test\x00");
        assert_eq!(p("@").unwrap(), o);
        assert_eq!(p(".").unwrap(), b"\x00");
        assert_eq!(p("A.b.").unwrap(), b"\x01A\x01b\x00");
        assert!(p("a..b").is_err());
        assert!(p(".a").is_err());
        assert!(p(&"x".repeat(64)).is_err());
        assert!(p("a\\256").is_err());
        let w = p("a\\046b").unwrap();
        assert_eq!(display(&w), "a\\.b.example.test.");
        assert_eq!(display(b"\x03a b\x00"), "a\\032b.");
        assert_eq!(from_wire(&w).unwrap().num_labels(), 3);
        assert_eq!(&*lower(b"\x02Ab\x00"), b"\x02ab\x00");
    }
}
