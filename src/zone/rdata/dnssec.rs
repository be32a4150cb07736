//! DNSSEC RDATA: RRSIG/SIG, DNSKEY/KEY/CDNSKEY, DS/CDS/TA/DLV, NSEC3,
//! NSEC3PARAM and the type bitmaps of NSEC/NSEC3/CSYNC (RFC 4034, RFC 5155,
//! RFC 7344).

use super::*;

impl<'a> Cx<'a> {
    /// NSEC/NSEC3/CSYNC type bitmap (RFC 4034 §4.1.2) from the remaining
    /// type mnemonics.
    pub(super) fn bitmap(&mut self) -> R<()> {
        let mut types: Vec<u16> = Vec::new();
        while !self.at_end() {
            let (t, w) = self.word("type")?;
            match type_from_text(w) {
                Some(v) => types.push(v),
                None => return self.bad(t, "type in the bitmap", "unknown type"),
            }
        }
        types.sort_unstable();
        types.dedup();
        let mut i = 0;
        while i < types.len() {
            let window = (types[i] >> 8) as u8;
            let mut bits = [0u8; 32];
            let mut len = 0;
            while i < types.len() && (types[i] >> 8) as u8 == window {
                let low = (types[i] & 0xFF) as usize;
                bits[low / 8] |= 0x80 >> (low % 8);
                len = low / 8 + 1;
                i += 1;
            }
            self.out.wire.push(window);
            self.out.wire.push(len as u8);
            self.out.wire.extend_from_slice(&bits[..len]);
        }
        Ok(())
    }

    pub(super) fn rrsig(&mut self) -> R<()> {
        self.rrtype("type covered")?;
        self.secalg()?;
        self.u8("labels")?;
        self.u32("original TTL")?;
        for what in ["signature expiration", "signature inception"] {
            let (t, w) = self.word(what)?;
            match parse_time(w) {
                Ok(v) => self.out.wire.extend_from_slice(&v.to_be_bytes()),
                Err(e) => return self.bad(t, what, &e),
            }
        }
        self.u16("key tag")?;
        self.name("signer name", false)?;
        self.base64_rest("signature", 1)
    }

    pub(super) fn dnskey(&mut self, t: u16) -> R<()> {
        let (tok, w) = self.word("flags")?;
        let Some(flags) = key_flags(w) else {
            return self.bad(
                tok,
                "flags",
                "not a 16-bit number or flag names joined by '|'",
            );
        };
        // RKEY flags are zero (draft-reid-dnsext-rkey §3, as BIND).
        if t == 57 && flags != 0 {
            return self.bad(tok, "flags", "RKEY flags must be 0");
        }
        self.out.wire.extend_from_slice(&flags.to_be_bytes());
        let p = self.mnemonic("protocol", KEY_PROTOCOLS, 255)?;
        self.out.wire.push(p);
        self.secalg()?;
        // KEY with the NOKEY bits (RFC 2535 §3.1.2) carries no key data.
        let nokey = t == 25 && flags & 0xC000 == 0xC000;
        if nokey {
            return Ok(());
        }
        self.base64_rest("public key", 1)
    }

    pub(super) fn ds(&mut self, _t: u16) -> R<()> {
        self.u16("key tag")?;
        self.secalg()?;
        let d = self.mnemonic("digest type", DIGEST_NAMES, 255)?;
        self.out.wire.push(d);
        let line = self.peek().map_or(self.end_line, |t| t.line);
        let n = self.hex_rest("digest", 1)?;
        let want = match d {
            1 => Some(20),
            // GOST (3) is not checked: BIND 9.18 no longer knows it.
            2 => Some(32),
            4 => Some(48),
            _ => None,
        };
        if let Some(w) = want
            && n != w
        {
            return self.err_at(line, format!("digest type {d} needs {w} octets, got {n}"));
        }
        Ok(())
    }

    pub(super) fn nsec(&mut self) -> R<()> {
        self.name("next name", false)?;
        if self.at_end() {
            return self.err_at(self.end_line, "NSEC needs at least one type in its bitmap");
        }
        self.bitmap()
    }

    pub(super) fn nsec3(&mut self, t: u16) -> R<()> {
        self.u8("hash algorithm")?;
        self.u8("flags")?;
        self.u16("iterations")?;
        let (tok, w) = self.word("salt")?;
        let at = self.out.wire.len();
        self.out.wire.push(0);
        if w != b"-" {
            hex_decode(w, &mut self.out.wire).or_else(|e| self.bad(tok, "salt", &e))?;
            let n = self.out.wire.len() - at - 1;
            if n > 255 {
                return self.bad(tok, "salt", "longer than 255 octets");
            }
            self.out.wire[at] = n as u8;
        }
        if t == 51 {
            return Ok(());
        }
        let (tok, w) = self.word("next hashed owner name")?;
        let at = self.out.wire.len();
        self.out.wire.push(0);
        base32hex_decode(w, &mut self.out.wire)
            .or_else(|e| self.bad(tok, "next hashed owner name", &e))?;
        let n = self.out.wire.len() - at - 1;
        if self.out.wire[0] == 1 && n != 20 {
            return self.bad(tok, "next hashed owner name", "a SHA-1 hash is 20 octets");
        }
        if n == 0 || n > 255 {
            return self.bad(tok, "next hashed owner name", "must be 1 to 255 octets");
        }
        self.out.wire[at] = n as u8;
        self.bitmap()
    }
}

/// KEY/DNSKEY protocol mnemonics (RFC 2535 §3.1.3; BIND's names).
const KEY_PROTOCOLS: &[(u8, &str)] = &[
    (0, "NONE"),
    (1, "TLS"),
    (2, "EMAIL"),
    (3, "DNSSEC"),
    (4, "IPSEC"),
    (255, "ALL"),
];

/// Key flag names BIND reads (RFC 2535 §3.1.2, RFC 4034 §2.1.1, RFC 5011).
const KEY_FLAGS: &[(&str, u16)] = &[
    ("NOCONF", 0x4000),
    ("NOAUTH", 0x8000),
    ("NOKEY", 0xC000),
    ("FLAG2", 0x2000),
    ("EXTEND", 0x1000),
    ("FLAG4", 0x0800),
    ("FLAG5", 0x0400),
    ("USER", 0x0000),
    ("ZONE", 0x0100),
    ("HOST", 0x0200),
    ("NTYP3", 0x0300),
    ("FLAG8", 0x0080),
    ("FLAG9", 0x0040),
    ("FLAG10", 0x0020),
    ("FLAG11", 0x0010),
    ("SIG0", 0x0000),
    ("KSK", 0x0001),
    ("REVOKE", 0x0080),
];

/// KEY/DNSKEY flags: a decimal or `0x` hex number, or names joined by `|`.
fn key_flags(w: &[u8]) -> Option<u16> {
    let s = std::str::from_utf8(w).ok()?;
    if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        return u16::from_str_radix(h, 16).ok();
    }
    if s.bytes().all(|c| c.is_ascii_digit()) {
        return s.parse().ok();
    }
    let mut v = 0u16;
    for name in s.split('|') {
        let sig = name
            .strip_prefix("SIG")
            .and_then(|n| n.parse::<u16>().ok())
            .filter(|&n| n <= 15);
        v |= match sig {
            Some(n) => n,
            None => {
                KEY_FLAGS
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case(name))?
                    .1
            }
        };
    }
    Some(v)
}
