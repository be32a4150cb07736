//! The group chooser every name uses: walk the groups in the order the
//! name's [`Order`](super::Order) gave, and take the first whose members
//! of the queried family are available.
//!
//! Availability ranks are global across groups: a live weighted member of
//! group 2 beats a `drain` or weight-0 member of group 1, because "drain"
//! means "no new answers unless nothing else is available" for the name,
//! not just for its group. The scan stops at the first group with a live
//! weighted member, so a healthy primary costs one pass over it.

use super::name::Ordered;
use super::pool::{Candidates, Health, Tier, scan};
use super::{Family, Group};

/// Where a query's answer comes from.
pub(super) enum Choice<'a> {
    /// No group has a member of the family: NODATA, not an outage.
    NoMembers,
    /// Members of the family exist but none is available.
    AllDown,
    Found {
        /// 0-based position of the group in the name's groups.
        index: usize,
        group: &'a Group,
        cands: Candidates<'a>,
    },
}

/// The best group of `order` and its candidates ([`Health::open`] to fail
/// open).
#[inline]
pub(super) fn choose<'a>(order: Ordered<'a>, family: Family, health: Health<'a>) -> Choice<'a> {
    // File order (every order today) walks the slice directly: this is on
    // every load-balanced answer, and the indirection costs measurably.
    match order.indices() {
        None => best(order.groups().iter().enumerate(), family, health),
        Some(_) => best(order.iter(), family, health),
    }
}

#[inline(always)]
fn best<'a>(
    groups: impl Iterator<Item = (usize, &'a Group)>,
    family: Family,
    health: Health<'a>,
) -> Choice<'a> {
    let mut any_member = false;
    let mut best: Option<(usize, &'a Group, Candidates<'a>)> = None;
    for (index, group) in groups {
        let members = group.pool.members(family);
        if members.is_empty() {
            continue;
        }
        any_member = true;
        let Some(s) = scan(members, health) else {
            continue;
        };
        if best.as_ref().is_none_or(|(_, _, b)| s.tier < b.scan.tier) {
            best = Some((
                index,
                group,
                Candidates {
                    members,
                    health,
                    scan: s,
                },
            ));
            if s.tier == Tier::LiveWeighted {
                break;
            }
        }
    }
    match best {
        Some((index, group, cands)) => Choice::Found {
            index,
            group,
            cands,
        },
        None if any_member => Choice::AllDown,
        None => Choice::NoMembers,
    }
}
