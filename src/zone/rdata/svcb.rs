//! SVCB/HTTPS RDATA (RFC 9460): SvcParams in any order, sorted on the wire;
//! duplicate keys, a `mandatory` list naming an absent key or itself, and
//! `no-default-alpn` without `alpn` are errors (RFC 9460 §2.2, §7, §8).

use super::*;

impl<'a> Cx<'a> {
    pub(super) fn svcb(&mut self) -> R<()> {
        let prio = self.u16("priority")?;
        // BIND reads the TargetName quoted or not.
        let t = self.next("target")?;
        let n = match parse_name_text(t.raw(self.src), self.origin) {
            Ok(n) => n,
            Err(e) => return self.bad(t, "target", &e),
        };
        self.out.wire.extend_from_slice(&n);
        let _ = prio;
        let mut params: Vec<(u16, Vec<u8>, u32)> = Vec::new();
        while let Some(t) = self.peek() {
            self.i += 1;
            if t.quoted {
                return self.bad(t, "SvcParam", "a key must not be quoted");
            }
            let raw = t.raw(self.src);
            let (key_text, value_raw): (&[u8], Option<(&[u8], Tok)>) =
                match raw.iter().position(|&c| c == b'=') {
                    Some(p) => {
                        let rest = &raw[p + 1..];
                        if rest.is_empty() {
                            // `key="value"`: the lexer split off the quoted part.
                            match self.peek() {
                                Some(q) if q.quoted && q.start == t.end + 1 => {
                                    self.i += 1;
                                    (&raw[..p], Some((q.raw(self.src), q)))
                                }
                                _ => (&raw[..p], Some((rest, t))),
                            }
                        } else {
                            (&raw[..p], Some((rest, t)))
                        }
                    }
                    None => (raw, None),
                };
            let Some(key) = svc_key_from_text(key_text) else {
                return self.bad(t, "SvcParamKey", "unknown key");
            };
            let mut value = Vec::new();
            if let Some((v, vt)) = value_raw
                && let Err(e) = decode_string(v, &mut value)
            {
                return self.bad(vt, "SvcParamValue", &e);
            }
            let has_value = value_raw.is_some() && !value.is_empty();
            let wire = match svc_value(key, has_value, &value, key_text) {
                Ok(w) => w,
                Err(e) => return self.bad(t, "SvcParam", &e),
            };
            if params.iter().any(|(k, _, _)| *k == key) {
                return self.bad(t, "SvcParam", "duplicate key (RFC 9460 §2.2)");
            }
            params.push((key, wire, t.line));
        }
        params.sort_by_key(|p| p.0);
        // RFC 9460 §8: every key listed in mandatory must be present, and
        // mandatory must not list itself; no-default-alpn needs alpn.
        if let Some((_, m, line)) = params.iter().find(|p| p.0 == 0) {
            for k in m.chunks(2) {
                let k = u16::from_be_bytes([k[0], k[1]]);
                if !params.iter().any(|p| p.0 == k) {
                    return self.err_at(
                        *line,
                        format!(
                            "mandatory lists {} but the record has no such parameter",
                            svc_key_name(k)
                        ),
                    );
                }
            }
        }
        if let Some(p) = params.iter().find(|p| p.0 == 2)
            && !params.iter().any(|p| p.0 == 1)
        {
            return self.err_at(
                p.2,
                "no-default-alpn needs an alpn parameter (RFC 9460 §7.1.1)",
            );
        }
        for (k, v, _) in params {
            self.out.wire.extend_from_slice(&k.to_be_bytes());
            self.out
                .wire
                .extend_from_slice(&(v.len() as u16).to_be_bytes());
            self.out.wire.extend_from_slice(&v);
        }
        Ok(())
    }
}

/// Parse a SvcParamKey name or `keyNNNNN`.
pub fn svc_key_from_text(s: &[u8]) -> Option<u16> {
    if let Some(&(k, _)) = SVC_KEYS.iter().find(|(_, n)| n.as_bytes() == s) {
        return Some(k);
    }
    let digits = s.strip_prefix(b"key")?;
    if digits.len() > 1 && digits[0] == b'0' {
        return None;
    }
    let v = parse_decimal(digits)?;
    // 65535 is reserved (RFC 9460 §14.3.2) but BIND reads it.
    u16::try_from(v).ok()
}

/// The name of a SvcParamKey, or `keyNNNNN`.
pub fn svc_key_name(k: u16) -> String {
    SVC_KEYS
        .iter()
        .find(|(c, _)| *c == k)
        .map_or_else(|| format!("key{k}"), |(_, n)| n.to_string())
}

/// Split a comma-separated value list (RFC 9460 Appendix A.1): `\,` is a
/// comma inside an item (after the first level of escapes was decoded).
pub(super) fn value_list(v: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let mut items = vec![Vec::new()];
    let mut i = 0;
    while i < v.len() {
        match v[i] {
            b'\\' => {
                let Some(&c) = v.get(i + 1) else {
                    return Err("value list ends in a lone backslash".into());
                };
                items.last_mut().unwrap().push(c);
                i += 2;
            }
            b',' => {
                items.push(Vec::new());
                i += 1;
            }
            c => {
                items.last_mut().unwrap().push(c);
                i += 1;
            }
        }
    }
    Ok(items)
}

/// Wire form of one SvcParamValue.
pub(super) fn svc_value(
    key: u16,
    has_value: bool,
    v: &[u8],
    key_text: &[u8],
) -> Result<Vec<u8>, String> {
    let generic = key_text.starts_with(b"key");
    let need = |ok: bool, what: &str| if ok { Ok(()) } else { Err(what.to_string()) };
    let text = std::str::from_utf8(v).map_err(|_| "value is not ASCII".to_string());
    let mut out = Vec::new();
    if generic && key > 8 {
        out.extend_from_slice(v);
        return Ok(out);
    }
    if generic {
        // keyNNN for a known key: the value is its wire form, checked.
        out.extend_from_slice(v);
        crate::zone::present::check_svc_value(key, &out)?;
        return Ok(out);
    }
    match key {
        0 => {
            need(has_value, "mandatory needs a value")?;
            let mut keys = Vec::new();
            for item in value_list(v)? {
                let k = svc_key_from_text(&item).ok_or_else(|| {
                    format!(
                        "mandatory lists unknown key {:?}",
                        String::from_utf8_lossy(&item)
                    )
                })?;
                if k == 0 {
                    return Err("mandatory must not list itself (RFC 9460 §8)".into());
                }
                if keys.contains(&k) {
                    return Err(format!("mandatory lists {} twice", svc_key_name(k)));
                }
                keys.push(k);
            }
            keys.sort_unstable();
            for k in keys {
                out.extend_from_slice(&k.to_be_bytes());
            }
        }
        1 => {
            need(has_value, "alpn needs a value")?;
            for item in value_list(v)? {
                if item.is_empty() || item.len() > 255 {
                    return Err("alpn ids must be 1 to 255 octets".into());
                }
                out.push(item.len() as u8);
                out.extend_from_slice(&item);
            }
        }
        2 => need(!has_value, "no-default-alpn takes no value")?,
        3 => {
            need(has_value, "port needs a value")?;
            let p: u16 = text?
                .parse()
                .map_err(|_| "port must be 0 to 65535".to_string())?;
            out.extend_from_slice(&p.to_be_bytes());
        }
        4 | 6 => {
            need(has_value, "address hints need a value")?;
            for item in text?.split(',') {
                if key == 4 {
                    let a: std::net::Ipv4Addr = item
                        .parse()
                        .map_err(|_| format!("bad IPv4 address {item:?}"))?;
                    out.extend_from_slice(&a.octets());
                } else {
                    let a: std::net::Ipv6Addr = item
                        .parse()
                        .map_err(|_| format!("bad IPv6 address {item:?}"))?;
                    out.extend_from_slice(&a.octets());
                }
            }
        }
        5 => {
            need(has_value, "ech needs a value")?;
            base64_decode(v, &mut out).map_err(|e| format!("ech: {e}"))?;
        }
        7 => {
            need(has_value, "dohpath needs a value")?;
            std::str::from_utf8(v)
                .map_err(|_| "dohpath must be UTF-8 (RFC 9461 §5)".to_string())?;
            out.extend_from_slice(v);
        }
        8 => need(!has_value, "ohttp takes no value")?,
        _ => out.extend_from_slice(v),
    }
    Ok(out)
}
