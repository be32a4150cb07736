//! The record shapes of the MaxMind-format databases we read, as borrowed
//! serde structs: strings point into the database buffer, unknown fields
//! are skipped without being decoded, and the subdivision list is read up
//! to its first entry, so decoding a record allocates nothing.
//!
//! Two shapes cover the common databases:
//! - [`Schema::GeoIp2`]: MaxMind GeoIP2 / GeoLite2 City and Country, and
//!   DB-IP Lite City and Country, which copy GeoIP2's layout
//!   (`continent.code`, `country.iso_code`, `subdivisions[0].iso_code` or,
//!   in DB-IP, only `subdivisions[0].names.en`, `location.latitude`).
//! - [`Schema::Flat`]: ip-location-db (`country_code`, `state1` as a name,
//!   `latitude`, `longitude`; no continent).

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, SeqAccess, Visitor};

use super::codes::{Continent, Country, Subdivision, continent_of_country, subdivision_by_name};
use super::{Coordinates, Location};

/// Which record layout a database uses, detected when it is opened.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Schema {
    /// GeoIP2-compatible nested records (MaxMind, DB-IP).
    GeoIp2,
    /// ip-location-db flat records.
    Flat,
}

impl Schema {
    /// Decide from the keys of one record; `None` when the record has no
    /// location fields (an ASN or ISP database, say).
    pub fn from_keys<'k>(keys: impl IntoIterator<Item = &'k str>) -> Option<Self> {
        let mut nested = false;
        let mut flat = false;
        for k in keys {
            match k {
                "continent" | "country" | "registered_country" | "subdivisions" | "location" => {
                    nested = true
                }
                "country_code" => flat = true,
                _ => {}
            }
        }
        if nested {
            Some(Self::GeoIp2)
        } else if flat {
            Some(Self::Flat)
        } else {
            None
        }
    }

    /// For logs and `dnslb geoip lookup`: `GeoIP2 schema`, `ip-location-db schema`.
    pub fn describe(self) -> &'static str {
        match self {
            Self::GeoIp2 => "GeoIP2 schema",
            Self::Flat => "ip-location-db schema",
        }
    }

    /// Decode the record a lookup found. `None` when it carries no usable
    /// location or does not decode (a damaged database).
    #[inline]
    pub fn decode<S: AsRef<[u8]>>(self, r: &maxminddb::LookupResult<'_, S>) -> Option<Location> {
        let loc = match self {
            Self::GeoIp2 => r.decode::<GeoIp2Record<'_>>().ok()??.location(),
            Self::Flat => r.decode::<FlatRecord<'_>>().ok()??.location(),
        };
        loc.finish()
    }
}

impl Location {
    /// Fill the continent from the country when the record had none, and
    /// turn an empty record into `None`.
    fn finish(mut self) -> Option<Self> {
        if self.continent.is_none() {
            self.continent = self.country.and_then(continent_of_country);
        }
        (self != Location::default()).then_some(self)
    }
}

#[derive(Deserialize)]
struct GeoIp2Record<'a> {
    #[serde(borrow)]
    continent: Option<CodeField<'a>>,
    #[serde(borrow)]
    country: Option<IsoField<'a>>,
    #[serde(borrow)]
    registered_country: Option<IsoField<'a>>,
    #[serde(borrow, default, deserialize_with = "first_subdivision")]
    subdivisions: Option<SubdivisionField<'a>>,
    #[serde(default)]
    location: Option<LocationField>,
}

#[derive(Deserialize)]
struct CodeField<'a> {
    #[serde(borrow)]
    code: Option<&'a str>,
}

#[derive(Deserialize)]
struct IsoField<'a> {
    #[serde(borrow)]
    iso_code: Option<&'a str>,
}

#[derive(Deserialize)]
struct SubdivisionField<'a> {
    #[serde(borrow)]
    iso_code: Option<&'a str>,
    #[serde(borrow)]
    names: Option<Names<'a>>,
}

#[derive(Deserialize)]
struct Names<'a> {
    #[serde(borrow)]
    en: Option<&'a str>,
}

#[derive(Deserialize)]
struct LocationField {
    #[serde(default, deserialize_with = "number")]
    latitude: Option<f64>,
    #[serde(default, deserialize_with = "number")]
    longitude: Option<f64>,
}

impl GeoIp2Record<'_> {
    fn location(&self) -> Location {
        // `country` is where the address is; `registered_country` (where the
        // block is registered) stands in when a record has only that, as
        // for some anycast and satellite blocks.
        let country = self
            .country
            .as_ref()
            .and_then(|c| c.iso_code)
            .or_else(|| self.registered_country.as_ref().and_then(|c| c.iso_code))
            .and_then(Country::from_code);
        let subdivision = country.and_then(|c| {
            let s = self.subdivisions.as_ref()?;
            match s.iso_code {
                Some(code) => Subdivision::new(c, code),
                None => subdivision_by_name(c, s.names.as_ref()?.en?),
            }
        });
        Location {
            continent: self
                .continent
                .as_ref()
                .and_then(|c| c.code)
                .and_then(Continent::from_code),
            country,
            subdivision,
            coords: self
                .location
                .as_ref()
                .and_then(|l| Coordinates::new(l.latitude?, l.longitude?)),
        }
    }
}

#[derive(Deserialize)]
struct FlatRecord<'a> {
    #[serde(borrow)]
    country_code: Option<&'a str>,
    #[serde(borrow)]
    state1: Option<&'a str>,
    #[serde(default, deserialize_with = "number")]
    latitude: Option<f64>,
    #[serde(default, deserialize_with = "number")]
    longitude: Option<f64>,
}

impl FlatRecord<'_> {
    fn location(&self) -> Location {
        let country = self.country_code.and_then(Country::from_code);
        Location {
            continent: None,
            country,
            subdivision: country.and_then(|c| subdivision_by_name(c, self.state1?)),
            coords: self
                .latitude
                .zip(self.longitude)
                .and_then(|(lat, lon)| Coordinates::new(lat, lon)),
        }
    }
}

/// The first element of GeoIP2's `subdivisions` array (the largest
/// subdivision, the ISO 3166-2 one); the rest are skipped, not collected.
fn first_subdivision<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<SubdivisionField<'de>>, D::Error> {
    struct First;
    impl<'de> Visitor<'de> for First {
        type Value = Option<SubdivisionField<'de>>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an array of subdivisions")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let first = seq.next_element::<SubdivisionField<'de>>()?;
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(first)
        }
    }
    d.deserialize_seq(First)
}

/// A coordinate stored as double (GeoIP2), float, integer or string
/// (seen in converted databases).
fn number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    struct Num;
    impl<'de> Visitor<'de> for Num {
        type Value = Option<f64>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a number")
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            Ok(Some(v))
        }
        fn visit_f32<E: de::Error>(self, v: f32) -> Result<Self::Value, E> {
            Ok(Some(v as f64))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v as f64))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v as f64))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(v.trim().parse().ok())
        }
    }
    d.deserialize_any(Num)
}
