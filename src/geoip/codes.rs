//! Place codes: continents, ISO 3166-1 alpha-2 countries and ISO 3166-2
//! subdivisions, as small `Copy` values, with validation and the
//! country → continent table used when a database has no continent.
//!
//! The ISO data comes from the `keshvar` crate (ISO 3166-1 and 3166-2 with
//! English names, from the `countries` Ruby gem). Its continents follow the
//! seven-continent model MaxMind uses (`AF AN AS EU NA OC SA`), but for five
//! codes it disagrees with GeoNames `countryInfo.txt`, which is where MaxMind
//! GeoIP2/GeoLite2 take their continent from; [`GEONAMES_CONTINENT`] pins
//! those so a country resolves to the same continent whether the database
//! carries one (GeoIP2, DB-IP) or not (ip-location-db). The pinned values
//! also agree with the `countries-list` npm package, except that it puts RU
//! in Asia where GeoNames and MaxMind put it in Europe.
//!
//! The tables are built once, on first use, from keshvar's data (which
//! allocates) and are plain arrays and sorted vectors afterwards, so the
//! query path reads them without allocating or locking.

use std::fmt;
use std::sync::LazyLock;

/// One of the seven continents, with MaxMind's two-letter codes.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Continent {
    /// Africa
    AF,
    /// Antarctica
    AN,
    /// Asia
    AS,
    /// Europe
    EU,
    /// North America (with Central America and the Caribbean)
    NA,
    /// Oceania
    OC,
    /// South America
    SA,
}

impl Continent {
    /// Every continent, in code order.
    pub const ALL: [Continent; 7] = [
        Self::AF,
        Self::AN,
        Self::AS,
        Self::EU,
        Self::NA,
        Self::OC,
        Self::SA,
    ];

    /// The two-letter code, e.g. `"EU"`.
    pub fn code(self) -> &'static str {
        match self {
            Self::AF => "AF",
            Self::AN => "AN",
            Self::AS => "AS",
            Self::EU => "EU",
            Self::NA => "NA",
            Self::OC => "OC",
            Self::SA => "SA",
        }
    }

    /// English name, as in GeoIP2's `continent.names.en`.
    pub fn name(self) -> &'static str {
        match self {
            Self::AF => "Africa",
            Self::AN => "Antarctica",
            Self::AS => "Asia",
            Self::EU => "Europe",
            Self::NA => "North America",
            Self::OC => "Oceania",
            Self::SA => "South America",
        }
    }

    /// A dense index, `0..7`, in [`ALL`](Self::ALL) order.
    pub fn index(self) -> usize {
        self as usize
    }

    /// Parse a code, case-insensitively (`"eu"`, `"EU"`).
    pub fn from_code(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        if b.len() != 2 {
            return None;
        }
        let up = [b[0].to_ascii_uppercase(), b[1].to_ascii_uppercase()];
        Self::ALL.into_iter().find(|c| c.code().as_bytes() == up)
    }
}

impl fmt::Display for Continent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.code())
    }
}

/// An ISO 3166-1 alpha-2 country code: two uppercase ASCII letters.
///
/// Construction checks only the shape; [`is_country`] says whether the code
/// is assigned. A database may carry codes we do not know (new assignments,
/// `XK`, vendor pseudo-codes); they are kept as they are.
#[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Country([u8; 2]);

impl Country {
    /// Two ASCII letters, either case; `None` for any other shape.
    pub fn from_code(s: &str) -> Option<Self> {
        match s.as_bytes() {
            [a, b] if a.is_ascii_alphabetic() && b.is_ascii_alphabetic() => {
                Some(Self([a.to_ascii_uppercase(), b.to_ascii_uppercase()]))
            }
            _ => None,
        }
    }

    /// The code, e.g. `"US"`.
    pub fn code(&self) -> &str {
        // Only ASCII letters are ever stored.
        std::str::from_utf8(&self.0).unwrap_or("??")
    }

    /// The continent of this country (GeoNames' assignment; see the module
    /// docs), or `None` for a code that is not assigned.
    pub fn continent(self) -> Option<Continent> {
        continent_of_country(self)
    }

    /// A dense index, `0..Country::COUNT`, for per-country tables that
    /// a query reads without hashing (`AA` = 0, `ZZ` = 675).
    pub fn index(self) -> usize {
        (self.0[0] - b'A') as usize * 26 + (self.0[1] - b'A') as usize
    }

    /// Size of a table indexed by [`index`](Self::index).
    pub const COUNT: usize = 26 * 26;
}

impl fmt::Display for Country {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.code())
    }
}

impl fmt::Debug for Country {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Country({})", self.code())
    }
}

/// An ISO 3166-2 subdivision code such as `US-CA` or `GB-ENG`: the country
/// and one to three ASCII letters or digits, stored inline.
#[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Subdivision {
    country: Country,
    code: [u8; 3],
    len: u8,
}

impl Subdivision {
    /// A subdivision of `country` from its local part (`"CA"` for US-CA),
    /// as GeoIP2 stores it in `subdivisions[].iso_code`. Checks the shape
    /// only: one to three ASCII letters or digits, uppercased.
    pub fn new(country: Country, local: &str) -> Option<Self> {
        let b = local.as_bytes();
        if b.is_empty() || b.len() > 3 || !b.iter().all(u8::is_ascii_alphanumeric) {
            return None;
        }
        let mut code = [0u8; 3];
        for (d, s) in code.iter_mut().zip(b) {
            *d = s.to_ascii_uppercase();
        }
        Some(Self {
            country,
            code,
            len: b.len() as u8,
        })
    }

    /// Parse a full code, `"US-CA"` (either case). Checks the shape only;
    /// [`is_subdivision`] says whether the code is assigned.
    pub fn from_code(s: &str) -> Option<Self> {
        let (cc, local) = s.split_once('-')?;
        Self::new(Country::from_code(cc)?, local)
    }

    /// The country part, `US` for US-CA.
    pub fn country(&self) -> Country {
        self.country
    }

    /// The part after the dash, e.g. `"CA"`.
    pub fn local(&self) -> &str {
        std::str::from_utf8(&self.code[..self.len as usize]).unwrap_or("?")
    }

    /// English name from the ISO 3166-2 data, when the code is assigned.
    pub fn name(&self) -> Option<&'static str> {
        let t = &*TABLES;
        t.subdivisions
            .binary_search_by(|(s, _)| s.cmp(self))
            .ok()
            .map(|i| t.subdivisions[i].1)
    }
}

impl fmt::Display for Subdivision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.country, self.local())
    }
}

impl fmt::Debug for Subdivision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Subdivision({self})")
    }
}

/// Codes where GeoNames `countryInfo.txt` (MaxMind's continent source)
/// differs from keshvar, or that keshvar lacks: `XK` (Kosovo) is a
/// user-assigned code that MaxMind, GeoNames and the EU use.
pub const GEONAMES_CONTINENT: [(&str, Continent); 5] = [
    ("CY", Continent::EU),
    ("TF", Continent::AN),
    ("TL", Continent::OC),
    ("TR", Continent::AS),
    ("XK", Continent::EU),
];

struct Tables {
    /// `Continent::ALL` index + 1 per country (26 × 26 letters), 0 = unassigned.
    continent: [u8; 26 * 26],
    /// Every ISO 3166-2 code with its English name, sorted.
    subdivisions: Vec<(Subdivision, &'static str)>,
    /// (country, English name or unofficial name) → subdivision, sorted,
    /// for databases that name subdivisions without a code.
    by_name: Vec<((Country, &'static str), Subdivision)>,
}

static TABLES: LazyLock<Tables> = LazyLock::new(|| {
    let mut continent = [0u8; 26 * 26];
    let mut subdivisions = Vec::new();
    let mut by_name = Vec::new();
    for c in keshvar::CountryIterator::new() {
        let Some(country) = Country::from_code(&c.alpha2().to_string()) else {
            continue;
        };
        let cont = match c.continent() {
            keshvar::Continent::Africa => Continent::AF,
            keshvar::Continent::Antarctica => Continent::AN,
            keshvar::Continent::Asia => Continent::AS,
            keshvar::Continent::Australia => Continent::OC,
            keshvar::Continent::Europe => Continent::EU,
            keshvar::Continent::NorthAmerica => Continent::NA,
            keshvar::Continent::SouthAmerica => Continent::SA,
        };
        continent[country.index()] = slot(cont);
        for s in c.subdivisions().values() {
            let Some(sub) = Subdivision::new(country, s.code()) else {
                continue;
            };
            subdivisions.push((sub, s.name()));
            by_name.push(((country, s.name()), sub));
            for alias in s.unofficial_name_list() {
                by_name.push(((country, *alias), sub));
            }
        }
    }
    for (code, cont) in GEONAMES_CONTINENT {
        if let Some(c) = Country::from_code(code) {
            continent[c.index()] = slot(cont);
        }
    }
    subdivisions.sort_unstable();
    by_name.sort_unstable();
    // An unofficial name shared by two subdivisions names neither. One
    // pass: draining inside the vector moved its tail for every group
    // (about half a billion instructions of memmove at start-up).
    let by_name: Vec<_> = by_name
        .chunk_by(|a, b| a.0 == b.0)
        .filter(|g| g.iter().all(|e| e.1 == g[0].1))
        .map(|g| g[0])
        .collect();
    Tables {
        continent,
        subdivisions,
        by_name,
    }
});

/// Build the tables now (a few milliseconds, allocating) rather than on
/// the first query that needs them; [`crate::geoip::GeoDb`] calls it when a
/// database is opened.
pub fn warm() {
    LazyLock::force(&TABLES);
}

fn slot(c: Continent) -> u8 {
    Continent::ALL.iter().position(|x| *x == c).unwrap_or(0) as u8 + 1
}

/// Is `code` one of the seven continent codes (`AF AN AS EU NA OC SA`,
/// either case)?
pub fn is_continent(code: &str) -> bool {
    Continent::from_code(code).is_some()
}

/// Is `code` an assigned ISO 3166-1 alpha-2 country (or `XK`), either case?
pub fn is_country(code: &str) -> bool {
    Country::from_code(code).is_some_and(|c| continent_of_country(c).is_some())
}

/// Is `code` an assigned ISO 3166-2 subdivision, written in full as
/// `US-CA` (either case)?
pub fn is_subdivision(code: &str) -> bool {
    Subdivision::from_code(code).is_some_and(|s| s.name().is_some())
}

/// The continent of an assigned country, `None` otherwise. A table read:
/// no allocation.
pub fn continent_of_country(c: Country) -> Option<Continent> {
    match TABLES.continent[c.index()] {
        0 => None,
        n => Continent::ALL.get(n as usize - 1).copied(),
    }
}

/// The subdivision of `country` whose English name (or a listed unofficial
/// name) is exactly `name`, for databases that give only names (DB-IP Lite,
/// ip-location-db). A binary search: no allocation.
pub fn subdivision_by_name(country: Country, name: &str) -> Option<Subdivision> {
    let t = &*TABLES;
    t.by_name
        .binary_search_by(|((c, n), _)| c.cmp(&country).then_with(|| (*n).cmp(name)))
        .ok()
        .map(|i| t.by_name[i].1)
}

/// English short name of an assigned country (`"United States of America"`).
pub fn country_name(c: Country) -> Option<&'static str> {
    if c.code() == "XK" {
        return Some("Kosovo");
    }
    let a2 = keshvar::Alpha2::try_from(c.code()).ok()?;
    Some(a2.to_country().iso_short_name())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cc(s: &str) -> Country {
        Country::from_code(s).unwrap()
    }

    #[test]
    fn continents() {
        for c in Continent::ALL {
            assert_eq!(Continent::from_code(c.code()), Some(c));
            assert!(is_continent(&c.code().to_lowercase()));
        }
        assert!(!is_continent("XX"));
        assert!(!is_continent("E"));
        assert!(!is_continent("EUR"));
        for (i, c) in Continent::ALL.into_iter().enumerate() {
            assert_eq!(c.index(), i);
        }
    }

    #[test]
    fn countries_and_continents() {
        for (code, want) in [
            ("US", Continent::NA),
            ("de", Continent::EU),
            ("JP", Continent::AS),
            ("BR", Continent::SA),
            ("AU", Continent::OC),
            ("ZA", Continent::AF),
            ("AQ", Continent::AN),
            ("RU", Continent::EU),
            // pinned to GeoNames
            ("TR", Continent::AS),
            ("CY", Continent::EU),
            ("TL", Continent::OC),
            ("TF", Continent::AN),
            ("XK", Continent::EU),
        ] {
            assert!(is_country(code), "{code}");
            assert_eq!(continent_of_country(cc(code)), Some(want), "{code}");
        }
        for bad in ["XX", "ZZ", "U", "USA", "1A", "", "é"] {
            assert!(!is_country(bad), "{bad}");
        }
        assert_eq!(Country::from_code("1A"), None);
        assert_eq!(cc("gb").code(), "GB");
        assert_eq!(
            (cc("AA").index(), cc("ZZ").index()),
            (0, Country::COUNT - 1)
        );
        // every assigned country has a continent, and there are about 250
        let n = (b'A'..=b'Z')
            .flat_map(|a| (b'A'..=b'Z').map(move |b| [a, b]))
            .filter(|p| is_country(std::str::from_utf8(p).unwrap()))
            .count();
        assert!((249..=260).contains(&n), "{n} countries");
    }

    #[test]
    fn subdivisions() {
        for code in [
            "US-CA", "us-ny", "GB-ENG", "GB-SCT", "DE-BY", "JP-13", "AU-NSW",
        ] {
            assert!(is_subdivision(code), "{code}");
        }
        for bad in ["US-XX", "US", "US-", "US-ABCD", "XX-CA", "US_CA", "-CA"] {
            assert!(!is_subdivision(bad), "{bad}");
        }
        let ca = Subdivision::from_code("us-ca").unwrap();
        assert_eq!(ca.to_string(), "US-CA");
        assert_eq!((ca.country(), ca.local()), (cc("US"), "CA"));
        assert_eq!(ca.name(), Some("California"));
        assert_eq!(std::mem::size_of::<Subdivision>(), 6);
    }

    #[test]
    fn subdivisions_by_name() {
        assert_eq!(
            subdivision_by_name(cc("US"), "California"),
            Subdivision::from_code("US-CA")
        );
        assert_eq!(
            subdivision_by_name(cc("GB"), "England"),
            Subdivision::from_code("GB-ENG")
        );
        assert_eq!(subdivision_by_name(cc("US"), "Atlantis"), None);
        // the right country only
        assert_eq!(subdivision_by_name(cc("CA"), "California"), None);
        // every subdivision's own name finds it (names are unique in a country)
        for (s, name) in &TABLES.subdivisions {
            let found = subdivision_by_name(s.country(), name);
            assert!(
                found.is_none() || found == Some(*s),
                "{s} {name}: {found:?}"
            );
        }
    }

    #[test]
    fn country_names() {
        assert_eq!(country_name(cc("DE")), Some("Germany"));
        assert_eq!(country_name(cc("XK")), Some("Kosovo"));
        assert_eq!(country_name(cc("ZZ")), None);
    }
}
