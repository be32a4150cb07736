//! `dnslb geoip build|lookup`, the example database in the quickstart, a
//! broken `geoip_database`, and a real public database.
//!
//! The real-data test reads the CC0 country database that `.ci/run`
//! fetches from the npm registry (`@ip-location-db/geo-whois-asn-country-mmdb`)
//! into `target/geoip-data/`. It only looks addresses up; nothing is sent
//! to them.

use std::path::{Path, PathBuf};
use std::process::Command;

use dnslb::geoip::{Continent, Country, GeoDb};

use crate::harness::{DNSLB, Setup, TempDir, TestServer, repo_root};

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn dnslb(args: &[&str], cwd: &Path) -> Out {
    let o = Command::new(DNSLB)
        .args(args)
        .current_dir(cwd)
        .env("RUST_LOG", "info")
        .output()
        .expect("run dnslb");
    Out {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

#[test]
fn lookup_prints_location_and_network_of_the_example_database() {
    let root = repo_root();
    // default database: geoip/example.mmdb; IPv4-mapped answers as IPv4
    let o = dnslb(&["geoip", "lookup", "::ffff:198.51.100.7"], &root);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    for want in [
        "address      ::ffff:198.51.100.7\n",
        "network      198.51.100.0/25\n",
        "continent    EU (Europe)\n",
        "country      GB (",
        "subdivision  GB-ENG (England)\n",
        "city         London\n",
        "coordinates  51.5074, -0.1278\n",
        "database     geoip/example.mmdb (dnslb-Example-City, GeoIP2 schema)\n",
    ] {
        assert!(o.stdout.contains(want), "no {want:?} in\n{}", o.stdout);
    }
    let o = dnslb(&["geoip", "lookup", "2001:db8:2000::1"], &root);
    assert_eq!(o.code, 0);
    assert!(
        o.stdout.contains("network      2001:db8:2000::/36\n"),
        "{}",
        o.stdout
    );
    assert!(o.stdout.contains("continent    SA"), "{}", o.stdout);
    // unknown: exit 1, like grep
    let o = dnslb(&["geoip", "lookup", "127.0.0.1"], &root);
    assert_eq!(o.code, 1, "{}", o.stdout);
    assert!(o.stdout.contains("location     unknown"), "{}", o.stdout);
    // not an address: clap's usage error
    let o = dnslb(&["geoip", "lookup", "example.test"], &root);
    assert_eq!(o.code, 2, "{}", o.stderr);
    // a missing database names the path
    let o = dnslb(
        &["geoip", "lookup", "192.0.2.1", "--db", "nope.mmdb"],
        &root,
    );
    assert_eq!(o.code, 1);
    assert!(
        o.stderr
            .contains("cannot open GeoIP database \"nope.mmdb\""),
        "{}",
        o.stderr
    );
}

/// Build a database from source, look it up through `--db` and through a
/// config's `geoip_database`, and serve with it.
#[test]
fn build_then_lookup_and_serve() {
    let dir = TempDir::new("geoip-build");
    let src = dir.path().join("nets.toml");
    std::fs::write(
        &src,
        r#"schema = "ip-location-db-city"
networks = [
  { net = "192.0.2.0/24", country = "FR", subdivision = "FR-IDF", city = "Paris", lat = 48.8566, lon = 2.3522 },
  { net = "2001:db8::/48", country = "KE" },
]
"#,
    )
    .unwrap();
    let o = dnslb(&["geoip", "build", "nets.toml", "nets.mmdb"], dir.path());
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    assert!(
        o.stdout
            .starts_with("wrote nets.mmdb: 2 networks, schema ip-location-db-city"),
        "{}",
        o.stdout
    );
    let o = dnslb(
        &["geoip", "lookup", "192.0.2.9", "--db", "nets.mmdb"],
        dir.path(),
    );
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    // ip-location-db has no continent: derived from the country
    assert!(
        o.stdout.contains("continent    EU (Europe)\n"),
        "{}",
        o.stdout
    );
    assert!(o.stdout.contains("city         Paris\n"), "{}", o.stdout);
    assert!(o.stdout.contains("ip-location-db schema"), "{}", o.stdout);

    // through a config file (paths relative to it)
    let setup = Setup::new(
        "geoip-serve",
        &[("example.test", crate::fixtures::EXAMPLE_TEST)],
        &format!("geoip_database = {:?}", dir.path().join("nets.mmdb")),
    );
    let cfg = setup.config();
    let o = dnslb(
        &[
            "geoip",
            "lookup",
            "2001:db8::1",
            "--config",
            cfg.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    assert!(
        o.stdout.contains("continent    AF (Africa)\n"),
        "{}",
        o.stdout
    );
    let srv = setup.serve();
    assert!(
        srv.startup_log.iter().any(|l| l.contains("loaded")
            && l.contains("nets.mmdb (city ipvAll, ip-location-db schema)")),
        "{:#?}",
        srv.startup_log
    );

    // a broken source: every error, FILE:LINE:COL, nothing written
    std::fs::write(
        dir.path().join("bad.toml"),
        "networks = [\n  { net = \"192.0.2.0/24\", country = \"QQ\" },\n  { net = \"10.0.0.1/8\", country = \"US\" },\n]\n",
    )
    .unwrap();
    let o = dnslb(&["geoip", "build", "bad.toml", "bad.mmdb"], dir.path());
    assert_eq!(o.code, 1);
    assert!(
        o.stderr.contains(
            "bad.toml:2:37: networks[0].country: \"QQ\" is not an ISO 3166-1 alpha-2 country code"
        ),
        "{}",
        o.stderr
    );
    assert!(
        o.stderr.contains("bad.toml:3:11: networks[1].net:"),
        "{}",
        o.stderr
    );
    assert!(
        o.stderr.contains("2 error(s); nothing written"),
        "{}",
        o.stderr
    );
    assert!(!dir.path().join("bad.mmdb").exists());
}

/// `cargo run` with no arguments loads the example database, offline.
#[test]
fn quickstart_loads_the_example_database() {
    let srv = TestServer::start(
        &["serve".into(), "--listen".into(), "127.0.0.1:0".into()],
        Some(&repo_root()),
    );
    assert!(
        srv.startup_log.iter().any(|l| l.contains("loaded")
            && l.contains("geoip=geoip/example.mmdb (dnslb-Example-City, GeoIP2 schema)")),
        "{:#?}",
        srv.startup_log
    );
}

/// A configured database that cannot be used stops start-up (even with
/// allow_partial_zones) with the config's FILE:LINE and the path quoted.
#[test]
fn a_bad_geoip_database_refuses_to_start() {
    let dir = TempDir::new("geoip-bad");
    let junk = dir.path().join("junk.mmdb");
    std::fs::write(&junk, b"this is not a MaxMind DB").unwrap();
    for (what, path) in [("missing", dir.path().join("missing.mmdb")), ("junk", junk)] {
        let setup = Setup::new(
            "geoip-bad",
            &[("example.test", crate::fixtures::EXAMPLE_TEST)],
            &format!("allow_partial_zones = true\ngeoip_database = {path:?}"),
        );
        let (status, stderr) = setup.serve_expecting_failure();
        assert!(!status.success(), "{what}");
        let want = format!(
            "dnslb.toml:3:18: geoip_database: cannot open GeoIP database \"{}\"",
            path.display()
        );
        assert!(stderr.contains(&want), "{what}: no {want:?} in\n{stderr}");
        let o = setup.check();
        assert!(!o.status.success(), "{what}: check passed");
        assert!(o.stderr.contains(&want), "{what}: {}", o.stderr);
    }
}

/// Where `.ci/run` puts the real database.
fn real_db() -> PathBuf {
    repo_root().join("target/geoip-data/geo-whois-asn-country.mmdb")
}

/// A real public database (CC0, ip-location-db's country schema, with no
/// `::ffff:0:0/96` alias: IPv4-mapped lookups work only because we
/// normalise). Fails, not skips, when the file is missing.
#[test]
#[ignore = "needs target/geoip-data/geo-whois-asn-country.mmdb, fetched by .ci/run"]
fn real_database_locates_well_known_networks() {
    let path = real_db();
    assert!(
        path.is_file(),
        "{} is missing: .ci/run fetches it with `npm pack @ip-location-db/geo-whois-asn-country-mmdb`",
        path.display()
    );
    let db = GeoDb::open(&path).unwrap();
    // a country database: one record per country, all decoded at open
    assert!(
        (200..=300).contains(&db.decoded_records()),
        "{}",
        db.decoded_records()
    );
    assert_eq!(db.schema(), dnslb::geoip::Schema::Flat);
    // Registries' and resolvers' own blocks, which do not move.
    for (addr, country, continent) in [
        ("8.8.8.8", "US", Continent::NA),
        ("::ffff:8.8.8.8", "US", Continent::NA),
        ("1.1.1.1", "AU", Continent::OC),
        ("193.0.6.139", "NL", Continent::EU),
        ("133.1.1.1", "JP", Continent::AS),
        ("200.160.2.3", "BR", Continent::SA),
        ("2001:67c:2e8::1", "NL", Continent::EU),
        ("2001:4860:4860::8888", "US", Continent::NA),
    ] {
        let (l, prefix) = db
            .locate(addr.parse().unwrap())
            .unwrap_or_else(|| panic!("{addr}: not located"));
        assert_eq!(l.country, Country::from_code(country), "{addr}");
        assert_eq!(l.continent, Some(continent), "{addr}");
        let max = if addr.contains(':') && !addr.starts_with("::ffff:") {
            128
        } else {
            32
        };
        assert!((8..=max).contains(&prefix), "{addr}: /{prefix}");
    }
    // mapped and plain agree, prefix in IPv4 terms
    assert_eq!(
        db.locate("::ffff:193.0.6.139".parse().unwrap()),
        db.locate("193.0.6.139".parse().unwrap())
    );
    for private in ["10.1.2.3", "192.168.1.1", "127.0.0.1", "fe80::1", "::1"] {
        assert_eq!(db.locate(private.parse().unwrap()), None, "{private}");
    }
    // and through the command line
    let o = dnslb(
        &[
            "geoip",
            "lookup",
            "193.0.6.139",
            "--db",
            path.to_str().unwrap(),
        ],
        &repo_root(),
    );
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    assert!(
        o.stdout.contains("country      NL (Netherlands"),
        "{}",
        o.stdout
    );
}
