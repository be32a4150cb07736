//! TCP behaviour (RFC 7766): pipelining, the idle timeout, the connection
//! cap; and several listeners, IPv6 included.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use hickory_proto::rr::RecordType;

use crate::dns::*;
use crate::fixtures::*;

/// RFC 7766 §6.2.1.1: several queries on one connection, sent before any
/// reply is read, all get answered. Our server answers them in order.
#[test]
fn pipelined_queries_are_all_answered_in_order() {
    let setup = standard("pipeline", "");
    let srv = setup.serve();
    let queries: Vec<(&str, RecordType, u16)> = vec![
        ("www.example.test.", RecordType::A, 0),
        ("nothere.example.test.", RecordType::A, 3),
        ("example.test.", RecordType::SOA, 0),
        ("www.example.net.", RecordType::A, 5),
        ("huge.size.test.", RecordType::TXT, 0),
        ("chain.example.test.", RecordType::A, 0),
        ("host3.example.", RecordType::MX, 0),
        ("b.ent.example.test.", RecordType::TXT, 0),
    ];
    let mut stream = Vec::new();
    for (i, (q, t, _)) in queries.iter().enumerate() {
        let mut m = query_msg(q, *t);
        m.metadata.id = 100 + i as u16;
        stream.extend(frame(&encode(&m)));
    }
    let mut s = TcpStream::connect(srv.addr).unwrap();
    s.set_nodelay(true).unwrap();
    s.set_read_timeout(Some(REPLY_TIMEOUT)).unwrap();
    // Odd-sized writes: frames and length prefixes straddle segments.
    for chunk in stream.chunks(7) {
        s.write_all(chunk).unwrap();
    }
    for (i, (q, _, rcode)) in queries.iter().enumerate() {
        let r = read_frame(&mut s).unwrap_or_else(|| panic!("no reply #{i} ({q})"));
        assert_eq!(id_of(&r), 100 + i as u16, "reply #{i} out of order");
        assert_eq!(rcode_of(&r), *rcode, "reply #{i} ({q})");
    }
    // the connection is still usable afterwards
    s.write_all(&frame(&encode(&query_msg(
        "www.example.test.",
        RecordType::A,
    ))))
    .unwrap();
    assert!(read_frame(&mut s).is_some());
}

/// Wait for the peer to close `s`: Ok(elapsed) on EOF or reset, Err on
/// timeout or if data arrived.
fn wait_closed(s: &mut TcpStream, limit: Duration) -> Result<Duration, String> {
    let t0 = Instant::now();
    s.set_read_timeout(Some(limit)).unwrap();
    let mut buf = [0u8; 512];
    match s.read(&mut buf) {
        Ok(0) => Ok(t0.elapsed()),
        Ok(n) => Err(format!("{n} unexpected bytes")),
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
            Err(format!("still open after {limit:?}"))
        }
        Err(_) => Ok(t0.elapsed()), // reset
    }
}

/// RFC 7766 §6.2.3: the server closes connections idle for
/// `tcp_idle_timeout`; a query resets the clock.
#[test]
fn idle_tcp_connections_are_closed() {
    let setup = standard("tcp-idle", "tcp_idle_timeout = 0.5");
    let srv = setup.serve();

    // Never used: closed after about half a second.
    let mut s = TcpStream::connect(srv.addr).unwrap();
    let took = wait_closed(&mut s, Duration::from_secs(5)).unwrap();
    assert!(
        took >= Duration::from_millis(300),
        "closed too early: {took:?}"
    );

    // Kept busy for longer than the timeout: stays open, then closes.
    let mut s = TcpStream::connect(srv.addr).unwrap();
    s.set_read_timeout(Some(REPLY_TIMEOUT)).unwrap();
    let q = frame(&encode(&query_msg("www.example.test.", RecordType::A)));
    let t0 = Instant::now();
    for _ in 0..8 {
        // well inside the 0.5 s timeout, so a loaded machine does not flake
        std::thread::sleep(Duration::from_millis(150));
        s.write_all(&q).unwrap();
        assert!(read_frame(&mut s).is_some(), "closed while in use");
    }
    assert!(t0.elapsed() > Duration::from_millis(1000));
    wait_closed(&mut s, Duration::from_secs(5)).unwrap();

    // A partial message does not keep it open either.
    let mut s = TcpStream::connect(srv.addr).unwrap();
    s.write_all(&q[..5]).unwrap();
    wait_closed(&mut s, Duration::from_secs(5)).unwrap();
}

/// Query on `s` and expect an answer.
fn works(s: &mut TcpStream) -> bool {
    s.set_read_timeout(Some(REPLY_TIMEOUT)).unwrap();
    let q = frame(&encode(&query_msg("www.example.test.", RecordType::A)));
    s.write_all(&q).is_ok() && read_frame(s).is_some_and(|r| rcode_of(&r) == 0)
}

/// `tcp_max_connections = 2`: a third connection is admitted, and the
/// connection idle longest is closed to make room (RFC 7766 §6.2.2), not
/// the newcomer.
#[test]
fn tcp_connection_cap_closes_the_longest_idle_connection() {
    let setup = standard("tcp-cap", "tcp_max_connections = 2");
    let srv = setup.serve();
    let mut a = TcpStream::connect(srv.addr).unwrap();
    let mut b = TcpStream::connect(srv.addr).unwrap();
    assert!(
        works(&mut a) && works(&mut b),
        "the first two connections are served"
    );
    // a has been idle longest.
    let mut c = TcpStream::connect(srv.addr).unwrap();
    assert!(works(&mut c), "the third connection is served");
    wait_closed(&mut a, Duration::from_secs(5)).expect("the longest-idle connection was closed");
    assert!(works(&mut b), "the more recent connection keeps working");
    assert!(works(&mut c));
}

/// `--listen` is repeatable; each address serves UDP and TCP, IPv6 too.
#[tokio::test]
async fn several_listeners_ipv4_and_ipv6() {
    let setup = standard("listen-many", "");
    let srv = setup.serve_on(&["127.0.0.1:0", "[::1]:0"]);
    assert_eq!(srv.listeners.len(), 2);
    let v6: SocketAddr = srv.listeners[1].0;
    assert!(v6.is_ipv6(), "{v6}");
    for (addr, _) in &srv.listeners {
        for p in BOTH {
            let m = ask(p, *addr, "example.test.", RecordType::SOA).await;
            assert_eq!(rrs(&m.answers), [SOA_EXAMPLE], "{p:?} {addr}");
        }
    }
}
