//! The node lifecycle controller's disruption modes and eviction rate limits
//! (`pkg/controller/nodelifecycle/node_lifecycle_controller.go`).

use crate::util::*;
use kubesim::sim::Outcome;

/// `zones[i]` nodes in zone `i` (no zone label when there is one zone), one `web` pod on each
/// (the scheduler spreads a Deployment's pods), the first `down` nodes of the first zone lose
/// power at 10 s; a 10-minute run.
fn outage(zones: &[usize], down: usize) -> Outcome {
    let mut nodes = String::new();
    let mut i = 0;
    for (z, n) in zones.iter().enumerate() {
        for _ in 0..*n {
            let label = if zones.len() > 1 {
                format!(", labels: {{topology.kubernetes.io/zone: z{z}}}")
            } else {
                String::new()
            };
            nodes += &format!(
                "      - {{name: n{i}, ip: 10.1.{}.{}{label}}}\n",
                i / 200,
                i % 200 + 1
            );
            i += 1;
        }
    }
    let events: String = (0..down)
        .map(|n| format!("    - {{at: 10s, nodeDown: {{node: n{n}}}}}\n"))
        .collect();
    let text = format!(
        "apiVersion: kubesim.dev/v1alpha1\nkind: Scenario\nmetadata: {{name: t}}\nspec:\n  duration: 10m\n  cluster:\n    nodes:\n{nodes}  events:\n{events}---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: web}}\nspec:\n  replicas: {i}\n  selector: {{matchLabels: {{app: web}}}}\n  template:\n    metadata: {{labels: {{app: web}}}}\n    spec:\n      containers:\n        - name: web\n          image: web\n          resources: {{requests: {{cpu: 100m}}}}\n"
    );
    run(&load_text(&text))
}

/// When each pod of `web` on the lost nodes was evicted (seconds), in order (one per node;
/// a CoreDNS pod on a lost node goes with that node's, at the same instant).
fn evictions(o: &Outcome, down: usize) -> Vec<f64> {
    let lost: Vec<String> = (0..down).map(|n| format!("n{n}")).collect();
    let mut at: Vec<f64> = scenario_pods(o)
        .filter(|p| p.node.as_ref().is_some_and(|n| lost.contains(n)))
        .filter_map(|p| p.deleted)
        .map(|t| t.as_secs_f64())
        .collect();
    at.sort_by(f64::total_cmp);
    at
}

#[test]
fn a_one_node_cluster_enters_master_disruption_mode_and_evicts_nothing() {
    let o = outage(&[1], 1);
    assert_eq!(evictions(&o, 1), Vec::<f64>::new());
    assert!(!o.events.iter().any(|e| e.reason == "TaintManagerEviction"));
    // Its pod turned not ready all the same.
    assert!(o.events.iter().any(|e| e.reason == "NodeNotReady"));
}

#[test]
fn a_zone_taints_one_node_per_10_seconds() {
    // Two of ten down: normal (not more than 2). NotReady at 65 s, tainted at 65 s and 75 s,
    // evicted 300 s later.
    assert_eq!(evictions(&outage(&[10], 2), 2), [365.0, 375.0]);
}

#[test]
fn a_partially_disrupted_small_zone_evicts_nothing() {
    // Three of five (60%, more than 2): partial disruption in a zone of at most 50 nodes.
    assert_eq!(evictions(&outage(&[5], 3), 3), Vec::<f64>::new());
    // Three of six (50%) is below the 55% threshold: normal rate.
    assert_eq!(evictions(&outage(&[6], 3), 3), [365.0, 375.0, 385.0]);
}

#[test]
fn a_partially_disrupted_large_zone_evicts_one_node_per_100_seconds() {
    // 34 of 60 (57%): 0.01 node/s; in 10 minutes three nodes are tainted (65, 165, 265 s).
    assert_eq!(evictions(&outage(&[60], 34), 34), [365.0, 465.0, 565.0]);
}

#[test]
fn a_fully_disrupted_zone_keeps_the_normal_rate_while_another_is_healthy() {
    assert_eq!(evictions(&outage(&[2, 2], 2), 2), [365.0, 375.0]);
}
