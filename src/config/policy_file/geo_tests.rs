//! The geo parts of a policy file: rules and custom networks compile, and
//! every mistake is reported at its line and key.

use std::path::Path;

use super::super::*;
use crate::geoip::{ClientLocation, Continent, Country, Location, LocationSource, Subdivision};
use crate::policy::Order;
use crate::policy::geo::{GeoMap, RuleKey};

fn origin() -> Name {
    Name::from_ascii("example.test.").unwrap()
}

/// Load `text` as `DIR/t.toml`; (file, errors, warnings).
fn load_in(dir: &Path, text: &str) -> (Option<PolicyFile>, Vec<String>, Vec<String>) {
    let mut targets = TargetRegistry::new();
    let mut diags = Diagnostics::new();
    let file = load_policy_file(
        &dir.join("t.toml"),
        text,
        &origin(),
        &mut targets,
        &mut diags,
    );
    let strip = |s: String| s.replacen(&format!("{}/", dir.display()), "", 1);
    let errors = diags.iter().map(|d| strip(d.to_string())).collect();
    let warnings = diags
        .warnings()
        .map(|d| strip(d.as_warning().to_string()))
        .collect();
    (file, errors, warnings)
}

fn load(text: &str) -> (Option<PolicyFile>, Vec<String>, Vec<String>) {
    load_in(Path::new("/nonexistent"), text)
}

const POOLS: &str = r#"[pools.us]
members = [{ address = "192.0.2.1" }]
[pools.eu]
members = [{ address = "192.0.2.2" }, { address = "2001:db8::2" }]
[pools.lab]
members = [{ address = "127.0.0.9" }]
"#;

fn map<'a>(file: &'a PolicyFile, owner: &str) -> &'a GeoMap {
    let lb = &file.names.iter().find(|n| n.owner == owner).unwrap().lb;
    match &lb.order {
        Order::Geo(m) => m,
        other => panic!("{owner}: {other:?}"),
    }
}

fn at(sub: Option<&str>, country: Option<&str>, continent: Option<Continent>) -> ClientLocation {
    ClientLocation {
        location: Location {
            continent,
            country: country.and_then(Country::from_code),
            subdivision: sub.and_then(Subdivision::from_code),
            coords: None,
        },
        region: None,
        source: LocationSource::Database,
        prefix: 24,
    }
}

#[test]
fn rules_and_custom_networks_compile() {
    let text = format!(
        r#"{POOLS}
[geo]
nets = [
  {{ net = "10.9.0.0/16", region = "lab" }},
  {{ net = "10.8.0.0/16", subdivision = "de-be", lat = 52.52, lon = 13.4 }},
]

[names.cdn]
policy = "geo"
group_policy = "round_robin"

[names.cdn.geo]
regions = {{ lab = ["lab", "us"] }}
subdivisions = {{ "US-CA" = ["us", "eu"] }}
countries = {{ de = ["eu"] }}
continents = {{ NA = ["us"] }}
default = ["eu", "us"]
"#
    );
    let (file, errors, warnings) = load(&text);
    assert_eq!(errors, Vec::<String>::new());
    assert_eq!(warnings, Vec::<String>::new());
    let file = file.unwrap();
    let lb = &file.names[0].lb;
    assert_eq!(lb.describe_policy(), "geo (group_policy round_robin)");
    let groups: Vec<&str> = lb.groups.iter().map(|g| g.pool.name.as_str()).collect();
    assert_eq!(groups, ["lab", "us", "eu"], "pools in order of first use");
    let m = map(&file, "cdn");
    assert!(m.needs_location() && m.needs_database());
    let key = |l: &ClientLocation| m.rule_for(l).map(|i| m.rules()[i].key);
    assert_eq!(
        key(&at(Some("US-CA"), None, None)),
        Some(RuleKey::Subdivision(
            Subdivision::from_code("US-CA").unwrap()
        ))
    );
    assert_eq!(
        key(&at(None, Some("US"), Some(Continent::NA))),
        Some(RuleKey::Continent(Continent::NA))
    );
    assert_eq!(key(&ClientLocation::UNKNOWN), Some(RuleKey::Default));
    // the custom networks: a region, and a place completed from its code
    let nets = m.nets();
    assert_eq!(nets.regions(), ["lab"]);
    let l = crate::geoip::locate_client(nets, None, "10.9.1.1".parse().unwrap());
    assert_eq!(
        key(&l).map(|k| k.describe(nets)).as_deref(),
        Some("region lab")
    );
    let l = crate::geoip::locate_client(nets, None, "10.8.1.1".parse().unwrap());
    assert_eq!(l.location.country, Country::from_code("DE"));
    assert_eq!(l.location.continent, Some(Continent::EU));
    assert!(l.location.coords.is_some());
    assert_eq!(
        key(&l),
        Some(RuleKey::Country(Country::from_code("DE").unwrap()))
    );
}

#[test]
fn a_geo_name_without_default_loads_with_a_warning() {
    let text = format!(
        "{POOLS}[names.cdn]\npolicy = \"geo\"\n[names.cdn.geo]\ncountries = {{ US = [\"us\"] }}\n"
    );
    let (file, errors, warnings) = load(&text);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(file.unwrap().names.len(), 1);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].starts_with("t.toml:9:1: warning: names.cdn.geo: no default rule: "),
        "{warnings:?}"
    );
}

#[test]
fn a_nets_file_is_read_beside_the_policy_file() {
    let dir = std::env::temp_dir().join(format!("dnslb-nets-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("office.nets"),
        "# offices\nnets = [\n  { net = \"10.9.0.0/16\", region = \"office\" },\n]\n",
    )
    .unwrap();
    let text = format!(
        "{POOLS}[geo]\nnets_file = \"office.nets\"\nnets = [{{ net = \"10.7.0.0/16\", region = \"vpn\" }}]\n[names.cdn]\npolicy = \"geo\"\n[names.cdn.geo]\nregions = {{ office = [\"lab\"], vpn = [\"us\"] }}\ndefault = [\"eu\"]\n"
    );
    let (file, errors, _) = load_in(&dir, &text);
    assert!(errors.is_empty(), "{errors:?}");
    let file = file.unwrap();
    assert_eq!(map(&file, "cdn").nets().regions(), ["vpn", "office"]);
    // errors in the nets file point into it; a network in both is listed twice
    std::fs::write(
        dir.join("office.nets"),
        "nets = [\n  { net = \"10.7.0.0/16\", region = \"office\" },\n  { net = \"10.9.0.1/16\", colour = \"red\" },\n  { net = \"10.9.0.1/16\", country = \"XX\" },\n]\n",
    )
    .unwrap();
    let (file, errors, _) = load_in(&dir, &text);
    assert!(file.unwrap().names.is_empty());
    let first = dir.join("t.toml").display().to_string();
    assert_eq!(
        errors,
        [
            format!("office.nets:2:11: nets[0].net: network 10.7.0.0/16 is listed twice (first at {first}:9)"),
            "office.nets:3:11: nets[1].net: network 10.9.0.1/16 has bits set beyond its /16 prefix (did you mean 10.9.0.0/16?)".to_owned(),
            "office.nets:3:11: nets[1]: says nothing about its clients: give region, continent, country, subdivision or lat/lon".to_owned(),
            "office.nets:3:26: nets[1]: unknown field `colour`, expected one of `net`, `region`, `continent`, `country`, `subdivision`, `lat`, `lon`".to_owned(),
            "office.nets:4:11: nets[2].net: network 10.9.0.1/16 has bits set beyond its /16 prefix (did you mean 10.9.0.0/16?)".to_owned(),
            "office.nets:4:36: nets[2].country: unknown country code \"XX\" (ISO 3166-1 alpha-2, e.g. \"US\")".to_owned(),
        ],
        "an unknown key does not hide the other errors of the file, nor of its entry"
    );
    std::fs::write(
        dir.join("office.nets"),
        "nets = [\n  { net = \"10.7.0.0/16\", region = \"office\" },\n  { net = \"10.9.0.1/16\", country = \"XX\" },\n]\n",
    )
    .unwrap();
    let (_, errors, _) = load_in(&dir, &text);
    assert_eq!(
        errors,
        [
            "office.nets:2:11: nets[0].net: network 10.7.0.0/16 is listed twice (first at t.toml:9)".replace("t.toml", &dir.join("t.toml").display().to_string()),
            "office.nets:3:11: nets[1].net: network 10.9.0.1/16 has bits set beyond its /16 prefix (did you mean 10.9.0.0/16?)".to_owned(),
            "office.nets:3:36: nets[1].country: unknown country code \"XX\" (ISO 3166-1 alpha-2, e.g. \"US\")".to_owned(),
        ]
    );
    std::fs::remove_file(dir.join("office.nets")).unwrap();
    let (_, errors, _) = load_in(&dir, &text);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("t.toml:8:13: geo.nets_file: cannot read nets file "),
        "{errors:?}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn each_geo_error_has_its_line_and_key() {
    let name = |geo: &str| format!("{POOLS}[names.cdn]\npolicy = \"geo\"\n[names.cdn.geo]\n{geo}");
    let nets = |nets: &str| {
        format!(
            "{POOLS}[geo]\nnets = [\n{nets}]\n[names.cdn]\npolicy = \"geo\"\n[names.cdn.geo]\ndefault = [\"us\"]\n"
        )
    };
    let cases: Vec<(String, Vec<&str>)> = vec![
        (
            name(
                "continents = { XX = [\"us\"], na = [\"us\"] }\ncountries = { UK = [\"eu\"], us = [\"us\"], US = [\"eu\"] }\nsubdivisions = { \"US-ZZ\" = [\"us\"], CA = [\"us\"] }\ndefault = [\"eu\"]\n",
            ),
            vec![
                "t.toml:10:16: names.cdn.geo.continents.XX: unknown continent code \"XX\", expected AF, AN, AS, EU, NA, OC or SA",
                "t.toml:11:15: names.cdn.geo.countries.UK: unknown country code \"UK\" (ISO 3166-1 alpha-2, e.g. \"US\")",
                "t.toml:11:41: names.cdn.geo.countries.US: country US already has a rule (countries.us)",
                "t.toml:12:18: names.cdn.geo.subdivisions.US-ZZ: unknown subdivision code \"US-ZZ\" (ISO 3166-2 in full, e.g. \"US-CA\")",
                "t.toml:12:36: names.cdn.geo.subdivisions.CA: unknown subdivision code \"CA\" (ISO 3166-2 in full, e.g. \"US-CA\")",
            ],
        ),
        (
            name("regions = { lab = [\"lab\"] }\ndefault = [\"eu\"]\n"),
            vec![
                "t.toml:10:13: names.cdn.geo.regions.lab: unknown region \"lab\": regions are declared by `region` in the custom networks ([geo] nets or nets_file), and this file has none",
            ],
        ),
        (
            name("countries = { US = [] , DE = [\"eu\", \"nope\", \"eu\"] }\ndefault = [\"eu\"]\n"),
            vec![
                "t.toml:10:20: names.cdn.geo.countries.US: needs at least one pool",
                "t.toml:10:37: names.cdn.geo.countries.DE[1]: unknown pool \"nope\"",
                "t.toml:10:45: names.cdn.geo.countries.DE[2]: pool \"eu\" is listed twice",
            ],
        ),
        (
            name("countries = {}\n"),
            vec![
                "t.toml:9:1: names.cdn.geo: needs at least one rule: regions, subdivisions, countries, continents or default",
            ],
        ),
        (
            name("countries = { US = [\"us\"] }\ndefalt = [\"eu\"]\n"),
            vec![
                "t.toml:11:1: names.cdn.geo: unknown field `defalt`, expected one of `regions`, `subdivisions`, `countries`, `continents`, `default`",
            ],
        ),
        (
            format!("{POOLS}[names.cdn]\npolicy = \"geo\"\npool = \"us\"\ngroups = [\"us\"]\n"),
            vec![
                "t.toml:7:8: names.cdn.geo: required for policy geo: the rules, [names.X.geo]",
                "t.toml:9:8: names.cdn.pool: not used by policy geo; the rules in [names.X.geo] name the pools",
                "t.toml:10:10: names.cdn.groups: not used by policy geo; the rules in [names.X.geo] name the pools",
            ],
        ),
        (
            format!(
                "{POOLS}[names.www]\npolicy = \"weighted\"\npool = \"us\"\n[names.www.geo]\ndefault = [\"us\"]\n"
            ),
            vec!["t.toml:10:1: names.www.geo: only for policy geo, not weighted"],
        ),
        (
            nets(
                "  { net = \"10.0.0.0\", region = \"a\" },\n  { net = \"10.0.0.1/8\", region = \"b c\" },\n  { net = \"nope\", continent = \"XX\" },\n",
            ),
            vec![
                "t.toml:9:11: geo.nets[0].net: \"10.0.0.0\" is an address, not a network: write 10.0.0.0/32",
                "t.toml:10:11: geo.nets[1].net: network 10.0.0.1/8 has bits set beyond its /8 prefix (did you mean 10.0.0.0/8?)",
                "t.toml:10:34: geo.nets[1].region: region name \"b c\" must be 1 to 63 letters, digits, '-', '_' or '.'",
                "t.toml:11:11: geo.nets[2].net: \"nope\" is not a network (ADDR/LEN, e.g. 10.20.0.0/16)",
                "t.toml:11:31: geo.nets[2].continent: unknown continent code \"XX\", expected AF, AN, AS, EU, NA, OC or SA",
            ],
        ),
        (
            nets(
                "  { net = \"10.1.0.0/16\", country = \"FR\", subdivision = \"DE-BE\" },\n  { net = \"10.2.0.0/16\", continent = \"NA\", country = \"FR\" },\n  { net = \"10.3.0.0/16\", lat = 1.0 },\n  { net = \"10.4.0.0/16\", lat = 0.0, lon = 0.0 },\n  { net = \"10.5.0.0/16\" },\n  { net = \"10.5.0.0/16\", region = \"x\" },\n  { net = \"::ffff:10.5.0.0/112\", region = \"y\" },\n",
            ),
            vec![
                "t.toml:9:56: geo.nets[0].subdivision: subdivision DE-BE is not in country FR",
                "t.toml:10:38: geo.nets[1].continent: country FR is in continent EU, not NA",
                "t.toml:11:32: geo.nets[2].lon: required with lat",
                "t.toml:12:32: geo.nets[3].lat: lat 0, lon 0 is how databases write \"unknown\"; give a real place",
                "t.toml:13:11: geo.nets[4]: says nothing about its clients: give region, continent, country, subdivision or lat/lon",
                "t.toml:15:11: geo.nets[6].net: network ::ffff:10.5.0.0/112 is listed twice (first at /nonexistent/t.toml:14)",
            ],
        ),
        (
            format!("{POOLS}[geo]\nnet = []\n"),
            vec!["t.toml:8:1: geo: unknown field `net`, expected `nets` or `nets_file`"],
        ),
    ];
    let mut failures = Vec::new();
    for (text, want) in cases {
        let (_, got, _) = load(&text);
        if got != want {
            failures.push(format!(
                "--- text ---\n{text}--- got ---\n{}\n",
                got.join("\n")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Within the geo tables too, every bad value is reported: a mistyped
/// value, an entry that is not a table and an unknown key do not hide the
/// errors beside them, and add no follow-on error (a mistyped `lat` does
/// not make `lon` "required with lat"; a broken `[geo]` does not make the
/// region rules unknown regions).
#[test]
fn every_geo_error_is_reported() {
    let text = format!(
        r#"{POOLS}[geo]
nets = [
  {{ net = 10, region = "a" }},
  "10.1.0.0/16",
  {{ net = "10.2.0.0/16", lat = "x", lon = 2.0, colour = 1 }},
  {{ net = "10.3.0.0/16", country = "XX" }},
]
nets_file = 5
[names.cdn]
policy = "geo"
[names.cdn.geo]
countries = {{ US = "us", DE = ["eu", 3], FR = ["nope"] }}
continents = 7
regions = {{ a = ["us"] }}
[names.other]
policy = "geo"
[names.other.geo]
countries = {{ US = ["us"] }}
default = "eu"
"#
    );
    let (file, errors, warnings) = load(&text);
    assert_eq!(
        errors,
        [
            "t.toml:9:11: geo.nets[0].net: invalid type: integer `10`, expected a string",
            "t.toml:10:3: geo.nets[1]: invalid type: string \"10.1.0.0/16\", expected a map",
            "t.toml:11:32: geo.nets[2].lat: invalid type: string \"x\", expected f64",
            "t.toml:11:48: geo.nets[2]: unknown field `colour`, expected one of `net`, `region`, `continent`, `country`, `subdivision`, `lat`, `lon`",
            "t.toml:12:36: geo.nets[3].country: unknown country code \"XX\" (ISO 3166-1 alpha-2, e.g. \"US\")",
            "t.toml:14:13: geo.nets_file: invalid type: integer `5`, expected a string",
            "t.toml:18:20: names.cdn.geo.countries.US: invalid type: string \"us\", expected a sequence",
            "t.toml:18:38: names.cdn.geo.countries.DE[1]: invalid type: integer `3`, expected a string",
            "t.toml:18:48: names.cdn.geo.countries.FR[0]: unknown pool \"nope\"",
            "t.toml:19:14: names.cdn.geo.continents: invalid type: integer `7`, expected a map",
            "t.toml:25:11: names.other.geo.default: invalid type: string \"eu\", expected a sequence",
        ]
    );
    assert_eq!(
        warnings,
        Vec::<String>::new(),
        "no \"no default rule\" for a bad default"
    );
    assert!(file.unwrap().names.is_empty());
}

/// A nets file that is not a regular file (a FIFO, a directory) is refused
/// at once, as zone files are, not waited on.
#[test]
fn a_nets_file_must_be_a_regular_file() {
    let dir = std::env::temp_dir().join(format!("dnslb-nets-fifo-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    let fifo = dir.join("pipe.nets");
    let _ = std::fs::remove_file(&fifo);
    let st = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(st.success());
    for (name, why) in [
        ("pipe.nets", "not a regular file (a FIFO)"),
        ("sub", "not a regular file (a directory)"),
    ] {
        let text = format!(
            "{POOLS}[geo]\nnets_file = \"{name}\"\n[names.cdn]\npolicy = \"geo\"\n[names.cdn.geo]\ndefault = [\"us\"]\n"
        );
        let started = std::time::Instant::now();
        let (file, errors, _) = load_in(&dir, &text);
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        assert!(file.unwrap().names.is_empty());
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].starts_with("t.toml:8:13: geo.nets_file: cannot read nets file ")
                && errors[0].ends_with(why),
            "{errors:?}"
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}
