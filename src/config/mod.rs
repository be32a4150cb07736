//! Configuration: every file format (`*Spec`, serde) and its validation into
//! the runtime types, which live with their users (`health::Check`,
//! `policy::Pool`, `policy::BalancedName`). Every loader reports into
//! [`crate::diag::Diagnostics`], with the value checks of [`values`].
//!
//! - every TOML table is read field by field by [`fields`], so every bad
//!   value and every unknown key is reported, not only the first;
//! - `dnslb.toml` is read by [`settings`], its `[rrl]` table by [`rrl`] and
//!   its `[cookies]` table by [`cookies`], its `[cluster]` table by
//!   [`cluster`];
//! - `ZONE.toml` beside each zone (checks, pools, names) by [`policy_file`],
//!   the latency table it may name by [`latency_table`];
//! - networks and ISO 3166 codes by `places`;
//! - ranges, keywords and host names are checked by [`values`], one
//!   message form for all.

pub mod cluster;
pub mod cookies;
pub mod fields;
pub mod latency_table;
pub(crate) mod places;
pub mod policy_file;
pub mod rrl;
pub mod settings;
pub mod values;

pub use cluster::ClusterSettings;
pub use cookies::CookieSettings;
pub use policy_file::{NameAt, NameEntry, PolicyFile, load_policy_file, load_policy_file_reading};
pub use rrl::RrlSettings;
pub use settings::{AdminToken, LogFormat, Settings, load_settings, load_settings_partial};
