//! Records → a query-ready [`Zone`]: RRsets, duplicates removed, the
//! zone-level rules BIND 9 enforces, delegation points and empty
//! non-terminals.
//!
//! Duplicates are judged in canonical form (RFC 2181 §5, RFC 4034 §6.2):
//! for the types whose embedded names compare without case (NS, MX, SOA,
//! SRV, RRSIG, … but not NSEC, RFC 6840 §5.1) `NS ns1` and
//! `NS NS1.EXAMPLE.TEST.` are one RR. As in BIND, the spelling written last
//! is the one served. Differing TTLs in an RRset are a warning (RFC 2181
//! §5.2); as in BIND, the TTL of the last run of records written in a row
//! under the owner is served (see `records`). RRSIGs at one name are one
//! set here, with the lowest of their TTLs (BIND keeps one per covered type).
//!
//! Zone rules, as `named-compilezone` 9.18 applies them (with its network
//! and name-style checks off): one SOA, at the apex only; NS at the apex,
//! none at a wildcard owner (RFC 4592 §4.2);
//! an apex NS name inside the zone (and not below one of its delegations)
//! must have an address and must not be a
//! CNAME; one CNAME per name and no other data beside it except RRSIG, NSEC
//! and KEY (RFC 2181 §10.1, RFC 4035 §2.5); no DS at the apex (DS is parent
//! side data, RFC 4035 §2.4). Records whose owner lies outside the zone are
//! dropped with a warning ("ignoring out-of-zone data"), as BIND does:
//! `dnslb check` prints it, `serve` logs it.

use std::path::PathBuf;

use super::name::{display, from_wire, lower};
use super::rdata::type_name;
use super::records::{ReadError, Rec, RecordList};
use super::store::StoreBuilder;
use super::{Zone, rtype};

const NSEC3: u16 = 50;

/// Types whose embedded domain names are lowercased in canonical form
/// (RFC 4034 §6.2 as updated by RFC 6840 §5.1: NSEC is not).
fn canonical_names(t: u16, wire: &[u8]) -> Option<Vec<(usize, usize)>> {
    use super::name::wire_name_len;
    let name_at = |at: usize| wire.get(at..).and_then(wire_name_len).map(|n| (at, n));
    let mut out = Vec::new();
    match t {
        rtype::NS | 3 | 4 | rtype::CNAME | 7 | 8 | 9 | rtype::PTR | 30 | 39 => {
            out.push(name_at(0)?);
        }
        rtype::SOA | 14 | 17 => {
            let a = name_at(0)?;
            let b = name_at(a.1)?;
            out.extend([a, b]);
        }
        rtype::MX | 18 | 21 | 36 => out.push(name_at(2)?),
        26 => {
            let a = name_at(2)?;
            let b = name_at(2 + a.1)?;
            out.extend([a, b]);
        }
        rtype::SRV => out.push(name_at(6)?),
        35 => {
            let mut at = 4;
            for _ in 0..3 {
                at += 1 + *wire.get(at)? as usize;
            }
            out.push(name_at(at)?);
        }
        24 | rtype::RRSIG => out.push(name_at(18)?),
        _ => return None,
    }
    Some(out)
}

/// Canonical form for duplicate detection (names lowercased where RFC
/// 4034 §6.2 says so).
fn canonical(t: u16, wire: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    match canonical_names(t, wire) {
        None => wire.into(),
        Some(names) => {
            let mut w = wire.to_vec();
            for (at, len) in names {
                let l = lower(&wire[at..at + len]);
                w[at..at + len].copy_from_slice(&l);
            }
            w.into()
        }
    }
}

/// Build the zone `origin` (wire, lowercase) from its records. Errors go
/// to `errors` (file index, line, message); `None` if the zone is unusable.
pub fn assemble(
    origin_wire: &[u8],
    file: PathBuf,
    mut list: RecordList,
    errors: &mut Vec<ReadError>,
    warnings: &mut Vec<ReadError>,
) -> Option<Zone> {
    let origin_lower = lower(origin_wire);
    let origin_text = display(&origin_lower);
    let zone_line = list.recs.iter().find(|r| r.file == 0).map_or(1, |r| r.line);
    let mut err = |file: u32, line: u32, message: String| {
        errors.push(ReadError {
            file,
            line: Some(line),
            message,
        });
    };
    list.retain(|list, p| {
        let owner = list.owner(p);
        if !in_zone(owner, &origin_lower) {
            warnings.push(ReadError {
                file: p.file,
                line: Some(p.line),
                message: format!(
                    "ignoring out-of-zone data ({} is outside the zone {origin_text})",
                    display(owner)
                ),
            });
            return false;
        }
        if p.rtype == rtype::SOA && *owner != *origin_lower {
            err(
                p.file,
                p.line,
                format!(
                    "SOA record is only allowed at the zone apex, not at {}",
                    display(owner)
                ),
            );
            return false;
        }
        if p.rtype == NSEC3 && owner.starts_with(b"\x01*") {
            err(
                p.file,
                p.line,
                format!(
                    "{}: NSEC3 at a wildcard owner is not allowed (RFC 5155 §3: its owner is a hash)",
                    display(owner)
                ),
            );
            return false;
        }
        if p.rtype == NSEC3 && *owner == *origin_lower {
            warnings.push(ReadError {
                file: p.file,
                line: Some(p.line),
                message: "ignoring NSEC3 at the zone apex (RFC 5155 §3: its owner is a hash below the apex), as BIND does".into(),
            });
            return false;
        }
        if p.rtype == rtype::NS && owner.starts_with(b"\x01*") {
            err(
                p.file,
                p.line,
                format!(
                    "{}: NS at a wildcard owner is not allowed (RFC 4592 §4.2)",
                    display(owner)
                ),
            );
            return false;
        }
        if p.rtype == rtype::DS && *owner == *origin_lower {
            err(
                p.file,
                p.line,
                "DS record at the zone apex: DS belongs in the parent zone (RFC 4035 §2.4)".into(),
            );
            return false;
        }
        true
    });
    // Group by (owner, type), file order kept inside a group.
    list.sort();

    let origin = from_wire(&origin_lower).ok()?;
    let mut store = StoreBuilder::new(&origin_lower);
    let mut serial = 0u32;
    let mut soa_min = 0u32;
    let mut it = list.recs.iter().peekable();
    // The RRsets of the current owner: (type, file, first line).
    let mut here: Vec<(u16, u32, u32)> = Vec::new();
    while let Some(first) = it.next() {
        let (owner, t) = (list.owner(first), first.rtype);
        let (first_file, first_line) = (first.file, first.line);
        // The last run's TTL (BIND's merge); RRSIGs, kept as one set here
        // though they cover different types, get the lowest.
        let mut ttl = first.ttl;
        let mut run = first.run;
        // (canonical form, record); the last spelling of an RR wins.
        let mut kept: Vec<(Vec<u8>, &Rec)> =
            vec![(canonical(t, list.wire(first)).into_owned(), first)];
        while let Some(p) = it.next_if(|p| list.owner(p) == owner && p.rtype == t) {
            if p.ttl != ttl {
                warnings.push(ReadError {
                    file: p.file,
                    line: Some(p.line),
                    message: format!(
                        "{} {}: TTL {} differs from the RRset's earlier TTL {ttl} (RFC 2181 §5.2); the later one is served",
                        display(owner),
                        tname(t),
                        p.ttl
                    ),
                });
            }
            if t == rtype::RRSIG {
                ttl = ttl.min(p.ttl);
            } else if p.run >= run {
                ttl = p.ttl;
                run = p.run;
            }
            let c = canonical(t, list.wire(p)).into_owned();
            match kept.iter_mut().find(|(k, _)| *k == c) {
                Some(slot) => slot.1 = p,
                None => kept.push((c, p)),
            }
        }
        if (t == rtype::SOA || t == rtype::CNAME) && kept.len() > 1 {
            let second = &kept[1].1;
            err(
                second.file,
                second.line,
                format!("{} has more than one {} record", display(owner), tname(t)),
            );
        }
        if t == rtype::SOA {
            let w = list.wire(kept[0].1);
            let n = w.len();
            serial = u32::from_be_bytes(w[n - 20..n - 16].try_into().unwrap_or([0; 4]));
            soa_min = u32::from_be_bytes(w[n - 4..].try_into().unwrap_or([0; 4]));
        }
        let rdatas = kept.iter().map(|(_, p)| (list.wire(p), list.names(p)));
        if let Err(e) = store.add_set(owner, t, ttl, rdatas) {
            err(first_file, first_line, format!("{}: {e}", display(owner)));
            return None;
        }
        if t == rtype::NS && *owner != *origin_lower {
            store.set_cut(owner);
        }
        here.push((t, first_file, first_line));
        if it.peek().is_none_or(|p| list.owner(p) != owner) {
            cname_conflicts(owner, &here, &mut err);
            here.clear();
        }
    }

    let zone = Zone {
        origin,
        origin_wire: origin_lower.clone(),
        file,
        neg_ttl: 0,
        serial,
        index: 0,
        store: store.finish(),
    };
    let apex = zone.apex();
    let Some(soa) = apex.rrset(rtype::SOA) else {
        errors.push(ReadError {
            file: 0,
            line: Some(zone_line),
            message: format!(
                "zone {origin_text} has no SOA record at its apex (expected as the first record)"
            ),
        });
        return None;
    };
    let neg_ttl = soa.ttl().min(soa_min);
    let Some(ns) = apex.rrset(rtype::NS) else {
        errors.push(ReadError {
            file: 0,
            line: Some(zone_line),
            message: format!("zone {origin_text} has no NS records at its apex"),
        });
        return None;
    };
    // An apex NS name inside the zone must resolve to an address here.
    for target in ns.targets() {
        if !in_zone(target, &origin_lower) || below_cut(&zone, target) {
            continue;
        }
        let node = zone.node(target);
        let problem = match node {
            Some(n) if n.rrset(rtype::CNAME).is_some() => Some("is a CNAME (RFC 2181 §10.3)"),
            Some(n) if n.rrset(rtype::A).is_some() || n.rrset(rtype::AAAA).is_some() => None,
            _ => Some("has no address records (A or AAAA) in the zone"),
        };
        if let Some(p) = problem {
            errors.push(ReadError {
                file: 0,
                line: Some(zone_line),
                message: format!("NS {} of the zone apex {p}", display(target)),
            });
        }
    }
    Some(Zone { neg_ttl, ..zone })
}

/// CNAME beside other data (RFC 2181 §10.1); RRSIG, NSEC, NSEC3 and KEY may
/// stand beside it (RFC 4035 §2.5, RFC 2535 §2.3.5). Reported at the later of the
/// two records.
fn cname_conflicts(owner: &[u8], sets: &[(u16, u32, u32)], err: &mut impl FnMut(u32, u32, String)) {
    let Some(&(_, cf, cl)) = sets.iter().find(|s| s.0 == rtype::CNAME) else {
        return;
    };
    for &(t, f, l) in sets {
        // NSEC3 lives in its own namespace of hashed owners (RFC 5155 §7.1),
        // so BIND lets it stand beside a CNAME too.
        if matches!(t, rtype::CNAME | rtype::RRSIG | rtype::NSEC | 25 | NSEC3) {
            continue;
        }
        let (file, line) = if l > cl || (f != cf && f > cf) {
            (f, l)
        } else {
            (cf, cl)
        };
        err(
            file,
            line,
            format!(
                "{} has a CNAME beside other data ({})",
                display(owner),
                tname(t)
            ),
        );
    }
}

/// `name` is at or below a delegation point of `zone` (other than the apex).
fn below_cut(zone: &Zone, name: &[u8]) -> bool {
    let mut i = 0;
    while name.len() - i > zone.origin_wire.len() {
        if zone
            .node(&name[i..])
            .is_some_and(|n| n.rrset(rtype::NS).is_some())
        {
            return true;
        }
        i += name[i] as usize + 1;
    }
    false
}

fn tname(t: u16) -> String {
    type_name(t).map_or_else(|| format!("TYPE{t}"), str::to_string)
}

/// `owner` (lowercase wire) is `origin` or below it.
pub fn in_zone(owner: &[u8], origin: &[u8]) -> bool {
    owner.len() >= origin.len()
        && owner.ends_with(origin)
        && is_label_boundary(owner, owner.len() - origin.len())
}

/// True when `i` starts a label of the uncompressed wire name `w`.
fn is_label_boundary(w: &[u8], i: usize) -> bool {
    let mut j = 0;
    while j < w.len() {
        if j == i {
            return true;
        }
        if w[j] == 0 {
            break;
        }
        j += w[j] as usize + 1;
    }
    j == i
}
