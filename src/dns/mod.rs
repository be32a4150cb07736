//! The query engine: wire-format parsing, answer semantics and encoding.
