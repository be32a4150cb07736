//! Selection policies: which endpoints answer a load-balanced name.
//!
//! Everything here is pure and synchronous: no I/O, no async, no locks, and
//! no allocation per pick once a [`Decision`]'s buffer has grown. The server
//! builds a [`ClientInfo`], reads the [`HealthTable`] once, and calls
//! [`answer`]. Selection tables are precomputed when the snapshot is built.
//!
//! The shared vocabulary lives here; each policy has its own file.

use std::net::IpAddr;

use crate::health::HealthTable;

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

/// A compiled load-balanced name. Built by the policy-file loader; read-only
/// afterwards except for atomic round-robin cursors.
#[derive(Debug)]
pub struct LbName {
    /// Display form of the name, for logs and explain.
    pub name: String,
    pub ttl: u32,
}

/// Pick the answer for `lb` and `family` into `out` (cleared first).
pub fn answer(
    lb: &LbName,
    family: Family,
    client: &ClientInfo,
    health: &HealthTable,
    rng: &mut rand::rngs::SmallRng,
    out: &mut Decision,
) {
    let _ = (family, client, health, rng);
    out.clear();
    out.ttl = lb.ttl;
    out.reason = Reason("no members");
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
    Some(format!("{} ttl {}\n", lb.name, lb.ttl))
}
