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
use hickory_proto::rr::rdata::opt::{ClientSubnet, EdnsOption};
use hickory_proto::rr::{Name, RecordType};

use crate::dns::Transport;
use crate::dns::Worker;
use crate::snapshot::Snapshot;

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
    let rtype = RecordType::from_str(&qtype.to_ascii_uppercase())
        .with_context(|| format!("bad query type {qtype:?}"))?;
    let mut msg = Message::new(0x4242, MessageType::Query, OpCode::Query);
    msg.add_query(Query::query(qname.clone(), rtype));
    let mut edns = Edns::new();
    edns.set_max_payload(1232);
    if let Some(net) = ecs {
        edns.options_mut()
            .insert(EdnsOption::Subnet(ClientSubnet::new(
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
    if let Some(text) = describe_name(snap, &qname) {
        let _ = writeln!(s, ";; POLICY");
        s.push_str(&text);
    }
    Ok(s)
}

/// Text description of the load-balanced name `name`, if it is one.
fn describe_name(snap: &Snapshot, name: &Name) -> Option<String> {
    let wire = crate::zone::name::to_wire_lower(name);
    let mut offs = [0u8; 128];
    let n = crate::zone::name::label_offsets(&wire, &mut offs);
    let (zone, _) = snap.zones.find(&wire, &offs[..n])?;
    let lb = zone.node(&wire)?.lb()?;
    let lb = snap.lb.get(lb as usize)?;
    Some(crate::policy::explain(lb, &snap.health))
}
