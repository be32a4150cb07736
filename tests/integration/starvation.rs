//! Hostile TCP clients (RFC 7766 §6.2): clients that pipeline queries and
//! never read the replies, and one address holding many idle connections,
//! must not lock other clients out. Real sockets, bounded in time.

use std::io::{ErrorKind, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use hickory_proto::rr::RecordType;

use crate::dns::*;
use crate::fixtures::*;

/// A TCP connection from `local` (a loopback address other than 127.0.0.1
/// is another client to the server's per-client cap).
fn connect_from(local: &str, to: SocketAddr) -> TcpStream {
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    s.bind(&format!("{local}:0").parse::<SocketAddr>().unwrap().into())
        .unwrap();
    s.connect_timeout(&to.into(), REPLY_TIMEOUT).unwrap();
    s.into()
}

/// One query on `s`, answered within `limit`.
fn answered_within(s: &mut TcpStream, limit: Duration) -> bool {
    s.set_read_timeout(Some(limit)).unwrap();
    let q = frame(&encode(&query_msg("www.example.test.", RecordType::A)));
    s.write_all(&q).is_ok() && read_frame(s).is_some_and(|r| rcode_of(&r) == 0)
}

/// A client that never reads: a small receive buffer, then queries written
/// until the server closes the connection (a write fails) or `limit`
/// passes. Returns how long until the server closed it, if it did.
fn pipeline_without_reading(to: SocketAddr, limit: Duration) -> Option<Duration> {
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    s.set_recv_buffer_size(4096).unwrap();
    s.connect_timeout(&to.into(), REPLY_TIMEOUT).unwrap();
    let mut s: TcpStream = s.into();
    s.set_write_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut batch = Vec::new();
    for _ in 0..200 {
        batch.extend(frame(&encode(&query_msg(
            "www.example.test.",
            RecordType::A,
        ))));
    }
    let t0 = Instant::now();
    while t0.elapsed() < limit {
        match s.write(&batch) {
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return Some(t0.elapsed()), // reset or broken pipe: closed
        }
    }
    None
}

/// `tcp_write_timeout`: a client that pipelines queries and never reads
/// its replies loses the connection once the server cannot write, instead
/// of holding it for ever (only reads used to have a timeout).
#[test]
fn a_client_that_never_reads_is_closed_after_the_write_timeout() {
    let setup = standard(
        "tcp-write-timeout",
        "tcp_idle_timeout = 3600\ntcp_write_timeout = 0.5",
    );
    let srv = setup.serve();
    let closed = pipeline_without_reading(srv.addr, Duration::from_secs(20));
    assert!(
        closed.is_some(),
        "the server kept a non-reading client's connection for 20 s"
    );
}

/// `tcp_max_connections = 8`, eight clients pipelining without reading: a
/// ninth client is still answered at once (the longest-idle connection
/// makes room), and keeps being answered.
#[test]
fn pipelining_non_readers_do_not_lock_out_a_new_client() {
    let setup = standard(
        "tcp-non-readers",
        "tcp_idle_timeout = 3600\ntcp_write_timeout = 3600\ntcp_max_connections = 8",
    );
    let srv = setup.serve();
    let addr = srv.addr;
    let hogs: Vec<_> = (0..8)
        .map(|_| std::thread::spawn(move || pipeline_without_reading(addr, Duration::from_secs(3))))
        .collect();
    // Let them fill their buffers and stall the server's writes.
    std::thread::sleep(Duration::from_millis(1500));
    let t0 = Instant::now();
    let mut c = connect_from("127.0.0.2", addr);
    assert!(
        answered_within(&mut c, Duration::from_secs(3)),
        "a new client was not answered while 8 non-readers held every slot"
    );
    assert!(t0.elapsed() < Duration::from_secs(3));
    for h in hogs {
        let _ = h.join();
    }
}

/// 1,024 idle connections from one address (the default
/// `tcp_max_connections`) hold at most `tcp_max_connections_per_client`
/// (64) slots: another client, and even a new connection from the same
/// address, is answered promptly.
#[test]
fn idle_connections_from_one_address_do_not_lock_out_others() {
    let setup = standard("tcp-idle-flood", "tcp_idle_timeout = 3600");
    let srv = setup.serve();
    let idle: Vec<TcpStream> = (0..1024)
        .map(|_| connect_from("127.0.0.1", srv.addr))
        .collect();
    let mut other = connect_from("127.0.0.2", srv.addr);
    assert!(
        answered_within(&mut other, Duration::from_secs(3)),
        "another client was locked out by 1,024 idle connections"
    );
    let mut same = connect_from("127.0.0.1", srv.addr);
    assert!(
        answered_within(&mut same, Duration::from_secs(3)),
        "a fresh connection from the flooding address was not answered"
    );
    drop(idle);
}
