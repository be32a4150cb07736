//! [`answer`]: one query's decision for one load-balanced name.

use super::groups::{Choice, choose};
use super::name::{BalancedName, Group, OnAllDown, Order, Ordered, Pick};
use super::pool::Health;
use super::{
    ClientInfo, Decision, DecisionKind, Family, Outcome, PolicyRng, Reason, failover, multivalue,
    pool, reason, round_robin, sticky, weighted,
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
    out.clear();
    out.ttl = lb.ttl;
    let order = lb.order.order(&lb.groups, client);
    out.ecs_scope = order.scope;
    let k = lb.answers.limit();
    match choose(order, family, Health::probed(health)) {
        Choice::Found {
            index,
            group,
            cands,
        } => {
            pick(lb.pick, group, family, &cands, k, client, rng, out);
            (out.reason, out.kind) = match cands.scan.tier {
                pool::Tier::LiveWeighted => match lb.order {
                    Order::Single => (Reason(lb.pick.policy().as_str()), DecisionKind::Policy),
                    Order::Failover => (
                        failover::reason(index),
                        if index == 0 {
                            DecisionKind::Policy
                        } else {
                            DecisionKind::Failover
                        },
                    ),
                },
                pool::Tier::LiveZero => (reason::WEIGHT_ZERO_ONLY, DecisionKind::LastResort),
                pool::Tier::DrainWeighted | pool::Tier::DrainZero => {
                    (reason::DRAIN_ONLY, DecisionKind::LastResort)
                }
            };
        }
        Choice::NoMembers => (out.reason, out.kind) = (reason::NO_MEMBERS, DecisionKind::NoData),
        Choice::AllDown => all_down(lb, order, family, client, health, rng, out),
    }
}

/// Every member of the family is unavailable: what `on_all_down` says.
#[cold]
#[inline(never)]
fn all_down(
    lb: &BalancedName,
    order: Ordered<'_>,
    family: Family,
    client: &ClientInfo,
    health: &HealthTable,
    rng: &mut PolicyRng,
    out: &mut Decision,
) {
    let k = lb.answers.limit();
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
        Pick::Weighted => weighted::pick(cands, k, rng, &mut out.addrs),
        Pick::RoundRobin => round_robin::pick(cands, group.cursor(family), k, &mut out.addrs),
        Pick::Multivalue => multivalue::pick(cands, k, rng, &mut out.addrs),
        Pick::Sticky(p) => {
            let scope = sticky::pick(cands, p, client, k, &mut out.addrs);
            out.ecs_scope = out.ecs_scope.max(scope);
        }
    }
}
