//! The shipped example: `dnslb serve` with no config serves `./zones`, and
//! the quickstart queries work, through hickory's client and through dig.
//!
//! The dig tests are `#[ignore = "needs dig"]`; CI runs them with
//! `--include-ignored`.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use crate::dns::*;
use crate::harness::{TestServer, repo_root};

/// `dnslb serve --listen 127.0.0.1:0` from the repository root.
fn shipped() -> TestServer {
    TestServer::start(
        &["serve".into(), "--listen".into(), "127.0.0.1:0".into()],
        Some(&repo_root()),
    )
}

#[tokio::test]
async fn shipped_zones_answer_the_quickstart_queries() {
    let srv = shipped();
    for p in BOTH {
        let m = ask(p, srv.addr, "example.test.", RecordType::SOA).await;
        assert_eq!(m.metadata.response_code, ResponseCode::NoError, "{p:?}");
        assert!(m.metadata.authoritative, "{p:?}\n{}", describe(&m));
        assert_eq!(m.answers.len(), 1, "{p:?}\n{}", describe(&m));
        assert_eq!(m.answers[0].record_type(), RecordType::SOA);
        assert_eq!(m.answers[0].name, name("example.test."));
        // the nested example zone is served too
        let m = ask(p, srv.addr, "sub.example.test.", RecordType::SOA).await;
        assert_eq!(m.answers.len(), 1, "{p:?}\n{}", describe(&m));
        assert_eq!(m.answers[0].name, name("sub.example.test."));
    }
}

fn dig(srv: &TestServer, args: &[&str]) -> String {
    crate::harness::dig(srv.addr.port(), args)
}

#[test]
#[ignore = "needs dig"]
fn dig_quickstart_soa_over_udp() {
    let srv = shipped();
    let out = dig(&srv, &["example.test", "SOA"]);
    assert!(out.contains("status: NOERROR"), "{out}");
    assert!(out.contains("flags: qr aa"), "{out}");
    assert!(out.contains("ANSWER: 1,"), "{out}");
    assert!(out.contains("(UDP)"), "{out}");
}

#[test]
#[ignore = "needs dig"]
fn dig_quickstart_soa_over_tcp() {
    let srv = shipped();
    let out = dig(&srv, &["+tcp", "example.test", "SOA"]);
    assert!(out.contains("status: NOERROR"), "{out}");
    assert!(out.contains("flags: qr aa"), "{out}");
    assert!(out.contains("ANSWER: 1,"), "{out}");
    assert!(out.contains("(TCP)"), "{out}");
}

/// dig retries a truncated UDP answer over TCP by itself (our own zone,
/// so the shipped example can change).
#[test]
#[ignore = "needs dig"]
fn dig_falls_back_to_tcp_on_truncation() {
    let setup = crate::fixtures::standard("dig-tc", "");
    let srv = setup.serve();
    let out = dig(&srv, &["+noedns", "big.size.test", "TXT"]);
    assert!(out.contains("Truncated, retrying in TCP mode"), "{out}");
    assert!(out.contains("flags: qr aa"), "{out}");
    assert!(out.contains("(TCP)"), "{out}");
}
