//! Listeners: UDP and TCP sockets feeding the query engine.
