//! The TCP connection table: who holds a connection, how long each has been
//! idle, and which one to close when a cap is reached.
//!
//! RFC 7766 §6.2.2 asks servers to manage their connections so that a few
//! clients cannot exhaust them, and to prefer closing idle connections over
//! refusing new ones. Two caps apply at admission:
//!
//! - per client (an IPv4 address, or an IPv6 /64: one host can have a whole
//!   /64, so a per-address cap would be no cap): the client's own
//!   longest-idle connection is closed to admit its new one;
//! - in total: the longest-idle connection of anyone is closed.
//!
//! So a client that opens 1,024 connections and never uses them only ever
//! holds `max_per_client` slots, and a full table still admits a newcomer.
//!
//! Activity is an atomic millisecond stamp per connection, written by the
//! connection's task after every complete query read and reply write, and
//! read only here, at admission. The table itself sits behind a mutex taken
//! on accept and on close, never per query. Finding the longest-idle
//! connection is a linear scan, paid only when a cap is reached (about 1 ms
//! per 100,000 connections).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use tokio_util::sync::CancellationToken;

/// The unit a per-client cap counts: an IPv4 address or an IPv6 /64.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct ClientKey(IpAddr);

impl ClientKey {
    /// IPv4 (and IPv4-mapped IPv6) addresses count alone; IPv6 by /64.
    pub fn of(addr: IpAddr) -> Self {
        match addr.to_canonical() {
            IpAddr::V6(v6) => {
                let bits = u128::from(v6) & !((1u128 << 64) - 1);
                Self(IpAddr::V6(bits.into()))
            }
            v4 => Self(v4),
        }
    }
}

/// What one connection shares with the table.
#[derive(Debug)]
pub struct Activity {
    /// Milliseconds since the table's epoch at the last complete read or
    /// write.
    last_ms: AtomicU64,
    /// Cancelled when the table closes this connection to make room.
    pub evict: CancellationToken,
}

impl Activity {
    /// Record activity now (`ms` from [`ConnTable::now_ms`]).
    #[inline]
    pub fn touch(&self, ms: u64) {
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    fn last(&self) -> u64 {
        self.last_ms.load(Ordering::Relaxed)
    }
}

struct Entry {
    client: ClientKey,
    activity: Arc<Activity>,
}

/// Why an admission closed another connection.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Evicted {
    /// The same client's longest-idle connection (per-client cap).
    SameClient,
    /// The longest-idle connection of any client (total cap).
    Anyone,
}

/// A connection admitted by [`ConnTable::admit`].
pub struct Admitted {
    pub id: u64,
    pub activity: Arc<Activity>,
    /// Connections closed to make room, with the reason.
    pub evicted: Vec<(ClientKey, Evicted)>,
}

/// Every open TCP connection of one listener.
pub struct ConnTable {
    epoch: Instant,
    max_total: usize,
    max_per_client: usize,
    next_id: u64,
    conns: HashMap<u64, Entry>,
    per_client: HashMap<ClientKey, usize>,
}

impl ConnTable {
    /// `max_total` ≥ 1 connections in all, `max_per_client` ≥ 1 per client
    /// (values above `max_total` act as `max_total`).
    pub fn new(max_total: usize, max_per_client: usize) -> Self {
        Self {
            epoch: Instant::now(),
            max_total: max_total.max(1),
            max_per_client: max_per_client.max(1),
            next_id: 0,
            conns: HashMap::new(),
            per_client: HashMap::new(),
        }
    }

    /// Time zero of [`Self::now_ms`], for connection tasks to stamp
    /// activity without taking the table's lock.
    pub fn epoch(&self) -> Instant {
        self.epoch
    }

    /// The clock [`Activity::touch`] takes, in milliseconds.
    pub fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    pub fn len(&self) -> usize {
        self.conns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.conns.is_empty()
    }

    /// Connections `client` holds.
    pub fn count(&self, client: ClientKey) -> usize {
        self.per_client.get(&client).copied().unwrap_or(0)
    }

    /// Admit a new connection from `client` at `now_ms`, first closing the
    /// client's own longest-idle connection if it is at its cap, then the
    /// longest-idle connection of anyone if the table is full.
    pub fn admit(&mut self, client: ClientKey, now_ms: u64) -> Admitted {
        let mut evicted = Vec::new();
        if self.count(client) >= self.max_per_client
            && let Some(id) = self.longest_idle(Some(client))
        {
            self.evict(id);
            evicted.push((client, Evicted::SameClient));
        }
        while self.conns.len() >= self.max_total {
            let Some(id) = self.longest_idle(None) else {
                break;
            };
            if let Some(c) = self.evict(id) {
                evicted.push((c, Evicted::Anyone));
            }
        }
        let id = self.next_id;
        self.next_id += 1;
        let activity = Arc::new(Activity {
            last_ms: AtomicU64::new(now_ms),
            evict: CancellationToken::new(),
        });
        self.conns.insert(
            id,
            Entry {
                client,
                activity: activity.clone(),
            },
        );
        *self.per_client.entry(client).or_default() += 1;
        Admitted {
            id,
            activity,
            evicted,
        }
    }

    /// Forget connection `id` (closed by its task); a no-op if it was
    /// evicted already.
    pub fn remove(&mut self, id: u64) {
        if let Some(e) = self.conns.remove(&id) {
            self.uncount(e.client);
        }
    }

    fn uncount(&mut self, client: ClientKey) {
        if let Some(n) = self.per_client.get_mut(&client) {
            *n -= 1;
            if *n == 0 {
                self.per_client.remove(&client);
            }
        }
    }

    /// Close `id` now: cancel its task and free its slot.
    fn evict(&mut self, id: u64) -> Option<ClientKey> {
        let e = self.conns.remove(&id)?;
        e.activity.evict.cancel();
        self.uncount(e.client);
        Some(e.client)
    }

    /// The connection idle longest, among `client`'s or everyone's; ties go
    /// to the oldest connection.
    fn longest_idle(&self, client: Option<ClientKey>) -> Option<u64> {
        self.conns
            .iter()
            .filter(|(_, e)| client.is_none_or(|c| e.client == c))
            .min_by_key(|(id, e)| (e.activity.last(), **id))
            .map(|(id, _)| *id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> ClientKey {
        ClientKey::of(s.parse().unwrap())
    }

    #[test]
    fn client_keys_group_ipv6_by_64_and_unmap_ipv4() {
        assert_eq!(key("2001:db8:1:2::1"), key("2001:db8:1:2:ffff::9"));
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
        assert_eq!(key("::ffff:192.0.2.1"), key("192.0.2.1"));
        assert_ne!(key("192.0.2.1"), key("192.0.2.2"));
    }

    #[test]
    fn per_client_cap_closes_that_clients_longest_idle_connection() {
        let mut t = ConnTable::new(100, 2);
        let a = key("192.0.2.1");
        let first = t.admit(a, 0);
        let second = t.admit(a, 10);
        first.activity.touch(50); // the first one was used since
        let third = t.admit(a, 60);
        assert_eq!(third.evicted, vec![(a, Evicted::SameClient)]);
        assert!(second.activity.evict.is_cancelled());
        assert!(!first.activity.evict.is_cancelled());
        assert_eq!(t.count(a), 2);
        // Another client is not affected by a's cap.
        let b = t.admit(key("192.0.2.2"), 70);
        assert!(b.evicted.is_empty());
        assert_eq!(t.len(), 3);
    }

    #[test]
    fn full_table_closes_the_longest_idle_connection_of_anyone() {
        let mut t = ConnTable::new(3, 3);
        let c: Vec<_> = (1..=3)
            .map(|i| t.admit(key(&format!("192.0.2.{i}")), i))
            .collect();
        c[0].activity.touch(100);
        c[2].activity.touch(100);
        let d = t.admit(key("192.0.2.9"), 200);
        assert_eq!(d.evicted, vec![(key("192.0.2.2"), Evicted::Anyone)]);
        assert!(c[1].activity.evict.is_cancelled());
        assert_eq!(t.len(), 3);
        // Removing an evicted connection again changes nothing.
        t.remove(c[1].id);
        assert_eq!(t.len(), 3);
        t.remove(c[0].id);
        assert_eq!((t.len(), t.count(key("192.0.2.1"))), (2, 0));
    }

    #[test]
    fn one_client_cannot_hold_the_table() {
        let mut t = ConnTable::new(1024, 64);
        let a = key("192.0.2.1");
        let held: Vec<_> = (0..1024).map(|i| t.admit(a, i)).collect();
        assert_eq!(t.count(a), 64);
        let cancelled = held
            .iter()
            .filter(|h| h.activity.evict.is_cancelled())
            .count();
        assert_eq!(cancelled, 1024 - 64);
        let b = t.admit(key("192.0.2.2"), 2000);
        assert!(b.evicted.is_empty());
    }
}
