//! kubesim's integration tests: one binary, with helpers in `util`.
//!
//! Statistical tests use fixed seeds and state their tolerance, so they never flake.

mod cli;
mod cluster;
mod connections;
mod hostile_h5;
mod ipvs;
mod lifecycle;
mod load;
mod properties;
mod queueing;
mod scale;
mod seed;
mod services;
mod snapshots;

mod sweep;
mod util;
