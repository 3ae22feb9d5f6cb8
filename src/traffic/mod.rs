//! Clients, connections, requests, the containers serving them, and latency.

pub mod spec;
