//! Response rate limiting (`[rrl]`): a bounded flood of identical queries
//! on loopback gets `responses_per_second` full answers, every `slip`-th
//! limited one truncated, the rest dropped; other client networks and TCP
//! are not limited.

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use hickory_proto::rr::RecordType;

use crate::dns::*;
use crate::fixtures::*;

/// Send `n` copies of `packet` from `from`, then collect replies until
/// none comes for 500 ms. Returns (replies, seconds the flood took).
fn flood(from: &str, to: SocketAddr, packets: &[Vec<u8>]) -> (Vec<Vec<u8>>, f64) {
    let s = UdpSocket::bind(from).unwrap();
    let t0 = Instant::now();
    for p in packets {
        s.send_to(p, to).unwrap();
    }
    let took = t0.elapsed().as_secs_f64();
    s.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut replies = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok((n, _)) = s.recv_from(&mut buf) {
        replies.push(buf[..n].to_vec());
        assert!(replies.len() <= packets.len());
    }
    (replies, took)
}

#[test]
fn a_flood_is_limited_with_slip_and_others_are_not() {
    let setup = standard(
        "rrl-flood",
        "[rrl]\nresponses_per_second = 5\nwindow = 2\nslip = 2\n",
    );
    let srv = setup.serve();
    let q = encode(&query_msg("www.example.test.", RecordType::A));
    let (replies, took) = flood("127.0.0.1:0", srv.addr, &vec![q.clone(); 200]);
    let full = replies.iter().filter(|r| flags_of(r) & TC == 0).count();
    let slipped: Vec<_> = replies.iter().filter(|r| flags_of(r) & TC != 0).collect();
    // 5 per second of flood, plus the 5 in hand at the start.
    let allowed = 5 + 5 * (took.ceil() as usize + 1);
    assert!(
        (1..=allowed).contains(&full),
        "{full} full answers in {took:.2} s"
    );
    // Half of the limited responses slip (TC=1, question only).
    let limited = 200 - full;
    assert!(
        slipped.len() >= limited / 2 - 2 && slipped.len() <= limited / 2 + 2,
        "{} slipped of {limited} limited",
        slipped.len()
    );
    for r in &slipped {
        assert_eq!(counts_of(r), [1, 0, 0, 0]);
        assert_eq!(rcode_of(r), 0);
    }
    // Another client network (another /24) is answered.
    let other = UdpSocket::bind("127.0.1.1:0").unwrap();
    other.set_read_timeout(Some(REPLY_TIMEOUT)).unwrap();
    other.send_to(&q, srv.addr).unwrap();
    let mut buf = [0u8; 4096];
    let (n, _) = other.recv_from(&mut buf).expect("other network answered");
    assert_eq!(flags_of(&buf[..n]) & TC, 0);
    // TCP is never limited.
    for _ in 0..20 {
        let r = exchange(Proto::Tcp, srv.addr, &q);
        assert_eq!(counts_of(&r)[1], 1);
    }
}

/// NXDOMAIN buckets are keyed by the zone: random names cannot dodge the
/// limit (the random-subdomain flood).
#[test]
fn random_names_share_the_nxdomain_bucket() {
    let setup = standard(
        "rrl-nxdomain",
        "[rrl]\nnxdomains_per_second = 3\nslip = 0\n",
    );
    let srv = setup.serve();
    let packets: Vec<_> = (0..100)
        .map(|i| {
            encode(&query_msg(
                &format!("r{i}-nope.example.test."),
                RecordType::A,
            ))
        })
        .collect();
    let (replies, took) = flood("127.0.0.1:0", srv.addr, &packets);
    assert!(
        !replies.is_empty() && replies.len() <= 3 + 3 * (took.ceil() as usize + 1),
        "{} NXDOMAIN replies in {took:.2} s",
        replies.len()
    );
    // Answers are not limited (only nxdomains_per_second is set).
    let q = encode(&query_msg("www.example.test.", RecordType::A));
    let (replies, _) = flood("127.0.0.1:0", srv.addr, &vec![q; 50]);
    assert_eq!(replies.len(), 50);
}

/// The limiter lives outside the snapshot: a reload (SIGHUP) keeps every
/// bucket, so a flood in progress stays limited.
#[test]
fn reloads_keep_the_limiter_state() {
    let setup = standard(
        "rrl-reload",
        "[rrl]\nresponses_per_second = 5\nwindow = 60\nslip = 0\n",
    );
    let srv = setup.serve();
    let q = encode(&query_msg("www.example.test.", RecordType::A));
    let (replies, _) = flood("127.0.0.1:0", srv.addr, &vec![q.clone(); 300]);
    assert!(replies.len() < 50, "{} replies to the flood", replies.len());
    assert!(srv.reload(), "reload failed");
    // In debt by up to 60 s × 5: a fresh table would answer 5 at once.
    let (replies, _) = flood("127.0.0.1:0", srv.addr, &vec![q; 5]);
    assert_eq!(replies.len(), 0, "the reload reset the limiter");
}
