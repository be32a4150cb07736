//! Helpers for the policy tests: documentation-range members whose target
//! ids are derived from their address, so tests can fail them by number.

use std::net::IpAddr;
use std::sync::Arc;

pub(crate) use crate::health::{HealthTable, Status, TargetId};

use super::*;

/// 192.0.2.`i`
pub(crate) fn addr4(i: u8) -> IpAddr {
    IpAddr::from([192, 0, 2, i])
}

/// 2001:db8::`i`
pub(crate) fn addr6(i: u8) -> IpAddr {
    IpAddr::from([0x2001, 0xdb8, 0, 0, 0, 0, 0, u16::from(i)])
}

/// IPv4 member 192.0.2.`i`, target `i`.
pub(crate) fn v4(i: u8, weight: u32) -> Member {
    Member::new(addr4(i), TargetId(u32::from(i)), weight)
}

/// IPv6 member 2001:db8::`i`, target 100 + `i`.
pub(crate) fn v6(i: u8, weight: u32) -> Member {
    Member::new(addr6(i), TargetId(100 + u32::from(i)), weight)
}

/// A one-pool name (`Order::Single`) that fails open.
pub(crate) fn name(pick: Pick, answers: Answers, members: Vec<Member>) -> BalancedName {
    BalancedName {
        name: "www".into(),
        ttl: 30,
        ttl_while_failing: None,
        answers,
        order: Order::Single,
        pick,
        groups: Box::new([Group::new(Arc::new(Pool::new("web", members)))]),
        on_all_down: OnAllDown::FailOpen,
    }
}

/// A client behind resolver 198.51.100.1, no ECS.
pub(crate) fn client_v4() -> ClientInfo {
    resolver("198.51.100.1")
}

pub(crate) fn resolver(addr: &str) -> ClientInfo {
    ClientInfo::new(addr.parse().unwrap(), None)
}

pub(crate) fn distinct(addrs: &[IpAddr]) -> bool {
    let mut v = addrs.to_vec();
    v.sort();
    v.dedup();
    v.len() == addrs.len()
}
