//! Large clusters: `kubesim generate` writes scenarios that load as written, and the work done
//! before the first event grows no faster than n log n with the cluster's size.

use crate::util::{kubesim, root, stderr, temp_dir};

#[test]
fn generate_writes_a_scenario_that_check_accepts_the_same_every_time() {
    let dir = temp_dir("generate");
    let args = [
        "generate",
        "--nodes",
        "300",
        "--pods-per-node",
        "4",
        "--services",
        "7",
        "--proxy-mode",
        "nftables",
        "--out",
        "big.yaml",
    ];
    let o = kubesim(&dir, &args);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(dir.join("big.yaml")).unwrap();
    assert!(
        text.contains("# Made by: kubesim generate --nodes 300 --pods-per-node 4 --services 7 --proxy-mode nftables --rate 1000/s --duration 10s --seed 1\n"),
        "{}",
        &text[..600]
    );
    // More than 256 nodes: the pod CIDR grows beyond flannel's /16.
    assert!(text.contains("    clusterCIDR: 10.244.0.0/15\n"));
    let o = kubesim(&dir, &["check", "big.yaml"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.starts_with(
            "big.yaml: valid. 300 node(s), 14 object(s), 1 traffic stream(s), 0 timeline event(s)."
        ),
        "{stdout}"
    );
    assert_eq!(stderr(&o), "", "no warnings");
    // To standard output, the same bytes.
    let o = kubesim(&dir, &args[..args.len() - 2]);
    assert!(o.status.success());
    assert_eq!(String::from_utf8(o.stdout).unwrap(), text);
}

#[test]
fn generated_clusters_place_every_pod_and_serve_the_traffic() {
    let text = String::from_utf8(
        kubesim(
            &root(),
            &[
                "generate",
                "--nodes",
                "4",
                "--replicas",
                "3",
                "--services",
                "3",
                "--duration",
                "2s",
            ],
        )
        .stdout,
    )
    .unwrap();
    let loaded = crate::util::load_text(&text);
    let outcome = crate::util::run(&loaded);
    // The 9 pods of the Deployments, all running.
    assert_eq!(outcome.pods.len(), 9);
    assert!(outcome.pods.iter().all(|p| p.status == "Running"));
    assert!(outcome.requests.sent > 1_900, "{}", outcome.requests.sent);
    assert_eq!(outcome.requests.failed, 0);
}

/// The scheduler's work for a generated cluster: (placements, nodes filtered).
fn scheduler_work(nodes: u32, services: u32, replicas: u32) -> (u64, u64) {
    use kubesim::scenario::generate::{generate, GenerateOptions, PodCount};
    let text = generate(&GenerateOptions {
        nodes,
        services,
        pods: PodCount::PerDeployment(replicas),
        ..GenerateOptions::default()
    })
    .expect("valid options");
    let sim = kubesim::sim::Simulation::new(crate::util::load_text(&text).scenario)
        .expect("no API errors");
    let w = sim.scheduler_work();
    assert!(sim.cluster().live_pods().all(|(_, p)| p.node.is_some()));
    (w.attempts, w.nodes_filtered)
}

/// `n log n` from `a` to `b`: how much a cost growing as `n log n` may grow.
fn n_log_n_ratio(a: f64, b: f64) -> f64 {
    (b * b.ln()) / (a * a.ln())
}

#[test]
fn a_placement_examines_upstreams_sample_of_nodes_whatever_the_number_of_pods() {
    use kubesim::model::scheduler::num_feasible_nodes_to_find;
    // Pods: 200 nodes, 10 Deployments of 10, 20 and 40 replicas. Each
    // placement filters the 100 nodes upstream looks for, so the work is linear in pods
    // (before, each placement rescanned every pod: quadratic).
    let mut last: Option<(u64, u64)> = None;
    for replicas in [10, 20, 40] {
        let (placed, filtered) = scheduler_work(200, 10, replicas);
        assert_eq!(placed, 10 * u64::from(replicas));
        assert_eq!(filtered, placed * 100, "{replicas} replicas");
        if let Some((p0, f0)) = last {
            let growth = filtered as f64 / f0 as f64;
            assert!(
                growth <= n_log_n_ratio(p0 as f64, placed as f64),
                "{growth}"
            );
        }
        last = Some((placed, filtered));
    }
    // Nodes: 500, 1,000 and 2,000 nodes, 500 pods: each placement filters
    // numFeasibleNodesToFind nodes (46%, 42%, then 34% of them), so the work grows more
    // slowly than the nodes do.
    let mut last: Option<(f64, u64)> = None;
    for nodes in [500u32, 1_000, 2_000] {
        let (placed, filtered) = scheduler_work(nodes, 10, 50);
        assert_eq!(placed, 500);
        let per_placement = num_feasible_nodes_to_find(nodes as usize) as u64;
        assert_eq!(filtered, placed * per_placement, "{nodes} nodes");
        if let Some((n0, f0)) = last {
            let growth = filtered as f64 / f0 as f64;
            assert!(growth < f64::from(nodes) / n0, "{nodes} nodes: {growth}");
        }
        last = Some((f64::from(nodes), filtered));
    }
}
