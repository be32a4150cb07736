//! [`answer`]: one query's decision for one load-balanced name.

use rand::Rng as _;

use super::groups::{Choice, choose};
use super::latency::{self, Draw, MAX_POOLS};
use super::name::{BalancedName, Group, OnAllDown, Order, Ordered, Pick};
use super::pool::Health;
use super::{
    ClientInfo, Decision, DecisionKind, Family, MAX_ANSWERS, Outcome, PolicyRng, Reason, failover,
    geo, least_connections, least_response_time, multivalue, pool, reason, round_robin, sticky,
    weighted,
};
use crate::health::HealthTable;

/// Pick the answer for `lb` and `family` into `out` (cleared first):
/// order the groups for this client, choose the first available one, pick
/// inside it. The ECS scope is the narrowest (longest) prefix any step
/// depended on.
///
/// Allocates nothing once `out.addrs` has grown to the answer size.
pub fn answer(
    lb: &BalancedName,
    family: Family,
    client: &ClientInfo,
    health: &HealthTable,
    rng: &mut PolicyRng,
    out: &mut Decision,
) {
    answer_bounded(lb, family, client, health, rng, out, usize::MAX)
}

/// [`answer`] picking at most `max` addresses (at least 1): the most the
/// reply has room for, so a pool of 200,000 members with `answers = "all"`
/// costs a pick of what fits, not of every member. With `answers = "all"`
/// and more candidates than fit, the pick is a uniform random subset.
pub fn answer_bounded(
    lb: &BalancedName,
    family: Family,
    client: &ClientInfo,
    health: &HealthTable,
    rng: &mut PolicyRng,
    out: &mut Decision,
    max: usize,
) {
    out.clear();
    out.ttl = lb.ttl;
    let mut buf = [0u16; MAX_POOLS];
    let draw = || match lb.pick {
        // A sticky pick draws the pool from the client network too, so
        // one network gets one pool (and load balancer) for A and AAAA.
        Pick::Sticky(p) => {
            let (hash, scope) = sticky::client_hash(client, p);
            Draw::Client { hash, scope }
        }
        _ => Draw::Random(rng.next_u64()),
    };
    let order = lb
        .order
        .order(&lb.groups, client, family, health, draw, &mut buf);
    out.ecs_scope = order.scope;
    let k = lb.answers.limit().min(max.max(1));
    match choose(order, family, Health::probed(health)) {
        Choice::Found {
            index,
            group,
            cands,
        } => {
            pick(lb.pick, group, family, &cands, k, client, rng, out);
            (out.reason, out.kind) = match cands.scan.tier {
                pool::Tier::LiveWeighted => match &lb.order {
                    Order::Single => (Reason(lb.pick.policy().as_str()), DecisionKind::Policy),
                    Order::Failover => (
                        failover::reason(index),
                        if index == 0 {
                            DecisionKind::Policy
                        } else {
                            DecisionKind::Failover
                        },
                    ),
                    Order::Geo(_) => geo_decision(&order, index),
                    Order::Latency(_) => match order.indices().and_then(<[u16]>::first) {
                        Some(&i) if usize::from(i) == index => order
                            .first()
                            .unwrap_or((latency::LATER, DecisionKind::Failover)),
                        _ => (latency::LATER, DecisionKind::Failover),
                    },
                },
                pool::Tier::LiveZero => (reason::WEIGHT_ZERO_ONLY, DecisionKind::LastResort),
                pool::Tier::DrainWeighted | pool::Tier::DrainZero => {
                    (reason::DRAIN_ONLY, DecisionKind::LastResort)
                }
            };
        }
        Choice::NoMembers => {
            out.reason = match order.indices() {
                Some([]) => geo::NO_RULE,
                _ => reason::NO_MEMBERS,
            };
            out.kind = DecisionKind::NoData;
        }
        Choice::AllDown => all_down(lb, order, family, k, client, health, rng, out),
    }
    if let Some(short) = lb.ttl_while_failing
        && short < out.ttl
        && any_failing(lb, family, health)
    {
        out.ttl = short;
    }
}

/// Is the health check of any member of `family` in the name's groups
/// failing (up, latest probes failed) or down? Only names with
/// `ttl_while_failing` ask, so the walk costs nothing elsewhere.
#[cold]
#[inline(never)]
fn any_failing(lb: &BalancedName, family: Family, health: &HealthTable) -> bool {
    lb.groups
        .iter()
        .flat_map(|g| g.pool.members(family))
        .any(|m| pool::cell_of(m, health).failing())
}

/// Every member of the family is unavailable: what `on_all_down` says.
#[cold]
#[inline(never)]
#[allow(clippy::too_many_arguments)]
fn all_down(
    lb: &BalancedName,
    order: Ordered<'_>,
    family: Family,
    k: usize,
    client: &ClientInfo,
    health: &HealthTable,
    rng: &mut PolicyRng,
    out: &mut Decision,
) {
    (out.reason, out.kind) = match &lb.on_all_down {
        OnAllDown::FailOpen => match choose(order, family, Health::open(health)) {
            Choice::Found { group, cands, .. } => {
                pick(lb.pick, group, family, &cands, k, client, rng, out);
                (reason::FAIL_OPEN, DecisionKind::FailOpen)
            }
            Choice::NoMembers | Choice::AllDown => (reason::FORCED_DOWN, DecisionKind::NoData),
        },
        OnAllDown::Empty => (reason::EMPTY, DecisionKind::NoData),
        OnAllDown::ServFail => {
            out.outcome = Outcome::ServFail;
            (reason::SERVFAIL, DecisionKind::ServFail)
        }
        OnAllDown::Fallback(fb) => {
            let fb = Ordered::in_file_order(std::slice::from_ref(fb));
            match choose(fb, family, Health::probed(health)) {
                Choice::Found { group, cands, .. } => {
                    pick(lb.pick, group, family, &cands, k, client, rng, out);
                    (reason::FALLBACK, DecisionKind::Fallback)
                }
                Choice::NoMembers => (reason::FALLBACK_NO_MEMBERS, DecisionKind::NoData),
                Choice::AllDown => match choose(fb, family, Health::open(health)) {
                    Choice::Found { group, cands, .. } => {
                        pick(lb.pick, group, family, &cands, k, client, rng, out);
                        (reason::FALLBACK_FAIL_OPEN, DecisionKind::Fallback)
                    }
                    Choice::NoMembers | Choice::AllDown => {
                        (reason::FALLBACK_FORCED_DOWN, DecisionKind::NoData)
                    }
                },
            }
        }
    };
}

/// The reason for an answer from group `index` of a geo order, and its
/// kind: the rule's first pool is the policy's answer, a later one (the
/// rule's next pools, then the default's) a failover.
fn geo_decision(order: &Ordered<'_>, index: usize) -> (Reason, DecisionKind) {
    let k = order
        .indices()
        .and_then(|ix| ix.iter().position(|&i| usize::from(i) == index))
        .unwrap_or(0);
    let kind = if k == 0 {
        DecisionKind::Policy
    } else {
        DecisionKind::Failover
    };
    (geo::reason(k, order.default_from()), kind)
}

/// Run the pick over one group's candidates; a pick that depends on the
/// client network (sticky) narrows the ECS scope.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn pick(
    pick: Pick,
    group: &Group,
    family: Family,
    cands: &pool::Candidates<'_>,
    k: usize,
    client: &ClientInfo,
    rng: &mut PolicyRng,
    out: &mut Decision,
) {
    match pick {
        // More than MAX_ANSWERS only with answers = "all" bounded by the
        // reply's room; "all" ignores weights (every member, random order),
        // so its subset is uniform too.
        Pick::Weighted if k > MAX_ANSWERS && k < cands.scan.count => {
            multivalue::pick(cands, k, rng, &mut out.addrs)
        }
        Pick::Weighted => weighted::pick(cands, k, rng, &mut out.addrs),
        Pick::RoundRobin => round_robin::pick(cands, group.cursor(family), k, &mut out.addrs),
        Pick::Multivalue => multivalue::pick(cands, k, rng, &mut out.addrs),
        Pick::Sticky(p) => {
            let scope = sticky::pick(cands, p, client, k, &mut out.addrs);
            out.ecs_scope = out.ecs_scope.max(scope);
        }
        Pick::LeastResponseTime(t) => least_response_time::pick(cands, t, k, rng, &mut out.addrs),
        Pick::LeastConnections => least_connections::pick(cands, k, rng, &mut out.addrs),
    }
}
