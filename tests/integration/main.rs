//! Integration tests: the real `dnslb` binary, started on a free loopback
//! port, queried the way resolvers query it (hickory's client over UDP and
//! TCP), plus raw packets for what a client library will not send.
//!
//! One test binary (STYLE.md). Each test starts its own server on its own
//! zone files in a scratch directory, so tests run in parallel and share
//! in `src/`; `#[ignore = "needs dig"]` ones need dig on the PATH, and the
//! `resolver` ones root, `unshare`, `ip` and unbound (they run unbound in a
//! network namespace of their own).

// Helper modules share their items with the test modules as plain `pub`:
// this binary has no API for `unreachable_pub` to protect.
#![allow(unreachable_pub)]

mod dns;
mod fixtures;
mod harness;

mod admin;
mod answers;
#[cfg(feature = "cluster")]
mod cluster;
mod cookies;
mod differential;
mod edns;
mod geo;
mod geoip;
mod health;
mod inputs;
mod latency;
mod lb;
mod lifecycle;
mod malformed;
mod qtypes;
mod quickstart;
mod reload;
mod resolver;
mod rrl;
mod starvation;
mod transport;
mod wildcard;
mod zone_errors;
mod zone_served;
mod zonefile;
