//! Clients, connections, requests, the containers serving them, and latency.
//!
//! Knows nothing of YAML or files; routing decisions come from the `net` layer's rules.

pub mod client;
pub mod request;
pub mod serve;
pub mod spec;
pub mod theory;
