//! TCP listener (RFC 7766): length-prefixed messages, several queries per
//! connection answered in order, an idle timeout, and a connection cap.
//!
//! hickory-server's TCP listener has no connection cap, which an
//! authoritative server exposed to the Internet needs; hence our own loop.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::dns::Transport;
use crate::dns::Worker;
use crate::snapshot::SharedSnapshot;

/// Limits fixed for the listener's life (the idle timeout comes from the
/// snapshot, so a reload changes it).
#[derive(Debug, Clone, Copy)]
pub struct TcpLimits {
    pub max_connections: usize,
}

/// How long shutdown waits for queries already being received or answered.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

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
    cancel: CancellationToken,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
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
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            tracing::debug!(%peer, "tcp connection limit reached; closing");
            drop(stream);
            continue;
        };
        let snap = snap.clone();
        let cancel = cancel.clone();
        tasks.spawn(async move {
            let _permit = permit;
            connection(stream, peer, snap, cancel).await;
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

async fn connection(
    mut stream: TcpStream,
    peer: SocketAddr,
    snap: SharedSnapshot,
    cancel: CancellationToken,
) {
    let _ = stream.set_nodelay(true);
    let mut worker = Worker::default();
    let mut msg = Vec::with_capacity(512);
    let mut out = Vec::with_capacity(4096);
    let mut frame = Vec::with_capacity(4096);
    loop {
        let idle = snap.load().limits.tcp_idle_timeout;
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
        let s = snap.load();
        if !worker.respond(&s, &msg, peer, Transport::Tcp, &mut out) {
            continue;
        }
        drop(s);
        frame.clear();
        frame.extend_from_slice(&(out.len() as u16).to_be_bytes());
        frame.extend_from_slice(&out);
        if stream.write_all(&frame).await.is_err() {
            return;
        }
    }
}
