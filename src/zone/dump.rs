//! `dnslb zone dump`: what dnslb loaded from a zone file, one RR per line in
//! canonical presentation form, as `named-compilezone -s full` prints it:
//!
//! ```text
//! OWNER TTL IN TYPE RDATA
//! ```
//!
//! Owners are absolute and lowercase (dnslb keeps owners lowercase; RFC
//! 4343 makes the case of an owner insignificant), TTLs explicit, RDATA as
//! BIND 9 prints it (see `present`). Lines are in DNSSEC canonical name
//! order (RFC 4034 §6.1), the SOA first, then types ascending, RRs in the
//! order served.
//! Load-balanced A/AAAA answers come from the policy file and are not
//! part of the dump.

use std::fmt::Write as _;

use super::Zone;
use super::name::push_text;
use super::present::rdata_text;
use super::rdata::type_name;

/// Labels of a lowercase wire name, root first (canonical order key).
fn canonical_key(wire: &[u8]) -> Vec<&[u8]> {
    let mut labels = Vec::new();
    let mut i = 0;
    while i < wire.len() && wire[i] != 0 {
        let len = wire[i] as usize;
        labels.push(&wire[i + 1..i + 1 + len]);
        i += len + 1;
    }
    labels.reverse();
    labels
}

/// The zone's records in presentation form, one per line. `now` (seconds
/// since the epoch) places RRSIG times on the calendar.
pub fn dump(zone: &Zone, now: i64) -> String {
    let mut nodes: Vec<_> = zone.nodes().collect();
    nodes.sort_by_cached_key(|n| canonical_key(n.name()));
    let mut out = String::new();
    for node in nodes {
        let mut name = String::new();
        push_text(node.name(), &mut name);
        // The SOA first, as BIND prints a zone.
        let soa_first = node
            .rrsets()
            .filter(|s| s.rtype() == super::rtype::SOA)
            .chain(node.rrsets().filter(|s| s.rtype() != super::rtype::SOA));
        for set in soa_first {
            let t = set.rtype();
            let tname = type_name(t).map_or_else(|| format!("TYPE{t}"), str::to_string);
            for rd in set.rdatas() {
                let text = rdata_text(t, rd.wire, now).unwrap_or_else(|_| {
                    let mut s = String::new();
                    super::present::generic_text(rd.wire, &mut s);
                    s
                });
                let _ = writeln!(out, "{name} {} IN {tname} {text}", set.ttl());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Diagnostics;
    use crate::zone::{LoadOptions, load_zone_file};
    use hickory_proto::rr::Name;
    use std::path::Path;

    #[test]
    fn dump_is_canonical_presentation() {
        let text = "$TTL 300\n@ IN SOA ns1 hostmaster 1 7200 3600 1209600 60\n  IN NS ns1\n  IN NS NS1.EXAMPLE.TEST.\nns1 IN A 192.0.2.53\ndec\\101 TXT v=DMARC1\\; \"\\065\\066\"\nh1 HTTPS 1 svc alpn=h2\nZ 10 A 192.0.2.1\nZ 20 A 192.0.2.2\n";
        let mut d = Diagnostics::new();
        let z = load_zone_file(
            Path::new("t.zone"),
            text,
            &Name::from_ascii("example.test.").unwrap(),
            &LoadOptions::default(),
            &mut d,
        )
        .unwrap();
        assert_eq!(
            dump(&z, 0),
            "example.test. 300 IN SOA ns1.example.test. hostmaster.example.test. 1 7200 3600 1209600 60\n\
             example.test. 300 IN NS NS1.EXAMPLE.TEST.\n\
             dece.example.test. 300 IN TXT \"v=DMARC1;\" \"AB\"\n\
             h1.example.test. 300 IN HTTPS 1 svc.example.test. alpn=\"h2\"\n\
             ns1.example.test. 300 IN A 192.0.2.53\n\
             z.example.test. 10 IN A 192.0.2.1\n\
             z.example.test. 10 IN A 192.0.2.2\n"
        );
    }
}
