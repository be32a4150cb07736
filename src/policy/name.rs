//! A compiled load-balanced name: **group order × member pick**.
//!
//! Every name has groups (pools). Answering is two independent choices:
//! [`Order`] decides which groups to try, in what order, for this client
//! (one pool, failover's priority list, or the geo rules; next the latency
//! order), and [`Pick`] chooses members inside the group that answers
//! (weighted, round robin, multivalue, sticky, least response time, least
//! connections).
//! gdnsd's `meta_core.inc` has the same shape: metafo and geoip share the
//! datacenter chooser, and a sub-plugin picks inside.
//!
//! The file's `policy` word names a pair: `failover` with `group_policy`
//! is `Failover × Pick`, `geo` with `group_policy` is `Geo × Pick`, every
//! other policy is `Single × Pick` ([`Policy`]).

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

use super::geo::GeoMap;
use super::latency::{Draw, LatencyMap, MAX_POOLS, Ranking};
use super::{Answers, ClientInfo, DecisionKind, Family, Pool, Reason, StickyPrefixes, Tolerance};
use crate::geoip::{ClientLocation, CustomNets};
use crate::health::HealthTable;
use crate::words::Words;

/// The `policy` word of `[names.OWNER]`: which order and pick a name
/// compiles to. Printed back by [`BalancedName::policy`].
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Policy {
    Weighted,
    RoundRobin,
    Multivalue,
    Failover,
    Sticky,
    Geo,
    LeastResponseTime,
    LeastConnections,
    Latency,
    Closest,
}

impl Policy {
    /// The file's words, in documentation order.
    pub const WORDS: Words<Policy> = Words(&[
        ("weighted", Self::Weighted),
        ("round_robin", Self::RoundRobin),
        ("multivalue", Self::Multivalue),
        ("failover", Self::Failover),
        ("sticky", Self::Sticky),
        ("geo", Self::Geo),
        ("least_response_time", Self::LeastResponseTime),
        ("least_connections", Self::LeastConnections),
        ("latency", Self::Latency),
        ("closest", Self::Closest),
    ]);

    /// `group_policy`: the policies that are a pick inside one pool, for
    /// the names whose order chooses the pool (failover, geo).
    pub const GROUP_WORDS: Words<Policy> = Words(&[
        ("weighted", Self::Weighted),
        ("round_robin", Self::RoundRobin),
        ("multivalue", Self::Multivalue),
        ("sticky", Self::Sticky),
        ("least_response_time", Self::LeastResponseTime),
        ("least_connections", Self::LeastConnections),
    ]);

    #[inline]
    pub fn as_str(self) -> &'static str {
        Self::WORDS.word(self)
    }

    /// Whether the policy chooses among several pools (its pick inside a
    /// pool is then `group_policy`).
    pub fn orders_groups(self) -> bool {
        matches!(
            self,
            Self::Failover | Self::Geo | Self::Latency | Self::Closest
        )
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which groups to try for a client, best first. Cheap to clone (a
/// reload that keeps a zone copies its names).
#[derive(Debug, Clone)]
pub enum Order {
    /// The name's one pool.
    Single,
    /// The groups in file order: the first with an available member of the
    /// queried family answers.
    Failover,
    /// The groups the client's location maps to ([`GeoMap`]).
    Geo(Arc<GeoMap>),
    /// The groups ranked for the client by expected latency or distance
    /// ([`LatencyMap`]).
    Latency(Arc<LatencyMap>),
}

impl Order {
    /// The groups to try for `client` and `family`, best first, and the
    /// ECS scope that choice depends on. Never allocates: the geo order
    /// returns a list it computed for the client's rule when the snapshot
    /// was built, and the scope of the network that placed the client; the
    /// latency order ranks into `buf`, drawing among equals with `draw()`
    /// (called only by it).
    #[inline]
    pub fn order<'a>(
        &'a self,
        groups: &'a [Group],
        client: &ClientInfo,
        family: Family,
        health: &HealthTable,
        draw: impl FnOnce() -> Draw,
        buf: &'a mut [u16; MAX_POOLS],
    ) -> Ordered<'a> {
        match self {
            Order::Single | Order::Failover => Ordered::in_file_order(groups),
            Order::Geo(map) => map.order(
                groups,
                client.location.as_ref().unwrap_or(&ClientLocation::UNKNOWN),
            ),
            Order::Latency(map) => map.order(groups, client, family, health, draw(), buf),
        }
    }

    /// The custom networks to locate the client in (before the GeoIP
    /// database), when this order's answer depends on where the client is;
    /// `None` otherwise, and then the engine does no lookup at all.
    #[inline]
    pub fn locator(&self) -> Option<&CustomNets> {
        match self {
            Order::Geo(map) if map.needs_location() => Some(map.nets()),
            Order::Latency(map) if map.needs_location() => Some(map.nets()),
            _ => None,
        }
    }

    pub fn is_failover(&self) -> bool {
        matches!(self, Order::Failover)
    }
}

/// Groups in the order to try them, for one query.
#[derive(Copy, Clone, Debug)]
pub struct Ordered<'a> {
    groups: &'a [Group],
    /// Positions in `groups`, best first; `None` for file order. The geo
    /// order hands out its per-rule lists.
    indices: Option<&'a [u16]>,
    /// Where in `indices` the geo default rule's pools start (for reasons).
    default_from: usize,
    /// ECS scope prefix the order depends on (RFC 7871 §7.2.1); 0 when
    /// every client gets the same order.
    pub scope: u8,
    /// A ranked order's reason and kind for an answer from its first group.
    first: Option<(Reason, DecisionKind)>,
}

impl<'a> Ordered<'a> {
    /// Every group, in file order, for every client.
    #[inline]
    pub fn in_file_order(groups: &'a [Group]) -> Self {
        Self {
            groups,
            indices: None,
            default_from: usize::MAX,
            scope: 0,
            first: None,
        }
    }

    /// A geo order: `indices` into `groups`, the default rule's pools
    /// from `default_from` on, depending on the client's network `scope`.
    #[inline]
    pub(super) fn geo(
        groups: &'a [Group],
        indices: &'a [u16],
        default_from: usize,
        scope: u8,
    ) -> Self {
        Self {
            groups,
            indices: Some(indices),
            default_from,
            scope,
            first: None,
        }
    }

    /// A ranked order (latency, closest): `indices` into `groups`, what to
    /// say of an answer from the first.
    #[inline]
    pub(super) fn ranked(
        groups: &'a [Group],
        indices: &'a [u16],
        scope: u8,
        first: Option<(Reason, DecisionKind)>,
    ) -> Self {
        Self {
            groups,
            indices: Some(indices),
            default_from: usize::MAX,
            scope,
            first,
        }
    }

    /// A ranked order's reason and kind for an answer from its first group.
    #[inline]
    pub fn first(&self) -> Option<(Reason, DecisionKind)> {
        self.first
    }

    /// Every group of the name, in file order.
    #[inline]
    pub fn groups(&self) -> &'a [Group] {
        self.groups
    }

    /// The positions to try, best first; `None` for file order.
    #[inline]
    pub fn indices(&self) -> Option<&'a [u16]> {
        self.indices
    }

    /// Position in [`indices`](Self::indices) where a geo order's default
    /// pools start.
    #[inline]
    pub fn default_from(&self) -> usize {
        self.default_from
    }

    /// `(position in the name's groups, group)`, best first.
    #[inline]
    pub fn iter(&self) -> impl Iterator<Item = (usize, &'a Group)> + 'a {
        let (groups, indices) = (self.groups, self.indices);
        let n = indices.map_or(groups.len(), <[u16]>::len);
        (0..n).filter_map(move |k| {
            let i = indices.map_or(k, |ix| usize::from(ix[k]));
            groups.get(i).map(|g| (i, g))
        })
    }
}

/// How members are chosen inside the group that answers.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Pick {
    /// Distinct members drawn with probability proportional to weight.
    Weighted,
    /// Members in turn, `answers` at a time.
    RoundRobin,
    /// Up to `answers` members, uniformly at random, in random order.
    Multivalue,
    /// The same member for the same client network (rendezvous hashing).
    Sticky(StickyPrefixes),
    /// The members with the fastest probes, within the tolerance, by
    /// weight.
    LeastResponseTime(Tolerance),
    /// By weight, shifted by the load the members report.
    LeastConnections,
}

impl Pick {
    /// The single-pool policy with this pick.
    #[inline]
    pub fn policy(self) -> Policy {
        match self {
            Pick::Weighted => Policy::Weighted,
            Pick::RoundRobin => Policy::RoundRobin,
            Pick::Multivalue => Policy::Multivalue,
            Pick::Sticky(_) => Policy::Sticky,
            Pick::LeastResponseTime(_) => Policy::LeastResponseTime,
            Pick::LeastConnections => Policy::LeastConnections,
        }
    }

    /// The pick with its settings: `sticky (v4 /24, v6 /56)`,
    /// `least_response_time (tolerance 1 ms or 20 %)`, `weighted`.
    pub fn describe(self) -> String {
        match self {
            Pick::Sticky(p) => format!("{} (v4 /{}, v6 /{})", Policy::Sticky, p.v4, p.v6),
            Pick::LeastResponseTime(t) => {
                format!("{} (tolerance {t})", Policy::LeastResponseTime)
            }
            other => other.policy().to_string(),
        }
    }
}

/// One pool as used by one name, with that name's round-robin cursors.
///
/// Cursors live here rather than in the shared [`Pool`] so two names over
/// one pool rotate independently, as operators expect of "round robin for
/// this name".
#[derive(Debug)]
pub struct Group {
    pub pool: Arc<Pool>,
    /// Round-robin position per family (A, AAAA); relaxed atomics suffice,
    /// as fairness only needs every query to take a distinct ticket.
    cursors: [AtomicUsize; 2],
}

impl Group {
    pub fn new(pool: Arc<Pool>) -> Self {
        Self {
            pool,
            cursors: [AtomicUsize::new(0), AtomicUsize::new(0)],
        }
    }

    #[inline]
    pub(super) fn cursor(&self, family: Family) -> &AtomicUsize {
        match family {
            Family::V4 => &self.cursors[0],
            Family::V6 => &self.cursors[1],
        }
    }
}

/// What to answer when members of the queried family exist but none is
/// available.
#[derive(Debug)]
pub enum OnAllDown {
    /// Answer as if every member not forced `down` were healthy (Route 53
    /// and gdnsd do the same: a dead check is likelier than a dead fleet).
    FailOpen,
    /// NODATA.
    Empty,
    /// SERVFAIL.
    ServFail,
    /// Answer from this pool with the name's pick; fail open on it when
    /// its members are all down too.
    Fallback(Group),
}

/// The `on_all_down` word: an [`OnAllDown`] without its pool.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum AllDownMode {
    FailOpen,
    Empty,
    ServFail,
    Fallback,
}

impl AllDownMode {
    /// `on_all_down` in the file.
    pub const WORDS: Words<AllDownMode> = Words(&[
        ("all", Self::FailOpen),
        ("empty", Self::Empty),
        ("servfail", Self::ServFail),
        ("fallback", Self::Fallback),
    ]);
}

impl OnAllDown {
    pub fn mode(&self) -> AllDownMode {
        match self {
            Self::FailOpen => AllDownMode::FailOpen,
            Self::Empty => AllDownMode::Empty,
            Self::ServFail => AllDownMode::ServFail,
            Self::Fallback(_) => AllDownMode::Fallback,
        }
    }

    pub fn as_str(&self) -> &'static str {
        AllDownMode::WORDS.word(self.mode())
    }
}

impl fmt::Display for OnAllDown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Fallback(g) => write!(f, "{} (pool {})", self.as_str(), g.pool.name),
            other => f.write_str(other.as_str()),
        }
    }
}

/// A compiled load-balanced name. Built by the policy-file loader;
/// read-only afterwards except for the atomic round-robin cursors in its
/// groups.
#[derive(Debug)]
pub struct BalancedName {
    /// Display form of the name, for logs and explain.
    pub name: String,
    pub ttl: u32,
    /// The TTL while one of the name's members of the queried family has a
    /// failing or down health check (`ttl_while_failing`), so resolvers
    /// ask again sooner around a failover (gdnsd shortens its TTLs the
    /// same way); `None`: always `ttl`.
    pub ttl_while_failing: Option<u32>,
    pub answers: Answers,
    /// Which groups to try, for whom.
    pub order: Order,
    /// How members are chosen inside the group that answers.
    pub pick: Pick,
    /// Pools in file order: exactly one for [`Order::Single`].
    pub groups: Box<[Group]>,
    pub on_all_down: OnAllDown,
}

impl BalancedName {
    /// A copy of this name whose groups use `pool(p)` for each pool `p`
    /// (called once per group, fallback included), with fresh round-robin
    /// cursors. A reload uses it to move a kept zone's names onto the new
    /// snapshot's targets ([`Pool::with_targets`]).
    pub fn with_pools(&self, pool: &mut impl FnMut(&Arc<Pool>) -> Arc<Pool>) -> BalancedName {
        BalancedName {
            name: self.name.clone(),
            ttl: self.ttl,
            ttl_while_failing: self.ttl_while_failing,
            answers: self.answers,
            order: self.order.clone(),
            pick: self.pick,
            groups: self
                .groups
                .iter()
                .map(|g| Group::new(pool(&g.pool)))
                .collect(),
            on_all_down: match &self.on_all_down {
                OnAllDown::FailOpen => OnAllDown::FailOpen,
                OnAllDown::Empty => OnAllDown::Empty,
                OnAllDown::ServFail => OnAllDown::ServFail,
                OnAllDown::Fallback(g) => OnAllDown::Fallback(Group::new(pool(&g.pool))),
            },
        }
    }

    /// Every pool this name uses (its groups', then the fallback's), to
    /// re-point them at another snapshot's targets.
    pub fn pools_mut(&mut self) -> impl Iterator<Item = &mut Arc<Pool>> {
        let fallback = match &mut self.on_all_down {
            OnAllDown::Fallback(g) => Some(&mut g.pool),
            _ => None,
        };
        self.groups.iter_mut().map(|g| &mut g.pool).chain(fallback)
    }

    /// The file's `policy` word for this name's order and pick.
    #[inline]
    pub fn policy(&self) -> Policy {
        match &self.order {
            Order::Failover => Policy::Failover,
            Order::Geo(_) => Policy::Geo,
            Order::Latency(m) => match m.ranking() {
                Ranking::Latency => Policy::Latency,
                Ranking::Closest => Policy::Closest,
            },
            Order::Single => self.pick.policy(),
        }
    }

    /// The policy with its settings, as explain prints it:
    /// `failover (group_policy round_robin)`, `sticky (v4 /24, v6 /56)`.
    pub fn describe_policy(&self) -> String {
        match &self.order {
            Order::Failover | Order::Geo(_) => {
                format!("{} (group_policy {})", self.policy(), self.pick.describe())
            }
            Order::Latency(m) if m.ranking() == Ranking::Latency => format!(
                "{} (group_policy {}, tolerance {}, path factor {})",
                self.policy(),
                self.pick.describe(),
                m.tolerance(),
                m.model().path_factor
            ),
            Order::Latency(_) => {
                format!("{} (group_policy {})", self.policy(), self.pick.describe())
            }
            Order::Single => self.pick.describe(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::groups::{Choice, choose};
    use super::super::pool::Health;
    use super::super::testutil::*;
    use super::*;
    use crate::health::HealthTable;

    /// The shape a geo order will use: precomputed indices, best first,
    /// and a scope; the chooser follows them, not file order.
    #[test]
    fn an_order_of_indices_is_followed() {
        let groups: Vec<Group> = [1u8, 2, 3]
            .into_iter()
            .map(|i| Group::new(Arc::new(Pool::new(format!("g{i}"), [v4(i, 1)]))))
            .collect();
        let ordered = Ordered::geo(&groups, &[2, 0], 2, 24);
        let seen: Vec<usize> = ordered.iter().map(|(i, _)| i).collect();
        assert_eq!(seen, [2, 0]);
        let health = HealthTable::new(16, Status::Up);
        let Choice::Found { index, .. } = choose(ordered, Family::V4, Health::probed(&health))
        else {
            panic!("group 3 is up")
        };
        assert_eq!(index, 2);
        health.set_status(TargetId(3), Status::Down);
        let Choice::Found { index, .. } = choose(ordered, Family::V4, Health::probed(&health))
        else {
            panic!("group 1 is up")
        };
        assert_eq!(index, 0, "group 2 is not in this client's order");
    }

    #[test]
    fn word_tables_cover_every_value() {
        for p in Policy::WORDS.values() {
            assert_eq!(Policy::WORDS.parse(p.as_str()), Some(p));
        }
        for m in AllDownMode::WORDS.values() {
            assert_ne!(AllDownMode::WORDS.word(m), "?");
        }
        for p in Policy::GROUP_WORDS.values() {
            assert_eq!(Policy::GROUP_WORDS.word(p), p.as_str());
            assert!(!matches!(p, Policy::Failover | Policy::Geo));
        }
    }
}
