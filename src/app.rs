//! Wiring: load, serve, reload, shut down.
