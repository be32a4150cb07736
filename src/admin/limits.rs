//! Bounds on the admin server's connections: at most [`MAX_CONNECTIONS`]
//! open at once (further clients wait in the kernel's backlog), each closed
//! after [`IDLE_TIMEOUT`] without a byte from the client, and every request
//! answered within [`REQUEST_TIMEOUT`] (503 otherwise). A client that opens
//! connections and sends nothing (slowloris) can then hold the API only
//! for moments, and never DNS.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};

/// Connections served at once.
pub(super) const MAX_CONNECTIONS: usize = 64;
/// A connection that sends nothing for this long is closed.
pub(super) const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest a request may take to be answered.
pub(super) const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// A listener that admits at most `MAX_CONNECTIONS` at once.
pub(super) struct Limited {
    listener: TcpListener,
    slots: Arc<Semaphore>,
    idle: Duration,
}

impl Limited {
    pub(super) fn new(listener: TcpListener, max: usize, idle: Duration) -> Self {
        Self {
            listener,
            slots: Arc::new(Semaphore::new(max)),
            idle,
        }
    }
}

impl axum::serve::Listener for Limited {
    type Io = Bounded;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        // The semaphore is never closed.
        let permit = self
            .slots
            .clone()
            .acquire_owned()
            .await
            .expect("the admin connection semaphore is never closed");
        loop {
            match self.listener.accept().await {
                Ok((stream, addr)) => {
                    let _ = stream.set_nodelay(true);
                    let io = Bounded {
                        stream,
                        _permit: permit,
                        idle: self.idle,
                        deadline: Box::pin(tokio::time::sleep(self.idle)),
                    };
                    return (io, addr);
                }
                Err(e) => {
                    tracing::debug!(error = %e, "admin accept error");
                    // EMFILE and friends: back off instead of spinning.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.listener.local_addr()
    }
}

/// One admitted connection: holds its slot, and fails its reads once the
/// client has been silent for the idle timeout.
pub(super) struct Bounded {
    stream: TcpStream,
    _permit: OwnedSemaphorePermit,
    idle: Duration,
    deadline: Pin<Box<Sleep>>,
}

impl AsyncRead for Bounded {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.stream).poll_read(cx, buf) {
            Poll::Ready(r) => {
                if buf.filled().len() > before {
                    let next = Instant::now() + self.idle;
                    self.deadline.as_mut().reset(next);
                }
                Poll::Ready(r)
            }
            Poll::Pending => match self.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "admin client idle too long",
                ))),
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

impl AsyncWrite for Bounded {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
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
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn slots_and_idle_timeout() {
        use axum::serve::Listener as _;
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let mut lim = Limited::new(l, 1, Duration::from_millis(200));
        let _c1 = tokio::net::TcpStream::connect(addr).await.unwrap();
        let t0 = std::time::Instant::now();
        let (mut first, _) = lim.accept().await;
        let mut c2 = tokio::net::TcpStream::connect(addr).await.unwrap();
        // One slot: the second waits while the first is open.
        let second = tokio::time::timeout(Duration::from_millis(100), lim.accept()).await;
        assert!(second.is_err(), "admitted past the limit");
        // The silent first connection fails its read after the idle time.
        let mut b = [0u8; 1];
        let e = first.read(&mut b).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        assert!(t0.elapsed() >= Duration::from_millis(150));
        drop(first);
        let (mut second, _) = lim.accept().await;
        c2.write_all(b"x").await.unwrap();
        assert_eq!(second.read(&mut b).await.unwrap(), 1);
    }
}
