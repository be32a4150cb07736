//! Where a client is, for the orders that depend on it (geo now, latency
//! next): the operator's own networks first, then the GeoIP database.
//!
//! [`CustomNets`] is the operator's table (offices, private resolvers, their
//! own networks): CIDR → a custom region and/or a place, compiled once per
//! snapshot. [`locate_client`] looks an address up in it and, on a miss, in
//! the database, and returns a [`ClientLocation`]: what was found, where it
//! came from, and the prefix length of the block of addresses that share
//! this answer — the ECS scope (RFC 7871 §7.2.1) of any answer decided by
//! it. A custom network wins over the database whatever its length: the
//! operator knows their own networks better than any vendor.
//!
//! The scope rule on a miss: the custom table reports the width of the
//! uncovered block around the address and the database the width of its
//! network; both blocks hold the address and are aligned, so the block on
//! which the whole lookup gives the same result is the narrower one, the
//! longer prefix. gdnsd applies the same "narrowest wins" rule when it
//! combines its `nets` with a GeoIP map (`plugapi.h`
//! `gdnsd_result_add_scope_mask`).
//!
//! Nothing here allocates per lookup.

use std::fmt;
use std::net::IpAddr;

use super::nets::{NetError, NetTable};
use super::{GeoDb, Location};

/// A custom region: an index into [`CustomNets::regions`]. Region names are
/// declared by the networks that use them.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RegionId(pub u16);

/// What a custom network says about its clients: a region, a place, or
/// both. The place's continent and country are completed from the finer
/// codes when the operator left them out (see [`CustomPlace::new`]).
#[derive(Copy, Clone, Debug, Default, PartialEq)]
pub struct CustomPlace {
    pub region: Option<RegionId>,
    pub location: Location,
}

impl CustomPlace {
    /// A place from the operator's codes: the country defaults to the
    /// subdivision's, the continent to the country's (GeoNames' table, as
    /// for databases without one).
    pub fn new(region: Option<RegionId>, mut location: Location) -> Self {
        if location.country.is_none() {
            location.country = location.subdivision.map(|s| s.country());
        }
        if location.continent.is_none() {
            location.continent = location.country.and_then(|c| c.continent());
        }
        Self { region, location }
    }
}

/// The operator's networks, compiled: longest prefix wins. Cheap to share
/// (`Arc`) between every name of a policy file.
#[derive(Debug, Default)]
pub struct CustomNets {
    table: NetTable<CustomPlace>,
    regions: Box<[String]>,
}

impl CustomNets {
    /// Build from `(network, place)` pairs and the region names the places
    /// refer to (`RegionId(i)` is `regions[i]`). Errors name entry indices
    /// (see [`NetTable::build`]).
    pub fn new(
        entries: impl IntoIterator<Item = (ipnet::IpNet, CustomPlace)>,
        regions: Vec<String>,
    ) -> Result<Self, Vec<NetError>> {
        Ok(Self {
            table: NetTable::build(entries)?,
            regions: regions.into_boxed_slice(),
        })
    }

    /// The region names, indexed by [`RegionId`].
    pub fn regions(&self) -> &[String] {
        &self.regions
    }

    /// The name of region `id` (`"?"` for an id from another table).
    pub fn region_name(&self, id: RegionId) -> &str {
        self.regions
            .get(usize::from(id.0))
            .map_or("?", String::as_str)
    }

    /// The id of the region called `name`.
    pub fn region(&self, name: &str) -> Option<RegionId> {
        self.regions
            .iter()
            .position(|r| r == name)
            .map(|i| RegionId(i as u16))
    }

    /// The networks and what they say.
    pub fn table(&self) -> &NetTable<CustomPlace> {
        &self.table
    }

    /// No networks at all.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }
}

/// Where a [`ClientLocation`] came from.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum LocationSource {
    /// A custom network matched.
    Custom,
    /// The GeoIP database had a location for the address.
    Database,
    /// Neither knows the address (or it is special-purpose, or there is
    /// no database): the location is empty.
    Unknown,
}

/// Where a client is: the result of [`locate_client`].
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct ClientLocation {
    /// Empty (every field `None`) when unknown, or when a custom network
    /// gives only a region.
    pub location: Location,
    /// The custom region, when a custom network gives one.
    pub region: Option<RegionId>,
    pub source: LocationSource,
    /// Prefix length of the block around the address that gets this same
    /// result (module docs): the ECS scope of an answer decided by it,
    /// before the cap at the query's source prefix. In the terms of the
    /// address looked up: 0..=32 for IPv4, 96..=128 for IPv4-mapped IPv6.
    pub prefix: u8,
}

impl ClientLocation {
    /// Nothing known, for any address of the family (scope 0).
    pub const UNKNOWN: ClientLocation = ClientLocation {
        location: Location {
            continent: None,
            country: None,
            subdivision: None,
            coords: None,
        },
        region: None,
        source: LocationSource::Unknown,
        prefix: 0,
    };
}

impl fmt::Display for LocationSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Custom => "custom network",
            Self::Database => "database",
            Self::Unknown => "unknown",
        })
    }
}

/// Locate `addr`: custom networks first, then `db` (module docs). IPv4-mapped
/// IPv6 is looked up as IPv4; its prefix is given back in IPv6 terms
/// (+96), the family the client was named in, as an ECS option of family
/// 2 needs. Allocates nothing.
#[inline]
pub fn locate_client(nets: &CustomNets, db: Option<&GeoDb>, addr: IpAddr) -> ClientLocation {
    let mut at = locate(nets, db, addr);
    let (_, shift) = super::canonical_shift(addr);
    at.prefix = (at.prefix + shift).min(128);
    at
}

#[inline]
fn locate(nets: &CustomNets, db: Option<&GeoDb>, addr: IpAddr) -> ClientLocation {
    // No custom networks (the common case): nothing to look up, and the
    // miss block is the whole address space.
    let (hit, miss_prefix) = if nets.table.is_empty() {
        (None, 0)
    } else {
        nets.table.lookup(addr)
    };
    if let Some(place) = hit {
        return ClientLocation {
            location: place.location,
            region: place.region,
            source: LocationSource::Custom,
            prefix: miss_prefix,
        };
    }
    let Some(db) = db else {
        return ClientLocation {
            prefix: miss_prefix,
            ..ClientLocation::UNKNOWN
        };
    };
    let (found, db_prefix) = db.lookup(addr);
    ClientLocation {
        location: found.unwrap_or_default(),
        region: None,
        source: if found.is_some() {
            LocationSource::Database
        } else {
            LocationSource::Unknown
        },
        prefix: miss_prefix.max(db_prefix),
    }
}

#[cfg(test)]
mod tests {
    use super::super::build::build_bytes;
    use super::super::{Continent, Country, Subdivision};
    use super::*;

    fn net(s: &str) -> ipnet::IpNet {
        s.parse().unwrap()
    }

    fn db() -> GeoDb {
        let text = r#"
networks = [
  { net = "192.0.2.0/24", country = "US", subdivision = "US-CA" },
  { net = "192.0.2.128/25", country = "CA" },
  { net = "2001:db8::/32", country = "DE" },
]
"#;
        let path = std::path::Path::new("t.toml");
        let (bytes, _) = build_bytes(text, path).unwrap();
        GeoDb::from_bytes(bytes, path).unwrap()
    }

    fn nets() -> CustomNets {
        let office = CustomPlace::new(
            Some(RegionId(0)),
            Location {
                subdivision: Subdivision::from_code("DE-BE"),
                ..Location::default()
            },
        );
        CustomNets::new(
            [
                (net("192.0.2.64/26"), office),
                (
                    net("10.1.0.0/16"),
                    CustomPlace::new(Some(RegionId(1)), Location::default()),
                ),
            ],
            vec!["berlin-office".into(), "vpn".into()],
        )
        .unwrap()
    }

    #[test]
    fn custom_networks_beat_the_database() {
        let (db, nets) = (db(), nets());
        let l = locate_client(&nets, Some(&db), "192.0.2.70".parse().unwrap());
        assert_eq!(l.source, LocationSource::Custom);
        assert_eq!(l.region, Some(RegionId(0)));
        assert_eq!(nets.region_name(RegionId(0)), "berlin-office");
        // completed from the subdivision
        assert_eq!(l.location.country, Country::from_code("DE"));
        assert_eq!(l.location.continent, Some(Continent::EU));
        assert_eq!(l.prefix, 26);
        // a private network is located only by a custom network
        let l = locate_client(&nets, Some(&db), "10.1.2.3".parse().unwrap());
        assert_eq!(
            (l.source, l.region, l.prefix),
            (LocationSource::Custom, Some(RegionId(1)), 16)
        );
        assert_eq!(l.location, Location::default());
        let l = locate_client(&nets, Some(&db), "10.2.2.3".parse().unwrap());
        assert_eq!(
            (l.source, l.location),
            (LocationSource::Unknown, Location::default())
        );
    }

    #[test]
    fn scope_is_the_narrower_of_the_custom_miss_and_the_database_network() {
        let (db, nets) = (db(), nets());
        // 192.0.2.0/26: the custom /26 next door splits the database /24
        let l = locate_client(&nets, Some(&db), "192.0.2.1".parse().unwrap());
        assert_eq!(l.source, LocationSource::Database);
        assert_eq!(l.location.subdivision, Subdivision::from_code("US-CA"));
        assert_eq!(l.prefix, 26);
        // 192.0.2.128/25: the database's own network is the narrower
        let l = locate_client(&nets, Some(&db), "192.0.2.200".parse().unwrap());
        assert_eq!(l.location.country, Country::from_code("CA"));
        assert_eq!(l.prefix, 25);
        // IPv4-mapped counts as IPv4, its prefix in IPv6 terms
        let l = locate_client(&nets, Some(&db), "::ffff:192.0.2.200".parse().unwrap());
        assert_eq!(
            (l.location.country, l.prefix),
            (Country::from_code("CA"), 96 + 25)
        );
        // IPv6 from the database, no custom IPv6 networks: the DB's /32
        let l = locate_client(&nets, Some(&db), "2001:db8:1::1".parse().unwrap());
        assert_eq!(
            (l.location.country, l.prefix),
            (Country::from_code("DE"), 32)
        );
        // private address: unknown, scoped to its special-purpose block
        // (10/8), narrowed by the custom 10.1/16 beside it to 10.0/16
        let l = locate_client(&nets, Some(&db), "10.0.0.1".parse().unwrap());
        assert_eq!((l.source, l.prefix), (LocationSource::Unknown, 16));
        let l = locate_client(&nets, Some(&db), "10.128.0.1".parse().unwrap());
        assert_eq!((l.source, l.prefix), (LocationSource::Unknown, 9));
    }

    #[test]
    fn without_a_database_only_custom_networks_locate() {
        let nets = nets();
        let l = locate_client(&nets, None, "192.0.2.1".parse().unwrap());
        assert_eq!((l.source, l.prefix), (LocationSource::Unknown, 26));
        let l = locate_client(&CustomNets::default(), None, "192.0.2.1".parse().unwrap());
        assert_eq!(l, ClientLocation::UNKNOWN);
    }
}
