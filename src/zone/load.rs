//! Master-file loading (RFC 1035 §5) with file:line diagnostics.
//!
//! hickory-proto's zone parser does the record syntax, but it reports no line
//! numbers and merges records into sets, losing where each came from. So we
//! split the file into logical entries ourselves (comments, parentheses,
//! quotes, `$` directives, blank owners) and hand hickory one record at a
//! time with an explicit owner, TTL and class. Every error names its file and
//! line; all errors of a file are collected before the zone is rejected.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use hickory_proto::rr::{Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder, NameEncoding};
use hickory_proto::serialize::txt::Parser;
use rustc_hash::FxHashMap;

use super::name::{to_wire, to_wire_lower};
use super::{Node, Rdata, Rrset, Zone, rtype};
use crate::diag::Diagnostics;

/// Nested `$INCLUDE` depth limit.
const MAX_INCLUDE_DEPTH: usize = 8;

/// How zone files are loaded.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// `$INCLUDE` may only name files inside this directory (canonicalized).
    /// `None` refuses `$INCLUDE` altogether.
    pub include_root: Option<PathBuf>,
}

/// Load every `NAME.zone` file in `dir` as the zone `NAME.`. Files with
/// errors are reported into `diags` and left out of the result.
pub fn load_zones_dir(dir: &Path, opts: &LoadOptions, diags: &mut Diagnostics) -> Vec<Zone> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            diags.error(
                dir,
                None,
                None,
                "",
                format!("cannot read zones directory: {e}"),
            );
            return Vec::new();
        }
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "zone") && p.is_file())
        .collect();
    files.sort();
    let mut zones = Vec::new();
    for path in files {
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        let origin = match Name::from_ascii(format!("{}.", stem.trim_end_matches('.'))) {
            Ok(n) => n,
            Err(e) => {
                diags.error(
                    &path,
                    None,
                    None,
                    "",
                    format!("file name {stem:?} is not a valid zone name: {e}"),
                );
                continue;
            }
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) => {
                diags.error(&path, None, None, "", format!("cannot read zone file: {e}"));
                continue;
            }
        };
        if let Some(z) = load_zone_file(&path, &text, &origin, opts, diags) {
            zones.push(z);
        }
    }
    if zones.is_empty() && diags.is_empty() {
        diags.error(dir, None, None, "", "no *.zone files found");
    }
    zones
}

/// One logical entry of a master file: a directive or a record.
#[derive(Debug)]
struct Entry {
    file: PathBuf,
    line: u32,
    /// The line began with white space: the owner is the previous one.
    blank_owner: bool,
    tokens: Vec<String>,
}

/// Split master-file text into entries (handles `;` comments, `( )`
/// continuation, quoted strings and `\` escapes).
fn split_entries(file: &Path, text: &str, diags: &mut Diagnostics) -> Vec<Entry> {
    let mut out = Vec::new();
    let mut tokens: Vec<String> = Vec::new();
    let mut tok = String::new();
    let mut in_tok = false;
    let mut depth = 0u32;
    let mut in_quote = false;
    let mut entry_line = 1u32;
    let mut blank_owner = false;
    let mut line = 1u32;
    let mut at_line_start = true;
    let mut paren_line = 0u32;
    let mut chars = text.chars().peekable();

    let flush_tok = |tok: &mut String, in_tok: &mut bool, tokens: &mut Vec<String>| {
        if *in_tok {
            tokens.push(std::mem::take(tok));
            *in_tok = false;
        }
    };

    while let Some(c) = chars.next() {
        if at_line_start && depth == 0 && !in_quote {
            at_line_start = false;
            if tokens.is_empty() && !in_tok {
                entry_line = line;
                blank_owner = c == ' ' || c == '\t';
            }
        }
        if in_quote {
            tok.push(c);
            match c {
                '\\' => {
                    if let Some(n) = chars.next() {
                        if n == '\n' {
                            line += 1;
                        }
                        tok.push(n);
                    }
                }
                '"' => in_quote = false,
                '\n' => line += 1,
                _ => {}
            }
            continue;
        }
        match c {
            '\n' => {
                flush_tok(&mut tok, &mut in_tok, &mut tokens);
                line += 1;
                at_line_start = true;
                if depth == 0 && !tokens.is_empty() {
                    out.push(Entry {
                        file: file.to_path_buf(),
                        line: entry_line,
                        blank_owner,
                        tokens: std::mem::take(&mut tokens),
                    });
                }
            }
            ';' => {
                flush_tok(&mut tok, &mut in_tok, &mut tokens);
                while let Some(&n) = chars.peek() {
                    if n == '\n' {
                        break;
                    }
                    chars.next();
                }
            }
            '(' => {
                flush_tok(&mut tok, &mut in_tok, &mut tokens);
                if depth == 0 {
                    paren_line = line;
                }
                depth += 1;
            }
            ')' => {
                flush_tok(&mut tok, &mut in_tok, &mut tokens);
                if depth == 0 {
                    diags.error(file, Some(line), None, "", "unbalanced ')'");
                } else {
                    depth -= 1;
                }
            }
            ' ' | '\t' | '\r' => flush_tok(&mut tok, &mut in_tok, &mut tokens),
            '"' => {
                in_tok = true;
                in_quote = true;
                tok.push(c);
            }
            '\\' => {
                in_tok = true;
                tok.push(c);
                if let Some(n) = chars.next() {
                    tok.push(n);
                }
            }
            _ => {
                in_tok = true;
                tok.push(c);
            }
        }
    }
    flush_tok(&mut tok, &mut in_tok, &mut tokens);
    if in_quote {
        diags.error(
            file,
            Some(entry_line),
            None,
            "",
            "unterminated quoted string",
        );
    } else if depth > 0 {
        diags.error(
            file,
            Some(paren_line),
            None,
            "",
            "unbalanced '(': no closing ')'",
        );
    } else if !tokens.is_empty() {
        out.push(Entry {
            file: file.to_path_buf(),
            line: entry_line,
            blank_owner,
            tokens,
        });
    }
    out
}

fn is_ttl(tok: &str) -> bool {
    let b = tok.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_digit()
        && b.iter()
            .all(|c| c.is_ascii_digit() || b"smhdwSMHDW".contains(c))
}

fn is_class(tok: &str) -> bool {
    let u = tok.to_ascii_uppercase();
    matches!(u.as_str(), "IN" | "CH" | "CS" | "HS" | "NONE" | "ANY")
        || (u.starts_with("CLASS") && u[5..].parse::<u16>().is_ok())
}

/// hickory's TTL syntax (plain seconds or `1h30m`-style units).
fn parse_ttl(tok: &str) -> Option<u32> {
    if let Ok(v) = tok.parse::<u32>() {
        return Some(v);
    }
    let mut total: u64 = 0;
    let mut cur: u64 = 0;
    let mut seen_digit = false;
    for c in tok.chars() {
        if let Some(d) = c.to_digit(10) {
            cur = cur.checked_mul(10)?.checked_add(d as u64)?;
            seen_digit = true;
        } else {
            if !seen_digit {
                return None;
            }
            let mult = match c.to_ascii_lowercase() {
                's' => 1,
                'm' => 60,
                'h' => 3600,
                'd' => 86400,
                'w' => 604800,
                _ => return None,
            };
            total = total.checked_add(cur.checked_mul(mult)?)?;
            cur = 0;
            seen_digit = false;
        }
    }
    total = total.checked_add(cur)?;
    u32::try_from(total).ok().filter(|&v| v <= i32::MAX as u32)
}

/// A record as parsed, before it is grouped into RRsets.
struct Parsed {
    line: u32,
    file: PathBuf,
    owner: Box<[u8]>,
    rtype: u16,
    ttl: u32,
    rdata: Rdata,
    target: Option<Box<[u8]>>,
    soa_minimum: Option<u32>,
    serial: Option<u32>,
}

struct FileState<'a> {
    opts: &'a LoadOptions,
    origin: Name,
    default_ttl: Option<u32>,
    last_ttl: Option<u32>,
    last_owner: Option<Name>,
    soa_min: Option<u32>,
    /// Every `$INCLUDE`d file, read or not (a missing one may appear).
    included: Vec<PathBuf>,
}

/// Parse one zone from `text` (read from `path`). Returns `None` and reports
/// into `diags` when the zone has any error.
pub fn load_zone_file(
    path: &Path,
    text: &str,
    origin: &Name,
    opts: &LoadOptions,
    diags: &mut Diagnostics,
) -> Option<Zone> {
    load_zone_file_with_includes(path, text, origin, opts, diags).0
}

/// [`load_zone_file`], also returning every file `$INCLUDE`d on the way
/// (as named after joining the including file's directory; read or not),
/// so a reload can watch them.
pub fn load_zone_file_with_includes(
    path: &Path,
    text: &str,
    origin: &Name,
    opts: &LoadOptions,
    diags: &mut Diagnostics,
) -> (Option<Zone>, Vec<PathBuf>) {
    let before = diags.len();
    let mut origin = origin.clone();
    origin.set_fqdn(true);
    let mut st = FileState {
        opts,
        origin: origin.clone(),
        default_ttl: None,
        last_ttl: None,
        last_owner: None,
        soa_min: None,
        included: Vec::new(),
    };
    let mut records = Vec::new();
    parse_file(path, text, &mut st, 0, &mut records, diags);
    let included = std::mem::take(&mut st.included);
    let zone = build_zone(path, &origin, records, diags);
    (if diags.len() > before { None } else { zone }, included)
}

fn parse_file(
    path: &Path,
    text: &str,
    st: &mut FileState<'_>,
    depth: usize,
    out: &mut Vec<Parsed>,
    diags: &mut Diagnostics,
) {
    for entry in split_entries(path, text, diags) {
        let first = entry.tokens[0].as_str();
        if !entry.blank_owner && first.starts_with('$') {
            directive(&entry, st, depth, out, diags);
            continue;
        }
        if let Some(p) = parse_record(&entry, st, diags) {
            out.push(p);
        }
    }
}

fn directive(
    entry: &Entry,
    st: &mut FileState<'_>,
    depth: usize,
    out: &mut Vec<Parsed>,
    diags: &mut Diagnostics,
) {
    let (file, line) = (&entry.file, Some(entry.line));
    let name = entry.tokens[0].to_ascii_uppercase();
    let arg = entry.tokens.get(1).map(String::as_str);
    match (name.as_str(), arg) {
        ("$ORIGIN", Some(a)) if entry.tokens.len() == 2 => match Name::parse(a, Some(&st.origin)) {
            Ok(mut n) => {
                n.set_fqdn(true);
                st.origin = n;
            }
            Err(e) => diags.error(file, line, None, "", format!("bad $ORIGIN {a:?}: {e}")),
        },
        ("$TTL", Some(a)) if entry.tokens.len() == 2 => match parse_ttl(a) {
            Some(t) => st.default_ttl = Some(t),
            None => diags.error(file, line, None, "", format!("bad $TTL value {a:?}")),
        },
        ("$INCLUDE", Some(a)) if entry.tokens.len() <= 3 => {
            include(entry, a, st, depth, out, diags);
        }
        ("$GENERATE", _) => diags.error(file, line, None, "", "$GENERATE is not supported"),
        _ => diags.error(
            file,
            line,
            None,
            "",
            format!(
                "unknown or malformed directive {:?}",
                entry.tokens.join(" ")
            ),
        ),
    }
}

fn include(
    entry: &Entry,
    arg: &str,
    st: &mut FileState<'_>,
    depth: usize,
    out: &mut Vec<Parsed>,
    diags: &mut Diagnostics,
) {
    let (file, line) = (&entry.file, Some(entry.line));
    let Some(root) = &st.opts.include_root else {
        diags.error(file, line, None, "", "$INCLUDE is disabled");
        return;
    };
    if depth >= MAX_INCLUDE_DEPTH {
        diags.error(file, line, None, "", "$INCLUDE nested too deeply");
        return;
    }
    let arg = arg.trim_matches('"');
    let base = file.parent().unwrap_or(Path::new("."));
    let target = base.join(arg);
    st.included.push(target.clone());
    let (canon, root_canon) = match (target.canonicalize(), root.canonicalize()) {
        (Ok(c), Ok(r)) => (c, r),
        (Err(e), _) | (_, Err(e)) => {
            diags.error(file, line, None, "", format!("$INCLUDE {arg:?}: {e}"));
            return;
        }
    };
    if !canon.starts_with(&root_canon) {
        diags.error(
            file,
            line,
            None,
            "",
            format!(
                "$INCLUDE {arg:?} is outside the zones directory {}",
                root.display()
            ),
        );
        return;
    }
    let text = match std::fs::read_to_string(&canon) {
        Ok(t) => t,
        Err(e) => {
            diags.error(file, line, None, "", format!("$INCLUDE {arg:?}: {e}"));
            return;
        }
    };
    // RFC 1035 §5.1: an origin argument applies inside the included file
    // only; the including file's origin is restored afterwards.
    let saved_origin = st.origin.clone();
    if let Some(o) = entry.tokens.get(2) {
        match Name::parse(o, Some(&st.origin)) {
            Ok(mut n) => {
                n.set_fqdn(true);
                st.origin = n;
            }
            Err(e) => {
                diags.error(
                    file,
                    line,
                    None,
                    "",
                    format!("bad $INCLUDE origin {o:?}: {e}"),
                );
                return;
            }
        }
    }
    parse_file(&target, &text, st, depth + 1, out, diags);
    st.origin = saved_origin;
}

fn parse_record(entry: &Entry, st: &mut FileState<'_>, diags: &mut Diagnostics) -> Option<Parsed> {
    let (file, line) = (&entry.file, Some(entry.line));
    let mut toks = entry.tokens.iter().map(String::as_str).peekable();
    // A blank owner field repeats the previous record's owner.
    let owner_tok = if entry.blank_owner {
        None
    } else {
        Some(toks.next()?)
    };
    let mut ttl: Option<u32> = None;
    let mut rtype: Option<&str> = None;
    for t in toks.by_ref() {
        if is_ttl(t) && ttl.is_none() {
            match parse_ttl(t) {
                Some(v) => ttl = Some(v),
                None => {
                    diags.error(file, line, None, "", format!("bad TTL {t:?}"));
                    return None;
                }
            }
        } else if is_class(t) {
            if !t.eq_ignore_ascii_case("IN") {
                diags.error(
                    file,
                    line,
                    None,
                    "",
                    format!("class {t} is not supported; only IN"),
                );
                return None;
            }
        } else {
            rtype = Some(t);
            break;
        }
    }
    let Some(rtype_text) = rtype else {
        diags.error(file, line, None, "", "record has no type");
        return None;
    };
    let rdata: Vec<&str> = toks.collect();
    let explicit = ttl.is_some();
    let ttl = match ttl.or(st.default_ttl).or(st.last_ttl).or(st.soa_min) {
        Some(t) => t,
        None if rtype_text.eq_ignore_ascii_case("SOA") => 0, // fixed below from MINIMUM
        None => {
            diags.error(
                file,
                line,
                None,
                "",
                "no TTL given and no $TTL before this record",
            );
            return None;
        }
    };
    let owner = match owner_tok {
        None => match &st.last_owner {
            Some(o) => o.clone(),
            None => {
                diags.error(
                    file,
                    line,
                    None,
                    "",
                    "record has no owner name and none precedes it",
                );
                return None;
            }
        },
        Some(t) => match parse_name(t, &st.origin) {
            Ok(n) => n,
            Err(e) => {
                diags.error(file, line, None, "", format!("bad owner name {t:?}: {e}"));
                return None;
            }
        },
    };
    let data = match parse_rdata(rtype_text, &rdata, &st.origin) {
        Ok(d) => d,
        Err(e) => {
            diags.error(file, line, None, "", format!("{rtype_text} record: {e}"));
            return None;
        }
    };
    let record = Record::from_rdata(owner, ttl, data);
    let mut record = record;
    if explicit {
        st.last_ttl = Some(ttl);
    }
    let mut soa_minimum = None;
    let mut serial = None;
    if let RData::SOA(soa) = &record.data {
        soa_minimum = Some(soa.minimum);
        serial = Some(soa.serial);
        if !explicit && st.default_ttl.is_none() && st.last_ttl.is_none() {
            // RFC 1035 behaviour BIND keeps: without $TTL, the SOA's TTL
            // defaults to its MINIMUM, and so do the records that follow.
            record.ttl = soa.minimum;
            st.soa_min = Some(soa.minimum);
        }
    }
    st.last_owner = Some(record.name.clone());
    let (rdata, target) = match encode_rdata(&record.data) {
        Ok(v) => v,
        Err(msg) => {
            diags.error(file, line, None, "", msg);
            return None;
        }
    };
    Some(Parsed {
        line: entry.line,
        file: entry.file.clone(),
        owner: to_wire_lower(&record.name),
        rtype: u16::from(record.record_type()),
        ttl: record.ttl,
        rdata,
        target,
        soa_minimum,
        serial,
    })
}

/// Wire-encode RDATA once; names inside RFC 1035 types are marked as
/// compressible and their targets kept for chasing and additional data.
/// The one owner-name parser lives in [`super::name`].
pub use super::name::parse_owner as parse_name;

fn parse_u16(tok: &str, what: &str) -> Result<u16, String> {
    tok.parse()
        .map_err(|_| format!("{what} must be 0..=65535, got {tok:?}"))
}

/// RDATA from its tokens. The types that hold domain names are parsed
/// here with [`parse_name`]; every other type goes to hickory's parser.
fn parse_rdata(rtype_text: &str, toks: &[&str], origin: &Name) -> Result<RData, String> {
    use hickory_proto::rr::rdata::{CNAME, MX, NS, PTR, SOA, SRV};
    let upper = rtype_text.to_ascii_uppercase();
    let want = |n: usize| -> Result<(), String> {
        if toks.len() == n {
            Ok(())
        } else {
            Err(format!("expected {n} field(s), got {}", toks.len()))
        }
    };
    let name = |t: &str| parse_name(t, origin).map_err(|e| format!("bad name {t:?}: {e}"));
    Ok(match upper.as_str() {
        "NS" => {
            want(1)?;
            RData::NS(NS(name(toks[0])?))
        }
        "CNAME" => {
            want(1)?;
            RData::CNAME(CNAME(name(toks[0])?))
        }
        "PTR" => {
            want(1)?;
            RData::PTR(PTR(name(toks[0])?))
        }
        "MX" => {
            want(2)?;
            RData::MX(MX::new(parse_u16(toks[0], "preference")?, name(toks[1])?))
        }
        "SRV" => {
            want(4)?;
            RData::SRV(SRV::new(
                parse_u16(toks[0], "priority")?,
                parse_u16(toks[1], "weight")?,
                parse_u16(toks[2], "port")?,
                name(toks[3])?,
            ))
        }
        "SOA" => {
            want(7)?;
            let serial: u32 = toks[2]
                .parse()
                .map_err(|_| format!("serial must be 0..=4294967295, got {:?}", toks[2]))?;
            let t = |i: usize, what: &str| -> Result<u32, String> {
                parse_ttl(toks[i]).ok_or_else(|| format!("bad {what} {:?}", toks[i]))
            };
            RData::SOA(SOA::new(
                name(toks[0])?,
                name(toks[1])?,
                serial,
                t(3, "refresh")? as i32,
                t(4, "retry")? as i32,
                t(5, "expire")? as i32,
                t(6, "minimum")?,
            ))
        }
        _ => {
            // hickory parses the rest; "@" stands in for the owner, which
            // we resolved ourselves.
            let snippet = format!(
                "$ORIGIN {}\n@ 0 IN {} {}\n",
                origin.to_ascii(),
                rtype_text,
                toks.join(" ")
            );
            let (_, sets) = Parser::new(snippet, None, Some(origin.clone()))
                .parse()
                .map_err(|e| e.to_string())?;
            sets.into_values()
                .find_map(|s| s.records_without_rrsigs().next().map(|r| r.data.clone()))
                .ok_or_else(|| "record could not be parsed".to_string())?
        }
    })
}

/// Encoded RDATA and the name it points at, if any.
type Encoded = (Rdata, Option<Box<[u8]>>);

fn encode_rdata(data: &RData) -> Result<Encoded, String> {
    let single = |n: &Name, prefix: &[u8]| {
        let mut wire = prefix.to_vec();
        let start = wire.len() as u16;
        let nw = to_wire(n);
        wire.extend_from_slice(&nw);
        (
            Rdata {
                wire: wire.into_boxed_slice(),
                names: vec![(start, nw.len() as u16)].into_boxed_slice(),
            },
            Some(to_wire_lower(n)),
        )
    };
    Ok(match data {
        RData::NS(n) => single(&n.0, &[]),
        RData::CNAME(n) => single(&n.0, &[]),
        RData::PTR(n) => single(&n.0, &[]),
        RData::MX(mx) => single(&mx.exchange, &mx.preference.to_be_bytes()),
        RData::SOA(soa) => {
            let m = to_wire(&soa.mname);
            let r = to_wire(&soa.rname);
            let mut wire = Vec::with_capacity(m.len() + r.len() + 20);
            wire.extend_from_slice(&m);
            wire.extend_from_slice(&r);
            for v in [
                soa.serial,
                soa.refresh as u32,
                soa.retry as u32,
                soa.expire as u32,
                soa.minimum,
            ] {
                wire.extend_from_slice(&v.to_be_bytes());
            }
            (
                Rdata {
                    wire: wire.into_boxed_slice(),
                    names: vec![(0, m.len() as u16), (m.len() as u16, r.len() as u16)]
                        .into_boxed_slice(),
                },
                None,
            )
        }
        other => {
            if other.record_type() == RecordType::Unknown(rtype::DNAME) {
                return Err("DNAME records are not supported".into());
            }
            let mut buf = Vec::new();
            let mut enc = BinEncoder::new(&mut buf);
            enc.set_name_encoding(NameEncoding::Uncompressed);
            other
                .emit(&mut enc)
                .map_err(|e| format!("cannot encode {} record: {e}", other.record_type()))?;
            if buf.len() > u16::MAX as usize {
                return Err("RDATA longer than 65535 octets".into());
            }
            let target = match other {
                RData::SRV(srv) => Some(to_wire_lower(&srv.target)),
                _ => None,
            };
            (
                Rdata {
                    wire: buf.into_boxed_slice(),
                    names: Box::new([]),
                },
                target,
            )
        }
    })
}

/// Group records into RRsets and check the zone-level rules.
fn build_zone(
    path: &Path,
    origin: &Name,
    records: Vec<Parsed>,
    diags: &mut Diagnostics,
) -> Option<Zone> {
    let origin_wire = to_wire_lower(origin);
    // Zone-level errors (no SOA, no NS) point at the first record, where the
    // SOA belongs (RFC 1035 §5.2), or line 1 of an empty file.
    let zone_line = records
        .iter()
        .find(|r| r.file == path)
        .map_or(1, |r| r.line);
    let mut zone = Zone {
        origin: origin.clone(),
        origin_wire: origin_wire.clone(),
        file: path.to_path_buf(),
        nodes: FxHashMap::default(),
        neg_ttl: 0,
        serial: 0,
        index: 0,
    };
    zone.nodes.insert(origin_wire.clone(), Node::default());

    // (owner, type) → records in file order.
    type Key = (Box<[u8]>, u16);
    let mut sets: Vec<(Key, Vec<Parsed>)> = Vec::new();
    let mut index: HashMap<Key, usize> = HashMap::new();
    for p in records {
        let in_zone = p.owner.len() >= origin_wire.len()
            && p.owner.ends_with(&origin_wire)
            && is_label_boundary(&p.owner, p.owner.len() - origin_wire.len());
        if !in_zone {
            diags.error(
                &p.file,
                Some(p.line),
                None,
                "",
                format!(
                    "record owner {} is outside the zone {}",
                    super::name::display(&p.owner),
                    origin.to_ascii()
                ),
            );
            continue;
        }
        if p.rtype == rtype::SOA && p.owner != origin_wire {
            diags.error(
                &p.file,
                Some(p.line),
                None,
                "",
                "SOA record is only allowed at the zone apex",
            );
            continue;
        }
        let key = (p.owner.clone(), p.rtype);
        match index.get(&key) {
            Some(&i) => sets[i].1.push(p),
            None => {
                index.insert(key.clone(), sets.len());
                sets.push((key, vec![p]));
            }
        }
    }

    // CNAME exclusivity (RFC 1034 §3.6.2, RFC 2181 §10.1).
    type Seen = (u16, u32, PathBuf);
    let mut types_at: HashMap<Box<[u8]>, Vec<Seen>> = HashMap::new();
    for ((owner, t), recs) in &sets {
        types_at
            .entry(owner.clone())
            .or_default()
            .push((*t, recs[0].line, recs[0].file.clone()));
    }
    for ((owner, t), recs) in &sets {
        if *t != rtype::CNAME {
            continue;
        }
        let name = super::name::display(owner);
        if recs.len() > 1 {
            diags.error(
                &recs[1].file,
                Some(recs[1].line),
                None,
                "",
                format!("{name} has more than one CNAME record"),
            );
        }
        for (ot, line, file) in &types_at[owner] {
            if *ot != rtype::CNAME && *ot != rtype::RRSIG && *ot != rtype::NSEC {
                let (l, f) = if *line > recs[0].line {
                    (*line, file.clone())
                } else {
                    (recs[0].line, recs[0].file.clone())
                };
                diags.error(
                    &f,
                    Some(l),
                    None,
                    "",
                    format!(
                        "{name} has a CNAME beside other data ({})",
                        RecordType::from(*ot)
                    ),
                );
            }
        }
    }

    let mut soa_min = None;
    for ((owner, t), mut recs) in sets {
        // Same data twice is one record (RFC 2181 §5); differing TTLs in
        // one RRset are an error there, so we serve the lowest and say so.
        let ttl = recs.iter().map(|r| r.ttl).min().unwrap_or(0);
        if recs.iter().any(|r| r.ttl != ttl) {
            tracing::warn!(
                file = %path.display(),
                line = recs[0].line,
                "RRset {} {} has differing TTLs; serving the lowest, {ttl}",
                super::name::display(&owner),
                RecordType::from(t)
            );
        }
        let mut seen: Vec<Box<[u8]>> = Vec::new();
        recs.retain(|r| {
            if seen.contains(&r.rdata.wire) {
                false
            } else {
                seen.push(r.rdata.wire.clone());
                true
            }
        });
        if t == rtype::SOA {
            if recs.len() > 1 {
                diags.error(
                    &recs[1].file,
                    Some(recs[1].line),
                    None,
                    "",
                    "more than one SOA record",
                );
            }
            soa_min = recs[0].soa_minimum;
            zone.serial = recs[0].serial.unwrap_or(0);
        }
        let targets: Vec<Box<[u8]>> = recs.iter().filter_map(|r| r.target.clone()).collect();
        let rrset = Rrset {
            rtype: t,
            ttl,
            rdatas: recs.into_iter().map(|r| r.rdata).collect(),
            targets: targets.into_boxed_slice(),
        };
        let node = zone.ensure_node(&owner);
        node.rrsets.push(rrset);
    }
    for node in zone.nodes.values_mut() {
        node.rrsets.sort_by_key(|r| r.rtype);
    }
    let apex = &zone.nodes[&origin_wire];
    let Some(soa) = apex.rrset(rtype::SOA) else {
        diags.error(
            path,
            Some(zone_line),
            None,
            "",
            format!(
                "zone {} has no SOA record at its apex (expected as the first record)",
                origin.to_ascii()
            ),
        );
        return None;
    };
    zone.neg_ttl = soa.ttl.min(soa_min.unwrap_or(soa.ttl));
    if apex.rrset(rtype::NS).is_none() {
        diags.error(
            path,
            Some(zone_line),
            None,
            "",
            format!("zone {} has no NS records at its apex", origin.to_ascii()),
        );
        return None;
    }
    let cuts: Vec<Box<[u8]>> = zone
        .nodes
        .iter()
        .filter(|(k, n)| **k != origin_wire && n.rrset(rtype::NS).is_some())
        .map(|(k, _)| k.clone())
        .collect();
    for k in cuts {
        if let Some(n) = zone.nodes.get_mut(&k) {
            n.cut = true;
        }
    }
    Some(zone)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> (Option<Zone>, Diagnostics) {
        let mut d = Diagnostics::new();
        let z = load_zone_file(
            Path::new("t.zone"),
            text,
            &Name::from_ascii("example.test.").unwrap(),
            &LoadOptions { include_root: None },
            &mut d,
        );
        (z, d)
    }

    const HEAD: &str = "$TTL 300\n@ IN SOA ns1 hostmaster ( 1 7200 3600 1209600 60 )\n  IN NS ns1\nns1 IN A 192.0.2.53\n";

    #[test]
    fn loads_a_simple_zone_with_ents() {
        let (z, d) = load(&format!("{HEAD}a.b.c 60 IN TXT \"hi there\"\n"));
        assert!(d.is_empty(), "{d}");
        let z = z.unwrap();
        assert_eq!(z.neg_ttl, 60);
        assert!(
            z.node(b"\x01b\x01c\x07example\x04test\x00")
                .unwrap()
                .is_empty()
        );
        let n = z.node(b"\x01a\x01b\x01c\x07example\x04test\x00").unwrap();
        assert_eq!(n.rrset(rtype::TXT).unwrap().ttl, 60);
    }

    #[test]
    fn errors_carry_lines() {
        let text = format!(
            "{HEAD}www IN CNAME x\nwww IN A 192.0.2.1\nout.example.org. IN A 192.0.2.2\nbad IN A 999.1.1.1\n"
        );
        let (z, d) = load(&text);
        assert!(z.is_none());
        let s = d.to_string();
        assert!(
            s.contains("t.zone:6: www.example.test. has a CNAME beside other data (A)"),
            "{s}"
        );
        assert!(
            s.contains("t.zone:7: record owner out.example.org. is outside the zone example.test."),
            "{s}"
        );
        assert!(s.contains("t.zone:8: A record:"), "{s}");
    }

    #[test]
    fn missing_soa_is_an_error() {
        let (z, d) = load("$TTL 1\n@ IN NS ns1\n");
        assert!(z.is_none());
        assert!(d.to_string().contains("no SOA"), "{d}");
    }

    #[test]
    fn blank_owner_and_multiline_records() {
        let (z, d) = load(&format!(
            "{HEAD}mx IN MX 10 mail ; comment\n   IN TXT ( \"a;b\"\n  \"c\" )\n"
        ));
        assert!(d.is_empty(), "{d}");
        let z = z.unwrap();
        let n = z.node(b"\x02mx\x07example\x04test\x00").unwrap();
        assert!(n.rrset(rtype::MX).is_some());
        assert_eq!(
            &*n.rrset(rtype::TXT).unwrap().rdatas[0].wire,
            b"\x03a;b\x01c"
        );
    }

    #[test]
    fn underscores_anywhere_in_labels_like_bind() {
        let (z, d) = load(&format!(
            "{HEAD}my_host IN A 192.0.2.7\nalias IN CNAME my_host\n_sip._udp IN SRV 0 0 5060 my_host\n"
        ));
        assert!(d.is_empty(), "{d}");
        let z = z.unwrap();
        assert!(z.node(b"\x07my_host\x07example\x04test\x00").is_some());
        let alias = z.node(b"\x05alias\x07example\x04test\x00").unwrap();
        let cname = alias.rrset(rtype::CNAME).unwrap();
        assert_eq!(&*cname.targets[0], b"\x07my_host\x07example\x04test\x00");
    }

    #[test]
    fn include_is_confined_to_the_zones_directory() {
        let root = std::env::temp_dir().join(format!("dnslb-inc-{}", std::process::id()));
        let zones = root.join("zones");
        std::fs::create_dir_all(&zones).unwrap();
        std::fs::write(zones.join("extra.inc"), "extra IN A 192.0.2.9\n").unwrap();
        std::fs::write(root.join("secret.inc"), "x IN A 192.0.2.10\n").unwrap();
        let path = zones.join("example.test.zone");
        let opts = LoadOptions {
            include_root: Some(zones.clone()),
        };
        let origin = Name::from_ascii("example.test.").unwrap();

        let mut d = Diagnostics::new();
        let (z, included) = load_zone_file_with_includes(
            &path,
            &format!("{HEAD}$INCLUDE extra.inc\n$INCLUDE missing.inc\n"),
            &origin,
            &opts,
            &mut d,
        );
        // A missing include is an error, and still a file to watch.
        assert_eq!(
            included,
            [zones.join("extra.inc"), zones.join("missing.inc")]
        );
        assert!(z.is_none() && d.len() == 1, "{d}");
        let mut d = Diagnostics::new();
        let z = load_zone_file(
            &path,
            &format!("{HEAD}$INCLUDE extra.inc\n"),
            &origin,
            &opts,
            &mut d,
        );
        assert!(d.is_empty(), "{d}");
        assert!(
            z.unwrap()
                .node(b"\x05extra\x07example\x04test\x00")
                .is_some()
        );

        let mut d = Diagnostics::new();
        let z = load_zone_file(
            &path,
            &format!("{HEAD}$INCLUDE ../secret.inc\n"),
            &origin,
            &opts,
            &mut d,
        );
        assert!(z.is_none());
        assert!(
            d.to_string().contains(
                "example.test.zone:5: $INCLUDE \"../secret.inc\" is outside the zones directory"
            ),
            "{d}"
        );
        let _ = std::fs::remove_dir_all(root);
    }

    #[test]
    fn include_refused_without_root() {
        let (z, d) = load(&format!("{HEAD}$INCLUDE other.inc\n"));
        assert!(z.is_none());
        assert!(
            d.to_string().contains("t.zone:5: $INCLUDE is disabled"),
            "{d}"
        );
    }
}
