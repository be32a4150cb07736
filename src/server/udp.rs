//! UDP listener: SO_REUSEPORT sockets, one blocking thread each.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};

use crate::dns::Worker;
use crate::policy::Transport;
use crate::snapshot::SharedSnapshot;

/// How often a blocked `recv_from` wakes to check for shutdown.
const STOP_POLL: Duration = Duration::from_millis(200);

fn bind_one(addr: SocketAddr) -> io::Result<UdpSocket> {
    let sock = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if addr.is_ipv6() {
        sock.set_only_v6(true)?;
    }
    sock.set_reuse_port(true)?;
    // Best effort: a bigger receive queue absorbs bursts.
    let _ = sock.set_recv_buffer_size(4 << 20);
    let _ = sock.set_send_buffer_size(4 << 20);
    sock.bind(&addr.into())?;
    let sock: UdpSocket = sock.into();
    sock.set_read_timeout(Some(STOP_POLL))?;
    Ok(sock)
}

/// Bind `workers` sockets on `addr` (port 0: the first picks the port and
/// the rest share it).
pub fn bind(addr: SocketAddr, workers: usize) -> io::Result<Vec<UdpSocket>> {
    let first = bind_one(addr)?;
    let bound = first.local_addr()?;
    let mut socks = vec![first];
    for _ in 1..workers.max(1) {
        socks.push(bind_one(bound)?);
    }
    Ok(socks)
}

/// Serve each socket on its own thread until `stop`.
pub fn start(
    socks: Vec<UdpSocket>,
    snap: SharedSnapshot,
    stop: Arc<AtomicBool>,
) -> io::Result<Vec<JoinHandle<()>>> {
    let mut handles = Vec::new();
    for (i, sock) in socks.into_iter().enumerate() {
        let snap = snap.clone();
        let stop = stop.clone();
        let h = std::thread::Builder::new()
            .name(format!("udp-{i}"))
            .spawn(move || serve(sock, snap, stop))?;
        handles.push(h);
    }
    Ok(handles)
}

fn serve(sock: UdpSocket, snap: SharedSnapshot, stop: Arc<AtomicBool>) {
    let mut worker = Worker::default();
    let mut buf = vec![0u8; 65535];
    let mut out = Vec::with_capacity(4096);
    while !stop.load(Ordering::Relaxed) {
        let (n, src) = match sock.recv_from(&mut buf) {
            Ok(v) => v,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) =>
            {
                continue;
            }
            Err(e) => {
                // ICMP-induced errors (ECONNREFUSED) and the like: keep serving.
                tracing::debug!(error = %e, "udp recv error");
                continue;
            }
        };
        if src.port() == 0 {
            continue;
        }
        let s = snap.load();
        if worker.respond(&s, &buf[..n], src, Transport::Udp, &mut out)
            && let Err(e) = sock.send_to(&out, src)
        {
            tracing::debug!(error = %e, %src, "udp send error");
        }
    }
}
