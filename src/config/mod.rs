//! Configuration: file formats (`*Spec`, serde) kept apart from the validated
//! runtime types, and the diagnostics every loader reports into.

pub mod diag;

pub use diag::{Diagnostic, Diagnostics};
pub mod server;

pub use server::{LogFormat, ServerConfig, load_server_config};
