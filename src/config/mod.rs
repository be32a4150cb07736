//! Configuration: file formats (`*Spec`, serde) kept apart from the validated
//! runtime types, and the diagnostics every loader reports into.

pub mod diag;
pub mod policy_file;

pub use diag::{Diagnostic, Diagnostics};
pub use policy_file::{NameEntry, PolicyFile, load_policy_file};
