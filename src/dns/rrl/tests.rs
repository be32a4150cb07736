use std::net::IpAddr;

use hickory_proto::op::Message;
use hickory_proto::rr::RecordType;

use super::*;
use crate::dns::Transport;
use crate::dns::Worker;
use crate::dns::testutil::{client, query, shipped};

fn params(rate: u32) -> Params {
    Params {
        rates: [rate; 5],
        window: 15,
        slip: 2,
        ipv4_prefix: 24,
        ipv6_prefix: 56,
        table_size: 1024,
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// Actions for `n` responses at second `now`.
fn burst(r: &Rrl, who: &str, kind: Kind, name: u64, now: u32, n: usize) -> Vec<Action> {
    (0..n).map(|_| r.decide(ip(who), kind, name, now)).collect()
}

fn sends(actions: &[Action]) -> usize {
    actions.iter().filter(|&&a| a == Action::Send).count()
}

#[test]
fn rate_per_second_then_limited_with_slip_alternating() {
    let r = Rrl::new(params(5), 1);
    let a = burst(&r, "192.0.2.1", Kind::Answer, 7, 100, 9);
    use Action::*;
    assert_eq!(a, [Send, Send, Send, Send, Send, Drop, Slip, Drop, Slip]);
    // The next second brings `rate` more credit, not more than that.
    let a = burst(&r, "192.0.2.1", Kind::Answer, 7, 101, 9);
    assert_eq!(sends(&a), 1, "debt of 4 plus 5 credit: {a:?}");
    let c = r.stats.counts();
    assert_eq!(c.slipped[0] + c.dropped[0], 4 + 8);
}

#[test]
fn slip_zero_drops_all_and_one_truncates_all() {
    for (slip, want) in [(0, Action::Drop), (1, Action::Slip)] {
        let r = Rrl::new(Params { slip, ..params(1) }, 1);
        let a = burst(&r, "192.0.2.1", Kind::Answer, 7, 5, 6);
        assert_eq!(a[0], Action::Send);
        assert!(a[1..].iter().all(|&x| x == want), "slip {slip}: {a:?}");
    }
}

#[test]
fn debt_lasts_up_to_the_window() {
    let r = Rrl::new(params(10), 1);
    // A long flood: the debt bottoms out at window × rate = 150.
    for t in 0..100 {
        burst(&r, "192.0.2.1", Kind::Answer, 7, t, 1000);
    }
    // 15 s after the flood the balance is back to 0: still limited.
    assert_eq!(
        sends(&burst(&r, "192.0.2.1", Kind::Answer, 7, 99 + 15, 1)),
        0
    );
    // One more second of credit (minus the response just counted).
    let r2 = Rrl::new(params(10), 1);
    for t in 0..100 {
        burst(&r2, "192.0.2.1", Kind::Answer, 7, t, 1000);
    }
    assert_eq!(
        sends(&burst(&r2, "192.0.2.1", Kind::Answer, 7, 99 + 16, 1)),
        1
    );
}

#[test]
fn buckets_are_per_client_network_kind_and_name() {
    let r = Rrl::new(params(2), 1);
    assert_eq!(sends(&burst(&r, "192.0.2.1", Kind::Answer, 7, 0, 2)), 2);
    // Same /24: same bucket, already spent.
    assert_eq!(sends(&burst(&r, "192.0.2.200", Kind::Answer, 7, 0, 1)), 0);
    // Another /24, another kind, another name: fresh buckets.
    assert_eq!(sends(&burst(&r, "192.0.3.1", Kind::Answer, 7, 0, 1)), 1);
    assert_eq!(sends(&burst(&r, "192.0.2.1", Kind::NxDomain, 7, 0, 1)), 1);
    assert_eq!(sends(&burst(&r, "192.0.2.1", Kind::Answer, 8, 0, 1)), 1);
    // IPv6 by /56; IPv4-mapped addresses count as IPv4.
    assert_eq!(
        sends(&burst(&r, "2001:db8:0:100::1", Kind::Answer, 7, 0, 2)),
        2
    );
    assert_eq!(
        sends(&burst(&r, "2001:db8:0:1ff::9", Kind::Answer, 7, 0, 1)),
        0
    );
    assert_eq!(
        sends(&burst(&r, "2001:db8:0:200::1", Kind::Answer, 7, 0, 1)),
        1
    );
    assert_eq!(
        sends(&burst(&r, "::ffff:192.0.2.9", Kind::Answer, 7, 0, 1)),
        0
    );
}

#[test]
fn per_kind_rates_and_zero_means_unlimited() {
    let mut p = params(0);
    p.rates[Kind::NxDomain as usize] = 1;
    let r = Rrl::new(p, 1);
    assert!(p.enabled());
    assert_eq!(
        sends(&burst(&r, "192.0.2.1", Kind::Answer, 7, 0, 1000)),
        1000
    );
    assert_eq!(sends(&burst(&r, "192.0.2.1", Kind::NxDomain, 7, 0, 10)), 1);
    assert!(!params(0).enabled());
}

/// A spoofed-source flood (a fresh client network per packet) neither grows
/// the table nor frees a victim that is being limited.
#[test]
fn spoofed_source_flood_keeps_memory_and_the_victims_limit() {
    let r = Rrl::new(params(5), 42);
    let slots = r.slots.len();
    for t in 0..30u32 {
        // The victim's bucket is hammered every second...
        let a = burst(&r, "198.51.100.7", Kind::Answer, 7, t, 50);
        if t > 0 {
            assert_eq!(sends(&a), 0, "second {t}: the victim got through");
        }
        // ...while 20,000 spoofed sources each send one query.
        for i in 0..20_000u32 {
            let src = IpAddr::from((i + t * 20_000).wrapping_mul(2654435761).to_be_bytes());
            r.decide(src, Kind::Answer, 7, t);
        }
    }
    assert_eq!(r.slots.len(), slots);
    assert!(r.stats.counts().evicted > 0);
}

#[test]
fn threads_share_a_bucket_without_losing_updates() {
    let r = std::sync::Arc::new(Rrl::new(params(1000), 1));
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let r = r.clone();
            std::thread::spawn(move || sends(&burst(&r, "192.0.2.1", Kind::Answer, 7, 3, 5000)))
        })
        .collect();
    let total: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(total, 1000);
}

#[test]
fn slots_pack_and_unpack() {
    for s in [
        Slot {
            tag: 1,
            time: 0,
            balance: 1000,
            slips: 0,
        },
        Slot {
            tag: u16::MAX,
            time: TIME_MASK as u32,
            balance: -3_600_000,
            slips: 9,
        },
    ] {
        assert_eq!(Slot::unpack(s.pack()), s);
    }
}

/// Answer `name type` from the shipped zones and classify the reply.
fn class_of(name: &str, rtype: RecordType) -> (Kind, u64, Vec<u8>) {
    let snap = shipped();
    let mut w = Worker::new(1);
    let mut out = Vec::new();
    assert!(w.respond(
        &snap,
        &query(name, rtype, true),
        client("192.0.2.1:5300"),
        Transport::Udp,
        &mut out
    ));
    let (k, h) = classify(&out).unwrap();
    (k, h, out)
}

#[test]
fn classifies_replies_like_bind() {
    let (k, www, _) = class_of("www.example.test.", RecordType::A);
    assert_eq!(k, Kind::Answer);
    assert_ne!(class_of("www.example.test.", RecordType::AAAA).1, www);
    assert_eq!(class_of("WWW.Example.TEST.", RecordType::A).1, www);
    // NXDOMAIN and NODATA are keyed by the zone, so random names share one
    // bucket.
    let (k, a, _) = class_of("nope-1.example.test.", RecordType::A);
    let (_, b, _) = class_of("nope-2.example.test.", RecordType::A);
    assert_eq!((k, a), (Kind::NxDomain, b));
    let (k, c, _) = class_of("b.deep.example.test.", RecordType::A);
    assert_eq!((k, c), (Kind::NoData, a));
    // Referrals by the delegation.
    let (k, r1, _) = class_of("x.delegated.example.test.", RecordType::A);
    let (_, r2, _) = class_of("y.delegated.example.test.", RecordType::A);
    assert_eq!((k, r1), (Kind::Referral, r2));
    assert_eq!(class_of("example.org.", RecordType::A).0, Kind::Error);
    // A truncated answer is still an answer.
    let (k, _, out) = class_of("big.example.test.", RecordType::TXT);
    let _ = out;
    assert_eq!(k, Kind::Answer);
    assert_eq!(classify(&[0; 5]), None);
}

#[test]
fn slip_truncates_and_keeps_the_opt() {
    let (_, _, mut out) = class_of("www.example.test.", RecordType::A);
    slip(&mut out);
    let m = Message::from_vec(&out).unwrap();
    assert!(m.metadata.truncation);
    assert!(!m.metadata.authoritative);
    assert!(m.answers.is_empty() && m.authorities.is_empty());
    assert_eq!(m.queries.len(), 1);
    assert_eq!(m.edns.as_ref().map(|e| e.max_payload()), Some(1232));
    // Without EDNS there is no OPT to keep.
    let snap = shipped();
    let mut out = Vec::new();
    Worker::new(1).respond(
        &snap,
        &query("nope.example.test.", RecordType::A, false),
        client("192.0.2.1:5300"),
        Transport::Udp,
        &mut out,
    );
    slip(&mut out);
    let m = Message::from_vec(&out).unwrap();
    assert!(m.metadata.truncation && m.edns.is_none() && m.authorities.is_empty());
    assert_eq!(u16::from(m.metadata.response_code), 3);
}

#[test]
fn names_hash_without_case_and_through_pointers() {
    // "WwW.Example.test" at 12, then "www" + pointer to "example.test".
    let mut m = vec![0u8; 12];
    m.extend_from_slice(b"\x03WwW\x07Example\x04test\x00");
    let second = m.len();
    m.extend_from_slice(b"\x03www\xc0\x10");
    let (a, end_a) = hash_name(&m, 12).unwrap();
    let (b, end_b) = hash_name(&m, second).unwrap();
    assert_eq!(a, b);
    assert_eq!((end_a, end_b), (second, m.len()));
    assert_ne!(
        hash_name(b"\x03wwx\x00", 0).unwrap().0,
        hash_name(b"\x03www\x00", 0).unwrap().0
    );
    // Forward pointers and overlong names are refused.
    assert_eq!(hash_name(b"\xc0\x05\x00\x00\x00\x00", 0), None);
    for b in 0..=255u8 {
        let w = u64::from_le_bytes([b; 8]);
        assert_eq!(
            lower8(w),
            u64::from_le_bytes([b.to_ascii_lowercase(); 8]),
            "{b:#x}"
        );
    }
}

#[test]
fn sharded_counter_sums_every_thread() {
    let c = std::sync::Arc::new(super::ShardedCounter::default());
    let threads: Vec<_> = (0..20)
        .map(|_| {
            let c = c.clone();
            std::thread::spawn(move || (0..1000).for_each(|_| c.add_one()))
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    assert_eq!(c.sum(), 20_000);
}
