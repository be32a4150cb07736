//! [`answer`]: one query's decision for one load-balanced name.

use super::groups::{Choice, choose};
use super::name::{BalancedName, Group, OnAllDown, Order, Ordered, Pick};
use super::pool::Health;
use super::{
    ClientInfo, Decision, Family, Outcome, PolicyRng, Reason, failover, multivalue, pool, reason,
    round_robin, sticky, weighted,
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
            out.reason = match cands.scan.tier {
                pool::Tier::LiveWeighted => match lb.order {
                    Order::Single => Reason(lb.pick.policy().as_str()),
                    Order::Failover => failover::reason(index),
                },
                pool::Tier::LiveZero => reason::WEIGHT_ZERO_ONLY,
                pool::Tier::DrainWeighted | pool::Tier::DrainZero => reason::DRAIN_ONLY,
            };
        }
        Choice::NoMembers => out.reason = reason::NO_MEMBERS,
        Choice::AllDown => match &lb.on_all_down {
            OnAllDown::FailOpen => match choose(order, family, Health::open(health)) {
                Choice::Found { group, cands, .. } => {
                    pick(lb.pick, group, family, &cands, k, client, rng, out);
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
                let fb = Ordered::in_file_order(std::slice::from_ref(fb));
                match choose(fb, family, Health::probed(health)) {
                    Choice::Found { group, cands, .. } => {
                        pick(lb.pick, group, family, &cands, k, client, rng, out);
                        out.reason = reason::FALLBACK;
                    }
                    Choice::NoMembers => out.reason = reason::FALLBACK_NO_MEMBERS,
                    Choice::AllDown => match choose(fb, family, Health::open(health)) {
                        Choice::Found { group, cands, .. } => {
                            pick(lb.pick, group, family, &cands, k, client, rng, out);
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

/// Run the pick over one group's candidates; a pick that depends on the
/// client network (sticky) narrows the ECS scope.
#[allow(clippy::too_many_arguments)]
#[inline]
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
