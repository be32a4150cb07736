//! Endpoint health: the table the query path reads, and the prober that
//! writes it. The bottom of the policy stack: nothing here knows of
//! policies, config files or DNS (pingora keeps `Backend` below its
//! selection algorithms the same way).
//!
//! - `table`: [`TargetId`], [`Status`], [`HealthTable`] (status, RTT and
//!   load cells, atomics, read lock-free once per query).
//! - `targets`: [`TargetKey`] (address × check), [`TargetRegistry`] (ids and
//!   who uses each target), and the tables built for a snapshot, fresh or
//!   carried over from the previous one by key.
//! - [`overrides`]: operator forced states (up, down, drain) by pool member
//!   or address, kept across reloads and (in a state file) restarts,
//!   written into each member's [`ForcedCell`].
//! - [`check`]: the runtime [`Check`] (the file format and its validation
//!   are in `config::policy_file`).
//! - [`state`]: the pure rise/fall state machine.
//! - [`quorum`]: the fleet's decision rule (cluster mode), pure.
//! - [`fleet`]: own and peers' observations in cluster mode, shared by
//!   the prober, the store client (`crate::cluster`) and the admin API.
//! - [`probe`]: one HTTP(S) or TCP probe.
//! - [`prober`]: tasks, scheduling, watchdog and reconcile ([`spawn_prober`]).
//! - [`clock`]: injected time, so timing tests run on virtual time.

pub mod check;
pub mod clock;
pub mod fleet;
pub mod overrides;
pub mod probe;
pub mod prober;
pub mod quorum;
pub mod state;
mod table;
mod targets;
#[cfg(test)]
mod testutil;

pub use check::{
    Check, CheckKind, DEFAULT_USER_AGENT, HttpCheck, HttpMethod, LoadFeedback, LoadKind,
    LoadSource, StatusSet, TlsCheck,
};
pub use fleet::{Fleet, fleet_key};
pub use overrides::{Forced, ForcedBy, ForcedCell, Overrides};
pub use probe::{NetProbe, Probe, ProbeError, ProbeSource, Success};
pub use prober::{Prober, ProberError, ProberOptions, TargetReport, overload_slack, spawn_prober};
pub use quorum::{Observation, Quorum, Verdict};
pub use table::{Cell, HealthTable, Status, TargetId};
pub use targets::{ProbeTarget, TargetKey, TargetRegistry};
