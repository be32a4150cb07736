//! Selection policies: which endpoints answer a load-balanced name.
//!
//! Everything here is pure and synchronous: no I/O, no async, no locks, and
//! no allocation per pick once a [`Decision`]'s buffer has grown. The server
//! builds a [`ClientInfo`], reads the [`HealthTable`] once, and calls
//! [`answer`]. Selection tables are precomputed when the snapshot is built.
//!
//! The shared vocabulary and the compiled [`LbName`] live here; each policy
//! has its own file, [`pool`] holds the availability rules they share, and
//! [`explain()`] renders a name for `dnslb explain`.
//!
//! How one query is answered ([`answer`]):
//! 1. Find the best group (one group unless the policy is failover) whose
//!    members of the queried family are available, ranking drained and
//!    weight-0 members after every live weighted one ([`pool::Tier`]).
//! 2. Run the policy's picker over that group's candidates.
//! 3. When no member of the family is available anywhere, apply
//!    `on_all_down`; when the name has no member of the family at all, answer
//!    NODATA — that is a property of the configuration, not an outage.

mod explain;
mod failover;
mod multivalue;
pub mod pool;
mod round_robin;
mod sticky;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod testutil;
mod weighted;

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

use crate::health::HealthTable;

pub use explain::explain;
pub use pool::{Coords, MAX_ANSWERS, Member, OperatorState, Pool};
pub use sticky::StickyPrefixes;

/// The RNG every policy draws from: small, fast and seedable. Not
/// cryptographic on purpose — answers need spread, not secrecy — and
/// injected so tests replay exactly. Each worker owns one.
pub type PolicyRng = rand::rngs::SmallRng;

/// Index of a probed endpoint in the [`HealthTable`]; handed out when a
/// snapshot is compiled, one per unique (address, check).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TargetId(pub u32);

/// The address family a query asks for: A → `V4`, AAAA → `V6`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    V4,
    V6,
}

/// How the query arrived.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
}

/// An EDNS Client Subnet (RFC 7871) option from the query: the client's
/// network as the resolver chose to reveal it. `addr` has every bit beyond
/// `source_prefix` cleared.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct ClientSubnet {
    pub addr: IpAddr,
    pub source_prefix: u8,
}

/// What the server knows about the client when it picks an answer.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct ClientInfo {
    /// Address of the resolver that sent the query.
    pub resolver: IpAddr,
    pub transport: Transport,
    /// The ECS option, when the query carried one.
    pub ecs: Option<ClientSubnet>,
}

impl ClientInfo {
    /// The address that best describes the client: the ECS network when
    /// present (RFC 7871 §7.1.1), else the resolver.
    pub fn effective_addr(&self) -> IpAddr {
        match self.ecs {
            Some(s) => s.addr,
            None => self.resolver,
        }
    }
}

/// What a policy decided for one query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Answer with `Decision::addrs` (which may be empty: NODATA).
    Answer,
    /// Answer SERVFAIL (all down with `on_all_down = "servfail"`).
    ServFail,
}

/// Why a decision came out as it did: for logs, metrics and `dnslb explain`.
/// Static strings keep the hot path allocation-free.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Reason(pub &'static str);

/// The result of [`answer`]. Reused across queries by a worker so the
/// address buffer allocates only while it grows.
#[derive(Clone, Debug)]
pub struct Decision {
    pub addrs: Vec<IpAddr>,
    pub ttl: u32,
    /// ECS scope prefix to return (RFC 7871 §7.2.1); 0 when the answer does
    /// not depend on the client's network.
    pub ecs_scope: u8,
    pub outcome: Outcome,
    pub reason: Reason,
}

impl Default for Decision {
    fn default() -> Self {
        Self {
            addrs: Vec::with_capacity(16),
            ttl: 0,
            ecs_scope: 0,
            outcome: Outcome::Answer,
            reason: Reason(""),
        }
    }
}

impl Decision {
    pub fn clear(&mut self) {
        self.addrs.clear();
        self.ttl = 0;
        self.ecs_scope = 0;
        self.outcome = Outcome::Answer;
        self.reason = Reason("");
    }
}

/// How many addresses one answer carries.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Answers {
    /// Up to this many (1..=[`MAX_ANSWERS`]; the loader enforces the range).
    Count(u8),
    /// Every candidate.
    All,
}

impl Answers {
    /// Upper bound on addresses per answer.
    #[inline]
    pub fn limit(self) -> usize {
        match self {
            Self::Count(n) => usize::from(n),
            Self::All => usize::MAX,
        }
    }
}

impl fmt::Display for Answers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Count(n) => write!(f, "{n}"),
            Self::All => f.write_str("all"),
        }
    }
}

/// The policy used inside each failover group.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum GroupPolicy {
    Weighted,
    RoundRobin,
    Multivalue,
}

impl GroupPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Weighted => "weighted",
            Self::RoundRobin => "round_robin",
            Self::Multivalue => "multivalue",
        }
    }
}

/// How a name picks among its available members.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Policy {
    /// Distinct members drawn with probability proportional to weight.
    Weighted,
    /// Members in turn, `answers` at a time.
    RoundRobin,
    /// Up to `answers` members, uniformly at random, in random order.
    Multivalue,
    /// The first group (pool) with an available member, in order.
    Failover(GroupPolicy),
    /// The same member for the same client network (rendezvous hashing).
    Sticky(StickyPrefixes),
}

impl Policy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Weighted => "weighted",
            Self::RoundRobin => "round_robin",
            Self::Multivalue => "multivalue",
            Self::Failover(_) => "failover",
            Self::Sticky(_) => "sticky",
        }
    }

    /// The picker that runs inside the chosen group.
    fn select(self) -> Select {
        match self {
            Self::Weighted | Self::Failover(GroupPolicy::Weighted) => Select::Weighted,
            Self::RoundRobin | Self::Failover(GroupPolicy::RoundRobin) => Select::RoundRobin,
            Self::Multivalue | Self::Failover(GroupPolicy::Multivalue) => Select::Multivalue,
            Self::Sticky(p) => Select::Sticky(p),
        }
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Failover(g) => write!(f, "failover (group_policy {})", g.as_str()),
            Self::Sticky(p) => write!(f, "sticky (v4 /{}, v6 /{})", p.v4, p.v6),
            other => f.write_str(other.as_str()),
        }
    }
}

#[derive(Copy, Clone, Debug)]
enum Select {
    Weighted,
    RoundRobin,
    Multivalue,
    Sticky(StickyPrefixes),
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
    fn cursor(&self, family: Family) -> &AtomicUsize {
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
    /// Answer from this pool with the name's policy; fail open on it when
    /// its members are all down too.
    Fallback(Group),
}

impl OnAllDown {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::FailOpen => "all",
            Self::Empty => "empty",
            Self::ServFail => "servfail",
            Self::Fallback(_) => "fallback",
        }
    }
}

impl fmt::Display for OnAllDown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Fallback(g) => write!(f, "fallback (pool {})", g.pool.name),
            other => f.write_str(other.as_str()),
        }
    }
}

/// A compiled load-balanced name. Built by the policy-file loader; read-only
/// afterwards except for the atomic round-robin cursors in its groups.
#[derive(Debug)]
pub struct LbName {
    /// Display form of the name, for logs and explain.
    pub name: String,
    pub ttl: u32,
    pub answers: Answers,
    pub policy: Policy,
    /// Pools in priority order: exactly one unless the policy is failover.
    pub groups: Box<[Group]>,
    pub on_all_down: OnAllDown,
}

/// Reasons that are not tied to one policy.
pub mod reason {
    use super::Reason;

    pub const NO_MEMBERS: Reason = Reason("no member of the queried family");
    pub const WEIGHT_ZERO_ONLY: Reason = Reason("only weight-0 members available");
    pub const DRAIN_ONLY: Reason = Reason("only draining members available");
    pub const FAIL_OPEN: Reason = Reason("all down: fail open");
    pub const FORCED_DOWN: Reason = Reason("all down: every member forced down");
    pub const EMPTY: Reason = Reason("all down: empty");
    pub const SERVFAIL: Reason = Reason("all down: servfail");
    pub const FALLBACK: Reason = Reason("all down: fallback pool");
    pub const FALLBACK_FAIL_OPEN: Reason = Reason("all down: fallback pool fail open");
    pub const FALLBACK_NO_MEMBERS: Reason =
        Reason("all down: fallback pool has no member of the queried family");
    pub const FALLBACK_FORCED_DOWN: Reason = Reason("all down: fallback pool forced down");
}

/// Pick the answer for `lb` and `family` into `out` (cleared first).
///
/// Allocates nothing once `out.addrs` has grown to the answer size.
pub fn answer(
    lb: &LbName,
    family: Family,
    client: &ClientInfo,
    health: &HealthTable,
    rng: &mut PolicyRng,
    out: &mut Decision,
) {
    use failover::Choice;
    use pool::Health;

    out.clear();
    out.ttl = lb.ttl;
    let select = lb.policy.select();
    let k = lb.answers.limit();
    match failover::choose(&lb.groups, family, Health::probed(health)) {
        Choice::Found {
            index,
            group,
            cands,
        } => {
            run(select, group, family, &cands, k, client, rng, out);
            out.reason = match cands.scan.tier {
                pool::Tier::LiveWeighted => match lb.policy {
                    Policy::Weighted => Reason("weighted"),
                    Policy::RoundRobin => Reason("round_robin"),
                    Policy::Multivalue => Reason("multivalue"),
                    Policy::Sticky(_) => Reason("sticky"),
                    Policy::Failover(_) => failover::reason(index),
                },
                pool::Tier::LiveZero => reason::WEIGHT_ZERO_ONLY,
                pool::Tier::DrainWeighted | pool::Tier::DrainZero => reason::DRAIN_ONLY,
            };
        }
        Choice::NoMembers => out.reason = reason::NO_MEMBERS,
        Choice::AllDown => match &lb.on_all_down {
            OnAllDown::FailOpen => match failover::choose(&lb.groups, family, Health::open(health))
            {
                Choice::Found { group, cands, .. } => {
                    run(select, group, family, &cands, k, client, rng, out);
                    out.reason = reason::FAIL_OPEN;
                }
                Choice::NoMembers | Choice::AllDown => out.reason = reason::FORCED_DOWN,
            },
            OnAllDown::Empty => out.reason = reason::EMPTY,
            OnAllDown::ServFail => {
                out.outcome = Outcome::ServFail;
                out.reason = reason::SERVFAIL;
            }
            OnAllDown::Fallback(fb) => {
                let fb = std::slice::from_ref(fb);
                match failover::choose(fb, family, Health::probed(health)) {
                    Choice::Found { group, cands, .. } => {
                        run(select, group, family, &cands, k, client, rng, out);
                        out.reason = reason::FALLBACK;
                    }
                    Choice::NoMembers => out.reason = reason::FALLBACK_NO_MEMBERS,
                    Choice::AllDown => match failover::choose(fb, family, Health::open(health)) {
                        Choice::Found { group, cands, .. } => {
                            run(select, group, family, &cands, k, client, rng, out);
                            out.reason = reason::FALLBACK_FAIL_OPEN;
                        }
                        Choice::NoMembers | Choice::AllDown => {
                            out.reason = reason::FALLBACK_FORCED_DOWN
                        }
                    },
                }
            }
        },
    }
}

/// Run the picker over one group's candidates.
#[allow(clippy::too_many_arguments)]
fn run(
    select: Select,
    group: &Group,
    family: Family,
    cands: &pool::Candidates<'_>,
    k: usize,
    client: &ClientInfo,
    rng: &mut PolicyRng,
    out: &mut Decision,
) {
    match select {
        Select::Weighted => weighted::pick(cands, k, rng, &mut out.addrs),
        Select::RoundRobin => round_robin::pick(cands, group.cursor(family), k, &mut out.addrs),
        Select::Multivalue => multivalue::pick(cands, k, rng, &mut out.addrs),
        Select::Sticky(p) => out.ecs_scope = sticky::pick(cands, p, client, k, &mut out.addrs),
    }
}

/// Text description of the load-balanced name `name`, if it is one: used by
/// `dnslb explain`.
pub fn describe_name(
    snap: &crate::snapshot::Snapshot,
    name: &hickory_proto::rr::Name,
) -> Option<String> {
    let wire = crate::zone::name::to_wire_lower(name);
    let mut offs = [0u8; 128];
    let n = crate::zone::name::label_offsets(&wire, &mut offs);
    let (zone, _) = snap.zones.find(&wire, &offs[..n])?;
    let lb = zone.node(&wire)?.lb?;
    let lb = snap.lb.get(lb as usize)?;
    Some(explain(lb, &snap.health))
}
