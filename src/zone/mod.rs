//! Zones: master files loaded into an immutable, query-ready tree.
