//! Scale benchmarks (issue 13): clusters written by `kubesim generate` at three sizes, each
//! twice the last in nodes, pods and Services, up to Kubernetes' documented limits (5,000
//! nodes, 150,000 pods, 10,000 Services), and the full-node shape (1,000 nodes x 110 pods).
//! For each: what `kubesim check` does (load the YAML, validate, build the simulation: the
//! API server allocates, the scheduler places every pod), a run of 10,000 requests, and one
//! node's iptables rules at the end of start-up.
//!
//! Run with `cargo bench --bench scale` (about 15 minutes on the reference machine);
//! `docs/performance.md` records the figures, the exponents fitted to them and the memory.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use kubesim::engine::{SimDuration, SimTime};
use kubesim::model::cluster::NodeId;
use kubesim::scenario::generate::{generate, GenerateOptions, PodCount};
use kubesim::sim::{Scenario, Simulation};
use std::path::Path;
use std::time::Duration;

/// The sizes: (label, nodes, pods per node, Services).
const SIZES: [(&str, u32, u32, u32); 4] = [
    ("1250n_37500p_2500s", 1_250, 30, 2_500),
    ("2500n_75000p_5000s", 2_500, 30, 5_000),
    ("5000n_150000p_10000s", 5_000, 30, 10_000),
    ("1000n_110000p_1000s", 1_000, 110, 1_000),
];

/// The generated scenario's text: about 10,000 requests (1,000/s for 10 s from 5 s) to the first
/// Service's NodePort, as `kubesim generate` writes it.
fn text(nodes: u32, per_node: u32, services: u32) -> String {
    generate(&GenerateOptions {
        nodes,
        pods: PodCount::PerNode(per_node),
        services,
        ..GenerateOptions::default()
    })
    .expect("options within the limits")
}

/// The scenario `text` holds.
fn load(text: &str) -> Scenario {
    kubesim::scenario::load_str(text, "bench.yaml", Path::new("."))
        .unwrap_or_else(|e| panic!("generated scenario loads: {e:?}"))
        .scenario
}

/// What `check` does: read the YAML, validate, build the simulation.
fn check(text: &str) -> Simulation {
    Simulation::new(load(text)).expect("no API errors")
}

fn scale(c: &mut Criterion) {
    let mut g = c.benchmark_group("scale");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(20));
    for (label, nodes, per_node, services) in SIZES {
        let text = text(nodes, per_node, services);
        let scenario = load(&text);
        let sim = check(&text);
        // Once, that the run is the one we mean: every pod placed, about 10,000 requests (Poisson
        // arrivals) sent, none failed (a few still in flight at the end).
        assert!(sim.cluster().live_pods().all(|(_, p)| p.node.is_some()));
        let out = sim.run();
        let sent = out.requests.sent;
        assert!(sent.abs_diff(10_000) < 500, "{label}: sent {sent}");
        assert_eq!(out.requests.failed, 0, "{label}");
        assert!(
            out.requests.served * 100 >= sent * 99,
            "{label}: {:?}",
            out.requests
        );
        // Dropped outside the timing, as `kubesim check` never frees it.
        g.bench_function(format!("check/{label}"), |b| {
            b.iter_with_large_drop(|| check(&text))
        });
        g.bench_function(format!("run_10000_requests/{label}"), |b| {
            b.iter_batched(
                || Simulation::new(scenario.clone()).expect("builds"),
                // Freed after the timing, as the command line never frees it.
                |mut sim| {
                    let out = sim.run_to_end();
                    (sim, out)
                },
                BatchSize::PerIteration,
            )
        });
        g.bench_function(format!("rules_one_node/{label}"), |b| {
            b.iter_batched(
                || Simulation::new(scenario.clone()).expect("builds"),
                |mut sim| {
                    sim.run_until(SimTime::ZERO + SimDuration::from_secs(5));
                    let text = sim.iptables_save(NodeId(0)).0;
                    (sim, text)
                },
                BatchSize::PerIteration,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, scale);
criterion_main!(benches);
