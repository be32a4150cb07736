//! The query engine: wire-format parsing, answer semantics and encoding.
//!
//! [`engine::Worker::respond`] turns one query packet into one response
//! packet. It is synchronous, never locks, and allocates nothing once its
//! buffers have grown; UDP and TCP listeners (and hickory's `RequestHandler`
//! adapter) all call it, so every transport answers identically.

pub mod cookie;
pub mod engine;
pub mod fit;
pub mod rrl;
#[cfg(test)]
pub(crate) mod testutil;
pub mod wire;
pub mod writer;

pub use engine::{Transport, Worker};

#[cfg(test)]
mod geo_tests;
#[cfg(test)]
mod tests;
