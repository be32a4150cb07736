//! Configuration: file formats (`*Spec`, serde) kept apart from the validated
//! runtime types, and the diagnostics every loader reports into.

pub mod cookies;
pub mod diag;
pub mod policy_file;
pub mod rrl;
pub mod server;

pub use cookies::CookieSettings;
pub use diag::{Diagnostic, Diagnostics};
pub use policy_file::{NameEntry, PolicyFile, load_policy_file};
pub use rrl::RrlSettings;
pub use server::{LogFormat, ServerConfig, load_server_config};
