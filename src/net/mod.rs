//! Addressing, EndpointSlices, kube-proxy's data planes, DNS and packet paths.
//!
//! Knows nothing of YAML or files.

pub mod config;
