//! `latency` and `closest`: the pools to try, ranked for each client by how
//! fast (or how near) each would serve it.
//!
//! A [`LatencyMap`] is an [`Order`](super::Order). For each pool of the
//! name with an available member of the queried family, the expected
//! round-trip time for this client comes from the first source that knows
//! (for that pool):
//!
//! 1. the **latency table** (a file named by the policy file's `[latency]`
//!    `table`): rows keyed by client network (longest prefix wins), custom
//!    region, subdivision, country or continent, giving milliseconds per
//!    pool: the operator's real measurements (browser beacons, probes from
//!    many sites). The most specific row that has a figure for the pool
//!    gives it: the longest network, then the networks around it, then
//!    region, subdivision, country, continent;
//! 2. the **great-circle distance** between the client (city database or
//!    custom network coordinates) and the pool's `lat`/`lon`, turned into
//!    milliseconds by [`DistanceModel`];
//! 3. otherwise none: such pools come after every estimated one, in the
//!    name's `groups` order (a client nobody can place gets the configured
//!    order).
//!
//! To the estimate the order adds the pool's **measured response time**
//! (the mean of the prober's RTT averages over its available members of the
//! family: an overloaded site answers its probes slowly and loses traffic)
//! and the pool's `bias_ms`. Pools within the name's [`Tolerance`] of the
//! best count as equally good and share the traffic by pool `weight`: one
//! of them is drawn (rendezvous over the pools, from the query's random
//! draw, or from the client network under a sticky pick so A and AAAA
//! agree), and the rest follow in estimate order. Pools without an
//! available member come last, so the group chooser fails over to them
//! only when nothing better is left, and `on_all_down` when nothing is.
//!
//! `closest` (Route 53's geoproximity) ranks by distance alone, scaled by
//! the pool's `bias` as Route 53 does (`distance × (1 − bias / 100)`),
//! without table, RTT or tolerance: the nearest available pool answers.
//!
//! The ECS scope is the prefix that decided: the table network's block
//! (when a network row gave every pool's figure), else also the block of
//! the network that placed the client (custom network or database), as
//! for geo. Estimates per table row and pool are computed when the
//! snapshot is built; a query does one interval search in the table, a
//! few array reads, one dot product and [`arc_cos`] per pool with
//! coordinates (the client's unit vector comes with its
//! [`Coordinates`]), and a sort of at most [`MAX_POOLS`] entries on the
//! stack.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpNet;

use crate::geoip::nets::{NetError, NetTable};
use crate::geoip::{
    ClientLocation, Continent, Coordinates, Country, CustomNets, RegionId, Subdivision,
};
use crate::health::HealthTable;

use super::name::{Group, Ordered};
use super::pool::{Candidates, Health, Tier, scan};
use super::sample::unit_open0;
use super::{ClientInfo, Coords, DecisionKind, Family, Reason, Tolerance};

/// Most pools a latency or closest name may have: its ranking lives on
/// the stack.
pub const MAX_POOLS: usize = 32;

/// Mean Earth radius (IUGG), km.
pub const EARTH_RADIUS_KM: f64 = 6371.0088;

/// Light in optical fibre, km per millisecond: c divided by the refractive
/// index of silica fibre (about 1.47), rounded down to the usual 200.
pub const FIBRE_KM_PER_MS: f64 = 200.0;

/// How a distance becomes milliseconds:
/// `rtt_ms = 2 × distance_km × path_factor / 200`.
///
/// Twice, for the round trip; 200 km/ms, light in fibre ([`FIBRE_KM_PER_MS`]);
/// `path_factor` for cables that do not follow great circles, routers and
/// queues. Measurements put the factor between 1.3 (the shortest paths
/// through the US long-haul conduits) and 2.1 (end-to-end pings), Bozkurt
/// et al., "Dissecting Latency in the Internet's Fiber Infrastructure"
/// (2018); the default 1.5 gives London–New York (5,570 km) 84 ms, where
/// backbone RTTs are 70–80 ms.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct DistanceModel {
    /// 1..=5; default [`DistanceModel::DEFAULT_PATH_FACTOR`].
    pub path_factor: f64,
}

impl DistanceModel {
    pub const DEFAULT_PATH_FACTOR: f64 = 1.5;

    /// The expected round-trip time over `km` of great circle, in µs
    /// (rounded; `km` is never negative).
    #[inline]
    pub fn rtt_us(self, km: f64) -> i64 {
        (2.0 * km * self.path_factor / FIBRE_KM_PER_MS * 1000.0 + 0.5) as i64
    }
}

impl Default for DistanceModel {
    fn default() -> Self {
        Self {
            path_factor: Self::DEFAULT_PATH_FACTOR,
        }
    }
}

/// A point on the unit sphere: distances are one dot product and an arc
/// cosine. Correct everywhere, across the antimeridian and at the poles,
/// where latitude/longitude differences are not.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct UnitVector([f64; 3]);

impl UnitVector {
    pub fn new(lat: f64, lon: f64) -> Self {
        Self(crate::geoip::unit_vector(lat, lon))
    }

    /// The point [`Coordinates`] computed when it was made (no
    /// trigonometry: this is the query path's).
    #[inline]
    pub fn of(c: &Coordinates) -> Self {
        Self(c.unit())
    }

    /// Great-circle distance in km (within 0.15 m of the exact arc: see
    /// [`arc_cos`]).
    #[inline]
    pub fn km_to(self, o: UnitVector) -> f64 {
        let [a, b, c] = self.0;
        let [x, y, z] = o.0;
        // Rounding can take the dot product a hair past ±1.
        arc_cos((a * x + b * y + c * z).clamp(-1.0, 1.0)) * EARTH_RADIUS_KM
    }
}

/// `acos(x)` for `x` in -1..=1, within 2.2e-8 rad (0.14 m of arc on the
/// Earth): Abramowitz and Stegun, Handbook of Mathematical Functions,
/// 4.4.46, `acos(x) = sqrt(1 - x) (a0 + a1 x + ... + a7 x^7)` for
/// `0 <= x <= 1`, and `acos(-x) = pi - acos(x)`. A square root and seven
/// multiply-adds instead of libm's `acos` (about 180 instructions): the
/// latency order takes one per pool with coordinates, per query.
#[inline]
pub fn arc_cos(x: f64) -> f64 {
    const A: [f64; 8] = [
        1.570_796_305_0,
        -0.214_598_801_6,
        0.088_978_987_4,
        -0.050_174_304_6,
        0.030_891_881_0,
        -0.017_088_125_6,
        0.006_670_090_1,
        -0.001_262_491_1,
    ];
    let ax = x.abs();
    let mut p = A[7];
    for &a in A[..7].iter().rev() {
        p = p * ax + a;
    }
    let r = (1.0 - ax).sqrt() * p;
    if x < 0.0 { std::f64::consts::PI - r } else { r }
}

/// Great-circle distance between two points in degrees, km.
pub fn great_circle_km(a: Coords, b: Coords) -> f64 {
    UnitVector::new(a.lat, a.lon).km_to(UnitVector::new(b.lat, b.lon))
}

// ------------------------------------------------------------------
// the latency table

/// What a latency table row is keyed by, most specific first.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RowKey {
    /// A client network: the longest prefix wins.
    Net(IpNet),
    /// A custom region, declared by the policy file's custom networks.
    Region(RegionId),
    Subdivision(Subdivision),
    Country(Country),
    Continent(Continent),
}

impl RowKey {
    /// `net 198.51.100.0/24`, `region lab` (by name from `nets`), ...
    pub fn describe(&self, nets: &CustomNets) -> String {
        match self {
            Self::Region(r) => format!("region {}", nets.region_name(*r)),
            other => other.to_string(),
        }
    }
}

impl fmt::Display for RowKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Net(n) => write!(f, "net {n}"),
            Self::Region(r) => write!(f, "region #{}", r.0),
            Self::Subdivision(s) => write!(f, "subdivision {s}"),
            Self::Country(c) => write!(f, "country {c}"),
            Self::Continent(c) => write!(f, "continent {c}"),
        }
    }
}

/// One row: its key and its figures, `(pool name, µs)`.
#[derive(Clone, Debug)]
pub struct TableRow {
    pub key: RowKey,
    pub figures: Box<[(String, u32)]>,
}

/// A compiled latency table: the rows, and how to find a client's.
/// Shared by every latency name of the policy file that names it.
#[derive(Debug)]
pub struct LatencyTable {
    rows: Box<[TableRow]>,
    /// Per row: the row of the narrowest other network containing a
    /// network row's, or [`NO_ROW`]: a network row without a figure for a
    /// pool takes its parent's.
    parents: Box<[u32]>,
    /// Network rows: row index.
    nets: NetTable<u32>,
    /// Row index + 1 per custom region, 0 = none.
    regions: Box<[u32]>,
    /// Sorted by code.
    subdivisions: Box<[(Subdivision, u32)]>,
    /// Row index + 1 per [`Country::index`], 0 = none.
    countries: Box<[u32]>,
    /// Row index + 1 per [`Continent::index`], 0 = none.
    continents: [u32; 7],
}

impl LatencyTable {
    /// Compile `rows`; the caller (the table file's loader) rejects a key
    /// given twice. `regions` is how many custom regions the policy file
    /// declares. Errors are the network table's (by row index).
    pub fn new(rows: Vec<TableRow>, regions: usize) -> Result<Self, Vec<NetError>> {
        let mut t = LatencyTable {
            rows: Box::new([]),
            parents: Box::new([]),
            nets: NetTable::default(),
            regions: vec![0; regions].into_boxed_slice(),
            subdivisions: Box::new([]),
            countries: vec![0; Country::COUNT].into_boxed_slice(),
            continents: [0; 7],
        };
        let mut nets = Vec::new();
        let mut subdivisions = Vec::new();
        for (i, r) in rows.iter().enumerate() {
            let slot = u32::try_from(i + 1).unwrap_or(u32::MAX);
            match r.key {
                RowKey::Net(n) => nets.push((n, slot - 1)),
                RowKey::Region(g) => {
                    if let Some(s) = t.regions.get_mut(usize::from(g.0)) {
                        *s = slot;
                    }
                }
                RowKey::Subdivision(s) => subdivisions.push((s, slot)),
                RowKey::Country(c) => t.countries[c.index()] = slot,
                RowKey::Continent(c) => t.continents[c.index()] = slot,
            }
        }
        subdivisions.sort_unstable();
        t.subdivisions = subdivisions.into_boxed_slice();
        t.parents = parents(&nets, rows.len());
        t.nets = NetTable::build(nets)?;
        t.rows = rows.into_boxed_slice();
        Ok(t)
    }

    /// The figure for `pool` of row `row`, or of the nearest enclosing
    /// network row that has one: `(row that gave it, µs)`.
    fn figure(&self, mut row: u32, pool: &str) -> Option<(u32, u32)> {
        loop {
            let r = self.rows.get(row as usize)?;
            if let Some((_, us)) = r.figures.iter().find(|(p, _)| p == pool) {
                return Some((row, *us));
            }
            row = *self.parents.get(row as usize)?;
        }
    }

    /// The rows, in file order.
    pub fn rows(&self) -> &[TableRow] {
        &self.rows
    }

    /// Whether any row is keyed by where a client is (region and finer
    /// places): then the client must be located.
    pub fn has_place_rows(&self) -> bool {
        self.rows.iter().any(|r| !matches!(r.key, RowKey::Net(_)))
    }

    /// The network row of `addr` and the ECS scope of that lookup (the
    /// block around `addr` with the same row, or without one), in the
    /// family `addr` is in (IPv4-mapped: +96).
    #[inline]
    fn net_row(&self, addr: IpAddr) -> (Option<u32>, u8) {
        if self.nets.is_empty() {
            return (None, 0);
        }
        let (row, prefix) = self.nets.lookup(addr);
        let (_, shift) = crate::geoip::canonical_shift(addr);
        (row.copied(), (prefix + shift).min(128))
    }

    /// The place rows matching `at`, most specific first: region,
    /// subdivision, country, continent (absent ones skipped).
    #[inline]
    fn place_rows(&self, at: &ClientLocation) -> [Option<u32>; 4] {
        let hit = |slot: u32| (slot != 0).then(|| slot - 1);
        let loc = &at.location;
        [
            at.region
                .and_then(|r| self.regions.get(usize::from(r.0)).copied())
                .and_then(hit),
            loc.subdivision.and_then(|s| {
                let i = self
                    .subdivisions
                    .binary_search_by(|(x, _)| x.cmp(&s))
                    .ok()?;
                hit(self.subdivisions[i].1)
            }),
            loc.country.and_then(|c| hit(self.countries[c.index()])),
            loc.continent.and_then(|c| hit(self.continents[c.index()])),
        ]
    }
}

/// No parent row.
const NO_ROW: u32 = u32::MAX;

/// For each row, the row of the narrowest network strictly containing its
/// network (network rows only), found in one sorted pass with a stack of
/// open networks, as the network table flattens them.
fn parents(nets: &[(IpNet, u32)], rows: usize) -> Box<[u32]> {
    let mut out = vec![NO_ROW; rows];
    let mut sorted: Vec<(IpNet, u32)> = nets
        .iter()
        .map(|&(n, r)| (crate::geoip::nets::canonical_net(n), r))
        .collect();
    // Same start: the wider first, so it is open when the narrower comes.
    sorted.sort_by_key(|(n, _)| (n.network(), n.prefix_len()));
    let mut open: Vec<(IpNet, u32)> = Vec::new();
    for (n, r) in sorted {
        while open.last().is_some_and(|(o, _)| !o.contains(&n) || *o == n) {
            open.pop();
        }
        if let (Some((_, p)), Some(slot)) = (open.last(), out.get_mut(r as usize)) {
            *slot = *p;
        }
        open.push((n, r));
    }
    out.into_boxed_slice()
}

// ------------------------------------------------------------------
// the order

/// `latency` or `closest`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Ranking {
    /// Table, then distance, plus RTT and bias; tolerance sharing.
    Latency,
    /// Distance alone, scaled by the pool's geoproximity bias.
    Closest,
}

/// Where a pool's network estimate came from.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// The latency table row at this index.
    Table(u32),
    /// Great-circle distance (km).
    Distance,
    /// Nothing knows: configured order.
    None,
}

/// One pool's estimate for one client and family.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct Estimate {
    /// Position in the name's groups.
    pub group: u16,
    pub source: Source,
    /// The network part: the table's figure or the distance model's, µs
    /// (closest: the biased distance in metres). 0 without a source.
    pub network_us: i64,
    /// Great-circle distance to the client, km, when the distance gave
    /// the estimate.
    pub km: Option<f64>,
    /// Mean probe RTT of the pool's available members of the family, µs
    /// (latency only; members without a measurement do not count).
    pub rtt_us: Option<u32>,
    /// The pool's `bias_ms` (latency), µs.
    pub bias_us: i64,
    /// What the pools are ranked by: network + RTT + bias.
    pub total_us: i64,
    /// The pool has a live weighted member of the family.
    pub available: bool,
}

impl Estimate {
    const EMPTY: Estimate = Estimate {
        group: 0,
        source: Source::None,
        network_us: 0,
        km: None,
        rtt_us: None,
        bias_us: 0,
        total_us: 0,
        available: false,
    };

    /// 0: estimated and available, 1: available without an estimate,
    /// 2: unavailable.
    #[inline]
    fn class(&self) -> u8 {
        match (self.available, self.source) {
            (true, Source::None) => 1,
            (true, _) => 0,
            (false, _) => 2,
        }
    }
}

/// How the pool among the equally good ones is drawn: at random (the
/// query's RNG), or from the client network (a sticky pick: the same
/// network gets the same pool, for A and AAAA), with that network's scope.
#[derive(Copy, Clone, Debug)]
pub enum Draw {
    Random(u64),
    Client { hash: u64, scope: u8 },
}

/// Every pool of a name ranked for one client and family, with each
/// pool's estimate in detail: for `dnslb explain` and tests (it
/// allocates; the query path ranks with [`LatencyMap::order`]).
#[derive(Clone, Debug)]
pub struct Ranked {
    estimates: Vec<Estimate>,
    /// Pools within the tolerance of the best (the first of the order was
    /// drawn among them); 1 when nothing was shared.
    pub band: usize,
    /// ECS scope prefix the ranking depends on.
    pub scope: u8,
}

impl Ranked {
    /// The estimates, best first.
    pub fn estimates(&self) -> &[Estimate] {
        &self.estimates
    }
}

/// One pool's place in a ranking, as the query path keeps it.
#[derive(Copy, Clone, Debug, Default)]
struct Slot {
    total_us: i64,
    group: u16,
    /// [`Estimate::class`].
    class: u8,
    /// 0 table, 1 distance, 2 none.
    source: u8,
}

impl Slot {
    #[inline]
    fn key(&self) -> (u8, i64, u16) {
        match self.class {
            // Without an estimate: configured order.
            1 => (1, 0, self.group),
            c => (c, self.total_us, self.group),
        }
    }
}

/// What a ranking says besides its order.
#[derive(Copy, Clone, Debug)]
struct Outline {
    len: usize,
    band: usize,
    scope: u8,
}

/// The compiled ranking of one latency or closest name.
#[derive(Debug)]
pub struct LatencyMap {
    ranking: Ranking,
    /// Where clients are: the policy file's custom networks.
    nets: Arc<CustomNets>,
    table: Option<Arc<LatencyTable>>,
    /// Per table row and group: the row's figure for the group's pool (or
    /// its nearest enclosing network row's), as (row that gave it, µs), or
    /// [`NO_FIGURE`] µs. `rows × groups`, row-major.
    figures: Box<[(u32, u32)]>,
    /// Per group: the pool's coordinates on the unit sphere.
    sites: Box<[Option<UnitVector>]>,
    /// Per group: the pool's weight, bias (µs) and closest bias.
    weights: Box<[u32]>,
    biases_us: Box<[i64]>,
    bias_pcts: Box<[i8]>,
    /// Per group: a hash of the pool's name, for rendezvous among equals.
    keys: Box<[u64]>,
    tolerance: Tolerance,
    model: DistanceModel,
    needs_location: bool,
}

const NO_FIGURE: u32 = u32::MAX;

impl LatencyMap {
    /// Compile for the name's `groups` (at most [`MAX_POOLS`]; the loader
    /// checks). `table` rows name pools; figures for pools the name does
    /// not use are ignored.
    pub fn new(
        ranking: Ranking,
        nets: Arc<CustomNets>,
        table: Option<Arc<LatencyTable>>,
        groups: &[Group],
        tolerance: Tolerance,
        model: DistanceModel,
    ) -> Self {
        let table = table.filter(|_| ranking == Ranking::Latency);
        let n = groups.len();
        let mut figures = Vec::new();
        if let Some(t) = &table {
            figures = vec![(NO_ROW, NO_FIGURE); t.rows.len() * n];
            for r in 0..t.rows.len() {
                for (g, group) in groups.iter().enumerate() {
                    if let Some((from, us)) = t.figure(r as u32, &group.pool.name) {
                        figures[r * n + g] = (from, us.min(NO_FIGURE - 1));
                    }
                }
            }
        }
        let sites: Box<[Option<UnitVector>]> = groups
            .iter()
            .map(|g| g.pool.site.coords.map(|c| UnitVector::new(c.lat, c.lon)))
            .collect();
        let needs_location =
            sites.iter().any(Option::is_some) || table.as_ref().is_some_and(|t| t.has_place_rows());
        LatencyMap {
            ranking,
            nets,
            figures: figures.into_boxed_slice(),
            table,
            weights: groups.iter().map(|g| g.pool.site.weight.max(1)).collect(),
            biases_us: groups.iter().map(|g| g.pool.site.bias_us).collect(),
            bias_pcts: groups.iter().map(|g| g.pool.site.bias_pct).collect(),
            keys: groups.iter().map(|g| name_hash(&g.pool.name)).collect(),
            sites,
            tolerance,
            model,
            needs_location,
        }
    }

    pub fn ranking(&self) -> Ranking {
        self.ranking
    }

    pub fn tolerance(&self) -> Tolerance {
        self.tolerance
    }

    pub fn model(&self) -> DistanceModel {
        self.model
    }

    pub fn table(&self) -> Option<&LatencyTable> {
        self.table.as_deref()
    }

    /// The custom networks the client is looked up in first.
    pub fn nets(&self) -> &CustomNets {
        &self.nets
    }

    /// Whether the answer can depend on where the client is (some pool has
    /// coordinates, or the table has place rows); otherwise the engine
    /// does no lookup.
    pub fn needs_location(&self) -> bool {
        self.needs_location
    }

    /// Whether anything can estimate a pool for some client: a table, or
    /// a pool with coordinates. Without, every client gets the configured
    /// order (`dnslb check` warns).
    pub fn can_estimate(&self) -> bool {
        self.sites.iter().any(Option::is_some)
            || self.table.as_ref().is_some_and(|t| !t.rows.is_empty())
    }

    /// Whether no source can ever estimate group `g` (positions as in the
    /// name's `groups`): its pool has no coordinates and (latency) no
    /// table row has a figure for it, so it always ranks after every
    /// estimated pool. `dnslb check` warns.
    pub fn blind(&self, g: usize) -> bool {
        let n = self.sites.len();
        self.sites.get(g).is_some_and(Option::is_none)
            && !self
                .figures
                .iter()
                .skip(g)
                .step_by(n.max(1))
                .any(|&(_, us)| us != NO_FIGURE)
    }

    /// Rank the pools for `client` and `family` (module docs), drawing
    /// among the equally good with `draw`, with every pool's estimate in
    /// detail. Allocates: for explain and tests.
    pub fn rank(
        &self,
        groups: &[Group],
        client: &ClientInfo,
        family: Family,
        health: &HealthTable,
        draw: Draw,
    ) -> Ranked {
        let mut slots = [Slot::default(); MAX_POOLS];
        let mut all = Vec::with_capacity(groups.len());
        let o = self.rank_into(groups, client, family, health, draw, &mut slots, |e| {
            all.push(e)
        });
        let estimates = slots[..o.len]
            .iter()
            .map(|s| all[usize::from(s.group)])
            .collect();
        Ranked {
            estimates,
            band: o.band,
            scope: o.scope,
        }
    }

    /// The groups to try for `client`, best first, written into `buf`.
    /// Allocates nothing.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    pub(super) fn order<'a>(
        &self,
        groups: &'a [Group],
        client: &ClientInfo,
        family: Family,
        health: &HealthTable,
        draw: Draw,
        buf: &'a mut [u16; MAX_POOLS],
    ) -> Ordered<'a> {
        let mut slots = [Slot::default(); MAX_POOLS];
        let o = self.rank_into(groups, client, family, health, draw, &mut slots, |_| {});
        let slots = &slots[..o.len];
        for (b, s) in buf.iter_mut().zip(slots) {
            *b = s.group;
        }
        let first = slots.first().map(|f| self.decision(slots, o.band, f));
        Ordered::ranked(groups, &buf[..o.len], o.scope, first)
    }

    /// The ranking itself, into `slots` (best first), handing each pool's
    /// detailed estimate to `detail` (in group order) on the way.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn rank_into(
        &self,
        groups: &[Group],
        client: &ClientInfo,
        family: Family,
        health: &HealthTable,
        draw: Draw,
        slots: &mut [Slot; MAX_POOLS],
        mut detail: impl FnMut(Estimate),
    ) -> Outline {
        let n = groups.len();
        let len = n.min(MAX_POOLS);
        let at = client.location.as_ref().unwrap_or(&ClientLocation::UNKNOWN);
        let (net_row, net_scope) = match &self.table {
            Some(t) => t.net_row(client.effective_addr()),
            None => (None, 0),
        };
        let place_rows = match &self.table {
            Some(t) if self.needs_location => t.place_rows(at),
            _ => [None; 4],
        };
        let here = at.location.coords.as_ref().map(UnitVector::of);
        let mut scope = net_scope;
        let mut placed = false;
        for (g, group) in groups.iter().enumerate().take(MAX_POOLS) {
            let mut e = Estimate {
                group: g as u16,
                ..Estimate::EMPTY
            };
            let figure = |row: u32| {
                let (from, us) = self.figures[row as usize * n + g];
                (us != NO_FIGURE).then_some((from, us))
            };
            let from_net = net_row.and_then(figure);
            placed |= from_net.is_none();
            let from_table =
                from_net.or_else(|| place_rows.iter().flatten().find_map(|&r| figure(r)));
            if let Some((row, us)) = from_table {
                e.source = Source::Table(row);
                e.network_us = i64::from(us);
            } else if let Some(km) = self.sites[g].zip(here).map(|(s, h)| h.km_to(s)) {
                e.source = Source::Distance;
                e.km = Some(km);
                e.network_us = match self.ranking {
                    Ranking::Latency => self.model.rtt_us(km),
                    Ranking::Closest => {
                        let scale = 1.0 - f64::from(self.bias_pcts[g]) / 100.0;
                        // km × 1000: metres, positive
                        (km * scale * 1000.0 + 0.5) as i64
                    }
                };
            }
            let members = group.pool.members(family);
            let probed = Health::probed(health);
            if let Some(s) = scan(members, probed)
                && s.tier == Tier::LiveWeighted
            {
                e.available = true;
                if self.ranking == Ranking::Latency {
                    let c = Candidates {
                        members,
                        health: probed,
                        scan: s,
                    };
                    e.rtt_us = mean_rtt(&c, health);
                }
            }
            if self.ranking == Ranking::Latency {
                e.bias_us = self.biases_us[g];
                e.total_us = e.network_us + i64::from(e.rtt_us.unwrap_or(0)) + e.bias_us;
            } else {
                e.total_us = e.network_us;
            }
            slots[g] = Slot {
                total_us: e.total_us,
                group: g as u16,
                class: e.class(),
                source: match e.source {
                    Source::Table(_) => 0,
                    Source::Distance => 1,
                    Source::None => 2,
                },
            };
            detail(e);
        }
        if placed && self.needs_location {
            scope = scope.max(at.prefix);
        }
        // Insertion sort by (class, total, position): at most MAX_POOLS.
        let items = &mut slots[..len];
        for i in 1..items.len() {
            let mut j = i;
            while j > 0 && items[j].key() < items[j - 1].key() {
                items.swap(j, j - 1);
                j -= 1;
            }
        }
        let mut band = 1;
        if self.ranking == Ranking::Latency && items.first().is_some_and(|e| e.class == 0) {
            let limit = self.tolerance.limit(items[0].total_us);
            band = items
                .iter()
                .take_while(|e| e.class == 0 && e.total_us <= limit)
                .count();
            if band > 1 {
                let seed = match draw {
                    Draw::Random(r) => r,
                    Draw::Client { hash, scope: s } => {
                        scope = scope.max(s);
                        hash
                    }
                };
                let mut best = (f64::NEG_INFINITY, 0);
                for (k, e) in items[..band].iter().enumerate() {
                    let g = usize::from(e.group);
                    let u = unit_open0(mix64(seed ^ self.keys[g]));
                    let key = u.ln() / f64::from(self.weights[g]);
                    if key > best.0 {
                        best = (key, k);
                    }
                }
                items[..=best.1].rotate_right(1);
            }
        }
        Outline { len, band, scope }
    }

    /// The reason and kind of an answer from the first pool of a ranking.
    fn decision(&self, slots: &[Slot], band: usize, first: &Slot) -> (Reason, DecisionKind) {
        let shared = band > 1;
        let reason = match (self.ranking, first.source, shared) {
            (Ranking::Closest, 2, _) => CLOSEST_UNPLACED,
            (Ranking::Closest, _, _) => CLOSEST,
            (_, 0, false) => TABLE,
            (_, 0, true) => TABLE_SHARED,
            (_, 1, false) => DISTANCE,
            (_, 1, true) => DISTANCE_SHARED,
            _ => UNPLACED,
        };
        // A pool that would have been better, but has no available member.
        let skipped = slots
            .iter()
            .any(|e| e.class == 2 && e.source != 2 && e.total_us < first.total_us);
        let kind = if skipped {
            DecisionKind::Failover
        } else {
            DecisionKind::Policy
        };
        (reason, kind)
    }
}

/// The mean of the measured probe RTTs of `c`'s members, µs.
#[inline]
fn mean_rtt(c: &Candidates<'_>, health: &HealthTable) -> Option<u32> {
    let (mut sum, mut n) = (0u64, 0u64);
    for (m, _) in c.iter() {
        if let Some(r) = health.rtt_us(m.target) {
            sum += u64::from(r);
            n += 1;
        }
    }
    (n > 0).then(|| (sum / n) as u32)
}

/// FNV-1a of a pool name, finished with [`mix64`]: stable across restarts
/// and reloads, so a sticky client keeps its pool.
fn name_hash(name: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    mix64(h)
}

#[inline]
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Coordinates for a client the way the model sees them, for explain.
pub fn coords_of(c: Coordinates) -> Coords {
    Coords {
        lat: c.lat,
        lon: c.lon,
    }
}

pub const TABLE: Reason = Reason("latency: lowest estimate (table)");
pub const TABLE_SHARED: Reason = Reason("latency: within tolerance of the lowest (table)");
pub const DISTANCE: Reason = Reason("latency: lowest estimate (distance)");
pub const DISTANCE_SHARED: Reason = Reason("latency: within tolerance of the lowest (distance)");
pub const UNPLACED: Reason = Reason("latency: no estimate for the client, configured order");
pub const CLOSEST: Reason = Reason("closest: nearest pool");
pub const CLOSEST_UNPLACED: Reason = Reason("closest: client not located, configured order");
/// An answer from a later pool than the ranking's first (a health flip
/// between ranking and choosing).
pub const LATER: Reason = Reason("latency: a later pool of the ranking");

#[cfg(test)]
#[path = "latency_tests.rs"]
mod tests;
