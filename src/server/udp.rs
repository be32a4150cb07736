//! UDP listener: SO_REUSEPORT sockets, one blocking thread each.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};

use super::Defenses;
use crate::dns::Transport;
use crate::dns::Worker;
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
    drop_responses(&sock);
    let sock: UdpSocket = sock.into();
    sock.set_read_timeout(Some(STOP_POLL))?;
    Ok(sock)
}

/// Have the kernel drop datagrams with QR=1 (responses) before any
/// listener reads them: a classic BPF socket filter. Both engines then drop
/// them alike: hickory-server's `Server` would otherwise answer FORMERR to a
/// response it cannot decode, which is a reflection vector; ours drops them
/// after a header parse anyway, and now does not even wake up for them.
/// Best effort: without the filter the engines' own checks still apply.
#[cfg(target_os = "linux")]
fn drop_responses(sock: &Socket) {
    use socket2::SockFilter;
    // A UDP socket filter sees the packet from the UDP header (8 bytes),
    // so the DNS flags' first byte, with QR as its top bit, is at 10.
    const LDB_ABS: u16 = 0x30; // BPF_LD | BPF_B | BPF_ABS
    const JSET_K: u16 = 0x45; // BPF_JMP | BPF_JSET | BPF_K
    const RET_K: u16 = 0x06; // BPF_RET | BPF_K
    let prog = [
        SockFilter::new(LDB_ABS, 0, 0, 10),
        SockFilter::new(JSET_K, 1, 0, 0x80), // QR set: skip to drop
        SockFilter::new(RET_K, 0, 0, u32::MAX), // keep the whole datagram
        SockFilter::new(RET_K, 0, 0, 0),     // drop
    ];
    if let Err(e) = sock.attach_filter(&prog) {
        tracing::debug!(error = %e, "cannot attach the QR=1 socket filter");
    }
}

#[cfg(not(target_os = "linux"))]
fn drop_responses(_: &Socket) {}

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
    def: Defenses,
    stop: Arc<AtomicBool>,
) -> io::Result<Vec<JoinHandle<()>>> {
    let mut handles = Vec::new();
    for (i, sock) in socks.into_iter().enumerate() {
        let snap = snap.clone();
        let stop = stop.clone();
        let def = def.clone();
        let h = std::thread::Builder::new()
            .name(format!("udp-{i}"))
            .spawn(move || serve(sock, snap, def, stop))?;
        handles.push(h);
    }
    Ok(handles)
}

#[cfg(target_os = "linux")]
fn serve(sock: UdpSocket, snap: SharedSnapshot, def: Defenses, stop: Arc<AtomicBool>) {
    batched::serve(sock, snap, def, stop)
}

#[cfg(not(target_os = "linux"))]
fn serve(sock: UdpSocket, snap: SharedSnapshot, def: Defenses, stop: Arc<AtomicBool>) {
    serve_simple(sock, snap, def, stop)
}

/// One `recv_from`/`send_to` pair per query: the portable loop, and the
/// fallback when the batched calls are refused.
fn serve_simple(sock: UdpSocket, snap: SharedSnapshot, def: Defenses, stop: Arc<AtomicBool>) {
    let mut worker = Worker::default().with_cookies(def.cookies.clone());
    let rrl = def.rrl;
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
            && rrl
                .as_ref()
                .is_none_or(|r| r.apply(src.ip(), &mut out, worker.cookie_valid(), r.now()))
            && let Err(e) = sock.send_to(&out, src)
        {
            tracing::debug!(error = %e, %src, "udp send error");
        }
    }
}

/// Batched UDP I/O: `recvmmsg` takes every queued query (up to [`BATCH`])
/// in one syscall, the engine answers them all against one snapshot load,
/// and `sendmmsg` sends the replies in one more. Per-packet kernel work is
/// unchanged; the syscall entry/exit per packet is what this saves.
#[cfg(target_os = "linux")]
mod batched {
    use std::io::{IoSlice, IoSliceMut};
    use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6, UdpSocket};
    use std::os::fd::AsRawFd;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use nix::errno::Errno;
    use nix::sys::socket::{
        MsgFlags, MultiHeaders, SockaddrIn, SockaddrIn6, SockaddrLike, recvmmsg, sendmmsg,
    };

    use super::super::Defenses;
    use crate::dns::Transport;
    use crate::dns::Worker;
    use crate::snapshot::SharedSnapshot;

    /// Queries taken per `recvmmsg`.
    pub(super) const BATCH: usize = 32;
    /// Largest query accepted; a longer datagram is cut (MSG_TRUNC) and
    /// answered FORMERR or dropped like any malformed packet.
    const MAX_QUERY: usize = 4096;

    /// The peer address type of a socket's family: a v4 socket only sees
    /// v4 peers, a v6 one (IPV6_V6ONLY) only v6, so the small typed
    /// addresses replace the 128-byte `sockaddr_storage` per packet.
    trait Peer: SockaddrLike + Copy {
        fn to_std(&self) -> SocketAddr;
    }

    impl Peer for SockaddrIn {
        fn to_std(&self) -> SocketAddr {
            SocketAddr::V4(SocketAddrV4::new(self.ip(), self.port()))
        }
    }

    impl Peer for SockaddrIn6 {
        fn to_std(&self) -> SocketAddr {
            SocketAddr::V6(SocketAddrV6::new(
                self.ip(),
                self.port(),
                self.flowinfo(),
                self.scope_id(),
            ))
        }
    }

    pub(super) fn serve(
        sock: UdpSocket,
        snap: SharedSnapshot,
        def: Defenses,
        stop: Arc<AtomicBool>,
    ) {
        match sock.local_addr() {
            Ok(a) if a.is_ipv6() => run::<SockaddrIn6>(sock, snap, def, stop),
            _ => run::<SockaddrIn>(sock, snap, def, stop),
        }
    }

    fn run<S: Peer>(sock: UdpSocket, snap: SharedSnapshot, def: Defenses, stop: Arc<AtomicBool>) {
        let fd = sock.as_raw_fd();
        let mut worker = Worker::default().with_cookies(def.cookies.clone());
        let rrl = def.rrl.clone();
        let mut bufs: Box<[[u8; MAX_QUERY]; BATCH]> = Box::new([[0u8; MAX_QUERY]; BATCH]);
        let mut outs: [Vec<u8>; BATCH] = std::array::from_fn(|_| Vec::with_capacity(1232));
        let mut rx = MultiHeaders::<S>::preallocate(BATCH, None);
        let mut tx = MultiHeaders::<S>::preallocate(BATCH, None);
        let mut meta: [(usize, Option<S>); BATCH] = [(0, None); BATCH];
        let mut addrs: [Option<S>; BATCH] = [None; BATCH];
        while !stop.load(Ordering::Relaxed) {
            let received = {
                let mut iovs = bufs.each_mut().map(|b| [IoSliceMut::new(&mut b[..])]);
                recvmmsg(fd, &mut rx, iovs.iter_mut(), MsgFlags::MSG_WAITFORONE, None).map(|res| {
                    let mut n = 0;
                    for (i, m) in res.enumerate() {
                        meta[i] = (m.bytes.min(MAX_QUERY), m.address);
                        n = i + 1;
                    }
                    n
                })
            };
            let n = match received {
                Ok(n) => n,
                Err(Errno::EAGAIN | Errno::EINTR) => continue,
                Err(Errno::ENOSYS) => {
                    tracing::warn!("recvmmsg unavailable; serving UDP one packet at a time");
                    return super::serve_simple(sock, snap, def, stop);
                }
                Err(e) => {
                    tracing::debug!(error = %e, "udp recvmmsg error");
                    continue;
                }
            };
            // One snapshot load (and one clock read) for the whole batch.
            let s = snap.load();
            let mut k = 0;
            let batch = meta[..n]
                .iter()
                .enumerate()
                .filter_map(|(i, &(len, addr))| {
                    let src = addr.as_ref().map(Peer::to_std)?;
                    (src.port() != 0).then_some((i, len, addr, src))
                });
            // Two loops, so that with RRL off (the default) the loop is
            // only the engine.
            match rrl.as_deref() {
                None => {
                    for (i, len, addr, src) in batch {
                        if worker.respond(&s, &bufs[i][..len], src, Transport::Udp, &mut outs[k]) {
                            addrs[k] = addr;
                            k += 1;
                        }
                    }
                }
                Some(r) => {
                    let now = r.now();
                    for (i, len, addr, src) in batch {
                        if worker.respond(&s, &bufs[i][..len], src, Transport::Udp, &mut outs[k])
                            && r.apply(src.ip(), &mut outs[k], worker.cookie_valid(), now)
                        {
                            addrs[k] = addr;
                            k += 1;
                        }
                    }
                }
            }
            drop(s);
            if k == 0 {
                continue;
            }
            let slices: [[IoSlice<'_>; 1]; BATCH] =
                std::array::from_fn(|i| [IoSlice::new(&outs[i])]);
            let mut sent = 0;
            // A full socket buffer can send fewer than asked: send the rest.
            while sent < k {
                match sendmmsg(
                    fd,
                    &mut tx,
                    slices[sent..k].iter(),
                    &addrs[sent..k],
                    [],
                    MsgFlags::empty(),
                ) {
                    Ok(res) => {
                        let c = res.count();
                        if c == 0 {
                            break;
                        }
                        sent += c;
                    }
                    Err(Errno::EINTR) => {}
                    Err(e) => {
                        // Skip the datagram that failed (e.g. EPERM from a
                        // firewall for one destination) and go on.
                        tracing::debug!(error = %e, "udp sendmmsg error");
                        sent += 1;
                    }
                }
            }
        }
    }
}
