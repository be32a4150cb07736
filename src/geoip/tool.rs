//! The `dnslb geoip build|lookup` commands: what they print and their exit
//! codes. The command line itself is in `cli.rs`; `app` resolves which
//! database `lookup` reads.

use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::Path;

use super::build::{BuildError, build_file};
use super::codes::country_name;
use super::nets::network_around;
use super::{GeoDb, Schema, canonical};

/// The database the quickstart (no `--config`) loads when it exists, and
/// `dnslb geoip lookup`'s default, relative to the working directory.
pub const EXAMPLE_DB: &str = "geoip/example.mmdb";

/// `dnslb geoip build SOURCE OUT`: every source error on stderr as
/// `FILE:LINE:COL: key: message`; exit 0 when written, 1 otherwise.
pub fn build_command(source: &Path, out: &Path) -> i32 {
    match build_file(source, out) {
        Ok(summary) => {
            println!("wrote {}: {summary}", out.display());
            0
        }
        Err(BuildError::Source(errors)) => {
            for e in &errors {
                eprintln!("{e}");
            }
            eprintln!("{} error(s); nothing written", errors.len().max(1));
            1
        }
        Err(e) => {
            eprintln!("dnslb: error: {e}");
            1
        }
    }
}

/// `dnslb geoip lookup IP`: the report for `ip`, and whether the database
/// has a location for it (exit 0) or not (exit 1, like `grep`).
pub fn lookup(db: &GeoDb, ip: IpAddr) -> (String, bool) {
    let key = canonical(ip);
    let (loc, prefix) = db.lookup(ip);
    let mut out = String::new();
    let mut line = |k: &str, v: &dyn std::fmt::Display| {
        let _ = writeln!(out, "{k:<12} {v}");
    };
    line("address", &ip);
    line("network", &network_around(key, prefix));
    match loc {
        None if super::special_purpose(key).is_some() => line(
            "location",
            &"unknown (a private or special-purpose network: dnslb never places it by the database, whatever the database says; map it with a custom network, [geo] nets)",
        ),
        None => line(
            "location",
            &"unknown (the database has no location for this network)",
        ),
        Some(l) => {
            if let Some(c) = l.continent {
                line("continent", &format!("{c} ({})", c.name()));
            }
            if let Some(c) = l.country {
                match country_name(c) {
                    Some(n) => line("country", &format!("{c} ({n})")),
                    None => line("country", &c),
                }
            }
            if let Some(s) = l.subdivision {
                match s.name() {
                    Some(n) => line("subdivision", &format!("{s} ({n})")),
                    None => line("subdivision", &s),
                }
            }
            if let Some(city) = city_name(db, key) {
                line("city", &city);
            }
            if let Some(c) = l.coords {
                line("coordinates", &format!("{}, {}", c.lat, c.lon));
            }
        }
    }
    line("database", db);
    (out, loc.is_some())
}

/// The English city name, for people; the query path never needs it.
fn city_name(db: &GeoDb, ip: IpAddr) -> Option<String> {
    let found = db.reader().lookup(ip).ok()?;
    let name: Option<&str> = match db.schema() {
        Schema::GeoIp2 => found.decode_path(&maxminddb::path!["city", "names", "en"]),
        Schema::Flat => found.decode_path(&maxminddb::path!["city"]),
    }
    .ok()?;
    name.map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_report() {
        let db = GeoDb::open(&Path::new(env!("CARGO_MANIFEST_DIR")).join(EXAMPLE_DB)).unwrap();
        let (text, found) = lookup(&db, "::ffff:198.51.100.200".parse().unwrap());
        assert!(found);
        let want = "address      ::ffff:198.51.100.200
network      198.51.100.192/26
continent    EU (Europe)
country      NL (Netherlands)
subdivision  NL-NH (Noord-Holland)
city         Amsterdam
coordinates  52.3676, 4.9041
";
        assert!(text.starts_with(want), "{text}");
        assert!(text.contains("database     "), "{text}");
        let (text, found) = lookup(&db, "10.1.2.3".parse().unwrap());
        assert!(!found);
        // private: the RFC 1918 block, never located
        assert!(text.contains("network      10.0.0.0/8\n"), "{text}");
        assert!(
            text.contains("location     unknown (a private or special-purpose network"),
            "{text}"
        );
        let (text, found) = lookup(&db, "8.8.8.8".parse().unwrap());
        assert!(!found);
        // nothing in 0.0.0.0/1 at all
        assert!(text.contains("network      0.0.0.0/1\n"), "{text}");
        assert!(
            text.contains("location     unknown (the database has no location"),
            "{text}"
        );
    }
}
