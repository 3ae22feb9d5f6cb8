//! Cluster objects and controllers: nodes, pods, ReplicaSets, the scheduler, the kubelet.
//!
//! Knows nothing of packets, YAML or files.

pub mod config;
pub mod objects;
pub mod cluster;
pub mod events;
pub mod names;
pub mod scheduler;
