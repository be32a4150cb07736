//! DNS Cookies (RFC 7873) with interoperable server cookies (RFC 9018).
//!
//! A client sends an 8-byte client cookie; we answer with a 16-byte server
//! cookie: version 1, three reserved bytes, a 32-bit timestamp, and the
//! first 8 bytes of SipHash-2-4 keyed with our 16-byte secret over
//! client cookie | version | reserved | timestamp | client IP (RFC 9018
//! §4). A client that later returns a server cookie that checks out has
//! proven it receives our replies at its address: it is not spoofed, so
//! rate limiting exempts it (RFC 7873 §1). Because the format and the hash
//! are standard, every server of an anycast set sharing the secret (dnslb,
//! BIND, Knot, PowerDNS, NSD...) accepts the others' cookies.
//!
//! Policy, as BIND and Knot by default (RFC 7873 §5.2):
//! - no COOKIE option: answered as if cookies did not exist (§5.2.1);
//! - malformed (not 8 or 16..=40 bytes): FORMERR (§5.2.2);
//! - only a client cookie, or a server cookie that fails the check: a
//!   normal answer carrying a fresh server cookie (§5.2.3 choice 3,
//!   §5.2.4), unless `require` is set: then UDP gets BADCOOKIE with the
//!   fresh cookie and no answer, and TCP, which cannot be spoofed, is
//!   answered normally;
//! - a valid server cookie: a normal answer; the cookie is echoed while it
//!   is younger than half an hour, else renewed (RFC 9018 §4.3).
//!
//! A server cookie is valid when its version is 1, its timestamp is at
//! most an hour old and at most five minutes ahead of our clock (RFC 9018
//! §4.3), and its hash matches the current or the previous secret (the
//! rollover of RFC 9018 §5).

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;
use siphasher::sip::SipHasher24;

/// EDNS option code of COOKIE (RFC 7873 §4).
pub const OPT_COOKIE: u16 = 10;
/// Extended RCODE BADCOOKIE (RFC 7873 §8).
pub const RCODE_BADCOOKIE: u16 = 23;

/// Bytes of a server cookie we make (RFC 9018 §4).
pub const SERVER_COOKIE_LEN: usize = 16;
/// Bytes of the COOKIE option we send: client + server cookie.
pub const REPLY_COOKIE_LEN: usize = 8 + SERVER_COOKIE_LEN;

/// A cookie older than this is not accepted (RFC 9018 §4.3).
const MAX_AGE: u32 = 3600;
/// A cookie from further in the future than this is not accepted.
const MAX_AHEAD: u32 = 300;
/// A valid cookie older than this is renewed in the reply.
const RENEW_AGE: u32 = 1800;

/// The COOKIE option of a query (RFC 7873 §4).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct QueryCookie {
    pub client: [u8; 8],
    /// The server cookie as sent (8..=32 bytes), if any.
    pub server: [u8; 32],
    pub server_len: u8,
}

impl QueryCookie {
    /// Parse the option data; `None` when malformed (RFC 7873 §5.2.2: not
    /// 8 bytes, nor 16..=40).
    pub fn parse(data: &[u8]) -> Option<Self> {
        let n = data.len();
        if n != 8 && !(16..=40).contains(&n) {
            return None;
        }
        let mut c = Self {
            client: [0; 8],
            server: [0; 32],
            server_len: (n - 8) as u8,
        };
        c.client.copy_from_slice(&data[..8]);
        c.server[..n - 8].copy_from_slice(&data[8..]);
        Some(c)
    }

    pub fn server(&self) -> &[u8] {
        &self.server[..usize::from(self.server_len)]
    }
}

/// A 16-byte server secret.
pub type Secret = [u8; 16];

/// The secrets in force: `current` makes cookies; `previous` (after a
/// rotation, or listed second in the config) is still accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Secrets {
    pub current: Secret,
    pub previous: Option<Secret>,
}

/// Cookie settings and secrets, shared by every listener thread. The
/// secrets sit in an `ArcSwap` so a rotation never blocks a query.
#[derive(Debug)]
pub struct CookieJar {
    secrets: ArcSwap<Secrets>,
    /// Answer BADCOOKIE over UDP to cookie-aware clients without a valid
    /// server cookie (BIND's `require-server-cookie`).
    pub require: bool,
}

/// What the engine does with a query's cookie.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// The COOKIE option of the reply: the client cookie and our server
    /// cookie.
    pub option: [u8; REPLY_COOKIE_LEN],
    /// The query carried a valid server cookie.
    pub valid: bool,
}

impl CookieJar {
    pub fn new(secrets: Secrets, require: bool) -> Self {
        Self {
            secrets: ArcSwap::from_pointee(secrets),
            require,
        }
    }

    /// Make `fresh` the current secret and keep the current one as
    /// previous, so cookies handed out before stay valid (RFC 9018 §5).
    pub fn rotate(&self, fresh: Secret) {
        let old = self.secrets.load();
        self.secrets.store(Arc::new(Secrets {
            current: fresh,
            previous: Some(old.current),
        }));
    }

    pub fn secrets(&self) -> Secrets {
        Secrets::clone(&self.secrets.load())
    }

    /// Judge `cookie` from `client` at `now` (seconds since the Unix epoch,
    /// as RFC 9018 timestamps are) and build the reply's option.
    pub fn verdict(&self, cookie: &QueryCookie, client: IpAddr, now: u32) -> Verdict {
        let secrets = self.secrets.load();
        let mut option = [0u8; REPLY_COOKIE_LEN];
        option[..8].copy_from_slice(&cookie.client);
        // 0: invalid; 1: valid with the current secret; 2: with the previous.
        let by = if cookie.server_len as usize == SERVER_COOKIE_LEN {
            let sc: &[u8; 16] = cookie.server[..16].try_into().expect("16 bytes");
            let ts = u32::from_be_bytes([sc[4], sc[5], sc[6], sc[7]]);
            let age = now.wrapping_sub(ts);
            let in_window = if (age as i32) >= 0 {
                age <= MAX_AGE
            } else {
                ts.wrapping_sub(now) <= MAX_AHEAD
            };
            if sc[0] != 1 || !in_window {
                0
            } else if check(sc, &cookie.client, client, &secrets.current) {
                1
            } else if secrets
                .previous
                .is_some_and(|p| check(sc, &cookie.client, client, &p))
            {
                2
            } else {
                0
            }
        } else {
            0
        };
        let valid = by != 0;
        // Echo a young cookie made with the current secret; renew the rest
        // (older than half an hour, or made with the previous secret).
        let echo = by == 1 && {
            let ts = u32::from_be_bytes(cookie.server[4..8].try_into().expect("4 bytes"));
            let age = now.wrapping_sub(ts);
            (age as i32) >= 0 && age < RENEW_AGE
        };
        if echo {
            option[8..].copy_from_slice(&cookie.server[..16]);
        } else {
            option[8..].copy_from_slice(&make(&cookie.client, client, now, &secrets.current));
        }
        Verdict { option, valid }
    }
}

/// The RFC 9018 hash: SipHash-2-4 keyed with `secret` over client cookie |
/// version | reserved | timestamp | client address (4 or 16 bytes), as the
/// little-endian bytes of the 64-bit result (RFC 9018 Appendix A).
fn hash(head: &[u8], client_cookie: &[u8; 8], client: IpAddr, secret: &Secret) -> [u8; 8] {
    use std::hash::Hasher as _;
    let mut h = SipHasher24::new_with_key(secret);
    h.write(client_cookie);
    h.write(&head[..8]);
    match client.to_canonical() {
        IpAddr::V4(a) => h.write(&a.octets()),
        IpAddr::V6(a) => h.write(&a.octets()),
    }
    h.finish().to_le_bytes()
}

/// A fresh server cookie: version 1, reserved 0, timestamp `now`.
pub fn make(client_cookie: &[u8; 8], client: IpAddr, now: u32, secret: &Secret) -> [u8; 16] {
    let mut sc = [0u8; 16];
    sc[0] = 1;
    sc[4..8].copy_from_slice(&now.to_be_bytes());
    let h = hash(&sc, client_cookie, client, secret);
    sc[8..].copy_from_slice(&h);
    sc
}

/// Whether `sc`'s hash matches, with the version, reserved and timestamp
/// bytes as the client sent them.
fn check(sc: &[u8; 16], client_cookie: &[u8; 8], client: IpAddr, secret: &Secret) -> bool {
    hash(sc, client_cookie, client, secret) == sc[8..16]
}

/// Seconds since the Unix epoch, truncated to 32 bits (RFC 9018 timestamps
/// use serial number arithmetic, so the wrap in 2106 is harmless).
pub fn unix_now() -> u32 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as u32)
}

#[cfg(test)]
mod tests;
