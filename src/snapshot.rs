//! The immutable snapshot of everything served.
