//! GeoDb against fixtures built from source in every schema dnslb reads,
//! the committed example database, and the builder's error messages.

use std::net::IpAddr;
use std::path::Path;

use super::build::{BuildError, OutputSchema, SCHEMAS, build_bytes};
use super::*;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn cc(s: &str) -> Country {
    Country::from_code(s).unwrap()
}

fn sub(s: &str) -> Subdivision {
    Subdivision::from_code(s).unwrap()
}

/// The same networks in every schema; nested prefixes on purpose.
/// (net, continent, country, subdivision, city, lat/lon)
type Net = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    Option<(f64, f64)>,
);
const NETWORKS: &[Net] = &[
    (
        "192.0.2.0/24",
        "",
        "US",
        "US-CA",
        "Los Angeles",
        Some((34.05, -118.25)),
    ),
    (
        "192.0.2.128/25",
        "",
        "GB",
        "GB-ENG",
        "London",
        Some((51.5, -0.125)),
    ),
    ("198.51.100.0/24", "EU", "TR", "", "", None),
    (
        "203.0.113.0/24",
        "",
        "JP",
        "JP-13",
        "",
        Some((35.6875, 139.75)),
    ),
    ("2001:db8::/32", "", "DE", "DE-BE", "", Some((52.5, 13.375))),
    ("2001:db8:a::/48", "", "BR", "", "", None),
];

/// Source text for `schema`, leaving out what a country schema cannot hold.
fn source(schema: &str) -> String {
    let city = !schema.ends_with("-country");
    let mut t = format!("schema = \"{schema}\"\nbuild_epoch = 1\nnetworks = [\n");
    for (net, continent, country, subdivision, city_name, coords) in NETWORKS {
        t += &format!("  {{ net = \"{net}\", country = \"{country}\"");
        if !continent.is_empty() {
            t += &format!(", continent = \"{continent}\"");
        }
        if city && !subdivision.is_empty() {
            t += &format!(", subdivision = \"{subdivision}\"");
        }
        if city && !city_name.is_empty() {
            t += &format!(", city = \"{city_name}\"");
        }
        if let (true, Some((lat, lon))) = (city, coords) {
            t += &format!(", lat = {lat}, lon = {lon}");
        }
        t += " },\n";
    }
    t + "]\n"
}

fn fixture(schema: &str) -> GeoDb {
    let text = source(schema);
    let (bytes, _) = build_bytes(&text, Path::new("fixture.toml"))
        .unwrap_or_else(|e| panic!("{schema}: {e}\n{text}"));
    GeoDb::from_bytes(bytes, Path::new(schema)).unwrap()
}

#[test]
fn every_schema_reads_back() {
    for (name, schema) in SCHEMAS {
        let db = fixture(name);
        let want_schema = if name.starts_with("ip-location-db") {
            Schema::Flat
        } else {
            Schema::GeoIp2
        };
        assert_eq!(db.schema(), want_schema, "{name}");
        let city = schema_is_city(*schema);
        let flat = want_schema == Schema::Flat;

        // Nested: the /25 inside the /24 wins, and the /24 around it
        // reports the block its answer holds on (/25), as MaxMind does.
        let (l, p) = db.locate(ip("192.0.2.200")).expect(name);
        assert_eq!(
            (l.country, l.continent, p),
            (Some(cc("GB")), Some(Continent::EU), 25),
            "{name}"
        );
        let (l, p) = db.locate(ip("192.0.2.10")).expect(name);
        assert_eq!(
            (l.country, l.continent, p),
            (Some(cc("US")), Some(Continent::NA), 25),
            "{name}"
        );
        if city {
            assert_eq!(l.subdivision, Some(sub("US-CA")), "{name}: subdivision");
            assert_eq!(l.coords, Coordinates::new(34.05, -118.25), "{name}: coords");
        } else {
            assert_eq!((l.subdivision, l.coords), (None, None), "{name}");
        }
        // The database's continent wins over the derived one, except in
        // the flat schema, which has none (TR derives to AS).
        let (l, p) = db.locate(ip("198.51.100.77")).expect(name);
        let want = if flat { Continent::AS } else { Continent::EU };
        assert_eq!(
            (l.country, l.continent, p),
            (Some(cc("TR")), Some(want), 24),
            "{name}"
        );
        // ISO 3166-2 codes that are digits
        let (l, _) = db.locate(ip("203.0.113.1")).expect(name);
        assert_eq!(l.subdivision, city.then(|| sub("JP-13")), "{name}");
        // IPv6, nested
        let (l, p) = db.locate(ip("2001:db8:a::1")).expect(name);
        assert_eq!((l.country, p), (Some(cc("BR")), 48), "{name}");
        let (l, p) = db.locate(ip("2001:db8:b::1")).expect(name);
        assert_eq!((l.country, p), (Some(cc("DE")), 48), "{name}");
        let (l, p) = db.locate(ip("2001:db8:8000::1")).expect(name);
        assert_eq!((l.country, p), (Some(cc("DE")), 33), "{name}");
        assert_eq!(l.subdivision, city.then(|| sub("DE-BE")), "{name}");
    }
}

fn schema_is_city(s: OutputSchema) -> bool {
    matches!(
        s,
        OutputSchema::Geoip2City | OutputSchema::DbipCity | OutputSchema::IpLocationDbCity
    )
}

#[test]
fn ipv4_mapped_is_ipv4_with_ipv4_prefixes() {
    for (name, _) in SCHEMAS {
        let db = fixture(name);
        let plain = db.locate(ip("192.0.2.10"));
        let mapped = db.locate(ip("::ffff:192.0.2.10"));
        assert!(plain.is_some(), "{name}");
        assert_eq!(plain, mapped, "{name}: ::ffff:192.0.2.10");
        assert_eq!(mapped.map(|m| m.1), Some(25), "{name}");
        // the miss prefix is in IPv4 terms too
        assert_eq!(
            db.lookup(ip("::ffff:10.1.2.3")),
            db.lookup(ip("10.1.2.3")),
            "{name}"
        );
    }
}

#[test]
fn not_found_is_none_with_the_prefix_of_the_gap() {
    let db = fixture("geoip2-city");
    for a in [
        "10.0.0.1",
        "127.0.0.1",
        "8.8.8.8",
        "::1",
        "2001:db9::1",
        "fe80::1",
    ] {
        assert_eq!(db.locate(ip(a)), None, "{a}");
    }
    // 192.0.3.0 is beside 192.0.2.0/24: the gap block around it is /24
    assert_eq!(db.lookup(ip("192.0.3.1")), (None, 24));
    // far from every network the gap is wide
    let (l, p) = db.lookup(ip("8.8.8.8"));
    assert_eq!(l, None);
    assert!(p <= 8, "/{p}");
}

#[test]
fn ipv4_only_database() {
    let text = format!(
        "schema = \"ip-location-db-country\"\nip_version = 4\nbuild_epoch = 1\nnetworks = [\n{}\n]",
        r#"{ net = "192.0.2.0/24", country = "FR" }, { net = "192.0.2.64/26", country = "IT" },"#
    );
    let (bytes, _) = build_bytes(&text, Path::new("v4.toml")).unwrap();
    let db = GeoDb::from_bytes(bytes, Path::new("v4")).unwrap();
    assert_eq!(db.reader().metadata().ip_version, 4);
    let (l, p) = db.locate(ip("192.0.2.70")).unwrap();
    assert_eq!(
        (l.country, l.continent, p),
        (Some(cc("IT")), Some(Continent::EU), 26)
    );
    assert_eq!(db.locate(ip("::ffff:192.0.2.1")).map(|x| x.1), Some(26));
    assert_eq!(db.locate(ip("192.0.2.200")).map(|x| x.1), Some(25));
    // IPv6 in an IPv4 database: unknown, for the whole family
    assert_eq!(db.lookup(ip("2001:db8::1")), (None, 0));
    // a v6 source network is refused for an IPv4 database
    let e = build_bytes(
        "ip_version = 4\nnetworks = [{ net = \"2001:db8::/32\", country = \"FR\" }]",
        Path::new("v4.toml"),
    )
    .unwrap_err();
    assert!(e.to_string().contains("v4.toml:2:"), "{e}");
    assert!(e.to_string().contains("is IPv6 but ip_version is 4"), "{e}");
}

#[test]
fn opening_errors_quote_the_path() {
    let e = GeoDb::open(Path::new("/nonexistent/x.mmdb")).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("cannot open GeoIP database \"/nonexistent/x.mmdb\": "),
        "{e}"
    );
    let e = GeoDb::from_bytes(b"not a database".to_vec(), Path::new("junk.mmdb")).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("cannot open GeoIP database \"junk.mmdb\": "),
        "{e}"
    );
    // an ASN-shaped database is a MaxMind DB, but has no location
    let mut w = mmdb_writer::Writer::builder("GeoLite2-ASN")
        .build_epoch(std::time::UNIX_EPOCH)
        .build();
    w.insert_value(
        "192.0.2.0/24".parse::<ipnet::IpNet>().unwrap(),
        mmdb_writer::Value::map([(
            "autonomous_system_number",
            mmdb_writer::Value::from(64496u32),
        )]),
    )
    .unwrap();
    let e = GeoDb::from_bytes(w.to_bytes().unwrap(), Path::new("asn.mmdb")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "GeoIP database \"asn.mmdb\" (type \"GeoLite2-ASN\") has no location data: its records have autonomous_system_number; expected a GeoIP2/GeoLite2 or DB-IP City or Country database, or an ip-location-db one"
    );
    // a record that is not a map at all
    let mut w = mmdb_writer::Writer::new("odd");
    w.insert_value(
        "192.0.2.0/24".parse::<ipnet::IpNet>().unwrap(),
        mmdb_writer::Value::from(7u32),
    )
    .unwrap();
    let e = GeoDb::from_bytes(w.to_bytes().unwrap(), Path::new("odd.mmdb")).unwrap_err();
    assert!(e.to_string().contains("has no location data"), "{e}");
    // no records
    let w = mmdb_writer::Writer::new("empty");
    let e = GeoDb::from_bytes(w.to_bytes().unwrap(), Path::new("empty.mmdb")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "GeoIP database \"empty.mmdb\" has no records"
    );
}

/// A FIFO or a directory named as the database is refused at once, not
/// waited on.
#[test]
fn only_a_regular_file_is_opened() {
    let dir = std::env::temp_dir().join(format!("dnslb-geoip-fifo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fifo = dir.join("pipe.mmdb");
    let _ = std::fs::remove_file(&fifo);
    let st = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(st.success());
    for path in [&fifo, &dir] {
        let started = std::time::Instant::now();
        let e = GeoDb::open(path).unwrap_err().to_string();
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        assert!(e.contains(": not a regular file (a "), "{e}");
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// A record with only a continent, one with (0, 0) coordinates, one with
/// nothing we use.
#[test]
fn partial_records() {
    use mmdb_writer::Value;
    let mut w = mmdb_writer::Writer::new("GeoIP2-City");
    let n = |s: &str| s.parse::<ipnet::IpNet>().unwrap();
    w.insert_value(
        n("192.0.2.0/24"),
        Value::map([("continent", Value::map([("code", "AS")]))]),
    )
    .unwrap();
    w.insert_value(
        n("198.51.100.0/24"),
        Value::map([
            ("country", Value::map([("iso_code", "FR")])),
            (
                "location",
                Value::map([
                    ("latitude", Value::from(0.0)),
                    ("longitude", Value::from(0.0)),
                ]),
            ),
        ]),
    )
    .unwrap();
    w.insert_value(
        n("203.0.113.0/24"),
        Value::map([("traits", Value::map([("is_anycast", true)]))]),
    )
    .unwrap();
    // registered_country stands in for a missing country
    w.insert_value(
        n("2001:db8::/32"),
        Value::map([("registered_country", Value::map([("iso_code", "NZ")]))]),
    )
    .unwrap();
    let db = GeoDb::from_bytes(w.to_bytes().unwrap(), Path::new("partial")).unwrap();
    let (l, _) = db.locate(ip("192.0.2.1")).unwrap();
    assert_eq!((l.continent, l.country), (Some(Continent::AS), None));
    let (l, _) = db.locate(ip("198.51.100.1")).unwrap();
    assert_eq!(
        (l.country, l.continent, l.coords),
        (Some(cc("FR")), Some(Continent::EU), None)
    );
    assert_eq!(db.locate(ip("203.0.113.1")), None);
    let (l, _) = db.locate(ip("2001:db8::1")).unwrap();
    assert_eq!(
        (l.country, l.continent),
        (Some(cc("NZ")), Some(Continent::OC))
    );
}

#[test]
fn location_is_small_and_displays() {
    // 40 bytes of place and coordinates, and the coordinates' point on the
    // unit sphere (24), so the latency order does no trigonometry per query.
    assert!(
        std::mem::size_of::<Location>() <= 64,
        "{}",
        std::mem::size_of::<Location>()
    );
    let db = fixture("geoip2-city");
    let (l, _) = db.locate(ip("192.0.2.200")).unwrap();
    assert_eq!(
        l.to_string(),
        "continent=EU country=GB subdivision=GB-ENG lat=51.5 lon=-0.125"
    );
    assert_eq!(Coordinates::new(91.0, 0.0), None);
    assert_eq!(Coordinates::new(0.0, 0.0), None);
    assert_eq!(Coordinates::new(f64::NAN, 1.0), None);
    assert!(Coordinates::new(0.0, 1.0).is_some());
}

fn errors(text: &str) -> Vec<String> {
    match build_bytes(text, Path::new("src.toml")) {
        Err(BuildError::Source(e)) => e.iter().map(ToString::to_string).collect(),
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("no error for\n{text}"),
    }
}

#[test]
fn source_errors_name_file_line_and_key() {
    let text = r#"schema = "geoip2-city"
networks = [
  { net = "192.0.2.0/24", country = "US" },
  { net = "192.0.2.0/24", country = "US" },
  { net = "192.0.2.1/24", country = "US" },
  { net = "not-a-net", country = "US" },
  { net = "198.51.100.0/24", country = "XX" },
  { net = "198.51.100.0/25", country = "US", subdivision = "GB-ENG" },
  { net = "198.51.100.0/26", country = "US", subdivision = "US-ZZ" },
  { net = "198.51.100.0/27", continent = "XY", country = "US" },
  { net = "198.51.100.0/28", country = "US", lat = 95.0, lon = 0.5 },
  { net = "198.51.100.0/29", country = "US", lat = 5.0 },
  { net = "198.51.100.0/30", city = "Nowhere" },
  { net = "198.51.100.0/31", country = "US", lat = 0.0, lon = 0.0 },
]
"#;
    let e = errors(text);
    let want = [
        "src.toml:4:3: networks[1].net: network 192.0.2.0/24 is listed twice (first on line 3)",
        "src.toml:5:11: networks[2].net: \"192.0.2.1/24\" has bits set beyond its /24 prefix (did you mean 192.0.2.0/24?)",
        "src.toml:6:11: networks[3].net: \"not-a-net\" is not a network (ADDRESS/PREFIX, e.g. 192.0.2.0/24)",
        "src.toml:7:40: networks[4].country: \"XX\" is not an ISO 3166-1 alpha-2 country code",
        "src.toml:8:60: networks[5].subdivision: GB-ENG is not in country US",
        "src.toml:9:60: networks[6].subdivision: \"US-ZZ\" is not an ISO 3166-2 subdivision code (e.g. US-CA)",
        "src.toml:10:42: networks[7].continent: \"XY\" is not a continent code (AF, AN, AS, EU, NA, OC, SA)",
        "src.toml:11:52: networks[8].lat: must be between -90 and 90, got 95",
        "src.toml:12:52: networks[9].lat: lat and lon go together: set both or neither",
        "src.toml:13:11: networks[10].net: gives no location: set country (and optionally continent, subdivision, city, lat/lon), or continent",
        "src.toml:14:11: networks[11].lat: 0, 0 reads as \"unknown\" in GeoIP databases; leave lat/lon out instead",
    ];
    for w in want {
        assert!(
            e.iter().any(|x| x == w),
            "missing {w:?} in\n{}",
            e.join("\n")
        );
    }
    assert_eq!(e.len(), want.len(), "{}", e.join("\n"));
}

#[test]
fn source_errors_for_the_file_itself() {
    assert_eq!(
        errors("schema = \"geoip3\"\nnetworks = []"),
        [
            "src.toml:1:10: schema: unknown schema \"geoip3\", expected one of \"geoip2-city\", \"geoip2-country\", \"dbip-city\", \"dbip-country\", \"ip-location-db-city\", \"ip-location-db-country\""
        ]
    );
    let e = errors("networks = [{ net = \"192.0.2.0/24\", country = \"US\", colour = \"red\" }]");
    assert!(e[0].starts_with("src.toml:1:"), "{e:?}");
    assert!(e[0].contains("unknown field `colour`"), "{e:?}");
    let e = errors("networks = [\n{ net = \"192.0.2.0/24\"\n");
    assert!(e[0].starts_with("src.toml:"), "{e:?}");
    assert_eq!(
        errors("networks = []"),
        ["src.toml:1:12: networks: lists no networks"]
    );
    assert!(errors("build_epoch = 5")[0].contains("missing field `networks`"));
    assert_eq!(
        errors(
            "ip_version = 5\nbuild_epoch = -1\nnetworks = [{ net = \"192.0.2.0/24\", country = \"US\" }]"
        ),
        [
            "src.toml:1:14: ip_version: must be 4 or 6, got 5",
            "src.toml:2:15: build_epoch: must be seconds since 1970, got -1",
        ]
    );
    // what a schema cannot hold
    let e = errors(
        "schema = \"geoip2-country\"\nnetworks = [{ net = \"192.0.2.0/24\", country = \"US\", subdivision = \"US-CA\", city = \"LA\", lat = 1.0, lon = 1.0 }]",
    );
    assert_eq!(e.len(), 3, "{e:?}");
    assert!(
        e[0].contains("networks[0].subdivision: the geoip2-country schema has no subdivisions"),
        "{e:?}"
    );
    let e = errors(
        "schema = \"ip-location-db-city\"\nnetworks = [{ net = \"192.0.2.0/24\", continent = \"EU\" }]",
    );
    assert!(e[0].contains("has no continent field"), "{e:?}");
    // networks the writer reserves for IPv4 aliasing
    let e = errors("networks = [{ net = \"2002::/16\", country = \"US\" }]");
    assert!(
        e[0].starts_with("src.toml:1:13: net: cannot store 2002::/16"),
        "{e:?}"
    );
}

/// The build is deterministic: same source, same bytes; and the order of
/// networks in the file does not matter.
#[test]
fn builds_are_reproducible_and_order_free() {
    let a = "build_epoch = 7\nnetworks = [{ net = \"192.0.2.0/24\", country = \"US\" }, { net = \"192.0.2.0/25\", country = \"CA\" }]";
    let b = "build_epoch = 7\nnetworks = [{ net = \"192.0.2.0/25\", country = \"CA\" }, { net = \"192.0.2.0/24\", country = \"US\" }]";
    let x = build_bytes(a, Path::new("a")).unwrap().0;
    let y = build_bytes(a, Path::new("a")).unwrap().0;
    let z = build_bytes(b, Path::new("b")).unwrap().0;
    assert_eq!(x, y);
    assert_eq!(x, z);
    let db = GeoDb::from_bytes(z, Path::new("b")).unwrap();
    assert_eq!(
        db.locate(ip("192.0.2.1")).unwrap().0.country,
        Some(cc("CA"))
    );
    assert_eq!(db.reader().metadata().build_epoch, 7);
}

/// The committed example database is exactly what its source builds, and
/// covers what the docs promise.
#[test]
fn example_database_matches_its_source() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let src = root.join("geoip/example.source.toml");
    let text = std::fs::read_to_string(&src).unwrap();
    let (built, summary) = build_bytes(&text, &src).unwrap();
    let committed = std::fs::read(root.join("geoip/example.mmdb")).unwrap();
    assert!(
        built == committed,
        "geoip/example.mmdb is stale: run `cargo run -- geoip build geoip/example.source.toml geoip/example.mmdb`"
    );
    assert_eq!(summary.schema, OutputSchema::Geoip2City);
    let db = GeoDb::open(&root.join("geoip/example.mmdb")).unwrap();
    let mut continents = std::collections::BTreeSet::new();
    for a in ["192.0.2.1", "198.51.100.1", "203.0.113.1", "2001:db8::1"] {
        let (l, _) = db
            .locate(ip(a))
            .unwrap_or_else(|| panic!("{a} not in the example"));
        assert!(l.country.is_some() && l.coords.is_some(), "{a}: {l}");
        continents.insert(l.continent);
    }
    for a in [
        "192.0.2.200",
        "198.51.100.200",
        "203.0.113.200",
        "2001:db8:8000::1",
    ] {
        let (l, _) = db.locate(ip(a)).unwrap();
        continents.insert(l.continent);
    }
    assert!(continents.len() >= 4, "{continents:?}");
}

/// Private and other special-purpose blocks are never located, even when
/// a database lists them; documentation ranges are.
#[test]
fn special_purpose_addresses_are_never_located() {
    // A database that places everything in AU. Without IPv4 aliasing the
    // writer accepts networks over ::ffff:0:0/96 and 2002::/16.
    use mmdb_writer::Value;
    let mut w = mmdb_writer::Writer::builder("GeoIP2-Country")
        .ipv4_aliasing(mmdb_writer::Ipv4Aliasing::Disabled)
        .build();
    let au = Value::map([("country", Value::map([("iso_code", "AU")]))]);
    for n in ["0.0.0.0/0", "8000::/1", "::/1"] {
        w.insert_value(n.parse::<ipnet::IpNet>().unwrap(), au.clone())
            .unwrap();
    }
    let db = GeoDb::from_bytes(w.to_bytes().unwrap(), Path::new("all-au")).unwrap();
    for (a, prefix) in [
        ("0.1.2.3", 8),
        ("10.1.2.3", 8),
        ("100.64.0.1", 10),
        ("127.0.0.1", 8),
        ("169.254.1.1", 16),
        ("172.31.255.255", 12),
        ("192.168.1.1", 16),
        ("::ffff:192.168.1.1", 16),
        ("224.0.0.1", 4),
        ("255.255.255.255", 4),
        ("::", 128),
        ("::1", 128),
        ("fd00::1", 7),
        ("fe80::1", 10),
        ("ff02::1", 8),
    ] {
        assert_eq!(db.lookup(ip(a)), (None, prefix), "{a}");
    }
    for a in [
        "192.0.2.1",
        "198.51.100.1",
        "203.0.113.1",
        "2001:db8::1",
        "172.32.0.1",
        "100.128.0.1",
        "8.8.8.8",
        "2600::1",
    ] {
        assert!(db.locate(ip(a)).is_some(), "{a}");
    }
}

/// The records decoded at open give the same answers as decoding on each
/// lookup, at every network edge of every fixture.
#[test]
fn decoded_at_open_equals_decoded_per_lookup() {
    for (name, _) in SCHEMAS {
        let (bytes, _) = build_bytes(&source(name), Path::new("f")).unwrap();
        let eager = GeoDb::from_bytes(bytes.clone(), Path::new(name)).unwrap();
        let lazy = GeoDb::from_bytes_undecoded(bytes, Path::new(name)).unwrap();
        assert_eq!(lazy.decoded_records(), 0);
        assert!(
            eager.decoded_records() >= NETWORKS.len(),
            "{name}: {}",
            eager.decoded_records()
        );
        for (net, ..) in NETWORKS {
            let n: ipnet::IpNet = net.parse().unwrap();
            for a in [n.network(), n.broadcast()] {
                for a in [a, canonical(a)] {
                    assert_eq!(eager.lookup(a), lazy.lookup(a), "{name} {a}");
                }
            }
        }
    }
}

/// A source with thousands of bad networks reports the first 1,000 and
/// counts the rest.
#[test]
fn source_errors_are_capped_with_a_count_of_the_rest() {
    let mut text = String::from("build_epoch = 1\nnetworks = [\n");
    for _ in 0..3000 {
        text.push_str("  { net = \"not-a-net\", country = \"FR\" },\n");
    }
    text.push_str("]\n");
    let e = errors(&text);
    assert_eq!(e.len(), crate::diag::MAX_ERRORS_PER_FILE + 1);
    assert!(
        e[999].starts_with("src.toml:1002:11: networks[999].net: "),
        "{}",
        e[999]
    );
    assert_eq!(
        e[1000],
        "src.toml:1002:11: 2000 more errors not shown (at most 1000 are reported per file)"
    );
}
