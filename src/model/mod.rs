//! Cluster objects and controllers: nodes, pods, ReplicaSets, the scheduler, the kubelet.
//!
//! Knows nothing of packets, YAML or files.

pub mod affinity;
pub mod cluster;
pub mod config;
pub mod events;
pub mod hpa;
pub mod names;
pub mod netpol;
pub mod objects;
pub mod scheduler;
