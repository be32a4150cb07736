//! Configuration: file formats (`*Spec`, serde) kept apart from the validated
//! runtime types. Every loader reports into [`crate::diag::Diagnostics`].

pub mod policy_file;
pub mod settings;
pub mod values;

pub use policy_file::{NameEntry, PolicyFile, load_policy_file};
pub use settings::{LogFormat, Settings, load_settings};
