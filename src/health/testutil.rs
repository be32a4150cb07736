//! Test helpers: a tiny loopback server with canned replies, check builders,
//! and a TLS ClientHello reader. Tests only; never leaves 127.0.0.1.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use super::check::{Check, CheckKind, HttpCheck, HttpMethod, StatusSet};
use super::{Status, TargetKey};

pub(crate) const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// How the server answers each connection.
#[derive(Clone, Debug)]
pub(crate) enum Reply {
    /// An HTTP/1.1 response with this status and body, then close.
    Http(u16, &'static str),
    /// Status, extra header lines (each ending in `\r\n`) and body.
    HttpWith(u16, &'static str, &'static str),
    /// Read the request, then hold the connection open and say nothing.
    Hang,
    /// Read the request (or ClientHello), then close.
    Close,
}

/// A loopback server on 127.0.0.1:0 recording what it received.
pub(crate) struct TestServer {
    pub addr: SocketAddr,
    reply: Arc<Mutex<Reply>>,
    received: Arc<Mutex<Vec<Vec<u8>>>>,
    task: JoinHandle<()>,
}

impl TestServer {
    pub(crate) async fn start(reply: Reply) -> Self {
        let listener = TcpListener::bind((LOCALHOST, 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let reply = Arc::new(Mutex::new(reply));
        let received = Arc::new(Mutex::new(Vec::new()));
        let (r, rx) = (reply.clone(), received.clone());
        let task = tokio::spawn(async move {
            // Dropping the set (when this task is aborted) ends every
            // connection, hanging ones included.
            let mut conns = tokio::task::JoinSet::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (r, rx) = (r.clone(), rx.clone());
                conns.spawn(serve(stream, r, rx));
                while conns.try_join_next().is_some() {}
            }
        });
        Self {
            addr,
            reply,
            received,
            task,
        }
    }

    pub(crate) fn set(&self, reply: Reply) {
        *self.reply.lock().unwrap() = reply;
    }

    /// Everything received so far, one entry per connection.
    pub(crate) fn received(&self) -> Vec<Vec<u8>> {
        self.received.lock().unwrap().clone()
    }

    /// The last request head as lowercase text.
    pub(crate) fn last_request(&self) -> String {
        let all = self.received();
        String::from_utf8_lossy(all.last().expect("a request")).to_ascii_lowercase()
    }

    /// Close the port: later connections are refused.
    pub(crate) async fn stop(mut self) {
        self.task.abort();
        let _ = (&mut self.task).await;
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(mut s: TcpStream, reply: Arc<Mutex<Reply>>, received: Arc<Mutex<Vec<Vec<u8>>>>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if complete(&buf) || buf.len() > 64 * 1024 {
            break;
        }
        match tokio::time::timeout(Duration::from_secs(5), s.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => buf.extend_from_slice(&chunk[..n]),
            _ => break,
        }
    }
    let head = buf.clone();
    received.lock().unwrap().push(buf);
    let r = reply.lock().unwrap().clone();
    let r = match r {
        Reply::Http(code, body) => Reply::HttpWith(code, "", body),
        other => other,
    };
    match r {
        Reply::Http(..) => {}
        Reply::HttpWith(code, extra, body) => {
            let is_head = head.starts_with(b"HEAD ");
            let resp = format!(
                "HTTP/1.1 {code} Canned\r\nContent-Length: {}\r\nLocation: http://127.0.0.1:1/\r\n{extra}Connection: close\r\n\r\n{}",
                body.len(),
                if is_head { "" } else { body }
            );
            let _ = s.write_all(resp.as_bytes()).await;
            let _ = s.shutdown().await;
        }
        Reply::Hang => std::future::pending::<()>().await,
        Reply::Close => {}
    }
}

/// An HTTP request head, or a whole TLS record, has arrived.
fn complete(buf: &[u8]) -> bool {
    if buf.first() == Some(&0x16) && buf.len() >= 5 {
        let len = u16::from_be_bytes([buf[3], buf[4]]) as usize;
        return buf.len() >= 5 + len;
    }
    buf.windows(4).any(|w| w == b"\r\n\r\n")
}

/// The SNI host name of a TLS ClientHello record, if it carries one.
pub(crate) fn client_hello_sni(rec: &[u8]) -> Option<String> {
    // record header (5), handshake header (4), version (2), random (32)
    let mut p = rec.get(5..)?;
    if *p.first()? != 0x01 {
        return None;
    }
    p = p.get(4 + 2 + 32..)?;
    let skip = |p: &[u8], len_bytes: usize| -> Option<usize> {
        let n = match len_bytes {
            1 => *p.first()? as usize,
            _ => u16::from_be_bytes([*p.first()?, *p.get(1)?]) as usize,
        };
        Some(len_bytes + n)
    };
    p = p.get(skip(p, 1)?..)?; // session id
    p = p.get(skip(p, 2)?..)?; // cipher suites
    p = p.get(skip(p, 1)?..)?; // compression methods
    let ext_len = u16::from_be_bytes([*p.first()?, *p.get(1)?]) as usize;
    let mut ext = p.get(2..2 + ext_len)?;
    while ext.len() >= 4 {
        let typ = u16::from_be_bytes([ext[0], ext[1]]);
        let len = u16::from_be_bytes([ext[2], ext[3]]) as usize;
        let data = ext.get(4..4 + len)?;
        if typ == 0 {
            // server_name_list: len (2), type (1) = host_name, len (2), name
            let n = u16::from_be_bytes([*data.get(3)?, *data.get(4)?]) as usize;
            return Some(String::from_utf8_lossy(data.get(5..5 + n)?).into_owned());
        }
        ext = &ext[4 + len..];
    }
    None
}

/// A check with the validated defaults, probing `port` (tests set fields).
pub(crate) fn check(kind: CheckKind, port: u16) -> Check {
    Check {
        name: "web".into(),
        kind,
        port,
        probe_address: None,
        interval: Duration::from_secs(5),
        timeout: Duration::from_secs(2),
        rise: 2,
        fall: 3,
        initial_state: Status::Up,
    }
}

/// A plain-HTTP GET of `/` with the validated defaults.
pub(crate) fn http() -> HttpCheck {
    HttpCheck {
        tls: None,
        method: HttpMethod::Get,
        path: "/".into(),
        host: None,
        expect_status: StatusSet::default(),
        body_contains: None,
        headers: Vec::new(),
        user_agent: super::DEFAULT_USER_AGENT.into(),
        load: None,
    }
}

pub(crate) fn key(addr: IpAddr, check: Check) -> TargetKey {
    TargetKey {
        addr,
        check: Some(Arc::new(check)),
    }
}

/// A port on 127.0.0.1 that nothing listens on (bound, then released).
pub(crate) async fn closed_port() -> u16 {
    let l = TcpListener::bind((LOCALHOST, 0)).await.unwrap();
    l.local_addr().unwrap().port()
}
