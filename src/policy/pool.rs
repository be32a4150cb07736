//! Compiled pools and the availability rules every policy shares.
//!
//! A [`Pool`] keeps its members split by address family when it is compiled,
//! so an A query walks only IPv4 members and an AAAA query only IPv6 ones.
//! A dual-stack endpoint (one load balancer with an IPv4 and an IPv6
//! address, one health state) sits in both lists, once per family, each
//! copy answering its family's address and naming the other
//! ([`Member::other`]): every pick chooses the endpoint, then answers the
//! queried family's address of it.
//!
//! Availability is ranked in [`Tier`]s rather than a yes/no flag: a member
//! with weight 0, or one an operator put in `drain`, is a last resort, not
//! "down". Every policy first asks [`scan`] for the best non-empty tier and
//! then picks only among that tier's members, so the rules "weight 0 only
//! when no weighted member is available" and "drain only when nothing else
//! is available" live in one place instead of five.

use std::fmt;
use std::net::IpAddr;

use crate::health::{Cell, Forced, ForcedCell, HealthTable, LoadKind, TargetId};
use crate::words::Words;

use super::Family;

/// Most addresses one answer may carry (`answers` in the policy file).
/// Bounded so the top-k pickers keep their candidates on the stack.
pub const MAX_ANSWERS: usize = 64;

/// Operator state of one pool member (`state` in the policy file).
/// The discriminants index [`tier_of`]'s table; they match the forced
/// states' encoding in a member's [`ForcedCell`] (1 up, 2 down, 3 drain).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum OperatorState {
    /// Follow the health checks (an endpoint without a check counts as up).
    Auto = 0,
    /// Always available, whatever the checks say.
    Up = 1,
    /// Never answered, not even when failing open.
    Down = 2,
    /// No new answers unless nothing else is available; still health-checked.
    Drain = 3,
}

impl OperatorState {
    /// `state` in the policy file; also how explain prints it.
    pub const WORDS: Words<OperatorState> = Words(&[
        ("auto", Self::Auto),
        ("up", Self::Up),
        ("down", Self::Down),
        ("drain", Self::Drain),
    ]);

    pub fn as_str(self) -> &'static str {
        Self::WORDS.word(self)
    }
}

impl fmt::Display for OperatorState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// Where an endpoint is, for geo and latency policies.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct Coords {
    pub lat: f64,
    pub lon: f64,
}

/// One endpoint of a pool, as one family's list holds it.
#[derive(Clone, Debug, PartialEq)]
pub struct Member {
    /// The address this entry answers (the list's family).
    pub addr: IpAddr,
    /// A dual-stack endpoint's address of the other family: the same
    /// endpoint is in the other family's list with the two swapped.
    pub other: Option<IpAddr>,
    /// Health cell of this (address, check): the checked family's
    /// address of a dual-stack endpoint (`check_family`).
    pub target: TargetId,
    /// A dual-stack endpoint checked over both families: the second
    /// family's cell. The endpoint is down when either is (one endpoint,
    /// one health state); the forced state is `target`'s.
    pub also: Option<TargetId>,
    /// 0..=1000; 0 means standby (see [`Tier::LiveZero`]).
    pub weight: u32,
    pub state: OperatorState,
    /// The operator's name for the endpoint (`name` in the file).
    pub label: Option<String>,
    pub region: Option<String>,
    pub coords: Option<Coords>,
    /// Name of the health check, for explain and logs.
    pub check: Option<String>,
    /// What the load figure of its check means, when the check reads one
    /// (the `least_connections` pick).
    pub load_kind: Option<LoadKind>,
    /// The operator override in force for this member (admin API), written
    /// by `health::overrides::apply`; beats `state` on the query path.
    pub forced: ForcedCell,
}

impl Member {
    /// A member in `auto` state with no label, region, coordinates or check.
    pub fn new(addr: IpAddr, target: TargetId, weight: u32) -> Self {
        Self {
            addr,
            other: None,
            target,
            also: None,
            weight,
            state: OperatorState::Auto,
            label: None,
            region: None,
            coords: None,
            check: None,
            load_kind: None,
            forced: ForcedCell::default(),
        }
    }

    pub fn family(&self) -> Family {
        match self.addr {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }

    /// The endpoint's addresses: this entry's, then the other family's.
    pub fn addrs(&self) -> impl Iterator<Item = IpAddr> {
        std::iter::once(self.addr).chain(self.other)
    }

    /// The endpoint's IPv4 address when it has one, else its address:
    /// the same for both families' entries of a dual-stack endpoint, so
    /// the sticky hash scores the endpoint, not the address answered.
    #[inline]
    pub fn endpoint_key(&self) -> IpAddr {
        match (self.addr, self.other) {
            (IpAddr::V6(_), Some(v4 @ IpAddr::V4(_))) => v4,
            (a, _) => a,
        }
    }

    /// This entry's twin in the other family's list (a dual-stack
    /// endpoint), `None` for a single-address member.
    fn twin(&self) -> Option<Member> {
        let other = self.other?;
        Some(Member {
            addr: other,
            other: Some(self.addr),
            ..self.clone()
        })
    }
}

/// A named set of endpoints, shared by every name that uses it.
#[derive(Debug)]
pub struct Pool {
    pub name: String,
    /// Where the pool is and how the latency and closest orders treat it.
    pub site: Site,
    v4: Box<[Member]>,
    v6: Box<[Member]>,
}

/// A pool as a site, for the orders that rank pools per client
/// (`latency`, `closest`). The coordinates are the operator's: the load
/// balancers' own addresses are never geolocated (PowerDNS's
/// `pickclosest` does that, and anycast or a CDN in front makes it wrong).
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct Site {
    /// `lat`, `lon` of `[pools.X]`: where the pool's endpoints run.
    pub coords: Option<Coords>,
    /// `weight` of `[pools.X]`, 1..=1000: its share among pools within the
    /// latency tolerance of the best.
    pub weight: u32,
    /// `bias_ms`: added to every latency estimate of the pool, in µs
    /// (negative draws traffic in).
    pub bias_us: i64,
    /// `bias`, -99..=99: the closest order's geoproximity bias, as Route
    /// 53's (a positive bias shrinks the pool's distances, drawing clients
    /// from further away).
    pub bias_pct: i8,
}

impl Default for Site {
    fn default() -> Self {
        Self {
            coords: None,
            weight: 1,
            bias_us: 0,
            bias_pct: 0,
        }
    }
}

impl Pool {
    /// Split `members` by family, keeping their order within each family;
    /// a dual-stack member (with [`Member::other`]) goes into both.
    pub fn new(name: impl Into<String>, members: impl IntoIterator<Item = Member>) -> Self {
        let (mut v4, mut v6) = (Vec::new(), Vec::new());
        for m in members {
            let twin = m.twin();
            match m.family() {
                Family::V4 => v4.push(m),
                Family::V6 => v6.push(m),
            }
            match twin.as_ref().map(Member::family) {
                Some(Family::V4) => v4.extend(twin),
                Some(Family::V6) => v6.extend(twin),
                None => {}
            }
        }
        Self {
            name: name.into(),
            site: Site::default(),
            v4: v4.into_boxed_slice(),
            v6: v6.into_boxed_slice(),
        }
    }

    /// This pool with `site`.
    pub fn with_site(mut self, site: Site) -> Self {
        self.site = site;
        self
    }

    /// The members that can answer a query of `family`.
    #[inline]
    pub fn members(&self, family: Family) -> &[Member] {
        match family {
            Family::V4 => &self.v4,
            Family::V6 => &self.v6,
        }
    }

    /// Every endpoint once, IPv4 first: a dual-stack endpoint as its IPv4
    /// entry.
    pub fn iter(&self) -> impl Iterator<Item = &Member> {
        (self.v4.iter()).chain(self.v6.iter().filter(|m| m.other.is_none()))
    }

    /// The other family's entry of a dual-stack endpoint (`m` one of this
    /// pool's entries), which carries its own copy of the override cell.
    pub fn twin_of(&self, m: &Member) -> Option<&Member> {
        let other = m.other?;
        let list = match other {
            IpAddr::V4(_) => &self.v4,
            IpAddr::V6(_) => &self.v6,
        };
        list.iter()
            .find(|t| t.addr == other && t.other == Some(m.addr) && t.target == m.target)
    }

    /// This pool with each member's health cell replaced by `target(old)`:
    /// the same pool, for a snapshot whose target ids differ (a zone kept
    /// from the previous snapshot by a reload).
    pub fn with_targets(&self, target: &mut impl FnMut(TargetId) -> TargetId) -> Pool {
        let mut map = |ms: &[Member]| -> Box<[Member]> {
            ms.iter()
                .map(|m| Member {
                    target: target(m.target),
                    also: m.also.map(&mut *target),
                    ..m.clone()
                })
                .collect()
        };
        Pool {
            name: self.name.clone(),
            site: self.site,
            v4: map(&self.v4),
            v6: map(&self.v6),
        }
    }
}

/// Availability classes, best first. A policy picks only from the best
/// non-empty class of the members it considers.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Tier {
    /// Available with weight > 0: the normal case.
    LiveWeighted,
    /// Available with weight 0: used only when no weighted member is.
    LiveZero,
    /// `drain` and healthy, weight > 0: used only when nothing live is.
    DrainWeighted,
    /// `drain` and healthy, weight 0.
    DrainZero,
}

impl Tier {
    /// Weight used for selection within this tier: members of a weight-0
    /// tier share equally rather than not at all. (A member's weight is 0
    /// exactly in the weight-0 tiers, so this is `max(weight, 1)`.)
    #[inline]
    pub fn weight_of(self, m: &Member) -> u32 {
        m.weight.max(1)
    }

    #[inline]
    fn from_code(code: u8) -> Option<Tier> {
        match code {
            0 => Some(Tier::LiveWeighted),
            1 => Some(Tier::LiveZero),
            2 => Some(Tier::DrainWeighted),
            3 => Some(Tier::DrainZero),
            _ => None,
        }
    }
}

/// How one pass over the members reads the [`HealthTable`].
#[derive(Copy, Clone, Debug)]
pub struct Health<'a> {
    pub table: &'a HealthTable,
    /// The cell bits that count: the probed status ([`Cell::DOWN_BIT`])
    /// normally; none when failing open, where probe results are ignored
    /// but operator states (the file's `state` and overrides) still apply.
    mask: u8,
}

impl<'a> Health<'a> {
    /// Probe results count (the normal case).
    #[inline]
    pub fn probed(table: &'a HealthTable) -> Self {
        Self {
            table,
            mask: Cell::DOWN_BIT,
        }
    }

    /// Failing open: every member whose state in force is not `down`
    /// counts as healthy.
    #[inline]
    pub fn open(table: &'a HealthTable) -> Self {
        Self { table, mask: 0 }
    }
}

/// The operator state of `m` in force: its override from the admin API
/// (see `health::overrides` for which one applies) beats the policy
/// file's `state`.
#[inline]
pub fn state_of(m: &Member) -> OperatorState {
    match m.forced.forced() {
        None => m.state,
        Some(Forced::Up) => OperatorState::Up,
        Some(Forced::Down) => OperatorState::Down,
        Some(Forced::Drain) => OperatorState::Drain,
    }
}

/// No tier: the member must not answer ([`tier_code`]).
const NO_TIER: u8 = u8::MAX;

/// [`tier_code`] for every (probed down, forced state, file state,
/// weight > 0): index `down << 5 | forced << 3 | state << 1 | weighted`,
/// forced being the member's [`ForcedCell`] code (none, up, down, drain).
/// One lookup replaces the branches over state, override and health, so
/// honouring overrides costs the query path one load of a byte beside the
/// member's weight.
const TIER_CODES: [u8; 64] = {
    let mut t = [NO_TIER; 64];
    let mut i = 0;
    while i < 64 {
        let down = i & 0b10_0000 != 0;
        let forced = (i >> 3) & 3;
        let state = if forced != 0 { forced } else { (i >> 1) & 3 };
        let weighted = i & 1 == 1;
        // 0 auto, 1 up, 2 down, 3 drain (OperatorState's discriminants).
        let drain = match state {
            1 => Some(false),
            0 if !down => Some(false),
            3 if !down => Some(true),
            _ => None,
        };
        t[i] = match (drain, weighted) {
            (None, _) => NO_TIER,
            (Some(false), true) => Tier::LiveWeighted as u8,
            (Some(false), false) => Tier::LiveZero as u8,
            (Some(true), true) => Tier::DrainWeighted as u8,
            (Some(true), false) => Tier::DrainZero as u8,
        };
        i += 1;
    }
    t
};

/// The health cell of `m`: its target's, down (and failing) when the
/// second family's check of a dual-stack endpoint is.
#[inline(always)]
pub fn cell_of(m: &Member, table: &HealthTable) -> Cell {
    let cell = table.cell(m.target);
    match m.also {
        None => cell,
        Some(t) => cell.with_failures_of(table.cell(t)),
    }
}

/// The tier of `m` as its discriminant, or [`NO_TIER`].
#[inline(always)]
fn tier_code(m: &Member, health: Health<'_>) -> u8 {
    let down = (cell_of(m, health.table).bits() & health.mask) as usize;
    let forced = m.forced.code() as usize;
    TIER_CODES[(down << 5 | forced << 3 | (m.state as usize) << 1 | usize::from(m.weight > 0)) & 63]
}

/// The tier of `m`, or `None` when it must not answer at all.
///
/// When failing open ([`Health::open`]) every member whose state in force
/// is not `down` is treated as healthy, but `drain` and weight 0 still
/// rank lower.
#[inline]
pub fn tier_of(m: &Member, health: Health<'_>) -> Option<Tier> {
    Tier::from_code(tier_code(m, health))
}

/// Summary of the best tier of a member slice.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Scan {
    pub tier: Tier,
    /// Members in that tier.
    pub count: usize,
    /// Sum of [`Tier::weight_of`] over them.
    pub total: u64,
    /// Bit `i` set: member `i` (of the first 64) is in that tier.
    pub mask: u64,
}

/// Find the best non-empty tier of `members` in one pass.
#[inline]
pub fn scan(members: &[Member], health: Health<'_>) -> Option<Scan> {
    // Tier codes, not `Option<Tier>`: "no tier" is the largest code, so
    // one comparison both skips unavailable members and ranks the rest.
    let (mut best, mut count, mut total, mut mask) = (NO_TIER - 1, 0, 0, 0u64);
    // Member i's bit; 0 from the 65th member on (`Candidates::iter`
    // re-reads those).
    let mut bit = 1u64;
    for m in members {
        let t = tier_code(m, health);
        if t <= best {
            if t < best {
                (best, count, total, mask) = (t, 0, 0, 0);
            }
            count += 1;
            total += u64::from(m.weight.max(1));
            mask |= bit;
        }
        bit <<= 1;
    }
    Tier::from_code(best).map(|tier| Scan {
        tier,
        count,
        total,
        mask,
    })
}

/// The members a policy may pick from for one query: one family's members
/// of one pool, restricted to the best tier.
///
/// The first 64 members are taken from [`Scan::mask`], as [`scan`] saw
/// them, so a pick agrees with the scan's count and total; beyond 64
/// (large pools only) health is read again, and if the prober flips a
/// target between [`scan`] and the pick, a pick may see one candidate
/// fewer or more than `scan.count`. Every picker tolerates that (it
/// answers with what it finds) rather than copying health into a
/// per-query buffer.
#[derive(Copy, Clone, Debug)]
pub struct Candidates<'a> {
    pub members: &'a [Member],
    pub health: Health<'a>,
    pub scan: Scan,
}

impl<'a> Candidates<'a> {
    /// The members of the chosen tier with their selection weights.
    #[inline]
    pub fn iter(&self) -> impl Iterator<Item = (&'a Member, u32)> + 'a {
        let tier = self.scan.tier;
        let (health, mask) = (self.health, self.scan.mask);
        self.members
            .iter()
            .enumerate()
            .filter(move |&(i, m)| {
                if i < 64 {
                    mask >> i & 1 == 1
                } else {
                    tier_of(m, health) == Some(tier)
                }
            })
            .map(move |(_, m)| (m, tier.weight_of(m)))
    }

    /// Append every candidate's address to `out`.
    pub fn push_all(&self, out: &mut Vec<IpAddr>) {
        out.extend(self.iter().map(|(m, _)| m.addr));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::{ForcedBy, Status};

    fn m(addr: &str, id: u32, w: u32, state: OperatorState) -> Member {
        let mut m = Member::new(addr.parse().unwrap(), TargetId(id), w);
        m.state = state;
        m
    }

    #[test]
    fn tier_table() {
        use OperatorState::*;
        let health = HealthTable::new(2, Status::Up);
        health.set_status(TargetId(1), Status::Down);
        // (state, weight, target healthy?, tier with health, tier failing open)
        let cases = [
            (
                Auto,
                2,
                true,
                Some(Tier::LiveWeighted),
                Some(Tier::LiveWeighted),
            ),
            (Auto, 2, false, None, Some(Tier::LiveWeighted)),
            (Auto, 0, true, Some(Tier::LiveZero), Some(Tier::LiveZero)),
            (
                Up,
                2,
                false,
                Some(Tier::LiveWeighted),
                Some(Tier::LiveWeighted),
            ),
            (Up, 0, false, Some(Tier::LiveZero), Some(Tier::LiveZero)),
            (Down, 2, true, None, None),
            (
                Drain,
                2,
                true,
                Some(Tier::DrainWeighted),
                Some(Tier::DrainWeighted),
            ),
            (Drain, 0, true, Some(Tier::DrainZero), Some(Tier::DrainZero)),
            (Drain, 2, false, None, Some(Tier::DrainWeighted)),
        ];
        for (state, w, healthy, want, want_open) in cases {
            let id = if healthy { 0 } else { 1 };
            let mem = m("192.0.2.1", id, w, state);
            assert_eq!(
                tier_of(&mem, Health::probed(&health)),
                want,
                "{state:?} w{w} {healthy}"
            );
            let open = Health::open(&health);
            assert_eq!(tier_of(&mem, open), want_open, "{state:?} w{w} open");
        }
    }

    /// The lookup table agrees with the rules spelled out as branches, for
    /// every state, weight, probed status, forced state and health view.
    #[test]
    fn tier_table_matches_the_rules() {
        use OperatorState::*;
        let reference = |state: OperatorState, w: u32, healthy: bool| {
            let drain = match state {
                Down => return None,
                Up => false,
                Auto if healthy => false,
                Drain if healthy => true,
                Auto | Drain => return None,
            };
            Some(match (drain, w > 0) {
                (false, true) => Tier::LiveWeighted,
                (false, false) => Tier::LiveZero,
                (true, true) => Tier::DrainWeighted,
                (true, false) => Tier::DrainZero,
            })
        };
        let forced = [
            None,
            Some(Forced::Up),
            Some(Forced::Down),
            Some(Forced::Drain),
        ];
        for state in [Auto, Up, Down, Drain] {
            for w in [0, 3] {
                for status in [Status::Up, Status::Down] {
                    for f in forced {
                        let t = HealthTable::new(1, status);
                        let mem = m("192.0.2.1", 0, w, state);
                        mem.forced.set(f.map(|f| (f, ForcedBy::Address)));
                        let eff = state_of(&mem);
                        let case = format!("{state:?} w{w} {status:?} forced {f:?}");
                        let want = reference(eff, w, status == Status::Up);
                        assert_eq!(tier_of(&mem, Health::probed(&t)), want, "{case}");
                        let want = reference(eff, w, true);
                        assert_eq!(tier_of(&mem, Health::open(&t)), want, "{case} open");
                    }
                }
            }
        }
    }

    #[test]
    fn scan_picks_best_tier_and_sums_its_weights() {
        use OperatorState::*;
        let health = HealthTable::new(8, Status::Up);
        let members = [
            m("192.0.2.1", 0, 0, Auto),
            m("192.0.2.2", 1, 5, Drain),
            m("192.0.2.3", 2, 3, Auto),
            m("192.0.2.4", 3, 4, Up),
        ];
        let s = scan(&members, Health::probed(&health)).unwrap();
        assert_eq!((s.tier, s.count, s.total), (Tier::LiveWeighted, 2, 7));
        assert_eq!(s.mask, 0b1100);
        health.set_status(TargetId(2), Status::Down);
        let s = scan(&members[..3], Health::probed(&health)).unwrap();
        assert_eq!((s.tier, s.count, s.total), (Tier::LiveZero, 1, 1));
        health.set_status(TargetId(0), Status::Down);
        let s = scan(&members[..3], Health::probed(&health)).unwrap();
        assert_eq!((s.tier, s.count, s.total), (Tier::DrainWeighted, 1, 5));
        health.set_status(TargetId(1), Status::Down);
        assert_eq!(scan(&members[..3], Health::probed(&health)), None);
        let s = scan(&members[..3], Health::open(&health)).unwrap();
        assert_eq!((s.tier, s.count, s.total), (Tier::LiveWeighted, 1, 3));
    }

    /// Past the 64 members the scan's mask covers, candidates are found by
    /// reading health again; both halves agree with the scan.
    #[test]
    fn candidates_beyond_the_mask() {
        let health = HealthTable::new(80, Status::Up);
        let members: Vec<Member> = (0..80)
            .map(|i| m(&format!("10.0.0.{i}"), i, 1, OperatorState::Auto))
            .collect();
        for down in [3, 63, 64, 79] {
            health.set_status(TargetId(down), Status::Down);
        }
        let h = Health::probed(&health);
        let scan = scan(&members, h).unwrap();
        assert_eq!((scan.count, scan.total), (76, 76));
        let c = Candidates {
            members: &members,
            health: h,
            scan,
        };
        let got: Vec<u32> = c.iter().map(|(m, _)| m.target.0).collect();
        let want: Vec<u32> = (0..80).filter(|i| ![3, 63, 64, 79].contains(i)).collect();
        assert_eq!(got, want);
    }

    /// A dual-stack endpoint is in both lists, each copy answering its
    /// family and naming the other; iteration lists it once.
    #[test]
    fn dual_stack_members_are_in_both_lists() {
        let mut dual = m("192.0.2.1", 0, 2, OperatorState::Auto);
        dual.other = Some("2001:db8::1".parse().unwrap());
        dual.also = Some(TargetId(5));
        let p = Pool::new(
            "p",
            [
                m("2001:db8::9", 1, 1, OperatorState::Auto),
                dual.clone(),
                m("192.0.2.2", 2, 1, OperatorState::Auto),
            ],
        );
        let addrs =
            |f| -> Vec<String> { p.members(f).iter().map(|m| m.addr.to_string()).collect() };
        assert_eq!(addrs(Family::V4), ["192.0.2.1", "192.0.2.2"]);
        assert_eq!(addrs(Family::V6), ["2001:db8::9", "2001:db8::1"]);
        let six = &p.members(Family::V6)[1];
        assert_eq!(six.other, Some("192.0.2.1".parse().unwrap()));
        assert_eq!(
            (six.target, six.also, six.weight),
            (TargetId(0), Some(TargetId(5)), 2)
        );
        assert_eq!(six.endpoint_key(), dual.endpoint_key());
        assert_eq!(p.iter().count(), 3, "each endpoint once");
        let remapped = p.with_targets(&mut |t| TargetId(t.0 + 10));
        let six = &remapped.members(Family::V6)[1];
        assert_eq!((six.target, six.also), (TargetId(10), Some(TargetId(15))));
    }

    /// Checked over both families: down when either check is down; one
    /// override (written to both family entries) for the endpoint.
    #[test]
    fn a_dual_stack_endpoint_has_one_health_state() {
        let mut dual = m("192.0.2.1", 0, 1, OperatorState::Auto);
        dual.other = Some("2001:db8::1".parse().unwrap());
        dual.also = Some(TargetId(1));
        let p = Pool::new("p", [dual]);
        let health = HealthTable::new(2, Status::Up);
        let tier = |f| tier_of(&p.members(f)[0], Health::probed(&health));
        assert_eq!(tier(Family::V4), Some(Tier::LiveWeighted));
        health.set_status(TargetId(1), Status::Down);
        assert_eq!((tier(Family::V4), tier(Family::V6)), (None, None));
        assert!(cell_of(&p.members(Family::V4)[0], &health).failing());
        // failing open ignores probes, but not the forced state
        let open = tier_of(&p.members(Family::V6)[0], Health::open(&health));
        assert_eq!(open, Some(Tier::LiveWeighted));
        health.set_status(TargetId(1), Status::Up);
        let (v4, v6) = (&p.members(Family::V4)[0], &p.members(Family::V6)[0]);
        assert!(std::ptr::eq(p.twin_of(v4).unwrap(), v6));
        assert!(std::ptr::eq(p.twin_of(v6).unwrap(), v4));
        let r = crate::health::overrides::MemberRef {
            addr: v4.addr,
            other: v4.other,
            zone: "t",
            pool: "p",
            member: None,
            file_down: false,
            cell: &v4.forced,
            twin_cell: p.twin_of(v4).map(|t| &t.forced),
        };
        let drain = crate::health::overrides::Override {
            endpoint: crate::health::overrides::Selector::Addr("2001:db8::1".parse().unwrap()),
            state: Forced::Drain,
            since: 0,
        };
        crate::health::overrides::apply(&[drain], [r]);
        assert_eq!(
            (tier(Family::V4), tier(Family::V6)),
            (Some(Tier::DrainWeighted), Some(Tier::DrainWeighted))
        );
        crate::health::overrides::apply(&[], [r]);
        assert_eq!(tier(Family::V6), Some(Tier::LiveWeighted));
    }

    #[test]
    fn pool_splits_families_in_order() {
        let p = Pool::new(
            "p",
            [
                m("2001:db8::1", 0, 1, OperatorState::Auto),
                m("192.0.2.1", 1, 1, OperatorState::Auto),
                m("2001:db8::2", 2, 1, OperatorState::Auto),
            ],
        );
        let v6: Vec<_> = p.members(Family::V6).iter().map(|m| m.target.0).collect();
        assert_eq!(v6, vec![0, 2]);
        assert_eq!(p.members(Family::V4).len(), 1);
        assert_eq!(p.iter().count(), 3);
    }
}
