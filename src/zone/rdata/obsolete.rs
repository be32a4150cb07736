//! Types BIND 9 still reads and prints in their own presentation form,
//! though obsolete or never standardised: A6, NXT, ATMA, SINK and DOA.
//! Each grammar is BIND 9.18's (`named-compilezone` accepts these forms and
//! `zone dump` prints them), so a dump loads back.

use super::*;

impl<'a> Cx<'a> {
    /// A6 (RFC 2874 §3.1.1, historic per RFC 6563): prefix length 0-128,
    /// the address unless the prefix is 128 (only its octets past the
    /// prefix are kept, bits inside the prefix cleared, as BIND), the
    /// prefix name unless the prefix is 0.
    pub(super) fn a6(&mut self) -> R<()> {
        let prefix = self.u8("prefix length")?;
        if prefix > 128 {
            let t = self.toks[self.i - 1];
            return self.bad(t, "prefix length", "must be at most 128");
        }
        if prefix < 128 {
            let (t, w) = self.word("address suffix")?;
            let Some(a) = std::str::from_utf8(w)
                .ok()
                .and_then(|s| s.parse::<std::net::Ipv6Addr>().ok())
            else {
                return self.bad(t, "address suffix", "not an IPv6 address");
            };
            let mut octets = a.octets();
            let skip = usize::from(prefix / 8);
            octets[skip] &= 0xFF >> (prefix % 8);
            self.out.wire.extend_from_slice(&octets[skip..]);
        }
        if prefix > 0 {
            self.name("prefix name", false)?;
        }
        Ok(())
    }

    /// NXT (RFC 2535 §5.2, obsoleted by RFC 3755): the next name, then the
    /// types present, 1-127 only, as mnemonics, `TYPEnnn` or bare numbers
    /// (BIND prints an unknown one as a number).
    pub(super) fn nxt(&mut self) -> R<()> {
        self.name("next name", false)?;
        let mut bits = Vec::<u8>::new();
        while !self.at_end() {
            let (t, w) = self.word("type")?;
            let v = match type_from_text(w)
                .or_else(|| parse_decimal(w).and_then(|v| u16::try_from(v).ok()))
            {
                Some(v @ 1..=127) => v as usize,
                Some(_) => return self.bad(t, "type", "an NXT bitmap holds types 1 to 127"),
                None => return self.bad(t, "type", "unknown type"),
            };
            if bits.len() <= v / 8 {
                bits.resize(v / 8 + 1, 0);
            }
            bits[v / 8] |= 0x80 >> (v % 8);
        }
        self.out.wire.extend_from_slice(&bits);
        Ok(())
    }

    /// ATMA (ATM Forum AF-DANS-0152.000): `+DIGITS` is an E.164 number
    /// (format 1), anything else hex octets of an AESA (format 0); a dot
    /// between two digits is ignored (BIND).
    pub(super) fn atma(&mut self) -> R<()> {
        let (t, w) = self.word("ATM address")?;
        let (format, body) = match w.strip_prefix(b"+") {
            Some(digits) => (1u8, digits),
            None => (0u8, w),
        };
        // A dot only between two digits (BIND).
        if body.is_empty()
            || body.starts_with(b".")
            || body.ends_with(b".")
            || body.windows(2).any(|p| p == b"..")
        {
            return self.bad(
                t,
                "ATM address",
                "no digits, or a dot not between two digits",
            );
        }
        let digits: Vec<u8> = body.iter().copied().filter(|&c| c != b'.').collect();
        self.out.wire.push(format);
        if format == 1 {
            if !digits.iter().all(u8::is_ascii_digit) {
                return self.bad(t, "ATM address", "an E.164 address is digits");
            }
            self.out.wire.extend_from_slice(&digits);
            return Ok(());
        }
        if digits.len() % 2 == 1 {
            return self.bad(t, "ATM address", "not whole hex octets");
        }
        hex_decode(&digits, &mut self.out.wire).or_else(|e| self.bad(t, "ATM address", &e))
    }

    /// SINK (draft-eastlake-kitchen-sink): meaning, coding, subcoding,
    /// then optional data in base64.
    pub(super) fn sink(&mut self) -> R<()> {
        self.u8("meaning")?;
        self.u8("coding")?;
        self.u8("subcoding")?;
        self.base64_rest("data", 0)
    }

    /// DOA (draft-durand-doa-over-dns): enterprise, type, location, media
    /// type (a character-string), then data in base64 or `-` for none.
    pub(super) fn doa(&mut self) -> R<()> {
        self.u32("enterprise")?;
        self.u32("type")?;
        self.u8("location")?;
        self.string("media type")?;
        if let Some(t) = self.peek()
            && !t.quoted
            && t.raw(self.src) == b"-"
        {
            self.i += 1;
            return Ok(());
        }
        self.base64_rest("data", 1)
    }
}
