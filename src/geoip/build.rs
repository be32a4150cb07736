//! `dnslb geoip build SOURCE OUT.mmdb`: a MaxMind DB from a readable TOML
//! source, written with the `mmdb-writer` crate.
//!
//! The project builds its own small database (`geoip/example.mmdb`, from
//! `geoip/example.source.toml`) so the quickstart and the tests geolocate
//! offline, and test fixtures in every schema dnslb reads, so each reader
//! path is checked against a file in that vendor's shape. Output is
//! deterministic: the same source (with `build_epoch` set) gives the same
//! bytes, which is how a test keeps the committed example from drifting.
//!
//! ```toml
//! schema = "geoip2-city"      # see `OutputSchema`
//! build_epoch = 1767225600    # seconds; default $SOURCE_DATE_EPOCH, else now
//! networks = [
//!   { net = "192.0.2.0/24", country = "US", subdivision = "US-CA", city = "Los Angeles", lat = 34.05, lon = -118.24 },
//! ]
//! ```
//!
//! Every error names `FILE:LINE:COL: key: message`, and all are reported.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use ipnet::IpNet;
use mmdb_writer::{IpVersion, Value, Writer};
use serde::Deserialize;
use toml::Spanned;

use super::codes::{self, Continent, Country, Subdivision};
use super::nets::{NetError, NetTable};

/// The record layout to write: one per database family dnslb reads.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum OutputSchema {
    /// MaxMind GeoIP2/GeoLite2 City: continent, country, registered
    /// country, subdivisions (ISO codes and names), city, location.
    Geoip2City,
    /// MaxMind GeoIP2/GeoLite2 Country: continent, country, registered country.
    Geoip2Country,
    /// DB-IP Lite City: GeoIP2's layout, subdivisions by name only.
    DbipCity,
    /// DB-IP Lite Country.
    DbipCountry,
    /// ip-location-db city: flat `country_code`, `state1` (a name), `city`,
    /// `latitude`, `longitude`; no continent.
    IpLocationDbCity,
    /// ip-location-db country: flat `country_code` only.
    IpLocationDbCountry,
}

/// Word table for both parsing and the "expected one of" message.
pub const SCHEMAS: &[(&str, OutputSchema)] = &[
    ("geoip2-city", OutputSchema::Geoip2City),
    ("geoip2-country", OutputSchema::Geoip2Country),
    ("dbip-city", OutputSchema::DbipCity),
    ("dbip-country", OutputSchema::DbipCountry),
    ("ip-location-db-city", OutputSchema::IpLocationDbCity),
    ("ip-location-db-country", OutputSchema::IpLocationDbCountry),
];

impl OutputSchema {
    /// The source-file word, e.g. `geoip2-city`.
    pub fn as_str(self) -> &'static str {
        SCHEMAS
            .iter()
            .find(|(_, s)| *s == self)
            .map_or("?", |(n, _)| n)
    }

    /// The `database_type` written when the source does not set one; the
    /// DB-IP and ip-location-db ones are those vendors' own.
    fn default_database_type(self) -> &'static str {
        match self {
            Self::Geoip2City => "dnslb-GeoIP2-City",
            Self::Geoip2Country => "dnslb-GeoIP2-Country",
            Self::DbipCity => "DBIP-City-Lite",
            Self::DbipCountry => "DBIP-Country-Lite",
            Self::IpLocationDbCity => "city ipvAll",
            Self::IpLocationDbCountry => "country ipvAll",
        }
    }

    fn city_level(self) -> bool {
        matches!(
            self,
            Self::Geoip2City | Self::DbipCity | Self::IpLocationDbCity
        )
    }

    fn flat(self) -> bool {
        matches!(self, Self::IpLocationDbCity | Self::IpLocationDbCountry)
    }
}

impl fmt::Display for OutputSchema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SourceSpec {
    schema: Option<Spanned<String>>,
    database_type: Option<Spanned<String>>,
    description: Option<Spanned<String>>,
    ip_version: Option<Spanned<i64>>,
    build_epoch: Option<Spanned<i64>>,
    networks: Spanned<Vec<Spanned<NetworkSpec>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NetworkSpec {
    net: Spanned<String>,
    continent: Option<Spanned<String>>,
    country: Option<Spanned<String>>,
    subdivision: Option<Spanned<String>>,
    city: Option<Spanned<String>>,
    lat: Option<Spanned<f64>>,
    lon: Option<Spanned<f64>>,
}

/// One problem in a source file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceError {
    pub file: PathBuf,
    pub line: usize,
    pub col: usize,
    /// Dotted key, e.g. `networks[3].country`; empty for syntax errors.
    pub key: String,
    pub message: String,
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file.display(), self.line, self.col)?;
        if !self.key.is_empty() {
            write!(f, "{}: ", self.key)?;
        }
        f.write_str(&self.message)
    }
}

/// Why a build failed.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("cannot read \"{}\": {cause}", path.display())]
    Read {
        path: PathBuf,
        cause: crate::files::ReadError,
    },
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Source(Vec<SourceError>),
    #[error("cannot write \"{}\": {cause}", path.display())]
    Write {
        path: PathBuf,
        cause: std::io::Error,
    },
}

/// What a build produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub schema: OutputSchema,
    pub database_type: String,
    pub networks: usize,
    pub bytes: usize,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} networks, schema {}, database_type \"{}\", {} bytes",
            self.networks, self.schema, self.database_type, self.bytes
        )
    }
}

/// Build `source` into `out`. The file is written beside `out` and renamed
/// over it, so a server reloading at that moment never reads half a file.
pub fn build_file(source: &Path, out: &Path) -> Result<Summary, BuildError> {
    // A FIFO or a device is refused at once, not waited on.
    let text =
        crate::files::read_text(source, crate::files::FileKind::GEOIP_SOURCE).map_err(|cause| {
            BuildError::Read {
                path: source.to_owned(),
                cause,
            }
        })?;
    let (bytes, summary) = build_bytes(&text, source)?;
    let mut tmp = out.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let write = |p: &Path| std::fs::write(p, &bytes);
    write(&tmp)
        .and_then(|()| std::fs::rename(&tmp, out))
        .map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            BuildError::Write {
                path: out.to_owned(),
                cause: e,
            }
        })?;
    Ok(summary)
}

/// Build a database from source text; `file` names it in errors.
pub fn build_bytes(text: &str, file: &Path) -> Result<(Vec<u8>, Summary), BuildError> {
    let mut cx = Cx {
        file,
        lines: crate::diag::LineIndex::new(text),
        errors: Vec::new(),
        dropped: 0,
    };
    let spec: SourceSpec = match toml::from_str(text) {
        Ok(s) => s,
        Err(e) => {
            let at = e.span().map_or(0, |s| s.start);
            cx.error(at, "", e.message().trim_end());
            return Err(BuildError::Source(cx.into_errors()));
        }
    };
    let source = compile(&mut cx, spec);
    if !cx.errors.is_empty() {
        return Err(BuildError::Source(cx.into_errors()));
    }
    let Some(source) = source else {
        return Err(BuildError::Source(cx.into_errors()));
    };
    match write(&mut cx, &source) {
        Some(built) => Ok(built),
        None => Err(BuildError::Source(cx.into_errors())),
    }
}

/// The source being built and its errors: the first
/// [`MAX_ERRORS_PER_FILE`](crate::diag::MAX_ERRORS_PER_FILE), the rest
/// counted.
struct Cx<'a> {
    file: &'a Path,
    /// Line starts, so each error's position is a binary search.
    lines: crate::diag::LineIndex<'a>,
    errors: Vec<SourceError>,
    dropped: usize,
}

impl Cx<'_> {
    fn error(&mut self, at: usize, key: &str, message: impl Into<String>) {
        if self.errors.len() >= crate::diag::MAX_ERRORS_PER_FILE {
            self.dropped += 1;
            return;
        }
        let (line, col) = self.lines.line_col(at);
        self.errors.push(SourceError {
            file: self.file.to_owned(),
            line: line as usize,
            col: col as usize,
            key: key.to_owned(),
            message: message.into(),
        });
    }

    /// The errors, ending with one that says how many more there were.
    fn into_errors(mut self) -> Vec<SourceError> {
        if let Some(last) = self.errors.last()
            && self.dropped > 0
        {
            let note = SourceError {
                message: format!(
                    "{} more errors not shown (at most {} are reported per file)",
                    self.dropped,
                    self.errors.len()
                ),
                key: String::new(),
                ..last.clone()
            };
            self.errors.push(note);
        }
        self.errors
    }
}

/// A validated network entry.
struct Entry {
    net: IpNet,
    continent: Option<Continent>,
    country: Option<Country>,
    subdivision: Option<Subdivision>,
    city: Option<String>,
    coords: Option<(f64, f64)>,
    /// Where the entry starts in the source, for late errors.
    at: usize,
}

struct Source {
    schema: OutputSchema,
    database_type: String,
    description: Option<String>,
    ip_version: IpVersion,
    build_epoch: SystemTime,
    entries: Vec<Entry>,
}

fn start(r: &Range<usize>) -> usize {
    r.start
}

fn compile(cx: &mut Cx<'_>, spec: SourceSpec) -> Option<Source> {
    let SourceSpec {
        schema,
        database_type,
        description,
        ip_version,
        build_epoch,
        networks,
    } = spec;
    let schema = match &schema {
        None => OutputSchema::Geoip2City,
        Some(s) => match SCHEMAS.iter().find(|(n, _)| *n == s.get_ref()) {
            Some((_, v)) => *v,
            None => {
                let names: Vec<_> = SCHEMAS.iter().map(|(n, _)| format!("\"{n}\"")).collect();
                cx.error(
                    start(&s.span()),
                    "schema",
                    format!(
                        "unknown schema \"{}\", expected one of {}",
                        s.get_ref(),
                        names.join(", ")
                    ),
                );
                return None;
            }
        },
    };
    let database_type = match database_type {
        Some(t) if t.get_ref().trim().is_empty() => {
            cx.error(start(&t.span()), "database_type", "must not be empty");
            String::new()
        }
        Some(t) => t.into_inner(),
        None => schema.default_database_type().to_owned(),
    };
    let ip_version = match ip_version.as_ref().map(|v| (*v.get_ref(), v.span())) {
        None | Some((6, _)) => IpVersion::V6,
        Some((4, _)) => IpVersion::V4,
        Some((v, span)) => {
            cx.error(
                start(&span),
                "ip_version",
                format!("must be 4 or 6, got {v}"),
            );
            IpVersion::V6
        }
    };
    let build_epoch = match &build_epoch {
        Some(e) if *e.get_ref() < 0 => {
            cx.error(
                start(&e.span()),
                "build_epoch",
                format!("must be seconds since 1970, got {}", e.get_ref()),
            );
            SystemTime::UNIX_EPOCH
        }
        Some(e) => SystemTime::UNIX_EPOCH + Duration::from_secs(*e.get_ref() as u64),
        None => std::env::var("SOURCE_DATE_EPOCH")
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .map_or_else(SystemTime::now, |s| {
                SystemTime::UNIX_EPOCH + Duration::from_secs(s)
            }),
    };
    if networks.get_ref().is_empty() {
        cx.error(start(&networks.span()), "networks", "lists no networks");
    }
    let mut entries = Vec::new();
    for (i, n) in networks.into_inner().into_iter().enumerate() {
        let at = n.span().start;
        if let Some(e) = network(cx, i, schema, ip_version, n.into_inner()) {
            entries.push(Entry { at, ..e });
        }
    }
    // Duplicates, through the same table the server uses for its own
    // networks, so both agree on what "the same network" is.
    if let Err(errs) = NetTable::build(entries.iter().map(|e| (e.net, ()))) {
        for e in errs {
            if let NetError::Duplicate { net, first, index } = e {
                let first_line = cx.lines.line_col(entries[first].at).0;
                cx.error(
                    entries[index].at,
                    &format!("networks[{index}].net"),
                    format!("network {net} is listed twice (first on line {first_line})"),
                );
            }
        }
    }
    Some(Source {
        schema,
        database_type,
        description: description.map(Spanned::into_inner),
        ip_version,
        build_epoch,
        entries,
    })
}

fn network(
    cx: &mut Cx<'_>,
    i: usize,
    schema: OutputSchema,
    ip_version: IpVersion,
    spec: NetworkSpec,
) -> Option<Entry> {
    let NetworkSpec {
        net,
        continent,
        country,
        subdivision,
        city,
        lat,
        lon,
    } = spec;
    let key = |k: &str| format!("networks[{i}].{k}");
    let mut ok = true;
    let parsed = match net.get_ref().parse::<IpNet>() {
        Ok(n) if n.trunc() != n => {
            cx.error(
                start(&net.span()),
                &key("net"),
                format!(
                    "\"{}\" has bits set beyond its /{} prefix (did you mean {}?)",
                    net.get_ref(),
                    n.prefix_len(),
                    n.trunc()
                ),
            );
            None
        }
        Ok(n) => Some(super::nets::canonical_net(n)),
        Err(_) => {
            cx.error(
                start(&net.span()),
                &key("net"),
                format!(
                    "\"{}\" is not a network (ADDRESS/PREFIX, e.g. 192.0.2.0/24)",
                    net.get_ref()
                ),
            );
            None
        }
    };
    if let Some(IpNet::V6(n)) = parsed
        && ip_version == IpVersion::V4
    {
        cx.error(
            start(&net.span()),
            &key("net"),
            format!("{n} is IPv6 but ip_version is 4"),
        );
        ok = false;
    }
    let mut code =
        |field: Option<&Spanned<String>>, name: &str, valid: fn(&str) -> bool, what: &str| {
            let f = field?;
            if valid(f.get_ref()) {
                Some(f.get_ref().clone())
            } else {
                cx.error(
                    start(&f.span()),
                    &key(name),
                    format!("\"{}\" is not {what}", f.get_ref()),
                );
                None
            }
        };
    let continent_s = code(
        continent.as_ref(),
        "continent",
        codes::is_continent,
        "a continent code (AF, AN, AS, EU, NA, OC, SA)",
    );
    let country_s = code(
        country.as_ref(),
        "country",
        codes::is_country,
        "an ISO 3166-1 alpha-2 country code",
    );
    let sub_s = code(
        subdivision.as_ref(),
        "subdivision",
        codes::is_subdivision,
        "an ISO 3166-2 subdivision code (e.g. US-CA)",
    );
    ok &= continent.is_none() == continent_s.is_none()
        && country.is_none() == country_s.is_none()
        && subdivision.is_none() == sub_s.is_none();
    let continent_v = continent_s.as_deref().and_then(Continent::from_code);
    let country_v = country_s.as_deref().and_then(Country::from_code);
    let sub_v = sub_s.as_deref().and_then(Subdivision::from_code);
    if let (Some(s), Some(sp)) = (sub_v, &subdivision) {
        match country_v {
            Some(c) if c != s.country() => {
                cx.error(
                    start(&sp.span()),
                    &key("subdivision"),
                    format!("{s} is not in country {c}"),
                );
                ok = false;
            }
            None if country.is_none() => {
                cx.error(
                    start(&sp.span()),
                    &key("subdivision"),
                    format!("needs the country too (country = \"{}\")", s.country()),
                );
                ok = false;
            }
            _ => {}
        }
    }
    if continent.is_none() && country.is_none() {
        cx.error(
            start(&net.span()),
            &key("net"),
            "gives no location: set country (and optionally continent, subdivision, city, lat/lon), or continent",
        );
        ok = false;
    }
    let mut range = |v: Option<&Spanned<f64>>, name: &str, max: f64| -> Option<f64> {
        let v = v?;
        let x = *v.get_ref();
        if x.is_finite() && (-max..=max).contains(&x) {
            Some(x)
        } else {
            cx.error(
                start(&v.span()),
                &key(name),
                format!("must be between {} and {max}, got {x}", -max),
            );
            None
        }
    };
    let lat_v = range(lat.as_ref(), "lat", 90.0);
    let lon_v = range(lon.as_ref(), "lon", 180.0);
    ok &= lat.is_none() == lat_v.is_none() && lon.is_none() == lon_v.is_none();
    let coords = match (&lat, &lon) {
        (Some(_), Some(_)) => lat_v.zip(lon_v),
        (None, None) => None,
        (Some(s), None) | (None, Some(s)) => {
            cx.error(
                start(&s.span()),
                &key(if lat.is_some() { "lat" } else { "lon" }),
                "lat and lon go together: set both or neither",
            );
            ok = false;
            None
        }
    };
    if coords == Some((0.0, 0.0)) {
        cx.error(
            start(&net.span()),
            &key("lat"),
            "0, 0 reads as \"unknown\" in GeoIP databases; leave lat/lon out instead",
        );
        ok = false;
    }
    let city_span = city.as_ref().map(Spanned::span);
    let city = match &city {
        Some(c) if c.get_ref().trim().is_empty() => {
            cx.error(start(&c.span()), &key("city"), "must not be empty");
            ok = false;
            None
        }
        c => c.as_ref().map(|c| c.get_ref().clone()),
    };
    // What the chosen schema cannot hold is an error, not silently lost.
    let mut unsupported = |present: bool, at: Option<Range<usize>>, name: &str, why: &str| {
        if present {
            cx.error(
                at.map_or(0, |r| r.start),
                &key(name),
                format!("the {schema} schema {why}"),
            );
            ok = false;
        }
    };
    if !schema.city_level() {
        unsupported(
            subdivision.is_some(),
            subdivision.as_ref().map(Spanned::span),
            "subdivision",
            "has no subdivisions (use a -city schema)",
        );
        unsupported(
            city_span.is_some(),
            city_span.clone(),
            "city",
            "has no cities (use a -city schema)",
        );
        unsupported(
            coords.is_some(),
            lat.as_ref().map(Spanned::span),
            "lat",
            "has no coordinates (use a -city schema)",
        );
    }
    if schema.flat() {
        unsupported(
            country.is_none() && continent.is_some(),
            continent.as_ref().map(Spanned::span),
            "continent",
            "has no continent field (readers derive it from the country): give a country",
        );
    }
    Some(Entry {
        net: parsed?,
        continent: continent_v,
        country: country_v,
        subdivision: sub_v,
        city,
        coords,
        at: 0,
    })
    .filter(|_| ok)
}

fn write(cx: &mut Cx<'_>, s: &Source) -> Option<(Vec<u8>, Summary)> {
    let description: Vec<(&str, &str)> = s.description.iter().map(|d| ("en", d.as_str())).collect();
    let mut w = Writer::builder(s.database_type.clone())
        .ip_version(s.ip_version)
        .build_epoch(s.build_epoch)
        .description(&description)
        .build();
    // Widest first: a later insert overwrites, so nested networks win
    // whatever their order in the file.
    let mut order: Vec<&Entry> = s.entries.iter().collect();
    order.sort_by_key(|e| (e.net.prefix_len(), e.net));
    for e in order {
        if let Err(err) = w.insert_value(e.net, record(s.schema, e)) {
            cx.error(e.at, "net", format!("cannot store {}: {err}", e.net));
        }
    }
    if !cx.errors.is_empty() {
        return None;
    }
    match w.to_bytes() {
        Ok(bytes) => {
            let summary = Summary {
                schema: s.schema,
                database_type: s.database_type.clone(),
                networks: s.entries.len(),
                bytes: bytes.len(),
            };
            Some((bytes, summary))
        }
        Err(err) => {
            cx.error(0, "", format!("cannot build the database: {err}"));
            None
        }
    }
}

fn names(en: &str) -> Value {
    Value::map([("names", Value::map([("en", Value::from(en))]))])
}

fn with(mut v: Value, key: &str, x: impl Into<Value>) -> Value {
    if let Value::Map(m) = &mut v {
        m.insert(key.to_owned(), x.into());
    }
    v
}

/// The record for one network in the vendor's layout.
fn record(schema: OutputSchema, e: &Entry) -> Value {
    let continent = e
        .continent
        .or_else(|| e.country.and_then(codes::continent_of_country));
    let mut fields: Vec<(&str, Value)> = Vec::new();
    if schema.flat() {
        if let Some(c) = e.country {
            fields.push(("country_code", c.code().into()));
        }
        if let Some(n) = e.subdivision.and_then(|s| s.name()) {
            fields.push(("state1", n.into()));
        }
        if let Some(c) = &e.city {
            fields.push(("city", c.as_str().into()));
        }
        if let Some((lat, lon)) = e.coords {
            fields.push(("latitude", lat.into()));
            fields.push(("longitude", lon.into()));
        }
        return Value::map(fields);
    }
    if let Some(c) = continent {
        fields.push(("continent", with(names(c.name()), "code", c.code())));
    }
    if let Some(c) = e.country {
        let v = with(
            names(codes::country_name(c).unwrap_or(c.code())),
            "iso_code",
            c.code(),
        );
        if matches!(
            schema,
            OutputSchema::Geoip2City | OutputSchema::Geoip2Country
        ) {
            fields.push(("registered_country", v.clone()));
        }
        fields.push(("country", v));
    }
    if let Some(s) = e.subdivision {
        let name = s.name().unwrap_or(s.local());
        let v = match schema {
            // DB-IP Lite names subdivisions without ISO codes.
            OutputSchema::DbipCity => names(name),
            _ => with(names(name), "iso_code", s.local()),
        };
        fields.push(("subdivisions", Value::array([v])));
    }
    if let Some(c) = &e.city {
        fields.push(("city", names(c)));
    }
    if let Some((lat, lon)) = e.coords {
        fields.push((
            "location",
            Value::map([
                ("latitude", Value::from(lat)),
                ("longitude", Value::from(lon)),
            ]),
        ));
    }
    Value::map(fields)
}
