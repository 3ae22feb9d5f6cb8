//! kubesim: an offline, deterministic simulator of Kubernetes cluster networking.
//!
//! The crate is built in layers, each depending only on those above it in this list:
//!
//! - [`engine`]: simulated time, the event queue and seeded random streams. Knows nothing of
//!   Kubernetes.
//! - [`model`]: cluster objects and their controllers: nodes, pods, ReplicaSets, the
//!   scheduler, the kubelet. Knows nothing of packets, YAML or files.
//! - [`net`]: addressing (pod IPAM, ClusterIP and NodePort allocators), EndpointSlices,
//!   kube-proxy's rules as data, DNS, packet paths. Knows nothing of YAML or files.
//! - [`traffic`]: clients, connections, requests, the containers serving them, latency.
//! - [`sim`]: runs a validated [`sim::Scenario`]: owns the event queue, the cluster, every
//!   node's data plane and the traffic, and produces a [`sim::Outcome`].
//! - [`scenario`]: loads and validates YAML (the `kind: Scenario` document and Kubernetes
//!   manifests) into a [`sim::Scenario`], with file, line and column for every problem.
//! - [`sweep`]: capacity sweeps: a grid of `--set` variants of a scenario run in parallel,
//!   seeds derived from each cell's parameters, SLO verdicts, M/M/c closed forms.
//! - [`report`]: turns an outcome into tables, `summary.json`, CSV files and charts, and a
//!   sweep into `sweep.csv`, `sweep.json` and its charts.
//!
//! - [`explore`]: `kubesim explore`'s fault search: random fault timelines judged against a
//!   scenario's expectations, the first that breaks one shrunk to a minimal timeline.
//! - [`testing`]: for users' own property tests: proptest strategies for clusters, fault
//!   timelines and traffic, and a run that checks a property at every change of the cluster.
//!
//! The `kubesim` binary (`src/main.rs`) is glue: arguments, output folders, exit codes.
//!
//! Determinism: the engine never reads the wall clock, no `HashMap` is iterated where order
//! can reach the output, and all randomness flows from the scenario's seed through named
//! streams, so a seed gives the same bytes on every platform.

pub mod engine;
pub mod explore;
pub mod model;
pub mod net;
pub mod report;
pub mod scenario;
pub mod sim;
pub mod sweep;
pub mod testing;
pub mod traffic;
