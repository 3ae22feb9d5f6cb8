//! kubesim's integration tests: one binary, with helpers in `util`.
//!
//! Statistical tests use fixed seeds and state their tolerance, so they never flake.

mod autoscaler;
mod cli;
mod cluster;
mod connections;
mod disruption;
mod expect;
mod explore;
mod fuzz_corpus;
mod generate;
mod get_diff;
mod hostile_charts;
mod hostile_cli;
mod hostile_h5;
mod hostile_sizes;
mod hostile_yaml;
mod hpa;
mod import;
mod ipvs;
mod lifecycle;
mod load;
mod netpol;
mod node_tables;
mod properties;
mod queueing;
mod report_html;
mod scale;
mod seed;
mod services;
mod snapshots;

mod sweep;
mod util;
mod workloads;
mod yaml_layouts;
mod zones;
