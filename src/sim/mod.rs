//! Runs a validated scenario: owns the event queue, the cluster, every node's data plane and
//! the traffic, and produces an [`Outcome`].

pub mod config;
pub mod outcome;

pub use config::Scenario;
pub use outcome::Outcome;
