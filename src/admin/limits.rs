//! Bounds on the admin server's connections, applied before a request is
//! read, so before authentication: a peer without the token (or any
//! local user on a loopback listener) cannot take the API away from the
//! others.
//!
//! - At most [`MAX_CONNECTIONS`] open at once, and [`PER_CLIENT`] per
//!   client (an IPv4 address or an IPv6 /64). Admission never waits: a
//!   client at its cap has its own longest-idle connection closed, a full
//!   table its longest-idle one of anyone (the DNS TCP listener's
//!   [`ConnTable`], RFC 7766 §6.2.2's advice). "Idle" counts from the last
//!   complete request head or response, so connections that trickle a
//!   request go first, and a newcomer is always served.
//! - The whole request head must arrive within [`HEAD_TIMEOUT`] of the
//!   connection starting to wait for it (on accept, and after each response
//!   of a kept-alive connection): hyper's `header_read_timeout`, so a
//!   client sending one byte every few seconds is closed all the same.
//! - Every request is answered within [`REQUEST_TIMEOUT`] (`503` otherwise;
//!   reading the body is part of it), and a connection whose reads and
//!   writes make no progress for [`STALL_TIMEOUT`] is closed (a client that
//!   stops reading its response).
//!
//! axum::serve cannot set a head deadline, so connections are served here
//! with hyper's HTTP/1 connection builder directly (as axum::serve does
//! inside), with the router as the service.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio::time::{Instant, Sleep};
use tokio_util::sync::CancellationToken;

use crate::server::conns::{Activity, ClientKey, ConnTable};

/// Connections served at once.
pub(super) const MAX_CONNECTIONS: usize = 64;
/// Connections one client (an IPv4 address or an IPv6 /64) may hold.
pub(super) const PER_CLIENT: usize = 16;
/// Longest a request head (request line and headers) may take to arrive.
pub(super) const HEAD_TIMEOUT: Duration = Duration::from_secs(5);
/// A connection whose reads and writes make no progress this long is closed.
pub(super) const STALL_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest a request may take to be answered.
pub(super) const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The limits [`serve`] applies (the constants above, smaller in tests).
#[derive(Copy, Clone, Debug)]
pub(super) struct Limits {
    pub(super) max: usize,
    pub(super) per_client: usize,
    pub(super) head: Duration,
    pub(super) stall: Duration,
    /// After shutdown begins, how long open requests may still finish.
    pub(super) grace: Duration,
}

impl Limits {
    pub(super) const DEFAULT: Limits = Limits {
        max: MAX_CONNECTIONS,
        per_client: PER_CLIENT,
        head: HEAD_TIMEOUT,
        stall: STALL_TIMEOUT,
        grace: Duration::from_secs(3),
    };
}

/// Serve `router` on `listener` within `limits` until `cancel` fires; then
/// let open requests finish for `limits.grace` and drop what is left (a
/// client that never finishes a request must not hold up the exit).
pub(super) async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    cancel: CancellationToken,
) {
    let table = Arc::new(Mutex::new(ConnTable::new(limits.max, limits.per_client)));
    let closing = CancellationToken::new();
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            r = listener.accept() => match r {
                Ok((stream, peer)) => {
                    let (id, activity, epoch) = {
                        let mut t = table.lock().unwrap_or_else(|e| e.into_inner());
                        let now = t.now_ms();
                        let a = t.admit(ClientKey::of(peer.ip()), now);
                        for (client, why) in &a.evicted {
                            tracing::debug!(client = ?client, why = ?why, "admin connection closed to make room");
                        }
                        (a.id, a.activity, t.epoch())
                    };
                    let conn = Connection {
                        stream,
                        peer,
                        router: router.clone(),
                        activity,
                        epoch,
                        limits,
                        closing: closing.clone(),
                    };
                    let table = table.clone();
                    conns.spawn(async move {
                        conn.run().await;
                        table.lock().unwrap_or_else(|e| e.into_inner()).remove(id);
                    });
                }
                Err(e) => {
                    tracing::debug!(error = %e, "admin accept error");
                    // EMFILE and friends: back off instead of spinning.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
    drop(listener);
    closing.cancel();
    let drained = tokio::time::timeout(limits.grace, async {
        while conns.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            "admin API: requests still open {} s after shutdown began; dropping them",
            limits.grace.as_secs()
        );
        conns.shutdown().await;
    }
}

/// One admitted connection and what it needs to be served.
struct Connection {
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    activity: Arc<Activity>,
    epoch: std::time::Instant,
    limits: Limits,
    closing: CancellationToken,
}

impl Connection {
    /// Serve requests until the client closes, a limit closes it, the
    /// table evicts it, or shutdown finishes it gracefully.
    async fn run(self) {
        let _ = self.stream.set_nodelay(true);
        let io = TokioIo::new(Stalling::new(self.stream, self.limits.stall));
        let hyper_svc = TowerToHyperService::new(self.router);
        let (activity, epoch) = (self.activity.clone(), self.epoch);
        let touch = move || activity.touch(epoch.elapsed().as_millis() as u64);
        let svc = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
            // The head is in: the connection is doing work, not idling.
            touch();
            let touch = touch.clone();
            let fut = hyper::service::Service::call(&hyper_svc, req);
            async move {
                let r = fut.await;
                touch();
                r
            }
        });
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(self.limits.head)
            .keep_alive(true);
        let conn = builder.serve_connection(io, svc);
        tokio::pin!(conn);
        let mut shutting = false;
        loop {
            tokio::select! {
                r = conn.as_mut() => {
                    if let Err(e) = r {
                        tracing::debug!(peer = %self.peer, error = %e, "admin connection ended");
                    }
                    return;
                }
                _ = self.activity.evict.cancelled() => {
                    tracing::debug!(peer = %self.peer, "admin connection evicted");
                    return;
                }
                _ = self.closing.cancelled(), if !shutting => {
                    shutting = true;
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

/// A stream that fails a read or write once the connection has made no
/// progress either way for the stall timeout.
struct Stalling {
    stream: TcpStream,
    stall: Duration,
    deadline: Pin<Box<Sleep>>,
}

impl Stalling {
    fn new(stream: TcpStream, stall: Duration) -> Self {
        Self {
            stream,
            stall,
            deadline: Box::pin(tokio::time::sleep(stall)),
        }
    }

    fn progress(&mut self) {
        let next = Instant::now() + self.stall;
        self.deadline.as_mut().reset(next);
    }

    /// After a `Pending`: the stall timeout's verdict.
    fn stalled<T>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        match self.deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "admin connection stalled",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncRead for Stalling {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.stream).poll_read(cx, buf) {
            Poll::Ready(r) => {
                if buf.filled().len() > before {
                    self.progress();
                }
                Poll::Ready(r)
            }
            Poll::Pending => self.stalled(cx),
        }
    }
}

impl AsyncWrite for Stalling {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.stream).poll_write(cx, buf) {
            Poll::Ready(r) => {
                if matches!(r, Ok(n) if n > 0) {
                    self.progress();
                }
                Poll::Ready(r)
            }
            Poll::Pending => self.stalled(cx),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match Pin::new(&mut self.stream).poll_flush(cx) {
            Poll::Pending => self.stalled(cx),
            r => r,
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.stream).poll_write_vectored(cx, bufs) {
            Poll::Ready(r) => {
                if matches!(r, Ok(n) if n > 0) {
                    self.progress();
                }
                Poll::Ready(r)
            }
            Poll::Pending => self.stalled(cx),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

/// Answer 503 to a request that takes longer than [`REQUEST_TIMEOUT`].
pub(super) async fn deadline(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    match tokio::time::timeout(REQUEST_TIMEOUT, next.run(req)).await {
        Ok(r) => r,
        Err(_) => super::error(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "the request took too long",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A server on 127.0.0.1 with small limits; `GET /` answers "ok".
    async fn start(limits: Limits) -> (SocketAddr, CancellationToken, tokio::task::JoinHandle<()>) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let cancel = CancellationToken::new();
        let router = Router::new().route("/", get(|| async { "ok" }));
        let task = tokio::spawn(serve(l, router, limits, cancel.clone()));
        (addr, cancel, task)
    }

    const SMALL: Limits = Limits {
        max: 4,
        per_client: 2,
        head: Duration::from_millis(400),
        stall: Duration::from_secs(5),
        grace: Duration::from_millis(200),
    };

    /// A connection from `from` (a 127/8 address) to `to`.
    async fn connect(from: &str, to: SocketAddr) -> TcpStream {
        let s = tokio::net::TcpSocket::new_v4().unwrap();
        s.bind(SocketAddr::new(from.parse().unwrap(), 0)).unwrap();
        s.connect(to).await.unwrap()
    }

    async fn get_ok(c: &mut TcpStream) -> bool {
        if c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .is_err()
        {
            return false;
        }
        let mut buf = vec![0u8; 512];
        match tokio::time::timeout(Duration::from_secs(2), c.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => buf[..n].starts_with(b"HTTP/1.1 200"),
            _ => false,
        }
    }

    /// Closed by the server: a read sees the end (or a reset) in time.
    async fn closed_within(c: &mut TcpStream, limit: Duration) -> bool {
        let mut b = [0u8; 64];
        matches!(
            tokio::time::timeout(limit, c.read(&mut b)).await,
            Ok(Ok(0) | Err(_))
        )
    }

    /// Connections trickling a head hold no slot the others need: the
    /// table is full of them, yet a newcomer (same client or another) is
    /// served at once, and each trickler is closed at the head deadline
    /// however steadily it sends.
    #[tokio::test]
    async fn tricklers_cannot_lock_the_api_out() {
        let (addr, cancel, task) = start(SMALL).await;
        let mut held = Vec::new();
        for i in 0..4 {
            let mut c = connect(&format!("127.0.0.{}", 10 + i / 2), addr).await;
            c.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
            held.push(c);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        let t0 = std::time::Instant::now();
        let mut fresh = connect("127.0.0.30", addr).await;
        assert!(get_ok(&mut fresh).await, "a new client is served");
        let mut same = connect("127.0.0.10", addr).await;
        assert!(
            get_ok(&mut same).await,
            "a trickler's own address is served"
        );
        assert!(t0.elapsed() < Duration::from_millis(300));
        // Trickle a byte every 100 ms: still closed by the head deadline.
        let start = std::time::Instant::now();
        let mut open = held.len();
        while open > 0 && start.elapsed() < Duration::from_secs(2) {
            tokio::time::sleep(Duration::from_millis(100)).await;
            open = 0;
            for c in &mut held {
                if c.write_all(b"X").await.is_ok()
                    && !closed_within(c, Duration::from_millis(1)).await
                {
                    open += 1;
                }
            }
        }
        assert_eq!(open, 0, "tricklers open after {:?}", start.elapsed());
        cancel.cancel();
        tokio::time::timeout(Duration::from_secs(2), task)
            .await
            .unwrap()
            .unwrap();
    }

    /// One client holds at most `per_client` connections: its oldest idle
    /// one is closed for its next, and other clients keep theirs.
    #[tokio::test]
    async fn one_client_cannot_take_every_slot() {
        let limits = Limits {
            head: Duration::from_secs(10),
            ..SMALL
        };
        let (addr, cancel, _task) = start(limits).await;
        let mut other = connect("127.0.0.2", addr).await;
        let mut mine = Vec::new();
        for _ in 0..3 {
            mine.push(connect("127.0.0.1", addr).await);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(closed_within(&mut mine[0], Duration::from_secs(1)).await);
        assert!(get_ok(&mut mine[2]).await);
        assert!(get_ok(&mut mine[1]).await);
        assert!(get_ok(&mut other).await, "another client keeps its slot");
        cancel.cancel();
    }

    /// A kept-alive connection is served again, and waits for its next
    /// head no longer than the head deadline.
    #[tokio::test]
    async fn keep_alive_then_head_deadline() {
        let (addr, cancel, _task) = start(SMALL).await;
        let mut c = connect("127.0.0.1", addr).await;
        assert!(get_ok(&mut c).await);
        assert!(get_ok(&mut c).await);
        let t0 = std::time::Instant::now();
        assert!(closed_within(&mut c, Duration::from_secs(2)).await);
        assert!(
            t0.elapsed() >= Duration::from_millis(300),
            "{:?}",
            t0.elapsed()
        );
        cancel.cancel();
    }
}
