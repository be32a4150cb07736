//! Test helpers shared by the engine's unit tests: the shipped `zones/`
//! compiled into a snapshot, and queries built with hickory.

use std::net::SocketAddr;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RecordType};

use crate::config::Settings;
use crate::diag::{Diagnostics, Located};
use crate::snapshot::Snapshot;

/// The shipped `zones/` directory as a snapshot (every check `up`), with
/// the example GeoIP database, as the quickstart serves them.
pub(crate) fn shipped() -> Snapshot {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let cfg = Settings {
        zones_dir: Located::default_value(root.join("zones")),
        geoip_database: Some(Located::default_value(
            root.join(crate::geoip::tool::EXAMPLE_DB),
        )),
        ..Settings::default()
    };
    let mut d = Diagnostics::new();
    crate::snapshot::build(&cfg, None, false, &mut d).unwrap_or_else(|| panic!("{d}"))
}

/// `name type` as wire bytes, EDNS with a 1232-byte payload when `edns`.
pub(crate) fn query(name: &str, rtype: RecordType, edns: bool) -> Vec<u8> {
    let mut m = Message::new(0x1234, MessageType::Query, OpCode::Query);
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), rtype));
    if edns {
        let mut e = Edns::new();
        e.set_max_payload(1232).set_version(0);
        m.set_edns(e);
    }
    m.to_vec().unwrap()
}

pub(crate) fn client(s: &str) -> SocketAddr {
    s.parse().unwrap()
}
