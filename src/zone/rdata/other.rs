//! The remaining types with their own presentation grammar: WKS, NSAP,
//! IPSECKEY, AMTRELAY, HIP, NAPTR, CAA, EUI48/64, L64/NID and APL.

use super::*;

impl<'a> Cx<'a> {
    /// WKS (RFC 1035 §3.4.2): address, protocol, port numbers. Protocol
    /// names other than tcp/udp and service names (which BIND looks up in
    /// /etc/services) are not read: give numbers.
    pub(super) fn wks(&mut self) -> R<()> {
        self.ipv4("address")?;
        let p = self.mnemonic("protocol", &[(6u8, "tcp"), (17u8, "udp")], 255)?;
        self.out.wire.push(p);
        let mut bits = Vec::<u8>::new();
        while !self.at_end() {
            let port =
                self.number("port (service names are not read; give the number)", 65535)? as usize;
            if bits.len() <= port / 8 {
                bits.resize(port / 8 + 1, 0);
            }
            bits[port / 8] |= 0x80 >> (port % 8);
        }
        self.out.wire.extend_from_slice(&bits);
        Ok(())
    }

    pub(super) fn nsap(&mut self) -> R<()> {
        let (t, w) = self.word("NSAP address")?;
        if w.len() < 3 || !w[..2].eq_ignore_ascii_case(b"0x") {
            return self.bad(t, "NSAP address", "must start with 0x");
        }
        let digits: Vec<u8> = w[2..].iter().copied().filter(|&c| c != b'.').collect();
        if digits.is_empty() {
            return self.bad(t, "NSAP address", "no digits");
        }
        hex_decode(&digits, &mut self.out.wire).or_else(|e| self.bad(t, "NSAP address", &e))
    }

    pub(super) fn ipseckey(&mut self) -> R<()> {
        self.u8("precedence")?;
        let gt = self.u8("gateway type")?;
        self.u8("algorithm")?;
        match gt {
            0 => {
                let (t, w) = self.word("gateway")?;
                if w != b"." {
                    return self.bad(t, "gateway", "must be '.' for gateway type 0");
                }
            }
            1 => self.ipv4("gateway")?,
            2 => self.ipv6("gateway")?,
            3 => {
                self.name("gateway", false)?;
            }
            _ => {
                let (t, _) = self.word("gateway")?;
                return self.bad(t, "gateway", "gateway type must be 0 to 3");
            }
        }
        self.base64_rest("public key", 1)
    }

    pub(super) fn amtrelay(&mut self) -> R<()> {
        self.u8("precedence")?;
        let d = self.number("discovery optional bit", 1)? as u8;
        let rt = self.number("relay type", 127)? as u8;
        self.out.wire.push((d << 7) | rt);
        match rt {
            0 => {
                let (t, w) = self.word("relay")?;
                if w != b"." {
                    return self.bad(t, "relay", "must be '.' for relay type 0");
                }
            }
            1 => self.ipv4("relay")?,
            2 => self.ipv6("relay")?,
            3 => {
                self.name("relay", false)?;
            }
            _ => {
                let line = self.peek().map_or(self.end_line, |t| t.line);
                return self.err_at(
                    line,
                    format!("relay type {rt} is not implemented (RFC 8777 defines 0 to 3)"),
                );
            }
        }
        Ok(())
    }

    pub(super) fn hip(&mut self) -> R<()> {
        let alg = self.number("public key algorithm", 255)? as u8;
        let (t, w) = self.word("HIT")?;
        let mut hit = Vec::new();
        hex_decode(w, &mut hit).or_else(|e| self.bad(t, "HIT", &e))?;
        if hit.is_empty() || hit.len() > 255 {
            return self.bad(t, "HIT", "must be 1 to 255 octets");
        }
        let (t, w) = self.word("public key")?;
        let mut pk = Vec::new();
        base64_decode(w, &mut pk).or_else(|e| self.bad(t, "public key", &e))?;
        if pk.is_empty() || pk.len() > 65535 {
            return self.bad(t, "public key", "must not be empty");
        }
        self.out.wire.push(hit.len() as u8);
        self.out.wire.push(alg);
        self.out
            .wire
            .extend_from_slice(&(pk.len() as u16).to_be_bytes());
        self.out.wire.extend_from_slice(&hit);
        self.out.wire.extend_from_slice(&pk);
        while !self.at_end() {
            self.name("rendezvous server", false)?;
        }
        Ok(())
    }

    pub(super) fn naptr(&mut self) -> R<()> {
        self.u16("order")?;
        self.u16("preference")?;
        self.string("flags")?;
        self.string("services")?;
        let t = self.next("regexp")?;
        let at = self.out.wire.len();
        self.string_tok(t, "regexp")?;
        if let Err(e) = check_naptr_regexp(&self.out.wire[at + 1..]) {
            return self.bad(t, "regexp", e);
        }
        self.name("replacement", false)?;
        Ok(())
    }

    pub(super) fn caa(&mut self) -> R<()> {
        self.u8("flags")?;
        let (t, w) = self.word("tag")?;
        if w.is_empty() || w.len() > 255 || !w.iter().all(u8::is_ascii_alphanumeric) {
            return self.bad(
                t,
                "tag",
                "must be 1 to 255 letters and digits (RFC 8659 §4.1)",
            );
        }
        self.out.wire.push(w.len() as u8);
        self.out.wire.extend_from_slice(w);
        let t = self.next("value")?;
        if let Err(e) = decode_string(t.raw(self.src), &mut self.out.wire) {
            return self.bad(t, "value", &e);
        }
        Ok(())
    }

    pub(super) fn eui(&mut self, n: usize) -> R<()> {
        let (t, w) = self.word("address")?;
        let parts: Vec<&[u8]> = w.split(|&c| c == b'-').collect();
        if parts.len() != n || parts.iter().any(|p| p.is_empty() || p.len() > 2) {
            return self.bad(t, "address", "must be hex octets joined by '-'");
        }
        for p in parts {
            match std::str::from_utf8(p)
                .ok()
                .and_then(|s| u8::from_str_radix(s, 16).ok())
            {
                Some(b) => self.out.wire.push(b),
                None => return self.bad(t, "address", "not hex"),
            }
        }
        Ok(())
    }

    pub(super) fn l64(&mut self) -> R<()> {
        let (t, w) = self.word("locator")?;
        let parts: Vec<&[u8]> = w.split(|&c| c == b':').collect();
        if parts.len() != 4 || parts.iter().any(|p| p.is_empty() || p.len() > 4) {
            return self.bad(t, "locator", "must be four groups of 1 to 4 hex digits");
        }
        for p in parts {
            let v = std::str::from_utf8(p)
                .ok()
                .and_then(|s| u16::from_str_radix(s, 16).ok());
            match v {
                Some(v) => self.out.wire.extend_from_slice(&v.to_be_bytes()),
                None => return self.bad(t, "locator", "not hex"),
            }
        }
        Ok(())
    }

    pub(super) fn apl(&mut self) -> R<()> {
        while !self.at_end() {
            let (t, w) = self.word("APL item")?;
            let (neg, w) = match w.strip_prefix(b"!") {
                Some(rest) => (true, rest),
                None => (false, w),
            };
            let text = std::str::from_utf8(w).unwrap_or("");
            let parsed = (|| {
                let (afi, rest) = text.split_once(':')?;
                let (addr, prefix) = rest.split_once('/')?;
                let afi: u16 = afi.parse().ok()?;
                let prefix: u8 = prefix.parse().ok()?;
                let bytes: Vec<u8> = match afi {
                    1 if prefix <= 32 => addr.parse::<std::net::Ipv4Addr>().ok()?.octets().to_vec(),
                    2 if prefix <= 128 => {
                        addr.parse::<std::net::Ipv6Addr>().ok()?.octets().to_vec()
                    }
                    _ => return None,
                };
                Some((afi, prefix, bytes))
            })();
            let Some((afi, prefix, mut bytes)) = parsed else {
                return self.bad(
                    t,
                    "APL item",
                    "expected [!]AFI:ADDRESS/PREFIX with AFI 1 or 2",
                );
            };
            while bytes.last() == Some(&0) {
                bytes.pop();
            }
            self.out.wire.extend_from_slice(&afi.to_be_bytes());
            self.out.wire.push(prefix);
            self.out.wire.push((u8::from(neg) << 7) | bytes.len() as u8);
            self.out.wire.extend_from_slice(&bytes);
        }
        Ok(())
    }
}

/// BIND's check of a NAPTR regexp field (RFC 3403 §4.1): empty, or
/// `DELIM ere DELIM repl DELIM [i]` with a delimiter that is not a digit,
/// backslash or newline, and back-references no higher than the number of
/// groups in the expression.
pub fn check_naptr_regexp(re: &[u8]) -> Result<(), &'static str> {
    if re.is_empty() {
        return Ok(());
    }
    let delim = re[0];
    if delim.is_ascii_digit() || delim == b'\\' || delim == b'\n' {
        return Err("the delimiter may not be a digit, backslash or newline");
    }
    let mut part = 0; // 0 expression, 1 replacement, 2 flags
    let mut groups = 0u32;
    let mut i = 1;
    while i < re.len() {
        let c = re[i];
        if c == 0 {
            return Err("contains a NUL octet");
        }
        if c == delim && part < 2 {
            part += 1;
            i += 1;
            continue;
        }
        match part {
            0 => {
                if c == b'\\' {
                    if i + 1 >= re.len() {
                        return Err("ends in a backslash");
                    }
                    i += 2;
                    continue;
                }
                if c == b'(' {
                    groups += 1;
                }
            }
            1 => {
                if c == b'\\' {
                    let Some(&n) = re.get(i + 1) else {
                        return Err("ends in a backslash");
                    };
                    if n.is_ascii_digit() && u32::from(n - b'0') > groups {
                        return Err("back-reference to a group that does not exist");
                    }
                    if n == b'0' {
                        return Err("back-reference \\0 is not allowed");
                    }
                    i += 2;
                    continue;
                }
            }
            _ => {
                if c != b'i' {
                    return Err("the only flag is 'i'");
                }
            }
        }
        i += 1;
    }
    if part < 2 {
        return Err("needs three delimiters");
    }
    Ok(())
}
