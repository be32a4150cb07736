//! dnslb: an authoritative DNS server that load-balances names across healthy
//! endpoints.
//!
//! The library holds everything; `main.rs` only parses the command line and
//! calls [`app`]. Tests and benchmarks use these modules directly.
//!
//! Data flow (see `docs/ARCHITECTURE.md`): config + zones compile into one
//! immutable [`snapshot::Snapshot`], swapped atomically on reload; the prober
//! writes only the [`health::HealthTable`]; the query path ([`dns`]) reads both
//! once per query, calls the pure [`policy`] functions and bumps the
//! [`metrics`] counters. The [`admin`] HTTP API reads all of it and writes
//! operator overrides ([`health::overrides`]).
#![forbid(unsafe_code)]

pub mod admin;
pub mod app;
pub mod cli;
pub mod config;
pub mod dns;
pub mod explain;
pub mod geoip;
pub mod health;
pub mod metrics;
pub mod policy;
pub mod server;
pub mod snapshot;
pub mod zone;
