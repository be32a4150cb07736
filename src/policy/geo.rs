//! `geo`: the pools to try depend on where the client is.
//!
//! A [`GeoMap`] is an [`Order`](super::Order): rules map a place to an
//! ordered list of the name's pools, and the most specific rule that
//! matches the client wins (Route 53: "priority goes to the smallest
//! geographic region"): custom region, then ISO 3166-2 subdivision, then
//! country, then continent, then the default rule. A custom region comes
//! first because an operator who maps an office or a resolver to a region
//! means exactly those clients. Inside the chosen pool the name's pick
//! (`group_policy`) chooses members.
//!
//! Failover, as gdnsd's geoip and metafo plugins do it: a pool with no
//! available member passes to the next pool of the rule's list, then to the
//! pools of the default rule (those the rule did not list already), then
//! `on_all_down` decides. Each rule's list, default tail included, is
//! computed when the snapshot is built, so a query reads a few table
//! entries and a precomputed slice: no allocation, no hashing.
//!
//! An unknown location (not in the custom networks or the database, a
//! special-purpose address, no database) gets the default rule, never a
//! made-up place. No matching rule and no default: no pool at all, so the
//! answer is NODATA with the SOA (Route 53 answers "no answer" there).
//!
//! The ECS scope of a geo answer is the prefix length of the network that
//! decided the location ([`ClientLocation::prefix`]); the engine caps it
//! at the query's source prefix.

use std::fmt;
use std::sync::Arc;

use crate::geoip::{ClientLocation, Continent, Country, CustomNets, RegionId, Subdivision};

use super::Reason;
use super::name::{Group, Ordered};

/// What a rule matches.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RuleKey {
    /// A custom region, declared by the custom networks.
    Region(RegionId),
    Subdivision(Subdivision),
    Country(Country),
    Continent(Continent),
    /// Every client no other rule matches, the unknown ones included.
    Default,
}

/// One rule: the pools to try, best first.
#[derive(Debug)]
pub struct Rule {
    pub key: RuleKey,
    /// Positions in the name's groups: the rule's own pools, then the
    /// default rule's pools it did not list.
    order: Box<[u16]>,
    /// How many of `order` are the rule's own.
    own: usize,
}

impl Rule {
    /// The rule's own pools (positions in the name's groups).
    pub fn own(&self) -> &[u16] {
        &self.order[..self.own]
    }

    /// The default rule's pools tried after the rule's own.
    pub fn then_default(&self) -> &[u16] {
        &self.order[self.own..]
    }
}

/// The compiled rules of one geo name.
#[derive(Debug)]
pub struct GeoMap {
    /// Where clients are: the policy file's custom networks.
    nets: Arc<CustomNets>,
    rules: Box<[Rule]>,
    /// Rule index + 1 per custom region, 0 = none.
    regions: Box<[u16]>,
    /// Sorted by code, for a binary search.
    subdivisions: Box<[(Subdivision, u16)]>,
    /// Rule index + 1 per [`Country::index`], 0 = none.
    countries: Box<[u16]>,
    /// Rule index + 1 per [`Continent::index`], 0 = none.
    continents: [u16; 7],
    default: Option<u16>,
}

impl GeoMap {
    /// Compile `rules`: each key with its pools, as positions in the name's
    /// groups, best first. The caller (the policy-file loader) rejects a
    /// key given twice and empty or repeated lists; here the first rule for
    /// a key wins.
    pub fn new(nets: Arc<CustomNets>, rules: Vec<(RuleKey, Vec<u16>)>) -> Self {
        let default_pools: Vec<u16> = rules
            .iter()
            .find(|(k, _)| *k == RuleKey::Default)
            .map(|(_, p)| p.clone())
            .unwrap_or_default();
        let mut map = GeoMap {
            regions: vec![0; nets.regions().len()].into_boxed_slice(),
            nets,
            rules: Box::new([]),
            subdivisions: Box::new([]),
            countries: vec![0; Country::COUNT].into_boxed_slice(),
            continents: [0; 7],
            default: None,
        };
        let mut compiled = Vec::with_capacity(rules.len());
        let mut subdivisions = Vec::new();
        for (key, own) in rules {
            let slot = u16::try_from(compiled.len() + 1).unwrap_or(u16::MAX);
            let taken = match key {
                RuleKey::Region(r) => match map.regions.get_mut(usize::from(r.0)) {
                    Some(s) if *s == 0 => {
                        *s = slot;
                        true
                    }
                    _ => false,
                },
                RuleKey::Subdivision(s) => {
                    let new = !subdivisions.iter().any(|(x, _)| *x == s);
                    if new {
                        subdivisions.push((s, slot));
                    }
                    new
                }
                RuleKey::Country(c) => take(&mut map.countries[c.index()], slot),
                RuleKey::Continent(c) => take(&mut map.continents[c.index()], slot),
                RuleKey::Default => {
                    let new = map.default.is_none();
                    if new {
                        map.default = Some(slot - 1);
                    }
                    new
                }
            };
            if !taken {
                continue;
            }
            let mut order = own.clone();
            if key != RuleKey::Default {
                order.extend(default_pools.iter().filter(|p| !own.contains(p)));
            }
            compiled.push(Rule {
                key,
                own: own.len(),
                order: order.into_boxed_slice(),
            });
        }
        subdivisions.sort_unstable();
        map.subdivisions = subdivisions.into_boxed_slice();
        map.rules = compiled.into_boxed_slice();
        map
    }

    /// The rules, in the order they were given.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The custom networks the client is looked up in first.
    pub fn nets(&self) -> &CustomNets {
        &self.nets
    }

    /// Whether the answer can depend on the client: some rule other than
    /// the default. A map with only a default answers everyone alike, so
    /// the engine skips the lookup and the scope stays 0.
    pub fn needs_location(&self) -> bool {
        self.rules.iter().any(|r| r.key != RuleKey::Default)
    }

    /// Whether a rule matches on what only a GeoIP database can tell
    /// (subdivision, country, continent): such a name needs one configured.
    pub fn needs_database(&self) -> bool {
        self.rules.iter().any(|r| {
            matches!(
                r.key,
                RuleKey::Subdivision(_) | RuleKey::Country(_) | RuleKey::Continent(_)
            )
        })
    }

    /// The most specific rule matching `at` (module docs), as an index
    /// into [`rules`](Self::rules); `None` when none does and there is no
    /// default. A few array reads and, with subdivision rules, one binary
    /// search.
    #[inline]
    pub fn rule_for(&self, at: &ClientLocation) -> Option<usize> {
        let hit = |slot: u16| (slot != 0).then(|| usize::from(slot - 1));
        let loc = &at.location;
        at.region
            .and_then(|r| self.regions.get(usize::from(r.0)).copied().and_then(hit))
            .or_else(|| {
                let s = loc.subdivision?;
                let i = self
                    .subdivisions
                    .binary_search_by(|(x, _)| x.cmp(&s))
                    .ok()?;
                hit(self.subdivisions[i].1)
            })
            .or_else(|| hit(self.countries[loc.country?.index()]))
            .or_else(|| hit(self.continents[loc.continent?.index()]))
            .or_else(|| self.default.map(usize::from))
    }

    /// The groups to try for a client at `at`, with the scope of its
    /// location. No rule: an empty order (NODATA).
    #[inline]
    pub(super) fn order<'a>(&'a self, groups: &'a [Group], at: &ClientLocation) -> Ordered<'a> {
        match self.rule_for(at) {
            Some(i) => {
                let rule = &self.rules[i];
                let default_from = if rule.key == RuleKey::Default {
                    0
                } else {
                    rule.own
                };
                Ordered::geo(groups, &rule.order, default_from, at.prefix)
            }
            None => Ordered::geo(groups, &[], 0, at.prefix),
        }
    }
}

fn take(slot: &mut u16, value: u16) -> bool {
    let new = *slot == 0;
    if new {
        *slot = value;
    }
    new
}

impl RuleKey {
    /// `region lab`, `subdivision US-CA`, `country US`, `continent NA`,
    /// `default`; regions are named from `nets`.
    pub fn describe(&self, nets: &CustomNets) -> String {
        match self {
            Self::Region(r) => format!("region {}", nets.region_name(*r)),
            other => other.to_string(),
        }
    }
}

impl fmt::Display for RuleKey {
    /// As [`describe`](Self::describe), with a region by number.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Region(r) => write!(f, "region #{}", r.0),
            Self::Subdivision(s) => write!(f, "subdivision {s}"),
            Self::Country(c) => write!(f, "country {c}"),
            Self::Continent(c) => write!(f, "continent {c}"),
            Self::Default => f.write_str("default"),
        }
    }
}

/// No rule matches the client and the name has no default rule.
pub const NO_RULE: Reason = Reason("geo: no rule matches the client's location and no default");

const RULE_REASONS: [&str; 8] = [
    "geo: matched rule, pool 1",
    "geo: matched rule, pool 2",
    "geo: matched rule, pool 3",
    "geo: matched rule, pool 4",
    "geo: matched rule, pool 5",
    "geo: matched rule, pool 6",
    "geo: matched rule, pool 7",
    "geo: matched rule, pool 8",
];

const DEFAULT_REASONS: [&str; 8] = [
    "geo: default rule, pool 1",
    "geo: default rule, pool 2",
    "geo: default rule, pool 3",
    "geo: default rule, pool 4",
    "geo: default rule, pool 5",
    "geo: default rule, pool 6",
    "geo: default rule, pool 7",
    "geo: default rule, pool 8",
];

/// Static reason for an answer from the pool at 0-based position `k` of
/// the client's order, whose default pools start at `default_from`.
pub(super) fn reason(k: usize, default_from: usize) -> Reason {
    Reason(if k < default_from {
        RULE_REASONS
            .get(k)
            .copied()
            .unwrap_or("geo: matched rule, pool 9 or later")
    } else {
        DEFAULT_REASONS
            .get(k - default_from)
            .copied()
            .unwrap_or("geo: default rule, pool 9 or later")
    })
}

#[cfg(test)]
#[path = "geo_tests.rs"]
mod tests;
