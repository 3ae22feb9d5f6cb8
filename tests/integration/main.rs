//! kubesim's integration tests: one binary, with helpers in `util`.
//!
//! Statistical tests use fixed seeds and state their tolerance, so they never flake.

mod cli;
mod cluster;
mod connections;
mod lifecycle;
mod properties;
mod seed;
mod services;
mod sweep;
mod util;
