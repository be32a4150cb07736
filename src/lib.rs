//! dnslb: an authoritative DNS server that load-balances names across healthy
//! endpoints.
//!
//! The library holds everything; `main.rs` only parses the command line and
//! calls [`app`]. Tests and benchmarks use these modules directly.
//!
//! Data flow (see `docs/ARCHITECTURE.md`): settings, zones and policy files
//! compile into one immutable [`snapshot::Snapshot`], swapped atomically on
//! reload by its only writer ([`app`]'s reloader); the prober writes only the
//! [`health::HealthTable`]; the query path ([`dns`]) reads both once per
//! query, calls the pure [`policy::answer`] and bumps the [`metrics`]
//! counters. The [`admin`] HTTP API reads all of it and writes operator
//! overrides ([`health::overrides`]).
//!
//! # Layout
//!
//! Layers, bottom first; a module imports only from layers below it (the
//! `layers` test fails on anything else):
//!
//! 0. [`diag`]: `FILE:LINE:COL: key: message` diagnostics, collected.
//!    [`words`]: keyword tables used both to parse and to print.
//!    [`files`]: the one way an input file is opened and read (regular
//!    files only, never blocking, a size limit per kind of file).
//! 1. [`health`]: the health table (by `TargetId`), targets and their
//!    labels, runtime checks, the rise/fall machine, probes, the prober.
//!    [`geoip`]: the MaxMind database. [`cli`]: the command line.
//!    [`metrics`]: the counters the query path bumps (atomics, no strings).
//! 2. [`zone`]: zone data and its rules (`ZoneSet::locate`: cuts, wildcards,
//!    DS at the parent, empty non-terminals; the one owner-name parser).
//!    [`policy`]: a load-balanced name is **group order × member pick**;
//!    pure, synchronous, allocation-free per query.
//! 3. [`config`]: every file format (`*Spec`) and its validation into the
//!    runtime types of layers 1–2; one form for value errors.
//! 4. [`snapshot`]: `build(settings, previous)` and the swapped cell.
//! 5. [`dns`]: the engine: wire parsing, answer semantics, encoding.
//! 6. [`server`]: UDP/TCP listeners (and the hickory adapter).
//! 7. [`admin`]: the admin HTTP API (status, metrics, overrides) and its
//!    command-line client.
//! 8. `cluster` (cargo feature `cluster`): cluster mode's etcd client,
//!    which moves observations and overrides between the store and
//!    [`health::fleet`] / [`health::overrides`].
//! 9. [`app`]: wiring, signals, the reload sequence, `dnslb explain`.
//!
//! Errors: library modules report problems with input into [`diag`] (all of
//! them, with positions) or return a `thiserror` enum; only [`app`] uses
//! `anyhow`. The query path never formats or allocates an error: it maps a
//! failure to an rcode.
#![forbid(unsafe_code)]

pub mod admin;
pub mod app;
pub mod cli;
#[cfg(feature = "cluster")]
pub mod cluster;
pub mod config;
pub mod diag;
pub mod dns;
pub mod files;
#[doc(hidden)]
pub mod fuzzing;
pub mod geoip;
pub mod health;
pub mod metrics;
pub mod policy;
pub mod server;
pub mod snapshot;
pub mod words;
pub mod zone;

#[cfg(test)]
mod layers;
