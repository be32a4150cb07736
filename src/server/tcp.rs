//! TCP listener (RFC 7766): length-prefixed messages, several queries per
//! connection answered in order, idle and write timeouts, and connection
//! caps that close idle connections rather than refuse new ones.
//!
//! hickory-server's TCP listener has no connection cap, which an
//! authoritative server exposed to the Internet needs; hence our own loop.
//!
//! Starvation defences (RFC 7766 §6.2.2, §6.2.3):
//! - reads wait at most `idle_timeout` for each message;
//! - each reply write gets at most `write_timeout`, so a client that
//!   pipelines queries and never reads its replies loses its connection
//!   once its socket buffers fill, instead of holding it forever;
//! - at `max_connections_per_client` the client's own longest-idle
//!   connection is closed, and at `max_connections` the longest-idle
//!   connection of anyone ([`super::conns::ConnTable`]).

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use super::conns::{Activity, ClientKey, ConnTable};
use crate::dns::cookie::CookieJar;
use crate::dns::{Transport, Worker};
use crate::snapshot::SharedSnapshot;

/// Transport limits of the TCP listener (`tcp_*` in `dnslb.toml`).
#[derive(Debug, Clone, Copy)]
pub struct TcpLimits {
    /// Longest wait for the next message (or the rest of one).
    pub idle_timeout: Duration,
    /// Longest wait for one reply to be written.
    pub write_timeout: Duration,
    /// Connections open at once, in total.
    pub max_connections: usize,
    /// Connections open at once per client (IPv4 address or IPv6 /64).
    pub max_connections_per_client: usize,
}

/// Bind a TCP listener on `addr`.
pub fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let sock = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )?;
    if addr.is_ipv6() {
        sock.set_only_v6(true)?;
    }
    sock.set_reuse_address(true)?;
    sock.set_nonblocking(true)?;
    sock.bind(&addr.into())?;
    sock.listen(1024)?;
    TcpListener::from_std(sock.into())
}

/// How long shutdown waits for queries already being received or answered.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

/// Removes a connection from the table when its task ends, however it ends
/// (closed, timed out, evicted, cancelled, or panicked).
struct Slot {
    table: Arc<Mutex<ConnTable>>,
    id: u64,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Ok(mut t) = self.table.lock() {
            t.remove(self.id);
        }
    }
}

/// Accept connections until `cancel`; each connection is its own task.
///
/// On `cancel` the listener closes at once (nothing new is accepted) and
/// so does every connection waiting for its next query; a query already
/// being received is read to its end, answered and sent, and then the
/// connection closes. Shutdown waits at most [`SHUTDOWN_GRACE`] for those.
pub async fn serve(
    listener: TcpListener,
    snap: SharedSnapshot,
    limits: TcpLimits,
    cookies: Option<Arc<CookieJar>>,
    cancel: CancellationToken,
) {
    let conns = ConnTable::new(limits.max_connections, limits.max_connections_per_client);
    let epoch = conns.epoch();
    let table = Arc::new(Mutex::new(conns));
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = cancel.cancelled() => break,
        };
        let (stream, peer) = match accepted {
            Ok(v) => v,
            Err(e) => {
                tracing::debug!(error = %e, "tcp accept error");
                // EMFILE and friends: back off briefly instead of spinning.
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let admitted = {
            let Ok(mut t) = table.lock() else {
                // Poisoned only if a task panicked while holding it, which
                // the table's code cannot do; refuse rather than guess.
                continue;
            };
            let now = t.now_ms();
            t.admit(ClientKey::of(peer.ip()), now)
        };
        for (client, why) in &admitted.evicted {
            tracing::debug!(%peer, evicted = ?client, reason = ?why, "tcp connection cap reached; closed the longest-idle connection");
        }
        let slot = Slot {
            table: table.clone(),
            id: admitted.id,
        };
        let activity = admitted.activity;
        let snap = snap.clone();
        let cancel = cancel.clone();
        let worker = Worker::default().with_cookies(cookies.clone());
        tasks.spawn(async move {
            let _slot = slot;
            tokio::select! {
                _ = connection(stream, peer, snap, worker, limits, &activity, epoch, &cancel) => {}
                _ = activity.evict.cancelled() => {}
            }
        });
        while tasks.try_join_next().is_some() {}
    }
    drop(listener);
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            connections = tasks.len(),
            "tcp: queries still in flight {} s after shutdown began; closing them",
            SHUTDOWN_GRACE.as_secs()
        );
    }
    tasks.shutdown().await;
}

#[allow(clippy::too_many_arguments)]
async fn connection(
    mut stream: TcpStream,
    peer: SocketAddr,
    snap: SharedSnapshot,
    mut worker: Worker,
    limits: TcpLimits,
    activity: &Activity,
    epoch: Instant,
    cancel: &CancellationToken,
) {
    let _ = stream.set_nodelay(true);
    let touch = || activity.touch(epoch.elapsed().as_millis() as u64);
    let idle = limits.idle_timeout;
    let mut msg = Vec::with_capacity(512);
    let mut out = Vec::with_capacity(4096);
    let mut frame = Vec::with_capacity(4096);
    loop {
        // Waiting for a query: shutdown closes the connection here. One
        // byte at a time, so a cancelled wait loses nothing.
        let mut len = [0u8; 2];
        len[0] = tokio::select! {
            biased;
            r = tokio::time::timeout(idle, stream.read_u8()) => match r {
                Ok(Ok(b)) => b,
                _ => return, // idle timeout, EOF or error
            },
            _ = cancel.cancelled() => return,
        };
        // A query has begun: read it whole, answer, then look at shutdown.
        match tokio::time::timeout(idle, stream.read_exact(&mut len[1..])).await {
            Ok(Ok(_)) => {}
            _ => return,
        }
        let n = u16::from_be_bytes(len) as usize;
        msg.resize(n, 0);
        match tokio::time::timeout(idle, stream.read_exact(&mut msg)).await {
            Ok(Ok(_)) => {}
            _ => return,
        }
        touch();
        let s = snap.load();
        if !worker.respond(&s, &msg, peer, Transport::Tcp, &mut out) {
            continue;
        }
        drop(s);
        frame.clear();
        frame.extend_from_slice(&(out.len() as u16).to_be_bytes());
        frame.extend_from_slice(&out);
        match tokio::time::timeout(limits.write_timeout, stream.write_all(&frame)).await {
            Ok(Ok(())) => touch(),
            Ok(Err(_)) => return,
            Err(_) => {
                tracing::debug!(%peer, "tcp write timeout; closing (the client does not read its replies)");
                return;
            }
        }
    }
}
