//! Selection: which endpoints answer a load-balanced name.
//!
//! Everything here is pure and synchronous: no I/O, no async, no locks, and
//! no allocation per pick once a [`Decision`]'s buffer has grown. The engine
//! builds a [`ClientInfo`], reads the `HealthTable` once, and calls
//! [`answer`]. Selection tables are precomputed when the snapshot is built.
//! Policies see a compiled name, a client and a health table: never the
//! snapshot, the DNS packet or the config files.
//!
//! This file holds the shared vocabulary only; [`answer`] (in `answer.rs`)
//! runs one query. A name is **group order × member pick** ([`name`]):
//! 1. [`Order`] lists the groups to try for this client, best first
//!    (the name's pool, failover's list, or the [`geo`] rules).
//! 2. [`groups`] takes the first whose members of the queried family are
//!    available, ranking drained and weight-0 members after every live
//!    weighted one ([`pool::Tier`]).
//! 3. [`Pick`] chooses members inside it (one file per pick:
//!    `weighted`, `round_robin`, `multivalue`, `sticky`,
//!    `least_response_time`, [`least_connections`]).
//! 4. When no member of the family is available anywhere, `on_all_down`
//!    decides; when the name has no member of the family at all, the
//!    answer is NODATA — a property of the configuration, not an outage.
//!
//! [`pool`] holds the availability rules, [`sample`] the sampling helpers,
//! `failover` its reasons, and [`explain()`] renders a name for
//! `dnslb explain`.

mod answer;
mod explain;
mod failover;
pub mod geo;
pub mod groups;
pub mod latency;
pub mod least_connections;
mod least_response_time;
mod multivalue;
pub mod name;
pub mod pool;
mod round_robin;
pub mod sample;
mod sticky;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod testutil;
mod tolerance;
mod weighted;

use std::fmt;
use std::net::IpAddr;

use crate::geoip::ClientLocation;

pub use answer::{answer, answer_bounded};
pub use explain::explain;
pub use name::{AllDownMode, BalancedName, Group, OnAllDown, Order, Ordered, Pick, Policy};
pub use pool::{Coords, MAX_ANSWERS, Member, OperatorState, Pool, Site};
pub use sticky::StickyPrefixes;
pub use tolerance::Tolerance;

/// The RNG every policy draws from: small, fast and seedable. Not
/// cryptographic on purpose — answers need spread, not secrecy — and
/// injected so tests replay exactly. Each worker owns one.
pub type PolicyRng = rand::rngs::SmallRng;

/// The address family a query asks for: A → `V4`, AAAA → `V6`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    V4,
    V6,
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
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct ClientInfo {
    /// Address of the resolver that sent the query.
    pub resolver: IpAddr,
    /// The ECS option, when the query carried one with a source prefix
    /// above 0 (a source prefix of 0 asks us not to use the client's
    /// address, RFC 7871 §7.1.2: the resolver's is used, scope 0).
    pub ecs: Option<ClientSubnet>,
    /// Where [`effective_addr`](Self::effective_addr) is, looked up by the
    /// engine only for names whose order needs it
    /// ([`Order::locator`]); `None` otherwise, which a geo order treats as
    /// unknown.
    pub location: Option<ClientLocation>,
}

impl ClientInfo {
    /// A client known only by its resolver's address.
    pub fn new(resolver: IpAddr, ecs: Option<ClientSubnet>) -> Self {
        Self {
            resolver,
            ecs,
            location: None,
        }
    }

    /// The address that best describes the client: the ECS network when
    /// present (RFC 7871 §7.1.1), else the resolver. The engine locates
    /// this address for orders that depend on the client.
    #[inline]
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

/// The class of a decision, as `/metrics` counts answers per name
/// (`dnslb_answers_total{decision}`): coarser than [`Reason`], and a small
/// integer so the engine indexes a counter with it.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum DecisionKind {
    /// The policy answered from the name's first available group, with
    /// live weighted members: the normal case.
    Policy = 0,
    /// A failover name answered from a group after the first.
    Failover = 1,
    /// Only weight-0 or draining members were available.
    LastResort = 2,
    /// Every member was down: answered with them anyway (fail open).
    FailOpen = 3,
    /// Every member was down: answered from the fallback pool.
    Fallback = 4,
    /// No address: no member of the family, `on_all_down = "empty"`, or
    /// every member forced down.
    NoData = 5,
    /// Every member was down and `on_all_down = "servfail"`.
    ServFail = 6,
}

impl DecisionKind {
    /// Every kind, in counter order.
    pub const ALL: [DecisionKind; 7] = [
        Self::Policy,
        Self::Failover,
        Self::LastResort,
        Self::FailOpen,
        Self::Fallback,
        Self::NoData,
        Self::ServFail,
    ];

    /// The metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Policy => "policy",
            Self::Failover => "failover",
            Self::LastResort => "last_resort",
            Self::FailOpen => "fail_open",
            Self::Fallback => "fallback",
            Self::NoData => "nodata",
            Self::ServFail => "servfail",
        }
    }
}

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
    pub kind: DecisionKind,
}

impl Default for Decision {
    fn default() -> Self {
        Self {
            addrs: Vec::with_capacity(16),
            ttl: 0,
            ecs_scope: 0,
            outcome: Outcome::Answer,
            reason: Reason(""),
            kind: DecisionKind::Policy,
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
        self.kind = DecisionKind::Policy;
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
