//! `dnslb explain`: what a query would be answered, and why, computed by
//! the real engine on a synthetic packet, without touching the network.
//!
//! It sits in `app` because it uses every layer below: the engine (`dns`)
//! for the answer, the snapshot for the zones, `policy` for the text.

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use anyhow::{Context, bail};
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::rdata::opt::{ClientSubnet as EcsOption, EdnsOption};
use hickory_proto::rr::{Name, RecordType};

use crate::dns::Transport;
use crate::dns::Worker;
use crate::geoip::nets::network_around;
use crate::geoip::{ClientLocation, CustomNets, LocationSource, locate_client};
use crate::policy::{BalancedName, ClientInfo, ClientSubnet};
use crate::snapshot::Snapshot;

/// A query type as the zone files write one: a mnemonic (`AAAA`, any
/// case) or `TYPEnnn` (RFC 3597 §5), as dig and kdig accept it.
fn query_type(qtype: &str) -> anyhow::Result<RecordType> {
    crate::zone::mnemonics::type_from_text(qtype.as_bytes())
        .map(RecordType::from)
        .with_context(|| {
            format!("bad query type {qtype:?}: expected a type name (A, AAAA, ...) or TYPEnnn")
        })
}

/// Describe the answer to `name`/`qtype` from `client` (with optional ECS).
pub(super) fn explain(
    snap: &Snapshot,
    name: &str,
    qtype: &str,
    client: IpAddr,
    ecs: Option<ipnet::IpNet>,
) -> anyhow::Result<String> {
    let mut qname = Name::from_str(name).with_context(|| format!("bad name {name:?}"))?;
    qname.set_fqdn(true);
    let rtype = query_type(qtype)?;
    let mut msg = Message::new(0x4242, MessageType::Query, OpCode::Query);
    msg.add_query(Query::query(qname.clone(), rtype));
    let mut edns = Edns::new();
    edns.set_max_payload(1232);
    if let Some(net) = ecs {
        edns.options_mut().insert(EdnsOption::Subnet(EcsOption::new(
            net.network(),
            net.prefix_len(),
            0,
        )));
    }
    msg.set_edns(edns);
    let packet = msg.to_vec().context("encoding the query")?;
    let mut w = Worker::new(1);
    let mut out = Vec::new();
    if !w.respond(
        snap,
        &packet,
        SocketAddr::new(client, 53),
        Transport::Udp,
        &mut out,
    ) {
        bail!("the engine dropped the query");
    }
    let resp = Message::from_vec(&out).context("decoding the reply")?;
    let mut s = String::new();
    let _ = writeln!(
        s,
        ";; query: {} {} from {}{}",
        qname,
        rtype,
        client,
        ecs.map(|e| format!(" ecs {e}")).unwrap_or_default()
    );
    let m = &resp.metadata;
    let _ = writeln!(
        s,
        ";; rcode: {}  aa: {}  tc: {}",
        resp.metadata.response_code, m.authoritative, m.truncation
    );
    if let Some(e) = &resp.edns {
        for (code, opt) in e.options().as_ref().iter() {
            if let EdnsOption::Subnet(cs) = opt {
                let _ = writeln!(s, ";; ecs scope: /{} ({code:?})", cs.scope_prefix());
            }
        }
    }
    for (title, recs) in [
        ("ANSWER", &resp.answers),
        ("AUTHORITY", &resp.authorities),
        ("ADDITIONAL", &resp.additionals),
    ] {
        if recs.is_empty() {
            continue;
        }
        let _ = writeln!(s, ";; {title}");
        for r in recs.iter() {
            let _ = writeln!(s, "{r}");
        }
    }
    if let Some(lb) = balanced_name(snap, &qname) {
        let mut client = ClientInfo::new(
            client,
            ecs.filter(|n| n.prefix_len() > 0).map(|n| ClientSubnet {
                addr: n.network(),
                source_prefix: n.prefix_len(),
            }),
        );
        if let Some(nets) = lb.order.locator() {
            // The engine's own lookup, so this says what it did.
            let addr = client.effective_addr();
            let at = locate_client(nets, snap.geoip.as_deref(), addr);
            client.location = Some(at);
            let _ = writeln!(s, ";; CLIENT");
            let unplaced = match lb.order {
                crate::policy::Order::Latency(_) => {
                    "only the latency table's network rows give estimates; the other pools follow the `groups` order"
                }
                _ => "only a default rule can match",
            };
            describe_location(&mut s, snap, nets, &client, addr, &at, ecs, unplaced);
        }
        let _ = writeln!(s, ";; POLICY");
        s.push_str(&crate::policy::explain(lb, &snap.health, &client));
    }
    Ok(s)
}

/// The load-balanced name `name`, if it is one.
fn balanced_name<'s>(snap: &'s Snapshot, name: &Name) -> Option<&'s BalancedName> {
    let wire = crate::zone::name::to_wire_lower(name);
    let mut offs = [0u8; 128];
    let n = crate::zone::name::label_offsets(&wire, &mut offs);
    let (zone, _) = snap.zones.find(&wire, &offs[..n])?;
    let lb = zone.node(&wire)?.lb()?;
    snap.lb.get(lb as usize)
}

/// Which address was located, what was found, and where it came from;
/// `unplaced` says what an unknown location means for the name.
#[allow(clippy::too_many_arguments)]
fn describe_location(
    s: &mut String,
    snap: &Snapshot,
    nets: &CustomNets,
    client: &ClientInfo,
    addr: IpAddr,
    at: &ClientLocation,
    ecs: Option<ipnet::IpNet>,
    unplaced: &str,
) {
    let why = match (client.ecs, ecs) {
        (Some(e), _) => format!("ECS {}/{}", e.addr, e.source_prefix),
        (None, Some(_)) => {
            "the resolver; ECS source /0 asks not to use the client's address (RFC 7871 7.1.2)"
                .to_owned()
        }
        (None, None) => "the resolver; no ECS".to_owned(),
    };
    let _ = writeln!(s, "address:  {addr} ({why})");
    let place = match (at.location.to_string(), at.region) {
        (l, None) if l.is_empty() => "unknown".to_owned(),
        (l, None) => l,
        (l, Some(r)) if l.is_empty() => format!("region={}", nets.region_name(r)),
        (l, Some(r)) => format!("region={} {l}", nets.region_name(r)),
    };
    let _ = writeln!(s, "location: {place}");
    let block = network_around(addr, at.prefix);
    let source = match at.source {
        LocationSource::Custom => format!(
            "custom network {} (this answer holds for {block})",
            nets.table()
                .network_of(addr)
                .map_or_else(|| "?".into(), |n| n.to_string())
        ),
        LocationSource::Database => format!(
            "database {}, network {block}",
            snap.geoip
                .as_deref()
                .map_or_else(|| "?".into(), |g| g.to_string())
        ),
        LocationSource::Unknown => match snap.geoip.as_deref() {
            Some(g) => format!(
                "none: not in the custom networks or in {} (block {block}); {unplaced}",
                g.path().display()
            ),
            None => format!(
                "none: not in the custom networks, and no GeoIP database is configured (block {block}); {unplaced}"
            ),
        },
    };
    let _ = writeln!(s, "source:   {source}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_types_by_name_or_number() {
        let t = |s: &str| query_type(s).map_err(|e| e.to_string());
        assert_eq!(t("aaaa"), Ok(RecordType::AAAA));
        assert_eq!(t("TYPE1"), Ok(RecordType::A));
        assert_eq!(t("type65"), Ok(RecordType::HTTPS));
        assert_eq!(t("TYPE65280"), Ok(RecordType::Unknown(65280)));
        assert!(t("TYPE65536").unwrap_err().contains("TYPEnnn"));
        assert!(t("BOGUS").unwrap_err().contains("bad query type \"BOGUS\""));
    }
}
