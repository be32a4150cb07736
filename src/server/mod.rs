//! Listeners: UDP and TCP sockets feeding the query engine.
//!
//! Both transports call the same [`crate::dns::Worker::respond`], so they
//! answer identically; only the size limit differs (RFC 7766 §5).
//!
//! UDP runs on plain OS threads, one SO_REUSEPORT socket each: the kernel
//! spreads datagrams across sockets, and a blocking `recv_from` loop avoids
//! the async machinery per packet. TCP runs on tokio: connections are
//! long-lived and mostly idle, so tasks fit them.

pub mod conns;
pub mod hickory;
pub mod tcp;
pub mod udp;

use std::sync::Arc;

use crate::dns::cookie::CookieJar;
use crate::dns::rrl::Rrl;

/// What every listener shares besides the snapshot: the defences against
/// hostile clients, whose state (rate-limit buckets, cookie secrets) lives
/// outside the snapshot so reloads keep it.
#[derive(Clone, Debug, Default)]
pub struct Defenses {
    /// UDP response rate limiting (`[rrl]`), if on.
    pub rrl: Option<Arc<Rrl>>,
    /// DNS cookie secrets (`[cookies]`), if on.
    pub cookies: Option<Arc<CookieJar>>,
}
