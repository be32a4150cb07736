//! Entry points of the fuzz targets (`fuzz/`), with the invariants they
//! check, and the regression tests that replay every kept input.
//!
//! - [`respond_one`]: any bytes through the query path as a UDP or TCP
//!   query (the engine with DNS cookies on, then the RRL step): no panic,
//!   and every reply decodes, carries the query's ID with QR set, and fits
//!   the client's buffer (512 bytes without EDNS, the EDNS size capped at
//!   ours, 65,535 over TCP); a slipped reply decodes too.
//! - [`load_one`]: any text as a zone file and as a policy file: no panic,
//!   every error names that file and a line inside it, and a zone that
//!   loads dumps (`zone dump`) to text that loads back to the same dump.
//!
//! A panic is the failure signal, for libFuzzer and for `cargo test` alike.
//! Inputs the fuzzer finds go to `fuzz/regressions/<target>/`, and
//! [`tests`] replays them on every `cargo test`.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::{Arc, OnceLock};

use crate::config::Settings;
use crate::diag::{Diagnostics, Located};
use crate::dns::cookie::{CookieJar, Secrets};
use crate::dns::rrl::{Params, Rrl};
use crate::dns::wire::{Query, parse_query};
use crate::dns::{Transport, Worker};
use crate::snapshot::Snapshot;

/// Our EDNS payload size in the fuzzed snapshot (the default).
const OUR_PAYLOAD: usize = 1232;

struct Fixture {
    snap: Snapshot,
    jar: Arc<CookieJar>,
    rrl: Rrl,
}

/// The shipped `zones/` (static data, every policy, geolocation with the
/// example GeoIP database, a delegation, a wildcard, CNAME chains), cookies with a fixed secret, and an RRL that
/// limits after one response so the slip path runs.
fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let cfg = Settings {
            zones_dir: Located::default_value(root.join("zones")),
            geoip_database: Some(Located::default_value(
                root.join(crate::geoip::tool::EXAMPLE_DB),
            )),
            ..Settings::default()
        };
        let mut d = Diagnostics::new();
        let snap = crate::snapshot::build(&cfg, None, false, &mut d)
            .unwrap_or_else(|| panic!("the shipped zones must load:\n{d}"));
        let jar = Arc::new(CookieJar::new(
            Secrets {
                current: [7; 16],
                previous: Some([8; 16]),
            },
            false,
        ));
        let rrl = Rrl::new(
            Params {
                rates: [1; 5],
                window: 5,
                slip: 1,
                ipv4_prefix: 24,
                ipv6_prefix: 56,
                table_size: 1024,
            },
            1,
        );
        Fixture { snap, jar, rrl }
    })
}

/// Fuzz the query path. `data[0]` picks the transport (bit 0) and whether
/// the cookie jar requires cookies is not varied (the jar is shared); the
/// rest is the packet.
pub fn respond_one(data: &[u8]) {
    let Some((&mode, packet)) = data.split_first() else {
        return;
    };
    let f = fixture();
    let transport = if mode & 1 == 0 {
        Transport::Udp
    } else {
        Transport::Tcp
    };
    let src = SocketAddr::new(IpAddr::from([192, 0, 2, mode]), 5300);
    let mut worker = Worker::new(u64::from(mode)).with_cookies(Some(f.jar.clone()));
    let mut out = Vec::new();
    if !worker.respond(&f.snap, packet, src, transport, &mut out) {
        return;
    }
    let limit = match transport {
        Transport::Tcp => usize::from(u16::MAX),
        Transport::Udp => {
            let mut q = Query::default();
            match parse_query(packet, &mut q).ok().and(q.edns) {
                Some(e) => usize::from(e.udp_size).clamp(512, OUR_PAYLOAD),
                None => 512,
            }
        }
    };
    check_reply(packet, &out, limit, "reply");
    if transport == Transport::Udp {
        let before = out.len();
        let send = f.rrl.apply(
            src.ip(),
            &mut out,
            worker.cookie_valid(),
            u32::from(mode) / 16,
        );
        if send {
            check_reply(packet, &out, before, "slipped reply");
        }
    }
}

fn check_reply(query: &[u8], reply: &[u8], limit: usize, what: &str) {
    assert!(
        reply.len() <= limit,
        "{what} of {} bytes exceeds the client's {limit}",
        reply.len()
    );
    let m = hickory_proto::op::Message::from_vec(reply)
        .unwrap_or_else(|e| panic!("{what} does not decode ({e}): {reply:02x?}"));
    assert_eq!(
        m.metadata.id,
        u16::from_be_bytes([query[0], query[1]]),
        "{what}: wrong id"
    );
    assert_eq!(
        m.metadata.message_type,
        hickory_proto::op::MessageType::Response,
        "{what}: QR clear"
    );
}

/// Fuzz zone and policy file loading: the bytes before the first NUL are
/// a zone file of `fuzz.test.` (read as bytes, as the zone loader reads a
/// file), the rest a policy file (read as UTF-8, lossily, as a file on
/// disk that is not UTF-8 would fail to read).
pub fn load_one(data: &[u8]) {
    let (zone, policy) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let zone_bytes = zone;
    let zone = String::from_utf8_lossy(zone);
    let policy = String::from_utf8_lossy(policy);

    let path = Path::new("fuzz.test.zone");
    let origin = hickory_proto::rr::Name::from_ascii("fuzz.test.").expect("valid origin");
    let opts = crate::zone::LoadOptions::default();
    let mut d = Diagnostics::new();
    let loaded = crate::zone::load_zone_file(path, zone_bytes, &origin, &opts, &mut d);
    check_diags(&d, path, &zone);
    // `zone dump` prints every loaded RR (RFC 3597 generic form where a
    // type's grammar has no text form), and what it prints loads back to
    // the same dump.
    if let Some(z) = loaded {
        let text = crate::zone::dump::dump(&z, 0);
        let mut d = Diagnostics::new();
        let again = crate::zone::load_zone_file(path, text.as_bytes(), &origin, &opts, &mut d)
            .unwrap_or_else(|| panic!("the dump does not load: {d:?}\n{text}"));
        assert_eq!(
            crate::zone::dump::dump(&again, 0),
            text,
            "the dump reloads differently"
        );
    }

    // In a directory that does not exist, so a relative `nets_file` reads
    // nothing of the machine's.
    let path = Path::new("/nonexistent-dnslb-fuzz/fuzz.test.toml");
    let mut targets = crate::health::TargetRegistry::new();
    let mut d = Diagnostics::new();
    let _ = crate::config::load_policy_file(path, &policy, &origin, &mut targets, &mut d);
    check_diags(&d, path, &policy);
}

/// Every error names `path` and a line of `text` (an empty file has line 1),
/// or, for a file `text` names (a policy file's absolute `nets_file`), a
/// line of that file.
fn check_diags(d: &Diagnostics, path: &Path, text: &str) {
    let lines = text.split('\n').count().max(1) as u32;
    for e in d.iter() {
        let line = e
            .line
            .unwrap_or_else(|| panic!("error without a line: {e}"));
        if e.file != path {
            assert!(line >= 1, "error about another file without a line: {e}");
            continue;
        }
        assert!(
            (1..=lines).contains(&line),
            "line {line} outside the file's {lines} lines: {e}"
        );
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    /// Every file kept in `fuzz/regressions/<target>/` (crashes the fuzzer
    /// found, fixed since) and `fuzz/seeds/<target>/`.
    fn inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
        let mut out = Vec::new();
        for dir in ["regressions", "seeds"] {
            let Ok(entries) = std::fs::read_dir(root.join(dir).join(target)) else {
                continue;
            };
            for e in entries.flatten() {
                let p = e.path();
                if p.is_file() {
                    let data = std::fs::read(&p).expect("read a kept input");
                    out.push((p, data));
                }
            }
        }
        out.sort();
        out
    }

    #[test]
    fn respond_regressions_and_seeds_hold() {
        let all = inputs("respond");
        assert!(!all.is_empty(), "no kept inputs for respond");
        for (p, data) in all {
            eprintln!("{}", p.display());
            respond_one(&data);
        }
    }

    #[test]
    fn load_regressions_and_seeds_hold() {
        let all = inputs("load");
        assert!(!all.is_empty(), "no kept inputs for load");
        for (p, data) in all {
            eprintln!("{}", p.display());
            load_one(&data);
        }
    }

    /// The invariants themselves: a reply over the client's limit fails.
    #[test]
    #[should_panic(expected = "exceeds the client's 20")]
    fn an_oversized_reply_fails_the_check() {
        let mut r = vec![0u8; 26];
        r[..3].copy_from_slice(&[0x12, 0x34, 0x80]);
        check_reply(&[0x12, 0x34], &r, 20, "reply");
    }
}
