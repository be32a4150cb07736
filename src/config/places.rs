//! Places and networks as the config files write them: CIDR networks,
//! ISO 3166 country and subdivision codes, continent codes, with the one
//! message each for a bad one. Shared by `[geo]` (custom networks, geo
//! rules) and the latency table.

use std::net::IpAddr;

use ipnet::IpNet;

use crate::geoip::codes::{is_country, is_subdivision};
use crate::geoip::{Country, Subdivision};

/// `ADDR/LEN` with no bits set beyond LEN.
pub(crate) fn parse_net(s: &str) -> Result<IpNet, String> {
    match s.parse::<IpNet>() {
        Ok(n) if n.trunc() != n => Err(format!(
            "network {n} has bits set beyond its /{} prefix (did you mean {}?)",
            n.prefix_len(),
            n.trunc()
        )),
        Ok(n) => Ok(n),
        Err(_) => Err(match s.parse::<IpAddr>() {
            Ok(a) => format!(
                "{s:?} is an address, not a network: write {a}/{}",
                if a.is_ipv4() { 32 } else { 128 }
            ),
            Err(_) => format!("{s:?} is not a network (ADDR/LEN, e.g. 10.20.0.0/16)"),
        }),
    }
}

pub(crate) fn country_code(s: &str) -> Option<Country> {
    is_country(s).then(|| Country::from_code(s)).flatten()
}

pub(crate) fn subdivision_code(s: &str) -> Option<Subdivision> {
    is_subdivision(s)
        .then(|| Subdivision::from_code(s))
        .flatten()
}

pub(crate) fn unknown_continent(s: &str) -> String {
    format!("unknown continent code {s:?}, expected AF, AN, AS, EU, NA, OC or SA")
}

pub(crate) fn unknown_country(s: &str) -> String {
    format!("unknown country code {s:?} (ISO 3166-1 alpha-2, e.g. \"US\")")
}

pub(crate) fn unknown_subdivision(s: &str) -> String {
    format!("unknown subdivision code {s:?} (ISO 3166-2 in full, e.g. \"US-CA\")")
}
