//! The lookups the query path makes allocate nothing: `GeoDb::locate` on
//! every schema dnslb reads, `NetTable` lookups, and whole geo, latency,
//! closest, least_response_time and least_connections answers through the
//! engine (custom networks, database, rule or ranking with probe RTTs,
//! pick, reply).
//!
//! Its own test binary because it installs a counting global allocator;
//! the count is per thread, so the test harness's other threads do not
//! disturb it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::IpAddr;
use std::path::Path;

use dnslb::geoip::build::{SCHEMAS, build_bytes};
use dnslb::geoip::{GeoDb, NetTable};

struct Counting;

thread_local! {
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.with(|c| c.set(c.get() + 1));
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.with(|c| c.set(c.get() + 1));
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations(f: impl FnOnce()) -> usize {
    let before = ALLOCS.with(Cell::get);
    f();
    ALLOCS.with(Cell::get) - before
}

const ADDRS: &[&str] = &[
    "192.0.2.1",
    "192.0.2.70",
    "192.0.2.200",
    "::ffff:198.51.100.7",
    "198.51.100.200",
    "203.0.113.1",
    "203.0.113.250",
    "2001:db8::1",
    "2001:db8:2000::1",
    "2001:db8:a::1",
    "10.0.0.1",
    "8.8.8.8",
    "fe80::1",
];

#[test]
fn locate_and_net_lookups_do_not_allocate() {
    let addrs: Vec<IpAddr> = ADDRS.iter().map(|a| a.parse().unwrap()).collect();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut dbs = vec![GeoDb::open(&root.join("geoip/example.mmdb")).unwrap()];
    let source = std::fs::read_to_string(root.join("geoip/example.source.toml")).unwrap();
    for (name, _) in SCHEMAS {
        // The example in every schema (country schemas keep the nets only).
        let mut text = source.replace("schema = \"geoip2-city\"", &format!("schema = \"{name}\""));
        if name.ends_with("-country") {
            text = text
                .lines()
                .map(
                    |l| match l.find(", subdivision").or_else(|| l.find(", city")) {
                        Some(i) if l.trim_start().starts_with("{ net") => {
                            format!("{} }},", &l[..i])
                        }
                        _ => l.to_owned(),
                    },
                )
                .collect::<Vec<_>>()
                .join("\n");
        }
        let (bytes, _) =
            build_bytes(&text, Path::new(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        // Records decoded at open, and decoded per lookup (the path past
        // the decoded-records cap).
        dbs.push(GeoDb::from_bytes(bytes.clone(), Path::new(name)).unwrap());
        dbs.push(GeoDb::from_bytes_undecoded(bytes, Path::new(name)).unwrap());
    }
    let nets = NetTable::build(
        [
            "192.0.2.0/24",
            "192.0.2.0/26",
            "2001:db8::/32",
            "10.0.0.0/8",
        ]
        .iter()
        .enumerate()
        .map(|(i, n)| (n.parse().unwrap(), i)),
    )
    .unwrap();
    // Warm up: the ISO tables are built on first use.
    for db in &dbs {
        for &a in &addrs {
            let _ = db.locate(a);
        }
    }
    let mut found = 0;
    let n = allocations(|| {
        for _ in 0..100 {
            for db in &dbs {
                for &a in &addrs {
                    if let Some((l, p)) = db.locate(a) {
                        found += usize::from(l.country.is_some()) + p as usize;
                    }
                }
            }
            for &a in &addrs {
                found += nets.lookup(a).1 as usize;
            }
        }
    });
    assert_eq!(
        n,
        0,
        "{n} allocations in {} lookups",
        100 * addrs.len() * (dbs.len() + 1)
    );
    assert!(found > 0);
    // and the schemas all located something with a subdivision by name
    // (DB-IP, ip-location-db) through the same path
    let cities = dbs
        .iter()
        .filter(|db| {
            db.locate("192.0.2.1".parse().unwrap())
                .and_then(|(l, _)| l.subdivision)
                .is_some()
        })
        .count();
    assert_eq!(cities, 7, "example + three -city schemas, twice");
}

/// A query for `qname` A with EDNS and, when given, ECS `net/source`.
fn query(qname: &str, ecs: Option<(&str, u8)>) -> Vec<u8> {
    use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
    use hickory_proto::rr::rdata::opt::{ClientSubnet, EdnsOption};
    use hickory_proto::rr::{Name, RecordType};
    let mut m = Message::new(1, MessageType::Query, OpCode::Query);
    m.add_query(Query::query(
        Name::from_ascii(qname).unwrap(),
        RecordType::A,
    ));
    let mut e = Edns::new();
    e.set_max_payload(1232);
    if let Some((net, source)) = ecs {
        e.options_mut().insert(EdnsOption::Subnet(ClientSubnet::new(
            net.parse().unwrap(),
            source,
            0,
        )));
    }
    m.set_edns(e);
    m.to_vec().unwrap()
}

#[test]
fn geo_answers_do_not_allocate() {
    use dnslb::config::Settings;
    use dnslb::diag::{Diagnostics, Located};
    use dnslb::dns::{Transport, Worker};

    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let settings = Settings {
        zones_dir: Located::default_value(root.join("zones")),
        geoip_database: Some(Located::default_value(root.join("geoip/example.mmdb"))),
        ..Settings::default()
    };
    let mut diags = Diagnostics::new();
    let snap = dnslb::snapshot::build(&settings, None, false, &mut diags)
        .unwrap_or_else(|| panic!("{diags}"));
    // Probe RTTs and load figures as the prober would write them, so the
    // latency order adds RTTs and the least_* picks weigh by them.
    for i in 0..snap.health.len() {
        let id = dnslb::health::TargetId(i as u32);
        snap.health.set_rtt_us(id, 300 + 250 * (i as u32 % 7));
        snap.health.set_load(id, Some((i % 5) as f32 * 3.0));
    }
    let packets: Vec<Vec<u8>> = [
        None,
        Some(("192.0.2.0", 24)),
        Some(("198.51.100.192", 26)),
        Some(("198.51.100.0", 24)),
        Some(("203.0.113.128", 25)),
        Some(("203.0.113.0", 24)),
        Some(("10.0.0.0", 8)),
        Some(("2001:db8:1000::", 48)),
        Some(("2001:db8:ffff::", 48)),
        Some(("::ffff:192.0.2.0", 120)),
    ]
    .into_iter()
    .flat_map(|ecs| {
        // geo, then the latency and closest orders (table rows, distance,
        // the configured order) over the same clients, and the
        // least_response_time and least_connections picks
        [
            "cdn.example.test.",
            "fast.example.test.",
            "near.example.test.",
            "api.example.test.",
            "jobs.example.test.",
        ]
        .map(|name| query(name, ecs))
    })
    .collect();
    let mut worker = Worker::new(9);
    let mut out = Vec::with_capacity(4096);
    let from: std::net::SocketAddr = "192.0.2.1:5300".parse().unwrap();
    let mut answer = |p: &[u8], out: &mut Vec<u8>| {
        out.clear();
        assert!(worker.respond(&snap, p, from, Transport::Udp, out));
        out.len()
    };
    for p in &packets {
        answer(p, &mut out);
    }
    let mut bytes = 0;
    let n = allocations(|| {
        for _ in 0..100 {
            for p in &packets {
                bytes += answer(p, &mut out);
            }
        }
    });
    assert_eq!(
        n,
        0,
        "{n} allocations in {} geo and latency answers",
        100 * packets.len()
    );
    assert!(bytes > 0);
}
