//! Configuration: file formats (`*Spec`, serde) kept apart from the validated
//! runtime types, and the diagnostics every loader reports into.

pub mod diag;

pub use diag::{Diagnostic, Diagnostics};
