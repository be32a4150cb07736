//! Where a client is: MaxMind-format GeoIP databases, operators' own
//! networks, and the project's own small database.
//!
//! - [`GeoDb`] opens a `.mmdb` (GeoIP2/GeoLite2 or DB-IP Lite City and
//!   Country, ip-location-db), detects its record shape, and answers
//!   [`GeoDb::locate`]: a [`Location`] and the prefix length of the network
//!   that decided it, without allocating.
//! - [`codes`]: continent, ISO 3166-1 country and ISO 3166-2 subdivision
//!   codes, their validation, and country → continent.
//! - [`nets::NetTable`]: longest-prefix match for custom networks (and any
//!   other per-prefix table read per query).
//! - [`client`]: where a client is — [`CustomNets`] (the operator's own
//!   networks) first, then the database — as a [`ClientLocation`] with the
//!   prefix length its ECS scope needs ([`locate_client`]).
//! - [`build`]: `dnslb geoip build`, a `.mmdb` from a readable TOML source,
//!   in any of the schemas above (the example database and test fixtures).
//! - [`tool`]: the `dnslb geoip build|lookup` commands.
//!
//! The database is read into memory when the snapshot is built (so a reload
//! picks up a replaced file); lookups happen on the query path, before a
//! policy runs, and only for names whose answer depends on the client.
//! Nothing here knows about config files or DNS.

pub mod build;
pub mod client;
pub mod codes;
pub mod nets;
mod record;
pub mod tool;

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use rustc_hash::FxHashMap;
use serde::de::IgnoredAny;

pub use client::{
    ClientLocation, CustomNets, CustomPlace, LocationSource, RegionId, locate_client,
};
pub use codes::{Continent, Country, Subdivision};
pub use nets::{NetTable, canonical, canonical_shift};
pub use record::Schema;

/// Where a client is, as far as the database knows. Small and `Copy`: the
/// query path passes it by value. At least one field is set (an empty
/// location is `None` at the [`GeoDb::locate`] level, never all-`None`).
#[derive(Copy, Clone, Debug, Default, PartialEq)]
pub struct Location {
    /// From the database, else derived from the country ([`codes`]).
    pub continent: Option<Continent>,
    /// ISO 3166-1 alpha-2.
    pub country: Option<Country>,
    /// ISO 3166-2, the largest subdivision the database gives (a US state,
    /// a UK nation).
    pub subdivision: Option<Subdivision>,
    /// Where the database places the network; `None` when it does not say.
    pub coords: Option<Coordinates>,
}

/// WGS 84 latitude and longitude in degrees, made only by
/// [`Coordinates::new`] (read the fields, do not change them: the point
/// on the unit sphere is computed there once, for distances).
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct Coordinates {
    /// -90..=90, north positive.
    pub lat: f64,
    /// -180..=180, east positive.
    pub lon: f64,
    /// The same point on the unit sphere, `[x, y, z]`: a distance is then
    /// one dot product, with no trigonometry per query.
    unit: [f64; 3],
}

impl Coordinates {
    /// `None` for out-of-range or non-finite values, and for exactly (0, 0),
    /// which databases write for "unknown" (no network is in the Gulf of
    /// Guinea); an unknown place must never look like a real one.
    pub fn new(lat: f64, lon: f64) -> Option<Self> {
        let ok = (-90.0..=90.0).contains(&lat)
            && (-180.0..=180.0).contains(&lon)
            && !(lat == 0.0 && lon == 0.0);
        ok.then(|| Self {
            lat,
            lon,
            unit: unit_vector(lat, lon),
        })
    }

    /// The point on the unit sphere: `[cos lat cos lon, cos lat sin lon,
    /// sin lat]`.
    #[inline]
    pub fn unit(&self) -> [f64; 3] {
        self.unit
    }
}

/// `[cos lat cos lon, cos lat sin lon, sin lat]` of a point in degrees.
pub fn unit_vector(lat: f64, lon: f64) -> [f64; 3] {
    let (sl, cl) = lat.to_radians().sin_cos();
    let (so, co) = lon.to_radians().sin_cos();
    [cl * co, cl * so, sl]
}

impl fmt::Display for Location {
    /// `continent=EU country=GB subdivision=GB-ENG lat=51.5074 lon=-0.1278`,
    /// leaving out what is unknown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut sep = "";
        if let Some(c) = self.continent {
            write!(f, "continent={c}")?;
            sep = " ";
        }
        if let Some(c) = self.country {
            write!(f, "{sep}country={c}")?;
            sep = " ";
        }
        if let Some(s) = self.subdivision {
            write!(f, "{sep}subdivision={s}")?;
            sep = " ";
        }
        if let Some(c) = self.coords {
            write!(f, "{sep}lat={} lon={}", c.lat, c.lon)?;
        }
        Ok(())
    }
}

/// Why a database could not be opened. Messages quote the path.
#[derive(Debug, thiserror::Error)]
pub enum GeoError {
    /// The file could not be read (missing, not a regular file, too
    /// large).
    #[error("cannot open GeoIP database \"{}\": {cause}", path.display())]
    Read {
        path: PathBuf,
        cause: crate::files::ReadError,
    },
    /// The bytes are not a MaxMind database. The cause is in the message,
    /// not a `source()`, so a printed error chain says it once.
    #[error("cannot open GeoIP database \"{}\": {cause}", path.display())]
    Open {
        path: PathBuf,
        cause: maxminddb::MaxMindDbError,
    },
    #[error("GeoIP database \"{}\" has no records", path.display())]
    Empty { path: PathBuf },
    #[error(
        "GeoIP database \"{}\" (type \"{database_type}\") has no location data: its records have {keys}; expected a GeoIP2/GeoLite2 or DB-IP City or Country database, or an ip-location-db one",
        path.display()
    )]
    NotLocation {
        path: PathBuf,
        database_type: String,
        keys: String,
    },
}

/// An opened MaxMind-format database and the record shape it uses.
pub struct GeoDb {
    reader: maxminddb::Reader<Vec<u8>>,
    schema: Schema,
    path: PathBuf,
    decoded: Decoded,
}

/// Every record of the database decoded once, at open: the data-section
/// offset a lookup lands on → its [`Location`].
///
/// Decoding a record on each query costs about ten thousand instructions
/// for a GeoLite2-City record (serde walks past eight-language name maps
/// the location never uses), against about 700 for the tree walk; the
/// table makes it one hash probe. Records differ mostly in fields we do not
/// read (postal code, accuracy radius, city id), so offsets map to indices
/// into a de-duplicated list, 8 bytes an offset. Past [`DECODED_MAX`]
/// distinct offsets the rest decode per lookup: slower, still without
/// allocating, so memory stays bounded for any database.
#[derive(Default)]
struct Decoded {
    by_offset: FxHashMap<u32, u32>,
    locations: Vec<Option<Location>>,
}

/// Distinct records decoded at open (a [`Location`], at most 64 bytes, each,
/// plus 8 bytes per offset).
pub const DECODED_MAX: usize = 4_000_000;

impl GeoDb {
    /// Read `path` into memory, check it is a MaxMind DB, detect its
    /// schema from the shape of its first record, and decode every record
    /// once (see [`Decoded`]; this walks the whole tree, so a damaged file
    /// fails here rather than on a query). The server's way in: it runs
    /// while a snapshot is built, off the query path.
    pub fn open(path: &Path) -> Result<Self, GeoError> {
        Self::open_undecoded(path)?.decode_all()
    }

    /// As [`open`](Self::open), from bytes already read; `path` names them
    /// in errors and logs.
    pub fn from_bytes(bytes: Vec<u8>, path: &Path) -> Result<Self, GeoError> {
        Self::from_bytes_undecoded(bytes, path)?.decode_all()
    }

    /// As [`open`](Self::open) without decoding the records up front: each
    /// lookup decodes its record. For tools that look up a few addresses.
    pub fn open_undecoded(path: &Path) -> Result<Self, GeoError> {
        // A FIFO or a device is refused at once, not waited on.
        let bytes = crate::files::read(path, crate::files::FileKind::GEOIP).map_err(|cause| {
            GeoError::Read {
                path: path.to_owned(),
                cause,
            }
        })?;
        Self::from_bytes_undecoded(bytes, path)
    }

    /// As [`from_bytes`](Self::from_bytes) without decoding up front.
    pub fn from_bytes_undecoded(bytes: Vec<u8>, path: &Path) -> Result<Self, GeoError> {
        let path = path.to_owned();
        let reader = maxminddb::Reader::from_source(bytes).map_err(|cause| GeoError::Open {
            path: path.clone(),
            cause,
        })?;
        let schema = detect(&reader, &path)?;
        codes::warm();
        Ok(Self {
            reader,
            schema,
            path,
            decoded: Decoded::default(),
        })
    }

    /// Decode every record once (see [`Decoded`]).
    fn decode_all(mut self) -> Result<Self, GeoError> {
        let err = |cause| GeoError::Open {
            path: self.path.clone(),
            cause,
        };
        let mut decoded = Decoded::default();
        // Locations are f64-bearing, so de-duplicate on their bit patterns.
        let mut seen: FxHashMap<[u64; 6], u32> = FxHashMap::default();
        let networks = self
            .reader
            .networks(maxminddb::WithinOptions::default())
            .map_err(err)?;
        for item in networks {
            let found = item.map_err(err)?;
            let Some(offset) = found.offset().and_then(|o| u32::try_from(o).ok()) else {
                continue;
            };
            if decoded.by_offset.contains_key(&offset) {
                continue;
            }
            if decoded.by_offset.len() >= DECODED_MAX {
                break;
            }
            let loc = self.schema.decode(&found);
            let next = decoded.locations.len() as u32;
            let index = *seen.entry(location_key(loc)).or_insert(next);
            if index == next {
                decoded.locations.push(loc);
            }
            decoded.by_offset.insert(offset, index);
        }
        decoded.by_offset.shrink_to_fit();
        decoded.locations.shrink_to_fit();
        self.decoded = decoded;
        Ok(self)
    }

    /// Distinct records decoded at open (0 for an undecoded database).
    pub fn decoded_records(&self) -> usize {
        self.decoded.by_offset.len()
    }

    /// Where `addr` is, and the prefix length of the database network that
    /// decided it (the ECS scope it supports). IPv4-mapped IPv6 is looked
    /// up, and its prefix given, as IPv4. `None` when the database has no
    /// location for the address, and always for special-purpose addresses
    /// ([`special_purpose`]), whatever the database says. Allocates nothing.
    #[inline]
    pub fn locate(&self, addr: IpAddr) -> Option<(Location, u8)> {
        match self.lookup(addr) {
            (Some(l), p) => Some((l, p)),
            (None, _) => None,
        }
    }

    /// Like [`locate`](Self::locate), but also gives the prefix length of
    /// the block the database has no location for, so an answer that does
    /// not depend on the location can still be scoped.
    #[inline]
    pub fn lookup(&self, addr: IpAddr) -> (Option<Location>, u8) {
        let ip = canonical(addr);
        if let Some(prefix) = special_purpose(ip) {
            return (None, prefix);
        }
        let Ok(found) = self.reader.lookup(ip) else {
            // IPv6 in an IPv4-only database: nothing for the whole family.
            return (None, 0);
        };
        let prefix = match found.network() {
            Ok(n) if n.is_ipv4() == ip.is_ipv4() => n.prefix(),
            // An IPv4 address matched above the IPv4 subtree of an IPv6
            // database (no `::/96` subtree): that record covers all of IPv4.
            Ok(_) => 0,
            Err(_) => 0,
        };
        let loc = match found.offset() {
            None => None,
            Some(offset) => match self.decoded.by_offset.get(&(offset as u32)) {
                Some(&i) => self.decoded.locations[i as usize],
                None => self.schema.decode(&found),
            },
        };
        (loc, prefix)
    }

    /// The record layout detected at open.
    pub fn schema(&self) -> Schema {
        self.schema
    }

    /// The metadata's `database_type`, e.g. `GeoLite2-City`.
    pub fn database_type(&self) -> &str {
        &self.reader.metadata().database_type
    }

    /// The file it was read from (as given).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The raw reader, for tools that print more than [`Location`] (the
    /// city name in `dnslb geoip lookup`).
    pub fn reader(&self) -> &maxminddb::Reader<Vec<u8>> {
        &self.reader
    }
}

impl fmt::Debug for GeoDb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.reader.metadata();
        f.debug_struct("GeoDb")
            .field("path", &self.path)
            .field("database_type", &m.database_type)
            .field("schema", &self.schema)
            .field("build_epoch", &m.build_epoch)
            .finish()
    }
}

impl fmt::Display for GeoDb {
    /// `geoip/example.mmdb (dnslb-Example-City, GeoIP2-compatible ...)`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}, {})",
            self.path.display(),
            self.database_type(),
            self.schema.describe()
        )
    }
}

/// A hashable stand-in for a location: equal keys, equal locations.
fn location_key(l: Option<Location>) -> [u64; 6] {
    let Some(l) = l else { return [u64::MAX; 6] };
    let code = |s: &str| s.bytes().fold(0u64, |a, b| a << 8 | b as u64);
    [
        l.continent.map_or(0, |c| code(c.code())),
        l.country.map_or(0, |c| code(c.code())),
        l.subdivision
            .map_or(0, |s| code(s.local()) << 16 | code(s.country().code())),
        l.coords.map_or(0, |c| c.lat.to_bits()),
        l.coords.map_or(0, |c| c.lon.to_bits()),
        l.coords.is_some() as u64,
    ]
}

/// The prefix length of the special-purpose block (RFC 6890 and its
/// updates) holding `ip`, for blocks that have no place on a map: private
/// (RFC 1918, IPv6 ULA), shared (CGNAT, RFC 6598), loopback, link-local,
/// "this network", multicast and the reserved 240/4. A database must not
/// place them (ip-location-db's country data puts 192.168.0.0/16 in AU);
/// an operator who wants their private resolvers placed maps them with
/// custom networks. Documentation ranges are not in the list: dnslb's own
/// example database and tests use them.
pub fn special_purpose(ip: IpAddr) -> Option<u8> {
    const V6: [(u128, u8); 5] = [
        (0, 128),            // ::
        (1, 128),            // ::1
        (0xfc00 << 112, 7),  // fc00::/7 unique local
        (0xfe80 << 112, 10), // fe80::/10 link-local
        (0xff00 << 112, 8),  // ff00::/8 multicast
    ];
    match ip {
        // By first octet: this runs on every located query.
        IpAddr::V4(a) => match a.octets() {
            [0 | 10 | 127, ..] => Some(8), // "this network", 10/8, loopback
            [100, b, ..] if b & 0xC0 == 64 => Some(10), // 100.64.0.0/10 shared
            [169, 254, ..] => Some(16),    // link-local
            [172, b, ..] if b & 0xF0 == 16 => Some(12), // 172.16.0.0/12
            [192, 168, ..] => Some(16),    // 192.168.0.0/16
            [224..=255, ..] => Some(4),    // multicast 224/4, reserved 240/4
            _ => None,
        },
        IpAddr::V6(a) => {
            let a = a.to_bits();
            V6.iter()
                .find(|&&(net, len)| a & (u128::MAX << (128 - len as u32)) == net)
                .map(|e| e.1)
        }
    }
}

/// The schema of a database: from the shape of its first record with data,
/// since vendors name their `database_type` freely ("GeoLite2-City",
/// "DBIP-City-Lite", "country ipvAll").
fn detect(reader: &maxminddb::Reader<Vec<u8>>, path: &Path) -> Result<Schema, GeoError> {
    let networks = reader
        .networks(maxminddb::WithinOptions::default())
        .map_err(|cause| GeoError::Open {
            path: path.to_owned(),
            cause,
        })?;
    for item in networks {
        let found = item.map_err(|cause| GeoError::Open {
            path: path.to_owned(),
            cause,
        })?;
        let not_location = |keys: String| GeoError::NotLocation {
            path: path.to_owned(),
            database_type: reader.metadata().database_type.clone(),
            keys,
        };
        let record = match found.decode::<BTreeMap<&str, IgnoredAny>>() {
            Ok(Some(r)) => r,
            Ok(None) => continue,
            Err(_) => return Err(not_location("no fields (they are not maps)".into())),
        };
        return Schema::from_keys(record.keys().copied()).ok_or_else(|| {
            not_location(if record.is_empty() {
                "no fields".into()
            } else {
                record.keys().copied().collect::<Vec<_>>().join(", ")
            })
        });
    }
    Err(GeoError::Empty {
        path: path.to_owned(),
    })
}

#[cfg(test)]
mod tests;
